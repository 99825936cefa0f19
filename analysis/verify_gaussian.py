"""Check the Gaussian-kernel assumption of the f-Gaussian similarity (spec ``fmicl_paper.md`` section 3,
Figures 1 and 7 in section 6): the joint density of positive-pair features is proportional to
``exp(-||x - y||^2 / (2 sigma^2))``, so ``log p(x, y)`` is linear and decreasing in the squared distance
with slope ``-1 / (2 sigma^2)``.

Method (``verify_gaussian``):

1. **Density model.** A RealNVP (``analysis.flows``) is fitted by maximum likelihood to the joint
   ``(x, y)`` in R^{2d}, with a Gaussian or a uniform base, on a training split; training stops early
   on the held-out NLL, and only the held-out pairs are scored (eval mode). The held-out set selects
   one number (the stopping epoch), so the optimism it adds to its own scores is negligible.
2. **Features on a sphere.** Normalised features lie on S^{d-1} x S^{d-1}, a (2d-2)-dimensional
   manifold of R^{2d}: they have no density w.r.t. Lebesgue measure there, and a flow fitted to them
   would push the likelihood up without bound across the manifold while saying little along it. We
   therefore thicken the manifold: every feature gets independent isotropic noise ``N(0, noise^2 I)``
   (the same for training and held-out pairs). For small ``noise`` the thickened density factorises into
   the on-sphere density (smoothed along the sphere) times a radial profile that is the same at every
   point, so ``log p`` changes with the distance exactly as the on-sphere density does, up to the
   smoothing: a kernel ``exp(-||x - y||^2 / (2 sigma^2))`` becomes one with ``sigma^2 + 2 noise^2``
   (each tangent coordinate of ``x - y`` gains variance ``2 noise^2``). The implied ``sigma^2`` is
   reported with that known shift removed, and the vMF known answers are compared with
   ``kappa_eff = 1 / (1 / kappa + 2 noise^2)``. Pairs are binned by their *clean* squared distance.
   The fixed standardisation before the flow (``analysis.flows.Standardise``) changes ``log p`` by a
   constant (its log-Jacobian is included), so it does not change the slope.
3. **Many dimensions (``max_dim``, a deviation from the paper).** The paper fits the joint of the
   d = 512 features; with the ~1000 pairs of a CPU run a 2d-dimensional flow cannot be fitted. When
   ``d > max_dim`` both x and y are projected onto the top ``max_dim`` principal axes of the training
   pairs (one projection ``P`` for both), and distances are measured there. If ``y - x`` is isotropic
   noise of variance ``sigma^2`` per coordinate (the Gaussian kernel), ``P(y - x)`` is too, so the
   projected pairs follow the Gaussian kernel of the projected distance with the same ``sigma^2``.
   ``explained_variance`` reports the share of the feature variance kept.
4. **Statistics.** ``slope`` and ``intercept`` are ordinary least squares of ``log p`` on ``||x - y||^2``
   over the held-out *pairs*: this uses every scored pair, does not depend on the binning, and its
   bootstrap interval (resampling held-out pairs; the flow is held fixed, so flow-fit variability is not
   in it) is straightforward. With equal-count bins, least squares on the bin means (the curve the paper
   plots) estimates the same best linear fit. The bins (equal counts, quantiles of the distance) carry the
   mean ``log p`` with a t confidence interval; ``r`` is the Pearson correlation of bin means with bin
   centres, the linearity of the plotted curve (``r_pairs``, over pairs, is diluted by the spread of
   ``log p`` at a given distance and is reported too). ``lack_of_fit_p`` is the nested F test of the
   line against line + a free mean per bin. The assumption is ``certified`` when the slope's whole
   interval is negative and ``r <= -0.9``.
5. **Accuracy (measured, ``tests/test_verify_gaussian.py``).** A flow's held-out ``log p`` is a smoothed,
   finite-sample estimate whose error depends on the local density (large distances have few pairs), so
   the slope is biased. On the vMF known answers (2000 pairs) slope / (-kappa_eff / 2) was 0.77-0.80 for
   d = 3 and 0.95-1.04 for d = 16; a more flexible flow whose scales can expand (zuko's RealNVP) overshot
   instead on d = 3 (about 2x with noise 0.02). Read the slope as good to about +-30%, the sign and the
   linearity as robust.

``python -m analysis.verify_gaussian`` runs the check on a trainer run's positive pairs (by default the
digits default run, trained first if missing) with both priors and writes
``figures/gaussian_assumption.png`` + ``.json``.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from scipy import stats

from analysis.flows import BACKENDS, PRIORS, FlowFit, fit_flow
from analysis.outputs import save_figure

__all__ = ["CERTIFY_R", "GaussianCheck", "kernel_sigma2", "main", "plot_checks", "verify_gaussian"]

CERTIFY_R = -0.9
FIGURE_NAME = "gaussian_assumption"


@dataclass
class GaussianCheck:
    """Result of ``verify_gaussian`` (nats; distances are squared Euclidean ``||x - y||^2``)."""

    prior: str
    dim: int
    fitted_dim: int
    explained_variance: float
    n_train: int
    n_heldout: int
    noise: float
    bin_edges: np.ndarray
    bin_centres: np.ndarray
    bin_counts: np.ndarray
    bin_mean_loglik: np.ndarray
    bin_ci_low: np.ndarray
    bin_ci_high: np.ndarray
    slope: float
    intercept: float
    slope_ci: tuple[float, float]
    r: float
    r_pairs: float
    lack_of_fit_p: float
    heldout_nll: float
    best_epoch: int
    implied_sigma2: float
    implied_sigma2_ci: tuple[float, float]
    certified: bool
    distances: np.ndarray = field(repr=False)
    loglik: np.ndarray = field(repr=False)
    fit: FlowFit | None = field(default=None, repr=False)

    def numbers(self) -> dict:
        """The summary as plain numbers (no per-pair arrays, no model) for JSON."""
        out = asdict(self) | {"fit": None}
        for key in ("distances", "loglik", "fit"):
            out.pop(key)
        return out


def _implied_sigma2(slope: float, noise: float) -> float:
    """``-1 / (2 slope)`` minus the thickening's ``2 noise^2`` (module docstring, step 2)."""
    return -1.0 / (2.0 * slope) - 2.0 * noise**2 if slope < 0 else float("nan")


