"""Explore the Gaussian-mixture result of Bansal, Kavis & Sanghavi 2024 (arXiv:2411.03517): on
(sample, augmentation) pairs from a mixture of Gaussians with a shared, non-isotropic covariance,
InfoNCE with a linear encoder finds the Fisher subspace that supervised LDA finds, and PCA does not.

The mixture is :func:`analysis.mixtures.model.make_gmm`'s in d = :data:`D` with K = :data:`K`
components, changed by three controls: the coupling strength ``delta`` of the augmentation, the ratio
``weight_ratio`` of the largest to the smallest mixture weight (geometric weights, the means
re-centred under them, as the theory assumes), and the ratio ``anisotropy`` of the largest to the
smallest eigenvalue of the covariance (geometric mean kept at make_gmm's). The scores are those of
:func:`analysis.mixtures.methods.compare`: principal angles to the population Fisher subspace and
k-means NMI on fresh test points.
"""

from __future__ import annotations

import math

import numpy as np

from analysis.explorers import plots
from analysis.explorers.frontend import Control, explore
from analysis.mixtures import methods
from analysis.mixtures.encoder import EncoderTraining
from analysis.mixtures.metrics import Score
from analysis.mixtures.model import GMM, make_gmm

__all__ = ["CONTROLS", "D", "K", "SHOWN", "TRAINING", "explore_gmm", "mixture", "scores"]

CONTROLS = (
    Control("delta", "coupling δ", 0.05, 1.0, 0.05),
    Control("weight_ratio", "max/min weight", 1.0, 10.0, 0.5),
    Control("anisotropy", "covariance λ_max/λ_min", 1.0, 1000.0, 0.1, log=True),
)
D, K = 10, 4
TRAINING = EncoderTraining(steps=800, batch=256)
"""InfoNCE's budget here (about a second on a CPU); notebook 05 trains longer."""
N_TEST, N_LDA, SEED = 1000, 2000, 0
EIGEN_MEAN = math.sqrt(25.0 * 0.25)
"""The geometric mean of the covariance's eigenvalues in make_gmm (25 down to 0.25)."""
SHOWN = ("infonce", "pca", "lda")


def mixture(delta: float, weight_ratio: float, anisotropy: float) -> GMM:
    """The explorer's mixture (module docstring)."""
    values = {c.name: c.check(v) for c, v in zip(CONTROLS, (delta, weight_ratio, anisotropy))}
    spread = math.sqrt(values["anisotropy"])
    base = make_gmm(d=D, k=K, delta=values["delta"], eig_max=EIGEN_MEAN * spread, eig_min=EIGEN_MEAN / spread,
                    seed=SEED)
    pi = np.geomspace(values["weight_ratio"], 1.0, K)
    pi /= pi.sum()
    return GMM(base.means - pi @ base.means, base.cov, pi, values["delta"])


def scores(delta: float, weight_ratio: float, anisotropy: float) -> dict[str, Score]:
    """InfoNCE (inner product, :data:`TRAINING`), PCA, LDA and the raw features on :func:`mixture`,
    by method name."""
    gmm = mixture(delta, weight_ratio, anisotropy)
    rows = methods.compare(gmm, (gmm.delta,), (methods.method("infonce", TRAINING),), n_test=N_TEST, n_lda=N_LDA,
                           seed=SEED)
    return {s.method: s for s in rows}


def _draw(fig, delta: float, weight_ratio: float, anisotropy: float) -> None:
    title = (f"Gaussian mixture, d = {D}, K = {K}: δ = {delta:.2f}, weights {weight_ratio:.3g}:1, "
             f"covariance {anisotropy:.3g}:1 (Bansal et al. 2024)")
    plots.draw_gmm(fig, scores(delta, weight_ratio, anisotropy), SHOWN, title)


def explore_gmm(delta: float = 1.0, weight_ratio: float = 1.0, anisotropy: float = 100.0,
                interactive: bool | None = None):
    """The mixture explorer (module docstring): widgets for delta, the weight ratio and the anisotropy
    around the figure, or the figure at these values when no front end shows widgets (``interactive``:
    :func:`analysis.explorers.frontend.use_widgets`)."""
    values = dict(delta=delta, weight_ratio=weight_ratio, anisotropy=anisotropy)
    return explore(_draw, CONTROLS, values, interactive, figsize=(11.0, 4.0))
