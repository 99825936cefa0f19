"""The calibrated slope of the Gaussian check: the raw slope read through the pipeline's own bias map.

The raw slope of :func:`analysis.gaussian.check.verify_gaussian` is biased, by an amount that depends on
the dimension and the kernel width (:mod:`analysis.gaussian.bias_map`), and its bootstrap interval holds
the density model fixed. The calibration treats the whole pipeline as an instrument measured on von
Mises-Fisher couplings, the Gaussian kernel with ``sigma^2 = 1 / kappa`` (Lu et al. 2023, f-MICL,
arXiv:2402.10150, Figure 1), at the same settings (sample size, thickening, flow):

* the **calibration curve** ``m(kappa)`` is the mean raw slope of the map's seeds at ``kappa`` and
  ``s(kappa)`` their standard deviation (new sample, split, thickening and flow fit per seed), both
  interpolated linearly in ``log kappa`` (``log |m|`` and ``s / |m|``) and, between the map's dimensions,
  in ``log d``;
* the **calibrated kappa** solves ``m(kappa) = raw``; the calibrated slope is ``-kappa / 2`` and the
  implied kernel width ``sigma^2 = 1 / kappa``;
* its **interval** is the set of ``kappa`` whose band ``m(kappa) +- q s(kappa) sqrt(1 + 1/S)`` holds the raw
  slope (a confidence belt inverted; ``q`` the t quantile of the ``S`` seeds), so it includes the
  variation from refitting the flow and from the finite map.

A curve is defined on the map's ``kappa`` range only: a raw slope outside it, or at settings the map was
not made with, is not calibrated (NaN, with the reason) unless :func:`analysis.gaussian.check.surrogate_curve` measures a curve at
the data's own settings (a parametric bootstrap on vMF surrogates).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
from scipy import stats

from analysis.gaussian.bias_map import Cell, Measurement, cells
from fmicl_core import validation

__all__ = ["MAP_FILE", "CalibratedSlope", "CalibrationMap", "Curve", "by_cell", "calibrate", "leave_one_seed_out",
           "load_map", "uncalibrated"]

MAP_FILE = Path(__file__).resolve().parent / "calibration_map.json"
"""The committed bias map at the command's default settings (``python -m analysis.gaussian_bias_map``)."""


