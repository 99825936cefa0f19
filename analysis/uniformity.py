"""Uniformity of f-MICL features: batch diagnostics and the regular simplex of Theorem 3.

Spec ``fmicl_paper.md`` section 2 (uniformity condition) and section 5 (uniformity theorem): if
``h(t) = f*(f'(G(t)))`` is strictly convex on [0, 4] and ``2 <= N <= d + 1``, every minimiser of the
negative term ``sum_{i != j} h(||x_i - x_j||^2)`` over N points of ``S^{d-1}`` is a regular simplex
centred at the origin: ``mean x = 0``, ``x_i.x_j = -1/(N-1)``, ``||x_i - x_j||^2 = 2N/(N-1)``.

- :func:`diagnose` measures a feature batch: how far it is from that simplex, Wang-Isola uniformity,
  and the collapse statistic (std of L2-normalised features; 0 when collapsed, ~1/sqrt(d) uniform).
- :func:`pair_distances` gives the sorted positive/negative pair distances (paper Figure 4 left/middle).
- :func:`minimise_negative_term` optimises N points against the negative term alone (float64 L-BFGS)
  and returns the configuration with its diagnostics; :func:`figure_simplex_3d` draws Figure 5.
- :func:`negative_term` is the objective itself. For RKL ``h`` is linear, so it equals
  ``log mu - 1 - c 2N/(N-1) (1 - ||mean x||^2)``: every centred configuration is a minimiser. For
  Neyman ``h`` is concave, and the minimisers split into antipodal clusters instead of a simplex.
"""

from __future__ import annotations

import argparse
import math
import time
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from analysis.outputs import save_figure
from analysis.vmf import log_mean_exp_inner
from fmicl_core import divergences
from fmicl_core.losses import check_embeddings, uniform_loss

__all__ = [
    "BatchDiagnostics",
    "NegativeTermMinimum",
    "PairDistances",
    "collapse_std",
    "diagnose",
    "figure_minimisers",
    "figure_pair_distances",
    "figure_simplex_3d",
    "main",
    "minimise_negative_term",
    "negative_term",
    "pair_distances",
    "regular_simplex",
    "uniform_reference",
]


def _as_tensor(z: np.ndarray | Tensor, name: str = "z1") -> Tensor:
    """A float64 (N, d) tensor, checked (finite, 2-D, N >= 2)."""
    t = torch.as_tensor(np.asarray(z) if not isinstance(z, Tensor) else z).detach()
    if not t.is_floating_point():
        raise ValueError(f"{name} has dtype {t.dtype}; features must be floating point")
    check_embeddings(t.to(torch.float64), name=name)
    return t.to(torch.float64)


def _upper(m: Tensor) -> Tensor:
    """The strict upper triangle of a square matrix, flattened (each unordered pair once)."""
    i, j = torch.triu_indices(m.shape[0], m.shape[0], 1)
    return m[i, j]


def collapse_std(z: np.ndarray | Tensor) -> float:
    """Collapse statistic: mean over dimensions of the std (over the batch) of L2-normalised
    features, as lightly's ``std_of_l2_normalized``. 0 for a collapsed batch, ~1/sqrt(d) for
    points uniform on the sphere."""
    x = F.normalize(_as_tensor(z), dim=1)
    return float(x.std(dim=0).mean())


def uniform_reference(d: int, t: float = 2.0) -> dict:
    """What the diagnostics read for points uniform on ``S^{d-1}`` (large N): collapse statistic
    ``1/sqrt(d)`` and Wang-Isola uniformity ``log E e^{-t||x-y||^2} = -2t + log E e^{2t x.y}``."""
    return {"collapse_std": 1.0 / math.sqrt(d), "uniformity": -2.0 * t + log_mean_exp_inner(d, 2.0 * t)}


@dataclass(frozen=True)
class BatchDiagnostics:
    """How uniform one batch of features is (module docstring). ``sq_distance_rms`` is the RMS of
    ``||x_i - x_j||^2 - 2N/(N-1)`` and ``gram_rms``/``gram_max`` the RMS/max of
    ``|x_i.x_j + 1/(N-1)|`` over pairs i < j; all three and ``centroid_norm`` are 0 exactly at the
    regular simplex (possible only for N <= d + 1)."""

    n: int
    d: int
    centroid_norm: float
    sq_distance_rms: float
    gram_rms: float
    gram_max: float
    uniformity: float
    collapse_std: float
    mean_sq_distance: float
    min_sq_distance: float

    @property
    def is_simplex(self) -> bool:
        """Within 1e-3 of the regular simplex (centroid and every Gram entry)."""
        return self.centroid_norm < 1e-3 and self.gram_max < 1e-3


