"""What the notebooks write: figures and their numbers in the gallery folder, and the closing
table of claims that ``python -m analysis.reproduce`` gathers into ``REPORT.md``.

The gallery folder is ``$FMICL_FIGURES`` (``python -m analysis.reproduce`` sets it to the
repository's ``figures/``), else ``results/figures`` below the working folder, so a notebook run by
hand never overwrites the committed gallery. Every gallery figure is named after the notebook that
makes it: ``NN_<what>`` with the notebook's two-digit number.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fmicl_core.outputs import check_writable, save_figure, save_json

__all__ = ["Claim", "claims_table", "gallery_dir", "save"]

_NAME = re.compile(r"^\d\d_[a-z0-9_]+$")


def gallery_dir() -> Path:
    """The folder the notebooks write into (module docstring), created if missing; one that cannot
    be written is a one-line ``ValueError``."""
    return check_writable(os.environ.get("FMICL_FIGURES", Path("results") / "figures"))


def save(name: str, fig: Any, numbers: dict, config: dict) -> Path:
    """Write the gallery figure ``name`` (``NN_<what>``, NN the notebook's number) and its JSON."""
    if not _NAME.match(name):
        raise ValueError(f"gallery name {name!r} is not allowed; it must be NN_<what> (lower case, NN the "
                         "notebook's number)")
    return save_figure(gallery_dir(), name, fig, numbers, config)


@dataclass(frozen=True)
class Claim:
    """One row of a notebook's closing table.

    ``paper`` holds only what a paper printed (with its table, figure or theorem), or says that the
    paper gives no number; ``known`` is the answer known without the paper (a closed form, an
    identity, or a simulation with its tolerance), empty where there is none."""

    claim: str
    paper: str
    known: str
    this_run: str
    config: str


_HEADER = ("claim", "paper's number", "known answer", "this run's number", "config")


def claims_table(rows: list[Claim]) -> str:
    """A markdown table of ``rows``. Under ``analysis.reproduce`` (which sets ``FMICL_NOTEBOOK`` to
    the notebook's name) the rows are also saved as ``claims_<notebook>.json`` in the gallery."""
    notebook = os.environ.get("FMICL_NOTEBOOK")
    if notebook:
        save_json(gallery_dir() / f"claims_{notebook}.json", rows)
    lines = ["| " + " | ".join(_HEADER) + " |", "|" + "---|" * len(_HEADER)]
    for r in rows:
        cells = (r.claim, r.paper, r.known, r.this_run, r.config)
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines)
