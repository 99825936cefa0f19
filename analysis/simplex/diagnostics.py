"""Batch diagnostics of uniformity: the distance to Theorem 3's regular simplex, Wang-Isola
uniformity, the collapse statistic and the pair distances of Figure 4 (f-MICL: Lu et al. 2023,
arXiv:2402.10150).

At the regular simplex of N unit vectors (possible for ``N <= d + 1``): ``mean x = 0``,
``x_i.x_j = -1/(N-1)`` and ``||x_i - x_j||^2 = 2N/(N-1)``. The uniformity is Wang & Isola's
``log E exp(-t ||x - y||^2)`` (Wang & Isola 2020, arXiv:2005.10242); the collapse statistic is the
std of L2-normalised features, 0 for a collapsed batch and about ``1/sqrt(d)`` for points uniform
on the sphere (Chen & He 2021, SimSiam, arXiv:2011.10566).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from analysis.gaussian.vmf import log_mean_exp_inner
from fmicl_core.losses import check_embeddings, uniform_loss
from fmicl_core.objective_config import DEFAULTS

__all__ = ["BatchDiagnostics", "PairDistances", "as_features", "collapse_std", "diagnose", "pair_distances",
           "regular_simplex", "uniform_reference"]


def as_features(z: np.ndarray | Tensor, name: str = "z1") -> Tensor:
    """A float64 (N, d) tensor, checked (floating point, finite, 2-D, N >= 2)."""
    t = torch.as_tensor(np.asarray(z) if not isinstance(z, Tensor) else z).detach()
    if not t.is_floating_point():
        raise ValueError(f"{name} has dtype {t.dtype}; features must be floating point")
    check_embeddings(t.to(torch.float64), name=name)
    return t.to(torch.float64)


def collapse_std(z: np.ndarray | Tensor) -> float:
    """Collapse statistic: mean over dimensions of the std (over the batch) of L2-normalised
    features (module docstring). 0 for a collapsed batch, ~1/sqrt(d) for points uniform on the
    sphere."""
    x = F.normalize(as_features(z), dim=1)
    return float(x.std(dim=0).mean())


def uniform_reference(d: int, t: float = DEFAULTS.uniformity_t) -> dict:
    """What the diagnostics read for points uniform on ``S^{d-1}`` (large N): collapse statistic
    ``1/sqrt(d)`` and uniformity ``log E e^{-t||x-y||^2} = -2t + log E e^{2t x.y}``."""
    return {"collapse_std": 1.0 / math.sqrt(d), "uniformity": -2.0 * t + log_mean_exp_inner(d, 2.0 * t)}


@dataclass(frozen=True)
class BatchDiagnostics:
    """How uniform one batch of features is (module docstring). ``sq_distance_rms`` is the RMS of
    ``||x_i - x_j||^2 - 2N/(N-1)`` and ``gram_rms``/``gram_max`` the RMS/max of
    ``|x_i.x_j + 1/(N-1)|`` over pairs i < j; all three and ``centroid_norm`` are 0 exactly at the
    regular simplex (possible only for N <= d + 1)."""

    n: int
    d: int
    centroid_norm: float
    sq_distance_rms: float
    gram_rms: float
    gram_max: float
    uniformity: float
    collapse_std: float
    mean_sq_distance: float
    min_sq_distance: float

    @property
    def is_simplex(self) -> bool:
        """Within 1e-3 of the regular simplex (centroid and every Gram entry)."""
        return self.centroid_norm < 1e-3 and self.gram_max < 1e-3


def diagnose(z: np.ndarray | Tensor, t: float = DEFAULTS.uniformity_t) -> BatchDiagnostics:
    """Diagnostics of a batch of (N, d) features, L2-normalised here; ``t`` is the uniformity's
    temperature."""
    x = F.normalize(as_features(z), dim=1)
    n, d = x.shape
    i, j = torch.triu_indices(n, n, 1)
    gram = (x @ x.T)[i, j]
    sq = (2.0 - 2.0 * gram).clamp(0.0, 4.0)
    return BatchDiagnostics(
        n=n, d=d,
        centroid_norm=float(x.mean(0).norm()),
        sq_distance_rms=float((sq - 2.0 * n / (n - 1)).pow(2).mean().sqrt()),
        gram_rms=float((gram + 1.0 / (n - 1)).pow(2).mean().sqrt()),
        gram_max=float((gram + 1.0 / (n - 1)).abs().max()),
        uniformity=float(uniform_loss(x, t)),
        collapse_std=collapse_std(x),
        mean_sq_distance=float(sq.mean()),
        min_sq_distance=float(sq.min()),
    )


@dataclass(frozen=True)
class PairDistances:
    """Sorted distances ``||x - y||`` of positive pairs (row i of each view) and of negative pairs
    (i < j within the first view), as in f-MICL's Figure 4."""

    positive: np.ndarray
    negative: np.ndarray


def pair_distances(z1: np.ndarray | Tensor, z2: np.ndarray | Tensor) -> PairDistances:
    """Pair distances of L2-normalised views ``z1, z2`` (N, d)."""
    x, y = F.normalize(as_features(z1), dim=1), F.normalize(as_features(z2, "z2"), dim=1)
    if x.shape != y.shape:
        raise ValueError(f"z1 has shape {tuple(x.shape)} but z2 has {tuple(y.shape)}; they must match")
    return PairDistances(np.sort((x - y).norm(dim=1).numpy()), np.sort(torch.pdist(x).numpy()))


def regular_simplex(n: int, d: int) -> np.ndarray:
    """The regular simplex of ``n <= d + 1`` unit vectors in R^d (centred, ``x_i.x_j = -1/(n-1)``):
    the centred standard basis of R^n, normalised and expressed in an orthonormal basis of its span."""
    if not (2 <= n <= d + 1):
        raise ValueError(f"a regular simplex of n={n} points needs 2 <= n <= d + 1 = {d + 1}")
    e = np.eye(n) - 1.0 / n
    e /= np.linalg.norm(e, axis=1, keepdims=True)
    u, _, _ = np.linalg.svd(e.T, full_matrices=False)
    out = np.zeros((n, d))
    out[:, : n - 1] = e @ u[:, : n - 1]  # (n, n-1) coordinates in the span
    return out
