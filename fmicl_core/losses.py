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

Embeddings are checked by :func:`check_embeddings` and only their directions count: every loss but
the spectral one gives the same value for rows scaled by any positive factor (:func:`unit_rows`).
Hyper-parameters are checked against :data:`fmicl_core.objective_config.RANGES`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from fmicl_core import divergences, fused, validation
from fmicl_core.distributed import gather, rank_and_world
from fmicl_core.fused import Run, fill_runs
from fmicl_core.gram import affine_gram, full_precision
from fmicl_core.objective_config import DEFAULTS, LOSS_NEGATIVES, NEGATIVES, ObjectiveConfig, checked, flag, hyper
from fmicl_core.similarity import Similarity
from fmicl_core.similarity import get as get_similarity

__all__ = [
    "FMICLLoss",
    "FMICLTerms",
    "align_loss",
    "au_loss",
    "check_embeddings",
    "dv_kl_loss",
    "fmicl_loss",
    "fmicl_terms",
    "infonce_loss",
    "spectral_loss",
    "uniform_loss",
    "unit_rows",
]


def check_embeddings(z1: Tensor, z2: Tensor | None = None, name: str = "z1", min_rows: int = 2,
                     other: str = "z2") -> None:
    """Raise a one-line ``ValueError`` unless ``z1`` (called ``name``) and ``z2`` (called ``other``;
    optional) are torch tensors of embeddings (:func:`fmicl_core.validation.embeddings`: floating,
    2-D, finite, no all-zero row) with at least ``min_rows`` rows, of one shape and on one device."""
    for label, z in ((name, z1),) if z2 is None else ((name, z1), (other, z2)):
        if not isinstance(z, Tensor):
            raise ValueError(f"{label} is a {type(z).__name__}; embeddings must be a 2-D float torch.Tensor "
                             "(torch.from_numpy converts an array)")
        validation.embeddings(label, z, min_rows=min_rows)
    if z2 is None:
        return
    if z1.shape != z2.shape:
        raise ValueError(f"{name} has shape {tuple(z1.shape)} but {other} has {tuple(z2.shape)}; they must match")
    if z1.device != z2.device:
        raise ValueError(f"{name} is on {z1.device} but {other} is on {z2.device}; they must be on one device")


def unit_rows(z: Tensor) -> Tensor:
    """Rows scaled to unit L2 norm, in float32 at least (losses are computed in full precision).
    Rows of any finite scale give the same direction: when the squares inside some norm would
    overflow or underflow (in float32, a norm above about 1e13 or below about 1e-13), each row is
    first divided by the power of two at or below its largest absolute entry, which changes neither
    the result (dividing by a power of two is exact) nor the gradient. Rows must not be all zeros
    (:func:`check_embeddings`)."""
    return _unit(full_precision(z))[0]


def _unit(z: Tensor) -> tuple[Tensor, bool]:
    """:func:`unit_rows` of ``z`` and whether every row is finite and not all zeros, in one pass
    over the values to check when every norm is far inside the range of the dtype (NaN is not)."""
    info = torch.finfo(z.dtype)
    s = z.detach()
    norm = torch.linalg.vector_norm(s, dim=1, keepdim=True)
    smallest, largest = torch.stack(torch.aminmax(norm)).tolist()  # one synchronisation
    if math.sqrt(info.tiny) * 2**20 <= smallest and largest <= math.sqrt(info.max) / 2**20:
        return _UnitRows.apply(z, s, norm, norm), True
    peak = s.abs().amax(1, keepdim=True)  # finite and nonzero exactly when the row is
    scale = peak / (2.0 * torch.frexp(peak).mantissa)  # 2^(e - 1) for peak = m 2^e, 1/2 <= m < 1
    s = s / scale
    norm = torch.linalg.vector_norm(s, dim=1, keepdim=True)
    return _UnitRows.apply(z, s, norm, norm * scale), math.isfinite(peak.log().sum())


class _UnitRows(torch.autograd.Function):
    """``u = s / norm`` row by row, for ``s = z`` divided by a constant of each row and ``norm =
    ||s||``; the backward is the closed form ``(grad - u (u . grad)) / ||z||`` (``length = ||z||``),
    the projection onto the tangent space of the sphere."""

    @staticmethod
    def forward(ctx, z: Tensor, s: Tensor, norm: Tensor, length: Tensor) -> Tensor:  # type: ignore[override]
        u = s / norm
        ctx.save_for_backward(u, length)
        return u

    @staticmethod
    def backward(ctx, grad: Tensor):  # type: ignore[override]
        u, length = ctx.saved_tensors
        dz = torch.addcmul(grad, u, torch.linalg.vecdot(u, grad).unsqueeze(1), value=-1.0).div_(length)
        return dz, None, None, None


