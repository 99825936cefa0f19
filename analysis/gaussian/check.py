"""The check of the Gaussian-kernel assumption (f-MICL, checked in Figure 1).

Lu et al. 2023 (f-MICL, arXiv:2402.10150) assume for the f-Gaussian similarity that the joint density
of positive-pair features is proportional to ``exp(-||x - y||^2 / (2 sigma^2))``, so ``log p(x, y)`` is
linear and decreasing in the squared distance with slope ``-1 / (2 sigma^2)``. Their Figure 1 fits a
RealNVP to SimCLR features (Gaussian and uniform prior) and plots the mean log-likelihood in bins of
the squared distance; Figure 7 does the same for InfoNCE and KL f-MICL features. Neither prints a
slope.

Method (:func:`verify_gaussian`):

1. **Density model.** A RealNVP (:mod:`analysis.gaussian.flows`; Dinh et al. 2017, arXiv:1605.08803)
   is fitted by maximum likelihood to the joint ``(x, y)`` in R^{2d}, with a Gaussian or a uniform base,
   on a training split; training stops early on the held-out NLL, and only the held-out pairs are
   scored (eval mode). The held-out set selects one number (the stopping epoch), so the optimism it
   adds to its own scores is negligible.
2. **Features on a sphere.** Normalised features lie on S^{d-1} x S^{d-1}, a (2d-2)-dimensional
   manifold of R^{2d}: they have no density w.r.t. Lebesgue measure there, and a flow fitted to them
   would push the likelihood up without bound across the manifold while saying little along it. We
   therefore thicken the manifold: every feature gets independent isotropic noise ``N(0, noise^2 I)``
   (the same for training and held-out pairs). For small ``noise`` the thickened density factorises into
   the on-sphere density (smoothed along the sphere) times a radial profile that is the same at every
   point, so ``log p`` changes with the distance exactly as the on-sphere density does, up to the
   smoothing: a kernel ``exp(-||x - y||^2 / (2 sigma^2))`` becomes one with ``sigma^2 + 2 noise^2``
   (each tangent coordinate of ``x - y`` gains variance ``2 noise^2``); the raw ``implied_sigma2`` has
   that shift removed. Pairs are binned by their *clean* squared distance, so for a wider thickening
   the slope a perfect model gives departs from ``-1 / (2 (sigma^2 + 2 noise^2))``; for the vMF known
   answers it is computed exactly (:mod:`analysis.gaussian.thickened`).
   The fixed standardisation before the flow (:class:`analysis.gaussian.flows.Standardise`) changes
   ``log p`` by a constant (its log-Jacobian is included), so it does not change the slope.
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
   in it) is straightforward. With equal-count bins, least squares on the bin means (the curve of
   Figure 1) estimates the same best linear fit. The bins (equal counts, quantiles of the distance)
   carry the mean ``log p`` with a t confidence interval; ``r`` is the Pearson correlation of bin means
   with bin centres, the linearity of the plotted curve (``r_pairs``, over pairs, is diluted by the
   spread of ``log p`` at a given distance and is reported too). ``lack_of_fit_p`` is the nested F test
   of the line against line + a free mean per bin.
5. **Accuracy and calibration.** A flow's held-out ``log p`` is a smoothed, finite-sample estimate of a
   density on a thin shell, so the raw slope is biased, by an amount that depends on the dimension and
   the kernel width, and the bootstrap interval ignores the flow's refit. The bias map
   (:mod:`analysis.gaussian.bias_map`: the whole pipeline on vMF couplings against the exact slope of the
   thickened joint, :mod:`analysis.gaussian.thickened`) measures both, and the calibrated slope
   (:mod:`analysis.gaussian.calibration`) reads the raw slope through it, with an interval that includes
   the refit. The first half of the assumption (f-MICL Figure 1: ``log p`` linear and decreasing in the
   squared distance) is ``certified`` when the *calibrated* interval is negative and ``r <= -0.9``; a
   slope that cannot be calibrated is not certified.
6. **Two forms.** ``form="joint"`` regresses ``log p(x, y)``, as Figure 1 does. ``form="pmi"`` regresses
   the pointwise mutual information ``log p(x, y) - log p(x) - log p(y)``, with one more flow per
   marginal: the log of the density ratio, which the f-Gaussian critic models (f-MICL, Section 3: the
   optimal critic is ``f'`` of the ratio). With uniform marginals the two have one slope; otherwise they
   differ, and which one is the kernel's depends on the model (:mod:`analysis.gaussian.anchored` holds a
   known case in which the conditional ``p(y | x)`` is the kernel: the joint's slope is then the kernel's
   and the ratio's is not).
"""

