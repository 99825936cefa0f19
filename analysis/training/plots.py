"""Figures of trainer runs: objectives compared, the alpha ablation against f-MICL's (Lu et al.
2023, arXiv:2402.10150), and one run's training curves."""

from __future__ import annotations

import numpy as np

from fmicl_core.paper_settings import ALPHA_ABLATION

__all__ = ["plot_comparison", "plot_curves"]


def plot_comparison(table: dict, alpha_table: dict | None = None):
    """Bars of kNN / linear accuracy per objective (with the random floor), and the alpha curve."""
    import matplotlib.pyplot as plt

    panels = 2 if alpha_table else 1
    fig, axes = plt.subplots(1, panels, figsize=(6.5 * panels, 4), squeeze=False)
    names = list(table)
    x = np.arange(len(names))
    for shift, metric in ((-0.2, "knn"), (0.2, "linear")):
        means = [table[n][metric][0] for n in names]
        sds = [np.nan_to_num(table[n][metric][1]) for n in names]
        axes[0, 0].bar(x + shift, means, 0.4, yerr=sds, label=metric)
    axes[0, 0].plot(x, [table[n]["random_knn"][0] for n in names], "k_", markersize=14, label="random-init kNN")
    axes[0, 0].set_xticks(x, names, rotation=45)
    axes[0, 0].set(ylabel="test accuracy (digits)", ylim=(0, 1), title="objectives at digits scale")
    axes[0, 0].legend(fontsize=8)
    if alpha_table:
        alphas = sorted(alpha_table)
        axes[0, 1].semilogx(alphas, [alpha_table[a]["knn"][0] for a in alphas], "o-", label="this run (digits)")
        ax2 = axes[0, 1].twinx()
        paper = ALPHA_ABLATION["kl"]
        ax2.semilogx(list(paper), [v / 100 for v in paper.values()], "s--", color="gray", label="paper (CIFAR-10)")
        axes[0, 1].set(xlabel="alpha", ylabel="kNN accuracy (digits)", title="alpha ablation, KL")
        ax2.set_ylabel("paper kNN (CIFAR-10)")
        axes[0, 1].legend(loc="lower right", fontsize=8)
        ax2.legend(loc="center right", fontsize=8)
    fig.tight_layout()
    return fig


def plot_curves(records: list[dict], floor_knn: float, title: str):
    """Training loss and kNN accuracy per epoch (``metrics.jsonl`` records), with the kNN accuracy of
    the encoder at initialisation as the floor."""
    import matplotlib.pyplot as plt

    knn = [(r["epoch"], r["knn"]) for r in records if r["knn"] is not None]
    fig, (ax_loss, ax_knn) = plt.subplots(1, 2, figsize=(9, 3.2))
    ax_loss.plot([r["epoch"] for r in records], [r["loss"] for r in records])
    ax_loss.set(xlabel="epoch", ylabel="training loss", title=title)
    if knn:
        ax_knn.plot(*zip(*knn), marker="o", label="trained encoder")
    ax_knn.axhline(floor_knn, ls="--", color="gray", label="encoder at initialisation")
    ax_knn.set(xlabel="epoch", ylabel="kNN accuracy")
    ax_knn.legend()
    fig.tight_layout()
    return fig
