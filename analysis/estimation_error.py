"""``python -m analysis.estimation_error``: the error of the mini-batch f-MI estimate against the
batch size under the vMF coupling, next to Theorem 4's concentration term (f-MICL: Lu et al. 2023,
arXiv:2402.10150), from :mod:`analysis.estimation.error`."""

from __future__ import annotations

import argparse

import torch

from analysis.estimation.error import (DEFAULT_DELTA, KAPPA_RANGE, EstimationErrorStudy, batch_sizes_up_to,
                                       estimation_error_study)
from analysis.estimation.plots import figure_estimation_error
from analysis.gaussian.vmf import VMFCoupling
from analysis.runner import Command, check_integers, run
from fmicl_core import divergences, validation

__all__ = ["COMMAND", "main"]

_COUPLING = VMFCoupling()


def _arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--d", type=int, default=_COUPLING.d, help="dimension of the ambient space (sphere S^{d-1})")
    p.add_argument("--kappa", type=float, default=_COUPLING.kappa,
                   help=f"vMF concentration in [{KAPPA_RANGE[0]:g}, {KAPPA_RANGE[1]:g}]; the f-Gaussian then has "
                        "1/(2 sigma^2) = kappa/2")
    p.add_argument("--max-n", type=int, default=1024,
                   help="largest batch size (>= 32); N runs over the powers of 2 from 8 (4096 = the full range)")
    p.add_argument("--reps", type=int, default=200, help="batches drawn per batch size")
    p.add_argument("--delta", type=float, default=DEFAULT_DELTA, help="failure probability of the bound")
    p.add_argument("--mc-samples", type=int, default=4 * 10**6, help="Monte Carlo draws that check i_f")
    p.add_argument("--divergences", nargs="+", default=list(divergences.names()),
                   help="divergences to study (registry names)")
    p.add_argument("--seed", type=int, default=0, help="random seed")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (small matrices: one is fastest)")


def _compute(args: argparse.Namespace) -> EstimationErrorStudy:
    check_integers(args, d=2, reps=10, mc_samples=2, seed=0, threads=1)
    coupling = VMFCoupling(args.d, validation.at_least("--kappa", args.kappa, *KAPPA_RANGE))
    names = tuple(validation.choice("--divergences", name, divergences.names()) for name in args.divergences)
    ns = batch_sizes_up_to(args.max_n)
    torch.set_num_threads(args.threads)
    return estimation_error_study(coupling, names, ns, args.reps, args.delta, args.seed, args.mc_samples)


def _headline(study: EstimationErrorStudy) -> list[str]:
    ratio = study.numbers()["bound_over_quantile_min"]
    lines = [f"vMF coupling d={study.d}, kappa={study.kappa:g}: sigma={study.sigma:.4f}, mu={study.mu:.4f}; "
             f"N = {study.ns[0]}..{study.ns[-1]}, {study.reps} batches each",
             f"{'div':8s} {'i_f (quad)':>11s} {'E f(G)':>11s} {'MC':>11s} {'MC se':>8s} "
             f"{'slope':>6s} {'95% CI':>15s} {'min bound/q':>11s}"]
    for name in study.errors:
        pop, s = study.population[name], study.slope[name]
        lines.append(f"{name:8s} {pop.quadrature:11.6f} {pop.f_divergence:11.6f} {pop.monte_carlo:11.6f} "
                     f"{pop.monte_carlo_se:8.1e} {s['slope']:6.3f} [{s['slope_ci95'][0]:.3f}, "
                     f"{s['slope_ci95'][1]:.3f}] {ratio[name]:11.2f}")
    return lines


COMMAND = Command(
    prog="python -m analysis.estimation_error",
    description=__doc__,
    figure="estimation_error",
    arguments=_arguments,
    compute=_compute,
    headline=_headline,
    plot=lambda study, args: figure_estimation_error(study),
    numbers=lambda study: {**study.numbers(), "ns": study.ns},
)


def main(argv: list[str] | None = None) -> dict:
    return run(COMMAND, argv)


if __name__ == "__main__":
    main()
