"""Contrastive conformal sets: coverage of positives, exclusion of negatives and volume of the
Euclidean ball vs learnt geometries (spec ``theory_papers.md`` §3): ``python -m analysis.conformal``.

Data are *pairs* (anchor embedding, positive embedding) that share nothing with each other, so the
pairs are exchangeable and split conformal applies. Every random split cuts them into a shape-fitting
third (fits the geometry, positives only), a calibration third (the threshold) and a test third (a
negative for a test anchor is a test positive of another class). Sources:

- :func:`synthetic_pairs`: anchors around cluster centres, positives ``N(anchor, Sigma_+)`` with an
  anisotropic ``Sigma_+`` (spec §3.3 "synthetic version");
- :func:`digits_pairs`: scikit-learn digits; 40% fits an encoder (PCA-9, or LDA-9), the rest is cut
  into disjoint same-class pairs (spec §3.3);
- :func:`feature_pairs`: trainer features (``pair_x``, ``pair_y``: two augmentations of one image).

:func:`split_experiment` gives mean/sd over random splits, :func:`coverage_curves` sweeps alpha and
:func:`pooled_anchor_coverage` shows what breaks without exchangeability.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from analysis import conformal_sets as cs
from analysis.cli_report import run_and_report

__all__ = ["METHODS", "Pairs", "coverage_curves", "digits_pairs", "feature_pairs", "figure", "headline",
           "main", "pooled_anchor_coverage", "run", "split_experiment", "synthetic_pairs"]


@dataclass(frozen=True)
class Pairs:
    """Exchangeable pairs: ``anchors`` (n, k), ``positives`` (n, k), ``labels`` (n,) (classes for
    choosing negatives)."""

    anchors: np.ndarray
    positives: np.ndarray
    labels: np.ndarray
    name: str

    def __post_init__(self) -> None:
        if self.anchors.shape != self.positives.shape or self.anchors.ndim != 2:
            raise ValueError(f"anchors {self.anchors.shape} and positives {self.positives.shape} must be "
                             "two (n, k) arrays")
        if self.labels.shape != (self.anchors.shape[0],):
            raise ValueError(f"labels {self.labels.shape} must be ({self.anchors.shape[0]},)")
        if not (np.isfinite(self.anchors).all() and np.isfinite(self.positives).all()):
            raise ValueError(f"pairs {self.name!r} contain NaN or inf features")
        if np.unique(self.labels).size < 2:
            raise ValueError("pairs need at least two classes (negatives come from other classes)")


def synthetic_pairs(n: int = 600, k: int = 6, classes: int = 6, spread: float = 0.4,
                    anchor_sd: float = 0.5, anisotropy: float = 30.0, seed: int = 0) -> Pairs:
    """Anchors ``mu_c + N(0, anchor_sd^2 I)`` around ``classes`` centres ``N(0, spread^2 I)``; positives
    ``anchor + N(0, Sigma_+)``, ``Sigma_+ = R diag(s) R^T`` with eigenvalues log-spaced over a
    ratio ``anisotropy`` (largest 1) and a random rotation R."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0.0, spread, (classes, k))
    labels = rng.integers(classes, size=n)
    anchors = centres[labels] + anchor_sd * rng.normal(size=(n, k))
    rot = np.linalg.qr(rng.normal(size=(k, k)))[0]
    sd = np.sqrt(np.geomspace(1.0, 1.0 / anisotropy, k))
    positives = anchors + (rng.normal(size=(n, k)) * sd) @ rot.T
    return Pairs(anchors, positives, labels, f"synthetic (k={k}, anisotropy {anisotropy:g})")


def digits_pairs(encoder: str = "pca", dim: int = 9, seed: int = 0) -> Pairs:
    """Digits: 40% fits ``encoder`` ("pca" or "lda", ``dim`` components); the remaining images are
    paired within class at random, each image used once (disjoint pairs)."""
    from sklearn.datasets import load_digits
    from sklearn.decomposition import PCA
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
    from sklearn.model_selection import train_test_split

    if encoder not in ("pca", "lda"):
        raise ValueError(f"unknown encoder {encoder!r}; allowed: pca, lda")
    x, y = load_digits(return_X_y=True)
    x_enc, x_rest, y_enc, y_rest = train_test_split(x, y, train_size=0.4, stratify=y, random_state=seed)
    model = PCA(dim, random_state=seed) if encoder == "pca" else LinearDiscriminantAnalysis(n_components=dim)
    model.fit(x_enc, y_enc)
    return _pair_within_class(model.transform(x_rest), y_rest, np.random.default_rng(seed),
                              f"digits {encoder.upper()}-{dim}")


