"""The affine Gram product ``scale * a b^T + offset`` behind every similarity matrix, and the raise of
low-precision logits to float32 before the nonlinearities applied to them.
"""

from __future__ import annotations

import torch
from torch import Tensor

from fmicl_core import validation

__all__ = ["affine_gram", "full_precision"]


def _representable(name: str, value: object, dtype: torch.dtype) -> float:
    """A finite number that ``dtype`` holds without overflow."""
    x = validation.number(name, value)
    if abs(x) > torch.finfo(dtype).max:
        raise ValueError(f"{name}={value!r} is not allowed; it overflows {dtype} (largest {torch.finfo(dtype).max:g})")
    return x


def affine_gram(a: Tensor, b: Tensor, scale: float = 1.0, offset: float = 0.0) -> Tensor:
    """``scale * a @ b.T + offset`` in one GEMM; ``scale`` and ``offset`` must be finite in the dtype
    of ``a``."""
    for name, t in (("a", a), ("b", b)):
        if (not isinstance(t, Tensor) or not t.is_floating_point() or t.dim() != 2 or t.dtype != a.dtype
                or t.shape[1] != a.shape[1]):
            what = f"{t.dtype} tensor of shape {tuple(t.shape)}" if isinstance(t, Tensor) else type(t).__name__
            raise ValueError(f"{name} is a {what}; affine_gram takes two 2-D floating tensors of one dtype "
                             "and one width")
    scale, offset = (_representable(name, value, a.dtype) for name, value in (("scale", scale), ("offset", offset)))
    return torch.addmm(torch.tensor(offset, dtype=a.dtype, device=a.device), a, b.T, alpha=scale)


def full_precision(x: Tensor) -> Tensor:
    """``x`` raised to float32 when it is bfloat16 or float16 (logits made under autocast), else ``x``."""
    return x.float() if x.dtype in (torch.float16, torch.bfloat16) else x
