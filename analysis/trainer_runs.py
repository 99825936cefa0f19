"""Shared command-line flags of the analyses that train models (``analysis.collapse``,
``analysis.batch_size``): the trainer settings they vary, mapped onto a
:class:`fmicl_core.train.TrainConfig` with the run-time evaluation kept short."""

from __future__ import annotations

import argparse

from fmicl_core.train import TrainConfig

__all__ = ["add_trainer_arguments", "base_config"]


def add_trainer_arguments(p: argparse.ArgumentParser, epochs: int, name: str) -> None:
    """Add ``--epochs --dataset --encoder --seed --out-dir --name`` to ``p``."""
    p.add_argument("--epochs", type=int, default=epochs, help="training epochs per run")
    p.add_argument("--dataset", default="digits", help="dataset of the trainer")
    p.add_argument("--encoder", default="small_cnn", help="encoder of the trainer")
    p.add_argument("--seed", type=int, default=0, help="random seed")
    p.add_argument("--out-dir", default=None, help="keep the run folders here (default: temporary)")
    p.add_argument("--name", default=name, help="figure name in figures/")


def base_config(args: argparse.Namespace, **fields: object) -> TrainConfig:
    """The trainer config of the parsed flags (kNN only after the last epoch, a 50-step probe)."""
    return TrainConfig(epochs=args.epochs, dataset=args.dataset, encoder=args.encoder, seed=args.seed,
                       knn_every=0, probe_iters=50, **fields)
