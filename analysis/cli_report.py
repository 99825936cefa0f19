"""The shared tail of the small-step analysis CLIs (``analysis.coordinate_cl``, ``analysis.conformal``):
Agg backend, one torch thread, the timed computation, ``figures/<name>.png`` + ``.json`` and the
headline numbers on stdout."""

from __future__ import annotations

import argparse
import time
from typing import Callable

import torch

from analysis.outputs import save_figure

__all__ = ["run_and_report"]


def run_and_report(parser: argparse.ArgumentParser, args: argparse.Namespace, compute: Callable[[], dict],
                   figure: Callable[[dict], object], headline: Callable[[dict], list[str]]) -> dict:
    """Run ``compute()`` (bad input becomes a one-line CLI error), add its runtime as ``seconds``,
    save the figure and numbers under ``args.name`` with ``vars(args)`` as config, print the headline."""
    import matplotlib

    matplotlib.use("Agg")
    torch.set_num_threads(1)  # thousands of tiny optimisation steps: threads only add synchronisation
    start = time.time()
    try:
        numbers = compute()
    except (ValueError, OSError) as err:
        parser.error(str(err))
    numbers["seconds"] = time.time() - start
    path = save_figure(args.name, figure(numbers), numbers, vars(args))
    print("\n".join(headline(numbers)))
    print(f"wrote {path} in {numbers['seconds']:.1f} s")
    return numbers
