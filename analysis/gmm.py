"""Does contrastive learning recover the Fisher/LDA subspace of a non-isotropic Gaussian mixture under
noisy coupled augmentation, for InfoNCE and for every f-MICL objective? (spec ``theory_papers.md`` §1;
Bansal, Kavis & Sanghavi, "Understanding Contrastive Learning via Gaussian Mixture Models").

- :func:`compare`: for each coupling strength ``delta`` and each method (InfoNCE with the inner
  product, NT-Xent with cosine similarity, every f-MICL divergence, the spectral loss), a linear
  encoder trained on fresh pairs, scored by its principal angles to the population Fisher subspace and
  k-means NMI/ARI on fresh test points, next to supervised LDA, PCA and the raw features (§1.4).
- :func:`sweep_n`: the same for a fixed training sample of ``n`` pairs.
- The failure modes of §1.4 are the same calls on an uncentred mixture or with cosine similarity.

What the f-MICL objectives do (measured, d = 20, K = 5, f-Gaussian similarity with sigma = 1,
alpha = 1, trained on fresh pairs): they L2-normalise ``Ax``, so the loss cannot see the scale of the
embedding and the Jensen argument of §1.2 (which needs the unnormalised inner product) no longer
applies. At ``delta = 1`` every divergence collapses rows of ``A`` (effective rank 3 < K - 1 for KL,
JS, SH, VLC; 2 for Pearson, RKL; Neyman 1-2): the directions it keeps lie inside the Fisher
subspace (0.7-1.5 degrees after 2000 steps x B = 256), but k-means NMI drops to about 0.83 against
0.95 for InfoNCE and LDA. Under noisy coupling (``delta = 0.3``) KL, JS, SH and VLC use all four rows
and approach the Fisher subspace slowly (21-28 degrees after 600 steps x 128, 5.4-7.8 after
2000 x 256; NMI 0.94-0.95, VLC 0.80). Tsallis with beta = 2 is Pearson chi^2 again (f differs by a
multiple of u - 1). The paper's vision setting (alpha = 40, sigma = 1/sqrt 2, 600 steps x 128) is far
worse: the strong uniformity term spends the embedding on noise directions (full rank, 70-86
degrees; NMI 0.70-0.93 at delta = 1 and 0.32-0.72 at delta = 0.3).

``python -m analysis.gmm`` runs the embedded default (InfoNCE with the spec's budget, 6000 steps x
B = 512 of fresh pairs, which <= 3 degrees at delta = 0.3 needs; five f-MICL divergences with 600
steps x 128) and writes ``figures/gmm_vs_lda.{png,json}``.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import asdict, dataclass, replace

import numpy as np

from analysis.gmm_encoder import TrainConfig, fit_linear_encoder
from analysis.gmm_metrics import Score, cluster_scores, lda_projection, pca_projection, score_projection
from analysis.gmm_model import GMM, make_gmm
from fmicl_core import divergences

__all__ = ["Method", "baselines", "compare", "format_table", "method", "plot_angles", "plot_projections",
           "sweep_n", "main"]


@dataclass(frozen=True)
class Method:
    """A contrastive method: arguments of :func:`~analysis.gmm_encoder.fit_linear_encoder` and the
    optimisation budget it is trained with."""

    name: str
    objective: str
    similarity: str
    hyper: dict
    config: TrainConfig


def method(name: str, config: TrainConfig = TrainConfig(), fmicl_config: TrainConfig | None = None,
           alpha: float = 1.0, sigma: float = 1.0, cosine_temperature: float = 0.2) -> Method:
    """The method ``name``: ``infonce`` (inner product, tau = 1, the GMM paper's loss),
    ``infonce_cosine`` (NT-Xent, temperature ``cosine_temperature``), ``spectral``, or an f-MICL
    divergence (f-Gaussian similarity with ``sigma``, negative weight ``alpha``; trained with
    ``fmicl_config``, default ``config``)."""
    if name == "infonce":
        return Method(name, "infonce", "inner", dict(temperature=1.0), config)
    if name == "infonce_cosine":
        return Method(name, "infonce", "cosine", dict(temperature=cosine_temperature), config)
    if name == "spectral":
        return Method(name, "spectral", "inner", {}, config)
    if name in divergences.names():
        return Method(name, name, "gaussian", dict(alpha=alpha, sigma=sigma), fmicl_config or config)
    allowed = ("infonce", "infonce_cosine", "spectral") + divergences.names()
    raise ValueError(f"unknown method {name!r}; allowed: {', '.join(allowed)}")


def _fit_and_score(gmm: GMM, m: Method, pairs, target: np.ndarray, x_test: np.ndarray, y_test: np.ndarray,
                   seed: int, **extra: object) -> Score:
    enc = fit_linear_encoder(pairs, m.objective, m.similarity, r=gmm.k - 1, config=m.config, **m.hyper)
    z = x_test @ enc.weight.T
    nmi_sphere, _ = cluster_scores(z / np.linalg.norm(z, axis=1, keepdims=True), y_test, gmm.k, seed)
    return score_projection(m.name, gmm.delta, enc.weight, target, x_test, y_test, seed,
                            encoder_weight=enc.weight, singular_values=np.linalg.svd(enc.weight, compute_uv=False),
                            nmi_normalised=nmi_sphere, seconds=enc.seconds, **extra)


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
    x_test, y_test = gmm.sample(n_test, np.random.default_rng(seed + 1))
    target = gmm.fisher()
    rows = []
    for d in deltas:
        for n in ns:
            pairs = gmm.with_delta(d).sample_pairs(n, np.random.default_rng(seed + 3))
            rows.append(_fit_and_score(gmm.with_delta(d), m, pairs, target, x_test, y_test, seed, n=n))
    return rows


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


def plot_angles(rows: list[Score], ax=None, effective: bool = False):
    """Largest principal angle to the Fisher subspace against ``delta``, one line per method, with the
    LDA and PCA levels dashed. ``effective=True`` plots the angle of the directions ``A`` really uses
    (:func:`~analysis.gmm_metrics.effective_basis`) and labels each point with the effective rank."""
    import matplotlib.pyplot as plt

    ax = ax or plt.subplots(figsize=(5.5, 3.8))[1]

    def angle(s: Score) -> float:
        return s.extra["effective_angles"][0] if effective else s.max_angle

    for name in dict.fromkeys(s.method for s in rows if not np.isnan(s.delta)):
        pts = sorted((s.delta, angle(s), s.extra["effective_rank"]) for s in rows if s.method == name)
        line, = ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=name)
        for delta, value, rank in pts if effective else ():
            ax.annotate(str(rank), (delta, value), fontsize=7, color=line.get_color(),
                        xytext=(3, 3), textcoords="offset points")
    for s in rows:
        if np.isnan(s.delta) and s.angles:
            ax.axhline(angle(s), ls="--", lw=1, color="k" if s.method == "lda" else "gray")
            ax.annotate(s.method, (0.02, angle(s)), xycoords=("axes fraction", "data"), va="bottom")
    what = "used directions (labels: effective rank)" if effective else "row(A)"
    ax.set(xlabel="coupling strength delta", ylabel="largest angle to Fisher (deg)", yscale="log", title=what)
    ax.legend(fontsize=7, ncol=2)
    return ax.figure


def plot_projections(x: np.ndarray, y: np.ndarray, weights: dict[str, np.ndarray], axes=None):
    """Test points in the first two principal axes of each method's embedding ``x @ W.T``, coloured by
    component (the picture of scikit-learn's "Comparison of LDA and PCA 2D projection" example)."""
    import matplotlib.pyplot as plt

    if axes is None:
        axes = plt.subplots(1, len(weights), figsize=(3.6 * len(weights), 3.4))[1]
    for ax, (name, w) in zip(np.atleast_1d(axes), weights.items()):
        z = x @ w.T
        z = z - z.mean(0)
        _, _, vt = np.linalg.svd(z, full_matrices=False)
        p = z @ vt[:2].T
        for k in np.unique(y):
            ax.scatter(*p[y == k].T, s=3, alpha=0.5, label=f"k={k}")
        ax.set(title=name, xticks=[], yticks=[])
    np.atleast_1d(axes)[0].legend(markerscale=3, fontsize=7)
    return np.atleast_1d(axes)[0].figure


def _parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m analysis.gmm", description=__doc__.split("\n\n")[0])
    p.add_argument("--d", type=int, default=20, help="data dimension (default 20)")
    p.add_argument("--k", type=int, default=5, help="number of mixture components; r = K - 1 (default 5)")
    p.add_argument("--deltas", type=float, nargs="+", default=[1.0, 0.3], help="coupling strengths (default 1 0.3)")
    p.add_argument("--methods", nargs="+", default=["infonce", "kl", "js", "pearson", "sh", "vlc"],
                   help="methods: infonce, infonce_cosine, spectral, or f-MICL divergences "
                        f"({', '.join(divergences.names())}); default infonce kl js pearson sh vlc "
                        "(tsallis with beta=2 is pearson again; rkl and neyman are the failing cases)")
    p.add_argument("--uncentred", action="store_true", help="do not centre the component means (failure mode)")
    p.add_argument("--steps", type=int, default=6000, help="InfoNCE/spectral training steps (default 6000, the spec's)")
    p.add_argument("--batch", type=int, default=512, help="pairs per step (default 512, the spec's)")
    p.add_argument("--fmicl-steps", type=int, default=600, help="f-MICL training steps (default 600)")
    p.add_argument("--fmicl-batch", type=int, default=128, help="f-MICL pairs per step (default 128)")
    p.add_argument("--alpha", type=float, default=1.0, help="f-MICL negative weight alpha (default 1)")
    p.add_argument("--sigma", type=float, default=1.0, help="f-MICL f-Gaussian width sigma (default 1)")
    p.add_argument("--lr", type=float, default=5e-3, help="Adam learning rate, cosine decay (default 5e-3)")
    p.add_argument("--n-test", type=int, default=5000, help="fresh test points for k-means (default 5000)")
    p.add_argument("--seed", type=int, default=0, help="seed of the mixture, training and test draws")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> dict:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from analysis.outputs import save_figure

    args = _parse(argv)
    try:
        gmm = make_gmm(args.d, args.k, centred=not args.uncentred, seed=args.seed)
        config = TrainConfig(steps=args.steps, batch=args.batch, lr=args.lr, seed=args.seed)
        fconfig = TrainConfig(steps=args.fmicl_steps, batch=args.fmicl_batch, lr=args.lr, seed=args.seed)
        methods = tuple(method(m, config, fconfig, args.alpha, args.sigma) for m in args.methods)
    except ValueError as err:
        sys.exit(f"error: {err}")
    start = time.perf_counter()
    rows = compare(gmm, tuple(args.deltas), methods, n_test=args.n_test, seed=args.seed)
    print(format_table(rows))
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    plot_angles(rows, axes[0])
    plot_angles(rows, axes[1], effective=True)
    fig.suptitle(f"d={args.d}, K={args.k}, {'uncentred' if args.uncentred else 'centred'} means")
    numbers = dict(rows=rows, seconds=time.perf_counter() - start)
    png = save_figure("gmm_vs_lda", fig, numbers, dict(vars(args), train=asdict(config), fmicl_train=asdict(fconfig)))
    print(f"wrote {png} ({numbers['seconds']:.0f} s)")
    return numbers


if __name__ == "__main__":
    main()
