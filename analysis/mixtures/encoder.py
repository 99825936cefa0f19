"""Linear contrastive encoders ``f(x) = A x`` trained on (sample, augmentation) pairs, the encoder
of Bansal, Kavis & Sanghavi 2024 (arXiv:2411.03517).

Their loss is InfoNCE with the *unnormalised* inner product ``s(x, x') = <Ax, Ax'>``; it is not an
f-MICL objective (those L2-normalise the embeddings), so it lives here as :func:`inner_infonce`.
Every other objective comes from :func:`fmicl_core.objectives.make`, so the f-MICL divergences
(Lu et al. 2023, arXiv:2402.10150), NT-Xent with cosine similarity (Chen et al. 2020,
arXiv:2002.05709) and the spectral loss (HaoChen et al. 2021, arXiv:2106.04156) are the package's
own code.

Training minimises the loss over mini-batches with Adam and a cosine learning-rate decay
(:class:`EncoderTraining`). The batches come either from a *fixed* sample of ``n`` pairs (random
rows each step, so ``n`` is a real parameter of the sweeps) or from a *stream* of fresh pairs every
step (the population objective the theory is about).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from fmicl_core import divergences, objectives, validation
from fmicl_core.objective_config import ObjectiveConfig

__all__ = ["INNER_TEMPERATURE", "EncoderTraining", "LinearEncoder", "Source", "fit_linear_encoder",
           "fixed_source", "inner_infonce", "make_loss", "stream_source", "train_linear"]

LossFn = Callable[[Tensor, Tensor], Tensor]
Draw = Callable[[int, torch.Generator], tuple[Tensor, Tensor]]

INNER_TEMPERATURE = 1.0
"""The temperature of :func:`inner_infonce`: with the unnormalised inner product a temperature only
rescales ``A``, so tau = 1 loses nothing."""

_SIMILARITIES = {"infonce": ("inner", "cosine"), "spectral": ("inner",),
                 **{name: ("gaussian", "cosine") for name in divergences.names()}}


@dataclass(frozen=True)
class Source:
    """Where mini-batches come from: ``draw(batch, gen) -> (x, x_pos)``, views of dimensions ``dims``."""

    dims: tuple[int, int]
    draw: Draw


def inner_infonce(z1: Tensor, z2: Tensor, temperature: float = INNER_TEMPERATURE) -> Tensor:
    """Symmetric InfoNCE with the unnormalised inner product (CLIP's form): logits
    ``<z1_i, z2_j> / tau``; each row of ``z1`` must pick its positive ``z2_i`` among the batch and
    each row of ``z2`` its ``z1_i``; the loss is the mean of the two cross-entropies."""
    logits = z1 @ z2.T / temperature
    target = torch.arange(z1.shape[0], device=z1.device)
    return (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target)) / 2


def make_loss(objective: str = "infonce", similarity: str = "inner", temperature: float | None = None,
              **hyper: object) -> LossFn:
    """The loss ``fn(z1, z2)`` for ``objective`` under ``similarity``.

    - ``infonce`` + ``inner``: :func:`inner_infonce` (the GMM paper's form; ``temperature`` default
      :data:`INNER_TEMPERATURE`);
    - ``infonce`` + ``cosine``: NT-Xent on L2-normalised embeddings (``fmicl_core``);
    - an f-MICL divergence + ``gaussian`` or ``cosine``: ``fmicl_core.objectives.make(objective, ...)``
      with ``hyper`` (sigma, alpha, mu, beta); the embeddings are L2-normalised there;
    - ``spectral`` + ``inner``: HaoChen et al.'s loss on the raw embeddings.

    Outside the inner-product InfoNCE an unset ``temperature`` or hyper-parameter is the package's
    default (:data:`fmicl_core.objective_config.DEFAULTS`).
    """
    validation.choice("objective", objective, _SIMILARITIES)
    validation.choice(f"similarity for {objective}", similarity, _SIMILARITIES[objective])
    if temperature is not None:
        hyper["temperature"] = validation.positive("temperature", temperature)
    if objective == "infonce" and similarity == "inner":
        tau = hyper.pop("temperature", INNER_TEMPERATURE)
        if hyper:
            raise ValueError(f"hyper-parameters {sorted(hyper)} are not allowed for the inner-product InfoNCE")
        return lambda z1, z2: inner_infonce(z1, z2, tau)
    if objective != "spectral":
        hyper["similarity"] = similarity
    obj = objectives.make(ObjectiveConfig.of(name=objective, **hyper))
    return lambda z1, z2: obj(z1, z2)


@dataclass(frozen=True)
class EncoderTraining:
    """How a linear encoder is optimised: ``steps`` Adam steps of ``batch`` pairs, learning rate
    ``lr`` with cosine decay, ``A`` initialised ``N(0, init_scale^2)``, seeded by ``seed``."""

    steps: int = 2000
    batch: int = 512
    lr: float = 5e-3
    init_scale: float = 0.05
    seed: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "steps", validation.integer("steps", self.steps))
        object.__setattr__(self, "batch", validation.integer("batch", self.batch, 2))
        object.__setattr__(self, "lr", validation.positive("lr", self.lr))
        object.__setattr__(self, "init_scale", validation.positive("init_scale", self.init_scale))
        object.__setattr__(self, "seed", validation.integer("seed", self.seed, 0))


@dataclass(frozen=True)
class LinearEncoder:
    """A trained linear map ``A`` (r, d) (rows span the learnt subspace) and how training went."""

    weight: np.ndarray
    final_loss: float
    seconds: float

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return x @ self.weight.T


def _as_views(views: Sequence[np.ndarray]) -> list[Tensor]:
    out = []
    for i, v in enumerate(views):
        v = np.asarray(v, dtype=np.float64)
        if v.ndim != 2 or not np.isfinite(v).all():
            raise ValueError(f"view {i} must be a finite 2-D (n, d) array; got shape {v.shape}")
        out.append(torch.as_tensor(v, dtype=torch.float32))
    if len(out) != 2:
        raise ValueError(f"got {len(out)} views; contrastive training needs exactly 2")
    if out[0].shape[0] != out[1].shape[0]:
        raise ValueError(f"views have {out[0].shape[0]} and {out[1].shape[0]} rows; they must match")
    return out


def fixed_source(views: Sequence[np.ndarray]) -> Source:
    """Mini-batches of ``batch`` random rows (with replacement across steps) of two row-aligned views."""
    xs = _as_views(views)

    def draw(batch: int, gen: torch.Generator) -> tuple[Tensor, Tensor]:
        idx = torch.randint(xs[0].shape[0], (min(batch, xs[0].shape[0]),), generator=gen)
        return xs[0][idx], xs[1][idx]

    return Source((xs[0].shape[1], xs[1].shape[1]), draw)


def stream_source(sampler, dims: tuple[int, int], chunk: int = 64) -> Source:
    """Fresh pairs every step from ``sampler.sample_pairs(n, rng)`` (the population objective), drawn
    ``chunk`` batches at a time so that the sampler's per-call cost is paid once per chunk."""
    buffer: list[tuple[Tensor, Tensor]] = []

    def draw(batch: int, gen: torch.Generator) -> tuple[Tensor, Tensor]:
        if not buffer:
            rng = np.random.default_rng(int(torch.randint(2**62, (1,), generator=gen)))
            pairs = sampler.sample_pairs(batch * chunk, rng)
            x, x_pos = (torch.as_tensor(v, dtype=torch.float32) for v in (pairs.x, pairs.x_pos))
            buffer.extend(zip(x.split(batch), x_pos.split(batch)))
            buffer.reverse()
        return buffer.pop()

    return Source(dims, draw)


def train_linear(source: Source, loss: LossFn, r: int, shared: bool = True,
                 config: EncoderTraining = EncoderTraining()) -> list[LinearEncoder]:
    """Train linear encoders on batches ``source.draw(batch, gen) -> (x, x_pos)`` by minimising
    ``loss(A x, A' x_pos)``: one encoder for both views when ``shared`` (augmentation pairs), else one
    per view (the CLIP form; the views may differ in dimension, ``source.dims``). A loss that stops
    being finite is a one-line ``ValueError`` naming the step (training diverged)."""
    dims = source.dims[:1] if shared else source.dims
    if shared and source.dims[0] != source.dims[1]:
        raise ValueError(f"views have dimensions {source.dims}; a shared encoder needs equal ones")
    if validation.integer("r", r) > min(dims):
        raise ValueError(f"r={r!r} is not allowed; it must be an integer in [1, {min(dims)}]")
    gen = torch.Generator().manual_seed(config.seed)
    weights = [(config.init_scale * torch.randn(r, d, generator=gen)).requires_grad_() for d in dims]
    opt = torch.optim.Adam(weights, lr=config.lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=config.steps)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # (B, r) matrices: a thread pool costs more than it saves
    start = time.perf_counter()
    try:
        for step in range(1, config.steps + 1):
            x, x_pos = source.draw(config.batch, gen)
            value = loss(x @ weights[0].T, x_pos @ weights[-1].T)
            if not torch.isfinite(value):
                raise ValueError(f"training diverged at step {step} of {config.steps}: the loss is {value.item()}; "
                                 f"lower the learning rate lr={config.lr:g}")
            opt.zero_grad(set_to_none=True)
            value.backward()
            opt.step()
            sched.step()
    finally:
        torch.set_num_threads(threads)
    seconds = time.perf_counter() - start
    return [LinearEncoder(w.detach().double().numpy(), value.item(), seconds) for w in weights]


def fit_linear_encoder(pairs, objective: str = "infonce", similarity: str = "inner", r: int | None = None,
                       temperature: float | None = None, config: EncoderTraining = EncoderTraining(),
                       **hyper: object) -> LinearEncoder:
    """A linear encoder ``A`` (r, d) trained with ``objective`` (:func:`make_loss`; ``hyper`` such as
    sigma, alpha go to ``fmicl_core``) on ``pairs``:

    - a fixed sample: :class:`~analysis.mixtures.model.Pairs` or an ``(x, x_pos)`` tuple of arrays;
    - or a model with ``sample_pairs(n, rng)`` (a :class:`~analysis.mixtures.model.GMM`): fresh pairs
      every step, i.e. stochastic optimisation of the population loss.

    ``r`` defaults to ``K - 1``, K counted from the model or from ``pairs.k`` (counted, never trained on).
    """
    if hasattr(pairs, "sample_pairs"):
        source, k = stream_source(pairs, (pairs.d, pairs.d)), pairs.k
    else:
        views = (pairs.x, pairs.x_pos) if hasattr(pairs, "x_pos") else tuple(pairs)
        source, k = fixed_source(views), (np.unique(pairs.k).size if hasattr(pairs, "k") else None)
    if r is None and k is None:
        raise ValueError("r=None needs component labels (Pairs or a GMM) to count K; pass r explicitly")
    loss = make_loss(objective, similarity, temperature, **hyper)
    return train_linear(source, loss, int(k) - 1 if r is None else r, shared=True, config=config)[0]
