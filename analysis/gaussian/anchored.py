"""A known case with non-uniform marginals for the two forms of the Gaussian check.

``x ~ vMF(e_1, kappa0)`` around a fixed direction and ``y | x ~ vMF(x, kappa)``. The conditional is the
Gaussian kernel of Lu et al. 2023 (f-MICL, arXiv:2402.10150, Figure 1) with ``sigma^2 = 1 / kappa``, the
marginals are not uniform, and every density is closed-form (with ``M_d`` of
:mod:`analysis.gaussian.thickened` and ``C_d(k) = 1 / M_d(k)``; densities on the sphere w.r.t. its
uniform probability measure):

    log p(x)    = log C_d(kappa0) + kappa0 x_1
    log p(x, y) = log p(x) + log C_d(kappa) + kappa x.y
    log p(y)    = log C_d(kappa0) + log C_d(kappa) + log M_d(|kappa0 e_1 + kappa y|).

Because ``t = x.y`` is independent of ``x`` (the vMF around ``x`` is the same at every ``x``), the joint's
least-squares slope on ``||x - y||^2 = 2 - 2t`` is the kernel's ``-kappa / 2``. The pointwise mutual
information ``log p(x, y) - log p(x) - log p(y) = log C_d(kappa) + kappa t - log p(y)`` has another
slope, because ``log p(y)`` (larger near ``e_1``) correlates with ``t``: the density ratio of this model is
not a kernel. :func:`exact_slopes` gives both, so the two forms of
:func:`analysis.gaussian.check.verify_gaussian` can be held to their own exact answers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from analysis.gaussian.thickened import log_m
from analysis.gaussian.vmf import log_mean_exp_inner, vmf_around
from fmicl_core import validation

__all__ = ["AnchoredCoupling"]


@dataclass(frozen=True)
class AnchoredCoupling:
    """``x ~ vMF(e_1, anchor)``, ``y | x ~ vMF(x, kappa)`` on ``S^{d-1}`` (module docstring)."""

    d: int = 8
    kappa: float = 10.0
    anchor: float = 10.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "d", validation.integer("d", self.d, minimum=3))
        object.__setattr__(self, "kappa", validation.positive("kappa", self.kappa))
        object.__setattr__(self, "anchor", validation.positive("anchor", self.anchor))

    def sample(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """``n`` pairs as two (n, d) arrays of unit rows."""
        pole = np.zeros((validation.integer("n", n, minimum=1), self.d))
        pole[:, 0] = 1.0
        x = vmf_around(pole, self.anchor, rng)
        return x, vmf_around(x, self.kappa, rng)

    def log_densities(self, x: np.ndarray, y: np.ndarray) -> dict[str, np.ndarray]:
        """``log p(x)``, ``log p(y)``, ``log p(x, y)`` and the pointwise mutual information per pair."""
        log_c0, log_c = -log_mean_exp_inner(self.d, self.anchor), -log_mean_exp_inner(self.d, self.kappa)
        log_px = log_c0 + self.anchor * x[:, 0]
        joint = log_px + log_c + self.kappa * np.sum(x * y, axis=1)
        pole = np.zeros(self.d)
        pole[0] = self.anchor
        log_py = log_c0 + log_c + log_m(self.d, np.linalg.norm(pole + self.kappa * y, axis=1))
        return {"x": log_px, "y": log_py, "joint": joint, "pmi": joint - log_px - log_py}

    def exact_slopes(self, n: int = 200000, seed: int = 0) -> dict[str, float]:
        """The least-squares slopes of the exact ``joint`` and ``pmi`` on ``||x - y||^2`` over ``n`` pairs
        (the kernel's is ``-kappa / 2``)."""
        x, y = self.sample(n, np.random.default_rng(validation.integer("seed", seed, minimum=0)))
        distance = np.sum((x - y) ** 2, axis=1)
        dc = distance - distance.mean()
        logs = self.log_densities(x, y)
        return {form: float(np.sum(dc * (logs[form] - logs[form].mean())) / np.sum(dc * dc)) for form in ("joint", "pmi")}
