"""Contrastive conformal sets measured (Alkhatib & Tay 2026, arXiv:2603.26261): coverage of
positives, exclusion of negatives and volume of the Euclidean ball vs learnt geometries
(:mod:`analysis.conformal_sets.sets`).

Data are *pairs* (anchor embedding, positive embedding) that share nothing with each other, so the
pairs are exchangeable and split conformal applies. Every random split cuts them into a shape-fitting
third (fits the geometry, positives only), a calibration third (the threshold) and a test third (a
negative for a test anchor is a test positive of another class). Sources:

- :func:`synthetic_pairs`: anchors around cluster centres, positives ``N(anchor, Sigma_+)`` with an
  anisotropic ``Sigma_+`` (the "simulated" data of Alkhatib & Tay's abstract, in our own form);
- :func:`digits_pairs`: scikit-learn digits; 40% fits an encoder (PCA-9, or LDA-9), the rest is cut
  into disjoint same-class pairs;
- :func:`pairs_from_features`: a trained run's features (``pair_x``, ``pair_y``: two augmentations of
  one image; :mod:`fmicl_core.features`).

:func:`split_experiment` gives mean/sd over random splits, :func:`coverage_curves` sweeps alpha,
:func:`coverage_band` measures the split-conformal guarantee ``[1 - alpha, 1 - alpha + 1/(n + 1)]``
over many re-splits and :func:`pooled_anchor_coverage` shows what breaks without exchangeability.
:func:`conformal_experiment` composes them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

import numpy as np

from analysis.conformal_sets import sets as cs
from fmicl_core import validation

if TYPE_CHECKING:
    from fmicl_core.features import Features

__all__ = ["METHODS", "ConformalResult", "CoverageBand", "Pairs", "conformal_experiment", "coverage_band",
           "coverage_curves", "default_sources", "digits_pairs", "pairs_from_features", "pooled_anchor_coverage",
           "resampled_coverage", "split_experiment", "summary", "synthetic_pairs"]


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
        classes = np.unique(self.labels)
        if classes.size < 2:
            raise ValueError(f"pairs {self.name!r} have the single class {classes.tolist()}; at least two are needed "
                             "(negatives come from other classes)")


def synthetic_pairs(n: int = 600, k: int = 6, classes: int = 6, spread: float = 0.4,
                    anchor_sd: float = 0.5, anisotropy: float = 30.0, seed: int = 0) -> Pairs:
    """Anchors ``mu_c + N(0, anchor_sd^2 I)`` around ``classes`` centres ``N(0, spread^2 I)``; positives
    ``anchor + N(0, Sigma_+)``, ``Sigma_+ = R diag(s) R^T`` with eigenvalues log-spaced over a
    ratio ``anisotropy`` (largest 1) and a random rotation R."""
    n, k = validation.integer("n", n, minimum=2), validation.integer("k", k)
    classes = validation.integer("classes", classes, minimum=2)
    spread, anchor_sd = validation.positive("spread", spread), validation.at_least("anchor_sd", anchor_sd)
    anisotropy = validation.at_least("anisotropy", anisotropy, 1.0)
    rng = np.random.default_rng(validation.integer("seed", seed, minimum=0))
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

    validation.choice("encoder", encoder, ("pca", "lda"))
    validation.integer("dim", dim, minimum=1, maximum=64 if encoder == "pca" else 9)  # LDA: classes - 1
    validation.integer("seed", seed, minimum=0)
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


def pairs_from_features(features: Features) -> Pairs:
    """A trained run's positive pairs: ``pair_x`` (anchors) and ``pair_y`` (positives), one per image."""
    objective = features.config.get("objective")
    name = objective.get("name", "") if isinstance(objective, dict) else (objective or "")
    return Pairs(np.asarray(features.pair_x, float), np.asarray(features.pair_y, float),
                 np.asarray(features.pair_labels), f"trained features {name}".strip())


def default_sources(seed: int = 0) -> list[Pairs]:
    """Synthetic anisotropic pairs, digits PCA-9 and digits LDA-9."""
    return [synthetic_pairs(seed=seed), digits_pairs("pca", seed=seed), digits_pairs("lda", seed=seed)]


