"""Pairwise importance weights alpha_ij of contrastive losses (Tian 2022, arXiv:2201.12680,
Theorem 1), for Tian's loss family L_{phi,psi} and for every f-MICL divergence.

Every loss here is written as a function of Tian's half squared distances of M anchors,
``d2_pos`` (M,) to their positives and ``d2_neg`` (M, K) to their negatives
(``d2 = ||z - z'||^2 / 2``, which is ``1 - cos`` for unit vectors). Its gradient is

    dL/dtheta = - sum_ij alpha_ij d(d2_ij)/dtheta + sum_i beta_i d(d2_i)/dtheta,

so ``alpha_ij = -dL/d(d2_ij)`` is the importance of negative pair (i, j) and ``beta_i = dL/d(d2_i)``
that of the positive. For the family L_{phi,psi} = sum_i phi(sum_j psi(d2_i - d2_ij)) the chain rule
gives ``alpha_ij = phi'(sum_k psi(d2_i - d2_ik)) psi'(d2_i - d2_ij)`` and ``beta_i = sum_j alpha_ij``.

f-MICL (Lu et al. 2023, arXiv:2402.10150): with ``d = ||z - z'||^2 = 2 d2``, ``G = mu exp(-c d)``
and ``L = -mean_pos A(d) + a * mean_neg B(d)`` (``a`` the weighting parameter alpha of its
Proposition 3), the per-pair derivatives are
``B'(d) = -c G^2 f''(G)`` (because ``(f*)'(f'(u)) = u``) and ``A'(d) = -c G f''(G)``, hence

    alpha_ij = 2 a c G_ij^2 f''(G_ij) / (M K),      beta_i = 2 c G_i f''(G_i) / M.

The importance profile ``G^2 f''(G)`` of each divergence (table ``IMPORTANCE``): KL ``G`` (the Gibbs
weights of InfoNCE / the entropy-regularised min player, with ``tau = 1/(2c)``), JS ``G/(1+G)``,
Pearson ``2 G^2``, squared Hellinger ``G^(1/2)/2``, Tsallis ``beta G^beta``, VLC ``8 G^2/(1+G)^3``,
RKL ``1`` (uniform alpha: no hard-negative weighting) and Neyman ``2/G`` (more weight on *far*
negatives). Unlike the family, f-MICL decouples the positive weight from the row sums of alpha.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch
from torch import Tensor

from fmicl_core import divergences, validation
from fmicl_core.objective_config import DEFAULTS

__all__ = ["FAMILY", "IMPORTANCE", "IMPORTANCE_TEXT", "PairWeights", "autograd_weights", "family_loss",
           "family_weights", "fmicl_distance_loss", "fmicl_weights", "infonce_softmax_weights"]

Fn = Callable[[Tensor], Tensor]


@dataclass(frozen=True)
class PhiPsi:
    """One row of Tian's table: ``phi``, ``psi`` and their derivatives (monotone increasing)."""

    phi: Fn
    dphi: Fn
    psi: Fn
    dpsi: Fn


def _family(tau: float, eps: float, c: float) -> dict[str, PhiPsi]:
    exp, relu, sig = torch.exp, torch.relu, torch.sigmoid
    log_pos = lambda x: torch.log(x).clamp(min=0.0)  # noqa: E731  [log x]_+
    return {
        "infonce": PhiPsi(lambda x: tau * torch.log(eps + x), lambda x: tau / (eps + x),
                          lambda x: exp(x / tau), lambda x: exp(x / tau) / tau),
        "mine": PhiPsi(torch.log, lambda x: 1.0 / x, exp, exp),
        "triplet": PhiPsi(lambda x: x, torch.ones_like, lambda x: relu(x + eps),
                          lambda x: (x + eps > 0).to(x.dtype)),
        "soft_triplet": PhiPsi(lambda x: tau * torch.log1p(x), lambda x: tau / (1.0 + x),
                               lambda x: exp(x / tau + eps), lambda x: exp(x / tau + eps) / tau),
        "n_pair": PhiPsi(torch.log1p, lambda x: 1.0 / (1.0 + x), exp, exp),
        "lifted": PhiPsi(lambda x: log_pos(x) ** 2, lambda x: 2.0 * log_pos(x) / x,
                         lambda x: exp(x + eps), lambda x: exp(x + eps)),
        "modified_triplet": PhiPsi(lambda x: x, torch.ones_like, lambda x: sig(c * x),
                                   lambda x: c * sig(c * x) * sig(-c * x)),
        "triplet_contrastive": PhiPsi(lambda x: x, torch.ones_like, lambda x: x, torch.ones_like),
    }


