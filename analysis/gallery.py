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
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from fmicl_core import validation
from fmicl_core.outputs import check_writable, save_figure, save_json

__all__ = ["FAILS", "FINDING", "HOLDS", "UNJUDGED", "AtLeast", "AtMost", "Between", "Check", "Claim", "Finding",
           "Interval", "IsTrue", "Within", "claims_table", "gallery_dir", "save"]

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


HOLDS, FAILS, FINDING = "holds", "does not hold", "finding: no number in the paper"
UNJUDGED = "unjudged"
"""The verdict of a row written before claims carried their checks."""


def _numbers(name: str, value: object) -> tuple[float, ...]:
    """One finite number, or a non-empty sequence of them, as a tuple."""
    values = tuple(np.ravel(value)) if isinstance(value, (list, tuple, np.ndarray)) else (value,)
    if not values:
        raise ValueError(f"{name}={value!r} is not allowed; give at least one number")
    return tuple(validation.number(name, v) for v in values)


def _text(x: float) -> str:
    return f"{x:.4g}"


class Check:
    """A rule on this run's numbers: :meth:`holds` applies it, :attr:`tolerance` says it in words.
    Where ``value`` may be several numbers, the rule must hold for every one."""

    def holds(self) -> bool:
        raise NotImplementedError

    @property
    def tolerance(self) -> str:
        raise NotImplementedError


@dataclass(frozen=True)
class Within(Check):
    """Every value within ``rel`` (a fraction of ``|target|``) or ``abs`` of ``target``; exactly one
    of the two is given."""

    value: float | Sequence[float]
    target: float
    rel: float | None = None
    abs: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "value", _numbers("value", self.value))
        object.__setattr__(self, "target", validation.number("target", self.target))
        if (self.rel is None) == (self.abs is None):
            raise ValueError(f"rel={self.rel!r}, abs={self.abs!r} is not allowed; give exactly one of the two")
        name = "abs" if self.rel is None else "rel"
        object.__setattr__(self, name, validation.at_least(name, getattr(self, name)))

    def holds(self) -> bool:
        width = self.abs if self.rel is None else self.rel * abs(self.target)
        return all(abs(v - self.target) <= width for v in self.value)

    @property
    def tolerance(self) -> str:
        return f"{_text(self.target)} ± " + (_text(self.abs) if self.rel is None else f"{100 * self.rel:.3g}%")


@dataclass(frozen=True)
class _Bound(Check):
    value: float | Sequence[float]
    bound: float
    strict: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "value", _numbers("value", self.value))
        object.__setattr__(self, "bound", validation.number("bound", self.bound))


class AtMost(_Bound):
    """Every value at most ``bound`` (below it when ``strict``)."""

    def holds(self) -> bool:
        return all(v < self.bound if self.strict else v <= self.bound for v in self.value)

    @property
    def tolerance(self) -> str:
        return f"{'<' if self.strict else '≤'} {_text(self.bound)}"


class AtLeast(_Bound):
    """Every value at least ``bound`` (above it when ``strict``)."""

    def holds(self) -> bool:
        return all(v > self.bound if self.strict else v >= self.bound for v in self.value)

    @property
    def tolerance(self) -> str:
        return f"{'>' if self.strict else '≥'} {_text(self.bound)}"


@dataclass(frozen=True)
class Between(Check):
    """Every value in ``[low, high]``."""

    value: float | Sequence[float]
    low: float
    high: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "value", _numbers("value", self.value))
        _ordered(self)

    def holds(self) -> bool:
        return all(self.low <= v <= self.high for v in self.value)

    @property
    def tolerance(self) -> str:
        return f"in [{_text(self.low)}, {_text(self.high)}]"


