"""The hyper-parameters of every training objective, each default written once.

:class:`ObjectiveConfig` names the objective and holds the values its loss reads; it is validated
when it is made, is what :func:`fmicl_core.objectives.make` and :class:`fmicl_core.losses.FMICLLoss`
take, and is embedded in the trainer's configuration. The defaults are the vision settings of
Lu et al. 2023 (f-MICL, arXiv:2402.10150), Table 7: ``(2 sigma^2)^-1 = 1``, ``alpha = 40``,
``mu = 1``. The loss functions of :mod:`fmicl_core.losses` take their keyword defaults from
:data:`DEFAULTS`.
"""

from __future__ import annotations

import math
import typing
from dataclasses import dataclass, field, fields

from fmicl_core import divergences, validation

__all__ = ["BASELINES", "DEFAULTS", "LOSS_NEGATIVES", "NEGATIVES", "SIMILARITIES", "ObjectiveConfig", "names", "supports_queue"]

NEGATIVES = ("two_view", "one_view", "cross")
LOSS_NEGATIVES = "two_view"
"""The negative set of the loss functions when none is named (SimCLR's: every pair of different
samples among the 2N views)."""
SIMILARITIES = ("gaussian", "cosine")
BASELINES = ("infonce", "au", "spectral", "dv_kl", "acl_exp", "acl_quadratic", "acl_inverse")
"""The objectives that are not f-MICL divergences: InfoNCE / NT-Xent / MoCo (Chen et al. 2020,
arXiv:2002.05709), alignment + uniformity (Wang & Isola 2020, arXiv:2005.10242), spectral (HaoChen
et al. 2021, arXiv:2106.04156), KL with the Donsker-Varadhan shift, and the alpha-CL losses (Tian
2022, arXiv:2201.12680)."""


def names() -> tuple[str, ...]:
    """Every objective name: the f-MICL divergences, then the baselines."""
    return divergences.names() + BASELINES


def supports_queue(name: str) -> bool:
    """Whether the objective has a MoCo form (a query against a queue of keys)."""
    return name in divergences.names() or name == "infonce"


def _f(default: object, help: str) -> typing.Any:
    return field(default=default, metadata={"help": help})


@dataclass(frozen=True)
class ObjectiveConfig:
    """An objective and its hyper-parameters (each field the trainer's flag of the same name;
    ``name`` is ``--objective``). Unused fields are ignored by objectives that do not read them."""

    name: str = _f("kl", "training objective: the f-MICL divergences, then the baselines")
    similarity: str = _f("gaussian", "f-MICL similarity: gaussian (f-Gaussian) or cosine")
    negatives: typing.Optional[str] = _f(None, "f-MICL negative pairs: two_view, one_view or cross; unset: "
                                               "the method's (two_view, cross for mocov3; moco uses its queue)")
    sigma: float = _f(1.0 / math.sqrt(2.0), "f-Gaussian width sigma of G = mu exp(-d / (2 sigma^2))")
    alpha: float = _f(40.0, "weight alpha of the f-MICL negative term")
    mu: float = _f(1.0, "f-Gaussian scale mu inside G")
    temperature: float = _f(0.5, "temperature of infonce, of the cosine similarity and of alpha-CL")
    beta: float = _f(divergences.DEFAULT_BETA, "order beta > 1 of the Tsallis divergence")
    uniformity_t: float = _f(2.0, "t of the uniformity term of au (Wang & Isola 2020)")
    alpha_exponent: typing.Optional[float] = _f(None, "exponent of the alpha-CL weights (unset: the kind's own)")
    alpha_eps: float = _f(0.0, "eps_alpha >= 0 of the alpha-CL normalisation")

    def __post_init__(self) -> None:
        validation.choice("objective", self.name, names())
        validation.choice("similarity", self.similarity, SIMILARITIES)
        if self.negatives is not None:
            validation.choice("negatives", self.negatives, NEGATIVES)
        for key in ("sigma", "alpha", "mu", "temperature", "uniformity_t"):
            object.__setattr__(self, key, validation.positive(key, getattr(self, key)))
        object.__setattr__(self, "beta", validation.positive("beta", self.beta, above=1.0))
        if self.alpha_exponent is not None:
            object.__setattr__(self, "alpha_exponent", validation.positive("alpha_exponent", self.alpha_exponent))
        eps = validation.number("alpha_eps", self.alpha_eps)
        if eps < 0:
            raise ValueError(f"alpha_eps={self.alpha_eps!r} is not allowed; it must be >= 0")
        object.__setattr__(self, "alpha_eps", eps)

    @classmethod
    def of(cls, **values: object) -> ObjectiveConfig:
        """``ObjectiveConfig(**values)`` with an unknown keyword a one-line ``ValueError``."""
        allowed = [f.name for f in fields(cls)]
        unknown = sorted(set(values) - set(allowed))
        if unknown:
            raise ValueError(f"unknown objective hyper-parameter {unknown[0]!r}; allowed: {', '.join(allowed)}")
        return cls(**values)

    @property
    def loss_negatives(self) -> str:
        """``negatives``, or :data:`LOSS_NEGATIVES` when unset."""
        return self.negatives or LOSS_NEGATIVES

    @property
    def c(self) -> float:
        """The f-Gaussian precision ``c = 1 / (2 sigma^2)``."""
        return 1.0 / (2.0 * self.sigma**2)


DEFAULTS = ObjectiveConfig()
