"""The max player of alpha-CL with the pairwise weights alpha fixed, the min players, and the
alternating loop (Tian 2022, arXiv:2201.12680).

Energy of outputs ``z`` (N, k) of the anchors and ``z'`` of their augmentations (Tian's half squared
distances ``d2 = ||.||^2 / 2``):

    E_alpha = sum_{i != j} alpha_ij (d2_ij - d2_i),         d2_ij = |z_i - z_j|^2/2, d2_i = |z_i - z_i'|^2/2.

Here alpha lies on the per-anchor simplex divided by N (so E is a mean over anchors); the uniform
choice is ``alpha_ij = 1 / (N (N - 1))``. For a linear map ``z = W x``, ``E_alpha = tr(W C_alpha W^T)/2``
with the contrastive covariance (``compute_contrastive_covariance`` of Tian's code,
facebookresearch/luckmatters)

    C_alpha = sum_{i != j} alpha_ij (x_i - x_j)(x_i - x_j)^T - sum_i (sum_j alpha_ij)(x_i - x_i')(x_i - x_i')^T.

Deep linear max player (``W = W_L ... W_1``, every ``||W_l||_F = 1``):
``tr(W C W^T) <= lambda_max(C) ||W||_F^2 <= lambda_max(C)``, with equality iff W is rank one along
the top eigenvector of C_alpha: PCA on C_alpha, not on the data covariance (Tian's abstract: with
fixed alpha the max player is PCA for a deep linear network, and almost all local minima are global
and rank one).
A two-layer ReLU network whose first layer is normalised per filter (row) keeps fixed points of
higher rank (the abstract: "its fixed points can have higher ranks").

The data of the two checks: :func:`linear_data` makes the top principal component differ from the
top contrastive direction; :func:`relu_data` is the generator of ``relu_2layer.py`` in Tian's code.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor

from fmicl_core import validation
from fmicl_core.alpha_cl import WEIGHTS, alpha_weights, dual2_normalise
from fmicl_core.objective_config import DEFAULTS

__all__ = ["LinearResult", "ReluResult", "contrastive_covariance", "deep_linear_max_player",
           "energy", "linear_data", "min_player", "relu_data", "stable_rank", "two_layer_max_player",
           "uniform_alpha"]


def _offdiag(m: Tensor) -> Tensor:
    """(N, N) -> (N, N - 1): each row without its diagonal entry."""
    n = m.shape[0]
    return m.flatten()[1:].view(n - 1, n + 1)[:, :-1].reshape(n, n - 1)


def _from_offdiag(v: Tensor) -> Tensor:
    """(N, N - 1) -> (N, N) with a zero diagonal (inverse of :func:`_offdiag`)."""
    n = v.shape[0]
    out = v.new_zeros(n, n)
    mask = ~torch.eye(n, dtype=torch.bool, device=v.device)
    out[mask] = v.reshape(-1)
    return out


def uniform_alpha(n: int, dtype: torch.dtype = torch.float64) -> Tensor:
    """``alpha_ij = 1 / (N (N - 1))`` off the diagonal (N >= 2 samples)."""
    validation.integer("n", n, minimum=2)
    return (1.0 - torch.eye(n, dtype=dtype)) / (n * (n - 1))


def contrastive_covariance(x: Tensor, x_aug: Tensor, alpha: Tensor) -> Tensor:
    """C_alpha (module docstring) of inputs ``x`` (N, d), their augmentations and alpha (N, N)."""
    if x.shape != x_aug.shape or alpha.shape != (x.shape[0], x.shape[0]):
        raise ValueError(f"x {tuple(x.shape)}, x_aug {tuple(x_aug.shape)} and alpha "
                         f"{tuple(alpha.shape)} must be (N, d), (N, d) and (N, N)")
    rows, cols = alpha.sum(1), alpha.sum(0)
    scatter = x.T @ ((rows + cols)[:, None] * x) - x.T @ (alpha + alpha.T) @ x
    delta = x - x_aug
    return scatter - delta.T @ (rows[:, None] * delta)


def energy(z: Tensor, z_aug: Tensor, alpha: Tensor) -> Tensor:
    """``E_alpha = sum_{i != j} alpha_ij (|z_i - z_j|^2 - |z_i - z_i'|^2) / 2`` (Theorem 1's energy)."""
    sq = (z * z).sum(1)
    pairs = (alpha.sum(1) + alpha.sum(0)) @ sq - 2.0 * (alpha * (z @ z.T)).sum()
    return 0.5 * (pairs - alpha.sum(1) @ ((z - z_aug) ** 2).sum(1))


def min_player(z: Tensor, kind: str = "exp", temperature: float = DEFAULTS.temperature,
               alpha_exponent: float = 1.0) -> Tensor:
    """The min player's alpha (N, N) from outputs ``z``: ``kind`` weights of
    :mod:`fmicl_core.alpha_cl` on ``d2_ij = |z_i - z_j|^2 / 2``, each row on the simplex, / N.
    ``exp`` with exponent 1 (the default here) is the Gibbs (entropy-regularised) min player, i.e.
    InfoNCE's weights; ``quadratic`` is the sparse one."""
    validation.choice("min player", kind, WEIGHTS)
    validation.positive("temperature", temperature)
    validation.positive("alpha_exponent", alpha_exponent)
    d2 = _offdiag(0.5 * torch.cdist(z, z) ** 2)
    if kind == "exp":  # the normalised exp weights as a softmax: stable for any distance
        alpha = torch.softmax(-d2.pow(alpha_exponent) / temperature, 1)
    else:
        alpha = dual2_normalise(alpha_weights(d2, kind, temperature, alpha_exponent))
    return _from_offdiag(alpha) / z.shape[0]


