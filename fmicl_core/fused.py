"""The f-MICL objective in one pass over the Gram matrix, with its gradient in closed form.

The sample objective of Lu et al. 2023 (f-MICL, arXiv:2402.10150: its Figure 2, with the weighting
alpha of its Proposition 3) is ``L = alpha * mean_neg B - mean_pos A``. Each per-pair term is a
:class:`~fmicl_core.divergences.Term` ``scale * phi(slope * l + shift) + offset`` of the logit
``l = gram_scale * g + gram_offset`` of the inner product ``g`` of two unit rows (``log G`` or
``cos / tau``, :mod:`fmicl_core.similarity`). The two affine maps fold into one argument
``t = a g + b``, which for the negatives one GEMM writes, and

    mean B = scale * mean phi(t) + offset,
    d mean B / d g = scale * a * phi'(t) / |pairs|.

Each kernel of :data:`KERNELS` sums ``phi(t)`` and overwrites ``t`` with ``phi'(t)`` (up to a
constant factor); the pairs that are not negatives (each row's own column and its positive:
diagonal runs of the matrix) are zeroed in that buffer through strided views, so that the sum and
the derivative run over the negatives alone and no other matrix of that size is made. The
gradient of the rows is then ``(dL/dGram) @ cols``, a GEMM that the forward pass takes at once;
the backward keeps only these (rows, d) products and scales them by the incoming gradient.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch
from torch import Tensor

from fmicl_core import validation
from fmicl_core.divergences import EXP_CAP, PHI, Term
from fmicl_core.gram import full_precision

__all__ = ["KERNELS", "Run", "fill_runs", "objective"]

Run = tuple[int, int, int]
"""``(r, c, n)``: the entries ``(r + i, c + i)`` of a matrix, ``0 <= i < n``."""
Mask = Callable[[Tensor], Tensor]


def _exp(t: Tensor, mask: Mask) -> tuple[Tensor, Tensor, float]:
    """``phi = phi' = exp``."""
    e = mask(t.exp_())
    return e.sum(), e, 1.0


def _exp_lin(t: Tensor, mask: Mask) -> tuple[Tensor, Tensor, float]:
    """``phi = e (1 + (t - EXP_CAP)_+)``, ``phi' = e``, with ``e = exp(min(t, EXP_CAP))``
    (:func:`fmicl_core.divergences.exp_lin`)."""
    over = (t - EXP_CAP).clamp_(min=0.0).view(-1)
    e = mask(t.clamp_(max=EXP_CAP).exp_())
    return e.sum() + torch.dot(e.view(-1), over), e, 1.0


def _softplus(t: Tensor, mask: Mask) -> tuple[Tensor, Tensor, float]:
    """``phi = softplus``, ``phi' = sigmoid``."""
    total = mask(PHI["softplus"](t)).sum()
    return total, mask(t.sigmoid_()), 1.0


def _softplus_by_exp(t: Tensor, mask: Mask) -> tuple[Tensor, Tensor, float]:
    """``phi = softplus = log(1 + e)``, ``phi' = sigmoid = e / (1 + e)``, ``e = exp(t)``: for ``t``
    that cannot overflow the exponential (two transcendental passes instead of four)."""
    e = mask(t.exp_())
    q = e + 1.0
    w = e.div_(q)
    return q.log_().sum(), w, 1.0


def _sigmoid_sq(t: Tensor, mask: Mask) -> tuple[Tensor, Tensor, float]:
    """``phi = s^2``, ``phi' = 2 s^2 (1 - s)``, with ``s = sigmoid(t)``."""
    s = mask(t.sigmoid_())
    sq = s * s
    return sq.sum(), sq.addcmul_(sq, s, value=-1.0), 2.0


def _identity(t: Tensor, mask: Mask) -> tuple[Tensor, Tensor, float]:
    """``phi = t``, ``phi' = 1``."""
    total = mask(t).sum()
    return total, mask(t.fill_(1.0)), 1.0


