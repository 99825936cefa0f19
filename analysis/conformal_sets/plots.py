"""The figure of the contrastive conformal sets (Alkhatib & Tay 2026, arXiv:2603.26261), from
:func:`analysis.conformal_sets.experiments.conformal_experiment`."""

from __future__ import annotations

import numpy as np

from analysis.conformal_sets.experiments import ConformalResult

__all__ = ["plot_sets"]


def plot_sets(result: ConformalResult):
    """Exclusion vs coverage over alpha (one panel per source of ``curves``) and the log-volumes at
    ``alpha`` per source and set shape."""
    import matplotlib.pyplot as plt

    curves = result.curves
    fig, ax = plt.subplots(1, len(curves) + 1, figsize=(5 * (len(curves) + 1), 4), squeeze=False)
    ax = ax[0]
    for axis, (name, res) in zip(ax, curves.items()):
        for m, by_alpha in res.items():
            cov = [v["coverage"][0] for v in by_alpha.values()]
            exc = [v["exclusion"][0] for v in by_alpha.values()]
            axis.plot(cov, exc, "o-", label=m)
        axis.set(xlabel="positive coverage", ylabel="negative exclusion", title=name)
        axis.legend()
    alpha = str(result.alpha)
    names = list(result.table)
    methods = list(result.table[names[0]])
    for i, m in enumerate(methods):
        lv = [result.table[s][m][alpha]["log_volume"][0] for s in names]
        ax[-1].bar(np.arange(len(names)) + 0.25 * i, lv, width=0.25, label=m)
    ax[-1].set_xticks(np.arange(len(names)) + 0.25, [s.replace(" (", "\n(") for s in names], fontsize=7)
    ax[-1].set(ylabel=f"log-volume at alpha={alpha}", title="set volume")
    ax[-1].legend()
    fig.tight_layout()
    return fig
