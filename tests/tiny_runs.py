"""The tiny trainer runs the trainer tests share (a few seconds each on one CPU thread)."""

import json
from pathlib import Path

import torch

from fmicl_core import checkpoint
from fmicl_core.config import TrainConfig
from fmicl_core.objective_config import ObjectiveConfig

TIMING = ("images_per_s", "seconds")


def tiny(tmp_path, **kw) -> TrainConfig:
    """A run of a few seconds: 64 random 1x8x8 images, 4 steps of 16 per epoch."""
    base = dict(dataset="synthetic", synthetic_shape="1,8,8", synthetic_size=64, encoder="small_cnn",
                batch_size=16, epochs=4, warmup_epochs=1, proj_hidden=32, proj_dim=16, pred_hidden=32,
                queue_size=32, bn_splits=2, knn_every=2, knn_k=10, probe_iters=5, n_pairs=8,
                progress=False, out_dir=str(tmp_path), name="run", device="cpu")
    hyper = {k: kw.pop(k) for k in list(kw) if k in ObjectiveConfig.__dataclass_fields__ and k != "name"
             or k == "objective"}
    hyper["name"] = hyper.pop("objective", "kl")
    return TrainConfig(objective=ObjectiveConfig(**hyper), **{**base, **kw})


def weights(run_dir: Path) -> dict:
    return checkpoint.load(run_dir / "checkpoint.pt")


def metrics(run_dir: Path) -> list[dict]:
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    return [{k: v for k, v in json.loads(line).items() if k not in TIMING} for line in lines]


def assert_same_state(a: dict, b: dict) -> None:
    assert a["model"].keys() == b["model"].keys()
    for key in a["model"]:
        assert torch.equal(a["model"][key], b["model"][key]), key
    for pa, pb in zip(a["optimizer"]["state"].values(), b["optimizer"]["state"].values()):
        assert torch.equal(pa["momentum_buffer"], pb["momentum_buffer"])
    assert (a["epoch"], a["step"]) == (b["epoch"], b["step"])
