"""The von Mises-Fisher coupling on the sphere: a model whose f-mutual information is known.

``x`` is uniform on ``S^{d-1}`` and ``y | x ~ vMF(x, kappa)``. Both marginals are uniform, and the
density ratio depends on ``t = x.y`` only:

    p(x, y) / (p(x) p(y)) = C_d(kappa) exp(kappa t),
    1 / C_d(kappa) = E_{x, y uniform} exp(kappa x.y) = Gamma(d/2) (2/kappa)^(d/2 - 1) I_{d/2-1}(kappa).

This is the Gaussian-kernel assumption of Lu et al. 2023 (f-MICL, arXiv:2402.10150; checked in their
Figure 1) holding exactly: on the sphere ``exp(-||x - y||^2 / (2 sigma^2)) = e^(-1/sigma^2)
exp(x.y / sigma^2)``, a bivariate vMF density with uniform marginals. With ``c = 1/(2 sigma^2) =
kappa/2`` and ``mu = C_d(kappa) e^kappa`` the f-Gaussian ``G = mu exp(-c ||x - y||^2)`` *equals* the
density ratio, so ``s = f'(G)`` is the optimal critic and the population f-MICL objective attains the
f-mutual information ``I_f`` of f-MICL Definition 1 (its variational lower bound, that of f-GAN,
Nowozin et al. 2016, arXiv:1606.00709, is tight).

Under the product of the marginals ``t`` has density ``p0(t) ∝ (1 - t^2)^((d-3)/2)`` on [-1, 1]
(``(t + 1)/2 ~ Beta((d-1)/2, (d-1)/2)``); under the coupling ``p+(t) = C_d(kappa) e^(kappa t) p0(t)``.
Expectations of functions of ``t`` are therefore 1-D Gauss-Jacobi quadratures.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
from scipy.special import gammaln, ive, roots_jacobi

from fmicl_core import validation

__all__ = ["VMFCoupling", "log_mean_exp_inner", "vmf_around", "vmf_cosines"]


def log_mean_exp_inner(d: int, kappa: float) -> float:
    """``log E exp(kappa x.y)`` for independent uniform ``x, y`` on ``S^{d-1}`` (``= -log C_d``).

    ``= log Gamma(d/2) - (d/2 - 1) log(kappa/2) + log I_{d/2-1}(kappa)``, evaluated with the
    exponentially scaled Bessel function ``ive`` so that large ``kappa`` does not overflow; where
    even ``ive`` leaves float64 (a small ``kappa`` in many dimensions) a one-line ``ValueError``.
    """
    d = validation.integer("d", d, minimum=2)
    kappa = validation.at_least("kappa", kappa)
    if kappa == 0:
        return 0.0
    nu = d / 2.0 - 1.0
    scaled = float(ive(nu, kappa))
    if not 0.0 < scaled < math.inf:
        raise ValueError(f"kappa={kappa!r} with d={d} is not allowed: the Bessel function I_{nu:g}(kappa) of the vMF "
                         "normaliser leaves float64; use a larger kappa or a smaller d")
    return float(gammaln(d / 2.0) - nu * math.log(kappa / 2.0) + math.log(scaled) + kappa)


def vmf_cosines(kappa: np.ndarray, d: int, rng: np.random.Generator) -> np.ndarray:
    """One draw of the cosine ``t = mu.y`` of ``y ~ vMF(mu, kappa_i)`` on ``S^{d-1}`` per entry of
    ``kappa`` (positive), by Wood 1994's rejection sampler (accepts ``w`` from a Beta proposal when
    ``kappa w + (d - 1) log(1 - x0 w) - c >= log U``)."""
    kappa = np.asarray(kappa, dtype=np.float64)
    dm1 = d - 1.0
    m = dm1 / 2.0
    b = dm1 / (2.0 * kappa + np.sqrt(4.0 * kappa * kappa + dm1 * dm1))
    x0 = (1.0 - b) / (1.0 + b)
    c = kappa * x0 + dm1 * np.log(1.0 - x0 * x0)
    out = np.empty(kappa.shape)
    todo = np.arange(kappa.size)
    while todo.size:
        z = rng.beta(m, m, size=todo.size)
        w = (1.0 - (1.0 + b[todo]) * z) / (1.0 - (1.0 - b[todo]) * z)
        accept = kappa[todo] * w + dm1 * np.log(1.0 - x0[todo] * w) - c[todo] >= np.log(rng.random(todo.size))
        out[todo[accept]] = w[accept]
        todo = todo[~accept]
    return out


def vmf_around(mean: np.ndarray, kappa: float, rng: np.random.Generator) -> np.ndarray:
    """One draw of ``vMF(mean_i, kappa)`` per unit row of ``mean`` (n, d): ``t mean + sqrt(1 - t^2) v`` with
    ``t`` the vMF cosine (:func:`vmf_cosines`) and ``v`` uniform on the sphere orthogonal to the row."""
    n, d = mean.shape
    g = rng.standard_normal((n, d))
    v = g - np.sum(g * mean, axis=1, keepdims=True) * mean
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    t = vmf_cosines(np.full(n, float(kappa)), d, rng)[:, None]
    return t * mean + np.sqrt(np.clip(1.0 - t * t, 0.0, None)) * v


@dataclass(frozen=True)
class VMFCoupling:
    """``x ~ U(S^{d-1})``, ``y | x ~ vMF(x, kappa)`` (module docstring)."""

    d: int = 3
    kappa: float = 2.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "d", validation.integer("d", self.d, minimum=2))
        object.__setattr__(self, "kappa", validation.positive("kappa", self.kappa))

    @property
    def log_c(self) -> float:
        """``log C_d(kappa)``, the log of the density ratio's normaliser."""
        return -log_mean_exp_inner(self.d, self.kappa)

    def log_ratio(self, t: np.ndarray) -> np.ndarray:
        """``log p(x, y)/(p(x) p(y)) = log C_d + kappa t`` at ``t = x.y``."""
        return self.log_c + self.kappa * np.asarray(t, dtype=np.float64)

    @property
    def sigma(self) -> float:
        """The f-Gaussian width with ``1/(2 sigma^2) = kappa/2``, i.e. ``sigma = kappa^(-1/2)``."""
        return 1.0 / math.sqrt(self.kappa)

    @property
    def mu(self) -> float:
        """The f-Gaussian scale ``mu = C_d e^kappa`` that makes ``G`` the density ratio."""
        return math.exp(self.log_c + self.kappa)

    def expectation(self, fn: Callable[[np.ndarray], np.ndarray], coupled: bool,
                    nodes: int = 200) -> float:
        """``E fn(t)`` under the coupling (``coupled=True``) or the product of the marginals, by
        Gauss-Jacobi quadrature with weight ``(1 - t^2)^((d-3)/2)``."""
        a = (self.d - 3) / 2.0
        t, w = roots_jacobi(nodes, a, a)
        w = w / w.sum()
        if coupled:
            w = w * np.exp(self.log_ratio(t))
        return float(np.sum(w * fn(t)))

    def sample_inner(self, n: int, rng: np.random.Generator, coupled: bool) -> np.ndarray:
        """``n`` draws of ``t = x.y`` under the coupling (Wood 1994's rejection sampler for the vMF
        cosine) or under the product (``(t + 1)/2 ~ Beta((d-1)/2, (d-1)/2)``)."""
        if not coupled:
            m = (self.d - 1) / 2.0
            return 2.0 * rng.beta(m, m, size=n) - 1.0
        return vmf_cosines(np.full(n, self.kappa), self.d, rng)

    def sample(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """``n`` coupled pairs ``(x_i, y_i)`` as two float64 arrays of shape (n, d), unit rows, ``x``
        uniform and ``y = vmf_around(x, kappa)``."""
        x = rng.standard_normal((n, self.d))
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        return x, vmf_around(x, self.kappa, rng)
