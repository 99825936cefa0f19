"""``python -m analysis.conformal``: contrastive conformal sets (Alkhatib & Tay 2026,
arXiv:2603.26261), from :mod:`analysis.conformal_sets`.

Coverage of positives, exclusion of negatives and volume of the Euclidean ball (distance-based
conformal) vs learnt geometries (whitened lp ball, MVCS of Braun et al. 2025, arXiv:2503.19068) on
exchangeable pairs: synthetic anisotropic positives, digits PCA-9 and LDA-9, and optionally a
trained run's positive pairs (``--features``); the coverage-exclusion curves over alpha, and the
coverage lost when calibration and test pairs share anchors (not exchangeable).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from analysis.conformal_sets.experiments import (ConformalResult, conformal_experiment, default_sources,
                                                 pairs_from_features, summary)
from analysis.conformal_sets.plots import plot_sets
from analysis.conformal_sets.sets import miscoverage
from analysis.runner import Command, check_integers, run
from fmicl_core.features import RunFolder, load_features

__all__ = ["COMMAND", "main"]


def _arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--splits", type=int, default=20, help="random fit/calibration/test splits")
    p.add_argument("--alpha", type=float, default=0.1, help="miscoverage level in (0, 1)")
    p.add_argument("--seed", type=int, default=0, help="seed of data, encoders and splits")
    p.add_argument("--features", default=None,
                   help="features.npz of a trained run, or its run folder (adds its positive pairs as a source)")


def _compute(args: argparse.Namespace) -> ConformalResult:
    check_integers(args, splits=1, seed=0)
    alpha = miscoverage(args.alpha, "--alpha")
    trained = []
    if args.features is not None:
        path = Path(args.features)
        trained.append(pairs_from_features(load_features(RunFolder(path).features if path.is_dir() else path)))
    return conformal_experiment(default_sources(args.seed) + trained, alpha, args.splits, args.seed)


COMMAND = Command(prog="python -m analysis.conformal", description=__doc__, figure="conformal_sets",
                  arguments=_arguments, compute=_compute, headline=summary,
                  plot=lambda result, args: plot_sets(result), threads=1)


def main(argv: list[str] | None = None) -> dict:
    return run(COMMAND, argv)


if __name__ == "__main__":
    main()
