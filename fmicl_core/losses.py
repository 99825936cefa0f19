"""Contrastive objectives: f-MICL and its special cases (InfoNCE/NT-Xent, alignment-uniformity,
spectral, DV-shifted KL). Every function takes two batches of embeddings ``z1, z2`` of shape (N, d),
row i of each being two views of sample i, and returns a scalar to *minimise*.

f-MICL (Lu et al. 2023, arXiv:2402.10150: the sample objective of its Figure 2, with the weighting
alpha of its Proposition 3):

    L = -mean_pos s(x_i, y_i) + alpha * mean_neg f*(s(x_a, x_b)),
    i_hat_f = mean_pos s - mean_neg f*(s)            (the f-MI estimate, alpha = 1)

with ``s`` the f-Gaussian (``f'(G)``) or cosine (``g_f(x.y/tau)``) similarity of
:mod:`fmicl_core.similarity`. Negative sets:

- ``two_view`` (default): every pair of embeddings of *different* samples among the 2N views
  (2N - 2 negatives per view, as SimCLR);
- ``one_view``: the paper's literal formula, pairs (x_i, x_j), i != j, of the first view;
- ``cross``: pairs (x_i, y_j), i != j (MoCo v3's in-batch keys);
- ``queue=K``: the MoCo form, every query x_i against every key of the queue.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from fmicl_core import divergences, validation
from fmicl_core.distributed import gather, rank_and_world
from fmicl_core.objective_config import DEFAULTS, LOSS_NEGATIVES, NEGATIVES, ObjectiveConfig
from fmicl_core.similarity import Similarity
from fmicl_core.similarity import get as get_similarity

__all__ = [
    "FMICLLoss",
    "FMICLTerms",
    "align_loss",
    "dv_kl_loss",
    "fmicl_loss",
    "fmicl_terms",
    "infonce_loss",
    "spectral_loss",
    "uniform_loss",
]


def check_embeddings(z1: Tensor, z2: Tensor | None = None, name: str = "z1") -> None:
    """Raise a one-line ``ValueError`` unless ``z1`` (and ``z2``) are finite (N >= 2, d) batches."""
    for label, z in ((name, z1), ("z2", z2)):
        if z is None:
            continue
        if not isinstance(z, Tensor) or z.dim() != 2:
            shape = tuple(z.shape) if isinstance(z, Tensor) else type(z).__name__
            raise ValueError(f"{label} has shape {shape}; embeddings must be a 2-D (N, d) tensor")
        if z.shape[0] < 2:
            raise ValueError(f"{label} has N={z.shape[0]} samples; a contrastive batch needs N >= 2")
        if not torch.isfinite(z).all():
            raise ValueError(f"{label} contains NaN or inf values; embeddings must be finite")
    if z2 is not None and z1.shape != z2.shape:
        raise ValueError(f"z1 has shape {tuple(z1.shape)} but z2 has {tuple(z2.shape)}; they must match")


def _normalize(z: Tensor) -> Tensor:
    """L2-normalise rows, in float32 at least (losses are computed in full precision)."""
    if z.dtype in (torch.float16, torch.bfloat16):
        z = z.float()
    return F.normalize(z, dim=1)


@dataclass(frozen=True)
class _Layout:
    """Which (row, column) pairs are negatives: all of ``rows x cols`` except, for each row a, the
    column ``own[a]`` holding the row itself and the column ``positive[a]`` holding its positive
    (each None where it is not among the columns)."""

    rows: Tensor
    cols: Tensor
    own: Tensor | None = None
    positive: Tensor | None = None

    @property
    def excluded(self) -> tuple[Tensor, ...]:
        return tuple(idx for idx in (self.own, self.positive) if idx is not None)

    @property
    def negatives_per_row(self) -> int:
        return self.cols.shape[0] - len(self.excluded)


def _layout(z1: Tensor, z2: Tensor, negatives: str, queue: Tensor | None, gather_all: bool) -> _Layout:
    """Rows are local anchors; columns are gathered across ranks when ``gather_all`` (DDP)."""
    n = z1.shape[0]
    rank, world = rank_and_world() if gather_all else (0, 1)
    g = gather if world > 1 else (lambda z: z)
    local = torch.arange(n, device=z1.device) + rank * n
    if queue is not None:
        return _Layout(z1, queue)
    if negatives == "two_view":
        view2 = local + world * n
        rows = torch.cat([z1, z2])
        cols = rows if world == 1 else torch.cat([g(z1), g(z2)])  # `rows is cols`: symmetric Gram
        return _Layout(rows, cols, own=torch.cat([local, view2]), positive=torch.cat([view2, local]))
    if negatives == "one_view":
        return _Layout(z1, g(z1), own=local)
    if negatives == "cross":
        return _Layout(z1, g(z2), positive=local)
    raise ValueError(f"unknown negatives {negatives!r}; allowed: {', '.join(NEGATIVES)}")


def _prepare(z1: Tensor, z2: Tensor, queue: Tensor | None) -> tuple[Tensor, Tensor, Tensor | None]:
    check_embeddings(z1, z2)
    if queue is not None:
        check_embeddings(queue, name="queue")
        if queue.shape[1] != z1.shape[1]:
            raise ValueError(f"queue has dimension {queue.shape[1]} but embeddings have {z1.shape[1]}")
        queue = _normalize(queue)
    return _normalize(z1), _normalize(z2), queue


@dataclass(frozen=True)
class FMICLTerms:
    """The parts of one f-MICL evaluation: ``loss = -positive + alpha * negative`` and the f-MI
    estimate ``estimate = positive - negative`` (detached)."""

    loss: Tensor
    positive: Tensor
    negative: Tensor
    estimate: Tensor


def _fmicl_terms(z1: Tensor, z2: Tensor, div: divergences.Divergence, sim: Similarity, alpha: float,
                 negatives: str, queue: Tensor | None, gather_all: bool) -> FMICLTerms:
    """The f-MICL terms for a built divergence and similarity (checked by the callers)."""
    z1, z2, queue = _prepare(z1, z2, queue)
    lay = _layout(z1, z2, negatives, queue, gather_all)
    positive = sim.positive(div, sim.paired_logits(z1, z2)).mean()
    total = sim.negative(div, _full_precision(sim.logits(lay.rows, lay.cols))).sum()
    for idx in lay.excluded:  # remove each row's own column and its positive from the sum
        total = total - sim.negative(div, sim.paired_logits(lay.rows, lay.cols[idx])).sum()
    negative = total / (lay.rows.shape[0] * lay.negatives_per_row)
    return FMICLTerms(alpha * negative - positive, positive, negative, (positive - negative).detach())


def fmicl_terms(
    z1: Tensor,
    z2: Tensor,
    divergence: str | divergences.Divergence = DEFAULTS.name,
    similarity: str = DEFAULTS.similarity,
    sigma: float = DEFAULTS.sigma,
    alpha: float = DEFAULTS.alpha,
    mu: float = DEFAULTS.mu,
    negatives: str = LOSS_NEGATIVES,
    queue: Tensor | None = None,
    temperature: float = DEFAULTS.temperature,
    gather_all: bool = False,
) -> FMICLTerms:
    """The f-MICL loss ``-mean_pos s + alpha * mean_neg f*(s)`` to minimise, its two means and the
    f-MI estimate ``i_hat_f = mean_pos s - mean_neg f*(s)`` (Lu et al. 2023, f-MICL,
    arXiv:2402.10150: the sample estimate of the f-mutual information of its Definition 1, with the
    weighting alpha of its Proposition 3 in front of the negative term).

    Args:
        z1, z2: (N, d) embeddings of two views; they are L2-normalised here.
        divergence: a name of :func:`fmicl_core.divergences.names` or a ``Divergence``
            (``divergences.get("tsallis", beta=3)``).
        similarity: ``"gaussian"`` (f-Gaussian, sigma and mu) or ``"cosine"`` (temperature).
        sigma: kernel width; ``1/sqrt(2)`` gives the paper's ``(2 sigma^2)^-1 = 1``.
        alpha: weight of the negative term (f-MICL Table 7: 40 for vision).
        mu: kernel scale inside ``G`` (f-MICL Table 7: 1).
        negatives: ``two_view``, ``one_view`` or ``cross`` (module docstring).
        queue: (K, d) keys; when given, the MoCo form: negatives are every query-key pair.
        gather_all: under ``torch.distributed``, use the global batch as negatives.

    Example:
        >>> z1, z2 = torch.randn(8, 16), torch.randn(8, 16)
        >>> terms = fmicl_terms(z1, z2, divergence="js", alpha=40.0)
    """
    alpha = validation.positive("alpha", alpha)
    validation.choice("negatives", negatives, NEGATIVES)
    div = divergences.get(divergence)
    sim = get_similarity(similarity, sigma=sigma, mu=mu, temperature=temperature)
    return _fmicl_terms(z1, z2, div, sim, alpha, negatives, queue, gather_all)


def fmicl_loss(z1: Tensor, z2: Tensor, *args, **kwargs) -> Tensor:
    """The f-MICL loss alone: :func:`fmicl_terms` ``(...).loss``, with the same arguments."""
    return fmicl_terms(z1, z2, *args, **kwargs).loss


def _full_precision(x: Tensor) -> Tensor:
    """Logits made under bf16/fp16 autocast are raised to float32 before the nonlinearities."""
    return x.float() if x.dtype in (torch.float16, torch.bfloat16) else x


class FMICLLoss(nn.Module):
    """``nn.Module`` form of :func:`fmicl_terms` for one :class:`ObjectiveConfig` whose ``name`` is
    a divergence; the divergence and similarity are built (and checked) once, at construction."""

    def __init__(self, config: ObjectiveConfig = DEFAULTS, gather_all: bool = False) -> None:
        super().__init__()
        if not isinstance(config, ObjectiveConfig):
            raise ValueError(f"config is {type(config).__name__}; expected an ObjectiveConfig")
        validation.choice("f-MICL divergence", config.name, divergences.names())
        self.config, self.gather_all = config, gather_all
        self.divergence = divergences.get(config.name, **({"beta": config.beta} if config.name == "tsallis" else {}))
        self.similarity = get_similarity(config.similarity, config.sigma, config.mu, config.temperature)
        self.negatives = config.loss_negatives

    def terms(self, z1: Tensor, z2: Tensor, queue: Tensor | None = None) -> FMICLTerms:
        return _fmicl_terms(z1, z2, self.divergence, self.similarity, self.config.alpha, self.negatives,
                            queue, self.gather_all)

    def forward(self, z1: Tensor, z2: Tensor, queue: Tensor | None = None) -> Tensor:
        return self.terms(z1, z2, queue).loss


def _masked_logits(lay: _Layout, scale: float, mask_positive: bool) -> Tensor:
    """``rows . cols^T * scale`` with each row's own column set to -inf (and its positive too when
    ``mask_positive``), for a log-sum-exp over the allowed columns."""
    logits = _full_precision(torch.mm(lay.rows, lay.cols.T * scale))
    ar = torch.arange(lay.rows.shape[0], device=logits.device)
    for idx in (lay.own, lay.positive if mask_positive else None):
        if idx is not None:
            logits = logits.index_put((ar, idx), torch.tensor(-math.inf, dtype=logits.dtype, device=logits.device))
    return logits


def infonce_loss(z1: Tensor, z2: Tensor, temperature: float = DEFAULTS.temperature, queue: Tensor | None = None,
                 include_positive: bool = True, gather_all: bool = False) -> Tensor:
    """InfoNCE in SimCLR's NT-Xent convention (Chen et al. 2020, eq. 1): each of the 2N views is an
    anchor; its logits are the cosine similarities / tau to the other 2N - 1 views (1 positive,
    2N - 2 negatives); the loss is the mean cross-entropy. With ``queue`` it is MoCo's form (the
    positive key against the queue). ``include_positive=False`` leaves the positive out of the
    denominator (the ``E_x log E_y e^s`` form of InfoNCE in f-MICL's Figure 3, up to log(2N - 2))."""
    temperature = validation.positive("temperature", temperature)
    z1, z2, queue = _prepare(z1, z2, queue)
    pos = (z1 * z2).sum(1) / temperature
    if queue is not None:
        neg = _full_precision(torch.mm(z1, queue.T / temperature))
        terms = [pos[:, None], neg] if include_positive else [neg]
        return (torch.logsumexp(torch.cat(terms, 1), 1) - pos).mean()
    lay = _layout(z1, z2, "two_view", None, gather_all)
    logits = _masked_logits(lay, 1.0 / temperature, mask_positive=not include_positive)
    return (torch.logsumexp(logits, 1) - pos.repeat(2)).mean()


def align_loss(x: Tensor, y: Tensor, alpha: float = 2.0) -> Tensor:
    """Wang & Isola (2020) alignment ``E ||x - y||^alpha`` over positive pairs (inputs as given)."""
    return (x - y).norm(dim=1).pow(alpha).mean()


def uniform_loss(x: Tensor, t: float = 2.0) -> Tensor:
    """Wang & Isola (2020) uniformity ``log E_{i<j} exp(-t ||x_i - x_j||^2)`` (inputs as given)."""
    sq = torch.pdist(x).pow(2)
    return torch.logsumexp(-t * sq, 0) - math.log(sq.numel())


def spectral_loss(z1: Tensor, z2: Tensor) -> Tensor:
    """Spectral contrastive loss (HaoChen et al. 2021): ``-2 E_pos z1.z2 + E_{i != j} (z1_i.z2_j)^2``
    on the raw (unnormalised) embeddings. It equals ``-(i_hat_chi2) - 1`` for Pearson chi^2 with the
    density-ratio model ``G = z1.z2`` (f-MICL Figure 3)."""
    check_embeddings(z1, z2)
    n = z1.shape[0]
    gram = z1 @ z2.T
    off = (gram.pow(2).sum() - gram.diagonal().pow(2).sum()) / (n * (n - 1))
    return -2.0 * gram.diagonal().mean() + off


def dv_kl_loss(z1: Tensor, z2: Tensor, sigma: float = DEFAULTS.sigma, mu: float = DEFAULTS.mu,
               negatives: str = LOSS_NEGATIVES, gather_all: bool = False) -> Tensor:
    """KL f-MICL with the Donsker-Varadhan shift (f-MICL Figure 3): ``-(E_pos s - log E_neg e^s)``
    with ``s = f'_KL(G) = 1 + log G``. It equals ``c * align + log E_neg exp(-c d)``, Wang & Isola's
    alignment-uniformity objective with ``t = c = 1/(2 sigma^2)``."""
    sim = get_similarity("gaussian", sigma=sigma, mu=mu)
    z1, z2, _ = _prepare(z1, z2, None)
    lay = _layout(z1, z2, negatives, None, gather_all)
    s_pos = 1.0 + sim.paired_logits(z1, z2)
    logits = _masked_logits(lay, 2.0 * sim.c, mask_positive=True)
    log_mean = torch.logsumexp(logits.flatten(), 0) - math.log(lay.rows.shape[0] * lay.negatives_per_row)
    s_neg_lme = 1.0 + math.log(mu) - 2.0 * sim.c + log_mean  # log E_neg e^s
    return s_neg_lme - s_pos.mean()