def stable_rank(w: Tensor) -> float:
    """``||W||_F^2 / ||W||_2^2`` (1 for rank one)."""
    s = torch.linalg.svdvals(w)
    return float((s**2).sum() / s[0] ** 2)


def linear_data(n: int = 512, d: int = 10, seed: int = 0) -> tuple[Tensor, Tensor]:
    """``x ~ N(0, diag(linspace(3, 0.5)^2))``, ``x' = x + xi`` with xi of std 3 on dims 0-1 and 0.2
    elsewhere, so that the top principal component is not the top contrastive direction."""
    n, d = validation.integer("n", n, minimum=2), validation.integer("d", d, minimum=3)
    g = torch.Generator().manual_seed(validation.integer("seed", seed, minimum=0))
    scale = torch.linspace(3.0, 0.5, d, dtype=torch.float64)
    noise = torch.full((d,), 0.2, dtype=torch.float64)
    noise[:2] = 3.0
    x = torch.randn(n, d, generator=g, dtype=torch.float64) * scale
    return x, x + torch.randn(n, d, generator=g, dtype=torch.float64) * noise


def relu_data(n: int = 256, d: int = 10, noise: float = 0.5, seed: int = 0) -> tuple[Tensor, Tensor]:
    """The generator of ``relu_2layer.py`` in Tian's code: ``x = e_z (m_z + noise * eps)`` with
    ``m = linspace(10, 1)``, class z uniform; the two views get independent eps (float32)."""
    n, d = validation.integer("n", n, minimum=2), validation.integer("d", d, minimum=2)
    noise = validation.at_least("noise", noise)
    g = torch.Generator().manual_seed(validation.integer("seed", seed, minimum=0))
    m = torch.linspace(10.0, 1.0, d)
    z = torch.randint(d, (n,), generator=g)
    onehot = torch.nn.functional.one_hot(z, d).float()
    views = [onehot * (m[z] + noise * torch.randn(n, generator=g))[:, None]
             for _ in range(2)]
    return views[0], views[1]


def _top_eigvec(c: Tensor) -> tuple[float, Tensor]:
    vals, vecs = torch.linalg.eigh(c)
    return float(vals[-1]), vecs[:, -1]


@dataclass(frozen=True)
class LinearResult:
    """Deep linear max player: singular values of ``W = W_L ... W_1``, ``|cos|`` of its top input
    direction with the top eigenvector of C_alpha and with the data's top principal component, the
    energy and ``lambda_max(C_alpha)/2`` (alpha = the weights the max player last held), the ``|cos|``
    with the top eigenvector of C at alpha recomputed from the final W (1 at a fixed point of the
    alternation; equal to ``cos_top_eigvec`` for uniform alpha), ``|cos|`` of the top eigenvector of
    C_alpha with the top principal component (what ``cos_top_pc`` is at the optimum), and the
    trajectory."""

    singular_values: list[float]
    cos_top_eigvec: float
    cos_top_pc: float
    energy: float
    half_lambda_max: float
    stable_rank: float
    cos_self_consistent: float
    cos_eigvec_top_pc: float
    history: dict = field(default_factory=dict)


def _product(ws: list[Tensor]) -> Tensor:
    out = ws[0]
    for w in ws[1:]:
        out = w @ out
    return out


def _linear_report(ws: list[Tensor], c: Tensor, pc: Tensor) -> tuple[float, float, float, float]:
    w = _product(ws)
    lam, u = _top_eigvec(c)
    v1 = torch.linalg.svd(w)[2][0]
    e = 0.5 * torch.trace(w @ c @ w.T)
    return abs(float(v1 @ u)), abs(float(v1 @ pc)), float(e), lam / 2


