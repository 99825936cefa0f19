"""The Gaussian-mixture data model of Bansal, Kavis & Sanghavi 2024 (arXiv:2411.03517), its coupled
augmentation and its Fisher/LDA subspace.

- ``x ~ sum_k pi_k N(mu_k, Sigma)`` with a latent component ``k`` and one *shared*, non-isotropic
  covariance; :func:`make_gmm` builds this package's instance, ``Sigma = Q diag(geomspace(25, 0.25,
  d)) Q^T``.
- Coupled augmentation of strength ``delta`` (a parametrisation of the paper's "noisy" coupled
  draw, whose augmentation is biased towards the sample's component): ``k+ = k`` with probability
  ``delta``, else ``k+ ~ pi``; then ``x+ ~ N(mu_{k+}, Sigma)`` independently of ``x`` given
  ``(k, k+)``. So ``P(k+ = k | k) = delta + (1 - delta) pi_k > pi_k``, and ``delta = 1`` is the
  paper's augmentation as another independent draw from the same component.
- Fisher subspace: the top ``K - 1`` generalised eigenvectors of ``S_b v = lambda S_w v`` with
  ``S_b = sum_k pi_k (mu_k - mu_bar)(mu_k - mu_bar)^T`` and ``S_w = Sigma``, i.e.
  ``span{Sigma^{-1} (mu_k - mu_bar)}``: the subspace supervised LDA estimates, and the one the paper
  shows InfoNCE finds.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import scipy.linalg

from fmicl_core import validation

__all__ = ["GMM", "Pairs", "between_scatter", "coupled_labels", "coupling_strength", "fisher_subspace",
           "make_gmm", "random_orthogonal"]


@dataclass(frozen=True)
class Pairs:
    """``n`` (sample, augmentation) pairs with their latent components (labels are never trained on)."""

    x: np.ndarray
    x_pos: np.ndarray
    k: np.ndarray
    k_pos: np.ndarray


def coupling_strength(delta: object, name: str = "delta") -> float:
    """A coupling strength ``delta`` in (0, 1] (at 0 the pair carries no information); ``name``
    is what an error calls it."""
    value = validation.number(name, delta)
    if not 0.0 < value <= 1.0:
        raise ValueError(f"{name}={delta!r} is not allowed; it must lie in (0, 1]")
    return value


def coupled_labels(k: np.ndarray, pi: np.ndarray, delta: float, rng: np.random.Generator) -> np.ndarray:
    """The augmentation's component: ``k`` with probability ``delta``, else a fresh draw from ``pi``."""
    keep = rng.random(k.shape[0]) < delta
    return np.where(keep, k, rng.choice(pi.shape[0], size=k.shape[0], p=pi))


def between_scatter(means: np.ndarray, pi: np.ndarray) -> np.ndarray:
    """``S_b = sum_k pi_k (mu_k - mu_bar)(mu_k - mu_bar)^T`` with ``mu_bar = sum_k pi_k mu_k``."""
    centred = means - pi @ means
    return centred.T @ (pi[:, None] * centred)


def fisher_subspace(means: np.ndarray, pi: np.ndarray, within: np.ndarray, r: int | None = None) -> np.ndarray:
    """Orthonormal (d, r) basis of the top-``r`` generalised eigenspace of ``S_b v = lambda S_w v``
    (``r = K - 1`` by default: the Fisher/LDA subspace; ``scipy.linalg.eigh`` solves the pencil)."""
    r = means.shape[0] - 1 if r is None else validation.integer("r", r)
    if r > means.shape[0] - 1:
        raise ValueError(f"r={r} is not allowed; S_b has rank at most K - 1 = {means.shape[0] - 1}")
    _, vecs = scipy.linalg.eigh(between_scatter(means, pi), within)
    basis, _ = np.linalg.qr(vecs[:, ::-1][:, :r])
    return basis


