"""``python -m analysis.training_curves RUN_DIR``: the training loss and kNN accuracy per epoch of
one trainer run folder, with the encoder at initialisation as the floor, and the run's final numbers."""

from __future__ import annotations

import argparse

from analysis.runner import Command, run
from analysis.training.plots import plot_curves
from fmicl_core import validation
from fmicl_core.features import RunFolder

__all__ = ["COMMAND", "main"]


def _arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run_dir", help="a run folder of python -m fmicl_core.train (e.g. runs/simclr-kl-digits-s0)")


def _check_keys(where: str, record: object, keys: tuple[str, ...]) -> None:
    """A one-line ``ValueError`` unless ``record`` is a dict holding ``keys``."""
    missing = list(keys) if not isinstance(record, dict) else [k for k in keys if k not in record]
    if missing:
        raise ValueError(f"{where} lacks {missing}; is it a run folder of python -m fmicl_core.train?")


def _compute(args: argparse.Namespace) -> dict:
    folder = RunFolder(validation.existing_path("RUN_DIR", args.run_dir, kind="folder"))
    config = folder.read_json("config")
    _check_keys(str(folder.config), config, ("method", "dataset", "objective"))
    _check_keys(f"{folder.config}: objective", config["objective"], ("name",))
    records = folder.read_metrics()
    if not records:
        raise ValueError(f"run folder {args.run_dir!r} has no finished epoch in {folder.metrics.name}")
    for line, record in enumerate(records, 1):
        _check_keys(f"{folder.metrics} line {line}", record, ("epoch", "loss", "knn"))
    result = folder.read_json("result") if folder.complete else {}
    if result:
        _check_keys(str(folder.result), result, ("knn_acc", "random_knn_acc", "linear_acc", "random_linear_acc"))
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