@dataclass(frozen=True)
class Interval(Check):
    """A confidence interval ``[low, high]`` that must cover ``contains``, or lie wholly ``above``
    or ``below`` a bound; exactly one of the three is given."""

    low: float
    high: float
    contains: float | None = None
    above: float | None = None
    below: float | None = None

    def __post_init__(self) -> None:
        _ordered(self)
        given = [k for k in ("contains", "above", "below") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(f"Interval got {given or 'none'} of contains, above, below; give exactly one")
        object.__setattr__(self, given[0], validation.number(given[0], getattr(self, given[0])))

    def holds(self) -> bool:
        if self.contains is not None:
            return self.low <= self.contains <= self.high
        return self.low > self.above if self.above is not None else self.high < self.below

    @property
    def tolerance(self) -> str:
        if self.contains is not None:
            return f"interval covers {_text(self.contains)}"
        side = "above" if self.above is not None else "below"
        return f"interval {side} {_text(getattr(self, side))}"


def _ordered(check: Between | Interval) -> None:
    """``check.low <= check.high``, both finite."""
    low, high = validation.number("low", check.low), validation.number("high", check.high)
    if low > high:
        raise ValueError(f"low={low!r} > high={high!r} is not allowed; low must be at most high")
    object.__setattr__(check, "low", low)
    object.__setattr__(check, "high", high)


@dataclass(frozen=True)
class IsTrue(Check):
    """A yes/no result computed from this run's numbers; ``what`` says what it states."""

    flag: bool
    what: str

    def __post_init__(self) -> None:
        if not isinstance(self.flag, (bool, np.bool_)):
            raise ValueError(f"flag={self.flag!r} is not allowed; it must be True or False, computed from numbers")
        if not isinstance(self.what, str) or not self.what:
            raise ValueError(f"what={self.what!r} is not allowed; say what the flag states")
        object.__setattr__(self, "flag", bool(self.flag))

    def holds(self) -> bool:
        return self.flag

    @property
    def tolerance(self) -> str:
        return self.what


@dataclass(frozen=True)
class Finding(Check):
    """No rule: the paper printed no number and no answer is known, so the row reports a finding."""

    def holds(self) -> bool:
        return True

    @property
    def tolerance(self) -> str:
        return "none"


@dataclass(frozen=True)
class Claim:
    """One row of a notebook's closing table.

    ``paper`` holds only what a paper printed (with its table, figure or theorem), or says that the
    paper gives no number; ``known`` is the answer known without the paper (a closed form, an
    identity, or a simulation with its tolerance), empty where there is none. ``check`` (one
    :class:`Check` or a tuple of them, all of which must hold) judges this run's numbers: the
    verdict is :data:`HOLDS` or :data:`FAILS`, or :data:`FINDING` for a :class:`Finding`.
    ``known_answer`` marks a row whose check is against the known answer (an identity, a closed
    form, a theorem checked numerically); such a row must hold."""

    claim: str
    paper: str
    known: str
    this_run: str
    config: str
    check: Check | tuple[Check, ...]
    known_answer: bool = False

    def __post_init__(self) -> None:
        for name in ("claim", "paper", "known", "this_run", "config"):
            if not isinstance(getattr(self, name), str):
                raise ValueError(f"{name}={getattr(self, name)!r} is not allowed; it must be text")
        checks = self.check if isinstance(self.check, tuple) else (self.check,)
        if not checks or not all(isinstance(c, Check) for c in checks):
            raise ValueError(f"check={self.check!r} is not allowed; give a Check (Within, AtMost, AtLeast, Between, "
                             "Interval, IsTrue, Finding) or a non-empty tuple of them")
        if any(isinstance(c, Finding) for c in checks) and (len(checks) > 1 or self.known or self.known_answer):
            raise ValueError(f"claim {self.claim!r}: a Finding stands alone, with no known answer "
                             f"(known={self.known!r}, known_answer={self.known_answer!r})")
        if self.known_answer and not self.known:
            raise ValueError(f"claim {self.claim!r}: known_answer=True needs the known answer in 'known'")
        object.__setattr__(self, "check", checks)

    @property
    def verdict(self) -> str:
        if isinstance(self.check[0], Finding):
            return FINDING
        return HOLDS if all(c.holds() for c in self.check) else FAILS

    @property
    def tolerance(self) -> str:
        """The checks' tolerances, each said once."""
        return "; ".join(dict.fromkeys(c.tolerance for c in self.check))

    def row(self) -> dict:
        """The row as saved in ``claims_<notebook>.json``: the texts, the tolerance, the verdict, and
        each check's rule with its numbers."""
        return {"claim": self.claim, "paper": self.paper, "known": self.known, "this_run": self.this_run,
                "config": self.config, "tolerance": self.tolerance, "verdict": self.verdict,
                "known_answer": self.known_answer,
                "checks": [{"rule": type(c).__name__, **asdict(c)} for c in self.check]}


_HEADER = ("claim", "paper's number", "known answer", "this run's number", "tolerance", "verdict", "config")


def claims_table(rows: list[Claim]) -> str:
    """A markdown table of ``rows``. Under ``analysis.reproduce`` (which sets ``FMICL_NOTEBOOK`` to
    the notebook's name) the rows are also saved as ``claims_<notebook>.json`` in the gallery."""
    bad = [r for r in rows if not isinstance(r, Claim)]
    if bad or not rows:
        raise ValueError(f"rows holds {bad[0]!r}; every row must be a Claim" if bad else "rows is empty; "
                         "a notebook's table needs at least one Claim")
    notebook = os.environ.get("FMICL_NOTEBOOK")
    if notebook:
        save_json(gallery_dir() / f"claims_{notebook}.json", [r.row() for r in rows])
    lines = ["| " + " | ".join(_HEADER) + " |", "|" + "---|" * len(_HEADER)]
    for r in rows:
        cells = (r.claim, r.paper, r.known, r.this_run, r.tolerance, r.verdict, r.config)
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines)
