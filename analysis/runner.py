"""The one runner behind every analysis command (``python -m analysis.<command>``).

A command module defines a :class:`Command`: its flags, the computation (a function of the parsed
flags that returns a result object), the numbers written to JSON, the figure, and the headline
lines printed. :func:`run` does the rest once for all of them: the Agg backend, ``--out-dir`` and
``--name``, the timing, bad input as a one-line usage error (exit code 2, no traceback), the figure
and its JSON written atomically, and the headline on stdout.

Commands write into ``--out-dir`` (default ``results/``), never into the tracked ``figures/``
gallery or a folder inside it, which only ``python -m analysis.reproduce`` writes; the same holds for
the run folders of the commands that train (:func:`output_folder`).
"""

from __future__ import annotations

import argparse
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from fmicl_core import validation
from fmicl_core.cli import ArgumentParser
from fmicl_core.outputs import check_writable, save_figure, to_jsonable

__all__ = ["DEFAULT_OUT_DIR", "GALLERY", "Command", "check_integers", "output_folder", "run"]

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
        compute: the computation, from the parsed flags to a result object; it checks every flag
            first (through :mod:`fmicl_core.validation`, naming the flag), so bad input raises a
            one-line ``ValueError`` before anything expensive runs.
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
        p = ArgumentParser(prog=self.prog, description=self.description)
        self.arguments(p)
        p.add_argument("--out-dir", default=DEFAULT_OUT_DIR,
                       help="folder of the figure and its JSON (never the tracked figures/ gallery)")
        p.add_argument("--name", default=self.figure, help="file name of the figure and its JSON, without suffix")
        return p


def output_folder(flag: str, path: str) -> Path:
    """The folder ``path`` of ``flag``, created and writable, and neither the tracked gallery nor a
    folder inside it (a one-line ``ValueError`` names it otherwise)."""
    folder = Path(path)
    resolved = folder.resolve()
    if resolved == GALLERY or GALLERY in resolved.parents:
        raise ValueError(f"{flag} {path!r} is inside the tracked gallery {str(GALLERY)!r}, which only python -m "
                         "analysis.reproduce writes; choose another folder")
    return check_writable(folder)


def check_integers(args: argparse.Namespace, **minimums: int) -> None:
    """Each integer flag named by a keyword (its ``dest``) is at least the keyword's value; a
    one-line ``ValueError`` names the flag and the value otherwise."""
    for dest, minimum in minimums.items():
        validation.integer("--" + dest.replace("_", "-"), getattr(args, dest), minimum)


def _file_name(name: str) -> str:
    """``--name``: a plain file name, so the figure and its JSON stay inside ``--out-dir``."""
    if not name or name.startswith(".") or any(sep in name for sep in {"/", os.sep}):
        raise ValueError(f"--name {name!r} is not allowed; it must be a non-empty file name without a folder "
                         "part, not starting with '.'")
    return name


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
        name = _file_name(args.name)
        folder = output_folder("--out-dir", args.out_dir)
        result = command.compute(args)
        fig = command.plot(result, args) if command.plot is not None else None
        numbers = to_jsonable(command.numbers(result) if command.numbers is not None else result)
        numbers["seconds"] = time.perf_counter() - started
        config = {k: v for k, v in vars(args).items() if k not in ("out_dir", "name")}
        png = save_figure(folder, name, fig, numbers, config)
    except (ValueError, OSError) as err:
        p.error(str(err))
    print("\n".join(command.headline(result)))
    print(f"wrote {png if fig is not None else png.with_suffix('.json')} in {numbers['seconds']:.1f} s")
    return numbers
