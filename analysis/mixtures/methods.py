"""Which method gives which subspace: linear contrastive encoders against supervised LDA, PCA and
the raw features on the Gaussian mixture of Bansal, Kavis & Sanghavi 2024 (arXiv:2411.03517), for
InfoNCE with the unnormalised inner product (their loss) and for every f-MICL objective (Lu et al.
2023, arXiv:2402.10150).

- :func:`compare`: for each coupling strength ``delta`` and each method (InfoNCE with the inner
  product, NT-Xent with cosine similarity, every f-MICL divergence, the spectral loss), a linear
  encoder trained on fresh pairs, scored by its principal angles to the population Fisher subspace and
  k-means NMI/ARI on fresh test points, next to supervised LDA, PCA and the raw features.
- :func:`sweep_n`: the same for a fixed training sample of ``n`` pairs.
- The failure modes are the same calls on an uncentred mixture or with cosine similarity: the
  argument that the optimum lies in the Fisher subspace uses the unnormalised inner product and
  centred means.

What the f-MICL objectives do (measured here, d = 20, K = 5, f-Gaussian similarity with
:data:`FMICL_SIGMA` and :data:`FMICL_ALPHA`, trained on fresh pairs): they L2-normalise ``Ax``, so
the loss cannot see the scale of the embedding, which the inner-product argument needs. At
``delta = 1`` every divergence collapses rows of ``A`` (effective rank 3 < K - 1 for KL, JS, SH,
VLC; 2 for Pearson, RKL; Neyman 1-2): the directions it keeps lie inside the Fisher subspace
(0.7-1.5 degrees after 2000 steps x B = 256), but k-means NMI drops to about 0.83 against 0.95 for
InfoNCE and LDA. Under noisy coupling (``delta = 0.3``) KL, JS, SH and VLC use all four rows and
approach the Fisher subspace slowly (21-28 degrees after 600 steps x 128, 5.4-7.8 after 2000 x 256;
NMI 0.94-0.95, VLC 0.80). Tsallis with beta = 2 is Pearson chi^2 again (f differs by a multiple of
u - 1). The f-MICL vision setting (f-MICL Table 7: alpha = 40, (2 sigma^2)^-1 = 1; 600 steps x 128)
is far worse here: the strong uniformity term spends the embedding on noise directions (full rank,
70-86 degrees; NMI 0.70-0.93 at delta = 1 and 0.32-0.72 at delta = 0.3).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from analysis.mixtures.encoder import INNER_TEMPERATURE, EncoderTraining, fit_linear_encoder, make_loss
from analysis.mixtures.metrics import Score, cluster_scores, lda_projection, pca_projection, score_projection
from analysis.mixtures.model import GMM, coupling_strength
from fmicl_core import divergences, validation

__all__ = ["COSINE_TEMPERATURE", "FMICL_ALPHA", "FMICL_SIGMA", "METHODS", "Method", "baselines", "compare",
           "find", "format_table", "method", "projections", "sweep_n"]

FMICL_SIGMA = 1.0
"""f-Gaussian width of the f-MICL methods here. Not the package default (f-MICL Table 7, tuned for
vision): with alpha and sigma of Table 7 the uniformity term spends the K - 1 = 4 dimensions of the
embedding on noise directions (module docstring), so the mixture analysis uses sigma = 1, alpha = 1."""
FMICL_ALPHA = 1.0
"""Weight of the f-MICL negative term here, for the reason given at :data:`FMICL_SIGMA`."""
COSINE_TEMPERATURE = 0.2
"""Temperature of NT-Xent with cosine similarity (``infonce_cosine``), the setting at which its
failure under noisy coupling is shown; within the 0.1-0.5 range of Chen et al. 2020
(arXiv:2002.05709). The package default is for the vision runs."""
METHODS = ("infonce", "infonce_cosine", "spectral") + divergences.names()
"""Every method :func:`method` knows."""


@dataclass(frozen=True)
class Method:
    """A contrastive method: arguments of :func:`~analysis.mixtures.encoder.fit_linear_encoder` and
    the optimisation budget it is trained with."""

    name: str
    objective: str
    similarity: str
    hyper: dict
    config: EncoderTraining


def method(name: str, config: EncoderTraining = EncoderTraining(), fmicl_config: EncoderTraining | None = None,
           alpha: float = FMICL_ALPHA, sigma: float = FMICL_SIGMA,
           cosine_temperature: float = COSINE_TEMPERATURE) -> Method:
    """The method ``name``: ``infonce`` (inner product, tau = 1, the GMM paper's loss),
    ``infonce_cosine`` (NT-Xent, temperature ``cosine_temperature``), ``spectral``, or an f-MICL
    divergence (f-Gaussian similarity with ``sigma``, negative weight ``alpha``; trained with
    ``fmicl_config``, default ``config``)."""
    validation.choice("method", name, METHODS)
    if name == "infonce":
        return Method(name, "infonce", "inner", dict(temperature=INNER_TEMPERATURE), config)
    if name == "infonce_cosine":
        temperature = validation.positive("cosine_temperature", cosine_temperature)
        return Method(name, "infonce", "cosine", dict(temperature=temperature), config)
    if name == "spectral":
        return Method(name, "spectral", "inner", {}, config)
    hyper = dict(alpha=validation.positive("alpha", alpha), sigma=validation.positive("sigma", sigma))
    make_loss(name, "gaussian", **hyper)  # the objective checks its hyper-parameters now, not after training others
    return Method(name, name, "gaussian", hyper, fmicl_config or config)


def _fit_and_score(gmm: GMM, m: Method, pairs, target: np.ndarray, x_test: np.ndarray, y_test: np.ndarray,
                   seed: int, **extra: object) -> Score:
    enc = fit_linear_encoder(pairs, m.objective, m.similarity, r=gmm.k - 1, config=m.config, **m.hyper)
    z = x_test @ enc.weight.T
    nmi_sphere, _ = cluster_scores(z / np.linalg.norm(z, axis=1, keepdims=True), y_test, gmm.k, seed)
    return score_projection(m.name, gmm.delta, enc.weight, target, x_test, y_test, seed,
                            encoder_weight=enc.weight, singular_values=np.linalg.svd(enc.weight, compute_uv=False),
                            nmi_normalised=nmi_sphere, seconds=enc.seconds, **extra)


def _check_sizes(gmm: GMM, n_test: int, seed: int) -> None:
    """The encoders map to ``K - 1`` dimensions (at most ``d``) and k-means needs ``K`` test points."""
    if gmm.k - 1 > gmm.d:
        raise ValueError(f"a mixture of K={gmm.k} components in d={gmm.d} is not allowed; the encoders map to "
                         f"K - 1 = {gmm.k - 1} dimensions, so K <= d + 1 is needed")
    validation.integer("n_test", n_test, minimum=gmm.k)
    validation.integer("seed", seed, minimum=0)


def baselines(gmm: GMM, x_test: np.ndarray, y_test: np.ndarray, n_train: int = 5000, seed: int = 0) -> list[Score]:
    """Supervised LDA and PCA(K - 1) fitted on ``n_train`` labelled samples, and the raw features."""
    x, y = gmm.sample(n_train, np.random.default_rng(seed + 2))
    target, r = gmm.fisher(), gmm.k - 1
    return [score_projection("lda", float("nan"), lda_projection(x, y, r), target, x_test, y_test, seed),
            score_projection("pca", float("nan"), pca_projection(x, r), target, x_test, y_test, seed),
            score_projection("raw", float("nan"), None, None, x_test, y_test, seed)]


def compare(gmm: GMM, deltas=(1.0, 0.3), methods: tuple[Method, ...] = (method("infonce"),),
            n_test: int = 5000, n_lda: int = 5000, seed: int = 0, with_baselines: bool = True) -> list[Score]:
    """Every method at every ``delta``, each trained on fresh pairs every step (the population loss),
    then the baselines (``delta`` = NaN: they do not see pairs). Same test draw for every row."""
    deltas = tuple(coupling_strength(d, "deltas") for d in deltas)
    _check_sizes(gmm, n_test, seed)
    x_test, y_test = gmm.sample(n_test, np.random.default_rng(seed + 1))
    target = gmm.fisher()
    rows = [_fit_and_score(gmm.with_delta(d), replace(m, config=replace(m.config, seed=seed)),
                           gmm.with_delta(d), target, x_test, y_test, seed)
            for d in deltas for m in methods]
    return rows + (baselines(gmm, x_test, y_test, n_lda, seed) if with_baselines else [])


def sweep_n(gmm: GMM, ns=(1000, 10000, 100000), deltas=(1.0, 0.3), m: Method = method("infonce"),
            n_test: int = 5000, seed: int = 0) -> list[Score]:
    """A fixed training sample of ``n`` pairs per row (``extra["n"]``): how the angle to the Fisher
    subspace shrinks with the sample size."""
    deltas = tuple(coupling_strength(d, "deltas") for d in deltas)
    _check_sizes(gmm, n_test, seed)
    x_test, y_test = gmm.sample(n_test, np.random.default_rng(seed + 1))
    target = gmm.fisher()
    rows = []
    for d in deltas:
        for n in ns:
            pairs = gmm.with_delta(d).sample_pairs(n, np.random.default_rng(seed + 3))
            rows.append(_fit_and_score(gmm.with_delta(d), m, pairs, target, x_test, y_test, seed, n=n))
    return rows


def projections(gmm: GMM, encoders: dict[str, np.ndarray], n_train: int = 5000, n_test: int = 1500,
                seed: int = 0) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """Fresh test points, their components and the (r, d) maps to compare: ``encoders``, then
    supervised LDA and PCA(K - 1) fitted on ``n_train`` labelled samples (the draws of
    :func:`compare` with the same ``seed``)."""
    x_tr, y_tr = gmm.sample(n_train, np.random.default_rng(seed + 2))
    x_te, y_te = gmm.sample(n_test, np.random.default_rng(seed + 1))
    r = gmm.k - 1
    return x_te, y_te, {**encoders, "LDA (labels)": lda_projection(x_tr, y_tr, r), "PCA": pca_projection(x_tr, r)}


def find(rows: list[Score], name: str, delta: float | None = None) -> Score:
    """The first row of method ``name`` (at coupling ``delta`` when given)."""
    for s in rows:
        if s.method == name and (delta is None or s.delta == delta):
            return s
    raise ValueError(f"no row of method {name!r}" + ("" if delta is None else f" at delta={delta:g}"))


def format_table(rows: list[Score]) -> str:
    """Markdown table: method, delta, largest angle to Fisher, effective rank and the largest angle of
    the effective directions, NMI, ARI."""
    lines = ["| method | delta | largest angle (deg) | effective rank: largest angle | NMI | ARI |",
             "|---|---|---|---|---|---|"]
    for s in rows:
        delta = "-" if np.isnan(s.delta) else f"{s.delta:g}"
        angle = "-" if not s.angles else f"{s.max_angle:.2f}"
        used = "-" if not s.angles else f"{s.extra['effective_rank']}: {s.extra['effective_angles'][0]:.2f}"
        lines.append(f"| {s.method} | {delta} | {angle} | {used} | {s.nmi:.3f} | {s.ari:.3f} |")
    return "\n".join(lines)
