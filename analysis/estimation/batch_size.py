"""Accuracy against the batch size: f-MICL's Figure 4 (right) at small scale (Lu et al. 2023,
arXiv:2402.10150).

In the paper f-MICL with a proper f is above InfoNCE (SimCLR) at every batch size on CIFAR-10 after
200 epochs. Here the same comparison runs through :func:`fmicl_core.train.ensure_run` on the
bundled digits: InfoNCE and f-MICL with KL and JS, each batch size trained for the same number of
epochs from the same seed. The batch size is also the number of samples behind each step's f-MI
estimate (Theorem 4, :mod:`analysis.estimation.error`).
"""

from __future__ import annotations

import os
from dataclasses import replace

from fmicl_core import validation
from fmicl_core.config import TrainConfig

__all__ = ["DEFAULT_BATCH_SIZES", "DEFAULT_OBJECTIVES", "RANDOM_INIT", "SHORT_RUN", "batch_size_study",
           "wins_over"]

DEFAULT_OBJECTIVES = ("infonce", "kl", "js")
DEFAULT_BATCH_SIZES = (32, 128, 512)
RANDOM_INIT = "random init"
SHORT_RUN = TrainConfig(epochs=3, knn_every=0, probe_iters=50)
"""Three epochs of the trainer's digits run, kNN only after the last, a 50-step linear probe."""


def batch_size_study(objectives: tuple[str, ...], batch_sizes: tuple[int, ...], base: TrainConfig,
                     out_dir: str | os.PathLike) -> dict:
    """``{objective: {"batch_size": [...], "knn_acc": [...], "linear_acc": [...]}}`` plus
    :data:`RANDOM_INIT` (the untrained encoder's kNN accuracy): ``base`` trained once per objective
    and batch size (run folders ``bs-<objective>-<N>`` in ``out_dir``, reused when they already hold
    that run)."""
    from fmicl_core.train import ensure_run

    if not objectives or not batch_sizes:
        raise ValueError(f"objectives={objectives!r}, batch_sizes={batch_sizes!r} are not allowed; "
                         "name at least one of each")
    base = replace(base, out_dir=str(out_dir), progress=False)
    sizes = [validation.integer("batch_size", n, minimum=2) for n in batch_sizes]  # a batch needs negatives
    configs = {(obj, n): replace(base.with_objective(name=obj), batch_size=n, name=f"bs-{obj}-{n}").validate()
               for obj in objectives for n in sizes}  # every run checked before the first trains
    out: dict = {}
    for obj in objectives:
        rows = {"batch_size": [], "knn_acc": [], "linear_acc": []}
        for n in sizes:
            r = ensure_run(configs[obj, n])
            rows["batch_size"].append(n)
            rows["knn_acc"].append(float(r.knn_acc))
            rows["linear_acc"].append(float(r.linear_acc))
            out[RANDOM_INIT] = {"knn_acc": float(r.random_knn_acc)}
        out[obj] = rows
    return out


def wins_over(results: dict, reference: str = "infonce") -> dict[str, int]:
    """Per objective other than ``reference``: at how many batch sizes its kNN accuracy is above
    ``reference``'s (empty when ``reference`` was not run)."""
    if reference not in results:
        return {}
    ref = results[reference]["knn_acc"]
    return {obj: sum(a > b for a, b in zip(rows["knn_acc"], ref))
            for obj, rows in results.items() if obj not in (reference, RANDOM_INIT)}
