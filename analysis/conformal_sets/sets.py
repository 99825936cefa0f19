"""Split-conformal sets in an embedding space that cover an anchor's positive (Alkhatib & Tay 2026,
"Contrastive Conformal Sets", arXiv:2603.26261), built as the minimum-volume covering sets (MVCS) of
Braun, Aolaritei, Jordan & Bach 2025, arXiv:2503.19068.

For an anchor embedding ``a`` and its positive ``y`` the residual is ``r = y - a`` and the score the
norm-ball score ``s = ||Lambda r||_p``. The set ``C(a) = {y : ||Lambda (y - a)||_p <= q}`` has

    log vol = -log det Lambda + k log q + log V_{p,k},   V_{p,k} = (2 Gamma(1 + 1/p))^k / Gamma(1 + k/p).

Calibration on n exchangeable pairs: ``q = `` the ``ceil((n + 1)(1 - alpha))``-th smallest score
(infinite when that exceeds n). Then ``P(y in C(a)) >= 1 - alpha`` for a fresh exchangeable pair, and
``<= 1 - alpha + 1/(n + 1)`` without ties: marginal coverage, the split-conformal guarantee (Lei,
G'Sell, Rinaldo, Tibshirani & Wasserman 2018, arXiv:1604.04173), which Alkhatib & Tay's positive
inclusion inherits.

Geometries (``Lambda``, ``p``), all fitted on a shape-fitting split disjoint from the calibration:

- :func:`euclidean_ball`: ``Lambda = I``, ``p = 2`` (distance-based conformal, the baseline);
- :func:`whitened_lp`: ``Lambda`` whitens the fit residuals, ``p`` from a grid by minimum log-volume
  at the fit split's (1 - alpha) quantile (closed form);
- :func:`mvcs`: ``Lambda`` (Cholesky factor with a positive diagonal) and ``p`` learnt by Adam on the
  MVCS loss ``-log det Lambda + k log s_((1 - alpha) n) + log V_{p,k}`` (the order statistic's index is
  chosen under no-grad), as in Braun et al.'s MVCS.

Alkhatib & Tay's abstract names the sets' "learnable generalized multi-norm constraints" without
their form; the global (Lambda, p) norm ball here is the simplest such set.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from fmicl_core import validation

__all__ = ["ConformalSet", "Geometry", "P_GRID", "calibrate", "conformal_quantile", "euclidean_ball",
           "evaluate", "log_unit_ball_volume", "miscoverage", "mvcs", "whitened_lp"]

P_GRID = (1.0, 1.5, 2.0, 3.0, 4.0, math.inf)


def miscoverage(alpha: float, name: str = "alpha") -> float:
    """The miscoverage level ``alpha`` in the open interval (0, 1), or a one-line ``ValueError``
    that calls it ``name``."""
    return validation.unit_interval(name, alpha, closed_right=False, open_left=True)


def log_unit_ball_volume(p: float, k: int) -> float:
    """``log V_{p,k}``: the log-volume of the unit lp ball in R^k (``k log 2`` for p = inf)."""
    if not p > 0:
        raise ValueError(f"p={p!r} is not allowed; it must be > 0")
    validation.integer("k", k)
    if math.isinf(p):
        return k * math.log(2.0)
    return k * (math.log(2.0) + math.lgamma(1.0 + 1.0 / p)) - math.lgamma(1.0 + k / p)


def conformal_quantile(scores: np.ndarray, alpha: float) -> float:
    """The ``ceil((n + 1)(1 - alpha))``-th smallest of n calibration scores (inf if beyond n)."""
    miscoverage(alpha)
    scores = np.asarray(scores, dtype=float)
    if scores.ndim != 1 or scores.size == 0 or not np.isfinite(scores).all():
        raise ValueError("scores must be a non-empty 1-D array of finite numbers")
    k = math.ceil((scores.size + 1) * (1.0 - alpha))
    return math.inf if k > scores.size else float(np.partition(scores, k - 1)[k - 1])


@dataclass(frozen=True)
class Geometry:
    """The shape of a norm-ball set: ``s(r) = ||Lambda r||_p`` (``lam`` is (k, k), invertible)."""

    lam: np.ndarray
    p: float
    name: str = ""

    def score(self, residuals: np.ndarray) -> np.ndarray:
        """``||Lambda r||_p`` for every row r of ``residuals`` (n, k)."""
        residuals = _check_rows(residuals, self.lam.shape[0])
        return np.linalg.norm(residuals @ self.lam.T, ord=self.p, axis=1)

    def log_volume(self, q: float) -> float:
        """``-log det Lambda + k log q + log V_{p,k}`` of the set ``{r : s(r) <= q}``."""
        k = self.lam.shape[0]
        return -np.linalg.slogdet(self.lam)[1] + k * math.log(q) + log_unit_ball_volume(self.p, k)


def _check_rows(x: np.ndarray, k: int | None = None) -> np.ndarray:
    x = np.asarray(x, dtype=float)
    if x.ndim != 2 or (k is not None and x.shape[1] != k):
        want = f"(n, {k})" if k is not None else "(n, k)"
        raise ValueError(f"array of shape {x.shape} is not allowed; residuals must be {want}")
    if not np.isfinite(x).all():
        raise ValueError("residuals contain NaN or inf; embeddings must be finite")
    return x


def euclidean_ball(k: int) -> Geometry:
    """The distance-based baseline ``||r||_2``."""
    return Geometry(np.eye(k), 2.0, "Euclidean ball")


def _whitening(residuals: np.ndarray, ridge: float = 1e-6) -> np.ndarray:
    """``M^{-1/2}`` of the second moment ``M = E[r r^T]`` (around the anchor), ridge-regularised."""
    m = residuals.T @ residuals / residuals.shape[0]
    m += ridge * np.trace(m) / m.shape[0] * np.eye(m.shape[0])
    vals, vecs = np.linalg.eigh(m)
    return vecs @ np.diag(vals**-0.5) @ vecs.T


def whitened_lp(fit_residuals: np.ndarray, alpha: float, p_grid: tuple[float, ...] = P_GRID) -> Geometry:
    """Whitened lp ball with p chosen by minimum log-volume at the fit split's (1 - alpha) quantile."""
    fit_residuals = _check_rows(fit_residuals)
    lam = _whitening(fit_residuals)
    best = min(p_grid, key=lambda p: Geometry(lam, p).log_volume(
        conformal_quantile(Geometry(lam, p).score(fit_residuals), alpha)))
    return Geometry(lam, best, f"whitened l{best:g} (vol-min)")


