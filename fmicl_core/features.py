"""The hand-off between the trainer and the analyses: the features file and the run folder.

This module depends only on :mod:`fmicl_core.outputs`, so reading a run never imports the trainer
(:mod:`fmicl_core.export` computes the features of a model; :func:`fmicl_core.train.ensure_run`
makes a run).

A features file holds (all float32 unless said otherwise):

- ``train_encoder (n, d_enc)``, ``train_projection (n, d)``, ``train_labels (n,) int64``: encoder
  features g(x) and L2-normalised embeddings (the vectors the objective compares, on the sphere
  S^{d-1}) of every un-augmented training image, and their labels; the same three for ``test_``;
- ``pair_x``, ``pair_y (n_pairs, d)``: L2-normalised embeddings of two independent augmentations
  of the same training images (positive pairs: Lu et al. 2023, f-MICL, arXiv:2402.10150, Figure 2),
  ``pair_labels``;
- ``config``: the training config as a 0-d unicode array holding JSON.

A run folder (:class:`RunFolder`) holds ``config.json``, ``metrics.jsonl`` (one JSON line per
epoch), ``checkpoint.pt``, ``features_init.npz`` (the encoder at initialisation, the reference of
every comparison), ``features.npz`` and ``result.json`` (the final and initial accuracies), the last
written when the run is complete. One process at a time works in a run folder: it holds the
folder's lock file ``.lock`` (:meth:`RunFolder.lock`) while it does; a second one is refused at once.

:func:`load_features` checks keys, shapes, dtypes, finiteness and unit norms, and reads with
``allow_pickle=False``; every problem is a one-line ``ValueError``.
"""

from __future__ import annotations

import contextlib
import json
import os
import zipfile
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Iterator

import numpy as np
from filelock import FileLock, Timeout

from fmicl_core.outputs import atomic_write, remove_stale_temporaries

__all__ = ["Features", "RunFolder", "load_features", "save_features"]

UNIT_NORM_TOL = 1e-3


@dataclass(frozen=True)
class Features:
    """The arrays of a features file (module docstring)."""

    train_encoder: np.ndarray
    train_projection: np.ndarray
    train_labels: np.ndarray
    test_encoder: np.ndarray
    test_projection: np.ndarray
    test_labels: np.ndarray
    pair_x: np.ndarray
    pair_y: np.ndarray
    pair_labels: np.ndarray
    config: dict

    def __post_init__(self) -> None:
        _validate({f.name: getattr(self, f.name) for f in fields(self) if f.name != "config"}, "features")


def _validate(arrays: dict, source: str) -> None:
    """One-line ``ValueError`` unless ``arrays`` satisfy the features contract."""
    labels = {k for k in arrays if k.endswith("labels")}
    for key, a in arrays.items():
        want, ndim = (np.int64, 1) if key in labels else (np.float32, 2)
        if not isinstance(a, np.ndarray) or a.dtype != want or a.ndim != ndim:
            got = f"{a.dtype} {a.shape}" if isinstance(a, np.ndarray) else type(a).__name__
            raise ValueError(f"{source}: {key} is {got}; expected a {ndim}-D {np.dtype(want)} array")
        if key not in labels and not np.isfinite(a).all():
            raise ValueError(f"{source}: {key} contains NaN or inf values")
    for split, rows in (("train", "train"), ("test", "test"), ("pair", "pair")):
        n = arrays[f"{split}_labels"].shape[0]
        for key in (("pair_x", "pair_y") if split == "pair" else (f"{rows}_encoder", f"{rows}_projection")):
            if arrays[key].shape[0] != n:
                raise ValueError(f"{source}: {key} has {arrays[key].shape[0]} rows but "
                                 f"{split}_labels has {n}")
    dims = {k: arrays[k].shape[1] for k in ("train_projection", "test_projection", "pair_x", "pair_y")}
    if len(set(dims.values())) != 1 or arrays["train_encoder"].shape[1] != arrays["test_encoder"].shape[1]:
        raise ValueError(f"{source}: feature dimensions disagree ({dims}, encoder "
                         f"{arrays['train_encoder'].shape[1]} vs {arrays['test_encoder'].shape[1]})")
    for key in dims:
        err = np.abs(np.linalg.norm(arrays[key].astype(np.float64), axis=1) - 1.0).max(initial=0.0)
        if err > UNIT_NORM_TOL:
            raise ValueError(f"{source}: {key} rows are not unit vectors (max | ||z|| - 1 | = {err:.3g})")