from __future__ import annotations

import inspect
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Mapping

import numpy as np
from scipy import stats

from analysis.gaussian.bias_map import Measurement, cells
from analysis.gaussian.calibration import CalibratedSlope, Curve, calibrate, load_map, uncalibrated
from analysis.gaussian.flows import PRIORS, FlowFit, fit_flow
from analysis.gaussian.vmf import VMFCoupling
from fmicl_core import validation
from fmicl_core.objective_config import BASELINES

__all__ = ["CALIBRATIONS", "CERTIFY_R", "FIT_OPTIONS", "FORMS", "GaussianCheck", "check_settings", "measure",
           "surrogate_curve", "implied_sigma2", "kernel_sigma2", "kernel_slope",
           "verify_gaussian"]

CERTIFY_R = -0.9
FORMS = ("joint", "pmi")
CALIBRATIONS = ("auto", "map", "surrogate", "none")
FIT_OPTIONS = tuple(k for k in inspect.signature(fit_flow).parameters if k not in ("train", "heldout", "prior", "seed"))
"""The keyword arguments of :func:`verify_gaussian` that go to :func:`analysis.gaussian.flows.fit_flow`."""


@dataclass
class GaussianCheck:
    """Result of :func:`verify_gaussian` (nats; distances are squared Euclidean ``||x - y||^2``)."""

    prior: str
    form: str
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
    calibrated: CalibratedSlope | None
    """The calibrated ``slope`` (None: not asked for; NaN numbers with the reason: not possible)."""
    distances: np.ndarray = field(repr=False)
    loglik: np.ndarray = field(repr=False)
    fits: list[FlowFit] = field(default_factory=list, repr=False)

    def numbers(self) -> dict:
        """The summary as plain numbers (no per-pair arrays, no model) for JSON."""
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("distances", "loglik", "fits")}
        return out | {"calibrated": None if self.calibrated is None else asdict(self.calibrated)}


def implied_sigma2(slope: float, noise: float) -> float:
    """The kernel's ``sigma^2`` implied by a slope: ``-1 / (2 slope)`` minus the thickening's
    ``2 noise^2`` (module docstring, step 2); NaN for a slope that is not negative."""
    return -1.0 / (2.0 * slope) - 2.0 * noise**2 if slope < 0 else float("nan")


def kernel_slope(sigma2: float, noise: float = 0.0) -> float:
    """The slope of ``log p`` in ``||x - y||^2`` when the pairs follow the Gaussian kernel of width
    ``sigma2`` and are thickened by ``noise``: ``-1 / (2 (sigma2 + 2 noise^2))`` (module docstring,
    step 2); the inverse of :func:`implied_sigma2`. For the vMF coupling ``sigma2 = 1 / kappa``, which
    gives ``-kappa_eff / 2``."""
    return -1.0 / (2.0 * (sigma2 + 2.0 * noise**2))


def kernel_sigma2(run_config: Mapping) -> float:
    """The ``sigma^2`` of the kernel a run trained with, from its stored config
    (``TrainConfig.to_dict()``, whose ``"objective"`` is a nested dict): ``sigma**2`` for an f-MICL
    objective with the f-Gaussian similarity; the temperature ``tau`` for InfoNCE, since on the sphere
    ``exp(x.y / tau) = const * exp(-||x - y||^2 / (2 tau))`` (so InfoNCE is KL f-MICL with the
    f-Gaussian similarity and ``sigma^2 = tau``: f-MICL Figure 3). NaN when the run has no such
    kernel (the other baselines, the cosine similarity) or its config does not say."""
    objective = run_config.get("objective")
    if not isinstance(objective, Mapping):
        return float("nan")
    name = objective.get("name")
    if name == "infonce":
        key, power = "temperature", 1
    elif name in BASELINES or objective.get("similarity", "gaussian") != "gaussian":
        return float("nan")
    else:
        key, power = "sigma", 2
    value = objective.get(key)
    return float("nan") if value is None else float(value) ** power


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