def _torch_lp(v: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
    """Row-wise ``||v||_p`` for a tensor p, computed as ``m ||v / m||_p`` (m the max |v|); entries are
    floored at 1e-30 so that d/dp of ``0^p`` is 0, not NaN (identical views give zero residuals)."""
    a = v.abs().clamp_min(1e-30)
    m = a.max(1, keepdim=True).values
    return m[:, 0] * ((a / m) ** p).sum(1) ** (1.0 / p)


def mvcs(fit_residuals: np.ndarray, alpha: float, steps: int = 200, lr: float = 0.03,
         p_min: float = 0.5, seed: int = 0) -> Geometry:
    """MVCS-style gradient fit of ``Lambda = L`` (lower triangular, positive diagonal through exp)
    and ``p = p_min + softplus(rho)``, by Adam on ``-log det L + k log s_(ceil((1 - alpha) n)) +
    log V_{p,k}`` from the whitened l2 start."""
    fit_residuals = _check_rows(fit_residuals)
    miscoverage(alpha)
    validation.integer("steps", steps)
    validation.positive("lr", lr)
    torch.manual_seed(seed)
    r = torch.as_tensor(fit_residuals, dtype=torch.float64)
    n, k = r.shape
    chol = np.linalg.cholesky(_whitening(fit_residuals))  # start: Lambda^T Lambda = M^{-1}
    tril = torch.tensor(np.tril(chol, -1), dtype=torch.float64, requires_grad=True)
    log_diag = torch.tensor(np.log(np.diag(chol)), dtype=torch.float64, requires_grad=True)
    rho = torch.tensor(math.log(math.expm1(2.0 - p_min)), dtype=torch.float64, requires_grad=True)
    index = min(n, math.ceil((1.0 - alpha) * n)) - 1
    opt = torch.optim.Adam([tril, log_diag, rho], lr=lr)
    mask = torch.tril(torch.ones(k, k, dtype=torch.bool), -1)

    def lam_p() -> tuple[torch.Tensor, torch.Tensor]:
        return torch.diag(log_diag.exp()) + tril * mask, p_min + torch.nn.functional.softplus(rho)

    for _ in range(steps):
        lam, p = lam_p()
        s = _torch_lp(r @ lam.T, p)
        with torch.no_grad():
            i = torch.argsort(s)[index]
        log_v = k * (math.log(2.0) + torch.lgamma(1.0 + 1.0 / p)) - torch.lgamma(1.0 + k / p)
        loss = -log_diag.sum() + k * torch.log(s[i]) + log_v
        opt.zero_grad()
        loss.backward()
        opt.step()
    lam, p = lam_p()
    lam, p = lam.detach().numpy(), float(p.detach())
    return Geometry(lam, p, f"MVCS (learnt l{p:.2g})")


@dataclass(frozen=True)
class ConformalSet:
    """A calibrated set: geometry and threshold ``q``."""

    geometry: Geometry
    q: float

    def contains(self, anchors: np.ndarray, points: np.ndarray) -> np.ndarray:
        """Whether each ``points[i]`` lies in the set around ``anchors[i]``."""
        return self.geometry.score(np.asarray(points) - np.asarray(anchors)) <= self.q

    @property
    def log_volume(self) -> float:
        return self.geometry.log_volume(self.q)


def calibrate(geometry: Geometry, anchors: np.ndarray, positives: np.ndarray, alpha: float) -> ConformalSet:
    """Split-conformal threshold from calibration pairs (anchor i, positive i)."""
    return ConformalSet(geometry, conformal_quantile(geometry.score(np.asarray(positives) - np.asarray(anchors)),
                                                     alpha))


def evaluate(cset: ConformalSet, anchors: np.ndarray, positives: np.ndarray,
             negatives: np.ndarray) -> dict[str, float]:
    """Positive coverage, negative exclusion and log-volume on test pairs (negatives[i] is a
    negative of anchors[i])."""
    return {"coverage": float(cset.contains(anchors, positives).mean()),
            "exclusion": float(1.0 - cset.contains(anchors, negatives).mean()),
            "log_volume": cset.log_volume}