def _extrapolated(x: np.ndarray, knots: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Piecewise-linear interpolation through ``(knots, values)``, continued along the end segments."""
    inner = np.interp(x, knots, values)
    left = values[0] + (x - knots[0]) * (values[1] - values[0]) / (knots[1] - knots[0])
    right = values[-1] + (x - knots[-1]) * (values[-1] - values[-2]) / (knots[-1] - knots[-2])
    return np.where(x < knots[0], left, np.where(x > knots[-1], right, inner))


@dataclass(frozen=True)
class Curve:
    """The calibration curve of one dimension and sample size on a fine grid of ``kappa``."""

    d: int
    n: int
    kappa: np.ndarray
    mean: np.ndarray
    sd: np.ndarray
    seeds: int
    source: str

    @classmethod
    def from_cells(cls, cells_of_d: list[Cell], source: str, extend: float = 1.5, points: int = 400) -> "Curve":
        """The curve through the cells of one ``(d, n)`` (module docstring), carried a factor ``extend``
        beyond the first and last ``kappa`` along the end segments (so that a seed at an end cell can fall
        beyond the mean and still be read)."""
        cells_of_d = sorted(cells_of_d, key=lambda c: c.kappa)
        knots = np.log([c.kappa for c in cells_of_d])
        means = np.array([np.mean(c.slopes) for c in cells_of_d])
        if len(cells_of_d) < 2 or not np.all(means < 0):
            raise ValueError(f"a calibration curve needs >= 2 kappas with a negative mean raw slope, got means "
                             f"{means.round(3).tolist()}")
        log_k = np.linspace(knots[0] - math.log(extend), knots[-1] + math.log(extend), points)
        log_mean = _extrapolated(log_k, knots, np.log(-means))
        rel_sd = np.interp(log_k, knots, [np.std(c.slopes, ddof=1) / -np.mean(c.slopes) for c in cells_of_d])
        return cls(cells_of_d[0].d, cells_of_d[0].n, np.exp(log_k), -np.exp(log_mean), rel_sd * np.exp(log_mean),
                   min(len(c.slopes) for c in cells_of_d), source)

    def blend(self, other: "Curve", weight: float, d: int) -> "Curve":
        """The curve of dimension ``d`` between two map dimensions: ``log |m|`` and ``s / |m|`` mixed with
        ``weight`` on ``other`` (on a common grid)."""
        log_mean = (1 - weight) * np.log(-self.mean) + weight * np.interp(self.kappa, other.kappa, np.log(-other.mean))
        rel = (1 - weight) * self.sd / -self.mean + weight * np.interp(self.kappa, other.kappa, other.sd / -other.mean)
        return Curve(d, self.n, self.kappa, -np.exp(log_mean), rel * np.exp(log_mean), min(self.seeds, other.seeds),
                     f"{self.source}, between d={self.d} and d={other.d}")


@dataclass(frozen=True)
class CalibratedSlope:
    """A raw slope read through a calibration curve (module docstring); NaN with ``note`` when it cannot be."""

    raw: float
    slope: float
    ci: tuple[float, float]
    kappa: float
    kappa_ci: tuple[float, float]
    sigma2: float
    sigma2_ci: tuple[float, float]
    source: str
    note: str = ""

    @property
    def calibrated(self) -> bool:
        return math.isfinite(self.slope)

    def covers(self, slope: float) -> bool:
        """Whether the interval holds ``slope`` (False when not calibrated)."""
        return self.calibrated and self.ci[0] <= slope <= self.ci[1]


def uncalibrated(raw: float, source: str, note: str) -> CalibratedSlope:
    """The raw slope with NaN in place of the calibrated numbers and the reason in ``note``."""
    nan = float("nan")
    return CalibratedSlope(raw, nan, (nan, nan), nan, (nan, nan), nan, (nan, nan), source, note)


def calibrate(raw: float, curve: Curve, confidence: float = 0.95) -> CalibratedSlope:
    """The calibrated slope, kappa and ``sigma^2 = 1 / kappa`` of the raw slope ``raw`` on ``curve``,
    with intervals at ``confidence`` (module docstring)."""
    raw = validation.number("raw slope", raw)
    confidence = validation.unit_interval("confidence", confidence, closed_right=False, open_left=True)
    if not curve.mean[-1] <= raw <= curve.mean[0]:
        return uncalibrated(raw, curve.source, f"raw slope {raw:.3g} is outside the curve's range "
                             f"[{curve.mean[-1]:.3g}, {curve.mean[0]:.3g}] (kappa {curve.kappa[0]:g} to "
                             f"{curve.kappa[-1]:g})")
    order = np.argsort(curve.mean)
    kappa = float(np.exp(np.interp(raw, curve.mean[order], np.log(curve.kappa[order]))))
    half = stats.t.ppf(0.5 + confidence / 2, max(curve.seeds - 1, 1)) * curve.sd * math.sqrt(1 + 1 / curve.seeds)
    inside = curve.kappa[(curve.mean - half <= raw) & (raw <= curve.mean + half)]
    low, high = float(inside.min(initial=kappa)), float(inside.max(initial=kappa))
    note = "the interval reaches the curve's end" if low == curve.kappa[0] or high == curve.kappa[-1] else ""
    return CalibratedSlope(raw, -kappa / 2, (-high / 2, -low / 2), kappa, (low, high), 1 / kappa,
                           (1 / high, 1 / low), curve.source, note)


@dataclass
class CalibrationMap:
    """The measurements of a bias map, its exact targets and the settings it was made with."""

    measurements: list[Measurement]
    targets: dict[tuple[int, float], float]
    settings: dict

    @cached_property
    def cells(self) -> list[Cell]:
        return cells(self.measurements, self.targets)

    def applies(self, settings: dict, d: int, n: int, slope: float, size_tolerance: float = 1.25) -> str:
        """Empty when the map can calibrate ``slope`` measured at ``settings`` (those of
        :func:`analysis.gaussian.check.check_settings`) on ``n`` pairs of dimension ``d``, else why not."""
        for key, value in self.settings.items():
            if settings.get(key) != value:
                return f"{key}={settings.get(key)!r} differs from the map's {value!r}"
        cells_ = self.cells
        sizes, dims = sorted({c.n for c in cells_}), sorted({c.d for c in cells_})
        if not any(s / size_tolerance <= n <= s * size_tolerance for s in sizes):
            return f"n={n} pairs is not within a factor {size_tolerance} of the map's sample sizes {sizes}"
        if not dims[0] <= d <= dims[-1]:
            return f"d={d} is outside the map's dimensions {dims}"
        curve = self.curve(d, n)
        if not curve.mean[-1] <= slope <= curve.mean[0]:
            return f"raw slope {slope:.3g} is outside the map's range [{curve.mean[-1]:.3g}, {curve.mean[0]:.3g}] at d={d}"
        return ""

    def curve(self, d: int, n: int) -> Curve:
        """The calibration curve of dimension ``d`` at the map's sample size nearest to ``n`` (in
        ``log n``); between two map dimensions the curves are blended in ``log d``. A ``d`` outside the
        map's dimensions is a one-line ``ValueError``."""
        d = validation.integer("d", d, minimum=2)
        all_cells = self.cells
        sizes = sorted({c.n for c in all_cells})
        size = min(sizes, key=lambda s: abs(math.log(s / n)))
        dims = sorted({c.d for c in all_cells if c.n == size})
        if not dims[0] <= d <= dims[-1]:
            raise ValueError(f"d={d} is outside the calibration map's dimensions {dims}")
        source = f"bias map, n={size}"

        def of(dim: int) -> Curve:
            return Curve.from_cells([c for c in all_cells if c.d == dim and c.n == size], source)

        below, above = max(x for x in dims if x <= d), min(x for x in dims if x >= d)
        if below == above:
            return of(d)
        weight = math.log(d / below) / math.log(above / below)
        return of(below).blend(of(above), weight, d)


