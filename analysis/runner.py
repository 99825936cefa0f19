"""The one runner behind every analysis command (``python -m analysis.<command>``).

A command module defines a :class:`Command`: its flags, the computation (a function of the parsed
flags that returns a result object), the numbers written to JSON, the figure, and the headline
lines printed. :func:`run` does the rest once for all of them: the Agg backend, ``--out-dir`` and
``--name``, the timing, bad input as a one-line usage error (exit code 2), the figure and its JSON
written atomically, and the headline on stdout.

Commands write into ``--out-dir`` (default ``results/``), never into the tracked ``figures/``
gallery, which only ``python -m analysis.reproduce`` writes.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from fmicl_core.outputs import check_writable, save_figure, to_jsonable

__all__ = ["DEFAULT_OUT_DIR", "GALLERY", "Command", "run"]

DEFAULT_OUT_DIR = "results"
GALLERY = Path(__file__).resolve().parent.parent / "figures"
"""The committed gallery, written only by ``python -m analysis.reproduce``."""


@dataclass(frozen=True)
class Command:
    """One analysis command.

    Attributes:
        prog: how it is called, e.g. ``"python -m analysis.verify_gaussian"``.
        description: the ``--help`` text.
        figure: the default ``--name`` of its figure and JSON.
        arguments: adds the command's own flags to the parser.
        compute: the computation, from the parsed flags to a result object; bad input raises a
            one-line ``ValueError``.
        headline: the lines printed, from the result.
        plot: the matplotlib figure of the result and the flags (None: JSON only).
        numbers: the JSON numbers of the result (default: the result made JSON-able).
        threads: torch threads to use (None: leave as is); many tiny steps run faster on one.
    """

    prog: str
    description: str
    figure: str
    arguments: Callable[[argparse.ArgumentParser], None]
    compute: Callable[[argparse.Namespace], Any]
    headline: Callable[[Any], list[str]]
    plot: Callable[[Any, argparse.Namespace], Any] | None = None
    numbers: Callable[[Any], dict] | None = None
    threads: int | None = None

    def parser(self) -> argparse.ArgumentParser:
        p = argparse.ArgumentParser(prog=self.prog, description=self.description,
                                    formatter_class=argparse.ArgumentDefaultsHelpFormatter)
        self.arguments(p)
        p.add_argument("--out-dir", default=DEFAULT_OUT_DIR,
                       help="folder of the figure and its JSON (never the tracked figures/ gallery)")
        p.add_argument("--name", default=self.figure, help="file name of the figure and its JSON, without suffix")
        return p


def _output_folder(out_dir: str) -> Path:
    folder = Path(out_dir)
    if folder.resolve() == GALLERY:
        raise ValueError(f"--out-dir {out_dir!r} is the tracked gallery, which only python -m analysis.reproduce "
                         "writes; choose another folder")
    return check_writable(folder)


def run(command: Command, argv: list[str] | None = None) -> dict:
    """Parse ``argv``, compute, write ``<out-dir>/<name>.png`` and ``.json``, print the headline;
    returns the numbers as written to the JSON (plain values, with ``seconds``)."""
    import matplotlib

    matplotlib.use("Agg")
    p = command.parser()
    args = p.parse_args(argv)
    if command.threads is not None:
        import torch

        torch.set_num_threads(command.threads)
    started = time.perf_counter()
    try:
        folder = _output_folder(args.out_dir)
        result = command.compute(args)
        fig = command.plot(result, args) if command.plot is not None else None
    except (ValueError, OSError) as err:
        p.error(str(err))
    numbers = to_jsonable(command.numbers(result) if command.numbers is not None else result)
    numbers["seconds"] = time.perf_counter() - started
    config = {k: v for k, v in vars(args).items() if k not in ("out_dir", "name")}
    png = save_figure(folder, args.name, fig, numbers, config)
    print("\n".join(command.headline(result)))
    print(f"wrote {png if fig is not None else png.with_suffix('.json')} in {numbers['seconds']:.1f} s")
    return numbers