FAMILY = tuple(_family(1.0, 1.0, 1.0))


def _get_family(name: str, tau: float, eps: float, c: float) -> PhiPsi:
    validation.choice("loss", name, FAMILY)
    return _family(validation.positive("tau", tau), eps, validation.positive("c", c))[name]


def _check_distances(d2_pos: Tensor, d2_neg: Tensor) -> None:
    if d2_neg.dim() != 2 or d2_pos.shape != d2_neg.shape[:1]:
        raise ValueError(f"d2_pos {tuple(d2_pos.shape)} and d2_neg {tuple(d2_neg.shape)} must be "
                         "(M,) and (M, K)")
    if not (torch.isfinite(d2_pos).all() and torch.isfinite(d2_neg).all()):
        raise ValueError("distances contain NaN or inf; they must be finite")


def family_loss(name: str, d2_pos: Tensor, d2_neg: Tensor, tau: float = DEFAULTS.temperature,
                eps: float = 1.0, c: float = DEFAULTS.c) -> Tensor:
    """``L_{phi,psi} = sum_i phi(sum_j psi(d2_i - d2_ij))`` (Tian's loss family) for the loss
    ``name``; ``eps`` is Tian's epsilon (1: the InfoNCE row is SimCLR's loss), ``c`` the slope of
    the modified triplet's sigmoid."""
    _check_distances(d2_pos, d2_neg)
    pp = _get_family(name, tau, eps, c)
    return pp.phi(pp.psi(d2_pos[:, None] - d2_neg).sum(1)).sum()


@dataclass(frozen=True)
class PairWeights:
    """``alpha`` (M, K) = -dL/d(d2_neg) and ``beta`` (M,) = dL/d(d2_pos) of one loss."""

    alpha: Tensor
    beta: Tensor

    @property
    def simplex(self) -> Tensor:
        """The alpha-CL normalisation: each anchor's weights rescaled onto the simplex (Tian's min
        player chooses alpha on the per-anchor simplex)."""
        return self.alpha / self.alpha.sum(1, keepdim=True)

    @property
    def balance(self) -> Tensor:
        """Per anchor, negative mass over positive weight: 1 for the family (beta = row sum)."""
        return self.alpha.sum(1) / self.beta


def family_weights(name: str, d2_pos: Tensor, d2_neg: Tensor, tau: float = DEFAULTS.temperature,
                   eps: float = 1.0, c: float = DEFAULTS.c) -> PairWeights:
    """Closed form ``alpha_ij = phi'(sum_k psi(d2_i - d2_ik)) psi'(d2_i - d2_ij)`` (Theorem 1)."""
    _check_distances(d2_pos, d2_neg)
    pp = _get_family(name, tau, eps, c)
    x = d2_pos[:, None] - d2_neg
    alpha = pp.dphi(pp.psi(x).sum(1, keepdim=True)) * pp.dpsi(x)
    return PairWeights(alpha, alpha.sum(1))


def infonce_softmax_weights(d2_pos: Tensor, d2_neg: Tensor, tau: float = DEFAULTS.temperature,
                            eps: float = 1.0) -> Tensor:
    """InfoNCE's ``alpha_ij = e^{-d2_ij/tau} / (eps e^{-d2_i/tau} + sum_k e^{-d2_ik/tau})`` (Theorem 1
    for the InfoNCE row), computed as a softmax (stable for any tau)."""
    _check_distances(d2_pos, d2_neg)
    logits = torch.cat([math.log(eps) - d2_pos[:, None] / tau, -d2_neg / tau], 1) if eps > 0 \
        else -d2_neg / tau
    return torch.softmax(logits, 1)[:, -d2_neg.shape[1]:]


