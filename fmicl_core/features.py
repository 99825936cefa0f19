"""Features of a trained model for the analysis modules: export to ``.npz`` and validated loading.

A features file holds (all float32 unless said otherwise):

- ``train_encoder (n, d_enc)``, ``train_projection (n, d)``, ``train_labels (n,) int64``: encoder
  features g(x) and L2-normalised embeddings (the vectors the objective compares, on the sphere
  S^{d-1}) of every un-augmented training image, and their labels; the same three for ``test_``;
- ``pair_x``, ``pair_y (n_pairs, d)``: L2-normalised embeddings of two independent augmentations
  of the same training images (positive pairs, spec ``fmicl_paper.md`` section 1), ``pair_labels``;
- ``config``: the training config as a 0-d unicode array holding JSON.

:func:`load_features` checks keys, shapes, dtypes, finiteness and unit norms, and reads with
``allow_pickle=False``; every problem is a one-line ``ValueError``.
"""

from __future__ import annotations

import json
import os
import zipfile
from dataclasses import dataclass, fields, replace
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from fmicl_core import augment, checkpoint, data, methods
from fmicl_core.config import TrainConfig

__all__ = ["Features", "compute_features", "export_features", "load_features", "save_features"]

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

    return checkpoint.atomic_write(path, write)


def normalize_images(images: Tensor, recipe: str) -> Tensor:
    """uint8 images to the float input of the encoder without augmentation (the recipe's
    mean/std normalisation only)."""
    mean, std = augment.RECIPES[recipe].stats(images.shape[1])
    mean = torch.tensor(mean, device=images.device).view(1, -1, 1, 1)
    std = torch.tensor(std, device=images.device).view(1, -1, 1, 1)
    return (images.float() / 255.0 - mean) / std


@torch.no_grad()
def encode(model: methods.SimCLR, images: Tensor, recipe: str | None = None,
           batch_size: int = 512) -> tuple[Tensor, Tensor]:
    """Encoder features and L2-normalised embeddings of ``images`` (uint8, un-augmented unless
    ``recipe`` is None, in which case ``images`` are already float inputs), in eval mode."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    feats, embeds = [], []
    for start in range(0, images.shape[0], batch_size):
        x = images[start:start + batch_size].to(device)
        x = normalize_images(x, recipe) if recipe is not None else x
        h = model.features(x)
        feats.append(h.float())
        embeds.append(torch.nn.functional.normalize(model.project(h).float(), dim=1))
    model.train(was_training)
    return torch.cat(feats), torch.cat(embeds)


def compute_features(model: methods.SimCLR, train: data.ImageData, test: data.ImageData,
                     config: TrainConfig, batch_size: int = 512) -> Features:
    """Every array of the features file for ``model`` (eval mode, un-augmented images; the
    positive pairs are two augmentations of the first ``config.n_pairs`` training images drawn
    from a generator seeded with ``config.seed``)."""
    recipe = config.resolved_recipe()
    tr_enc, tr_proj = encode(model, train.images, recipe, batch_size)
    te_enc, te_proj = encode(model, test.images, recipe, batch_size)
    n = min(config.n_pairs, len(train))
    aug = augment.make_augment(recipe, train.image_size, train.channels)
    device = next(model.parameters()).device
    gen = torch.Generator(device=device).manual_seed(config.seed)
    images = train.images[:n].to(device)
    _, pair_x = encode(model, aug(images, gen), None, batch_size)
    _, pair_y = encode(model, aug(images, gen), None, batch_size)

    def np32(t: Tensor) -> np.ndarray:
        return t.float().cpu().numpy()

    return Features(np32(tr_enc), np32(tr_proj), train.labels.cpu().numpy(),
                    np32(te_enc), np32(te_proj), test.labels.cpu().numpy(),
                    np32(pair_x), np32(pair_y), train.labels[:n].cpu().numpy(), config.to_dict())


def export_features(checkpoint_path: str | os.PathLike, dataset: str | None = None,
                    out: str | os.PathLike | None = None, device: str = "cpu",
                    batch_size: int = 512) -> Path:
    """Load a trainer checkpoint, compute its features on ``dataset`` (default: the dataset it was
    trained on, same options) and write them to ``out`` (default: ``features.npz`` beside the
    checkpoint). Returns the path written."""
    state = checkpoint.load(checkpoint_path)
    config = TrainConfig(**state["config"])
    config = replace(config, dataset=dataset or config.dataset).validate()
    train = data.load_dataset(config.dataset, config.data_root, True, **config.dataset_options())
    test = data.load_dataset(config.dataset, config.data_root, False, **config.dataset_options())
    model = methods.build_method(config, train.channels, train.image_size)
    try:
        model.load_state_dict(state["model"])
    except RuntimeError:
        raise ValueError(f"checkpoint {str(checkpoint_path)!r} does not fit dataset {config.dataset!r} "
                         f"({train.channels} channels, {train.image_size} pixels)") from None
    model.to(device)
    out = Path(checkpoint_path).with_name("features.npz") if out is None else Path(out)
    return save_features(out, compute_features(model, train, test, config, batch_size))
