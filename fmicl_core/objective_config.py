"""The hyper-parameters of every training objective, each default written once.

:class:`ObjectiveConfig` names the objective and holds the values its loss reads; it is validated
when it is made, is what :func:`fmicl_core.objectives.make` and :class:`fmicl_core.losses.FMICLLoss`
take, and is embedded in the trainer's configuration. The defaults are the vision settings of
Lu et al. 2023 (f-MICL, arXiv:2402.10150), Table 7: ``(2 sigma^2)^-1 = 1``, ``alpha = 40``,
``mu = 1``. The loss functions of :mod:`fmicl_core.losses` take their keyword defaults from
:data:`DEFAULTS`.

Every number has a range, :data:`RANGES`, checked by :func:`hyper` wherever the value is taken (here,
in the loss functions and in the similarities): inside it every objective gives a finite loss and
finite gradients for every batch, in float32 and bfloat16 (a test runs each objective at the corners
of the ranges on identical, antipodal and spread-out embeddings). The ranges hold the papers' values
with room to spare: f-MICL Table 7 has ``(2 sigma^2)^-1`` from 1 (vision) to 20 (Wikipedia, the
smallest sigma, 0.158), ``alpha`` from 40 to 409600 and ``mu = 1``; InfoNCE's temperature is 0.07
in MoCo (He et al. 2020, arXiv:1911.05722) and 0.5 in SimCLR on CIFAR-10 (Chen et al. 2020,
arXiv:2002.05709). Beyond them the exponentials of the objectives leave float32 (``mu = 1e20`` overflows
Pearson's ``G^2``; ``mu = 1e6`` overflows the gradient of Tsallis with beta = 5) or the kernel stops
depending on the distance (``sigma = 1e200`` gives ``c = 0``).
"""

from __future__ import annotations

import math
import typing
from dataclasses import dataclass, field, fields

from fmicl_core import divergences, validation

__all__ = ["BASELINES", "DEFAULTS", "LOSS_NEGATIVES", "NEGATIVES", "RANGES", "SIMILARITIES", "ObjectiveConfig",
           "checked", "flag", "hyper", "names", "reads_negatives", "supports_queue"]

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


RANGES = {
    "sigma": (0.01, 100.0),
    "alpha": (1e-6, 1e7),
    "mu": (1e-4, 1e4),
    "temperature": (0.005, 100.0),
    "beta": divergences.BETA_RANGE,
    "uniformity_t": (0.01, 100.0),
    "alpha_exponent": (0.1, 10.0),
    "alpha_eps": (0.0, 100.0),
}
"""The closed range ``(low, high)`` of each number of :class:`ObjectiveConfig` (module docstring)."""


def hyper(key: str, value: object, name: str | None = None) -> float:
    """``value`` of the hyper-parameter ``key`` as a float, or a one-line ``ValueError`` naming it
    (as ``name``, ``key`` by default) and its range :data:`RANGES`."""
    low, high = RANGES[key]
    return validation.at_least(name or key, value, low, high)


def names() -> tuple[str, ...]:
    """Every objective name: the f-MICL divergences, then the baselines."""
    return divergences.names() + BASELINES


def supports_queue(name: str) -> bool:
    """Whether the objective has a MoCo form (a query against a queue of keys)."""
    return name in divergences.names() or name == "infonce"


def reads_negatives(name: str) -> bool:
    """Whether the objective has a choice of negative set (``negatives``): the f-MICL divergences and
    ``dv_kl``; the other baselines have their own."""
    return name in divergences.names() or name == "dv_kl"


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
    beta: float = _f(divergences.DEFAULT_BETA, "order beta of the Tsallis divergence")
    uniformity_t: float = _f(2.0, "t of the uniformity term of au (Wang & Isola 2020)")
    alpha_exponent: typing.Optional[float] = _f(None, "exponent of the alpha-CL weights (unset: the kind's own)")
    alpha_eps: float = _f(0.0, "eps_alpha of the alpha-CL normalisation")

    def __post_init__(self) -> None:
        validation.choice("objective", self.name, names())
        validation.choice("similarity", self.similarity, SIMILARITIES)
        if self.negatives is not None:
            validation.choice("negatives", self.negatives, NEGATIVES)
            if not reads_negatives(self.name):
                raise ValueError(f"negatives={self.negatives!r} is not allowed with objective {self.name!r}, "
                                 "which has its own negative set; leave it unset")
        for key in RANGES:
            if key != "alpha_exponent" or self.alpha_exponent is not None:
                object.__setattr__(self, key, hyper(key, getattr(self, key)))

    @classmethod
    def of(cls, **values: object) -> ObjectiveConfig:
        """``ObjectiveConfig(**values)`` with an unknown keyword a one-line ``ValueError``."""
        validation.keywords("ObjectiveConfig", values, [f.name for f in fields(cls)])
        return cls(**values)

    @property
    def loss_negatives(self) -> str:
        """``negatives``, or :data:`LOSS_NEGATIVES` when unset."""
        return self.negatives or LOSS_NEGATIVES

    @property
    def c(self) -> float:
        """The f-Gaussian precision ``c = 1 / (2 sigma^2)``."""
        return 1.0 / (2.0 * self.sigma**2)


def flag(name: str, value: object) -> bool:
    """``value`` if it is ``True`` or ``False``, else a one-line ``ValueError`` (1 or "yes" are not flags)."""
    if not isinstance(value, bool):
        raise ValueError(f"{name}={value!r} is not allowed; it must be True or False")
    return value


def checked(config: object) -> ObjectiveConfig:
    """``config`` itself if it is an :class:`ObjectiveConfig`, else a one-line ``ValueError``."""
    if not isinstance(config, ObjectiveConfig):
        raise ValueError(f"config={config!r} is not allowed; it must be an ObjectiveConfig "
                         "(fmicl_core.objective_config), e.g. ObjectiveConfig('js', alpha=10)")
    return config


DEFAULTS = ObjectiveConfig()