def diagnose(z: np.ndarray | Tensor, t: float = 2.0) -> BatchDiagnostics:
    """Diagnostics of a batch of (N, d) features, L2-normalised here; ``t`` is the Wang-Isola
    uniformity temperature."""
    x = F.normalize(_as_tensor(z), dim=1)
    n, d = x.shape
    gram = _upper(x @ x.T)
    sq = (2.0 - 2.0 * gram).clamp(0.0, 4.0)
    return BatchDiagnostics(
        n=n, d=d,
        centroid_norm=float(x.mean(0).norm()),
        sq_distance_rms=float((sq - 2.0 * n / (n - 1)).pow(2).mean().sqrt()),
        gram_rms=float((gram + 1.0 / (n - 1)).pow(2).mean().sqrt()),
        gram_max=float((gram + 1.0 / (n - 1)).abs().max()),
        uniformity=float(uniform_loss(x, t)),
        collapse_std=collapse_std(x),
        mean_sq_distance=float(sq.mean()),
        min_sq_distance=float(sq.min()),
    )


@dataclass(frozen=True)
class PairDistances:
    """Sorted distances ``||x - y||`` of positive pairs (row i of each view) and of negative pairs
    (i < j within the first view), as in the paper's Figure 4 (left/middle)."""

    positive: np.ndarray
    negative: np.ndarray


def pair_distances(z1: np.ndarray | Tensor, z2: np.ndarray | Tensor) -> PairDistances:
    """Pair distances of L2-normalised views ``z1, z2`` (N, d)."""
    x, y = F.normalize(_as_tensor(z1), dim=1), F.normalize(_as_tensor(z2, "z2"), dim=1)
    if x.shape != y.shape:
        raise ValueError(f"z1 has shape {tuple(x.shape)} but z2 has {tuple(y.shape)}; they must match")
    pos = (x - y).norm(dim=1)
    neg = torch.pdist(x)
    return PairDistances(np.sort(pos.numpy()), np.sort(neg.numpy()))


def regular_simplex(n: int, d: int) -> np.ndarray:
    """The regular simplex of ``n <= d + 1`` unit vectors in R^d (centred, ``x_i.x_j = -1/(n-1)``):
    the centred standard basis of R^n, normalised and expressed in an orthonormal basis of its span."""
    if not (2 <= n <= d + 1):
        raise ValueError(f"a regular simplex of n={n} points needs 2 <= n <= d + 1 = {d + 1}")
    e = np.eye(n) - 1.0 / n
    e /= np.linalg.norm(e, axis=1, keepdims=True)
    u, s, _ = np.linalg.svd(e.T, full_matrices=False)
    coords = e @ u[:, : n - 1]  # (n, n-1) coordinates in the span
    out = np.zeros((n, d))
    out[:, : n - 1] = coords
    return out


def _sq_distances(x: Tensor) -> Tensor:
    """``||x_i - x_j||^2`` for i < j, from differences (exact, with gradients at 0)."""
    i, j = torch.triu_indices(x.shape[0], x.shape[0], 1)
    return (x[i] - x[j]).pow(2).sum(1)


def negative_term(z: np.ndarray | Tensor, divergence: str | divergences.Divergence,
                  c: float = 1.0, mu: float = 1.0) -> float:
    """The negative term ``1/(N(N-1)) sum_{i != j} B(||x_i - x_j||^2)`` with ``B = f* o f' o G``
    (closed form from :mod:`fmicl_core.divergences`) of L2-normalised features."""
    x = F.normalize(_as_tensor(z), dim=1)
    return float(divergences.get(divergence).B(_sq_distances(x), c, mu).mean())


@dataclass(frozen=True)
class NegativeTermMinimum:
    """Result of :func:`minimise_negative_term`: the points, the negative term there, the simplex's
    value ``h(2N/(N-1))`` (Jensen's lower bound for convex h, attained only when N <= d + 1), the
    diagnostics, the fraction of pairs that are antipodal (``||x_i - x_j||^2 > 3.99``) and the
    optimiser's final gradient norm."""

    divergence: str
    points: np.ndarray
    value: float
    simplex_value: float
    diagnostics: BatchDiagnostics
    antipodal_fraction: float
    grad_norm: float
    iterations: int


