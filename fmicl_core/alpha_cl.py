"""The alpha-CL losses of Tian (NeurIPS 2022, "Understanding Deep Contrastive Learning via
Coordinate-wise Optimization", arXiv:2201.12680) as training objectives: the pairwise importance
weights of its Theorem 1 and the new losses it derives from them.

Distances are Tian's half squared distances of L2-normalised embeddings,
``d2_ij = ||z_i - z_j||^2 / 2 = 1 - cos(z_i, z_j)``. The min player picks pairwise importance weights
``alpha`` from the negative distances (under no-grad); the max player descends the "dual2" loss

    L = (1 / tau) * mean_i  sum_{j != i, i'} alpha~_ij (d2_i - d2_ij),
    alpha~_ij = w_ij / (sum_k w_ik + eps_alpha (2N - 2))

over the 2N views of a SimCLR batch (each view is an anchor; its positive is the other view of the
same sample; its 2N - 2 negatives are the views of the other samples). Weights ``w``:

- ``exp``: ``w_ij = exp(-(d2_ij)^e / tau)``; e = 1 is InfoNCE's Gibbs weight (p = 2), e = 2 is the
  paper's "p = 4" loss (``alpha_exponent = p / 2``);
- ``quadratic``: the min player with the regulariser ``tau/2 ||alpha_i||^2`` on the simplex, i.e.
  the Euclidean projection of ``-d2_i / tau`` onto the simplex (sparse: far negatives get 0);
- ``inverse``: ``w_ij = (d2_ij + tau)^(-q)`` with ``q = alpha_exponent``.

The ``1 / tau`` factor makes the gradient of the ``exp`` loss with e = 1 and eps_alpha = 0 equal to
that of InfoNCE without the positive in the denominator (a test checks this). The normalisation
works on ``log w`` less its row maximum, so that it holds when every ``w_ij`` of a row underflows
(far negatives at a small temperature).
"""

from __future__ import annotations

import torch
from torch import Tensor

from fmicl_core import validation
from fmicl_core.losses import check_embeddings, unit_rows
from fmicl_core.objective_config import DEFAULTS, ObjectiveConfig, checked, hyper

__all__ = ["WEIGHTS", "alpha_cl_loss", "alpha_weights", "dual2_normalise", "dual2_weights", "loss_fn",
           "simplex_projection", "two_view_distances"]

WEIGHTS = ("exp", "quadratic", "inverse")
DEFAULT_EXPONENT = {"exp": 2.0, "quadratic": 1.0, "inverse": 1.0}  # exp: the paper's p = 4


def simplex_projection(v: Tensor) -> Tensor:
    """Row-wise Euclidean projection onto the probability simplex (Held et al. 1974; Duchi et al.
    2008): ``[v_j - theta]_+`` with the threshold ``theta`` making each row sum to one."""
    k = v.shape[-1]
    u, _ = torch.sort(v, dim=-1, descending=True)
    css = u.cumsum(-1) - 1.0
    ks = torch.arange(1, k + 1, device=v.device, dtype=v.dtype)
    active = (u - css / ks) > 0
    rho = active.to(v.dtype).cumsum(-1).argmax(-1, keepdim=True)  # last active index
    theta = css.gather(-1, rho) / (rho + 1).to(v.dtype)
    return (v - theta).clamp(min=0.0)


def _log_weights(d2_neg: Tensor, kind: str, temperature: object, alpha_exponent: object) -> Tensor:
    """``log w_ij`` of :func:`alpha_weights`, its arguments checked."""
    validation.choice("alpha weights", kind, WEIGHTS)
    temperature = hyper("temperature", temperature)
    alpha_exponent = hyper("alpha_exponent", alpha_exponent)
    if kind == "exp":
        return -d2_neg.clamp(min=0.0).pow(alpha_exponent) / temperature
    if kind == "quadratic":
        return simplex_projection(-d2_neg / temperature).log()
    return -alpha_exponent * (d2_neg.clamp(min=0.0) + temperature).log()


