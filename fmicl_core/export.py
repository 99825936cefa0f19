"""Features of a model, computed by the trainer's data and augmentation for the features file of
:mod:`fmicl_core.features`: encoder features and embeddings of the un-augmented images, and positive
pairs (two augmentations of one image)."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from fmicl_core import augment, checkpoint, data, methods
from fmicl_core.config import TrainConfig
from fmicl_core.features import Features, save_features

__all__ = ["compute_features", "encode", "export_features", "normalize_images"]


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
    positive pairs are two augmentations of the first ``config.pairs(len(train))`` training images
    drawn from a generator seeded with ``config.seed``)."""
    recipe = config.resolved_recipe()
    tr_enc, tr_proj = encode(model, train.images, recipe, batch_size)
    te_enc, te_proj = encode(model, test.images, recipe, batch_size)
    n = config.pairs(len(train))
    if n > len(train):
        raise ValueError(f"n_pairs={n} is larger than the {len(train)} training images")
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
    config = TrainConfig.from_dict(state["config"])
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
