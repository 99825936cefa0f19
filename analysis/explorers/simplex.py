"""Explore f-MICL's Theorem 3 (uniformity; Lu et al. 2023, arXiv:2402.10150, Figure 5): the
minimiser of the negative term over N points of the sphere S^{d-1}, found numerically by
:func:`analysis.simplex.negative_term.minimise_negative_term`, against the theorem's value.

For ``h = f* o f' o G`` strictly convex and ``2 <= N <= d + 1`` the minimiser is the regular simplex:
every pair at squared distance ``2N/(N-1)``, negative term ``h(2N/(N-1))``. The figure shows the
points (on the sphere for d = 3, else their Gram matrix), their sorted pair distances against the
simplex's, and the minimum found against ``h(2N/(N-1))``; it says when the theorem does not apply
(N > d + 1: no simplex exists and ``h(2N/(N-1))`` is only Jensen's lower bound; h not strictly
convex) and when the minimisation did not converge (its points are then not a minimiser).
"""

from __future__ import annotations

import numpy as np
from scipy.spatial.distance import pdist

from analysis.explorers import plots
from analysis.explorers.frontend import Control, explore
from analysis.simplex.negative_term import minimise_negative_term
from fmicl_core import divergences

__all__ = ["CONTROLS", "explore_simplex"]

CONTROLS = (
    Control("n", "N", 2, 10, 1),
    Control("d", "d", 2, 6, 1),
    Control("divergence", "divergence", options=divergences.names()),
)


def _caveats(n: int, d: int, divergence: str, converged: bool) -> list[str]:
    """Why the theorem's value may not be the minimum here."""
    out = [] if converged else ["did not converge: not a minimiser"]
    div = divergences.get(divergence)
    if not div.uniformity_guaranteed:
        out.append(f"h is {div.h_shape}: outside Theorem 3")
    elif n > d + 1:
        out.append("N > d + 1: no simplex; h(2N/(N-1)) is a lower bound")
    return out


def _draw(fig, n: int, d: int, divergence: str) -> None:
    result = minimise_negative_term(divergence, n, d)
    title = f"{divergences.get(divergence).title}: N = {n} points on S^{d - 1} (f-MICL Theorem 3)"
    plots.draw_simplex(fig, result, np.sort(pdist(result.points, "sqeuclidean")),
                       _caveats(n, d, divergence, result.converged), title)


def explore_simplex(n: int = 4, d: int = 3, divergence: str = "kl", interactive: bool | None = None):
    """The simplex explorer (module docstring): widgets for N, d and the divergence around the figure,
    or the figure at these values when no front end shows widgets (``interactive``:
    :func:`analysis.explorers.frontend.use_widgets`)."""
    return explore(_draw, CONTROLS, dict(n=n, d=d, divergence=divergence), interactive, figsize=(13.0, 4.2))
