"""Every training objective by name, with one calling convention for the trainer and the notebooks.

``make(config)`` (or ``make(name, **hyper)``) returns an :class:`Objective`:
``objective(z1, z2, queue=None) -> loss``, built from one :class:`ObjectiveConfig`. Names: every
f-MICL divergence (``kl``, ``js``, ``pearson``, ``sh``, ``tsallis``, ``vlc``, ``rkl``, ``neyman``),
and the baselines ``infonce`` (NT-Xent / MoCo), ``au`` (Wang & Isola 2020 alignment + uniformity),
``spectral`` (HaoChen et al. 2021), ``dv_kl`` (KL f-MICL with the Donsker-Varadhan shift) and the
alpha-CL losses of Tian 2022 (``acl_exp``, ``acl_quadratic``, ``acl_inverse``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from torch import Tensor

from fmicl_core import alpha_cl, divergences, losses
from fmicl_core.objective_config import ObjectiveConfig, checked, flag, names, supports_queue

__all__ = ["Objective", "make", "names"]

LossFn = Callable[..., Tensor]


@dataclass(frozen=True)
class Objective:
    """A named loss ``fn(z1, z2[, queue])`` built from ``config``; ``supports_queue`` says whether
    MoCo can use it. ``fmicl`` is the :class:`~fmicl_core.losses.FMICLLoss` of an f-MICL objective
    (whose terms include the f-MI estimate), None for a baseline."""

    config: ObjectiveConfig
    fn: LossFn
    fmicl: losses.FMICLLoss | None = None

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def supports_queue(self) -> bool:
        return supports_queue(self.name)

    def __call__(self, z1: Tensor, z2: Tensor, queue: Tensor | None = None) -> Tensor:
        if queue is None:
            return self.fn(z1, z2)
        if not self.supports_queue:
            raise ValueError(f"objective {self.name!r} has no queue (MoCo) form")
        return self.fn(z1, z2, queue)


def _infonce(config: ObjectiveConfig, gather_all: bool) -> LossFn:
    def fn(z1: Tensor, z2: Tensor, queue: Tensor | None = None) -> Tensor:
        return losses.infonce_loss(z1, z2, config.temperature, queue=queue, gather_all=gather_all)

    return fn


def _au(config: ObjectiveConfig, gather_all: bool) -> LossFn:
    def fn(z1: Tensor, z2: Tensor) -> Tensor:
        return losses.au_loss(z1, z2, config.uniformity_t)

    return fn


def _spectral(config: ObjectiveConfig, gather_all: bool) -> LossFn:
    return losses.spectral_loss


def _dv_kl(config: ObjectiveConfig, gather_all: bool) -> LossFn:
    def fn(z1: Tensor, z2: Tensor) -> Tensor:
        return losses.dv_kl_loss(z1, z2, config.sigma, config.mu, config.loss_negatives, gather_all)

    return fn


def _alpha_cl(kind: str) -> Callable[[ObjectiveConfig, bool], LossFn]:
    """Tian's dual2 alpha-CL loss with ``kind`` weights (temperature, alpha_exponent, alpha_eps)."""
    def build(config: ObjectiveConfig, gather_all: bool) -> LossFn:
        return alpha_cl.loss_fn(kind, config)

    return build


_BUILDERS: dict[str, Callable[[ObjectiveConfig, bool], LossFn]] = {
    "infonce": _infonce,
    "au": _au,
    "spectral": _spectral,
    "dv_kl": _dv_kl,
    "acl_exp": _alpha_cl("exp"),
    "acl_quadratic": _alpha_cl("quadratic"),
    "acl_inverse": _alpha_cl("inverse"),
}


def make(config: ObjectiveConfig | str, gather_all: bool = False, **hyper: object) -> Objective:
    """The objective of ``config``, or of ``ObjectiveConfig.of(name=config, **hyper)`` when ``config``
    is a name (an unknown hyper-parameter, such as a misspelt one, is a one-line ``ValueError``).
    ``gather_all``: under ``torch.distributed``, negatives from the global batch (f-MICL, ``dv_kl``
    and ``infonce``; the other baselines use the local batch)."""
    flag("gather_all", gather_all)
    if isinstance(config, str):
        config = ObjectiveConfig.of(name=config, **hyper)
    elif hyper:
        raise ValueError(f"hyper-parameter {sorted(hyper)[0]!r} given beside an ObjectiveConfig; put it in the config")
    if checked(config).name in divergences.names():
        loss = losses.FMICLLoss(config, gather_all)
        return Objective(config, loss, loss)
    return Objective(config, _BUILDERS[config.name](config, gather_all))
