"""The figures of the explorers (:mod:`analysis.explorers`). Each draws into the figure it is given,
from numbers its explorer computed; :func:`new_figure` makes that figure."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # each explorer imports only the analysis it draws
    from analysis.gaussian.check import GaussianCheck
    from analysis.mixtures.metrics import Score
    from analysis.simplex.negative_term import NegativeTermMinimum

__all__ = ["draw_gaussian", "draw_gmm", "draw_objectives", "draw_simplex", "new_figure"]


def new_figure(figsize: tuple[float, float]):
    """A figure that pyplot does not show by itself (closed at once), so that a notebook cell shows
    it exactly once: as the cell's value, or in an explorer's output."""
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=figsize)
    plt.close(fig)
    return fig


def _view(ax, *curves: np.ndarray, span: float = 10.0) -> None:
    """y-limits that show the curves but cut off values beyond ``span`` (Neyman's A reaches -3000)."""
    lo, hi = max(min(c.min() for c in curves), -span), min(max(c.max() for c in curves), span)
    pad = 0.05 * (hi - lo) or 0.5
    ax.set_ylim(lo - pad, hi + pad)


def draw_objectives(fig, curves: dict[str, np.ndarray], convex: bool, overlay: bool, title: str) -> None:
    """Three panels over the squared distance (curves of
    :func:`analysis.explorers.objectives.objective_curves`): A and h, with the KL terms dashed when
    ``overlay``; h'' with the verdict of Theorem 3 (``convex``); the importance of a negative pair."""
    d = curves["d"]
    scores, curvature, weights = fig.subplots(1, 3)
    scores.plot(d, curves["A"], color="C0", label="A(d) = f'(G)")
    scores.plot(d, curves["B"], color="C1", label="h(d) = B(d) = f*(f'(G))")
    if overlay:
        scores.plot(d, curves["A_kl"], "--", color="C0", alpha=0.6, label="KL (InfoNCE, AU): A = c·alignment")
        scores.plot(d, curves["B_kl"], "--", color="C1", alpha=0.6, label="KL (InfoNCE, AU): h = un-logged uniformity")
    _view(scores, curves["A"], curves["B"])
    scores.set_title("scores (f-MICL Table 1, Figure 3)")
    curvature.plot(d, curves["h2"], color="C2", label="h''(d)")
    curvature.axhline(0.0, color="k", lw=0.8)
    verdict = "strictly convex: Theorem 3 applies" if convex else "not strictly convex: outside Theorem 3"
    curvature.set_title(f"uniformity: h {verdict}")
    weights.plot(d, curves["weight"], color="C3", label="α_ij")
    if curves["weight"].min() > 0:
        weights.set_yscale("log")
    weights.set_title("importance of a negative pair (Tian 2022, Th. 1)")
    for ax in (scores, curvature, weights):
        ax.set_xlabel("squared distance d")
        ax.title.set_fontsize(9)
        ax.legend(fontsize=7)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()


def draw_simplex(fig, result: NegativeTermMinimum, squared: np.ndarray, caveats: list[str], title: str) -> None:
    """Three panels: the points (on the sphere for d = 3, else their Gram matrix), their sorted squared
    pair distances ``squared`` against the simplex's ``2N/(N-1)``, and the minimum found against
    ``h(2N/(N-1))`` with the ``caveats`` under the gap."""
    from analysis.simplex.plots import figure_simplex_3d

    n, d = result.points.shape
    points, distances, values = (fig.add_subplot(1, 3, 1, projection="3d" if d == 3 else None),
                                 fig.add_subplot(1, 3, 2), fig.add_subplot(1, 3, 3))
    if d == 3:
        figure_simplex_3d(result, points)
    else:
        image = points.imshow(result.points @ result.points.T, vmin=-1.0, vmax=1.0, cmap="coolwarm")
        fig.colorbar(image, ax=points, fraction=0.046)
        points.set_title(f"x_i·x_j (simplex: {-1.0 / (n - 1):.3g} off the diagonal)", fontsize=9)
    distances.plot(squared, "o-", color="C0", ms=3, label="minimiser's pairs")
    distances.axhline(2.0 * n / (n - 1), color="k", ls="--", lw=1, label="simplex: 2N/(N-1)")
    distances.set(xlabel="pairs, sorted", ylabel="||x_i - x_j||²", ylim=(-0.1, 4.1))
    distances.set_title("pair distances", fontsize=9)
    distances.legend(fontsize=7)
    values.bar(["minimum found", "h(2N/(N-1))"], [result.value, result.simplex_value], color=["C0", "0.5"])
    values.axhline(0.0, color="k", lw=0.8)
    gap = result.value - result.simplex_value
    values.set_title("\n".join([f"negative term: gap {gap:.2e}", *caveats]), fontsize=9)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()


def draw_gaussian(fig, result: GaussianCheck, truth: float, title: str) -> None:
    """Two panels: the check as in f-MICL Figure 1 with the true line through the pairs' centroid
    (where the fitted line passes too), and the fitted slope with its interval against ``truth``."""
    from analysis.gaussian.plots import plot_checks

    left, right = fig.subplots(1, 2, gridspec_kw=dict(width_ratios=(3, 1)))
    plot_checks([result], [title], axes=[left])
    span = result.bin_edges[[0, -1]]
    left.plot(span, result.loglik.mean() + truth * (span - result.distances.mean()), "k--",
              label=f"true slope {truth:.2f}")
    left.legend(fontsize=7, loc="lower left")
    low, high = result.slope_ci
    right.errorbar([0], [result.slope], yerr=[[result.slope - low], [high - result.slope]], fmt="o", color="C3",
                   capsize=4, label="flow's slope (95% CI)")
    right.axhline(truth, color="k", ls="--", label="truth")
    right.set(xticks=[], ylabel="slope of log p in ||x - y||²")
    right.set_title(f"recovered / true = {result.slope / truth:.2f}\nlinearity r = {result.r:.3f}", fontsize=9)
    right.legend(fontsize=7)
    fig.suptitle("The Gaussian-kernel check on a known answer (f-MICL Figure 1)", fontsize=10)
    fig.tight_layout()


def draw_gmm(fig, rows: dict[str, Score], shown: tuple[str, ...], title: str) -> None:
    """Two panels: the principal angles to the Fisher subspace of the methods ``shown`` (grouped
    bars), and the k-means NMI of those methods and of the raw features."""
    left, right = fig.subplots(1, 2, gridspec_kw=dict(width_ratios=(3, 2)))
    width = 0.8 / len(shown)
    for i, name in enumerate(shown):
        angles = rows[name].angles
        left.bar(np.arange(len(angles)) + i * width, angles, width, label=name, color=f"C{i}")
    count = len(rows[shown[0]].angles)
    left.set(xticks=np.arange(count) + width, xticklabels=[f"angle {j + 1}" for j in range(count)],
             ylabel="principal angle to Fisher (deg)", ylim=(0, 90))
    left.set_title("largest: " + ", ".join(f"{n} {rows[n].max_angle:.1f}°" for n in shown), fontsize=9)
    left.legend(fontsize=7)
    names = (*shown, "raw")
    right.bar(names, [rows[n].nmi for n in names], color=[f"C{i}" for i in range(len(shown))] + ["0.5"])
    right.set(ylim=(0, 1), ylabel="k-means NMI")
    right.set_title("clustering of test points", fontsize=9)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
