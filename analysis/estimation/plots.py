"""The figures of the estimation error (f-MICL Theorem 4) and of the batch size (f-MICL Figure 4
right) (Lu et al. 2023, arXiv:2402.10150)."""

from __future__ import annotations

import math

import numpy as np

from analysis.estimation.batch_size import RANDOM_INIT
from analysis.estimation.error import EstimationErrorStudy

__all__ = ["figure_batch_size", "figure_estimation_error"]


def figure_estimation_error(study: EstimationErrorStudy, ncols: int = 4):
    """Per divergence, log-log: mean |error|, its (1 - delta)-quantile, and Theorem 4's
    concentration term against N, with the fitted slope."""
    import matplotlib.pyplot as plt

    names = list(study.errors)
    nrows = math.ceil(len(names) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.1 * ncols, 2.7 * nrows), squeeze=False)
    ns = np.array(study.ns)
    q = 1.0 - study.delta
    for ax, name in zip(axes.flat, names):
        e = np.abs(study.errors[name])
        s = study.slope[name]
        ax.loglog(ns, e.mean(1), "o-", color="tab:blue", ms=3, label="mean |error|")
        ax.loglog(ns, np.exp(s["intercept"]) * ns ** s["slope"], ":", color="tab:blue",
                  label=f"slope {s['slope']:.2f}")
        ax.loglog(ns, study.quantile[name], "s-", color="tab:orange", ms=3, label=f"{q:g}-quantile")
        ax.loglog(ns, study.bound[name], "--", color="tab:red", label="Thm 4 term")
        ax.set_title(f"{name}: i_f = {study.population[name].quadrature:.4f}", fontsize=9)
        ax.set_xlabel("batch size N")
        ax.legend(fontsize=6)
    for ax in list(axes.flat)[len(names):]:
        ax.set_axis_off()
    fig.suptitle(f"|i_f - i_hat_f| under the vMF coupling (d={study.d}, kappa={study.kappa:g}, "
                 f"{study.reps} batches per N)", fontsize=10)
    fig.tight_layout()
    return fig


def figure_batch_size(results: dict, title: str = ""):
    """kNN accuracy against the batch size, one line per objective with the 95% interval over seeds as
    error bars (``knn_ci95`` of :func:`analysis.estimation.batch_size.batch_size_study`), the
    random-init floor dashed."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.6, 3.2))
    for obj, rows in results.items():
        if obj == RANDOM_INIT:
            ax.axhline(rows["knn_acc"] * 100, color="0.5", ls="--", lw=1, label="random init")
            continue
        mean = np.array(rows["knn_acc"]) * 100
        low, high = (np.array(rows["knn_ci95"]) * 100).T
        ax.errorbar(rows["batch_size"], mean, yerr=[mean - low, high - mean], fmt="o-", capsize=3, label=obj)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("batch size N")
    ax.set_ylabel("kNN accuracy (%)")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
