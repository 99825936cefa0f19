"""The CLIP extension of the Gaussian-mixture question: Bansal, Kavis & Sanghavi 2024
(arXiv:2411.03517) state that in a multi-modal mixture the CLIP loss learns a subset of the
Fisher-optimal subspace and filters out the noise from the representations.

Two modalities share a latent component ``k`` and each has its own *nuisance* component:

    x = mu_k + eta_{j_x} + N(0, Sigma_x),     y = nu_{k+} + zeta_{j_y} + N(0, Sigma_y),

with ``k+`` the coupled component of strength ``delta`` (:func:`analysis.mixtures.model.coupled_labels`)
and ``j_x, j_y`` independent uniform nuisance labels (this construction is ours). Each modality is
itself a GMM with K * J components ``(k, j)`` and a shared covariance, so
:class:`~analysis.mixtures.model.GMM` draws it. For the shared label the within-class covariance of
``x`` is ``Sigma_x + S_b(eta)``, so the shared Fisher subspace of ``x`` is the top ``K - 1``
generalised eigenspace of ``S_b(mu) v = lambda (Sigma_x + S_b(eta)) v``.

Two linear encoders ``A_x, A_y`` are trained with the symmetric CLIP loss (InfoNCE with the inner
product between modalities, :func:`analysis.mixtures.encoder.inner_infonce`); the claim to measure is
that ``row(A_x)`` lies in the shared Fisher subspace of ``x`` (likewise for ``y``) and that the
nuisance label cannot be read from the embedding (k-means NMI near 0), while PCA keeps it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from analysis.mixtures.encoder import EncoderTraining, inner_infonce, stream_source, train_linear
from analysis.mixtures.metrics import Score, cluster_scores, lda_projection, pca_projection, score_projection
from analysis.mixtures.model import (GMM, Pairs, between_scatter, coupled_labels, coupling_strength,
                                     fisher_subspace, make_gmm)
from fmicl_core import validation

__all__ = ["ModalSample", "TwoModalGMM", "clip_experiment", "make_two_modal"]


@dataclass(frozen=True)
class ModalSample:
    """Paired draws ``(x, y)`` with the shared components ``k`` (of x) and ``k_pos`` (of y) and the
    nuisance components ``j_x``, ``j_y``."""

    pairs: Pairs
    j_x: np.ndarray
    j_y: np.ndarray


@dataclass(frozen=True)
class TwoModalGMM:
    """Shared means ``mu`` (K, dx), ``nu`` (K, dy); nuisance means ``eta`` (J, dx), ``zeta`` (J, dy);
    covariances ``cov_x``, ``cov_y``; coupling ``delta`` (module docstring); ``k`` and ``j`` count the
    shared and the nuisance components."""

    mu: np.ndarray
    nu: np.ndarray
    eta: np.ndarray
    zeta: np.ndarray
    cov_x: np.ndarray
    cov_y: np.ndarray
    delta: float = 1.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "delta", coupling_strength(self.delta))
        if self.mu.shape[0] != self.nu.shape[0] or self.eta.shape[0] != self.zeta.shape[0]:
            raise ValueError(f"mu/nu have {self.mu.shape[0]}/{self.nu.shape[0]} rows and eta/zeta "
                             f"{self.eta.shape[0]}/{self.zeta.shape[0]}; each pair must match")

    @property
    def k(self) -> int:
        return self.mu.shape[0]

    @property
    def pi(self) -> np.ndarray:
        """The shared components are equally likely."""
        return np.full(self.k, 1.0 / self.k)

    @property
    def j(self) -> int:
        return self.eta.shape[0]

    def _parts(self, which: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(shared means, nuisance means, covariance) of modality ``which``."""
        validation.choice("modality", which, ("x", "y"))
        return (self.mu, self.eta, self.cov_x) if which == "x" else (self.nu, self.zeta, self.cov_y)

    def modality(self, which: str) -> GMM:
        """Modality ``"x"`` or ``"y"`` as a GMM over the K * J components ``k * J + j``."""
        shared, nuisance, cov = self._parts(which)
        means = (shared[:, None, :] + nuisance[None, :, :]).reshape(self.k * self.j, -1)
        return GMM(means, cov, np.full(self.k * self.j, 1.0 / (self.k * self.j)))

    def shared_fisher(self, which: str) -> np.ndarray:
        """The shared-label Fisher subspace of modality ``which`` (within = Sigma + S_b(nuisance))."""
        shared, nuisance, cov = self._parts(which)
        return fisher_subspace(shared, self.pi, cov + between_scatter(nuisance, np.full(self.j, 1.0 / self.j)))

    def sample(self, n: int, rng: np.random.Generator) -> ModalSample:
        """``n`` coupled pairs with all their latent labels."""
        k = rng.choice(self.k, size=n, p=self.pi)
        k_pos = coupled_labels(k, self.pi, self.delta, rng)
        j_x, j_y = rng.integers(self.j, size=n), rng.integers(self.j, size=n)
        x = self.modality("x").draw(k * self.j + j_x, rng)
        y = self.modality("y").draw(k_pos * self.j + j_y, rng)
        return ModalSample(Pairs(x, y, k, k_pos), j_x, j_y)

    def sample_pairs(self, n: int, rng: np.random.Generator) -> Pairs:
        """``n`` (x, y) pairs (the stream the CLIP encoders are trained on)."""
        return self.sample(n, rng).pairs


