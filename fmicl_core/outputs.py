"""The I/O leaf that the trainer and the analyses share: atomic writes, JSON, figures, output folders.

Everything here is written through a temporary file in the target folder, flushed to disk
(``fsync``) and moved onto the target with ``os.replace``, so a reader, a process killed with
SIGKILL, or a power cut sees the old file or the new one and never half of one. Written files get
the permissions the user's umask gives a new file (not ``mkstemp``'s 0600). A temporary file left
by a killed writer (``.<name>.<pid>.<random>.tmp``, its process gone) is removed by the next write
to the same folder. This module imports nothing of the package.
"""

from __future__ import annotations

import json
import math
import os
import re
import tempfile
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

__all__ = ["atomic_write", "check_writable", "remove_stale_temporaries", "save_figure", "save_json", "to_jsonable",
           "write_text"]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_FILE_MODE = 0o666 & ~_umask()
_TEMPORARY = re.compile(r"^\..+\.(\d+)\.[^.]+\.tmp$")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def remove_stale_temporaries(folder: str | os.PathLike) -> list[Path]:
    """Delete the temporary files in ``folder`` whose writing process no longer exists."""
    removed = []
    for path in Path(folder).glob(".*.tmp"):
        match = _TEMPORARY.match(path.name)
        if match and int(match.group(1)) != os.getpid() and not _alive(int(match.group(1))):
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def _fsync(path: str | os.PathLike, directory: bool = False) -> None:
    fd = os.open(path, os.O_RDONLY | (getattr(os, "O_DIRECTORY", 0) if directory else 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: str | os.PathLike, write: Callable[[str], None]) -> Path:
    """Call ``write(tmp_path)``, flush the result to disk and move it onto ``path`` in one
    ``os.replace`` (module docstring)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path.parent)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, _FILE_MODE)
        _fsync(tmp)
        os.replace(tmp, path)
        if os.name == "posix":
            _fsync(path.parent, directory=True)
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
