"""A real-data analogue, on scikit-learn's digits, of the CIFAR-100 experiment of Bansal, Kavis &
Sanghavi 2024 (arXiv:2411.03517), where InfoNCE representations match LDA on clustering metrics.

1,797 images of 64 pixels, standardised; a stratified 67/33 split (seed 0); 10 classes, ``r = 9``.
The positive of a training image is another training image of the *same class* with probability
``delta``, otherwise a random training image (the coupling of :mod:`analysis.mixtures.model` with the
classes as components). A linear InfoNCE encoder is compared with supervised LDA, PCA(9) and the raw
pixels by k-means NMI/ARI on the test split, and its angles to the sample LDA subspace are reported
(no population Fisher subspace exists here).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from analysis.mixtures.encoder import EncoderTraining, fit_linear_encoder
from analysis.mixtures.metrics import Score, lda_projection, pca_projection, score_projection
from analysis.mixtures.model import Pairs, coupled_labels, coupling_strength

__all__ = ["DigitsCoupling", "digits_experiment", "load_split"]


def load_split(seed: int = 0):
    """Standardised (scaler fitted on the training part) stratified 67/33 split of the digits."""
    x, y = load_digits(return_X_y=True)
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=0.33, stratify=y, random_state=seed)
    scaler = StandardScaler().fit(x_tr)
    return scaler.transform(x_tr), scaler.transform(x_te), y_tr, y_te


@dataclass(frozen=True)
class DigitsCoupling:
    """Training images ``x`` with classes ``y``; ``sample_pairs`` draws (image, positive) pairs with
    the class kept with probability ``delta``, else a class drawn from the empirical class frequencies
    (equivalently a random training image)."""

    x: np.ndarray
    y: np.ndarray
    delta: float = 1.0
    d: int = field(init=False)
    k: int = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "delta", coupling_strength(self.delta))
        object.__setattr__(self, "d", self.x.shape[1])  # the pixels
        object.__setattr__(self, "k", int(np.unique(self.y).size))  # the classes

    def sample_pairs(self, n: int, rng: np.random.Generator) -> Pairs:
        anchor = rng.integers(self.x.shape[0], size=n)
        k = self.y[anchor]
        k_pos = coupled_labels(k, np.bincount(self.y) / self.y.size, self.delta, rng)
        order = np.argsort(self.y, kind="stable")  # images grouped by class
        counts = np.bincount(self.y)
        first = np.concatenate([[0], np.cumsum(counts)[:-1]])
        positive = order[first[k_pos] + (rng.random(n) * counts[k_pos]).astype(int)]
        return Pairs(self.x[anchor], self.x[positive], k, k_pos)


def digits_experiment(deltas=(1.0, 0.5, 0.2), config: EncoderTraining = EncoderTraining(steps=1500, batch=256),
                      seed: int = 0) -> list[Score]:
    """InfoNCE (inner product, tau = 1) per ``delta``, then LDA, PCA(9) and raw (``delta`` = NaN);
    angles are to the LDA subspace fitted on the training split."""
    x_tr, x_te, y_tr, y_te = load_split(seed)
    r = int(np.unique(y_tr).size) - 1
    lda = lda_projection(x_tr, y_tr, r)
    target, _ = np.linalg.qr(lda.T)
    rows = []
    for delta in deltas:
        enc = fit_linear_encoder(DigitsCoupling(x_tr, y_tr, delta), r=r, config=config)
        rows.append(score_projection("infonce", delta, enc.weight, target, x_te, y_te, seed))
    nan = float("nan")
    return rows + [score_projection("lda", nan, lda, target, x_te, y_te, seed),
                   score_projection("pca", nan, pca_projection(x_tr, r), target, x_te, y_te, seed),
                   score_projection("raw", nan, None, None, x_te, y_te, seed)]