def make_two_modal(dx: int = 20, dy: int = 16, k: int = 5, j: int = 3, delta: float = 1.0,
                   nuisance_scale: float = 3.0, seed: int = 0) -> TwoModalGMM:
    """Each modality's shared part and covariance from :func:`~analysis.mixtures.model.make_gmm` (centred
    means, anisotropic Sigma); nuisance means ``~ N(0, nuisance_scale^2 I)``, centred, stronger than the
    shared ones by default so that PCA sees mostly nuisance."""
    gx, gy = make_gmm(dx, k, seed=seed), make_gmm(dy, k, seed=seed + 1)
    nx, ny = (make_gmm(d, j, mean_scale=nuisance_scale, seed=seed + 2 + i) for i, d in enumerate((dx, dy)))
    return TwoModalGMM(gx.means, gy.means, nx.means, ny.means, gx.cov, gy.cov, delta)


def clip_experiment(model: TwoModalGMM, n_test: int = 5000, n_lda: int = 5000,
                    config: EncoderTraining = EncoderTraining(), seed: int = 0) -> list[Score]:
    """Train ``A_x, A_y`` with the symmetric CLIP loss on fresh pairs, then score, per modality, the
    CLIP encoder, supervised LDA on the shared label, PCA and the raw features: angles to the shared
    Fisher subspace, NMI/ARI of the shared label, and (``extra["nuisance_nmi"]``) k-means NMI of the
    nuisance label with J clusters."""
    r = model.k - 1
    source = stream_source(model, (model.mu.shape[1], model.nu.shape[1]))
    encoders = train_linear(source, inner_infonce, r, shared=False, config=config)
    rng = np.random.default_rng(seed + 1)
    train, test = model.sample(n_lda, rng), model.sample(n_test, rng)
    scores = []
    for which, enc, x_tr, x_te, k_tr, k_te, j_te in (
            ("x", encoders[0], train.pairs.x, test.pairs.x, train.pairs.k, test.pairs.k, test.j_x),
            ("y", encoders[1], train.pairs.x_pos, test.pairs.x_pos, train.pairs.k_pos, test.pairs.k_pos, test.j_y)):
        target = model.shared_fisher(which)
        for method, weight in (("clip", enc.weight), ("lda", lda_projection(x_tr, k_tr, r)),
                               ("pca", pca_projection(x_tr, r)), ("raw", None)):
            z = x_te if weight is None else x_te @ weight.T
            nuisance_nmi, _ = cluster_scores(z, j_te, model.j, seed)
            scores.append(score_projection(f"{method}[{which}]", model.delta, weight, target, x_te, k_te,
                                           seed, nuisance_nmi=nuisance_nmi))
    return scores