def _relu_sq(t: Tensor, mask: Mask) -> tuple[Tensor, Tensor, float]:
    """``phi = (t)_+^2``, ``phi' = 2 (t)_+``."""
    r = mask(t.clamp_(min=0.0))
    return torch.dot(r.view(-1), r.view(-1)), r, 2.0


KERNELS: dict[str, Callable[[Tensor, Mask], tuple[Tensor, Tensor, float]]] = {
    "exp": _exp,
    "exp_lin": _exp_lin,
    "softplus": _softplus,
    "sigmoid_sq": _sigmoid_sq,
    "identity": _identity,
    "relu_sq": _relu_sq,
}
"""For each ``phi`` of :data:`fmicl_core.divergences.PHI`: ``kernel(t, mask)`` overwrites ``t`` and
returns ``(total, w, k)``: ``total`` the sum of ``phi(t)`` and ``k * w`` the derivative ``phi'(t)``
over the entries that ``mask`` (which zeroes the other entries of a buffer in place) leaves, ``w``
zero on the others."""


def fill_runs(buf: Tensor, runs: tuple[Run, ...], value: float) -> Tensor:
    """``buf`` with the entries of the diagonal ``runs`` set to ``value`` in place (through strided views)."""
    s0, s1 = buf.stride()
    for r, c, n in runs:
        buf.as_strided((n,), (s0 + s1,), buf.storage_offset() + r * s0 + c * s1).fill_(value)
    return buf


def _keep(buf: Tensor) -> Tensor:
    """The mask of a term over pairs that are all kept (the positive pairs)."""
    return buf


_EXP_SAFE = 60.0
"""Below this ``|t|``, ``exp(t)`` and the sums of millions of them stay far inside float32."""


@dataclass(frozen=True)
class _Part:
    """One term of the objective, ``mean scale * phi(a g + b) + offset`` over ``count`` pairs, as
    ``mean = gain * total + shift`` with ``total`` the sum of a kernel over ``a g + bias``: an
    exponential takes its factor ``e^b`` into ``gain`` and a linear term its ``b`` into ``shift``,
    so that no pass over the matrix adds ``b``."""

    kernel: Callable[[Tensor, Mask], tuple[Tensor, Tensor, float]]
    a: float
    bias: float
    gain: float
    shift: float

    def mean(self, t: Tensor, mask: Mask) -> tuple[Tensor, Tensor, float]:
        """The mean over the pairs of ``t = a g + bias`` (which it overwrites), the derivative
        buffer ``w`` and the factor ``coef`` with ``d mean / d g = coef * w``."""
        total, w, k = self.kernel(t, mask)
        mean = total.mul_(self.gain)
        return mean.add_(self.shift) if self.shift else mean, w, self.gain * self.a * k


def _part(term: Term, a: float, b: float, count: int) -> _Part:
    """The :class:`_Part` of ``term`` of ``t = a g + b`` with ``|g| <= 1`` (unit rows)."""
    largest = abs(a) + b
    phi = "exp" if term.phi == "exp_lin" and largest <= EXP_CAP else term.phi  # exp_lin is exp below the cap
    kernel = _softplus_by_exp if phi == "softplus" and largest <= _EXP_SAFE else KERNELS[phi]
    gain, shift = term.scale / count, term.offset
    if phi == "exp" and abs(a) <= _EXP_SAFE and abs(b) <= _EXP_SAFE:  # exp(a g + b) = e^b exp(a g)
        return _Part(kernel, a, 0.0, gain * math.exp(b), shift)
    if phi == "identity":  # mean(a g + b) = mean(a g) + b
        return _Part(kernel, a, 0.0, gain, shift + term.scale * b)
    return _Part(kernel, a, b, gain, shift)


@dataclass(frozen=True)
class _Plan:
    """The positive pairs are ``(z_i, z_{N+i})``; the rows of the Gram matrix of negatives are
    ``z[:m]`` and its ``runs`` are left out."""

    positive: _Part
    negative: _Part
    m: int
    runs: tuple[Run, ...]
    alpha: float


