"""The figures of the coordinate-wise view (Tian 2022, arXiv:2201.12680): the checks of
:func:`analysis.coordinate.experiments.coordinate_checks` and the digits runs of
:func:`analysis.coordinate.experiments.train_objectives`."""

from __future__ import annotations

import numpy as np

from analysis.coordinate.experiments import CoordinateResult, ObjectiveRuns

__all__ = ["plot_checks", "plot_digits"]


def plot_checks(result: CoordinateResult):
    """Four panels: importance profiles, the deep linear trajectory, singular values, ReLU W1."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(1, 4, figsize=(19, 4.2))
    prof = result.profiles
    for key, val in prof.items():
        if key != "d2":
            ax[0].plot(prof["d2"], val, label=key, lw=2 if "f-MICL" not in key else 1,
                       ls="-" if "f-MICL" in key else "--")
    ax[0].set(yscale="log", ylim=(1e-3, 20), xlabel="d2 = |z - z'|^2 / 2", ylabel="importance / value at 0",
              title="(a) pairwise importance alpha(d2)")
    ax[0].legend(fontsize=6, ncol=2)
    for kind, res in result.deep_linear.items():
        ax[1].plot(res.history["step"], res.history["cos_top_eigvec"], label=f"{kind}: |cos(v1, u_C)|")
    h = result.deep_linear["uniform"].history
    ax[1].plot(h["step"], h["cos_top_pc"], "k:", label="uniform: |cos(v1, top PC)|")
    ax[1].plot(h["step"], h["energy_ratio"], "k--", label="uniform: E / (lambda_max/2)")
    ax[1].set(xlabel="max-player step", ylim=(-0.05, 1.05), title="(b) deep linear max player")
    ax[1].legend(fontsize=7)
    for i, (kind, res) in enumerate(result.deep_linear.items()):
        ax[2].bar(np.arange(len(res.singular_values)) + 0.2 * i, res.singular_values, width=0.2, label=kind)
    ax[2].set(xlabel="index", ylabel="singular value / largest", title="(c) singular values of W")
    ax[2].legend(fontsize=7)
    w1 = {k: np.abs(v[0].w1) for k, v in result.relu.items()}
    shown = ("linear, per filter", "relu, per filter")
    panel = np.concatenate([w1[k] / w1[k].max(1, keepdims=True).clip(1e-12) for k in shown], 1)
    ax[3].imshow(panel, cmap="viridis", aspect="auto")
    ax[3].set(xlabel="input dim (linear | ReLU)", ylabel="filter", title="(d) |W1| per filter")
    ax[3].axvline(w1[shown[1]].shape[1] - 0.5, color="w")
    fig.tight_layout()
    return fig


def plot_digits(runs: dict[str, ObjectiveRuns]):
    """kNN and linear-probe accuracy per objective (mean and sd over seeds), with the
    random-initialisation kNN as a dashed floor."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(1.3 * len(runs) + 3, 4))
    x = np.arange(len(runs))
    rows = list(runs.values())
    for offset, key in ((-0.2, "knn"), (0.2, "linear")):
        ax.bar(x + offset, [getattr(r, key)[0] for r in rows], width=0.4,
               yerr=[getattr(r, key)[1] for r in rows], label=key)
    ax.plot(x, [r.random_knn[0] for r in rows], "k_", ms=30, label="random-init kNN")
    ax.set_xticks(x, list(runs), rotation=20)
    ax.set(ylabel="accuracy", ylim=(0, 1.15), title="alpha-CL objectives vs InfoNCE and f-MICL (digits)")
    ax.legend(fontsize=8, loc="upper center", ncol=3)
    fig.tight_layout()
    return fig
