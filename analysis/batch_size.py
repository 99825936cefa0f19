"""``python -m analysis.batch_size``: kNN accuracy against the batch size for InfoNCE and f-MICL
(KL by default) on digits: f-MICL's Figure 4 right at small scale (Lu et al. 2023, arXiv:2402.10150),
from :mod:`analysis.estimation.batch_size`.

Every batch size makes the same number of optimisation steps (``--budget steps``; ``--steps``,
default the fewest that every batch size makes in whole epochs), or sees the same images with the
learning rate scaled by N/256 (``--budget samples``, ``--epochs`` each). Each cell is trained with
``--repeats`` seeds from ``--seed`` on, and reported as the mean with its 95% interval; "f beats
InfoNCE at N" holds when the interval of the kNN difference paired by seed lies above 0.
"""

from __future__ import annotations

import argparse

from analysis.estimation.batch_size import (BUDGETS, DEFAULT_BATCH_SIZES, DEFAULT_OBJECTIVES, DEFAULT_SEEDS,
                                            RANDOM_INIT, SHORT_RUN, batch_size_study, versus)
from analysis.estimation.plots import figure_batch_size
from analysis.runner import Command, check_integers, run
from analysis.trainer_runs import add_trainer_arguments, runs_folder, trainer_config
from fmicl_core import validation

__all__ = ["COMMAND", "main"]


def _arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--objectives", nargs="+", default=list(DEFAULT_OBJECTIVES), help="objectives")
    p.add_argument("--batch-sizes", nargs="+", type=int, default=list(DEFAULT_BATCH_SIZES), help="batch sizes N")
    p.add_argument("--budget", default="steps", help=f"what is equal across batch sizes: {' or '.join(BUDGETS)} "
                   "(samples: --epochs each, learning rate x N/256)")
    p.add_argument("--steps", type=int, default=None, help="optimisation steps of every run under --budget steps "
                   "(default: the fewest that every batch size makes in whole epochs)")
    p.add_argument("--repeats", type=int, default=len(DEFAULT_SEEDS),
                   help="seeds per cell, --seed, --seed + 1, ... (>= 2: the intervals are over seeds)")
    add_trainer_arguments(p, SHORT_RUN)


def _compute(args: argparse.Namespace) -> dict:
    validation.choice("--budget", args.budget, BUDGETS)
    check_integers(args, repeats=2)
    if args.steps is not None:
        check_integers(args, steps=1)
    base = trainer_config(args, SHORT_RUN)
    seeds = tuple(range(args.seed, args.seed + args.repeats))
    with runs_folder(args) as folder:
        study = batch_size_study(tuple(args.objectives), tuple(args.batch_sizes), base, folder, seeds, args.budget,
                                 args.steps)
    return {"study": study, "versus_infonce": versus(study) if "infonce" in study else {}}


def _headline(result: dict) -> list[str]:
    lines = []
    for obj, rows in result["study"].items():
        if obj == RANDOM_INIT:
            continue
        cells = zip(rows["batch_size"], rows["steps"], rows["knn_acc"], rows["knn_ci95"])
        lines.append(f"{obj:8s} " + "  ".join(f"N={n} ({s} steps): {a:.3f} [{lo:.3f}, {hi:.3f}]"
                                              for n, s, a, (lo, hi) in cells))
    for obj, rows in result["versus_infonce"].items():
        cells = zip(rows["batch_size"], rows["difference"], rows["ci95"], rows["above"])
        lines.append(f"{obj} - infonce: " + "  ".join(f"N={n}: {d:+.3f} [{lo:+.3f}, {hi:+.3f}]{' beats' if up else ''}"
                                                      for n, d, (lo, hi), up in cells))
    return lines + [f"random-init kNN: {result['study'][RANDOM_INIT]['knn_acc']:.3f}"]


COMMAND = Command(
    prog="python -m analysis.batch_size",
    description=__doc__,
    figure="batch_size",
    arguments=_arguments,
    compute=_compute,
    headline=_headline,
    plot=lambda result, args: figure_batch_size(
        result["study"], f"{args.dataset}, equal {args.budget}, seeds {args.seed}..{args.seed + args.repeats - 1}"),
)


def main(argv: list[str] | None = None) -> dict:
    return run(COMMAND, argv)


if __name__ == "__main__":
    main()