def minimise_negative_term(divergence: str | divergences.Divergence, n: int, d: int,
                           c: float = 1.0, mu: float = 1.0, seed: int = 0,
                           max_iter: int = 5000, init: np.ndarray | None = None) -> NegativeTermMinimum:
    """Minimise the negative term over ``n`` points of ``S^{d-1}`` (Theorem 3's problem).

    The points are ``v_i / ||v_i||`` for free vectors ``v_i`` (random Gaussian start from ``seed``,
    or ``init``); float64 L-BFGS with a strong-Wolfe line search runs until the gradient vanishes
    (1e-12) or ``max_iter`` iterations. A penalty ``(||v_i||^2 - 1)^2`` fixes the free radial scale
    without moving the minimiser on the sphere.
    """
    div = divergences.get(divergence)
    if not (isinstance(n, int) and n >= 2 and isinstance(d, int) and d >= 2):
        raise ValueError(f"n={n!r}, d={d!r} are not allowed; both must be integers >= 2")
    gen = torch.Generator().manual_seed(seed)
    start = torch.randn(n, d, generator=gen, dtype=torch.float64) if init is None \
        else _as_tensor(init, "init").clone()
    if start.shape != (n, d):
        raise ValueError(f"init has shape {tuple(start.shape)}; expected ({n}, {d})")
    v = F.normalize(start, dim=1).requires_grad_(True)
    opt = torch.optim.LBFGS([v], lr=1.0, max_iter=max_iter, tolerance_grad=1e-12,
                            tolerance_change=1e-16, history_size=50, line_search_fn="strong_wolfe")

    def closure() -> Tensor:
        opt.zero_grad()
        x = F.normalize(v, dim=1)
        loss = div.B(_sq_distances(x), c, mu).mean() + (v.pow(2).sum(1) - 1.0).pow(2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    closure()
    x = F.normalize(v.detach(), dim=1)
    sq = _sq_distances(x)
    simplex_sq = torch.tensor(2.0 * n / (n - 1), dtype=torch.float64)
    return NegativeTermMinimum(
        divergence=div.name,
        points=x.numpy(),
        value=float(div.B(sq, c, mu).mean()),
        simplex_value=float(div.B(simplex_sq, c, mu)),
        diagnostics=diagnose(x),
        antipodal_fraction=float((sq > 3.99).double().mean()),
        grad_norm=float(v.grad.norm()),
        iterations=int(opt.state[v]["n_iter"]),
    )


def figure_simplex_3d(result: NegativeTermMinimum, ax=None):
    """Figure 5: the minimiser's points on the unit sphere in 3-D, joined by the simplex's edges.
    Returns the matplotlib figure."""
    import matplotlib.pyplot as plt

    if result.points.shape[1] != 3:
        raise ValueError(f"figure_simplex_3d draws d=3 configurations, got d={result.points.shape[1]}")
    if ax is None:
        fig = plt.figure(figsize=(4.2, 4.2))
        ax = fig.add_subplot(projection="3d")
    u, w = np.mgrid[0 : 2 * np.pi : 40j, 0 : np.pi : 20j]
    ax.plot_wireframe(np.cos(u) * np.sin(w), np.sin(u) * np.sin(w), np.cos(w),
                      color="0.8", linewidth=0.4)
    p = result.points
    for a in range(len(p)):
        for b in range(a + 1, len(p)):
            ax.plot(*zip(p[a], p[b]), color="tab:blue", linewidth=1.2)
    ax.scatter(*p.T, color="tab:red", s=40, depthshade=False)
    ax.scatter([0], [0], [0], color="k", s=10)
    ax.set_box_aspect((1, 1, 1))
    ax.set_axis_off()
    g = result.diagnostics
    ax.set_title(f"{result.divergence}: N={g.n}, d={g.d}\nmax |x_i.x_j + 1/(N-1)| = {g.gram_max:.1e}"
                 f"\ncentroid norm {g.centroid_norm:.1e}", fontsize=9)
    return ax.figure


def figure_pair_distances(distances: dict[str, PairDistances], ncols: int = 4):
    """Figure 4 (left/middle): sorted positive (green) and negative (orange) pair distances, one
    panel per run. Returns the matplotlib figure."""
    import matplotlib.pyplot as plt

    nrows = max(1, math.ceil(len(distances) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.0 * ncols, 2.4 * nrows), squeeze=False,
                             sharey=True)
    for ax, (name, pd) in zip(axes.flat, distances.items()):
        for values, colour, label in ((pd.negative, "tab:orange", "negative"),
                                      (pd.positive, "tab:green", "positive")):
            ax.plot(np.linspace(0, 1, len(values)), values, color=colour, label=label)
        ax.set_title(name, fontsize=9)
        ax.set_ylim(-0.05, 2.05)
        ax.set_xlabel("sorted pairs (quantile)")
    for ax in list(axes.flat)[len(distances):]:
        ax.set_axis_off()
    axes[0, 0].set_ylabel("||x - y||")
    axes[0, 0].legend(fontsize=7)
    fig.tight_layout()
    return fig


def figure_minimisers(results: dict[tuple[str, int, int], NegativeTermMinimum], shown: tuple[str, ...]):
    """Figure 5 for the divergences ``shown`` (d = 3, N = 4), then, for every (N, d), the largest
    distance of a minimiser's Gram matrix from the simplex's, per divergence."""
    import matplotlib.pyplot as plt

    sizes = sorted({(n, d) for _, n, d in results})
    names = list(dict.fromkeys(k for k, _, _ in results))
    fig = plt.figure(figsize=(3.4 * max(len(shown), 2), 6.6))
    for i, name in enumerate(shown):
        figure_simplex_3d(results[(name, 4, 3)], fig.add_subplot(2, len(shown), i + 1, projection="3d"))
    ax = fig.add_subplot(2, 1, 2)
    width = 0.8 / len(sizes)
    for k, (n, d) in enumerate(sizes):
        vals = [max(results[(name, n, d)].diagnostics.gram_max, 1e-10) for name in names]
        ax.bar(np.arange(len(names)) + k * width, vals, width, label=f"N={n}, d={d}")
    ax.axhline(1e-3, color="k", ls=":", lw=1, label="1e-3")
    ax.set_xticks(np.arange(len(names)) + width * (len(sizes) - 1) / 2, names)
    ax.set_yscale("log")
    ax.set_ylabel("max |x_i.x_j + 1/(N-1)|")
    ax.legend(fontsize=7, ncol=len(sizes) + 1)
    fig.tight_layout()
    return fig


def main(argv: list[str] | None = None) -> dict:
    """``python -m analysis.uniformity``: minimise the negative term for every divergence at
    several (N, d), print the distance to the simplex, and draw Figure 5."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--sizes", nargs="+", default=["4x3", "8x7", "8x3"],
                   help="point counts and dimensions NxD (N <= D+1: Theorem 3 applies)")
    p.add_argument("--divergences", nargs="+", default=list(divergences.names()), help="divergences")
    p.add_argument("--c", type=float, default=1.0, help="f-Gaussian precision 1/(2 sigma^2)")
    p.add_argument("--mu", type=float, default=1.0, help="f-Gaussian scale mu")
    p.add_argument("--max-iter", type=int, default=2000, help="L-BFGS iterations at most")
    p.add_argument("--seed", type=int, default=0, help="random seed of the starting points")
    p.add_argument("--name", default="uniformity_simplex", help="figure name in figures/")
    args = p.parse_args(argv)
    try:
        sizes = [tuple(int(v) for v in s.lower().split("x")) for s in args.sizes]
        if any(len(s) != 2 for s in sizes):
            raise ValueError
    except ValueError:
        p.error(f"--sizes {args.sizes} is not allowed; each size is NxD, e.g. 4x3")
    import matplotlib

    matplotlib.use("Agg")
    start = time.time()
    if (4, 3) not in sizes:
        sizes.insert(0, (4, 3))
    try:
        results = {(name, n, d): minimise_negative_term(name, n, d, args.c, args.mu, args.seed, args.max_iter)
                   for name in args.divergences for n, d in sizes}
    except ValueError as err:
        p.error(str(err))
    print(f"negative term minimised over N points of S^(d-1) (c={args.c:g}, mu={args.mu:g}); "
          f"simplex = Jensen bound h(2N/(N-1))")
    print(f"{'div':8s} {'N':>3s} {'d':>3s} {'value':>11s} {'simplex':>11s} {'centroid':>9s} "
          f"{'max|gram dev|':>13s} {'antipodal':>9s}")
    numbers = {}
    for (name, n, d), r in results.items():
        g = r.diagnostics
        print(f"{name:8s} {n:3d} {d:3d} {r.value:11.6f} {r.simplex_value:11.6f} {g.centroid_norm:9.1e} "
              f"{g.gram_max:13.1e} {r.antipodal_fraction:9.2f}")
        numbers[f"{name}_N{n}_d{d}"] = {"value": r.value, "simplex_value": r.simplex_value,
                                        "centroid_norm": g.centroid_norm, "gram_max": g.gram_max,
                                        "sq_distance_rms": g.sq_distance_rms,
                                        "antipodal_fraction": r.antipodal_fraction,
                                        "grad_norm": r.grad_norm, "is_simplex": g.is_simplex}
    shown = tuple(k for k in ("kl", "rkl", "neyman") if k in args.divergences) or (args.divergences[0],)
    config = {**vars(args), "seconds": round(time.time() - start, 1)}
    png = save_figure(args.name, figure_minimisers(results, shown), numbers, config)
    print(f"wrote {png} ({config['seconds']} s)")
    return numbers


if __name__ == "__main__":
    main()
