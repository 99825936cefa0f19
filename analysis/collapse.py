"""``python -m analysis.collapse``: train every f-MICL objective briefly on digits and score the
features for collapse: f-MICL's Figure 4 (Lu et al. 2023, arXiv:2402.10150), from
:mod:`analysis.simplex.collapse`."""

from __future__ import annotations

import argparse

from analysis.runner import Command, run
from analysis.simplex.collapse import DEFAULT_OBJECTIVES, SHORT_RUN, collapse_study, summary
from analysis.simplex.plots import figure_collapse
from analysis.trainer_runs import add_trainer_arguments, runs_folder, trainer_config

__all__ = ["COMMAND", "main"]


def _arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--objectives", nargs="+", default=list(DEFAULT_OBJECTIVES), help="objectives to train")
    p.add_argument("--batch-size", type=int, default=SHORT_RUN.batch_size, help="batch size N")
    p.add_argument("--lr", type=float, default=SHORT_RUN.lr, help="peak learning rate")
    add_trainer_arguments(p, SHORT_RUN)


def _compute(args: argparse.Namespace) -> dict:
    base = trainer_config(args, SHORT_RUN, batch_size=args.batch_size, lr=args.lr)
    with runs_folder(args) as folder:
        return collapse_study(tuple(args.objectives), base, folder)


def _headline(runs: dict) -> list[str]:
    return [f"{k:12s} collapse std {v['collapse_std']:.5f} (uniform {v['uniform_std']:.4f}) "
            f"{'COLLAPSED' if v['collapsed'] else 'spread   '}  kNN {v['knn_acc']:.3f}  "
            f"median negative distance {v['median_negative_distance']:.3f}" for k, v in summary(runs).items()]


COMMAND = Command(
    prog="python -m analysis.collapse",
    description=__doc__,
    figure="uniformity_collapse",
    arguments=_arguments,
    compute=_compute,
    headline=_headline,
    plot=lambda runs, args: figure_collapse(runs),
    numbers=summary,
)


def main(argv: list[str] | None = None) -> dict:
    return run(COMMAND, argv)


if __name__ == "__main__":
    main()
