"""Which f-MICL objectives collapse in training: trainer runs scored by the uniformity diagnostics.

f-MICL (Lu et al. 2023, arXiv:2402.10150), Figure 4: for the divergences of Table 1 the negative
pairs of a trained model spread out, while RKL (linear ``h``) collapses, its pair distances all
being 0; Neyman (concave ``h``) lies outside Theorem 3 as well. Each objective is trained from the
same :class:`~fmicl_core.config.TrainConfig` (same data and seed) through
:func:`fmicl_core.train.ensure_run`; the test-set embeddings are scored by
:func:`~analysis.simplex.diagnostics.diagnose` and the collapse statistic, and a run is called
collapsed when that statistic is below ``COLLAPSE_FRACTION`` of the value ``1/sqrt(d)`` of points
uniform on the sphere. The reference is the same encoder at random initialisation, which every run
folder holds (``features_init.npz``).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, replace

import numpy as np

from analysis.simplex.diagnostics import BatchDiagnostics, PairDistances, diagnose, pair_distances
from fmicl_core.config import TrainConfig
from fmicl_core.features import Features, RunFolder, load_features

__all__ = ["COLLAPSE_FRACTION", "DEFAULT_OBJECTIVES", "RANDOM_INIT", "SHORT_RUN", "CollapseRun", "collapse_study",
           "score", "summary"]

COLLAPSE_FRACTION = 0.01
RANDOM_INIT = "random init"
DEFAULT_OBJECTIVES = ("kl", "js", "pearson", "sh", "tsallis", "vlc", "rkl", "neyman")
SHORT_RUN = TrainConfig(epochs=2, batch_size=256, lr=0.3, knn_every=0, probe_iters=50)
"""Two epochs of digits at batch 256 and peak learning rate 0.3: RKL and Neyman collapse within
them. (At the trainer's default batch 128 and learning rate 0.1, RKL's embeddings spread out over
the first epochs instead: RKL's negative term is minimised by *every* centred configuration, so
whether training collapses is decided by the optimisation, not by the objective.)"""


@dataclass(frozen=True)
class CollapseRun:
    """One run's features scored: diagnostics of ``batch`` test embeddings, the collapse statistic
    over the whole test set, Figure 4's pair distances, and the trainer's kNN accuracy."""

    objective: str
    collapse_std: float
    uniform_std: float
    collapsed: bool
    diagnostics: BatchDiagnostics
    distances: PairDistances
    knn_acc: float


def score(objective: str, features: Features, knn_acc: float = math.nan, batch: int = 256) -> CollapseRun:
    """Score one run's features (module docstring); ``batch`` rows make the diagnosed batch."""
    z = features.test_projection
    full = diagnose(z).collapse_std
    uniform = 1.0 / math.sqrt(z.shape[1])
    n = min(batch, len(features.pair_x))
    return CollapseRun(objective, full, uniform, full < COLLAPSE_FRACTION * uniform, diagnose(z[:batch]),
                       pair_distances(features.pair_x[:n], features.pair_y[:n]), knn_acc)


def collapse_study(objectives: tuple[str, ...], base: TrainConfig,
                   out_dir: str | os.PathLike) -> dict[str, CollapseRun]:
    """Train ``base`` once per objective (run folders ``collapse-<objective>`` in ``out_dir``,
    reused when they already hold that run) and score the features; key :data:`RANDOM_INIT` is the
    encoder at initialisation, read from the first run's folder."""
    from fmicl_core.train import ensure_run

    if not objectives:
        raise ValueError("objectives=() is not allowed; name at least one objective")
    base = replace(base, out_dir=str(out_dir), progress=False)
    configs = {name: base.with_objective(name=name) for name in objectives}  # every name checked first
    configs = {name: replace(c, name=f"collapse-{name}").validate() for name, c in configs.items()}
    runs: dict[str, CollapseRun] = {}
    for name, config in configs.items():
        result = ensure_run(config)
        folder = RunFolder(result.run_dir)
        if not runs:
            runs[RANDOM_INIT] = score(RANDOM_INIT, load_features(folder.initial_features), result.random_knn_acc)
        runs[name] = score(name, load_features(folder.features), result.knn_acc)
    return runs


def summary(runs: dict[str, CollapseRun]) -> dict:
    """Plain numbers of every run; ``vs_random_init`` is the collapse statistic over the untrained
    encoder's (> 1: training spread the embeddings out)."""
    ref = runs[RANDOM_INIT].collapse_std if RANDOM_INIT in runs else math.nan
    return {k: {"collapse_std": r.collapse_std, "vs_random_init": r.collapse_std / ref,
                "uniform_std": r.uniform_std, "collapsed": r.collapsed, "knn_acc": r.knn_acc,
                "centroid_norm": r.diagnostics.centroid_norm, "mean_sq_distance": r.diagnostics.mean_sq_distance,
                "uniformity": r.diagnostics.uniformity,
                "median_negative_distance": float(np.median(r.distances.negative)),
                "median_positive_distance": float(np.median(r.distances.positive))}
            for k, r in runs.items()}
