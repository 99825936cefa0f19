"""Accuracy against the batch size: f-MICL's Figure 4 (right) at small scale (Lu et al. 2023,
arXiv:2402.10150).

In the paper f-MICL with a proper f is above InfoNCE (SimCLR) at every batch size on CIFAR-10 after
200 epochs. Here the same comparison runs through :func:`fmicl_core.train.ensure_run` on the
bundled digits: InfoNCE and f-MICL (KL by default), each batch size over several seeds. A fixed
number of epochs would give batch 512 a handful of steps on 1,437 images, so the runs are made fair
by one of two budgets (:func:`schedules`):

- ``"steps"`` (default): every batch size makes the same number of optimisation steps, in whole
  epochs, at the same peak learning rate, with the warm-up taking the same share of the steps;
- ``"samples"``: every batch size sees the same images (the same epochs) with the learning rate
  scaled linearly, ``lr x N / 256``, as f-MICL's and SimCLR's recipes do.

Each cell reports the mean kNN accuracy over seeds with its 95% Student-t interval, and
:func:`versus` judges "f beats InfoNCE at batch size N" by the interval of the kNN difference paired
by seed: it holds when the interval lies above 0. The batch size is also the number of samples behind
each step's f-MI estimate (Theorem 4, :mod:`analysis.estimation.error`).
"""

from __future__ import annotations

import math
import os
from dataclasses import replace

import numpy as np

from analysis.training.comparison import t_interval, train_summary
from fmicl_core import validation
from fmicl_core.config import TrainConfig

__all__ = ["BUDGETS", "DEFAULT_BATCH_SIZES", "DEFAULT_OBJECTIVES", "DEFAULT_SEEDS", "RANDOM_INIT", "SHORT_RUN",
           "TRAIN_IMAGES", "batch_size_study", "schedules", "train_images", "versus"]

DEFAULT_OBJECTIVES = ("infonce", "kl")
DEFAULT_BATCH_SIZES = (32, 64, 128)
DEFAULT_SEEDS = (0, 1, 2)
BUDGETS = ("steps", "samples")
RANDOM_INIT = "random init"
SHORT_RUN = TrainConfig(epochs=3, knn_every=0, probe_iters=50)
"""The trainer's digits run with a 50-step linear probe and kNN only after the last epoch; its
warm-up share (2 of 3 epochs) carries over to the ``"steps"`` budget."""
TRAIN_IMAGES = {"digits": 1437, "cifar10": 50_000, "cifar100": 50_000, "stl10": 5_000, "tinyimagenet": 100_000}
"""Pre-training images of the built-in datasets (``fmicl_core.data``); stl10 with ``unlabeled``
adds its 100,000 unlabeled images."""


def train_images(config: TrainConfig) -> int:
    """The number of images one epoch of ``config`` goes through."""
    if config.dataset == "synthetic":
        return config.synthetic_size
    if config.dataset not in TRAIN_IMAGES:
        raise ValueError(f"dataset {config.dataset!r} has no known training-set size, so equal steps cannot be "
                         "planned; use the budget 'samples'")
    return TRAIN_IMAGES[config.dataset] + (100_000 if config.dataset == "stl10" and config.unlabeled else 0)


