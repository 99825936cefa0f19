"""``python -m analysis.training_comparison``: a small grid of trainer runs (objectives x seeds) with
kNN and linear-probe accuracy next to the encoder at initialisation and to f-MICL's Table 2 (Lu et al.
2023, arXiv:2402.10150), from :mod:`analysis.training`. The paper-scale commands are
``python -m fmicl_core.paper_settings``."""

from __future__ import annotations

import argparse

from analysis.runner import Command, check_integers, output_folder, run
from analysis.training.comparison import run_grid, summarise
from analysis.training.plots import plot_comparison
from fmicl_core import validation
from fmicl_core.config import TrainConfig
from fmicl_core.objective_config import names
from fmicl_core.paper_settings import TABLE2_CIFAR10

__all__ = ["COMMAND", "main"]

_PAPER = {objective: paper for method, objective, _, paper in TABLE2_CIFAR10.values() if method == "simclr"}


def _arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--objectives", nargs="+", default=["infonce", "kl", "js", "rkl"],
                   help=f"objectives to compare: {', '.join(names())}")
    p.add_argument("--seeds", type=int, nargs="+", default=[0], help="seeds per objective")
    p.add_argument("--epochs", type=int, default=8, help="training epochs per run")
    p.add_argument("--runs-dir", default="runs", help="folder of the run folders (a run already there is reused)")


def _compute(args: argparse.Namespace) -> dict:
    for name in args.objectives:
        validation.choice("--objectives", name, names())
    for seed in args.seeds:
        validation.integer("--seeds", seed, minimum=0)
    check_integers(args, epochs=1)
    base = TrainConfig(epochs=args.epochs, out_dir=str(output_folder("--runs-dir", args.runs_dir)), progress=False,
                       knn_every=0)
    runs = run_grid(args.objectives, args.seeds, base)
    return {"table": summarise(runs), "runs": runs}


def _headline(result: dict) -> list[str]:
    return [f"{name:10s} kNN {row['knn'][0]:.3f}  linear {row['linear'][0]:.3f}  (random init kNN "
            f"{row['random_knn'][0]:.3f})  paper CIFAR-10 linear: {_PAPER.get(name, '-')}"
            for name, row in result["table"].items()]


COMMAND = Command(
    prog="python -m analysis.training_comparison",
    description=__doc__,
    figure="training_comparison",
    arguments=_arguments,
    compute=_compute,
    headline=_headline,
    plot=lambda result, args: plot_comparison(result["table"]),
)


def main(argv: list[str] | None = None) -> dict:
    return run(COMMAND, argv)


if __name__ == "__main__":
    main()
