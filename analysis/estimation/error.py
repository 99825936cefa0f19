"""Estimation error of the mini-batch f-MI estimate against the batch size: Theorem 4 of f-MICL
(Lu et al. 2023, arXiv:2402.10150).

The estimate of a batch of N pairs and the concentration term of Theorem 4 are

    i_hat_f = 1/N sum_i s(x_i, y_i) - 1/(N(N-1)) sum_{i != j} f*(s(x_i, x_j)),   s = f'(G),
    |i_f - i_hat_f| <= (Rademacher terms) + (r_T + 2 r_f) sqrt(log(6/delta) / (2(N-1)))  w.p. 1 - delta,
    r_T = f'(mu) - f'(mu e^{-2/sigma^2}),   r_f = f*(f'(mu)) - f*(f'(mu e^{-2/sigma^2})).

The model is the vMF coupling of :mod:`analysis.gaussian.vmf`: with ``1/(2 sigma^2) = kappa/2`` and
``mu = C_d(kappa) e^kappa`` the f-Gaussian ``G`` is the density ratio (the Gaussian-kernel
assumption, f-MICL, checked in Figure 1, holds exactly), so ``s`` is the optimal critic and the
population objective ``i_f = E+ f'(G) - Ex f*(f'(G))`` equals the f-mutual information ``Ex f(G)``
(Definition 1). It is computed by Gauss-Jacobi quadrature over ``t = x.y`` and checked by a large
Monte Carlo with its standard error. The critic is a single fixed function (no class to take a
supremum over), so the Rademacher terms vanish and the bound reduces to its concentration term,
compared here with the empirical (1 - delta)-quantile of the error over many batches.

The ratio ``G`` lies in ``[mu e^{-2 kappa}, mu]``, bounded and away from 0, so every divergence of
the registry (RKL and Neyman included) has a finite f-MI and a bounded similarity in this model.
"""

from __future__ import annotations

import functools
import math
from dataclasses import asdict, dataclass, field

import numpy as np
import torch

from analysis.gaussian.vmf import VMFCoupling
from fmicl_core import divergences, validation

__all__ = [
    "DEFAULT_DELTA",
    "DEFAULT_NS",
    "KAPPA_RANGE",
    "MIN_SIZES",
    "EstimationErrorStudy",
    "PopulationFMI",
    "batch_estimates",
    "batch_sizes_up_to",
    "concentration_term",
    "estimation_error_study",
    "fit_slope",
    "population_fmi",
]

DEFAULT_DELTA = 0.1
MIN_SIZES = 3
"""Batch sizes a study needs at least: the slope of the error and its standard error are a line
fitted to one point per size, and a line's standard error needs a third point."""
KAPPA_RANGE = (1e-3, 10.0)
"""The vMF concentrations the population values accept (measured for d from 2 to 64): above, the
200-node Gauss-Jacobi quadrature of the cross-check ``E f(G)`` no longer resolves Neyman's ``f``
at ``G`` down to ``mu e^{-2 kappa}`` (and at a few hundred ``G`` underflows); below, ``i_f`` (of
order ``kappa^2``) and the errors sink towards float64 rounding."""


def batch_sizes_up_to(max_n: int) -> tuple[int, ...]:
    """The powers of 2 from 8 up to ``max_n``, at least :data:`MIN_SIZES` of them (``max_n >= 32``)."""
    smallest = 8 * 2 ** (MIN_SIZES - 1)
    if validation.integer("max_n", max_n, minimum=1) < smallest:
        raise ValueError(f"max_n={max_n!r} is not allowed; it must be an integer >= {smallest}, so that the batch "
                         f"sizes 8, 16, ... give the {MIN_SIZES} points a slope with a standard error needs")
    return tuple(2**k for k in range(3, int(math.log2(max_n)) + 1))


DEFAULT_NS = batch_sizes_up_to(1024)


def _terms(div: divergences.Divergence, coupling: VMFCoupling, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``A = f'(G)`` and ``B = f*(f'(G))`` at inner products ``t``, with ``log G = log C + kappa t``."""
    log_g = torch.from_numpy(coupling.log_ratio(t))
    return div.pos_log(log_g).numpy(), div.neg_log(log_g).numpy()


@functools.lru_cache(maxsize=2)
def _mc_draws(coupling: VMFCoupling, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` draws of ``t = x.y`` under the coupling and under the product (shared by divergences)."""
    validation.integer("mc_samples", n, minimum=2)
    rng = np.random.default_rng(validation.integer("seed", seed, minimum=0))
    return coupling.sample_inner(n, rng, coupled=True), coupling.sample_inner(n, rng, coupled=False)