def schedules(base: TrainConfig, batch_sizes: list[int], budget: str = "steps",
              steps: int | None = None) -> dict[int, TrainConfig]:
    """``base`` at each batch size under ``budget`` (module docstring). ``"steps"``: ``steps``
    optimisation steps for every N (default: the fewest that every N makes in whole epochs, the
    least common multiple of the steps per epoch ``images // N``), warm-up ``base.warmup_epochs /
    base.epochs`` of them. ``"samples"``: ``base.epochs`` for every N, learning rate ``base.lr x N /
    256``."""
    validation.choice("budget", budget, BUDGETS)
    if budget == "samples":
        if steps is not None:
            raise ValueError(f"steps={steps!r} does not apply to the budget 'samples' (equal epochs); leave it unset")
        return {n: replace(base, batch_size=n, lr=base.lr * n / 256) for n in batch_sizes}
    images = train_images(base)
    too_large = [n for n in batch_sizes if n > images]
    if too_large:
        raise ValueError(f"batch_size={too_large[0]} is larger than the {images} training images of "
                         f"{base.dataset!r}; an epoch would make no step")
    per_epoch = {n: images // n for n in batch_sizes}
    least = math.lcm(*per_epoch.values())
    steps = least if steps is None else validation.integer("steps", steps)
    uneven = [n for n in batch_sizes if steps % per_epoch[n]]
    if uneven:
        n = uneven[0]
        raise ValueError(f"steps={steps} is not a whole number of epochs at batch size {n} ({per_epoch[n]} steps "
                         f"per epoch on {images} images); use a multiple of {least}")
    share = base.warmup_epochs / base.epochs
    return {n: replace(base, batch_size=n, epochs=steps // per_epoch[n], warmup_epochs=share * steps / per_epoch[n])
            for n in batch_sizes}


def batch_size_study(objectives: tuple[str, ...], batch_sizes: tuple[int, ...], base: TrainConfig,
                     out_dir: str | os.PathLike, seeds: tuple[int, ...] = DEFAULT_SEEDS, budget: str = "steps",
                     steps: int | None = None) -> dict:
    """``{objective: {"batch_size", "epochs", "lr", "steps", "seeds", "knn_acc", "knn_ci95",
    "knn_by_seed", "linear_acc", "linear_ci95", "linear_by_seed"}}`` (one entry per batch size; the
    accuracies are means over ``seeds`` with their :func:`~analysis.training.comparison.t_interval`)
    plus :data:`RANDOM_INIT` (the untrained encoder's mean kNN accuracy). Every objective, batch size
    and seed is one run of :func:`schedules` (run folders ``bs-<budget>-<objective>-<N>-s<seed>`` in
    ``out_dir``, reused when they already hold that run); the steps each run made are read from its
    metrics, and under the ``"steps"`` budget runs that made different numbers are refused."""
    if not objectives or not batch_sizes:
        raise ValueError(f"objectives={objectives!r}, batch_sizes={batch_sizes!r} are not allowed; "
                         "name at least one of each")
    sizes = [validation.integer("batch_size", n, minimum=2) for n in batch_sizes]  # a batch needs negatives
    seeds = [validation.integer("seed", s, minimum=0) for s in seeds]
    if len(set(seeds)) < 2 or len(set(seeds)) < len(seeds):
        raise ValueError(f"seeds={seeds!r} is not allowed; an interval over seeds needs at least 2 distinct seeds")
    plans = schedules(replace(base, out_dir=str(out_dir), progress=False), sizes, budget, steps)
    configs = {(obj, n, s): replace(plans[n].with_objective(name=obj), seed=s, name=f"bs-{budget}-{obj}-{n}-s{s}")
               .validate() for obj in objectives for n in sizes for s in seeds}  # every run checked first
    runs = {key: train_summary(config) for key, config in configs.items()}
    made = {n: sorted({r.steps for (_, size, _), r in runs.items() if size == n}) for n in sizes}
    if budget == "steps" and len({s for v in made.values() for s in v}) > 1:
        raise ValueError(f"the runs made {made} steps per batch size, not one number: the training set of "
                         f"{base.dataset!r} does not hold {train_images(base)} images")
    out: dict = {RANDOM_INIT: {"knn_acc": float(np.mean([r.random_knn for r in runs.values()]))}}
    for obj in objectives:
        out[obj] = {"batch_size": sizes, "epochs": [plans[n].epochs for n in sizes], "lr": [plans[n].lr for n in sizes],
                    "steps": [made[n][0] for n in sizes], "seeds": seeds}
        for metric in ("knn", "linear"):
            by_seed = [[getattr(runs[obj, n, s], metric) for s in seeds] for n in sizes]
            cells = [t_interval(values) for values in by_seed]
            out[obj].update({f"{metric}_acc": [c[0] for c in cells], f"{metric}_ci95": [list(c[1:]) for c in cells],
                             f"{metric}_by_seed": by_seed})
    return out


def versus(results: dict, reference: str = "infonce") -> dict:
    """Per objective of ``results`` (:func:`batch_size_study`) other than ``reference``, per batch
    size: the kNN difference to ``reference`` paired by seed with its 95% interval, ``{"batch_size",
    "difference", "ci95", "above"}``, where ``above`` says the interval lies above 0 (the objective
    beats the reference at that batch size)."""
    if reference not in results:
        raise ValueError(f"reference={reference!r} was not run; objectives run: "
                         f"{', '.join(k for k in results if k != RANDOM_INIT)}")
    ref = results[reference]["knn_by_seed"]
    out = {}
    for obj, rows in results.items():
        if obj in (reference, RANDOM_INIT):
            continue
        cells = [t_interval(np.subtract(ours, theirs)) for ours, theirs in zip(rows["knn_by_seed"], ref)]
        out[obj] = {"batch_size": rows["batch_size"], "difference": [c[0] for c in cells],
                    "ci95": [list(c[1:]) for c in cells], "above": [bool(c[1] > 0) for c in cells]}
    return out
