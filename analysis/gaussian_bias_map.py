"""``python -m analysis.gaussian_bias_map``: the bias map of the Gaussian check (f-MICL Figure 1; Lu et
al. 2023, arXiv:2402.10150): the whole pipeline of ``python -m analysis.verify_gaussian`` run on von
Mises-Fisher couplings over dimension x concentration x seeds x sample sizes, against the exact slope of
the thickened joint; prints each cell's raw ratio, the calibrated ratio and the interval coverage
(each seed read through the curve of the other seeds), and writes the map in the format of
:func:`analysis.gaussian.calibration.load_map` (``<out-dir>/<name>.json``).

The default is a small map (about a minute on 2 cores). The committed map
``analysis/gaussian/calibration_map.json``, which ``verify_gaussian`` reads, is this command with
``--dims 3 4 8 16 32 --kappas 1 2 5 10 20 40 --seeds 0 1 2 3 4 5 6 7 8 9 --pairs 2000`` and
``--seeds 0 1 2 3 4 5 --pairs 1000`` (480 flow fits, about 40 minutes on 2 cores), in the plain map form
(settings, targets, measurements) that :func:`analysis.gaussian.calibration.load_map` also reads.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

import numpy as np

from analysis.gaussian.bias_map import Measurement
from analysis.gaussian.calibration import CalibrationMap, by_cell, leave_one_seed_out
from analysis.gaussian.check import check_settings, measure
from analysis.gaussian.thickened import target_slope
from analysis.runner import Command, run
from fmicl_core import validation

__all__ = ["COMMAND", "main"]


def _arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dims", nargs="+", type=int, default=[3, 16], help="dimensions d of the sphere (>= 3)")
    p.add_argument("--kappas", nargs="+", type=float, default=[2.0, 10.0], help="vMF concentrations (> 0)")
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2], help="seeds per cell (>= 3 for a curve)")
    p.add_argument("--pairs", nargs="+", type=int, default=[1000], help="pairs per measurement (sample sizes)")
    p.add_argument("--noise", type=float, default=0.02, help="std of the thickening (verify_gaussian's default)")


@dataclass
class _Map:
    calibration: CalibrationMap
    holdout: list[dict]


def _compute(args: argparse.Namespace) -> _Map:
    dims = [validation.integer("--dims", d, minimum=3) for d in args.dims]
    kappas = [validation.positive("--kappas", k) for k in args.kappas]
    seeds = [validation.integer("--seeds", s, minimum=0) for s in args.seeds]
    sizes = [validation.integer("--pairs", n, minimum=100) for n in args.pairs]
    if len(set(seeds)) < 3 or len(set(kappas)) < 2:
        raise ValueError(f"--seeds {seeds} and --kappas {kappas} are not allowed; a calibration curve needs >= 3 "
                         "distinct seeds and >= 2 distinct kappas")
    noise = validation.positive("--noise", args.noise)
    targets = {(d, k): target_slope(d, k, noise) for d in dims for k in kappas}
    found: list[Measurement] = [measure(d, k, n, s, noise) for n in sizes for d in dims for k in kappas for s in seeds]
    settings = check_settings("gaussian", "joint", noise, 0.3, 10, {})
    return _Map(CalibrationMap(found, targets, settings), leave_one_seed_out(found, targets))


def _cell_rows(out: _Map):
    """Each cell with its calibrated ratio and coverage (:func:`analysis.gaussian.calibration.by_cell`)."""
    after = by_cell(out.holdout)
    return [(c, *after[c.d, c.kappa, c.n]) for c in out.calibration.cells]


def _headline(out: _Map) -> list[str]:
    lines = [f"{'n':>5} {'d':>3} {'kappa':>6} {'raw/exact':>9} {'spread':>7} {'calibrated/truth':>16} {'coverage':>8}"]
    for c, ratio, covered in _cell_rows(out):
        lines.append(f"{c.n:5d} {c.d:3d} {c.kappa:6g} {c.ratio:9.3f} {c.spread:7.3f} {ratio:16.3f} {covered:8.2f}")
    raw_worst = max(out.calibration.cells, key=lambda c: abs(c.ratio - 1))
    worst = max(_cell_rows(out), key=lambda t: abs(t[1] - 1))
    lines.append(f"worst raw cell: n={raw_worst.n} d={raw_worst.d} kappa={raw_worst.kappa:g} ratio {raw_worst.ratio:.3f}; "
                 f"worst calibrated cell: n={worst[0].n} d={worst[0].d} kappa={worst[0].kappa:g} ratio {worst[1]:.3f}; "
                 f"coverage over all seeds {np.mean([r['covered'] for r in out.holdout]):.3f}")
    return lines


def _numbers(out: _Map) -> dict:
    saved = out.calibration
    return {"settings": saved.settings,
            "targets": [{"d": d, "kappa": k, "target": t} for (d, k), t in sorted(saved.targets.items())],
            "measurements": saved.measurements, "holdout": out.holdout,
            "cells": [{"n": c.n, "d": c.d, "kappa": c.kappa, "target": c.target, "raw_ratio": c.ratio,
                       "spread": c.spread, "raw_coverage": c.coverage, "calibrated_ratio": ratio,
                       "calibrated_coverage": covered} for c, ratio, covered in _cell_rows(out)]}


def _plot(out: _Map, args: argparse.Namespace):
    from analysis.gaussian.plots import plot_bias_map

    cells_ = out.calibration.cells
    return plot_bias_map(cells_, out.holdout, max(c.n for c in cells_))


COMMAND = Command(
    prog="python -m analysis.gaussian_bias_map",
    description=__doc__.split("\n\n")[0].replace("``", ""),
    figure="gaussian_bias_map",
    arguments=_arguments,
    compute=_compute,
    headline=_headline,
    plot=_plot,
    numbers=_numbers,
    threads=1,
)


def main(argv: list[str] | None = None) -> dict:
    """The command (``--help``); returns the numbers it writes."""
    return run(COMMAND, argv)


if __name__ == "__main__":
    main()
