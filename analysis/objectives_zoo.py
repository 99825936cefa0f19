"""``python -m analysis.objectives_zoo``: f-MICL's Table 1 as curves and the identities behind its
Figure 3 (Lu et al. 2023, arXiv:2402.10150), from :mod:`analysis.zoo`."""

from __future__ import annotations

import argparse

from analysis.runner import Command, check_integers, run
from analysis.zoo.curves import C_RANGE, cosine_vs_gaussian, special_case_residuals, term_curves
from analysis.zoo.plots import plot_zoo
from fmicl_core import validation
from fmicl_core.objective_config import DEFAULTS, hyper

__all__ = ["COMMAND", "main"]


def _arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--c", type=float, default=DEFAULTS.c,
                   help=f"kernel precision c = 1/(2 sigma^2), in [{C_RANGE[0]:g}, {C_RANGE[1]:g}]")
    p.add_argument("--temperature", type=float, default=DEFAULTS.temperature, help="cosine temperature")
    p.add_argument("--batches", type=int, default=50, help="random batches for the identities")
    p.add_argument("--seed", type=int, default=0, help="random seed")


def _compute(args: argparse.Namespace) -> dict:
    check_integers(args, batches=1, seed=0)
    c = validation.at_least("--c", args.c, *C_RANGE)
    temperature = hyper("temperature", args.temperature, "--temperature")
    cosine = cosine_vs_gaussian(temperature, c)
    return {"special_cases": special_case_residuals(args.batches, c=c, seed=args.seed),
            "raw_cosine_outside_domain": {n: v["raw_outside_domain"] for n, v in cosine.items()},
            "curves": term_curves(c), "cosine": cosine}


def _headline(result: dict) -> list[str]:
    lines = [f"{field:45s} {value:.3g}" for field, value in vars(result["special_cases"]).items()]
    return lines + [f"fraction of cosines whose raw score cos/tau leaves dom f*: {result['raw_cosine_outside_domain']}"]


COMMAND = Command(
    prog="python -m analysis.objectives_zoo",
    description=__doc__,
    figure="objectives_zoo",
    arguments=_arguments,
    compute=_compute,
    headline=_headline,
    plot=lambda result, args: plot_zoo(result["curves"], result["cosine"]),
    numbers=lambda result: {k: result[k] for k in ("special_cases", "raw_cosine_outside_domain")},
)


def main(argv: list[str] | None = None) -> dict:
    return run(COMMAND, argv)


if __name__ == "__main__":
    main()
