"""The exact log-density of a thickened von Mises-Fisher coupling: the target of the Gaussian check.

The check (:mod:`analysis.gaussian.check`) fits its density model to features thickened by isotropic
noise, ``x~ = x + eps z1``, ``y~ = y + eps z2`` (``z1, z2 ~ N(0, I_d)``), and regresses the model's
``log p(x~, y~)`` on the *clean* squared distance ``||x - y||^2``. For the vMF coupling of
:mod:`analysis.gaussian.vmf` (``x`` uniform on ``S^{d-1}``, ``y | x ~ vMF(x, kappa)``; the Gaussian
kernel of Lu et al. 2023, f-MICL, arXiv:2402.10150, Figure 1, with ``sigma^2 = 1 / kappa``) the density
of the thickened pair in ``R^{2d}`` is known. With ``M_d(k) = E_u exp(k u.e) = Gamma(d/2) (2/k)^(d/2-1)
I_{d/2-1}(k)`` (``u`` uniform on the sphere, ``e`` any unit vector) and ``sigma`` the uniform probability
measure on the sphere,

    p(x~, y~) = C_d(kappa) (2 pi eps^2)^(-d) exp(-(|x~|^2 + 1 + |y~|^2 + 1) / (2 eps^2))
                * integral exp(x~.x / eps^2) M_d(|kappa x + y~ / eps^2|) dsigma(x),

because the integral over ``y``'s sphere is ``M_d`` of ``|kappa x + y~ / eps^2|``. The remaining integral
is ``M_d(|x~| / eps^2)`` times the mean of ``M_d(|kappa x + y~ / eps^2|)`` over ``x ~ vMF(x~/|x~|,
|x~|/eps^2)``. The integrand depends on ``x`` only through ``s = x.y~/|y~|``, and under that vMF
``s = t c + sqrt(1 - t^2) sqrt(1 - c^2) u``, with ``t`` the vMF cosine, ``c`` the cosine of ``x~`` and
``y~``, and ``(u + 1)/2 ~ Beta((d-2)/2, (d-2)/2)`` the coordinate of a uniform tangent direction; so the
mean is a Monte Carlo average over ``draws`` scalar pairs ``(t, u)``.

:func:`target_slope` is the least-squares slope of that exact ``log p`` on the clean distance over pairs
of the coupling: what a perfect density model would give the check. It differs from the simple
``-kappa_eff / 2`` of :func:`analysis.gaussian.check.kernel_slope` once ``eps`` is not small against the
kernel width, because the regressor is the clean distance. :func:`kappa_of_slope` inverts it, so that a
slope converts to the kernel width it implies.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.optimize import brentq
from scipy.special import gammaln, ive

from analysis.gaussian.vmf import VMFCoupling, log_mean_exp_inner, vmf_cosines
from fmicl_core import validation

__all__ = ["kappa_of_slope", "log_density", "log_m", "target_slope"]


def log_m(d: int, k: np.ndarray) -> np.ndarray:
    """``log M_d(k)`` elementwise for ``k > 0`` (module docstring), through the scaled Bessel function."""
    k = np.asarray(k, dtype=np.float64)
    nu = d / 2.0 - 1.0
    return gammaln(d / 2.0) - nu * np.log(k / 2.0) + np.log(ive(nu, k)) + k


def log_density(x_thick, y_thick, kappa: float, noise: float, draws: int = 256, seed: int = 0) -> np.ndarray:
    """The exact ``log p(x~, y~)`` (nats, Lebesgue density on ``R^{2d}``) of the vMF coupling with
    concentration ``kappa`` thickened by noise of std ``noise``, per row of two (n, d) arrays (module
    docstring); ``draws`` Monte Carlo pairs per row."""
    x_thick = np.asarray(x_thick, dtype=np.float64)
    y_thick = np.asarray(y_thick, dtype=np.float64)
    if x_thick.ndim != 2 or x_thick.shape != y_thick.shape or x_thick.shape[1] < 3:
        raise ValueError(f"x~ and y~ must be (n, d) arrays of one shape with d >= 3, got {x_thick.shape} and "
                         f"{y_thick.shape}")
    kappa = validation.positive("kappa", kappa)
    noise = validation.positive("noise", noise)
    draws = validation.integer("draws", draws, minimum=1)
    n, d = x_thick.shape
    a, b = np.linalg.norm(x_thick, axis=1), np.linalg.norm(y_thick, axis=1)
    c = np.clip(np.sum(x_thick * y_thick, axis=1) / (a * b), -1.0, 1.0)
    rng = np.random.default_rng(validation.integer("seed", seed, minimum=0))
    concentration = a / noise**2
    t = vmf_cosines(np.repeat(concentration, draws), d, rng).reshape(n, draws)
    u = 2.0 * rng.beta((d - 2) / 2.0, (d - 2) / 2.0, size=(n, draws)) - 1.0
    s = t * c[:, None] + np.sqrt(np.clip(1 - t * t, 0, None) * (1 - c * c)[:, None]) * u
    w = np.sqrt(kappa**2 + (b / noise**2)[:, None] ** 2 + 2.0 * kappa * (b / noise**2)[:, None] * s)
    inner = log_m(d, w)
    top = inner.max(axis=1)
    mean_inner = top + np.log(np.mean(np.exp(inner - top[:, None]), axis=1))
    return (-log_mean_exp_inner(d, kappa) - d * math.log(2 * math.pi * noise**2)
            - (a**2 + b**2 + 2.0) / (2 * noise**2) + log_m(d, concentration) + mean_inner)


def target_slope(d: int, kappa: float, noise: float, n: int = 20000, draws: int = 256, seed: int = 0) -> float:
    """The least-squares slope of the exact thickened ``log p`` on the clean ``||x - y||^2`` over ``n``
    pairs of the vMF coupling (module docstring): the slope a perfect density model gives the check.
    ``noise = 0`` is the on-sphere density, whose slope is exactly ``-kappa / 2``."""
    if validation.at_least("noise", noise) == 0:
        return -validation.positive("kappa", kappa) / 2.0
    rng = np.random.default_rng(validation.integer("seed", seed, minimum=0))
    x, y = VMFCoupling(d, kappa).sample(validation.integer("n", n, minimum=10), rng)
    logp = log_density(x + noise * rng.standard_normal(x.shape), y + noise * rng.standard_normal(y.shape),
                       kappa, noise, draws, seed)
    distance = np.sum((x - y) ** 2, axis=1)
    dc = distance - distance.mean()
    return float(np.sum(dc * (logp - logp.mean())) / np.sum(dc * dc))


def kappa_of_slope(slope: float, d: int, noise: float, bounds: tuple[float, float] = (0.05, 400.0),
                   **target_options) -> float:
    """The ``kappa`` whose :func:`target_slope` equals ``slope`` (by Brent's method on ``bounds``; the
    same pairs for every ``kappa`` through a fixed seed): the kernel ``1 / sigma^2`` a measured slope
    implies. A slope outside the range the bounds reach is a one-line ``ValueError``."""
    slope = validation.number("slope", slope)

    def gap(kappa: float) -> float:
        return target_slope(d, kappa, noise, **target_options) - slope

    low, high = gap(bounds[0]), gap(bounds[1])
    if not low > 0 > high:
        raise ValueError(f"slope={slope!r} is outside the slopes reached for kappa in {list(bounds)} at d={d}, "
                         f"noise={noise!r}: [{high + slope:.3g}, {low + slope:.3g}]")
    return float(brentq(gap, *bounds, xtol=1e-3, rtol=1e-4))
