"""Every training objective by name, with one calling convention for the trainer and the notebooks.

``make(name, **hyper)`` returns an :class:`Objective`: ``objective(z1, z2, queue=None) -> loss``.
Names: every f-MICL divergence (``kl``, ``js``, ``pearson``, ``sh``, ``tsallis``, ``vlc``, ``rkl``,
``neyman``), and the baselines ``infonce`` (NT-Xent / MoCo), ``au`` (Wang & Isola alignment +
uniformity), ``spectral`` (HaoChen et al.) and ``dv_kl`` (KL f-MICL with the DV shift).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import torch.nn.functional as F
from torch import Tensor

from fmicl_core import alpha_cl, divergences, losses

__all__ = ["Objective", "make", "names"]

LossFn = Callable[..., Tensor]


@dataclass(frozen=True)
class Objective:
    """A named loss ``fn(z1, z2, queue=None)``; ``supports_queue`` says whether MoCo can use it."""

    name: str
    fn: LossFn
    supports_queue: bool
    hyper: dict = field(default_factory=dict)

    def __call__(self, z1: Tensor, z2: Tensor, queue: Tensor | None = None) -> Tensor:
        if queue is not None and not self.supports_queue:
            raise ValueError(f"objective {self.name!r} has no queue (MoCo) form")
        return self.fn(z1, z2, queue) if self.supports_queue else self.fn(z1, z2)


def _fmicl(name: str, similarity: str = "gaussian", sigma: float = losses.DEFAULT_SIGMA,
           alpha: float = 40.0, mu: float = 1.0, temperature: float = 0.5, beta: float = 2.0,
           negatives: str = "two_view", gather_all: bool = False, **_: object) -> Objective:
    div = divergences.get(name, beta=beta) if name == "tsallis" else divergences.get(name)
    loss = losses.FMICLLoss(div, similarity, sigma, alpha, mu, negatives, temperature, gather_all)
    return Objective(name, loss, True, dict(similarity=similarity, sigma=sigma, alpha=alpha, mu=mu))


def _infonce(temperature: float = 0.5, gather_all: bool = False, **_: object) -> Objective:
    def fn(z1: Tensor, z2: Tensor, queue: Tensor | None = None) -> Tensor:
        return losses.infonce_loss(z1, z2, temperature, queue=queue, gather_all=gather_all)

    return Objective("infonce", fn, True, dict(temperature=temperature))


def _au(uniformity_t: float = 2.0, **_: object) -> Objective:
    def fn(z1: Tensor, z2: Tensor) -> Tensor:
        losses.check_embeddings(z1, z2)
        x, y = F.normalize(z1.float(), dim=1), F.normalize(z2.float(), dim=1)
        uniform = (losses.uniform_loss(x, uniformity_t) + losses.uniform_loss(y, uniformity_t)) / 2
        return losses.align_loss(x, y) + uniform

    return Objective("au", fn, False, dict(uniformity_t=uniformity_t))


def _spectral(**_: object) -> Objective:
    return Objective("spectral", losses.spectral_loss, False)


def _dv_kl(sigma: float = losses.DEFAULT_SIGMA, mu: float = 1.0, gather_all: bool = False,
           **_: object) -> Objective:
    def fn(z1: Tensor, z2: Tensor) -> Tensor:
        return losses.dv_kl_loss(z1, z2, sigma, mu, gather_all=gather_all)

    return Objective("dv_kl", fn, False, dict(sigma=sigma, mu=mu))


def _alpha_cl(kind: str) -> Callable[..., Objective]:
    """Tian's dual2 alpha-CL loss with ``kind`` weights (temperature, alpha_exponent, alpha_eps)."""
    def build(**hyper: object) -> Objective:
        fn, used = alpha_cl.loss_fn(kind, **hyper)
        return Objective(f"acl_{kind}", fn, False, used)

    return build


BASELINES: dict[str, Callable[..., Objective]] = {
    "infonce": _infonce,
    "au": _au,
    "spectral": _spectral,
    "dv_kl": _dv_kl,
    "acl_exp": _alpha_cl("exp"),
    "acl_quadratic": _alpha_cl("quadratic"),
    "acl_inverse": _alpha_cl("inverse"),
}


def names() -> tuple[str, ...]:
    """Every objective name: the f-MICL divergences, then the baselines."""
    return divergences.names() + tuple(BASELINES)


def make(name: str, **hyper: object) -> Objective:
    """The objective ``name`` with its hyper-parameters (unused ones are ignored, so one flag set
    serves every objective): similarity, sigma, alpha, mu, temperature, beta, negatives, gather_all."""
    if name in divergences.names():
        return _fmicl(name, **hyper)
    if name in BASELINES:
        return BASELINES[name](**hyper)
    raise ValueError(f"unknown objective {name!r}; allowed: {', '.join(names())}")

