"""Gather embeddings across ranks with gradients, so that every rank sees the global batch.

Under DDP each rank computes its loss on its local rows against the gathered columns, and DDP
averages parameter gradients over ranks. For that average to be the gradient of the global loss,
the backward of the gather must *sum* the incoming gradients over ranks before taking the local
slice (an all_gather without this, or with an all_reduce that has no backward, gives gradients off
by a factor of the world size).
"""

from __future__ import annotations

import torch
import torch.distributed as dist
from torch import Tensor

__all__ = ["gather", "is_distributed", "rank_and_world"]


def is_distributed() -> bool:
    """True inside an initialised process group of more than one rank."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank_and_world() -> tuple[int, int]:
    """``(rank, world_size)``, or ``(0, 1)`` outside a process group."""
    if not is_distributed():
        return 0, 1
    return dist.get_rank(), dist.get_world_size()


class _GatherWithGrad(torch.autograd.Function):
    @staticmethod
    def forward(ctx, z: Tensor) -> Tensor:  # type: ignore[override]
        parts = [torch.empty_like(z) for _ in range(dist.get_world_size())]
        dist.all_gather(parts, z.contiguous())
        return torch.cat(parts, 0)

    @staticmethod
    def backward(ctx, grad: Tensor) -> Tensor:  # type: ignore[override]
        grad = grad.contiguous()
        dist.all_reduce(grad, op=dist.ReduceOp.SUM)
        rank, world = dist.get_rank(), dist.get_world_size()
        return grad.chunk(world, 0)[rank]


def gather(z: Tensor) -> Tensor:
    """Concatenate ``z`` from every rank in rank order, keeping gradients; ``z`` itself when alone.
    Every rank must pass a tensor of the same shape (the trainer's batches are all full)."""
    if not isinstance(z, Tensor) or z.dim() == 0:
        what = "a 0-d tensor" if isinstance(z, Tensor) else f"a {type(z).__name__}"
        raise ValueError(f"gather got {what}; it concatenates tensors of rows")
    if not is_distributed():
        return z
    return _GatherWithGrad.apply(z)
