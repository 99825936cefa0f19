"""Similarities of f-MICL: the f-Gaussian similarity and cosine similarity with temperature.

Both turn L2-normalised embeddings into *logits*, an affine function (``gram_affine``) of the inner
product (``log G`` for the f-Gaussian, ``x.y / tau`` for cosine), and the logits into the two per-pair
terms of the objective (:class:`~fmicl_core.divergences.Term`): the score ``s(x, y)`` of positive
pairs and the penalty ``f*(s(x, y))`` of negative pairs (Lu et al. 2023, f-MICL,
arXiv:2402.10150: the f-Gaussian similarity it derives under its Gaussian-kernel assumption, and
the cosine similarity of InfoNCE).

- f-Gaussian: ``s_f = f'(G)`` with ``G = mu exp(-d / (2 sigma^2))`` and ``d = ||x - y||^2 = 2 - 2 g``.
- cosine: ``s = g_f(g / tau)`` where ``g_f`` is the f-GAN output activation of the divergence.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from torch import Tensor

from fmicl_core import validation
from fmicl_core.divergences import Divergence, Term
from fmicl_core.objective_config import DEFAULTS, SIMILARITIES, hyper

__all__ = ["Cosine", "FGaussian", "Similarity", "get", "names", "squared_distance"]


def squared_distance(g: Tensor) -> Tensor:
    """``||x - y||^2 = 2 - 2 x.y`` for unit vectors, clamped to [0, 4] against rounding."""
    return (2.0 - 2.0 * g).clamp(0.0, 4.0)


@dataclass(frozen=True)
class FGaussian:
    """f-Gaussian similarity ``s_f = f'(G)``, ``G = mu exp(-||x - y||^2 / (2 sigma^2))`` (f-MICL's
    f-Gaussian similarity, the optimal similarity under its Gaussian-kernel assumption)."""

    sigma: float = DEFAULTS.sigma
    mu: float = DEFAULTS.mu

    def __post_init__(self) -> None:
        object.__setattr__(self, "sigma", hyper("sigma", self.sigma))
        object.__setattr__(self, "mu", hyper("mu", self.mu))

    @property
    def c(self) -> float:
        """The kernel's precision ``c = 1 / (2 sigma^2)`` (1 for the paper's vision runs)."""
        return 1.0 / (2.0 * self.sigma**2)

    @property
    def gram_affine(self) -> tuple[float, float]:
        """``(2c, log mu - 2c)``: ``log G(||a - b||^2) = log mu - 2c + 2c a.b`` for unit vectors."""
        return 2.0 * self.c, math.log(self.mu) - 2.0 * self.c

    def paired_logits(self, a: Tensor, b: Tensor) -> Tensor:
        """``log G(||a_i - b_i||^2)`` for the row-wise pairs, with the distance clamped to [0, 4]."""
        return math.log(self.mu) - self.c * squared_distance((a * b).sum(1))

    def positive_term(self, div: Divergence) -> Term:
        """``A = f'(G)`` of positive pairs, as a term of the logits."""
        return div.pos_log

    def negative_term(self, div: Divergence) -> Term:
        """``B = f*(f'(G))`` of negative pairs, as a term of the logits."""
        return div.neg_log


@dataclass(frozen=True)
class Cosine:
    """Cosine similarity with temperature, ``s = g_f(x.y / tau)`` (f-GAN output activation)."""

    temperature: float = DEFAULTS.temperature

    def __post_init__(self) -> None:
        object.__setattr__(self, "temperature", hyper("temperature", self.temperature))

    @property
    def gram_affine(self) -> tuple[float, float]:
        """``(1/tau, 0)``: the logit of a pair is ``a.b / tau``."""
        return 1.0 / self.temperature, 0.0

    def positive_term(self, div: Divergence) -> Term:
        """``g_f(v)`` of positive pairs, as a term of the logits."""
        return div.activation

    def negative_term(self, div: Divergence) -> Term:
        """``f*(g_f(v))`` of negative pairs, as a term of the logits."""
        return div.conj_activation


Similarity = FGaussian | Cosine


def names() -> tuple[str, ...]:
    """Names accepted by :func:`get`."""
    return SIMILARITIES


def get(name: str, sigma: float = DEFAULTS.sigma, mu: float = DEFAULTS.mu,
        temperature: float = DEFAULTS.temperature) -> Similarity:
    """The similarity ``name`` ("gaussian" uses sigma and mu, "cosine" uses temperature); every
    value is checked against its range (:data:`fmicl_core.objective_config.RANGES`), used or not."""
    validation.choice("similarity", name, SIMILARITIES)
    gaussian = FGaussian(sigma=sigma, mu=mu)
    cosine = Cosine(temperature=temperature)
    return gaussian if name == "gaussian" else cosine