def kernel_sigma2(train_config: dict) -> float:
    """The sigma^2 a run trained with: the f-Gaussian ``sigma**2``, or for InfoNCE (cosine / tau) the
    temperature, since ``exp(x.y / tau) = const * exp(-||x - y||^2 / (2 tau))`` on the sphere (spec
    ``fmicl_paper.md`` section 3: KL with the f-Gaussian is cosine with tau = sigma^2). NaN if unknown."""
    key = "temperature" if train_config.get("objective") == "infonce" else "sigma"
    value = train_config.get(key)
    if value is None:
        return float("nan")
    return float(value) if key == "temperature" else float(value) ** 2


def _check_pairs(x, y) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.ndim != 2 or x.shape != y.shape:
        raise ValueError(f"x and y must be (n, d) arrays of the same shape, got {x.shape} and {y.shape}")
    for name, arr in (("x", x), ("y", y)):
        bad = ~np.isfinite(arr)
        if bad.any():
            raise ValueError(f"{name} has {int(bad.sum())} non-finite (NaN/inf) entries; features must be finite")
    return x, y


def _project(x, y, train, k: int):
    """x, y projected onto the top ``k`` principal axes of the training rows of both (step 3)."""
    if k == x.shape[1]:
        return x, y, 1.0
    stacked = np.concatenate([x[train], y[train]])
    _, sing, axes = np.linalg.svd(stacked - stacked.mean(0), full_matrices=False)
    explained = float(np.sum(sing[:k] ** 2) / np.sum(sing**2))
    return x @ axes[:k].T, y @ axes[:k].T, explained


def _bins(distances: np.ndarray, loglik: np.ndarray, n_bins: int, confidence: float):
    """Equal-count bins of ``distances``: edges, centres (mean distance), counts, mean ``loglik``, CI."""
    order = np.argsort(distances)
    groups = np.array_split(order, n_bins)
    edges = np.array([distances[g[0]] for g in groups] + [distances[order[-1]]])
    centres = np.array([distances[g].mean() for g in groups])
    counts = np.array([len(g) for g in groups])
    means = np.array([loglik[g].mean() for g in groups])
    sems = np.array([loglik[g].std(ddof=1) / np.sqrt(len(g)) for g in groups])
    half = stats.t.ppf(0.5 + confidence / 2.0, counts - 1) * sems
    return edges, centres, counts, means, means - half, means + half, groups


