"""The figure of the objectives zoo (:mod:`analysis.zoo.curves`)."""

from __future__ import annotations

import numpy as np

__all__ = ["plot_zoo"]


def plot_zoo(curves: dict, cosine: dict):
    """Three panels: A(d), B(d) (Table 1 as curves) and the cosine vs f-Gaussian penalty."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    for n, cv in curves.items():
        axes[0].plot(cv["d"], np.clip(cv["A"], -20, 5), label=n)
        axes[1].plot(cv["d"], np.clip(cv["B"], -20, 5), label=n)
        axes[2].plot(cosine[n]["u"], np.clip(cosine[n]["gaussian"], -20, 5), label=f"{n} gauss")
    axes[0].set(title="positive score A(d) = f'(G)", xlabel="squared distance d", ylim=(-20, 5))
    axes[1].set(title="negative penalty B(d) = f*(f'(G))", xlabel="squared distance d", ylim=(-20, 5))
    for n in ("kl", "js", "vlc"):
        axes[2].plot(cosine[n]["u"], cosine[n]["cosine"], "--", label=f"{n} cosine")
    axes[2].set(title="penalty vs cosine: f-Gaussian (solid), cosine (dashed)", xlabel="cosine u", ylim=(-5, 8))
    axes[0].legend(fontsize=7)
    axes[2].legend(fontsize=6, ncol=2)
    fig.tight_layout()
    return fig