def check_settings(prior: str, form: str, noise: float, heldout_fraction: float, bins: int, fit_options: dict) -> dict:
    """Everything that shapes the raw slope apart from the data, the sample size and the seed: what a
    calibration map must have been made with (:class:`analysis.gaussian.calibration.CalibrationMap`)."""
    defaults = {k: v.default for k, v in inspect.signature(fit_flow).parameters.items() if k in FIT_OPTIONS}
    flow = {k: v for k, v in (defaults | fit_options).items() if k != "device"}
    return {"prior": prior, "form": form, "noise": noise, "heldout_fraction": heldout_fraction, "bins": bins} | flow


def _scores(thick, train, held, dim: int, prior: str, form: str, seed: int, fit_options: dict):
    """Held-out ``log p(x, y)`` (``form="joint"``) or ``log p(x, y) - log p(x) - log p(y)`` (``"pmi"``),
    with the flows fitted (module docstring, steps 1 and 6)."""
    blocks = [slice(None)] if form == "joint" else [slice(None), slice(0, dim), slice(dim, 2 * dim)]
    fits = [fit_flow(thick[train][:, b], thick[held][:, b], prior, seed=seed, **fit_options) for b in blocks]
    scores = [fit.log_prob(thick[held][:, b]) for fit, b in zip(fits, blocks)]
    return scores[0] - sum(scores[1:]), fits


def _calibrate(slope: float, calibration: str, d: int, n: int, settings: dict, seed: int, fit_options: dict):
    """The calibrated ``slope`` (:mod:`analysis.gaussian.calibration`): from the committed map where it
    was made at these settings (``"map"``, or ``"auto"``), else from vMF surrogates at these settings
    (``"surrogate"``, or ``"auto"``); None for ``"none"``."""
    if calibration == "none":
        return None
    if calibration in ("auto", "map"):
        bias = load_map()
        reason = bias.applies(settings, d, n, slope)
        if not reason:
            return calibrate(slope, bias.curve(d, n))
        if calibration == "map":
            return uncalibrated(slope, "bias map", reason)
    if slope >= 0:
        return uncalibrated(slope, "vMF surrogates", f"raw slope {slope:.3g} is not negative: no kernel width")
    options = {k: settings[k] for k in ("prior", "form", "heldout_fraction", "bins")} | fit_options
    return calibrate(slope, surrogate_curve(slope, d, n, settings["noise"], seeds=(seed, seed + 1, seed + 2), **options))