def _lack_of_fit_p(distances, loglik, groups) -> float:
    """Nested F test: the line (2 parameters) against the line plus one free mean per bin."""
    n, n_bins = len(distances), len(groups)
    bin_of = np.empty(n, dtype=int)
    for b, g in enumerate(groups):
        bin_of[g] = b
    line = np.column_stack([np.ones(n), distances])
    full = np.column_stack([np.eye(n_bins)[bin_of], distances])
    rss = [np.sum((loglik - m @ np.linalg.lstsq(m, loglik, rcond=None)[0]) ** 2) for m in (line, full)]
    dof_full = n - n_bins - 1
    f_stat = ((rss[0] - rss[1]) / (n_bins - 1)) / (rss[1] / dof_full)
    return float(stats.f.sf(f_stat, n_bins - 1, dof_full))


def _bootstrap_slope(distances, loglik, n_boot: int, confidence: float, rng) -> tuple[float, float]:
    idx = rng.integers(0, len(distances), size=(n_boot, len(distances)))
    d, lp = distances[idx], loglik[idx]
    dc = d - d.mean(1, keepdims=True)
    slopes = (dc * (lp - lp.mean(1, keepdims=True))).sum(1) / (dc**2).sum(1)
    lo, hi = np.quantile(slopes, [0.5 - confidence / 2.0, 0.5 + confidence / 2.0])
    return float(lo), float(hi)


def verify_gaussian(
    x,
    y,
    prior: str = "gaussian",
    *,
    noise: float = 0.02,
    max_dim: int | None = None,
    heldout_fraction: float = 0.3,
    bins: int = 10,
    bootstrap: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
    **fit_options,
) -> GaussianCheck:
    """Fit a RealNVP to the joint of positive pairs ``(x_i, y_i)`` (rows of two (n, d) arrays) and test
    whether the held-out ``log p`` is linear and decreasing in ``||x - y||^2`` (module docstring).

    ``fit_options`` go to ``analysis.flows.fit_flow`` (``standardise``, ``backend``, ``hidden``, ``layers``,
    ``blocks``, ``epochs``, ``batch_size``, ``lr``, ``weight_decay``, ``patience``, ``device``)."""
    if prior not in PRIORS:
        raise ValueError(f"unknown prior {prior!r}; allowed: {', '.join(PRIORS)}")
    x, y = _check_pairs(x, y)
    if not 0.0 < heldout_fraction < 1.0:
        raise ValueError(f"heldout_fraction={heldout_fraction!r} must lie in (0, 1)")
    if int(bins) != bins or bins < 3:
        raise ValueError(f"bins={bins!r} must be an integer >= 3")
    if max_dim is not None and (int(max_dim) != max_dim or max_dim < 1):
        raise ValueError(f"max_dim={max_dim!r} must be None or a positive integer")
    if not np.isfinite(noise) or noise < 0:
        raise ValueError(f"noise={noise!r} must be a finite number >= 0")
    if not 0.0 < confidence < 1.0 or int(bootstrap) != bootstrap or bootstrap < 100:
        raise ValueError(f"confidence={confidence!r} must lie in (0, 1) and bootstrap={bootstrap!r} be an integer >= 100")
    n, dim = x.shape
    fitted_dim = dim if max_dim is None else min(dim, int(max_dim))
    n_held = int(round(n * heldout_fraction))
    need_held, need_train = 5 * bins, 2 * (2 * fitted_dim) + 1
    if n_held < need_held or n - n_held < need_train:
        raise ValueError(
            f"n={n} pairs is too small for the split: heldout_fraction={heldout_fraction} gives {n_held} held-out "
            f"(need >= {need_held} = 5 per bin) and {n - n_held} training pairs (need >= {need_train} for d={fitted_dim})"
        )
    rng = np.random.default_rng(seed)
    perm = rng.permutation(n)
    held, train = perm[:n_held], perm[n_held:]
    x, y, explained = _project(x, y, train, fitted_dim)
    joint = np.concatenate([x, y], axis=1)
    thick = joint + noise * rng.standard_normal(joint.shape)
    fit = fit_flow(thick[train], thick[held], prior, seed=seed, **fit_options)
    loglik = fit.log_prob(thick[held])
    distances = np.sum((x[held] - y[held]) ** 2, axis=1)
    edges, centres, counts, means, lo, hi, groups = _bins(distances, loglik, bins, confidence)
    line = stats.linregress(distances, loglik)
    slope_ci = _bootstrap_slope(distances, loglik, bootstrap, confidence, rng)
    r = float(np.corrcoef(centres, means)[0, 1])
    sigma_ci = tuple(sorted(_implied_sigma2(s, noise) for s in slope_ci))
    return GaussianCheck(
        prior=prior,
        dim=dim,
        fitted_dim=fitted_dim,
        explained_variance=explained,
        n_train=len(train),
        n_heldout=n_held,
        noise=float(noise),
        bin_edges=edges,
        bin_centres=centres,
        bin_counts=counts,
        bin_mean_loglik=means,
        bin_ci_low=lo,
        bin_ci_high=hi,
        slope=float(line.slope),
        intercept=float(line.intercept),
        slope_ci=slope_ci,
        r=r,
        r_pairs=float(line.rvalue),
        lack_of_fit_p=_lack_of_fit_p(distances, loglik, groups),
        heldout_nll=float(fit.heldout_nll),
        best_epoch=fit.best_epoch,
        implied_sigma2=_implied_sigma2(float(line.slope), noise),
        implied_sigma2_ci=sigma_ci,
        certified=bool(slope_ci[1] < 0 and r <= CERTIFY_R),
        distances=distances,
        loglik=loglik,
        fit=fit,
    )


