"""Explore the objectives of f-MICL (Lu et al. 2023, arXiv:2402.10150): how the divergence, the
kernel width sigma, the weight alpha, the scale mu and the similarity shape the per-pair terms.

For a pair at squared distance ``d = ||x - y||^2`` in [0, 4] (cosine ``1 - d/2``) the similarity
gives a logit (``log G = log mu - c d`` with ``c = 1/(2 sigma^2)`` for the f-Gaussian, ``cos/tau``
for the cosine similarity, here with ``tau = sigma^2``, the same kernel up to a constant), and the
divergence turns it into the positive score ``A(d)`` and the negative penalty ``h(d) = B(d)``
(Table 1, :mod:`fmicl_core.similarity`). The figure shows

1. ``A`` and ``h``, with the KL terms dashed: KL with the f-Gaussian is ``c`` times the alignment
   plus alpha times the un-logged uniformity of Wang & Isola; its Donsker-Varadhan shift is their
   alignment-uniformity loss, which InfoNCE bounds from above (f-MICL Figure 3);
2. ``h''``: Theorem 3 (uniformity) needs ``h`` strictly convex on [0, 4];
3. the importance of a negative pair, ``alpha_ij = -dL/d(d_ij/2)`` of Tian 2022 (arXiv:2201.12680,
   Theorem 1), by autograd through the package's terms; for the f-Gaussian it is
   ``2 alpha c G^2 f''(G)`` (:mod:`analysis.coordinate.pair_weights`).
"""

from __future__ import annotations

import numpy as np
import torch

from analysis.coordinate.pair_weights import autograd_weights
from analysis.explorers import plots
from analysis.explorers.frontend import Control, explore
from fmicl_core import divergences
from fmicl_core.objective_config import DEFAULTS, SIMILARITIES
from fmicl_core.similarity import Similarity, get as get_similarity

__all__ = ["CONTROLS", "POINTS", "explore_objectives", "objective_curves", "strictly_convex"]

CONTROLS = (
    Control("divergence", "divergence", options=divergences.names()),
    Control("sigma", "σ", 0.1, 10.0, 0.02, log=True),
    Control("alpha", "α", 0.01, 1000.0, 0.05, log=True),
    Control("mu", "μ", 0.01, 100.0, 0.05, log=True),
    Control("similarity", "similarity", options=SIMILARITIES),
)
POINTS = 201
"""Grid points over d in [0, 4]."""
SPECIAL_CASE = "kl"
"""The divergence of InfoNCE and alignment-uniformity (f-MICL Figure 3), drawn dashed."""


def _terms(name: str, sim: Similarity, d: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``A(d)`` and ``B(d)`` of the divergence ``name`` under ``sim`` (logit ``slope (1 - d/2) + shift``)."""
    div = divergences.get(name)
    slope, shift = sim.gram_affine
    logits = slope * (1.0 - d / 2.0) + shift
    return sim.positive_term(div)(logits), sim.negative_term(div)(logits)


def objective_curves(divergence: str = "kl", sigma: float = DEFAULTS.sigma, alpha: float = DEFAULTS.alpha,
                     mu: float = DEFAULTS.mu, similarity: str = "gaussian") -> dict[str, np.ndarray]:
    """Over ``d`` (``POINTS`` points of [0, 4], float64): ``A``, ``B`` (= h), ``h2`` (= h''), the
    pair weight ``weight`` and the KL terms ``A_kl``, ``B_kl`` (module docstring)."""
    values = {c.name: c.check(v) for c, v in zip(CONTROLS, (divergence, sigma, alpha, mu, similarity))}
    name = values["divergence"]
    sim = get_similarity(values["similarity"], sigma=values["sigma"], mu=values["mu"],
                         temperature=values["sigma"] ** 2)
    d = torch.linspace(0.0, 4.0, POINTS, dtype=torch.float64)
    a, b = _terms(name, sim, d)
    h2 = torch.func.vmap(torch.func.grad(torch.func.grad(lambda x: _terms(name, sim, x)[1])))(d)

    def loss(d2_pos: torch.Tensor, d2_neg: torch.Tensor) -> torch.Tensor:
        """The objective summed over pairs, in Tian's half squared distances ``d/2``."""
        return -_terms(name, sim, 2.0 * d2_pos)[0].sum() + values["alpha"] * _terms(name, sim, 2.0 * d2_neg)[1].sum()

    weight = autograd_weights(loss, d[:1] / 2.0, d[None, :] / 2.0).alpha[0]
    a_kl, b_kl = _terms(SPECIAL_CASE, sim, d)
    return {key: t.detach().numpy() for key, t in
            dict(d=d, A=a, B=b, h2=h2, weight=weight, A_kl=a_kl, B_kl=b_kl).items()}


def strictly_convex(h2: np.ndarray) -> bool:
    """Whether ``h`` is strictly convex on [0, 4], from ``h''`` on the grid: positive inside (0, 4)."""
    return bool(h2[1:-1].min() > 0)


def _draw(fig, divergence: str, sigma: float, alpha: float, mu: float, similarity: str) -> None:
    curves = objective_curves(divergence, sigma, alpha, mu, similarity)
    kernel = f"c = 1/(2σ²) = {1 / (2 * sigma**2):.3g}, μ = {mu:.3g}" if similarity == "gaussian" \
        else f"τ = σ² = {sigma**2:.3g}"
    title = f"{divergences.get(divergence).title}, {similarity} similarity: {kernel}, α = {alpha:.3g}"
    plots.draw_objectives(fig, curves, strictly_convex(curves["h2"]), divergence != SPECIAL_CASE, title)


def explore_objectives(divergence: str = "kl", sigma: float = DEFAULTS.sigma, alpha: float = DEFAULTS.alpha,
                       mu: float = DEFAULTS.mu, similarity: str = "gaussian", interactive: bool | None = None):
    """The objectives explorer (module docstring): widgets for the divergence, sigma, alpha, mu and
    the similarity around the figure, or the figure at these values when no front end shows widgets
    (``interactive``: :func:`analysis.explorers.frontend.use_widgets`)."""
    values = dict(divergence=divergence, sigma=sigma, alpha=alpha, mu=mu, similarity=similarity)
    return explore(_draw, CONTROLS, values, interactive, figsize=(14.0, 4.0))
