"""Trainer runs compared: objectives over seeds, and the alpha ablation, as in f-MICL's Table 2 and
its alpha ablation (Lu et al. 2023, arXiv:2402.10150), at whatever scale the given config sets.

Runs come from :func:`fmicl_core.train.ensure_run`, so a run folder that already holds a run is read,
not trained again; the paper's numbers for the comparison are in :mod:`fmicl_core.paper_settings`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from fmicl_core.config import TrainConfig

__all__ = ["RunSummary", "alpha_ablation", "run_grid", "summarise"]


@dataclass(frozen=True)
class RunSummary:
    """One finished run (accuracies in [0, 1])."""

    objective: str
    seed: int
    alpha: float
    knn: float
    linear: float
    random_knn: float
    random_linear: float
    seconds: float


def _run(config: TrainConfig) -> RunSummary:
    from fmicl_core.train import ensure_run

    result = ensure_run(config)
    return RunSummary(config.objective.name, config.seed, config.objective.alpha, result.knn_acc,
                      result.linear_acc, result.random_knn_acc, result.random_linear_acc, result.seconds)


def run_grid(objective_names: list[str], seeds: list[int], base: TrainConfig) -> list[RunSummary]:
    """Train ``base`` once per objective and seed (run folders named after both)."""
    return [_run(replace(base.with_objective(name=o), seed=s, name=f"cmp-{o}-s{s}"))
            for o in objective_names for s in seeds]


def alpha_ablation(objective: str, alphas: list[float], seeds: list[int], base: TrainConfig) -> list[RunSummary]:
    """Train ``base`` with ``objective`` for every alpha and seed."""
    return [_run(replace(base.with_objective(name=objective, alpha=a), seed=s, name=f"alpha-{objective}-{a:g}-s{s}"))
            for a in alphas for s in seeds]


def summarise(runs: list[RunSummary], key: str = "objective") -> dict:
    """``{key value: {"knn": (mean, sd), "linear": (mean, sd), "n": runs}}`` (sd with ddof=1)."""
    out: dict = {}
    for value in dict.fromkeys(getattr(r, key) for r in runs):
        group = [r for r in runs if getattr(r, key) == value]
        stats = {m: (float(np.mean([getattr(r, m) for r in group])),
                     float(np.std([getattr(r, m) for r in group], ddof=1)) if len(group) > 1 else float("nan"))
                 for m in ("knn", "linear", "random_knn", "random_linear")}
        out[value] = {**stats, "n": len(group)}
    return out