def plot_checks(checks: list[GaussianCheck], titles: list[str] | None = None, axes=None):
    """One panel per check (the paper's Figure 1): held-out pairs, bin means with their confidence
    intervals, and the least-squares line; returns the matplotlib figure."""
    import matplotlib.pyplot as plt

    titles = titles or [f"{c.prior} prior" for c in checks]
    if axes is None:
        fig, axes = plt.subplots(1, len(checks), figsize=(4.2 * len(checks), 3.6), squeeze=False)
        axes = axes[0]
    for ax, c, title in zip(axes, checks, titles):
        ax.scatter(c.distances, c.loglik, s=3, alpha=0.15, color="0.5", label="held-out pairs")
        ax.errorbar(c.bin_centres, c.bin_mean_loglik,
                    yerr=[c.bin_mean_loglik - c.bin_ci_low, c.bin_ci_high - c.bin_mean_loglik],
                    fmt="o", color="C0", ms=4, capsize=2, label="bin mean (95% CI)")
        grid = np.linspace(c.bin_edges[0], c.bin_edges[-1], 50)
        ax.plot(grid, c.intercept + c.slope * grid, color="C3",
                label=f"slope {c.slope:.2f} [{c.slope_ci[0]:.2f}, {c.slope_ci[1]:.2f}]\nr = {c.r:.3f}")
        lo, hi = np.quantile(c.loglik, [0.01, 0.99])
        pad = 0.1 * (hi - lo)
        ax.set_ylim(min(lo, c.bin_ci_low.min()) - pad, max(hi, c.bin_ci_high.max()) + pad)
        ax.set_xlabel(r"$\|x - y\|^2$")
        ax.set_ylabel(r"held-out $\log p(x, y)$")
        ax.set_title(title, fontsize=10)
        ax.legend(fontsize=7, loc="lower left")
    fig = axes[0].figure
    fig.tight_layout()
    return fig


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m analysis.verify_gaussian",
        description="Test the Gaussian-kernel assumption (f-MICL Fig. 1): fit RealNVP to the joint density of "
        "positive-pair features and regress the held-out log-likelihood on the squared distance.",
    )
    p.add_argument("--features", default=None,
                   help="features.npz of a trainer run (default: runs/simclr-kl-digits-s<seed>/features.npz, "
                   "trained first with the trainer's default config if missing)")
    p.add_argument("--prior", default="both", choices=[*PRIORS, "both"], help="base distribution of the flow")
    p.add_argument("--epochs", type=int, default=60, help="maximum flow-training epochs (early stopping on held-out NLL)")
    p.add_argument("--patience", type=int, default=8, help="epochs without held-out improvement before stopping")
    p.add_argument("--max-dim", type=int, default=16,
                   help="project the features onto this many principal axes first (0: no projection; paper: none)")
    p.add_argument("--noise", type=float, default=0.02, help="std of the Gaussian thickening of the features")
    p.add_argument("--bins", type=int, default=10, help="equal-count distance bins")
    p.add_argument("--hidden", type=int, default=64, help="hidden width of the coupling networks")
    p.add_argument("--layers", type=int, default=6, help="affine coupling layers")
    p.add_argument("--backend", default="nflows", choices=BACKENDS,
                   help="flow library: nflows (the paper's RealNVP) or zuko (cross-check, gaussian prior only)")
    p.add_argument("--device", default="auto", help="auto (cuda when available), cpu, cuda, cuda:1, ...")
    p.add_argument("--seed", type=int, default=0, help="seed of the split, the thickening, the flow and the bootstrap")
    p.add_argument("--name", default=FIGURE_NAME, help="figure name: writes figures/<name>.png and .json")
    return p


