"""How good is a linear projection of mixture data: principal angles to a target subspace
(``scipy.linalg.subspace_angles``) and k-means NMI / ARI of the projected test points against the
latent components, the clustering metrics on which Bansal, Kavis & Sanghavi 2024 (arXiv:2411.03517)
compare InfoNCE with LDA; plus the two classical baselines, the supervised LDA projection
(scikit-learn) and PCA.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import scipy.linalg
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score
from threadpoolctl import threadpool_limits

__all__ = ["Score", "angles_deg", "cluster_scores", "effective_basis", "lda_projection", "pca_projection",
           "score_projection"]

RANK_TOL = 0.05  # singular values below this fraction of the largest count as collapsed


@dataclass(frozen=True)
class Score:
    """One row of the comparison: a method at one coupling strength ``delta``.

    ``angles`` are the principal angles (degrees, largest first) between the method's subspace and
    the target (Fisher) subspace, empty for raw features; ``nmi``/``ari`` are k-means scores on
    fresh test points; ``extra`` holds method-specific numbers (e.g. singular values of ``A``)."""

    method: str
    delta: float
    angles: tuple[float, ...]
    nmi: float
    ari: float
    extra: dict = field(default_factory=dict)

    @property
    def max_angle(self) -> float:
        return self.angles[0] if self.angles else float("nan")


def angles_deg(basis: np.ndarray, target: np.ndarray) -> tuple[float, ...]:
    """Principal angles in degrees, largest first, between ``span(basis)`` and ``span(target)``
    (both (d, r) column bases)."""
    if basis.ndim != 2 or target.ndim != 2 or basis.shape[0] != target.shape[0]:
        raise ValueError(f"bases of shapes {basis.shape} and {target.shape} must be (d, r) with the same d")
    return tuple(float(a) for a in np.degrees(scipy.linalg.subspace_angles(basis, target)))


def effective_basis(weight: np.ndarray, rel_tol: float = RANK_TOL) -> np.ndarray:
    """Orthonormal (d, m) basis of the directions ``weight`` (r, d) really uses: the right singular
    vectors whose singular value is at least ``rel_tol`` times the largest (``m`` = effective rank).
    A loss that is invariant to the scale of each embedding (f-MICL normalises) can shrink a row of
    ``A`` to ~0; the angle of such a dead direction says nothing, so the angles of this basis to the
    target measure whether the used directions lie *inside* the target (dimensional collapse aside)."""
    _, sv, vt = np.linalg.svd(weight, full_matrices=False)
    return vt[sv >= rel_tol * sv[0]].T


def cluster_scores(z: np.ndarray, labels: np.ndarray, k: int, seed: int = 0) -> tuple[float, float]:
    """k-means (``k`` clusters, ``n_init=10``) on ``z``: NMI and ARI against ``labels``. One OpenMP
    thread: on a small, shared CPU the spinning thread pool is many times slower than one thread."""
    with threadpool_limits(limits=1):
        pred = KMeans(n_clusters=k, n_init=10, random_state=seed).fit_predict(z)
    return float(normalized_mutual_info_score(labels, pred)), float(adjusted_rand_score(labels, pred))


def score_projection(method: str, delta: float, weight: np.ndarray | None, target: np.ndarray | None,
                     x_test: np.ndarray, y_test: np.ndarray, seed: int = 0, **extra: object) -> Score:
    """Angles of ``row(weight)`` to ``target`` and k-means scores of ``x_test @ weight.T``
    (``weight=None``: raw features, no angles). ``extra`` gains the effective rank and the angles of
    the effective directions (:func:`effective_basis`) to the target."""
    z = x_test if weight is None else x_test @ weight.T
    angles = () if weight is None or target is None else angles_deg(weight.T, target)
    if angles:
        used = effective_basis(weight)
        extra = dict(extra, effective_rank=used.shape[1], effective_angles=angles_deg(used, target))
    nmi, ari = cluster_scores(z, y_test, int(np.unique(y_test).size), seed)
    return Score(method, delta, angles, nmi, ari, dict(extra))


def lda_projection(x: np.ndarray, y: np.ndarray, r: int) -> np.ndarray:
    """The (r, d) map of scikit-learn's supervised ``LinearDiscriminantAnalysis`` (SVD solver, which
    copes with constant pixels; ``transform`` is ``(x - mean) @ scalings_[:, :r]``)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "Variables are collinear" on constant pixels
        lda = LinearDiscriminantAnalysis(solver="svd").fit(x, y)
    return lda.scalings_[:, :r].T


def pca_projection(x: np.ndarray, r: int) -> np.ndarray:
    """The (r, d) map onto the top-``r`` principal components of ``x``."""
    return PCA(n_components=r).fit(x).components_
