"""The figures of uniformity and collapse: f-MICL's Figure 5 (the regular simplex on the sphere)
and Figure 4 (pair distances of trained features) (Lu et al. 2023, arXiv:2402.10150)."""

from __future__ import annotations

import math

import numpy as np

from analysis.simplex.collapse import COLLAPSE_FRACTION, CollapseRun
from analysis.simplex.diagnostics import PairDistances
from analysis.simplex.negative_term import NegativeTermMinimum

__all__ = ["figure_collapse", "figure_collapse_std", "figure_minimisers", "figure_pair_distances",
           "figure_simplex_3d"]


def figure_simplex_3d(result: NegativeTermMinimum, ax=None):
    """Figure 5: the minimiser's points on the unit sphere in 3-D, joined by the simplex's edges.
    Returns the matplotlib figure."""
    import matplotlib.pyplot as plt

    if result.points.shape[1] != 3:
        raise ValueError(f"figure_simplex_3d draws d=3 configurations, got d={result.points.shape[1]}")
    if ax is None:
        fig = plt.figure(figsize=(4.2, 4.2))
        ax = fig.add_subplot(projection="3d")
    u, w = np.mgrid[0 : 2 * np.pi : 40j, 0 : np.pi : 20j]
    ax.plot_wireframe(np.cos(u) * np.sin(w), np.sin(u) * np.sin(w), np.cos(w), color="0.8", linewidth=0.4)
    p = result.points
    for a in range(len(p)):
        for b in range(a + 1, len(p)):
            ax.plot(*zip(p[a], p[b]), color="tab:blue", linewidth=1.2)
    ax.scatter(*p.T, color="tab:red", s=40, depthshade=False)
    ax.scatter([0], [0], [0], color="k", s=10)
    ax.set_box_aspect((1, 1, 1))
    ax.set_axis_off()
    g = result.diagnostics
    ax.set_title(f"{result.divergence}: N={g.n}, d={g.d}\nmax |x_i.x_j + 1/(N-1)| = {g.gram_max:.1e}"
                 f"\ncentroid norm {g.centroid_norm:.1e}", fontsize=9)
    return ax.figure


def figure_minimisers(results: dict[tuple[str, int, int], NegativeTermMinimum], shown: tuple[str, ...]):
    """Figure 5 for the divergences ``shown`` (d = 3, N = 4), then, for every (N, d), the largest
    distance of a minimiser's Gram matrix from the simplex's, per divergence."""
    import matplotlib.pyplot as plt

    sizes = sorted({(n, d) for _, n, d in results})
    names = list(dict.fromkeys(k for k, _, _ in results))
    fig = plt.figure(figsize=(3.4 * max(len(shown), 2), 6.6))
    for i, name in enumerate(shown):
        figure_simplex_3d(results[(name, 4, 3)], fig.add_subplot(2, len(shown), i + 1, projection="3d"))
    ax = fig.add_subplot(2, 1, 2)
    width = 0.8 / len(sizes)
    for k, (n, d) in enumerate(sizes):
        vals = [max(results[(name, n, d)].diagnostics.gram_max, 1e-10) for name in names]
        ax.bar(np.arange(len(names)) + k * width, vals, width, label=f"N={n}, d={d}")
    ax.axhline(1e-3, color="k", ls=":", lw=1, label="1e-3")
    ax.set_xticks(np.arange(len(names)) + width * (len(sizes) - 1) / 2, names)
    ax.set_yscale("log")
    ax.set_ylabel("max |x_i.x_j + 1/(N-1)|")
    ax.legend(fontsize=7, ncol=len(sizes) + 1)
    fig.tight_layout()
    return fig


def _draw_pair_distances(ax, name: str, pd: PairDistances) -> None:
    for values, colour, label in ((pd.negative, "tab:orange", "negative"), (pd.positive, "tab:green", "positive")):
        ax.plot(np.linspace(0, 1, len(values)), values, color=colour, label=label)
    ax.set_title(name, fontsize=9)
    ax.set_ylim(-0.05, 2.05)
    ax.set_xlabel("sorted pairs (quantile)")


def _draw_collapse_std(ax, runs: dict[str, CollapseRun]) -> None:
    names = list(runs)
    ax.bar(names, [runs[k].collapse_std for k in names],
           color=["tab:red" if runs[k].collapsed else "tab:blue" for k in names])
    uniform = next(iter(runs.values())).uniform_std
    ax.axhline(uniform, color="k", ls="--", lw=1, label="uniform 1/sqrt(d)")
    ax.axhline(COLLAPSE_FRACTION * uniform, color="tab:red", ls=":", lw=1, label="collapse threshold")
    ax.set_yscale("log")
    ax.set_ylabel("std of normalised features")
    ax.legend(fontsize=7)
    ax.tick_params(axis="x", labelsize=8)


def figure_pair_distances(distances: dict[str, PairDistances], ncols: int = 4):
    """Figure 4: sorted positive (green) and negative (orange) pair distances, one panel per run.
    Returns the matplotlib figure."""
    import matplotlib.pyplot as plt

    nrows = max(1, math.ceil(len(distances) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.0 * ncols, 2.4 * nrows), squeeze=False, sharey=True)
    for ax, (name, pd) in zip(axes.flat, distances.items()):
        _draw_pair_distances(ax, name, pd)
    for ax in list(axes.flat)[len(distances):]:
        ax.set_axis_off()
    axes[0, 0].set_ylabel("||x - y||")
    axes[0, 0].legend(fontsize=7)
    fig.tight_layout()
    return fig


def figure_collapse_std(runs: dict[str, CollapseRun]):
    """The collapse statistic of every run against the uniform value 1/sqrt(d) and the threshold."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.0, 2.6))
    _draw_collapse_std(ax, runs)
    fig.tight_layout()
    return fig


def figure_collapse(runs: dict[str, CollapseRun], ncols: int = 5):
    """Both in one figure: Figure 4's pair distances per run (top rows) and the collapse statistic
    of every run (bottom row)."""
    import matplotlib.pyplot as plt

    nrows = max(1, math.ceil(len(runs) / ncols))
    fig = plt.figure(figsize=(3.0 * ncols, 2.4 * nrows + 2.8))
    grid = fig.add_gridspec(nrows + 1, ncols, height_ratios=[2.4] * nrows + [2.6])
    for k, (name, r) in enumerate(runs.items()):
        ax = fig.add_subplot(grid[k // ncols, k % ncols])
        _draw_pair_distances(ax, name, r.distances)
        if k == 0:
            ax.set_ylabel("||x - y||")
            ax.legend(fontsize=7)
    _draw_collapse_std(fig.add_subplot(grid[nrows, :]), runs)
    fig.tight_layout()
    return fig