@dataclass(frozen=True)
class PopulationFMI:
    """``i_f`` of one divergence under the coupling: by quadrature as ``E+ A - Ex B`` and as the
    f-divergence ``Ex f(G)`` (equal when the bound is tight), by Monte Carlo with its standard error,
    and the ranges ``r_T``, ``r_f`` of Theorem 4."""

    divergence: str
    quadrature: float
    f_divergence: float
    monte_carlo: float
    monte_carlo_se: float
    r_T: float
    r_f: float


def population_fmi(divergence: str | divergences.Divergence, coupling: VMFCoupling,
                   mc_samples: int = 10**6, seed: int = 0) -> PopulationFMI:
    """The population value ``i_f`` of the f-MICL objective with the matching f-Gaussian (module
    docstring), three ways."""
    div = divergences.get(divergence)
    validation.at_least("kappa", coupling.kappa, *KAPPA_RANGE)
    quad = (coupling.expectation(lambda t: _terms(div, coupling, t)[0], coupled=True)
            - coupling.expectation(lambda t: _terms(div, coupling, t)[1], coupled=False))
    fdiv = coupling.expectation(
        lambda t: div.f(torch.from_numpy(np.exp(coupling.log_ratio(t)))).numpy(), coupled=False)
    t_coupled, t_product = _mc_draws(coupling, mc_samples, seed)
    a = _terms(div, coupling, t_coupled)[0]
    b = _terms(div, coupling, t_product)[1]
    ends = np.array([1.0, -1.0])  # t = 1 (d = 0, G = mu) and t = -1 (d = 4, G = mu e^{-2 kappa})
    a_end, b_end = _terms(div, coupling, ends)
    return PopulationFMI(
        divergence=div.name, quadrature=quad, f_divergence=fdiv,
        monte_carlo=float(a.mean() - b.mean()),
        monte_carlo_se=float(math.sqrt(a.var(ddof=1) / a.size + b.var(ddof=1) / b.size)),
        r_T=float(a_end[0] - a_end[1]), r_f=float(b_end[0] - b_end[1]),
    )


def _check_sizes(ns: tuple[int, ...]) -> tuple[int, ...]:
    """Distinct batch sizes ``N >= 2``, at least :data:`MIN_SIZES` of them."""
    ns = tuple(validation.integer("N", n, minimum=2) for n in ns)
    if len(set(ns)) < MIN_SIZES:
        raise ValueError(f"ns={ns!r} is not allowed; the slope fit needs at least {MIN_SIZES} distinct batch sizes")
    return ns


def concentration_term(r_T: float, r_f: float, n: int | np.ndarray, delta: float = DEFAULT_DELTA) -> np.ndarray:
    """Theorem 4's concentration term ``(r_T + 2 r_f) sqrt(log(6/delta) / (2(N-1)))``."""
    delta = validation.unit_interval("delta", delta, closed_right=False, open_left=True)
    return (r_T + 2.0 * r_f) * np.sqrt(math.log(6.0 / delta) / (2.0 * (np.asarray(n) - 1.0)))


def batch_estimates(x: torch.Tensor, y: torch.Tensor, divs: list[divergences.Divergence],
                    coupling: VMFCoupling, block: int = 256) -> np.ndarray:
    """``i_hat_f`` of one batch for each divergence (module docstring: the N(N-1) negative pairs
    (x_i, x_j), i != j, of f-MICL's estimate; the same number as
    ``fmicl_terms(x, y, div, sigma=coupling.sigma, mu=coupling.mu, alpha=1, negatives="one_view")
    .estimate``). Float64 unit rows. Each unordered pair is visited once, ``block`` rows at a time,
    and its logit ``log G = log C + kappa x_i.x_j`` is shared by all divergences."""
    n = x.shape[0]
    log_c, kappa = coupling.log_c, coupling.kappa
    pos = log_c + kappa * (x * y).sum(1).clamp(-1.0, 1.0)
    neg_sum = torch.zeros(len(divs), dtype=torch.float64)
    for a in range(0, n, block):
        b = min(a + block, n)
        rows = x[a:b]
        i, j = torch.triu_indices(b - a, b - a, 1)
        inner = torch.cat([(rows @ x[b:].T).flatten(), (rows[i] * rows[j]).sum(1)])
        logits = log_c + kappa * inner.clamp(-1.0, 1.0)
        for k, div in enumerate(divs):
            neg_sum[k] += div.neg_log(logits).sum()
    negative = neg_sum / (n * (n - 1) / 2)
    return np.array([float(div.pos_log(pos).mean()) for div in divs]) - negative.numpy()


