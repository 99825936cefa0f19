"""The affine Gram product ``scale * a b^T + offset`` behind every similarity matrix, with a
symmetric fast path: for ``a is b`` the backward is a single product.

When ``a is b``, the losses of this package are sums of an elementwise function of the symmetric
matrix ``a a^T``, so the incoming gradient ``g`` is symmetric and
``d/da = scale * (g + g^T) a = 2 scale * g a``: one GEMM instead of the two autograd would run.
"""

from __future__ import annotations

import torch
from torch import Tensor

from fmicl_core import validation

__all__ = ["affine_gram"]


class _SymmetricAffineGram(torch.autograd.Function):
    @staticmethod
    def forward(ctx, a: Tensor, scale: float, offset: float) -> Tensor:  # type: ignore[override]
        ctx.save_for_backward(a)
        ctx.scale = scale
        return torch.addmm(torch.tensor(offset, dtype=a.dtype, device=a.device), a, a.T, alpha=scale)

    @staticmethod
    def backward(ctx, grad: Tensor):  # type: ignore[override]
        (a,) = ctx.saved_tensors
        return torch.mm(grad.to(a.dtype), a).mul_(2.0 * ctx.scale), None, None


def _representable(name: str, value: object, dtype: torch.dtype) -> float:
    """A finite number that ``dtype`` holds without overflow."""
    x = validation.number(name, value)
    if abs(x) > torch.finfo(dtype).max:
        raise ValueError(f"{name}={value!r} is not allowed; it overflows {dtype} (largest {torch.finfo(dtype).max:g})")
    return x


def affine_gram(a: Tensor, b: Tensor, scale: float = 1.0, offset: float = 0.0) -> Tensor:
    """``scale * a @ b.T + offset``; pass the same tensor twice for the symmetric fast path, whose
    backward assumes the upstream gradient is symmetric (true for any sum of an elementwise function
    of the matrix). ``scale`` and ``offset`` must be finite in the dtype of ``a``."""
    for name, t in (("a", a), ("b", b)):
        if (not isinstance(t, Tensor) or not t.is_floating_point() or t.dim() != 2 or t.dtype != a.dtype
                or t.shape[1] != a.shape[1]):
            what = f"{t.dtype} tensor of shape {tuple(t.shape)}" if isinstance(t, Tensor) else type(t).__name__
            raise ValueError(f"{name} is a {what}; affine_gram takes two 2-D floating tensors of one dtype "
                             "and one width")
    scale, offset = (_representable(name, value, a.dtype) for name, value in (("scale", scale), ("offset", offset)))
    if a is b:
        return _SymmetricAffineGram.apply(a, scale, offset)
    return torch.addmm(torch.tensor(offset, dtype=a.dtype, device=a.device), a, b.T, alpha=scale)