def alpha_weights(d2_neg: Tensor, kind: str = "exp", temperature: float = DEFAULTS.temperature,
                  alpha_exponent: float = DEFAULT_EXPONENT["exp"]) -> Tensor:
    """Unnormalised min-player weights ``w_ij`` from the negative distances ``d2_neg`` (rows =
    anchors), module docstring; ``quadratic`` returns the simplex projection (rows sum to one)."""
    return _log_weights(d2_neg, kind, temperature, alpha_exponent).exp()


def dual2_normalise(w: Tensor, alpha_eps: float = DEFAULTS.alpha_eps) -> Tensor:
    """``alpha~_ij = w_ij / (sum_k w_ik + eps_alpha * K)`` with K the number of negatives per row, for
    given weights ``w`` (:func:`dual2_weights` computes it from the distances without underflow)."""
    alpha_eps = hyper("alpha_eps", alpha_eps)
    return w / (w.sum(-1, keepdim=True) + alpha_eps * w.shape[-1])


def dual2_weights(d2_neg: Tensor, kind: str = "exp", temperature: float = DEFAULTS.temperature,
                  alpha_exponent: float = DEFAULT_EXPONENT["exp"], alpha_eps: float = DEFAULTS.alpha_eps) -> Tensor:
    """``alpha~_ij = w_ij / (sum_k w_ik + eps_alpha * K)`` with ``w`` of :func:`alpha_weights` and K
    the number of negatives per row, computed from ``log w`` less its row maximum ``m``:
    ``alpha~ = e^(log w - m) / (sum_k e^(log w_k - m) + eps_alpha K e^-m)``."""
    alpha_eps = hyper("alpha_eps", alpha_eps)
    log_w = _log_weights(d2_neg, kind, temperature, alpha_exponent)
    top = log_w.amax(-1, keepdim=True)
    w = torch.exp(log_w - top)
    floor = alpha_eps * w.shape[-1] * torch.exp(-top) if alpha_eps > 0 else 0.0
    return w / (w.sum(-1, keepdim=True) + floor)


def two_view_distances(z1: Tensor, z2: Tensor) -> tuple[Tensor, Tensor]:
    """Half squared distances ``1 - cos`` of the 2N views (z1, z2: checked (N, d) embeddings, N >= 2):
    positives (2N,) and negatives (2N, 2N - 2) (each row without the anchor itself and its positive)."""
    check_embeddings(z1, z2)
    z = unit_rows(torch.cat([z1, z2]))
    n2 = z.shape[0]
    n = n2 // 2
    d2 = 1.0 - z @ z.T
    idx = torch.arange(n2, device=z.device)
    partner = (idx + n) % n2
    d2_pos = d2[idx, partner]
    keep = torch.ones(n2, n2, dtype=torch.bool, device=z.device)
    keep[idx, idx] = False
    keep[idx, partner] = False
    return d2_pos, d2[keep].view(n2, n2 - 2)


def alpha_cl_loss(z1: Tensor, z2: Tensor, kind: str = "exp", temperature: float = DEFAULTS.temperature,
                  alpha_exponent: float = DEFAULT_EXPONENT["exp"], alpha_eps: float = DEFAULTS.alpha_eps) -> Tensor:
    """The dual2 alpha-CL loss (module docstring) of two (N, d) batches of views; to minimise."""
    temperature = hyper("temperature", temperature)
    d2_pos, d2_neg = two_view_distances(z1, z2)
    with torch.no_grad():
        alpha = dual2_weights(d2_neg, kind, temperature, alpha_exponent, alpha_eps)
    return (alpha * (d2_pos[:, None] - d2_neg)).sum(1).mean() / temperature


def loss_fn(kind: str, config: ObjectiveConfig = DEFAULTS):
    """``fn(z1, z2)`` for the objective registry: the dual2 loss with weights ``kind`` and the
    temperature, exponent (unset: the kind's own) and eps_alpha of ``config``."""
    validation.choice("alpha weights", kind, WEIGHTS)
    exponent = DEFAULT_EXPONENT[kind] if checked(config).alpha_exponent is None else config.alpha_exponent

    def fn(z1: Tensor, z2: Tensor) -> Tensor:
        return alpha_cl_loss(z1, z2, kind, config.temperature, exponent, config.alpha_eps)

    return fn
