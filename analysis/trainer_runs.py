"""The trainer flags shared by the commands that train models (``python -m analysis.collapse``,
``python -m analysis.batch_size``) and the folder their runs go to. Not a command itself.

``--runs-dir`` keeps the run folders (a later call with the same flags reuses them, through
:func:`fmicl_core.train.ensure_run`); without it the runs go to a temporary folder, deleted
afterwards. (The runner's ``--out-dir`` is the folder of the figure and its JSON.) Neither may be
the tracked ``figures/`` gallery.
"""

from __future__ import annotations

import argparse
import contextlib
import tempfile
from dataclasses import replace
from typing import Iterator

from analysis.runner import output_folder
from fmicl_core.config import TrainConfig

__all__ = ["add_trainer_arguments", "runs_folder", "trainer_config"]

_TRAINER = TrainConfig()


def add_trainer_arguments(p: argparse.ArgumentParser, template: TrainConfig) -> None:
    """Add ``--epochs`` (default: ``template``'s) ``--dataset --encoder --seed --runs-dir`` to ``p``."""
    p.add_argument("--epochs", type=int, default=template.epochs, help="training epochs per run")
    p.add_argument("--dataset", default=_TRAINER.dataset, help="dataset of the trainer")
    p.add_argument("--encoder", default=_TRAINER.encoder, help="encoder of the trainer")
    p.add_argument("--seed", type=int, default=_TRAINER.seed, help="random seed")
    p.add_argument("--runs-dir", default=None, help="keep the run folders here (reused by a later call with the same flags); unset: a temporary folder")


def trainer_config(args: argparse.Namespace, template: TrainConfig, **fields: object) -> TrainConfig:
    """``template`` with the parsed trainer flags and ``fields``, validated (``--runs-dir`` too,
    when given: created, writable, outside the gallery)."""
    if args.runs_dir is not None:
        output_folder("--runs-dir", args.runs_dir)
    return replace(template, epochs=args.epochs, dataset=args.dataset, encoder=args.encoder, seed=args.seed,
                   **fields).validate()


@contextlib.contextmanager
def runs_folder(args: argparse.Namespace) -> Iterator[str]:
    """``--runs-dir``, or a temporary folder deleted on exit."""
    if args.runs_dir is not None:
        yield args.runs_dir
        return
    with tempfile.TemporaryDirectory(prefix="fmicl-runs-") as tmp:
        yield tmp
