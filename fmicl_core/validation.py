"""The validators behind every public function and command-line flag: each returns the checked
value or raises a one-line ``ValueError`` that names the value and what is allowed."""

from __future__ import annotations

import math
import numbers
from typing import Iterable

__all__ = ["choice", "integer", "number", "positive", "unit_interval"]


def number(name: str, value: object) -> float:
    """A finite real number (Python, numpy or 0-d tensor; never a bool or a complex) as a float."""
    if hasattr(value, "ndim") and getattr(value, "ndim") == 0 and hasattr(value, "item"):
        value = value.item()  # 0-d numpy array or tensor
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ValueError(f"{name}={value!r} is not allowed; it must be a finite real number")
    return float(value)


def positive(name: str, value: object, above: float = 0.0) -> float:
    """A finite real number greater than ``above`` (0 by default)."""
    x = number(name, value)
    if not x > above:
        raise ValueError(f"{name}={value!r} is not allowed; it must be a finite number > {above:g}")
    return x


def unit_interval(name: str, value: object, closed_right: bool = True) -> float:
    """A number in [0, 1] (or [0, 1) when ``closed_right`` is False)."""
    x = number(name, value)
    if not (0.0 <= x <= 1.0) or (x == 1.0 and not closed_right):
        allowed = "[0, 1]" if closed_right else "[0, 1)"
        raise ValueError(f"{name}={value!r} is not allowed; it must lie in {allowed}")
    return x


def integer(name: str, value: object, minimum: int = 1) -> int:
    """An integer (never a bool) of at least ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name}={value!r} is not allowed; it must be an integer >= {minimum}")
    return int(value)


def choice(name: str, value: object, allowed: Iterable[str]) -> str:
    """One of the names ``allowed``."""
    allowed = tuple(allowed)
    if not isinstance(value, str) or value not in allowed:
        raise ValueError(f"unknown {name} {value!r}; allowed: {', '.join(allowed)}")
    return value
