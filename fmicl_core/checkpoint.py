"""Checkpoints that survive being killed, and the random state that makes resuming exact.

- :func:`save` / :func:`load` store a plain dict of tensors and Python values, readable with
  ``torch.load(weights_only=True)``, written atomically (:func:`fmicl_core.outputs.atomic_write`);
  a missing or corrupt file is a one-line ``ValueError``.
- :func:`rng_state` / :func:`set_rng_state` capture and restore every global generator: Python's
  ``random``, numpy's legacy global generator, torch's CPU generator and every CUDA generator.
  (The trainer's data order and augmentations draw from generators seeded from
  ``(seed, epoch, step)``, so a position in the run determines them; see ``fmicl_core.train``.)
- :func:`check_compatible` compares the config stored in a checkpoint with the resuming one, and
  :func:`restore` loads a stored state dict, naming the first key or shape that does not fit.
"""

from __future__ import annotations

import os
import random
from pathlib import Path

import numpy as np
import torch

from fmicl_core.outputs import atomic_write

__all__ = ["KEYS", "check_compatible", "load", "restore", "rng_state", "save", "set_rng_state"]

KEYS = ("config", "model", "optimizer", "epoch", "step", "sums", "floor", "rng")
"""What a trainer checkpoint holds."""


def save(path: str | os.PathLike, state: dict) -> Path:
    """Write ``state`` atomically with ``torch.save``."""
    return atomic_write(path, lambda tmp: torch.save(state, tmp))


def load(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict:
    """Read a checkpoint with ``weights_only=True``; a missing or unreadable file is a ValueError."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"checkpoint {str(path)!r} does not exist")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # pickle, zip and torch errors all mean the same thing here
        raise ValueError(f"checkpoint {str(path)!r} is corrupt or not a checkpoint "
                         f"({type(err).__name__})") from None
    if not isinstance(state, dict):
        raise ValueError(f"checkpoint {str(path)!r} is not a trainer checkpoint (it holds a {type(state).__name__})")
    missing = [key for key in KEYS if key not in state]
    if missing:
        raise ValueError(f"checkpoint {str(path)!r} is not a complete trainer checkpoint: it lacks {missing[0]!r} "
                         f"(a trainer checkpoint holds {', '.join(KEYS)})")
    return state


def restore(path: str | os.PathLike, target: torch.nn.Module | torch.optim.Optimizer, state: dict,
            what: str) -> None:
    """``target.load_state_dict(state)``; a key or shape that does not fit is a one-line ``ValueError``."""
    try:
        target.load_state_dict(state)
    except (RuntimeError, ValueError, KeyError) as err:
        lines = [line.strip() for line in str(err).splitlines() if line.strip()]
        detail = lines[1] if len(lines) > 1 else (lines[0] if lines else type(err).__name__)
        raise ValueError(f"checkpoint {str(path)!r}: the stored {what} does not fit this run's {what} "
                         f"({detail})") from None


def rng_state() -> dict:
    """Every global random state, as tensors and plain values (``weights_only``-loadable)."""
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    version, internal, gauss_next = random.getstate()
    return {
        "python": [version, list(internal), gauss_next],
        "numpy": [kind, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, gauss],
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }


def set_rng_state(state: dict) -> None:
    """Restore what :func:`rng_state` captured."""
    version, internal, gauss_next = state["python"]
    random.setstate((version, tuple(internal), gauss_next))
    kind, keys, pos, has_gauss, gauss = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, gauss))
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _flat(config: dict, prefix: str = "") -> dict:
    """Nested settings as ``{"objective.name": ...}``."""
    out = {}
    for key, value in config.items():
        if isinstance(value, dict):
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[prefix + key] = value
    return out


def check_compatible(path: str | os.PathLike, stored: dict, current: dict,
                     resumable: frozenset[str]) -> None:
    """Raise a one-line ``ValueError`` naming the first setting (outside ``resumable``) in which
    the checkpoint's config ``stored`` and the resuming config ``current`` differ (nested settings
    are named ``objective.alpha``)."""
    stored, current = _flat(stored), _flat(current)
    for key in sorted(set(stored) | set(current)):
        if key in resumable:
            continue
        if stored.get(key) != current.get(key):
            raise ValueError(f"cannot resume from {str(path)!r}: it was trained with "
                             f"{key}={stored.get(key)!r}, this run has {key}={current.get(key)!r}")