def load_features(path: str | os.PathLike) -> Features:
    """Read and validate a features file written by :func:`save_features`."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"features file {str(path)!r} does not exist")
    with open(path, "rb") as fh:
        if fh.read(4) != b"PK\x03\x04":  # every .npz is a zip archive
            raise ValueError(f"features file {str(path)!r} is not an .npz archive (no zip header); "
                             "write one with fmicl_core.features.save_features")
    try:
        with np.load(path, allow_pickle=False) as npz:
            stored = {k: npz[k] for k in npz.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:
        raise ValueError(f"features file {str(path)!r} is corrupt or not an .npz ({err})") from None
    expected = [f.name for f in fields(Features)]
    missing = [k for k in expected if k not in stored]
    if missing:
        raise ValueError(f"features file {str(path)!r} lacks {missing}")
    try:
        config = json.loads(str(stored.pop("config")))
    except json.JSONDecodeError:
        raise ValueError(f"features file {str(path)!r}: config is not JSON") from None
    _validate({k: stored[k] for k in expected if k != "config"}, f"features file {str(path)!r}")
    return Features(**{k: stored[k] for k in expected if k != "config"}, config=config)


def save_features(path: str | os.PathLike, features: Features) -> Path:
    """Write ``features`` atomically as an uncompressed ``.npz``."""
    arrays = {f.name: getattr(features, f.name) for f in fields(features) if f.name != "config"}
    arrays["config"] = np.array(json.dumps(features.config))

    def write(tmp: str) -> None:
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)

    return atomic_write(path, write)


@dataclass(frozen=True)
class RunFolder:
    """The files of one run folder ``path`` (module docstring)."""

    path: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", Path(self.path))

    @property
    def config(self) -> Path:
        return self.path / "config.json"

    @property
    def metrics(self) -> Path:
        return self.path / "metrics.jsonl"

    @property
    def checkpoint(self) -> Path:
        return self.path / "checkpoint.pt"

    @property
    def features(self) -> Path:
        return self.path / "features.npz"

    @property
    def initial_features(self) -> Path:
        return self.path / "features_init.npz"

    @property
    def result(self) -> Path:
        return self.path / "result.json"

    @property
    def lock_file(self) -> Path:
        return self.path / ".lock"

    def run_files(self) -> list[Path]:
        """The files of a run that the folder holds now (none: the folder holds no run)."""
        paths = (self.config, self.metrics, self.checkpoint, self.initial_features, self.features, self.result)
        return [p for p in paths if p.is_file()]

    def clear(self) -> None:
        """Delete the run's files (``--overwrite``); other files in the folder are left alone."""
        for path in self.run_files():
            path.unlink()

    @contextlib.contextmanager
    def lock(self) -> Iterator[RunFolder]:
        """Hold the folder's lock (creating the folder) for the duration; a one-line ``ValueError``
        at once when another process holds it. Temporary files of killed writers are removed."""
        self.path.mkdir(parents=True, exist_ok=True)
        lock = FileLock(self.lock_file, timeout=0)
        try:
            lock.acquire()
        except Timeout:
            raise ValueError(f"run folder {str(self.path)!r} is in use by another running process; wait for it "
                             "to finish or choose another --name") from None
        try:
            remove_stale_temporaries(self.path)
            yield self
        finally:
            lock.release()

    @property
    def complete(self) -> bool:
        """Whether training finished and every output was written (``result.json`` is written last)."""
        return self.result.is_file()

    def read_json(self, which: str) -> dict:
        """``config.json`` or ``result.json`` as a dict; missing or corrupt is a ``ValueError``."""
        path = getattr(self, which)
        try:
            return json.loads(path.read_text())
        except FileNotFoundError:
            raise ValueError(f"run folder {str(self.path)!r} has no {path.name}") from None
        except json.JSONDecodeError:
            raise ValueError(f"{str(path)!r} is corrupt (not JSON)") from None

    def read_metrics(self) -> list[dict]:
        """The epochs' records of ``metrics.jsonl`` (empty when there is none yet)."""
        if not self.metrics.is_file():
            return []
        try:
            return [json.loads(line) for line in self.metrics.read_text().splitlines() if line]
        except json.JSONDecodeError:
            raise ValueError(f"{str(self.metrics)!r} is corrupt (not JSON lines)") from None