class _Objective(torch.autograd.Function):
    """``(L, mean_pos A, mean_neg B)`` for the stacked views ``z`` and the columns ``cols``
    (``None``: the rows themselves, a symmetric matrix)."""

    @staticmethod
    def forward(ctx, z: Tensor, cols: Tensor | None, plan: _Plan,  # type: ignore[override]
                grad: bool) -> tuple[Tensor, Tensor, Tensor]:
        ctx.set_materialize_grads(False)
        n, rows, pos, neg = z.shape[0] // 2, z[:plan.m], plan.positive, plan.negative
        g = torch.linalg.vecdot(z[:n], z[n:])
        g = g.mul_(pos.a).add_(pos.bias) if pos.bias else g.mul_(pos.a)
        positive, w_pos, ctx.c_pos = pos.mean(full_precision(g), _keep)
        other = rows if cols is None else cols
        bias = torch.tensor(neg.bias, dtype=z.dtype, device=z.device)
        t = torch.addmm(bias, rows, other.T, beta=1.0 if neg.bias else 0.0, alpha=neg.a)
        negative, w, ctx.c_neg = neg.mean(full_precision(t), lambda buf: fill_runs(buf, plan.runs, 0.0))
        # the gradients are these products times numbers: take them while w is at hand, and keep
        # them instead of w (for the symmetric matrix w is symmetric and d/d rows = (w + w^T) rows)
        with torch.autocast(z.device.type, enabled=False):
            w_rows = torch.mm(w, other.to(w.dtype)).to(z.dtype) if grad and ctx.needs_input_grad[0] else None
            w_cols = (torch.mm(w.T, rows.to(w.dtype)).to(z.dtype)
                      if grad and cols is not None and ctx.needs_input_grad[1] else None)
        ctx.save_for_backward(z, w_pos, w_rows, w_cols)
        ctx.plan, ctx.symmetric = plan, cols is None
        return negative * plan.alpha - positive, positive, negative

    @staticmethod
    def backward(ctx, d_loss: Tensor | None, d_pos: Tensor | None, d_neg: Tensor | None):  # type: ignore[override]
        z, w_pos, w_rows, w_cols = ctx.saved_tensors
        n, m = z.shape[0] // 2, ctx.plan.m
        c_pos = _weight(d_loss, -1.0, d_pos, ctx.c_pos)  # L = alpha * neg - pos
        c_neg = _weight(d_loss, ctx.plan.alpha, d_neg, ctx.c_neg)
        d_cols = None if c_neg is None or w_cols is None else w_cols * c_neg
        if w_rows is None:  # z takes no gradient
            return None, d_cols, None, None
        if c_neg is None:
            dz = torch.zeros_like(z)
        else:
            dz = torch.empty_like(z)
            torch.mul(w_rows, 2.0 * c_neg if ctx.symmetric else c_neg, out=dz[:m])
            if m < z.shape[0]:
                dz[m:].zero_()
        if c_pos is not None:  # d(x_i.y_i) = y_i dx_i + x_i dy_i
            dg = (w_pos * c_pos).unsqueeze(1).to(z.dtype)
            dz[:n].addcmul_(dg, z[n:])
            dz[n:].addcmul_(dg, z[:n])
        return dz, d_cols, None, None


def _weight(d_loss: Tensor | None, loss_factor: float, d_mean: Tensor | None, coef: float) -> Tensor | None:
    """``coef * (loss_factor * d_loss + d_mean)`` over the incoming gradients that are not None
    (None when neither is)."""
    if d_loss is None:
        return None if d_mean is None else d_mean * coef
    weight = d_loss * (loss_factor * coef)
    return weight if d_mean is None else weight + d_mean * coef


