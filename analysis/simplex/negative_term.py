"""The negative term of f-MICL and its minimisers over N points of the sphere: Theorem 3 of
f-MICL (Lu et al. 2023, arXiv:2402.10150) and its Figure 5.

The negative term of N L2-normalised features is ``1/(N(N-1)) sum_{i != j} h(||x_i - x_j||^2)``
with ``h = f* o f' o G`` (the closed form ``B`` of :mod:`fmicl_core.divergences`). By Jensen's
inequality it is at least ``h(2N/(N-1))`` for a convex h, the value at the regular simplex, which
exists only for ``N <= d + 1``; Theorem 3 says that for a strictly convex h the simplex is then the
only minimiser. Outside the theorem: for RKL h is linear, so the term equals
``log mu - 1 - c 2N/(N-1) (1 - ||mean x||^2)`` and every centred configuration is a minimiser; for
Neyman h is concave, and the minimisers split into antipodal clusters instead.

The minimiser is numerical (L-BFGS), and a minimisation that stalls is not a minimiser: a result is
``converged`` only when the final gradient norm is at most :data:`GRAD_TOL` times the starting one
(capped at 1). With ``mu = 1`` the strictly convex divergences reach the simplex for ``c`` from
about 0.1 to 2 at the command's default sizes; far outside (e.g. ``c = 10``, where ``h`` decays like
``exp(-10 d)``, or ``c = 300``, where it underflows) the optimiser stalls or cannot move, and the
results say so.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from analysis.simplex.diagnostics import BatchDiagnostics, as_features, diagnose
from fmicl_core import divergences, validation
from fmicl_core.objective_config import DEFAULTS

__all__ = ["GRAD_TOL", "NegativeTermMinimum", "minimise_grid", "minimise_negative_term", "negative_term", "summary"]

GRAD_TOL = 1e-6
"""A minimisation has ``converged`` when its final gradient norm is at most this times its
starting gradient norm (capped at 1): far below every stalled run measured, above every
minimisation that reached the simplex."""


def _sq_distances(x: Tensor) -> Tensor:
    """``||x_i - x_j||^2`` for i < j, from differences (exact, with gradients at 0)."""
    i, j = torch.triu_indices(x.shape[0], x.shape[0], 1)
    return (x[i] - x[j]).pow(2).sum(1)


def negative_term(z: np.ndarray | Tensor, divergence: str | divergences.Divergence,
                  c: float = DEFAULTS.c, mu: float = DEFAULTS.mu) -> float:
    """The negative term (module docstring) of L2-normalised features ``z``."""
    x = F.normalize(as_features(z), dim=1)
    return float(divergences.get(divergence).B(_sq_distances(x), validation.positive("c", c),
                                              validation.positive("mu", mu)).mean())


@dataclass(frozen=True)
class NegativeTermMinimum:
    """Result of :func:`minimise_negative_term`: the points, the negative term there, the simplex's
    value ``h(2N/(N-1))`` (Jensen's lower bound for convex h, attained only when N <= d + 1), the
    diagnostics, the fraction of pairs that are antipodal (``||x_i - x_j||^2 > 3.99``), the
    optimiser's starting and final gradient norms and whether it converged (module docstring; the
    points of a run that did not converge are not a minimiser)."""

    divergence: str
    points: np.ndarray
    value: float
    simplex_value: float
    diagnostics: BatchDiagnostics
    antipodal_fraction: float
    grad_norm: float
    start_grad_norm: float
    iterations: int

    @property
    def converged(self) -> bool:
        """The final gradient norm is at most :data:`GRAD_TOL` times the starting one (capped at 1)."""
        return self.grad_norm <= GRAD_TOL * min(1.0, self.start_grad_norm)


def minimise_negative_term(divergence: str | divergences.Divergence, n: int, d: int,
                           c: float = DEFAULTS.c, mu: float = DEFAULTS.mu, seed: int = 0,
                           max_iter: int = 5000, init: np.ndarray | None = None) -> NegativeTermMinimum:
    """Minimise the negative term over ``n`` points of ``S^{d-1}`` (Theorem 3's problem).

    The points are ``v_i / ||v_i||`` for free vectors ``v_i`` (random Gaussian start from ``seed``,
    or ``init``); float64 L-BFGS with a strong-Wolfe line search runs until the gradient vanishes
    (1e-12) or ``max_iter`` iterations. A penalty ``(||v_i||^2 - 1)^2`` fixes the free radial scale
    without moving the minimiser on the sphere.
    """
    div = divergences.get(divergence)
    n, d = validation.integer("n", n, minimum=2), validation.integer("d", d, minimum=2)
    c, mu = validation.positive("c", c), validation.positive("mu", mu)
    max_iter = validation.integer("max_iter", max_iter)
    gen = torch.Generator().manual_seed(validation.integer("seed", seed, minimum=0))
    start = torch.randn(n, d, generator=gen, dtype=torch.float64) if init is None \
        else as_features(init, "init").clone()
    if start.shape != (n, d):
        raise ValueError(f"init has shape {tuple(start.shape)}; expected ({n}, {d})")
    v = F.normalize(start, dim=1).requires_grad_(True)
    opt = torch.optim.LBFGS([v], lr=1.0, max_iter=max_iter, tolerance_grad=1e-12,
                            tolerance_change=1e-16, history_size=50, line_search_fn="strong_wolfe")

    def closure() -> Tensor:
        opt.zero_grad()
        x = F.normalize(v, dim=1)
        loss = div.B(_sq_distances(x), c, mu).mean() + (v.pow(2).sum(1) - 1.0).pow(2).sum()
        loss.backward()
        return loss

    closure()
    start_grad_norm = float(v.grad.norm())
    opt.step(closure)
    closure()
    x = F.normalize(v.detach(), dim=1)
    sq = _sq_distances(x)
    simplex_sq = torch.tensor(2.0 * n / (n - 1), dtype=torch.float64)
    return NegativeTermMinimum(
        divergence=div.name,
        points=x.numpy(),
        value=float(div.B(sq, c, mu).mean()),
        simplex_value=float(div.B(simplex_sq, c, mu)),
        diagnostics=diagnose(x),
        antipodal_fraction=float((sq > 3.99).double().mean()),
        grad_norm=float(v.grad.norm()),
        start_grad_norm=start_grad_norm,
        iterations=int(opt.state[v]["n_iter"]),
    )


def minimise_grid(names: tuple[str, ...], sizes: list[tuple[int, int]], c: float = DEFAULTS.c,
                  mu: float = DEFAULTS.mu, seed: int = 0,
                  max_iter: int = 5000) -> dict[tuple[str, int, int], NegativeTermMinimum]:
    """:func:`minimise_negative_term` for every divergence of ``names`` and every ``(N, d)`` of
    ``sizes``, keyed ``(name, N, d)``; every name and size is checked before the first minimisation."""
    for name in names:
        divergences.get(name)
    for n, d in sizes:
        validation.integer("n", n, minimum=2), validation.integer("d", d, minimum=2)
    return {(name, n, d): minimise_negative_term(name, n, d, c, mu, seed, max_iter)
            for name in names for n, d in sizes}


def summary(results: dict[tuple[str, int, int], NegativeTermMinimum]) -> dict:
    """Plain numbers of :func:`minimise_grid`'s results, keyed ``"<name>_N<N>_d<d>"``; ``gap`` is
    the value minus the simplex's value."""
    return {f"{name}_N{n}_d{d}": {
        "value": r.value, "simplex_value": r.simplex_value, "gap": r.value - r.simplex_value,
        "centroid_norm": r.diagnostics.centroid_norm, "gram_max": r.diagnostics.gram_max,
        "sq_distance_rms": r.diagnostics.sq_distance_rms, "antipodal_fraction": r.antipodal_fraction,
        "grad_norm": r.grad_norm, "converged": r.converged, "is_simplex": r.diagnostics.is_simplex}
        for (name, n, d), r in results.items()}