IMPORTANCE: dict[str, Callable[..., Fn]] = {
    "kl": lambda: (lambda g: g),
    "js": lambda: (lambda g: g / (1.0 + g)),
    "pearson": lambda: (lambda g: 2.0 * g**2),
    "sh": lambda: (lambda g: 0.5 * g.sqrt()),
    "tsallis": lambda beta=DEFAULTS.beta: (lambda g: beta * g**beta),
    "vlc": lambda: (lambda g: 8.0 * g**2 / (1.0 + g) ** 3),
    "rkl": lambda: torch.ones_like,
    "neyman": lambda: (lambda g: 2.0 / g),
}
"""``G^2 f''(G)`` in closed form for every divergence of :mod:`fmicl_core.divergences`."""

IMPORTANCE_TEXT = {"kl": "G", "js": "G/(1+G)", "pearson": "2 G^2", "sh": "G^(1/2)/2",
                   "tsallis": "beta G^beta", "vlc": "8 G^2/(1+G)^3", "rkl": "1", "neyman": "2/G"}


def _importance(divergence: str, beta: float) -> Fn:
    validation.choice("divergence", divergence, IMPORTANCE)
    return IMPORTANCE[divergence](beta) if divergence == "tsallis" else IMPORTANCE[divergence]()


def fmicl_distance_loss(divergence: str, d2_pos: Tensor, d2_neg: Tensor, c: float = DEFAULTS.c,
                        mu: float = DEFAULTS.mu, alpha: float = DEFAULTS.alpha,
                        beta: float = DEFAULTS.beta) -> Tensor:
    """f-MICL ``-mean A(2 d2_pos) + alpha * mean B(2 d2_neg)`` with the registry's A and B (Gaussian
    similarity, ``c = 1/(2 sigma^2)``); equals :func:`fmicl_core.losses.fmicl_loss` on the
    two-view distances (a test checks it)."""
    _check_distances(d2_pos, d2_neg)
    div = divergences.get(divergence, beta=beta) if divergence == "tsallis" else divergences.get(divergence)
    return -div.A(2.0 * d2_pos, c, mu).mean() + alpha * div.B(2.0 * d2_neg, c, mu).mean()


def fmicl_weights(divergence: str, d2_pos: Tensor, d2_neg: Tensor, c: float = DEFAULTS.c,
                  mu: float = DEFAULTS.mu, alpha: float = DEFAULTS.alpha,
                  beta: float = DEFAULTS.beta) -> PairWeights:
    """Closed-form f-MICL importance weights (module docstring): ``alpha_ij = 2 a c G^2 f''(G)/(MK)``,
    ``beta_i = 2 c G f''(G) / M`` with ``G = mu exp(-2 c d2)``."""
    _check_distances(d2_pos, d2_neg)
    h = _importance(divergence, beta)
    m, k = d2_neg.shape
    g_neg = mu * torch.exp(-2.0 * c * d2_neg)
    g_pos = mu * torch.exp(-2.0 * c * d2_pos)
    return PairWeights(2.0 * alpha * c * h(g_neg) / (m * k), 2.0 * c * h(g_pos) / g_pos / m)


def autograd_weights(loss: Callable[[Tensor, Tensor], Tensor], d2_pos: Tensor,
                     d2_neg: Tensor) -> PairWeights:
    """``alpha = -dL/d(d2_neg)`` and ``beta = dL/d(d2_pos)`` by ``torch.autograd`` (the check)."""
    p = d2_pos.detach().clone().requires_grad_(True)
    n = d2_neg.detach().clone().requires_grad_(True)
    gp, gn = torch.autograd.grad(loss(p, n), (p, n))
    return PairWeights(-gn, gp)