def _plan(positive: Term, negative: Term, gram_scale: float, gram_offset: float, n: int, m: int, k: int,
          runs: tuple[Run, ...], alpha: float) -> _Plan:
    """The plan of :func:`objective`: the runs checked against the (m, k) matrix, the two parts."""
    for r, c, length in runs:
        if r + length > m or c + length > k:
            raise ValueError(f"excluded run {(r, c, length)} is not allowed; a run (r, c, n) must lie inside the "
                             f"{m} x {k} matrix")
    count = m * k - sum(length for _, _, length in runs)
    if count < 1:
        raise ValueError(f"excluded={runs} leaves no pair of the {m} x {k} matrix")

    def part(term: Term, pairs: int) -> _Part:
        return _part(term, term.slope * gram_scale, term.slope * gram_offset + term.shift, pairs)

    return _Plan(part(positive, n), part(negative, count), m, runs, alpha)


def _runs(excluded: object) -> tuple[Run, ...]:
    """``excluded`` as a tuple of runs of three integers ``(r, c, n)``."""
    runs = tuple(tuple(run) if isinstance(run, (tuple, list)) else run for run in excluded)
    for run in runs:
        if not isinstance(run, tuple) or len(run) != 3:
            raise ValueError(f"excluded run {run!r} is not allowed; a run is three integers (r, c, n)")
        for value in run:
            validation.integer(f"excluded run {run!r} entry", value, minimum=0)
    return runs


def objective(z: Tensor, m: int, cols: Tensor | None, positive: Term, negative: Term, gram_scale: float,
              gram_offset: float, excluded: tuple[Run, ...] = (), alpha: float = 1.0) -> tuple[Tensor, Tensor, Tensor]:
    """``(L, mean_pos A, mean_neg B)`` with ``L = alpha * mean_neg B - mean_pos A`` (module docstring).

    Args:
        z: (2N, d) unit rows of the two views, view 1 first; the positive pairs are ``(z_i, z_{N+i})``.
        m: the rows of the Gram matrix of negatives are ``z[:m]``.
        cols: its (K, d) unit columns, or ``None`` for the rows themselves (the symmetric matrix).
        positive, negative: the terms ``A`` and ``B`` of the logits.
        gram_scale, gram_offset: the logit of inner product ``g`` is ``gram_scale * g + gram_offset``.
        excluded: disjoint diagonal runs ``(r, c, n)`` of the matrix that are not negative pairs; for
            the symmetric matrix they must come in pairs ``(r, c, n)``, ``(c, r, n)``.
        alpha: the weight of the negative term.
    """
    for name, t in (("z", z), ("cols", z if cols is None else cols)):
        if not isinstance(t, Tensor) or t.dim() != 2 or not t.is_floating_point() or t.shape[1] != z.shape[1]:
            what = f"{t.dtype} tensor of shape {tuple(t.shape)}" if isinstance(t, Tensor) else type(t).__name__
            raise ValueError(f"{name} is a {what}; it must be a 2-D floating tensor of unit rows of the width of z")
    if z.shape[0] % 2:
        raise ValueError(f"z has {z.shape[0]} rows; it must stack the two views, an even number")
    for name, term in (("positive", positive), ("negative", negative)):
        if not isinstance(term, Term):
            raise ValueError(f"{name} is a {type(term).__name__}; it must be a fmicl_core.divergences.Term")
    m = validation.integer("m", m, 1, z.shape[0])
    runs = _runs(excluded)
    if cols is None and set(runs) != {(c, r, length) for r, c, length in runs}:
        raise ValueError(f"excluded={runs} is not allowed without cols; the runs of a symmetric matrix must "
                         "come in pairs (r, c, n), (c, r, n)")
    gram_scale, gram_offset, alpha = (validation.number(name, v) for name, v in
                                      (("gram_scale", gram_scale), ("gram_offset", gram_offset), ("alpha", alpha)))
    plan = _plan(positive, negative, gram_scale, gram_offset, z.shape[0] // 2, m,
                 m if cols is None else cols.shape[0], runs, alpha)
    return _Objective.apply(z, cols, plan, torch.is_grad_enabled())
