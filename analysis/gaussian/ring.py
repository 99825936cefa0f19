"""The ring coupling: positive pairs whose joint log-density is *not* monotone in the distance, the
negative control of :mod:`analysis.gaussian.check` (the check of the Gaussian-kernel assumption of
Lu et al. 2023, f-MICL, arXiv:2402.10150, Figure 1).

x is uniform on S^{d-1} and y lies at the geodesic angle ``theta ~ N(angle, jitter^2)`` (folded into
[0, pi]) from x, in a uniform tangent direction. With respect to the uniform measure on the sphere the
joint log-density is ``const - (theta - angle)^2 / (2 jitter^2) - (d - 2) log sin theta`` with
``||x - y||^2 = 2 - 2 cos theta``: for a small jitter it rises and then falls with the distance (a ring),
so it is not the Gaussian kernel ``exp(-||x - y||^2 / (2 sigma^2))`` of any sigma.
"""

from __future__ import annotations

import numpy as np

from fmicl_core import validation

__all__ = ["ring_pairs"]


def ring_pairs(
    n: int, d: int, angle: float, jitter: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` ring pairs (module docstring) as two float64 (n, d) arrays of unit rows."""
    n, d = validation.integer("n", n), validation.integer("d", d, minimum=2)
    if not 0.0 < validation.number("angle", angle) < np.pi:
        raise ValueError(f"angle={angle!r} is not allowed; it must lie in (0, pi)")
    jitter = validation.positive("jitter", jitter)
    x = rng.standard_normal((n, d))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    v = rng.standard_normal((n, d))
    v -= np.sum(v * x, axis=1, keepdims=True) * x
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    theta = np.abs(angle + jitter * rng.standard_normal((n, 1)))
    theta = np.where(theta > np.pi, 2.0 * np.pi - theta, theta)
    return x, np.cos(theta) * x + np.sin(theta) * v
