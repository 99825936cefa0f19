"""kNN accuracy against the batch size (the paper's Figure 4 right, at small scale).

Spec ``fmicl_paper.md`` section 6: on CIFAR-10 after 200 epochs, f-MICL with a proper f beats
SimCLR (InfoNCE) at every batch size ("fewer negative samples needed"). Here the same comparison
runs through :func:`fmicl_core.train.train` on the bundled digits: InfoNCE and f-MICL with KL and
JS, each batch size trained for the same number of epochs from the same seed. The batch size is
also the number of samples behind each step's f-MI estimate (Theorem 4, :mod:`analysis.estimation_error`).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import replace

import numpy as np

from analysis.outputs import save_figure
from analysis.trainer_runs import add_trainer_arguments, base_config
from fmicl_core.train import TrainConfig, train

__all__ = ["batch_size_study", "figure", "main"]

DEFAULT_OBJECTIVES = ("infonce", "kl", "js")
DEFAULT_BATCH_SIZES = (32, 128, 512)


def batch_size_study(objectives: tuple[str, ...] = DEFAULT_OBJECTIVES,
                     batch_sizes: tuple[int, ...] = DEFAULT_BATCH_SIZES,
                     base: TrainConfig | None = None, out_dir: str | None = None) -> dict:
    """``{objective: {"batch_size": [...], "knn_acc": [...], "linear_acc": [...]}}`` plus
    ``"random init"`` (the untrained encoder's kNN accuracy). ``base`` defaults to the digits
    default run with ``epochs=3``; run folders go to ``out_dir`` (default: temporary)."""
    base = base or TrainConfig(epochs=3)
    out: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        config = replace(base, out_dir=out_dir or tmp, progress=False).validate()
        for obj in objectives:
            rows = {"batch_size": [], "knn_acc": [], "linear_acc": []}
            for n in batch_sizes:
                r = train(replace(config, objective=obj, batch_size=int(n), name=f"bs-{obj}-{n}"))
                rows["batch_size"].append(int(n))
                rows["knn_acc"].append(float(r.knn_acc))
                rows["linear_acc"].append(float(r.linear_acc))
                out["random init"] = {"knn_acc": float(r.random_knn_acc)}
            out[obj] = rows
    return out


def figure(results: dict, title: str = ""):
    """kNN accuracy against the batch size, one line per objective, the random-init floor dashed."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.6, 3.2))
    for obj, rows in results.items():
        if obj == "random init":
            ax.axhline(rows["knn_acc"], color="0.5", ls="--", lw=1, label="random init")
            continue
        ax.plot(rows["batch_size"], np.array(rows["knn_acc"]) * 100, "o-", label=obj)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("batch size N")
    ax.set_ylabel("kNN accuracy (%)")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def main(argv: list[str] | None = None) -> dict:
    """``python -m analysis.batch_size``: kNN accuracy vs batch size for InfoNCE, KL and JS."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--objectives", nargs="+", default=list(DEFAULT_OBJECTIVES), help="objectives")
    p.add_argument("--batch-sizes", nargs="+", type=int, default=list(DEFAULT_BATCH_SIZES),
                   help="batch sizes N")
    add_trainer_arguments(p, epochs=3, name="batch_size")
    args = p.parse_args(argv)
    import matplotlib

    matplotlib.use("Agg")
    start = time.time()
    base = base_config(args)
    try:
        results = batch_size_study(tuple(args.objectives), tuple(args.batch_sizes), base, args.out_dir)
    except ValueError as err:
        raise SystemExit(f"error: {err}") from None
    for obj, rows in results.items():
        if obj != "random init":
            print(f"{obj:8s} " + "  ".join(f"N={n}: {a:.3f}" for n, a in zip(rows["batch_size"], rows["knn_acc"])))
    print(f"random-init kNN: {results['random init']['knn_acc']:.3f}")
    config = {**vars(args), "seconds": round(time.time() - start, 1)}
    fig = figure(results, f"{args.dataset}, {args.epochs} epochs, seed {args.seed}")
    png = save_figure(args.name, fig, results, config)
    print(f"wrote {png} ({config['seconds']} s)")
    return results


if __name__ == "__main__":
    main()