@dataclass(frozen=True)
class _Layout:
    """Which (row, column) pairs are negatives: all of ``rows x cols`` except the diagonal runs
    (:data:`fmicl_core.fused.Run`) of ``own``, each row's own column, and of ``positive``, the
    column of its positive (empty where those are not among the columns)."""

    rows: Tensor
    cols: Tensor
    own: tuple[Run, ...] = ()
    positive: tuple[Run, ...] = ()

    @property
    def excluded(self) -> tuple[Run, ...]:
        return self.own + self.positive

    @property
    def pairs(self) -> int:
        """The number of negative pairs."""
        return self.rows.shape[0] * self.cols.shape[0] - sum(n for _, _, n in self.excluded)


def _layout(z: Tensor, negatives: str, queue: Tensor | None, gather_all: bool) -> _Layout:
    """Rows are local anchors taken from ``z``, the (2N, d) unit rows of both views (view 1 first);
    columns are gathered across ranks when ``gather_all`` (DDP). The ``negatives`` name is one of
    :data:`NEGATIVES`, checked by the callers."""
    n = z.shape[0] // 2
    x, y = z[:n], z[n:]
    if queue is not None:
        return _Layout(x, queue)
    rank, world = rank_and_world() if gather_all else (0, 1)
    g = gather if world > 1 else (lambda t: t)
    me, far = rank * n, world * n  # the columns of this rank's first row of view 1 and of view 2
    if negatives == "two_view":
        if world == 1:  # `rows is cols`: the symmetric Gram matrix, whose own pairs are its diagonal
            return _Layout(z, z, own=((0, 0, 2 * n),), positive=((0, n, n), (n, 0, n)))
        cols = torch.cat([g(x), g(y)])
        return _Layout(z, cols, own=((0, me, n), (n, far + me, n)), positive=((0, far + me, n), (n, me, n)))
    if negatives == "one_view":
        return _Layout(x, g(x), own=((0, me, n),))
    return _Layout(x, g(y), positive=((0, me, n),))  # cross


def _checked(z1: Tensor, z2: Tensor, name: str = "z1", other: str = "z2", min_rows: int = 2) -> tuple[Tensor, Tensor]:
    """The pair ``z1, z2`` checked (:func:`check_embeddings`) and brought to one dtype."""
    if z2 is None:
        raise ValueError(f"{other} is None; the loss takes two (N, d) batches of embeddings, {name} and {other}")
    check_embeddings(z1, z2, name, min_rows, other)
    dtype = torch.promote_types(z1.dtype, z2.dtype)
    return z1.to(dtype), z2.to(dtype)


def _unit_pair(z1: Tensor, z2: Tensor) -> Tensor:
    """The unit rows of ``z1`` stacked over those of ``z2`` (:func:`unit_rows`), checked as
    :func:`check_embeddings` does but from the norms that the normalisation computes anyway; what
    fails goes to :func:`check_embeddings`, which names the defect."""
    if not (isinstance(z1, Tensor) and isinstance(z2, Tensor) and z1.is_floating_point() and z2.is_floating_point()
            and z1.dim() == 2 and z1.shape == z2.shape and z1.shape[0] >= 2 and z1.shape[1] >= 1
            and z1.device == z2.device):
        _checked(z1, z2)
    z, valid = _unit(full_precision(torch.cat([z1, z2])))
    if not valid:
        _checked(z1, z2)
    return z


def _prepare(z1: Tensor, z2: Tensor, queue: Tensor | None) -> tuple[Tensor, Tensor | None]:
    """The checked unit rows of ``z1`` and ``z2`` as one (2N, d) tensor, view 1 first, and those of
    the ``queue`` (a batch of keys of the same width)."""
    z = _unit_pair(z1, z2)
    if queue is None:
        return z, None
    check_embeddings(queue, name="queue", min_rows=1)
    if queue.shape[1] != z.shape[1] or queue.device != z.device:
        raise ValueError(f"queue has width {queue.shape[1]} on {queue.device} but the embeddings have "
                         f"{z.shape[1]} on {z.device}; they must match")
    return z, unit_rows(queue).to(z.dtype)


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
    z, queue = _prepare(z1, z2, queue)
    lay = _layout(z, negatives, queue, gather_all)
    loss, positive, negative = fused.objective(
        z, lay.rows.shape[0], None if lay.cols is lay.rows else lay.cols, sim.positive_term(div),
        sim.negative_term(div), *sim.gram_affine, lay.excluded, alpha)
    return FMICLTerms(loss, positive, negative, (positive - negative).detach())


