"""``python -m analysis.training_curves RUN_DIR``: the training loss and kNN accuracy per epoch of
one trainer run folder, with the encoder at initialisation as the floor, and the run's final numbers."""

from __future__ import annotations

import argparse

from analysis.runner import Command, run
from analysis.training.plots import plot_curves
from fmicl_core.features import RunFolder

__all__ = ["COMMAND", "main"]


def _arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run_dir", help="a run folder of python -m fmicl_core.train (e.g. runs/simclr-kl-digits-s0)")


def _compute(args: argparse.Namespace) -> dict:
    folder = RunFolder(args.run_dir)
    config = folder.read_json("config")
    records = folder.read_metrics()
    if not records:
        raise ValueError(f"run folder {args.run_dir!r} has no finished epoch in {folder.metrics.name}")
    result = folder.read_json("result") if folder.complete else {}
    return {"config": config, "epochs": records, "result": result}


def _headline(out: dict) -> list[str]:
    last, result = out["epochs"][-1], out["result"]
    lines = [f"{len(out['epochs'])} epochs; last loss {last['loss']:.4f}"]
    if result:
        lines.append(f"kNN {result['knn_acc']:.4f} (initialisation {result['random_knn_acc']:.4f}), linear probe "
                     f"{result['linear_acc']:.4f} (initialisation {result['random_linear_acc']:.4f})")
    else:
        lines.append("the run is not finished (no result.json)")
    return lines


def _plot(out: dict, args: argparse.Namespace):
    config, result = out["config"], out["result"]
    floor = result.get("random_knn_acc", float("nan"))
    return plot_curves(out["epochs"], floor, f"{config['method']} + {config['objective']['name']} on {config['dataset']}")


COMMAND = Command(
    prog="python -m analysis.training_curves",
    description=__doc__,
    figure="training_curves",
    arguments=_arguments,
    compute=_compute,
    headline=_headline,
    plot=_plot,
)


def main(argv: list[str] | None = None) -> dict:
    return run(COMMAND, argv)


if __name__ == "__main__":
    main()
