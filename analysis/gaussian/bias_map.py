"""The bias map of the Gaussian check: the whole pipeline of :func:`analysis.gaussian.check.verify_gaussian`
(thickening, density model, binning, regression) run on von Mises-Fisher couplings whose answer is
known (:func:`analysis.gaussian.check.measure`), cell by cell over dimension ``d`` and concentration
``kappa``; ``python -m analysis.gaussian_bias_map`` makes one.

Each cell holds the raw slopes of several seeds (a fresh sample, split, thickening and flow fit per seed),
their bootstrap intervals, and the exact target of :func:`analysis.gaussian.thickened.target_slope` (the
slope a perfect density model would give). ``ratio`` (mean raw slope / target) is the pipeline's bias,
``coverage`` the share of seeds whose interval covers the target. The vMF coupling is the Gaussian kernel
of Lu et al. 2023 (f-MICL, arXiv:2402.10150, checked in Figure 1) with ``sigma^2 = 1 / kappa``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["Cell", "Measurement", "cells"]


@dataclass(frozen=True)
class Measurement:
    """One run of the pipeline on one vMF sample: its raw slope and the slope's bootstrap interval."""

    d: int
    kappa: float
    n: int
    seed: int
    slope: float
    ci_low: float
    ci_high: float


@dataclass
class Cell:
    """The measurements of one ``(d, kappa, n)`` and its exact target (module docstring)."""

    d: int
    kappa: float
    n: int
    target: float
    slopes: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    seeds: list[int] = field(default_factory=list)

    @property
    def ratio(self) -> float:
        """Mean raw slope over the target: the pipeline's bias (1 is unbiased)."""
        return float(np.mean(self.slopes) / self.target)

    @property
    def spread(self) -> float:
        """Standard deviation of the raw slopes over seeds, relative to the target."""
        return float(np.std(self.slopes, ddof=1) / abs(self.target)) if len(self.slopes) > 1 else float("nan")

    @property
    def coverage(self) -> float:
        """Share of seeds whose bootstrap interval covers the target."""
        return float(np.mean((self.ci_low <= self.target) & (self.target <= self.ci_high)))


def cells(measurements: list[Measurement], targets: dict[tuple[int, float], float]) -> list[Cell]:
    """Group ``measurements`` by ``(d, kappa, n)`` into cells with their targets (keyed by ``(d, kappa)``)."""
    groups: dict[tuple[int, float, int], list[Measurement]] = {}
    for m in measurements:
        groups.setdefault((m.d, m.kappa, m.n), []).append(m)
    out = []
    for (d, kappa, n), ms in sorted(groups.items()):
        ms = sorted(ms, key=lambda m: m.seed)
        out.append(Cell(d, kappa, n, targets[(d, kappa)], np.array([m.slope for m in ms]),
                        np.array([m.ci_low for m in ms]), np.array([m.ci_high for m in ms]), [m.seed for m in ms]))
    return out