def verify_gaussian(
    x,
    y,
    prior: str = "gaussian",
    *,
    form: str = "joint",
    noise: float = 0.02,
    max_dim: int | None = None,
    heldout_fraction: float = 0.3,
    bins: int = 10,
    bootstrap: int = 1000,
    confidence: float = 0.95,
    calibration: str = "auto",
    seed: int = 0,
    **fit_options,
) -> GaussianCheck:
    """Fit a RealNVP to the joint of positive pairs ``(x_i, y_i)`` (rows of two (n, d) arrays) and test
    whether the held-out ``log p`` (``form="joint"``) or pointwise mutual information (``"pmi"``) is
    linear and decreasing in ``||x - y||^2``, with the raw slope calibrated by ``calibration``
    (:data:`CALIBRATIONS`; module docstring).

    ``fit_options`` go to :func:`analysis.gaussian.flows.fit_flow` (``standardise``, ``backend``,
    ``hidden``, ``layers``, ``blocks``, ``epochs``, ``batch_size``, ``lr``, ``weight_decay``,
    ``patience``, ``device``)."""
    validation.choice("prior", prior, PRIORS)
    validation.choice("form", form, FORMS)
    validation.choice("calibration", calibration, CALIBRATIONS)
    validation.keywords("verify_gaussian", fit_options, FIT_OPTIONS)
    x, y = _check_pairs(x, y)
    heldout_fraction = validation.unit_interval("heldout_fraction", heldout_fraction, closed_right=False, open_left=True)
    bins = validation.integer("bins", bins, minimum=3)
    if max_dim is not None:
        max_dim = validation.integer("max_dim", max_dim, minimum=1)
    noise = validation.at_least("noise", noise)
    confidence = validation.unit_interval("confidence", confidence, closed_right=False, open_left=True)
    bootstrap = validation.integer("bootstrap", bootstrap, minimum=100)
    n, dim = x.shape
    fitted_dim = dim if max_dim is None else min(dim, max_dim)
    n_held = int(round(n * heldout_fraction))
    need_held, need_train = 5 * bins, 2 * (2 * fitted_dim) + 1
    if n_held < need_held or n - n_held < need_train:
        raise ValueError(
            f"n={n} pairs is too small for the split: heldout_fraction={heldout_fraction} gives {n_held} held-out "
            f"(need >= {need_held} = 5 per bin) and {n - n_held} training pairs (need >= {need_train} for d={fitted_dim})"
        )
    rng = np.random.default_rng(validation.integer("seed", seed, minimum=0))
    perm = rng.permutation(n)
    held, train = perm[:n_held], perm[n_held:]
    x, y, explained = _project(x, y, train, fitted_dim)
    distances = np.sum((x[held] - y[held]) ** 2, axis=1)
    if np.ptp(distances) == 0:
        raise ValueError(f"every held-out pair has ||x - y||^2 = {distances[0]:g} (identical pairs, or all at one "
                         "distance): log p cannot be regressed on the distance; the check needs pairs at "
                         "different distances")
    joint = np.concatenate([x, y], axis=1)
    thick = joint + noise * rng.standard_normal(joint.shape)
    loglik, fits = _scores(thick, train, held, fitted_dim, prior, form, seed, fit_options)
    edges, centres, counts, means, lo, hi, groups = _bins(distances, loglik, bins, confidence)
    line = stats.linregress(distances, loglik)
    slope_ci = _bootstrap_slope(distances, loglik, bootstrap, confidence, rng)
    r = float(np.corrcoef(centres, means)[0, 1])
    sigma_ci = tuple(sorted(implied_sigma2(s, noise) for s in slope_ci))
    settings = check_settings(prior, form, noise, heldout_fraction, bins, fit_options)
    calibrated = _calibrate(float(line.slope), calibration, fitted_dim, n, settings, seed, fit_options)
    if calibrated is not None and calibrated.calibrated and fitted_dim < dim:
        projected = f"projected from d={dim}: read as pairs on the sphere of d={fitted_dim}"
        calibrated = replace(calibrated, note="; ".join(filter(None, (calibrated.note, projected))))
    return GaussianCheck(
        prior=prior,
        form=form,
        dim=dim,
        fitted_dim=fitted_dim,
        explained_variance=explained,
        n_train=len(train),
        n_heldout=n_held,
        noise=noise,
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
        heldout_nll=float(fits[0].heldout_nll),
        best_epoch=fits[0].best_epoch,
        implied_sigma2=implied_sigma2(float(line.slope), noise),
        implied_sigma2_ci=sigma_ci,
        certified=bool(calibrated is not None and calibrated.calibrated and calibrated.ci[1] < 0 and r <= CERTIFY_R),
        calibrated=calibrated,
        distances=distances,
        loglik=loglik,
        fits=fits,
    )


def measure(d: int, kappa: float, n: int, seed: int, noise: float = 0.02, prior: str = "gaussian",
            **check_options) -> Measurement:
    """The raw (uncalibrated) slope of :func:`verify_gaussian` on ``n`` pairs of ``VMFCoupling(d, kappa)``
    drawn with a generator keyed by ``(seed, d, kappa, n)``."""
    coupling = VMFCoupling(d, kappa)
    key = [validation.integer("seed", seed, minimum=0), coupling.d, int(round(coupling.kappa * 1000)), n]
    x, y = coupling.sample(validation.integer("n", n, minimum=2), np.random.default_rng(key))
    check = verify_gaussian(x, y, prior, noise=noise, seed=seed, calibration="none", **check_options)
    return Measurement(coupling.d, coupling.kappa, n, seed, check.slope, *check.slope_ci)


def surrogate_curve(raw: float, d: int, n: int, noise: float, seeds=(0, 1, 2), spread: float = 2.0,
                    **check_options) -> Curve:
    """A calibration curve measured at the data's own settings: the pipeline run on vMF surrogates of
    dimension ``d`` with ``n`` pairs at ``kappa0 / spread``, ``kappa0`` and ``kappa0 * spread``, where
    ``kappa0 = -2 raw`` (a parametric bootstrap; ``len(seeds)`` fits per kappa)."""
    raw = validation.number("raw slope", raw)
    if raw >= 0:
        raise ValueError(f"raw slope {raw!r} is not negative: no kernel width to calibrate")
    kappa0 = -2.0 * raw
    kappas = [kappa0 / spread, kappa0, kappa0 * spread]
    found = [measure(d, k, n, s, noise, **check_options) for k in kappas for s in seeds]
    return Curve.from_cells(cells(found, {(d, k): float("nan") for k in kappas}), "vMF surrogates")