def _pair_within_class(z: np.ndarray, y: np.ndarray, rng: np.random.Generator, name: str) -> Pairs:
    first, second = [], []
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        half = idx.size // 2
        first.append(idx[:half])
        second.append(idx[half:2 * half])
    a, b = np.concatenate(first), np.concatenate(second)
    return Pairs(z[a], z[b], y[a], name)


def feature_pairs(path: str) -> Pairs:
    """Trainer features: ``pair_x`` (anchors) and ``pair_y`` (positives), one pair per image."""
    from fmicl_core.features import load_features

    f = load_features(path)
    return Pairs(np.asarray(f.pair_x, float), np.asarray(f.pair_y, float), np.asarray(f.pair_labels),
                 f"trainer features {f.config.get('objective', '')}".strip())


def _negatives(labels: np.ndarray, positives: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """For each test pair, the positive of a random test pair of another class."""
    out = np.empty_like(positives)
    for i, c in enumerate(labels):
        out[i] = positives[rng.choice(np.flatnonzero(labels != c))]
    return out


Fitter = Callable[[np.ndarray, float], cs.Geometry]
METHODS: dict[str, Fitter] = {
    "ball": lambda r, a: cs.euclidean_ball(r.shape[1]),
    "whitened_lp": cs.whitened_lp,
    "mvcs": cs.mvcs,
}


def _one_split(pairs: Pairs, alphas: tuple[float, ...], methods: tuple[str, ...],
               rng: np.random.Generator) -> dict[str, dict[float, dict[str, float]]]:
    n = pairs.anchors.shape[0]
    fit, cal, test = np.array_split(rng.permutation(n), 3)
    neg = _negatives(pairs.labels[test], pairs.positives[test], rng)
    res_fit = pairs.positives[fit] - pairs.anchors[fit]
    out: dict[str, dict[float, dict[str, float]]] = {}
    for m in methods:
        out[m] = {}
        for a in alphas:
            cset = cs.calibrate(METHODS[m](res_fit, a), pairs.anchors[cal], pairs.positives[cal], a)
            out[m][a] = {**cs.evaluate(cset, pairs.anchors[test], pairs.positives[test], neg),
                         "p": cset.geometry.p, "n_cal": len(cal)}
    return out


def split_experiment(pairs: Pairs, alphas: tuple[float, ...] = (0.1,), splits: int = 20,
                     methods: tuple[str, ...] = tuple(METHODS), seed: int = 0) -> dict:
    """Mean and sd over ``splits`` random fit/calibration/test splits, per method and alpha, of
    coverage, exclusion and log-volume (plus the chosen p values)."""
    for m in methods:
        if m not in METHODS:
            raise ValueError(f"unknown method {m!r}; allowed: {', '.join(METHODS)}")
    if splits < 1:
        raise ValueError(f"splits={splits} must be >= 1")
    rng = np.random.default_rng(seed)
    runs = [_one_split(pairs, alphas, methods, rng) for _ in range(splits)]
    out: dict = {}
    for m in methods:
        out[m] = {}
        for a in alphas:
            rows = [r[m][a] for r in runs]
            stats = {key: (float(np.mean([row[key] for row in rows])), float(np.std([row[key] for row in rows])))
                     for key in ("coverage", "exclusion", "log_volume")}
            stats["p"] = [row["p"] for row in rows]
            stats["n_cal"] = rows[0]["n_cal"]
            out[m][str(a)] = stats
    return out


def coverage_curves(pairs: Pairs, alphas: tuple[float, ...] = (0.05, 0.1, 0.15, 0.2, 0.3),
                    splits: int = 10, methods: tuple[str, ...] = ("ball", "whitened_lp"), seed: int = 0) -> dict:
    """Coverage-exclusion trade-off: :func:`split_experiment` over a grid of alpha."""
    return split_experiment(pairs, alphas, splits, methods, seed)


def pooled_anchor_coverage(alpha: float = 0.1, pool: int = 4, per_anchor: int = 50, splits: int = 400,
                           k: int = 2, scale_sd: float = 0.7, seed: int = 0) -> dict:
    """What breaks without exchangeability: calibration pairs all share the anchors of one small pool
    (``per_anchor`` positives each), test pairs those of another; anchors differ in the spread of
    their positives (log-normal scale, sd ``scale_sd``). The exchangeable control draws calibration
    and test pairs each from fresh anchors. Returns mean coverage and its standard error for both."""
    rng = np.random.default_rng(seed)
    geometry = cs.euclidean_ball(k)
    n = pool * per_anchor

    def residuals(scales: np.ndarray) -> np.ndarray:
        return rng.normal(size=(scales.size, k)) * scales[:, None]

    pooled, control = [], []
    for _ in range(splits):
        cal_pool, test_pool = (np.exp(scale_sd * rng.normal(size=pool)) for _ in range(2))
        q = cs.conformal_quantile(geometry.score(residuals(np.repeat(cal_pool, per_anchor))), alpha)
        pooled.append(np.mean(geometry.score(residuals(np.repeat(test_pool, per_anchor))) <= q))
        q = cs.conformal_quantile(geometry.score(residuals(np.exp(scale_sd * rng.normal(size=n)))), alpha)
        control.append(np.mean(geometry.score(residuals(np.exp(scale_sd * rng.normal(size=n)))) <= q))
    return {key: {"coverage": float(np.mean(v)), "se": float(np.std(v) / math.sqrt(len(v)))}
            for key, v in (("shared_pools", pooled), ("exchangeable", control))} | {
        "alpha": alpha, "n_cal": n, "upper": 1 - alpha + 1 / (n + 1)}


def run(splits: int = 20, alpha: float = 0.1, seed: int = 0, features: str | None = None) -> dict:
    """Every number of the CLI and notebook 07."""
    sources = [synthetic_pairs(seed=seed), digits_pairs("pca", seed=seed), digits_pairs("lda", seed=seed)]
    if features:
        sources.append(feature_pairs(features))
    table = {p.name: split_experiment(p, (alpha,), splits, seed=seed) for p in sources}
    curves = {p.name: coverage_curves(p, seed=seed) for p in sources[:2]}
    return {"alpha": alpha, "splits": splits, "table": table, "curves": curves,
            "pooled_anchors": pooled_anchor_coverage(alpha, seed=seed)}


def figure(numbers: dict):
    """Exclusion vs coverage over alpha (one panel per source) and the log-volumes at alpha."""
    import matplotlib.pyplot as plt

    curves = numbers["curves"]
    fig, ax = plt.subplots(1, len(curves) + 1, figsize=(5 * (len(curves) + 1), 4))
    for axis, (name, res) in zip(ax, curves.items()):
        for m, by_alpha in res.items():
            cov = [v["coverage"][0] for v in by_alpha.values()]
            exc = [v["exclusion"][0] for v in by_alpha.values()]
            axis.plot(cov, exc, "o-", label=m)
        axis.set(xlabel="positive coverage", ylabel="negative exclusion", title=name)
        axis.legend()
    alpha = str(numbers["alpha"])
    names = list(numbers["table"])
    for i, m in enumerate(METHODS):
        lv = [numbers["table"][s][m][alpha]["log_volume"][0] for s in names]
        ax[-1].bar(np.arange(len(names)) + 0.25 * i, lv, width=0.25, label=m)
    ax[-1].set_xticks(np.arange(len(names)) + 0.25, [s.replace(" (", "\n(") for s in names], fontsize=7)
    ax[-1].set(ylabel=f"log-volume at alpha={alpha}", title="set volume")
    ax[-1].legend()
    fig.tight_layout()
    return fig


def headline(numbers: dict) -> list[str]:
    alpha = str(numbers["alpha"])
    lines = [f"alpha={alpha}, {numbers['splits']} random splits (mean +- sd)"]
    for source, res in numbers["table"].items():
        for m, by_alpha in res.items():
            r = by_alpha[alpha]
            lines.append(f"{source:32s} {m:12s} coverage {r['coverage'][0]:.3f}+-{r['coverage'][1]:.3f} "
                         f"exclusion {r['exclusion'][0]:.3f}+-{r['exclusion'][1]:.3f} "
                         f"log-vol {r['log_volume'][0]:.1f}")
    pa = numbers["pooled_anchors"]
    lines.append(f"shared anchor pools: coverage {pa['shared_pools']['coverage']:.3f}+-{pa['shared_pools']['se']:.3f}"
                 f" vs exchangeable {pa['exchangeable']['coverage']:.3f}+-{pa['exchangeable']['se']:.3f} "
                 f"(nominal >= {1 - pa['alpha']:.2f})")
    return lines


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m analysis.conformal", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--splits", type=int, default=20, help="random fit/calibration/test splits")
    parser.add_argument("--alpha", type=float, default=0.1, help="miscoverage level in (0, 1)")
    parser.add_argument("--seed", type=int, default=0, help="seed of data, encoders and splits")
    parser.add_argument("--features", default=None,
                        help="features.npz of a trainer run (adds its positive pairs as a source)")
    parser.add_argument("--name", default="conformal_sets", help="figure/JSON name in figures/")
    args = parser.parse_args(argv)
    if args.splits < 1:
        parser.error(f"--splits {args.splits} must be >= 1")
    if not 0 < args.alpha < 1:
        parser.error(f"--alpha {args.alpha} must lie in (0, 1)")
    return run_and_report(parser, args, lambda: run(args.splits, args.alpha, args.seed, args.features),
                          figure, headline)

if __name__ == "__main__":
    main()
