"""The I/O leaf that the trainer and the analyses share: atomic writes, JSON, figures, output folders.

Everything here is written through a temporary file in the target folder and ``os.replace``, so a
reader, or a process killed with SIGKILL, sees the old file or the new one and never half of one.
This module imports nothing of the package.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

__all__ = ["atomic_write", "check_writable", "save_figure", "save_json", "to_jsonable", "write_text"]


def atomic_write(path: str | os.PathLike, write: Callable[[str], None]) -> Path:
    """Call ``write(tmp_path)`` and move the result onto ``path`` in one ``os.replace``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` to ``path`` atomically."""
    return atomic_write(path, lambda tmp: Path(tmp).write_text(text))


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


def save_json(path: str | os.PathLike, obj: Any) -> Path:
    """Write ``obj`` as indented JSON atomically."""
    return write_text(path, json.dumps(to_jsonable(obj), indent=2) + "\n")


def save_figure(folder: str | os.PathLike, name: str, fig: Any, numbers: dict, config: dict) -> Path:
    """Write ``<folder>/<name>.png`` (from a matplotlib figure; None for numbers only) and
    ``<folder>/<name>.json`` holding ``{"numbers": ..., "config": ...}``; returns the PNG path."""
    folder = Path(folder)
    png = folder / f"{name}.png"
    if fig is not None:
        atomic_write(png, lambda tmp: fig.savefig(tmp, dpi=110, bbox_inches="tight", format="png"))
    save_json(folder / f"{name}.json", {"numbers": numbers, "config": config})
    return png


def check_writable(folder: str | os.PathLike) -> Path:
    """Create ``folder`` if needed; a one-line ``ValueError`` unless it can be written to."""
    try:
        os.makedirs(folder, exist_ok=True)
        probe = os.path.join(folder, f".write-test-{os.getpid()}")
        with open(probe, "w"):
            pass
        os.remove(probe)
    except OSError as err:
        raise ValueError(f"output folder {os.fspath(folder)!r} is not writable ({err.strerror})") from None
    return Path(folder)