def fit_slope(ns: np.ndarray, errors: np.ndarray, boot: int = 1000, seed: int = 0) -> dict:
    """Least-squares slope of ``log mean|error|`` on ``log N`` (``errors``: (len(ns), reps)), its
    regression standard error and a 95% bootstrap interval (batches resampled within each N)."""
    x = np.log(ns)
    y = np.log(np.abs(errors).mean(1))
    coef, cov = np.polyfit(x, y, 1, cov=True)
    rng = np.random.default_rng(seed)
    reps = errors.shape[1]
    idx = rng.integers(0, reps, size=(boot, len(ns), reps))
    boot_means = np.abs(np.take_along_axis(errors[None], idx, axis=2)).mean(2)
    slopes = np.polyfit(x, np.log(boot_means).T, 1)[0]
    lo, hi = np.quantile(slopes, [0.025, 0.975])
    return {"slope": float(coef[0]), "slope_se": float(math.sqrt(cov[0, 0])),
            "slope_ci95": [float(lo), float(hi)], "intercept": float(coef[1])}


@dataclass
class EstimationErrorStudy:
    """Errors ``i_hat_f - i_f`` (per divergence: (len(ns), reps)) and their summaries."""

    d: int
    kappa: float
    sigma: float
    mu: float
    delta: float
    ns: list[int]
    reps: int
    population: dict[str, PopulationFMI]
    errors: dict[str, np.ndarray] = field(repr=False)
    quantile: dict[str, list[float]]
    bound: dict[str, list[float]]
    slope: dict[str, dict]

    def numbers(self) -> dict:
        """Everything but the raw errors, as plain numbers (for the JSON next to the figure)."""
        return {
            "population": {k: asdict(v) for k, v in self.population.items()},
            "mean_abs_error": {k: np.abs(e).mean(1).tolist() for k, e in self.errors.items()},
            "quantile": self.quantile, "bound": self.bound, "slope": self.slope,
            "bound_over_quantile_min": {k: float(np.min(np.array(self.bound[k]) / np.array(self.quantile[k])))
                                        for k in self.errors},
        }


def estimation_error_study(coupling: VMFCoupling = VMFCoupling(), names: tuple[str, ...] | None = None,
                           ns: tuple[int, ...] = DEFAULT_NS, reps: int = 100, delta: float = DEFAULT_DELTA,
                           seed: int = 0, mc_samples: int = 10**6) -> EstimationErrorStudy:
    """Draw ``reps`` batches of each size in ``ns`` from the coupling, estimate ``i_f`` on each, and
    summarise the error per divergence (``names``: default every divergence of the registry)."""
    names = tuple(names or divergences.names())
    delta = validation.unit_interval("delta", delta, closed_right=False, open_left=True)
    ns = _check_sizes(ns)
    reps = validation.integer("reps", reps, minimum=10)
    validation.integer("seed", seed, minimum=0)
    validation.integer("mc_samples", mc_samples, minimum=2)
    validation.at_least("kappa", coupling.kappa, *KAPPA_RANGE)
    divs = [divergences.get(n) for n in names]
    pop = {n: population_fmi(n, coupling, mc_samples, seed) for n in names}
    truth = np.array([pop[n].quadrature for n in names])
    rng = np.random.default_rng(seed + 1)
    err = np.empty((len(names), len(ns), reps))
    for a, n in enumerate(ns):
        for r in range(reps):
            x, y = coupling.sample(int(n), rng)
            err[:, a, r] = batch_estimates(torch.from_numpy(x), torch.from_numpy(y), divs, coupling) - truth
    ns_arr = np.array(ns)
    errors = {n: err[k] for k, n in enumerate(names)}
    return EstimationErrorStudy(
        d=coupling.d, kappa=coupling.kappa, sigma=coupling.sigma, mu=coupling.mu, delta=delta,
        ns=[int(n) for n in ns], reps=reps, population=pop, errors=errors,
        quantile={n: np.quantile(np.abs(e), 1.0 - delta, axis=1).tolist() for n, e in errors.items()},
        bound={n: concentration_term(pop[n].r_T, pop[n].r_f, ns_arr, delta).tolist() for n in names},
        slope={n: fit_slope(ns_arr, e, seed=seed) for n, e in errors.items()},
    )
