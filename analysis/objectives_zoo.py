"""``python -m analysis.objectives_zoo``: f-MICL's Table 1 as curves and the identities behind its
Figure 3 (Lu et al. 2023, arXiv:2402.10150), from :mod:`analysis.zoo`."""

from __future__ import annotations

import argparse

from analysis.runner import Command, run
from analysis.zoo.curves import cosine_vs_gaussian, special_case_residuals, term_curves
from analysis.zoo.plots import plot_zoo
from fmicl_core import validation
from fmicl_core.objective_config import DEFAULTS

__all__ = ["COMMAND", "main"]


def _arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--c", type=float, default=DEFAULTS.c, help="kernel precision c = 1/(2 sigma^2)")
    p.add_argument("--temperature", type=float, default=DEFAULTS.temperature, help="cosine temperature")
    p.add_argument("--batches", type=int, default=50, help="random batches for the identities")
    p.add_argument("--seed", type=int, default=0, help="random seed")


def _compute(args: argparse.Namespace) -> dict:
    c = validation.positive("c", args.c)
    temperature = validation.positive("temperature", args.temperature)
    batches = validation.integer("batches", args.batches)
    cosine = cosine_vs_gaussian(temperature, c)
    return {"special_cases": special_case_residuals(batches, c=c, seed=args.seed),
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
