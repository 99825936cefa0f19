"""``python -m analysis.batch_size``: kNN accuracy against the batch size for InfoNCE and f-MICL
(KL, JS) on digits: f-MICL's Figure 4 right at small scale (Lu et al. 2023, arXiv:2402.10150),
from :mod:`analysis.estimation.batch_size`."""

from __future__ import annotations

import argparse

from analysis.estimation.batch_size import (DEFAULT_BATCH_SIZES, DEFAULT_OBJECTIVES, RANDOM_INIT, SHORT_RUN,
                                            batch_size_study)
from analysis.estimation.plots import figure_batch_size
from analysis.runner import Command, run
from analysis.trainer_runs import add_trainer_arguments, runs_folder, trainer_config

__all__ = ["COMMAND", "main"]


def _arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--objectives", nargs="+", default=list(DEFAULT_OBJECTIVES), help="objectives")
    p.add_argument("--batch-sizes", nargs="+", type=int, default=list(DEFAULT_BATCH_SIZES), help="batch sizes N")
    add_trainer_arguments(p, SHORT_RUN)


def _compute(args: argparse.Namespace) -> dict:
    base = trainer_config(args, SHORT_RUN)
    with runs_folder(args) as folder:
        return batch_size_study(tuple(args.objectives), tuple(args.batch_sizes), base, folder)


def _headline(results: dict) -> list[str]:
    lines = [f"{obj:8s} " + "  ".join(f"N={n}: {a:.3f}" for n, a in zip(rows["batch_size"], rows["knn_acc"]))
             for obj, rows in results.items() if obj != RANDOM_INIT]
    return lines + [f"random-init kNN: {results[RANDOM_INIT]['knn_acc']:.3f}"]


COMMAND = Command(
    prog="python -m analysis.batch_size",
    description=__doc__,
    figure="batch_size",
    arguments=_arguments,
    compute=_compute,
    headline=_headline,
    plot=lambda results, args: figure_batch_size(results, f"{args.dataset}, {args.epochs} epochs, seed {args.seed}"),
)


def main(argv: list[str] | None = None) -> dict:
    return run(COMMAND, argv)


if __name__ == "__main__":
    main()