def _negatives(labels: np.ndarray, positives: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """For each test pair, the positive of a random test pair of another class."""
    if np.unique(labels).size < 2:
        raise ValueError(f"a test split holds only class {labels[0]}; negatives need two classes: use more pairs")
    out = np.empty_like(positives)
    for i, c in enumerate(labels):
        out[i] = positives[rng.choice(np.flatnonzero(labels != c))]
    return out


def _calibration_size(pairs: Pairs) -> int:
    """The calibration pairs of :func:`split_experiment`: the middle part of ``np.array_split(n, 3)``."""
    n = pairs.anchors.shape[0]
    return n // 3 + (n % 3 == 2)


def _check_split(pairs: Pairs, alphas: tuple[float, ...], n_cal: int) -> None:
    """Each third of ``pairs`` has at least ``k + 1`` pairs (a geometry of k-dimensional residuals
    is fitted on one), and every alpha is at least ``1 / (n_cal + 1)``: below it the conformal
    quantile is infinite and every set is the whole space."""
    n, k = pairs.anchors.shape
    if n // 3 < k + 1:
        raise ValueError(f"pairs {pairs.name!r} number n={n}; each third (shape fit, calibration, test) needs at "
                         f"least k + 1 = {k + 1} pairs, so n >= {3 * (k + 1)}")
    for a in alphas:
        if cs.miscoverage(a) < 1.0 / (n_cal + 1):
            raise ValueError(f"alpha={a!r} is not allowed with the {n_cal} calibration pairs of {pairs.name!r}: below "
                             f"1/(n_cal + 1) = {1.0 / (n_cal + 1):.3g} every conformal set is the whole space")


Fitter = Callable[[np.ndarray, float], cs.Geometry]
METHODS: dict[str, Fitter] = {
    "ball": lambda r, a: cs.euclidean_ball(r.shape[1]),
    "whitened_lp": cs.whitened_lp,
    "mvcs": cs.mvcs,
}
"""The set shapes compared, each fitted from the shape split's residuals and alpha."""


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
    """Mean and sd over ``splits`` random fit/calibration/test splits, per method and alpha (keyed
    ``str(alpha)``), of coverage, exclusion and log-volume (plus the chosen p values)."""
    for m in methods:
        validation.choice("method", m, METHODS)
    _check_split(pairs, alphas, _calibration_size(pairs))
    validation.integer("splits", splits)
    rng = np.random.default_rng(validation.integer("seed", seed, minimum=0))
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


def resampled_coverage(scores: np.ndarray, n_cal: int, alpha: float, splits: int,
                       rng: np.random.Generator) -> np.ndarray:
    """Coverage of the test part for ``splits`` random calibration/test re-splits of ``scores``
    (the first ``n_cal`` of each permutation calibrate, the rest are tested)."""
    scores = np.asarray(scores, dtype=float)
    out = []
    for _ in range(splits):
        perm = rng.permutation(scores.size)
        q = cs.conformal_quantile(scores[perm[:n_cal]], alpha)
        out.append(np.mean(scores[perm[n_cal:]] <= q))
    return np.array(out)


@dataclass(frozen=True)
class CoverageBand:
    """Mean coverage over re-splits, its standard error, and the split-conformal band
    ``[1 - alpha, 1 - alpha + 1/(n_cal + 1)]``."""

    mean: float
    se: float
    n_cal: int
    lower: float
    upper: float

    def inside(self, standard_errors: float = 3.0) -> bool:
        """Whether the mean lies in the band up to ``standard_errors`` of Monte Carlo error."""
        slack = standard_errors * self.se
        return self.lower - slack <= self.mean <= self.upper + slack


def coverage_band(pairs: Pairs, alpha: float, splits: int, seed: int = 0,
                  methods: tuple[str, ...] = tuple(METHODS)) -> dict[str, CoverageBand]:
    """Each geometry fitted once on a random third of the pairs; the rest re-split ``splits`` times
    into calibration and test halves (:func:`resampled_coverage`)."""
    validation.integer("splits", splits, minimum=2)
    n = pairs.anchors.shape[0]
    n_cal = (n - n // 3) // 2
    _check_split(pairs, (alpha,), n_cal)
    rng = np.random.default_rng(validation.integer("seed", seed, minimum=0))
    perm = rng.permutation(n)
    fit, rest = perm[: n // 3], perm[n // 3:]
    out = {}
    for m in methods:
        geometry = METHODS[validation.choice("method", m, METHODS)](pairs.positives[fit] - pairs.anchors[fit], alpha)
        cov = resampled_coverage(geometry.score(pairs.positives[rest] - pairs.anchors[rest]), n_cal, alpha,
                                 splits, rng)
        out[m] = CoverageBand(float(cov.mean()), float(cov.std(ddof=1) / math.sqrt(cov.size)), n_cal,
                              1 - alpha, 1 - alpha + 1 / (n_cal + 1))
    return out


def pooled_anchor_coverage(alpha: float = 0.1, pool: int = 4, per_anchor: int = 50, splits: int = 400,
                           k: int = 2, scale_sd: float = 0.7, seed: int = 0) -> dict:
    """What breaks without exchangeability: calibration pairs all share the anchors of one small pool
    (``per_anchor`` positives each), test pairs those of another; anchors differ in the spread of
    their positives (log-normal scale, sd ``scale_sd``). The exchangeable control draws calibration
    and test pairs each from fresh anchors. Returns mean coverage and its standard error for both."""
    cs.miscoverage(alpha)
    for name, value in (("pool", pool), ("per_anchor", per_anchor), ("splits", splits), ("k", k)):
        validation.integer(name, value)
    scale_sd = validation.at_least("scale_sd", scale_sd)
    rng = np.random.default_rng(validation.integer("seed", seed, minimum=0))
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


@dataclass(frozen=True)
class ConformalResult:
    """Every number of the experiment: ``table`` (source -> :func:`split_experiment` at alpha),
    ``curves`` (source -> :func:`coverage_curves`) and ``pooled_anchors``
    (:func:`pooled_anchor_coverage`)."""

    alpha: float
    splits: int
    table: dict
    curves: dict
    pooled_anchors: dict


def conformal_experiment(sources: list[Pairs], alpha: float, splits: int, seed: int = 0,
                         curve_splits: int = 10, curve_sources: int = 2) -> ConformalResult:
    """:func:`split_experiment` on every source, :func:`coverage_curves` (``curve_splits`` splits) on
    the first ``curve_sources`` and :func:`pooled_anchor_coverage` at ``alpha``."""
    cs.miscoverage(alpha)
    validation.integer("splits", splits)
    for p in sources:
        _check_split(p, (alpha,), _calibration_size(p))
    table = {p.name: split_experiment(p, (alpha,), splits, seed=seed) for p in sources}
    curves = {p.name: coverage_curves(p, seed=seed, splits=curve_splits) for p in sources[:curve_sources]}
    return ConformalResult(alpha, splits, table, curves, pooled_anchor_coverage(alpha, seed=seed))


def summary(result: ConformalResult) -> list[str]:
    """The result in a few lines of text."""
    alpha = str(result.alpha)
    lines = [f"alpha={alpha}, {result.splits} random splits (mean +- sd)"]
    for source, res in result.table.items():
        for m, by_alpha in res.items():
            r = by_alpha[alpha]
            lines.append(f"{source:32s} {m:12s} coverage {r['coverage'][0]:.3f}+-{r['coverage'][1]:.3f} "
                         f"exclusion {r['exclusion'][0]:.3f}+-{r['exclusion'][1]:.3f} "
                         f"log-vol {r['log_volume'][0]:.1f}")
    pa = result.pooled_anchors
    lines.append(f"shared anchor pools: coverage {pa['shared_pools']['coverage']:.3f}+-{pa['shared_pools']['se']:.3f}"
                 f" vs exchangeable {pa['exchangeable']['coverage']:.3f}+-{pa['exchangeable']['se']:.3f} "
                 f"(nominal >= {1 - pa['alpha']:.2f})")
    return lines
