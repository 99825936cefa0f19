"""Where analyses write: ``figures/<name>.png`` beside ``figures/<name>.json`` (numbers + config),
written atomically, and the "claim · paper · this run · config" table that closes every notebook.

The folder is ``figures/`` at the repository root, or ``$FMICL_FIGURES`` when set.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass, is_dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fmicl_core.checkpoint import atomic_write as _atomic_write

__all__ = ["Claim", "claims_table", "figures_dir", "save_figure", "save_json", "to_jsonable"]


def figures_dir() -> Path:
    """The output folder (created if missing)."""
    default = Path(__file__).resolve().parent.parent / "figures"
    path = Path(os.environ.get("FMICL_FIGURES", default))
    path.mkdir(parents=True, exist_ok=True)
    return path


def to_jsonable(obj: Any) -> Any:
    """Dataclasses, numpy scalars/arrays and tensors to plain JSON values (NaN/inf become null)."""
    if is_dataclass(obj) and not isinstance(obj, type):
        return to_jsonable(asdict(obj))
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if hasattr(obj, "detach"):  # torch tensor
        obj = obj.detach().cpu().numpy()
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, Path):
        return str(obj)
    return obj


def save_json(path: str | Path, obj: Any) -> Path:
    """Write ``obj`` as indented JSON atomically (temp file, then rename)."""
    path = Path(path)

    def write(tmp: str) -> None:
        with open(tmp, "w") as fh:
            json.dump(to_jsonable(obj), fh, indent=2, sort_keys=False)
            fh.write("\n")

    _atomic_write(path, write)
    return path


def save_figure(name: str, fig: Any, numbers: dict, config: dict, folder: str | Path | None = None) -> Path:
    """Write ``<folder>/<name>.png`` (from a matplotlib figure; None for numbers only) and
    ``<folder>/<name>.json`` with ``{"numbers": ..., "config": ...}``; returns the PNG path."""
    folder = Path(folder) if folder is not None else figures_dir()
    png = folder / f"{name}.png"
    if fig is not None:
        _atomic_write(png, lambda tmp: fig.savefig(tmp, dpi=110, bbox_inches="tight", format="png"))
    save_json(folder / f"{name}.json", {"numbers": numbers, "config": config})
    return png


@dataclass(frozen=True)
class Claim:
    """One row of a notebook's closing table."""

    claim: str
    paper: str
    this_run: str
    config: str


def claims_table(rows: list[Claim]) -> str:
    """A markdown table "claim | paper's number | this run's number | config".

    Under ``analysis.reproduce`` (which sets ``FMICL_NOTEBOOK`` to the notebook's name) the rows are
    also saved as ``figures/claims_<notebook>.json`` for ``figures/REPORT.md``."""
    notebook = os.environ.get("FMICL_NOTEBOOK")
    if notebook:
        save_json(figures_dir() / f"claims_{notebook}.json", rows)
    lines = ["| claim | paper's number | this run's number | config |", "|---|---|---|---|"]
    for r in rows:
        cells = (r.claim, r.paper, r.this_run, r.config)
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines)