def fmicl_terms(
    z1: Tensor,
    z2: Tensor,
    divergence: str | divergences.Divergence = DEFAULTS.name,
    similarity: str = DEFAULTS.similarity,
    sigma: float = DEFAULTS.sigma,
    alpha: float = DEFAULTS.alpha,
    mu: float = DEFAULTS.mu,
    negatives: str | None = None,
    queue: Tensor | None = None,
    temperature: float = DEFAULTS.temperature,
    gather_all: bool = False,
) -> FMICLTerms:
    """The f-MICL loss ``-mean_pos s + alpha * mean_neg f*(s)`` to minimise, its two means and the
    f-MI estimate ``i_hat_f = mean_pos s - mean_neg f*(s)`` (Lu et al. 2023, f-MICL,
    arXiv:2402.10150: the sample estimate of the f-mutual information of its Definition 1, with the
    weighting alpha of its Proposition 3 in front of the negative term).

    Args:
        z1, z2: (N, d) embeddings of two views (N >= 2); they are L2-normalised here.
        divergence: a name of :func:`fmicl_core.divergences.names` or a ``Divergence``
            (``divergences.get("tsallis", beta=3)``).
        similarity: ``"gaussian"`` (f-Gaussian, sigma and mu) or ``"cosine"`` (temperature).
        sigma: kernel width; ``1/sqrt(2)`` gives the paper's ``(2 sigma^2)^-1 = 1``.
        alpha: weight of the negative term (f-MICL Table 7: 40 for vision).
        mu: kernel scale inside ``G`` (f-MICL Table 7: 1).
        negatives: ``two_view`` (when unset), ``one_view`` or ``cross`` (module docstring).
        queue: (K, d) keys; when given, the MoCo form: negatives are every query-key pair (so
            ``negatives`` must be unset).
        gather_all: under ``torch.distributed``, use the global batch as negatives (a queue is
            global already).

    Example:
        >>> z1, z2 = torch.randn(8, 16), torch.randn(8, 16)
        >>> terms = fmicl_terms(z1, z2, divergence="js", alpha=40.0)
    """
    alpha = hyper("alpha", alpha)
    negatives = _negatives(negatives, queue)
    div = divergences.get(divergence)
    sim = get_similarity(similarity, sigma=sigma, mu=mu, temperature=temperature)
    return _fmicl_terms(z1, z2, div, sim, alpha, negatives, queue, flag("gather_all", gather_all))


def _negatives(negatives: str | None, queue: Tensor | None) -> str:
    """The negative set named, :data:`LOSS_NEGATIVES` when unset; naming one beside a queue (which is
    the negative set) is an error."""
    if negatives is None:
        return LOSS_NEGATIVES
    validation.choice("negatives", negatives, NEGATIVES)
    if queue is not None:
        raise ValueError(f"negatives={negatives!r} is not allowed with a queue: the queue is the negative set "
                         "(MoCo); leave negatives unset")
    return negatives


def fmicl_loss(z1: Tensor, z2: Tensor, *args, **kwargs) -> Tensor:
    """The f-MICL loss alone: :func:`fmicl_terms` ``(...).loss``, with the same arguments."""
    return fmicl_terms(z1, z2, *args, **kwargs).loss


class FMICLLoss(nn.Module):
    """``nn.Module`` form of :func:`fmicl_terms` for one :class:`ObjectiveConfig` whose ``name`` is
    a divergence; the divergence and similarity are built (and checked) once, at construction."""

    def __init__(self, config: ObjectiveConfig = DEFAULTS, gather_all: bool = False) -> None:
        super().__init__()
        validation.choice("f-MICL divergence", checked(config).name, divergences.names())
        self.config, self.gather_all = config, flag("gather_all", gather_all)
        self.divergence = divergences.get(config.name, **({"beta": config.beta} if config.name == "tsallis" else {}))
        self.similarity = get_similarity(config.similarity, config.sigma, config.mu, config.temperature)
        self.negatives = config.loss_negatives

    def terms(self, z1: Tensor, z2: Tensor, queue: Tensor | None = None) -> FMICLTerms:
        if queue is not None and self.config.negatives is not None:
            raise ValueError(f"negatives={self.config.negatives!r} does not apply with a queue (the queue is the "
                             "negative set); build the loss with negatives unset")
        return _fmicl_terms(z1, z2, self.divergence, self.similarity, self.config.alpha, self.negatives,
                            queue, self.gather_all)

    def forward(self, z1: Tensor, z2: Tensor, queue: Tensor | None = None) -> Tensor:
        return self.terms(z1, z2, queue).loss


def _masked_logits(lay: _Layout, scale: float, mask_positive: bool) -> Tensor:
    """``rows . cols^T * scale`` with each row's own column set to -inf (and its positive too when
    ``mask_positive``), for a log-sum-exp over the allowed columns."""
    logits = full_precision(affine_gram(lay.rows, lay.cols, scale))
    return fill_runs(logits, lay.own + (lay.positive if mask_positive else ()), -math.inf)


