"""``python -m analysis.uniformity``: minimise f-MICL's negative term for every divergence at
several (N, d), print the distance to the regular simplex, and draw Figure 5: Theorem 3 of f-MICL
(Lu et al. 2023, arXiv:2402.10150), from :mod:`analysis.simplex.negative_term`."""

from __future__ import annotations

import argparse

from analysis.runner import Command, check_integers, run
from analysis.simplex.negative_term import minimise_grid, summary
from analysis.simplex.plots import figure_minimisers
from fmicl_core import divergences, validation
from fmicl_core.objective_config import DEFAULTS

__all__ = ["COMMAND", "main"]

SHOWN = ("kl", "rkl", "neyman")
"""The divergences drawn on the sphere (Figure 5), when studied: strictly convex, linear, concave h."""


def _arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--sizes", nargs="+", default=["4x3", "8x7", "8x3"],
                   help="point counts and dimensions NxD (N <= D+1: Theorem 3 applies)")
    p.add_argument("--divergences", nargs="+", default=list(divergences.names()), help="divergences")
    p.add_argument("--c", type=float, default=DEFAULTS.c,
                   help="f-Gaussian precision 1/(2 sigma^2) > 0 (with mu = 1, c from about 0.1 to 2 converges)")
    p.add_argument("--mu", type=float, default=DEFAULTS.mu, help="f-Gaussian scale mu")
    p.add_argument("--max-iter", type=int, default=2000, help="L-BFGS iterations at most")
    p.add_argument("--seed", type=int, default=0, help="random seed of the starting points")


def _sizes(values: list[str]) -> list[tuple[int, int]]:
    """``["4x3", ...]`` as ``[(4, 3), ...]``, with (4, 3) first (the size Figure 5 draws)."""
    sizes = []
    for text in values:
        parts = text.lower().split("x")
        if len(parts) != 2 or not all(p.isdigit() and int(p) >= 2 for p in parts):
            raise ValueError(f"--sizes {text!r} is not allowed; each size is NxD with integers N, D >= 2, e.g. 4x3")
        sizes.append((int(parts[0]), int(parts[1])))
    return sizes if (4, 3) in sizes else [(4, 3), *sizes]


def _compute(args: argparse.Namespace) -> dict:
    check_integers(args, max_iter=1, seed=0)
    names = tuple(validation.choice("--divergences", n, divergences.names()) for n in args.divergences)
    return minimise_grid(names, _sizes(args.sizes), validation.positive("--c", args.c),
                         validation.positive("--mu", args.mu), args.seed, args.max_iter)


def _headline(results: dict) -> list[str]:
    lines = ["negative term minimised over N points of S^(d-1); simplex = Jensen bound h(2N/(N-1))",
             f"{'div':8s} {'N':>3s} {'d':>3s} {'value':>11s} {'simplex':>11s} {'centroid':>9s} "
             f"{'max|gram dev|':>13s} {'antipodal':>9s} converged"]
    for (name, n, d), r in results.items():
        g = r.diagnostics
        lines.append(f"{name:8s} {n:3d} {d:3d} {r.value:11.6f} {r.simplex_value:11.6f} {g.centroid_norm:9.1e} "
                     f"{g.gram_max:13.1e} {r.antipodal_fraction:9.2f} {'yes' if r.converged else 'NO'}")
    stalled = sum(not r.converged for r in results.values())
    if stalled:
        lines.append(f"{stalled} minimisation(s) did not converge: their points are not minimisers of the negative "
                     "term; raise --max-iter, or move --c towards 1 and --mu towards 1")
    return lines


def _plot(results: dict, args: argparse.Namespace):
    studied = list(dict.fromkeys(name for name, _, _ in results))
    return figure_minimisers(results, tuple(k for k in SHOWN if k in studied) or (studied[0],))


COMMAND = Command(
    prog="python -m analysis.uniformity",
    description=__doc__,
    figure="uniformity_simplex",
    arguments=_arguments,
    compute=_compute,
    headline=_headline,
    plot=_plot,
    numbers=summary,
    threads=1,
)


def main(argv: list[str] | None = None) -> dict:
    return run(COMMAND, argv)


if __name__ == "__main__":
    main()
