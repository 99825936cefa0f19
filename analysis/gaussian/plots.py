"""Figures of the check of the Gaussian-kernel assumption: the panels of Lu et al. 2023 (f-MICL,
arXiv:2402.10150) Figure 1 and Figure 7, held-out log-likelihood against the squared distance of the
pair, with the fitted line of :func:`analysis.gaussian.check.verify_gaussian`."""

from __future__ import annotations

import numpy as np

from analysis.gaussian.calibration import by_cell
from analysis.gaussian.check import GaussianCheck

__all__ = ["plot_checks"]


def plot_checks(checks: list[GaussianCheck], titles: list[str] | None = None, axes=None):
    """One panel per check (as in Figure 1): held-out pairs, bin means with their confidence
    intervals, and the least-squares line; returns the matplotlib figure."""
    import matplotlib.pyplot as plt

    titles = titles or [f"{c.prior} prior" for c in checks]
    if axes is None:
        fig, axes = plt.subplots(1, len(checks), figsize=(4.2 * len(checks), 3.6), squeeze=False)
        axes = axes[0]
    for ax, c, title in zip(axes, checks, titles):
        ax.scatter(c.distances, c.loglik, s=3, alpha=0.15, color="0.5", label="held-out pairs")
        ax.errorbar(c.bin_centres, c.bin_mean_loglik,
                    yerr=[c.bin_mean_loglik - c.bin_ci_low, c.bin_ci_high - c.bin_mean_loglik],
                    fmt="o", color="C0", ms=4, capsize=2, label="bin mean (95% CI)")
        grid = np.linspace(c.bin_edges[0], c.bin_edges[-1], 50)
        ax.plot(grid, c.intercept + c.slope * grid, color="C3",
                label=f"slope {c.slope:.2f} [{c.slope_ci[0]:.2f}, {c.slope_ci[1]:.2f}]\nr = {c.r:.3f}")
        lo, hi = np.quantile(c.loglik, [0.01, 0.99])
        pad = 0.1 * (hi - lo)
        ax.set_ylim(min(lo, c.bin_ci_low.min()) - pad, max(hi, c.bin_ci_high.max()) + pad)
        ax.set_xlabel(r"$\|x - y\|^2$")
        ax.set_ylabel(r"held-out $\log p(x, y)$")
        ax.set_title(title, fontsize=10)
        ax.legend(fontsize=7, loc="lower left")
    fig = axes[0].figure
    fig.tight_layout()
    return fig


def plot_bias_map(cells, holdout: list[dict], n: int):
    """The bias map at ``n`` pairs as three heat maps over dimension x kappa: the raw slope over the exact
    target of the thickened joint (before calibration), the calibrated slope over the truth ``-kappa/2``
    (each seed read through the curve of the other seeds: after calibration), and the share of seeds
    whose calibrated 95% interval covers the truth. ``cells`` and ``holdout`` are those of
    :func:`analysis.gaussian.bias_map.cells` and :func:`analysis.gaussian.calibration.leave_one_seed_out`."""
    import matplotlib.pyplot as plt

    cells = [c for c in cells if c.n == n]
    dims, kappas = sorted({c.d for c in cells}), sorted({c.kappa for c in cells})

    def grid(value):
        out = np.full((len(dims), len(kappas)), np.nan)
        for c in cells:
            out[dims.index(c.d), kappas.index(c.kappa)] = value(c)
        return out

    after = by_cell(holdout)
    panels = [("raw / exact target (before)", grid(lambda c: c.ratio), (0.6, 1.4), "RdBu_r"),
              ("calibrated / truth (after)", grid(lambda c: after[c.d, c.kappa, c.n][0]), (0.6, 1.4), "RdBu_r"),
              ("coverage of the truth (after)", grid(lambda c: after[c.d, c.kappa, c.n][1]), (0.5, 1.0), "viridis")]
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    for ax, (title, values, limits, cmap) in zip(axes, panels):
        image = ax.imshow(values, cmap=cmap, vmin=limits[0], vmax=limits[1], aspect="auto")
        for (i, j), v in np.ndenumerate(values):
            ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=7)
        ax.set_xticks(range(len(kappas)), [f"{k:g}" for k in kappas])
        ax.set_yticks(range(len(dims)), [str(d) for d in dims])
        ax.set_xlabel(r"$\kappa$ ($\sigma^2 = 1/\kappa$)")
        ax.set_ylabel("d")
        ax.set_title(f"{title}, n={n}", fontsize=10)
        fig.colorbar(image, ax=ax, shrink=0.8)
    fig.tight_layout()
    return fig