def random_orthogonal(d: int, rng: np.random.Generator) -> np.ndarray:
    """A Haar-random orthogonal (d, d) matrix (QR of a Gaussian matrix with the sign fix)."""
    q, r = np.linalg.qr(rng.standard_normal((d, d)))
    return q * np.sign(np.diag(r))


@dataclass(frozen=True)
class GMM:
    """``sum_k pi_k N(mu_k, Sigma)`` with coupled augmentation of strength ``delta`` (module docstring)."""

    means: np.ndarray
    cov: np.ndarray
    pi: np.ndarray
    delta: float = 1.0

    def __post_init__(self) -> None:
        k, d = self.means.shape
        if self.cov.shape != (d, d) or self.pi.shape != (k,):
            raise ValueError(f"cov has shape {self.cov.shape} and pi {self.pi.shape}; "
                             f"they must be ({d}, {d}) and ({k},) for means of shape ({k}, {d})")
        if not np.isclose(self.pi.sum(), 1.0) or (self.pi < 0).any():
            raise ValueError(f"pi={self.pi} is not allowed; it must be a probability vector")
        object.__setattr__(self, "delta", coupling_strength(self.delta))

    @property
    def k(self) -> int:
        """The number of components."""
        return self.means.shape[0]

    def with_delta(self, delta: float) -> GMM:
        """The same mixture with another coupling strength."""
        return GMM(self.means, self.cov, self.pi, delta)

    def fisher(self, r: int | None = None) -> np.ndarray:
        """The population Fisher subspace, an orthonormal (d, K - 1) basis."""
        return fisher_subspace(self.means, self.pi, self.cov, r)

    @cached_property
    def _chol(self) -> np.ndarray:
        return np.linalg.cholesky(self.cov)

    @property
    def d(self) -> int:
        """The dimension of the data."""
        return self.means.shape[1]

    def draw(self, labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """One sample ``N(mu_label, Sigma)`` per label."""
        return self.means[labels] + rng.standard_normal((labels.shape[0], self.d)) @ self._chol.T

    def sample(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """``n`` samples and their components."""
        labels = rng.choice(self.k, size=validation.integer("n", n), p=self.pi)
        return self.draw(labels, rng), labels

    def sample_pairs(self, n: int, rng: np.random.Generator) -> Pairs:
        """``n`` (x, x+) pairs from the coupling of strength ``delta``."""
        x, k = self.sample(n, rng)
        k_pos = coupled_labels(k, self.pi, self.delta, rng)
        return Pairs(x, self.draw(k_pos, rng), k, k_pos)


def make_gmm(d: int = 20, k: int = 5, delta: float = 1.0, centred: bool = True, mean_scale: float = 1.5,
             eig_max: float = 25.0, eig_min: float = 0.25, seed: int = 0) -> GMM:
    """This package's instance: uniform ``pi``, ``Sigma = Q diag(geomspace(eig_max, eig_min, d)) Q^T``
    with a random orthogonal ``Q`` (a 100:1 spread of variances, so that PCA and LDA disagree),
    ``mu_k ~ N(0, mean_scale^2 I)``, centred (``sum_k pi_k mu_k = 0``) unless ``centred=False``."""
    d, k = validation.integer("d", d, 2), validation.integer("k", k, 2)
    mean_scale = validation.positive("mean_scale", mean_scale)
    eig_min = validation.positive("eig_min", eig_min)
    if validation.number("eig_max", eig_max) < eig_min:
        raise ValueError(f"eig_max={eig_max!r} is not allowed; it must be >= eig_min={eig_min:g}")
    rng = np.random.default_rng(validation.integer("seed", seed, 0))
    q = random_orthogonal(d, rng)
    cov = (q * np.geomspace(eig_max, eig_min, d)) @ q.T
    means = mean_scale * rng.standard_normal((k, d))
    pi = np.full(k, 1.0 / k)
    if centred:
        means = means - pi @ means
    return GMM(means, (cov + cov.T) / 2, pi, delta)