def deep_linear_max_player(x: Tensor, x_aug: Tensor, widths: tuple[int, ...] = (10, 10, 5),
                           min_player_kind: str | None = None, temperature: float = DEFAULTS.temperature,
                           alpha_exponent: float = 1.0, lr: float = 0.05, steps: int = 3000,
                           refresh: int = 50, log_every: int = 50, seed: int = 0) -> LinearResult:
    """Projected gradient ascent on ``tr(W C_alpha W^T)/2`` with ``||W_l||_F = 1`` after each step;
    ``widths`` are the output sizes of the layers. alpha is uniform, or with
    ``min_player_kind`` recomputed from the current outputs every ``refresh`` steps (alternating
    alpha-CL: min player alpha, max player theta)."""
    validation.integer("steps", steps)
    validation.positive("lr", lr)
    validation.integer("refresh", refresh)
    g = torch.Generator().manual_seed(seed)
    dims = (x.shape[1],) + tuple(widths)
    ws = [torch.randn(o, i, generator=g, dtype=x.dtype) for i, o in zip(dims[:-1], dims[1:])]
    ws = [(w / w.norm()).requires_grad_(True) for w in ws]
    pc = _top_eigvec(torch.cov(x.T))[1]

    def alpha_now() -> Tensor:
        if min_player_kind is None:
            return uniform_alpha(x.shape[0], x.dtype)
        with torch.no_grad():
            return min_player(x @ _product(ws).T, min_player_kind, temperature, alpha_exponent)

    c = contrastive_covariance(x, x_aug, alpha_now())
    history: dict[str, list] = {"step": [], "cos_top_eigvec": [], "cos_top_pc": [], "energy_ratio": []}
    for t in range(steps + 1):
        if t % log_every == 0 or t == steps:  # against the alpha held since the last refresh
            with torch.no_grad():
                ce, cp, e, half = _linear_report(ws, c, pc)
            for key, val in zip(history, (t, ce, cp, e / half)):
                history[key].append(val)
        if t == steps:
            break
        if min_player_kind is not None and t % refresh == 0 and t > 0:
            c = contrastive_covariance(x, x_aug, alpha_now())
        w = _product(ws)
        grads = torch.autograd.grad(0.5 * torch.trace(w @ c @ w.T), ws)
        with torch.no_grad():
            for w_l, g_l in zip(ws, grads):
                w_l += lr * g_l
                w_l /= w_l.norm()
    with torch.no_grad():  # report against the alpha the max player held, then alpha(W_final)
        ce, cp, e, half = _linear_report(ws, c, pc)
        fixed = _linear_report(ws, contrastive_covariance(x, x_aug, alpha_now()), pc)[0]
        w = _product(ws)
        s = torch.linalg.svdvals(w)
        optimum_pc = abs(float(_top_eigvec(c)[1] @ pc))
    return LinearResult([float(v) for v in s / s[0]], ce, cp, e, half, stable_rank(w), fixed, optimum_pc,
                        history)


@dataclass(frozen=True)
class ReluResult:
    """Two-layer max player: stable rank of W1, the number of distinct input dimensions its filters
    pick (argmax |w_k|), their mean concentration ``max_j w_kj^2 / |w_k|^2``, the energy, and W1."""

    stable_rank: float
    distinct_inputs: int
    concentration: float
    energy: float
    w1: np.ndarray


def two_layer_max_player(x: Tensor, x_aug: Tensor, hidden: int = 10, out: int = 20,
                         relu: bool = True, per_filter: bool = True, lr: float = 0.02,
                         steps: int = 3000, seed: int = 0) -> ReluResult:
    """Gradient ascent on E_alpha (uniform alpha) of ``z = W2 act(W1 x)``; after each step W2 is
    Frobenius-normalised and W1 per filter (row) when ``per_filter``, else per layer."""
    validation.integer("steps", steps)
    validation.positive("lr", lr)
    g = torch.Generator().manual_seed(seed)
    w1 = torch.randn(hidden, x.shape[1], generator=g, dtype=x.dtype)
    w2 = torch.randn(out, hidden, generator=g, dtype=x.dtype)
    act = torch.relu if relu else (lambda h: h)
    alpha = uniform_alpha(x.shape[0], x.dtype)

    def project() -> None:
        w1.div_(w1.norm(dim=1, keepdim=True) if per_filter else w1.norm())
        w2.div_(w2.norm())

    project()
    w1.requires_grad_(True)
    w2.requires_grad_(True)
    for _ in range(steps):
        e = energy(act(x @ w1.T) @ w2.T, act(x_aug @ w1.T) @ w2.T, alpha)
        g1, g2 = torch.autograd.grad(e, (w1, w2))
        with torch.no_grad():
            w1 += lr * g1
            w2 += lr * g2
            project()
    with torch.no_grad():
        e = energy(act(x @ w1.T) @ w2.T, act(x_aug @ w1.T) @ w2.T, alpha)
        norms = (w1**2).sum(1, keepdim=True)
        alive = norms[:, 0] > 1e-12 * norms.max()  # per-layer normalisation can kill filters
        share = (w1**2 / norms.clamp_min(1e-300))[alive]
        return ReluResult(stable_rank(w1), int(share.argmax(1).unique().numel()),
                          float(share.max(1).values.mean()), float(e), w1.numpy().copy())