def _load_pairs(path: str | None, seed: int) -> tuple[np.ndarray, np.ndarray, dict, str]:
    """Positive pairs of ``path``, or of the trainer's default run (trained first if missing)."""
    from fmicl_core.config import TrainConfig
    from fmicl_core.features import load_features

    if path is None:
        config = TrainConfig(seed=seed)
        path = Path(config.out_dir) / config.run_name / "features.npz"
        if not path.exists():
            from fmicl_core.train import train

            print(f"{path} not found: training the default run (python -m fmicl_core.train) first", flush=True)
            train(config)
    feats = load_features(path)
    return feats.pair_x, feats.pair_y, feats.config, str(path)


def main(argv: list[str] | None = None) -> dict:
    """CLI entry point (``--help``); returns the numbers it writes."""
    import matplotlib

    matplotlib.use("Agg")
    import torch

    args = _parser().parse_args(argv)
    device = ("cuda" if torch.cuda.is_available() else "cpu") if args.device == "auto" else args.device
    started = time.perf_counter()
    try:
        x, y, train_config, source = _load_pairs(args.features, args.seed)
        priors = PRIORS if args.prior == "both" else (args.prior,)
        options = dict(max_dim=args.max_dim or None, noise=args.noise, bins=args.bins, seed=args.seed,
                       epochs=args.epochs, patience=args.patience, hidden=args.hidden, layers=args.layers,
                       backend=args.backend, device=device)
        checks = [verify_gaussian(x, y, prior, **options) for prior in priors]
    except ValueError as err:
        sys.exit(f"verify_gaussian: error: {err}")
    trained_sigma2 = kernel_sigma2(train_config)
    run = f"{train_config.get('method')}-{train_config.get('objective')} on {train_config.get('dataset')}"
    print(f"pairs: {len(x)} x d={x.shape[1]} from {source} ({run}); fitted dim {checks[0].fitted_dim} "
          f"(explained variance {checks[0].explained_variance:.3f})")
    for c in checks:
        print(f"{c.prior:>8} prior: slope {c.slope:+.3f}  95% CI [{c.slope_ci[0]:+.3f}, {c.slope_ci[1]:+.3f}]  "
              f"r {c.r:+.3f} (pairs {c.r_pairs:+.3f})  held-out NLL {c.heldout_nll:.2f}  "
              f"sigma^2 implied {c.implied_sigma2:.3f} [{c.implied_sigma2_ci[0]:.3f}, {c.implied_sigma2_ci[1]:.3f}] "
              f"vs trained {trained_sigma2:.3f}  certified {c.certified}")
    numbers = {c.prior: c.numbers() for c in checks} | {"trained_sigma2": trained_sigma2,
                                                       "seconds": time.perf_counter() - started}
    config = {"features": source, "train_config": train_config} | options
    fig = plot_checks(checks, [f"{c.prior} prior ({run}, d={c.fitted_dim})" for c in checks])
    png = save_figure(args.name, fig, numbers, config)
    print(f"wrote {png} and {png.with_suffix('.json')} in {numbers['seconds']:.0f} s")
    return numbers


if __name__ == "__main__":
    main()