def load_map(path: Path | str = MAP_FILE) -> CalibrationMap:
    """The bias map stored at ``path`` (default: the committed one), or in the JSON that ``python -m
    analysis.gaussian_bias_map`` writes (the map is its ``numbers``); a missing or unreadable file is a
    one-line ``ValueError``."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
        data = data.get("numbers", data)
        return CalibrationMap([Measurement(**m) for m in data["measurements"]],
                              {(t["d"], float(t["kappa"])): t["target"] for t in data["targets"]}, data["settings"])
    except (OSError, json.JSONDecodeError, KeyError, TypeError) as err:
        raise ValueError(f"calibration map {str(path)!r} cannot be read ({type(err).__name__}: {err})") from None


def leave_one_seed_out(measurements: list[Measurement], targets: dict[tuple[int, float], float],
                       confidence: float = 0.95) -> list[dict]:
    """Out-of-sample accuracy of the calibration: each seed's raw slope read through the curve made
    from the other seeds of its ``(d, n)``; one row per measurement with the calibrated slope, its
    ratio to the truth ``-kappa / 2`` and whether its interval covers the truth."""
    rows = []
    for m in measurements:
        others = [o for o in measurements if o.d == m.d and o.n == m.n and o.seed != m.seed]
        curve = Curve.from_cells(cells(others, targets), "leave one seed out")
        result = calibrate(m.slope, curve, confidence)
        truth = -m.kappa / 2
        rows.append({"d": m.d, "kappa": m.kappa, "n": m.n, "seed": m.seed, "raw": m.slope,
                     "raw_ratio": m.slope / targets[(m.d, m.kappa)], "calibrated": result.slope,
                     "ratio": result.slope / truth, "covered": result.covers(truth), "note": result.note})
    return rows


def by_cell(holdout: list[dict]) -> dict[tuple[int, float, int], tuple[float, float]]:
    """Per ``(d, kappa, n)`` of :func:`leave_one_seed_out`'s rows: the mean calibrated slope over the
    truth (seeds that could not be calibrated left out) and the share of seeds whose interval covers
    the truth."""
    groups: dict[tuple[int, float, int], list[dict]] = {}
    for r in holdout:
        groups.setdefault((r["d"], r["kappa"], r["n"]), []).append(r)
    return {key: (float(np.nanmean([r["ratio"] for r in rows])), float(np.mean([r["covered"] for r in rows])))
            for key, rows in groups.items()}