def infonce_loss(z1: Tensor, z2: Tensor, temperature: float = DEFAULTS.temperature, queue: Tensor | None = None,
                 include_positive: bool = True, gather_all: bool = False) -> Tensor:
    """InfoNCE in SimCLR's NT-Xent convention (Chen et al. 2020, eq. 1): each of the 2N views is an
    anchor; its logits are the cosine similarities / tau to the other 2N - 1 views (1 positive,
    2N - 2 negatives); the loss is the mean cross-entropy. With ``queue`` it is MoCo's form (the
    positive key against the queue). ``include_positive=False`` leaves the positive out of the
    denominator (the ``E_x log E_y e^s`` form of InfoNCE in f-MICL's Figure 3, up to log(2N - 2))."""
    temperature = hyper("temperature", temperature)
    include_positive, gather_all = flag("include_positive", include_positive), flag("gather_all", gather_all)
    z, queue = _prepare(z1, z2, queue)
    n = z.shape[0] // 2
    pos = (z[:n] * z[n:]).sum(1) / temperature
    if queue is not None:
        neg = full_precision(affine_gram(z[:n], queue, 1.0 / temperature))
        terms = [pos[:, None], neg] if include_positive else [neg]
        return (torch.logsumexp(torch.cat(terms, 1), 1) - pos).mean()
    lay = _layout(z, "two_view", None, gather_all)
    logits = _masked_logits(lay, 1.0 / temperature, mask_positive=not include_positive)
    return (torch.logsumexp(logits, 1) - pos.repeat(2)).mean()


def _align(x: Tensor, y: Tensor, alpha: float) -> Tensor:
    return (x - y).norm(dim=1).pow(alpha).mean()


def _uniform(x: Tensor, t: float) -> Tensor:
    sq = torch.pdist(x).pow(2)
    return torch.logsumexp(-t * sq, 0) - math.log(sq.numel())


def align_loss(x: Tensor, y: Tensor, alpha: float = 2.0) -> Tensor:
    """Wang & Isola (2020, arXiv:2005.10242) alignment ``E ||x - y||^alpha`` over positive pairs of
    L2-normalised rows (``alpha`` in [1, 10])."""
    alpha = validation.at_least("alpha", alpha, 1.0, 10.0)
    x, y = _checked(x, y, "x", "y", min_rows=1)
    return _align(unit_rows(x), unit_rows(y), alpha)


def uniform_loss(x: Tensor, t: float = DEFAULTS.uniformity_t) -> Tensor:
    """Wang & Isola (2020, arXiv:2005.10242) uniformity ``log E_{i<j} exp(-t ||x_i - x_j||^2)`` of
    L2-normalised rows (N >= 2; ``t`` in the range of ``uniformity_t``)."""
    t = hyper("uniformity_t", t, name="t")
    check_embeddings(x, name="x")
    return _uniform(unit_rows(x), t)


def au_loss(z1: Tensor, z2: Tensor, t: float = DEFAULTS.uniformity_t) -> Tensor:
    """Wang & Isola's objective ``align + (uniform(z1) + uniform(z2)) / 2`` on L2-normalised rows."""
    t = hyper("uniformity_t", t, name="t")
    x, y = (unit_rows(z) for z in _checked(z1, z2))
    return _align(x, y, 2.0) + (_uniform(x, t) + _uniform(y, t)) / 2


def spectral_loss(z1: Tensor, z2: Tensor) -> Tensor:
    """Spectral contrastive loss (HaoChen et al. 2021): ``-2 E_pos z1.z2 + E_{i != j} (z1_i.z2_j)^2``
    on the raw (unnormalised) embeddings. It equals ``-(i_hat_chi2) - 1`` for Pearson chi^2 with the
    density-ratio model ``G = z1.z2`` (f-MICL Figure 3)."""
    z1, z2 = _checked(z1, z2)
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
    validation.choice("negatives", negatives, NEGATIVES)
    gather_all = flag("gather_all", gather_all)
    z, _ = _prepare(z1, z2, None)
    n = z.shape[0] // 2
    lay = _layout(z, negatives, None, gather_all)
    s_pos = 1.0 + sim.paired_logits(z[:n], z[n:])
    logits = _masked_logits(lay, 2.0 * sim.c, mask_positive=True)
    log_mean = torch.logsumexp(logits.flatten(), 0) - math.log(lay.pairs)
    s_neg_lme = 1.0 + math.log(mu) - 2.0 * sim.c + log_mean  # log E_neg e^s
    return s_neg_lme - s_pos.mean()
