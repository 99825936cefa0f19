"""The validators behind every public function and command-line flag: each returns the checked
value or raises a one-line ``ValueError`` that names the value and what is allowed.

Numbers may be Python, numpy or 0-d tensor scalars; a bool is never a number. Embeddings must be
floating, 2-D, non-empty, finite and free of all-zero rows (a zero row has no direction on the
sphere). :func:`device` and :func:`existing_path` cover the flags that name a device or a file.
"""

from __future__ import annotations

import math
import numbers
import os
from pathlib import Path
from typing import Iterable

import numpy as np
import torch

__all__ = ["NonFinite", "at_least", "choice", "device", "embeddings", "existing_path", "integer", "keywords", "number",
           "positive", "unit_interval"]


class NonFinite(ValueError):
    """Embeddings holding NaN or inf (raised by :func:`embeddings`; the trainer reports it as divergence)."""


def _scalar(value: object) -> object:
    """A 0-d numpy array or tensor as its Python value; anything else unchanged."""
    if getattr(value, "ndim", None) == 0 and hasattr(value, "item"):
        return value.item()
    return value


def number(name: str, value: object) -> float:
    """A finite real number (Python, numpy or 0-d tensor; never a bool or a complex) as a float."""
    value = _scalar(value)
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ValueError(f"{name}={value!r} is not allowed; it must be a finite real number")
    return float(value)


def positive(name: str, value: object, above: float = 0.0) -> float:
    """A finite real number greater than ``above`` (0 by default)."""
    x = number(name, value)
    if not x > above:
        raise ValueError(f"{name}={x!r} is not allowed; it must be a finite number > {above:g}")
    return x


def at_least(name: str, value: object, minimum: float = 0.0, maximum: float = math.inf) -> float:
    """A finite real number in ``[minimum, maximum]``."""
    x = number(name, value)
    if not minimum <= x <= maximum:
        allowed = f">= {minimum:g}" if maximum == math.inf else f"in [{minimum:g}, {maximum:g}]"
        raise ValueError(f"{name}={x!r} is not allowed; it must be a finite number {allowed}")
    return x


def unit_interval(name: str, value: object, closed_right: bool = True, open_left: bool = False) -> float:
    """A number in [0, 1]; ``closed_right=False`` excludes 1, ``open_left=True`` excludes 0."""
    x = number(name, value)
    if not (0.0 <= x <= 1.0) or (x == 1.0 and not closed_right) or (x == 0.0 and open_left):
        allowed = ("(" if open_left else "[") + "0, 1" + ("]" if closed_right else ")")
        raise ValueError(f"{name}={x!r} is not allowed; it must lie in {allowed}")
    return x


def integer(name: str, value: object, minimum: int = 1, maximum: int | None = None) -> int:
    """An integer (Python, numpy or 0-d tensor; never a bool) in ``[minimum, maximum]``."""
    value = _scalar(value)
    if (isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum
            or (maximum is not None and value > maximum)):
        allowed = f">= {minimum}" if maximum is None else f"in [{minimum}, {maximum}]"
        raise ValueError(f"{name}={value!r} is not allowed; it must be an integer {allowed}")
    return int(value)


def choice(name: str, value: object, allowed: Iterable[str]) -> str:
    """One of the names ``allowed``."""
    allowed = tuple(allowed)
    if not isinstance(value, str) or value not in allowed:
        raise ValueError(f"unknown {name} {value!r}; allowed: {', '.join(allowed)}")
    return value


def keywords(where: str, given: Iterable[str], allowed: Iterable[str]) -> None:
    """A one-line error naming the first keyword of ``given`` that is not ``allowed``."""
    allowed = tuple(allowed)
    unknown = sorted(set(given) - set(allowed))
    if unknown:
        raise ValueError(f"{where} got unknown keyword {unknown[0]!r}; allowed: {', '.join(allowed)}")


def embeddings(name: str, z: object, min_rows: int = 1) -> object:
    """A floating, finite 2-D tensor or array with at least ``min_rows`` rows, at least one
    column and no all-zero row (each row is a direction on the sphere); returned unchanged. Inside
    ``torch.compile`` only the dtype and shape are checked (the values would need a host sync)."""
    if isinstance(z, torch.Tensor):
        floating, shape = z.is_floating_point(), tuple(z.shape)
    elif isinstance(z, np.ndarray):
        floating, shape = np.issubdtype(z.dtype, np.floating), z.shape
    else:
        raise ValueError(f"{name} is a {type(z).__name__}; embeddings must be a 2-D float tensor or array")
    if not floating:
        raise ValueError(f"{name} has dtype {z.dtype}; embeddings must be floating point (float32, bfloat16, ...)")
    if len(shape) != 2 or shape[1] < 1:
        raise ValueError(f"{name} has shape {shape}; embeddings must be 2-D (N, d) with d >= 1")
    if shape[0] < min_rows:
        raise ValueError(f"{name} has N={shape[0]} rows; at least {min_rows} are needed")
    lib = torch if isinstance(z, torch.Tensor) else np
    if lib is torch and torch.compiler.is_compiling():  # no host sync inside a compiled graph
        return z
    finite = lib.isfinite(z).all()
    zero = (z == 0).all(**({"dim": 1} if lib is torch else {"axis": 1}))
    if bool(finite & ~zero.any()):  # the one host sync of a valid batch
        return z
    if not bool(finite):
        raise NonFinite(f"{name} contains NaN or inf values; embeddings must be finite")
    row = int(lib.nonzero(zero)[0].flatten()[0]) if lib is np else int(zero.nonzero()[0, 0])
    raise ValueError(f"{name} row {row} is all zeros; an embedding needs a direction")


def device(name: str, value: object) -> torch.device:
    """``auto`` (cuda when available, else cpu), ``cpu``, ``cuda``, ``cuda:N`` or ``mps``, available on
    this machine, as a ``torch.device``."""
    allowed = "auto, cpu, cuda, cuda:N, mps"
    if isinstance(value, torch.device):
        value = str(value)
    if not isinstance(value, str):
        raise ValueError(f"{name}={value!r} is not allowed; allowed: {allowed}")
    if value == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(value)
    except RuntimeError:
        raise ValueError(f"{name}={value!r} is not a device; allowed: {allowed}") from None
    if dev.type not in ("cpu", "cuda", "mps"):
        raise ValueError(f"{name}={value!r} is not supported; allowed: {allowed}")
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"{name}={value!r} is not available: this machine has no CUDA GPU; use cpu")
    if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
        raise ValueError(f"{name}={value!r} is not available: this machine has "
                         f"{torch.cuda.device_count()} CUDA device(s)")
    if dev.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"{name}={value!r} is not available on this machine; use cpu")
    return dev


def existing_path(name: str, value: object, kind: str = "file") -> Path:
    """An existing file (``kind='file'``) or folder (``kind='folder'``)."""
    if not isinstance(value, (str, os.PathLike)) or not str(value):
        raise ValueError(f"{name}={value!r} is not allowed; it must be the path of a {kind}")
    path = Path(value)
    exists = path.is_file() if kind == "file" else path.is_dir()
    if not exists:
        state = "is not a " + kind if path.exists() else "does not exist"
        raise ValueError(f"{name} {str(path)!r} {state}")
    return path
