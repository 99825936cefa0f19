"""``python -m analysis.coordinate_cl``: the coordinate-wise (alpha-CL) view of contrastive learning
(Tian 2022, arXiv:2201.12680), with f-MICL inside it, from :mod:`analysis.coordinate`.

The pairwise importance alpha of every loss of Tian's family and of every f-MICL divergence (closed
form vs autograd, Theorem 1), the deep linear max player with alpha fixed (PCA of the contrastive
covariance, E = lambda_max / 2) and the alternating loop, and the higher-rank fixed points of a
two-layer ReLU network. The alpha-CL objectives trained on digits are in notebook 06.
"""

from __future__ import annotations

import argparse

from analysis.coordinate.experiments import CoordinateResult, coordinate_checks, summary
from analysis.coordinate.plots import plot_checks
from analysis.runner import Command, check_integers, run
from fmicl_core.objective_config import DEFAULTS, hyper

__all__ = ["COMMAND", "main"]


def _arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--seed", type=int, default=0, help="seed of data and initialisations")
    p.add_argument("--steps", type=int, default=1500, help="deep linear max-player steps")
    p.add_argument("--relu-steps", type=int, default=1000, help="two-layer max-player steps")
    p.add_argument("--relu-seeds", type=int, default=2, help="number of two-layer seeds")
    p.add_argument("--temperature", type=float, default=DEFAULTS.temperature, help="min-player temperature tau")


def _compute(args: argparse.Namespace) -> CoordinateResult:
    check_integers(args, seed=0, steps=1, relu_steps=1, relu_seeds=1)
    temperature = hyper("temperature", args.temperature, "--temperature")
    return coordinate_checks(args.seed, args.steps, args.relu_steps, args.relu_seeds, temperature)


COMMAND = Command(prog="python -m analysis.coordinate_cl", description=__doc__, figure="coordinate_cl",
                  arguments=_arguments, compute=_compute, headline=summary,
                  plot=lambda result, args: plot_checks(result), threads=1)


def main(argv: list[str] | None = None) -> dict:
    return run(COMMAND, argv)


if __name__ == "__main__":
    main()
