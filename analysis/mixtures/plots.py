"""The figures of the Gaussian-mixture question (Bansal, Kavis & Sanghavi 2024, arXiv:2411.03517):
angles to the Fisher subspace against the coupling strength and the sample size, and the 2-D
picture of each projection. Figures only; the numbers come from :mod:`analysis.mixtures.methods`."""

from __future__ import annotations

import numpy as np

from analysis.mixtures.metrics import Score

__all__ = ["plot_angle_vs_n", "plot_angles", "plot_comparison", "plot_projections"]


def plot_angles(rows: list[Score], ax=None, effective: bool = False):
    """Largest principal angle to the Fisher subspace against ``delta``, one line per method, with the
    LDA and PCA levels dashed. ``effective=True`` plots the angle of the directions ``A`` really uses
    (:func:`~analysis.mixtures.metrics.effective_basis`) and labels each point with the effective rank."""
    import matplotlib.pyplot as plt

    ax = ax or plt.subplots(figsize=(5.5, 3.8))[1]

    def angle(s: Score) -> float:
        return s.extra["effective_angles"][0] if effective else s.max_angle

    for name in dict.fromkeys(s.method for s in rows if not np.isnan(s.delta)):
        pts = sorted((s.delta, angle(s), s.extra["effective_rank"]) for s in rows if s.method == name)
        line, = ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=name)
        for delta, value, rank in pts if effective else ():
            ax.annotate(str(rank), (delta, value), fontsize=7, color=line.get_color(),
                        xytext=(3, 3), textcoords="offset points")
    for s in rows:
        if np.isnan(s.delta) and s.angles:
            ax.axhline(angle(s), ls="--", lw=1, color="k" if s.method == "lda" else "gray")
            ax.annotate(s.method, (0.02, angle(s)), xycoords=("axes fraction", "data"), va="bottom")
    what = "used directions (labels: effective rank)" if effective else "row(A)"
    ax.set(xlabel="coupling strength delta", ylabel="largest angle to Fisher (deg)", yscale="log", title=what)
    ax.legend(fontsize=7, ncol=2)
    return ax.figure


def plot_comparison(rows: list[Score], title: str):
    """Two panels side by side: :func:`plot_angles` of ``row(A)`` and of the directions it uses."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    plot_angles(rows, axes[0])
    plot_angles(rows, axes[1], effective=True)
    fig.suptitle(title)
    return fig


def plot_angle_vs_n(rows: list[Score], label: str = "InfoNCE", ax=None):
    """Largest angle to the Fisher subspace against the number ``n`` of training pairs (rows of
    :func:`~analysis.mixtures.methods.sweep_n`), one line per coupling strength, log-log."""
    import matplotlib.pyplot as plt

    ax = ax or plt.subplots(figsize=(4.5, 3.4))[1]
    for delta in dict.fromkeys(s.delta for s in rows):
        pts = sorted((s.extra["n"], s.max_angle) for s in rows if s.delta == delta)
        ax.loglog([p[0] for p in pts], [p[1] for p in pts], marker="o", label=f"{label}, δ={delta:g}")
    ax.set(xlabel="training pairs n", ylabel="largest angle to Fisher (deg)")
    ax.legend()
    return ax.figure


def plot_projections(x: np.ndarray, y: np.ndarray, weights: dict[str, np.ndarray], axes=None):
    """Test points in the first two principal axes of each method's embedding ``x @ W.T``, coloured by
    component (the picture of scikit-learn's "Comparison of LDA and PCA 2D projection" example)."""
    import matplotlib.pyplot as plt

    if axes is None:
        axes = plt.subplots(1, len(weights), figsize=(3.6 * len(weights), 3.4))[1]
    for ax, (name, w) in zip(np.atleast_1d(axes), weights.items()):
        z = x @ w.T
        z = z - z.mean(0)
        _, _, vt = np.linalg.svd(z, full_matrices=False)
        p = z @ vt[:2].T
        for k in np.unique(y):
            ax.scatter(*p[y == k].T, s=3, alpha=0.5, label=f"k={k}")
        ax.set(title=name, xticks=[], yticks=[])
    np.atleast_1d(axes)[0].legend(markerscale=3, fontsize=7)
    return np.atleast_1d(axes)[0].figure
