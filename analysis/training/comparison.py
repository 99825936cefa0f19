"""Trainer runs compared: objectives over seeds, and the alpha ablation, as in f-MICL's Table 2 and
its alpha ablation (Lu et al. 2023, arXiv:2402.10150), at whatever scale the given config sets.

Runs come from :func:`fmicl_core.train.ensure_run`, so a run folder that already holds a run is read,
not trained again; the paper's numbers for the comparison are in :mod:`fmicl_core.paper_settings`.
Every run records the optimisation steps it made (from its ``metrics.jsonl``), so comparisons can be
made at an equal number of steps. Seeds give each cell a Student-t interval
(:func:`t_interval`), and two cells are compared by the interval of their difference paired by seed
(:func:`difference`): "a beats b" holds when that interval lies above 0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from scipy.stats import t as student_t

from fmicl_core import validation
from fmicl_core.config import TrainConfig
from fmicl_core.features import RunFolder

__all__ = ["LEVEL", "RunSummary", "alpha_ablation", "difference", "run_grid", "steps_taken", "summarise",
           "t_interval", "train_summary"]

LEVEL = 0.95
"""Confidence level of every interval over seeds."""

METRICS = ("knn", "linear", "random_knn", "random_linear")


@dataclass(frozen=True)
class RunSummary:
    """One finished run (accuracies in [0, 1]); ``steps`` is the number of optimisation steps it made."""

    objective: str
    seed: int
    alpha: float
    batch_size: int
    steps: int
    knn: float
    linear: float
    random_knn: float
    random_linear: float
    seconds: float


def steps_taken(run_dir: str | Path, batch_size: int) -> int:
    """The optimisation steps of a finished run, from its ``metrics.jsonl``: each epoch's images
    (its throughput times its duration) over the batch size."""
    return sum(round(r["images_per_s"] * r["seconds"] / batch_size) for r in RunFolder(run_dir).read_metrics())


def train_summary(config: TrainConfig) -> RunSummary:
    """The run of ``config``, trained or read (:func:`fmicl_core.train.ensure_run`)."""
    from fmicl_core.train import ensure_run

    result = ensure_run(config)
    return RunSummary(config.objective.name, config.seed, config.objective.alpha, config.batch_size,
                      steps_taken(result.run_dir, config.batch_size), result.knn_acc, result.linear_acc,
                      result.random_knn_acc, result.random_linear_acc, result.seconds)


def run_grid(objective_names: list[str], seeds: list[int], base: TrainConfig) -> list[RunSummary]:
    """Train ``base`` once per objective and seed (run folders named after both)."""
    return [train_summary(replace(base.with_objective(name=o), seed=s, name=f"cmp-{o}-s{s}"))
            for o in objective_names for s in seeds]


def alpha_ablation(objective: str, alphas: list[float], seeds: list[int], base: TrainConfig) -> list[RunSummary]:
    """Train ``base`` with ``objective`` for every alpha and seed. Alpha weighs the negative term
    and leaves the schedule alone, so every run makes the same number of steps."""
    return [train_summary(replace(base.with_objective(name=objective, alpha=a), seed=s,
                                  name=f"alpha-{objective}-{a:g}-s{s}"))
            for a in alphas for s in seeds]


def t_interval(values: list[float], level: float = LEVEL) -> tuple[float, float, float]:
    """``(mean, low, high)``: the mean of ``values`` (one per seed) and its two-sided Student-t
    interval ``mean ± t_{(1+level)/2, n-1} s / sqrt(n)`` (``s`` with ddof = 1); needs n >= 2."""
    x = np.array([validation.number("values", v) for v in values], dtype=float)
    if len(x) < 2:
        raise ValueError(f"values={list(values)!r} is not allowed; an interval over seeds needs at least 2 values")
    validation.unit_interval("level", level, closed_right=False, open_left=True)
    mean, half = float(x.mean()), float(student_t.ppf((1 + level) / 2, len(x) - 1) * x.std(ddof=1) / math.sqrt(len(x)))
    return mean, mean - half, mean + half


def difference(runs: list[RunSummary], key: str, a: object, b: object, metric: str = "knn",
               level: float = LEVEL) -> tuple[float, float, float]:
    """:func:`t_interval` of ``metric`` of the runs with ``key == a`` minus that of the runs with
    ``key == b``, paired by seed (both need the same seeds, at least two)."""
    validation.choice("metric", metric, METRICS)
    by_seed = [{r.seed: getattr(r, metric) for r in runs if getattr(r, key) == v} for v in (a, b)]
    if not by_seed[0] or set(by_seed[0]) != set(by_seed[1]):
        raise ValueError(f"{key}={a!r} has seeds {sorted(by_seed[0])} and {key}={b!r} has seeds "
                         f"{sorted(by_seed[1])}; a paired difference needs the same seeds, at least two")
    return t_interval([by_seed[0][s] - by_seed[1][s] for s in sorted(by_seed[0])], level)


def summarise(runs: list[RunSummary], key: str = "objective") -> dict:
    """``{key value: {"knn": (mean, sd), "linear": ..., "random_knn": ..., "random_linear": ...,
    "knn_ci95": (low, high), "linear_ci95": ..., "n": runs}}`` (sd with ddof=1; sd and the
    :func:`t_interval` bounds are NaN for a single run)."""
    out: dict = {}
    for value in dict.fromkeys(getattr(r, key) for r in runs):
        group = [r for r in runs if getattr(r, key) == value]
        spread = {m: (float(np.mean([getattr(r, m) for r in group])),
                       float(np.std([getattr(r, m) for r in group], ddof=1)) if len(group) > 1 else math.nan)
                  for m in METRICS}
        intervals = {f"{m}_ci95": t_interval([getattr(r, m) for r in group])[1:] if len(group) > 1 else
                     (math.nan, math.nan) for m in ("knn", "linear")}
        out[value] = {**spread, **intervals, "n": len(group)}
    return out
