"""features.npz: round trip, every validation rule, export from a checkpoint equal to the trainer's
own file, and that reading features never imports the trainer."""

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

import subprocess
import sys

from fmicl_core.config import TrainConfig
from fmicl_core.export import export_features
from fmicl_core.features import Features, load_features, save_features
from fmicl_core.train import train


def unit(rng, n, d):
    x = rng.standard_normal((n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def example() -> Features:
    rng = np.random.default_rng(0)
    return Features(
        train_encoder=rng.standard_normal((6, 5)).astype(np.float32), train_projection=unit(rng, 6, 3),
        train_labels=np.arange(6, dtype=np.int64) % 2,
        test_encoder=rng.standard_normal((4, 5)).astype(np.float32), test_projection=unit(rng, 4, 3),
        test_labels=np.arange(4, dtype=np.int64) % 2,
        pair_x=unit(rng, 2, 3), pair_y=unit(rng, 2, 3), pair_labels=np.array([0, 1]),
        config={"objective": {"name": "kl", "alpha": 40.0}})


def test_round_trip(tmp_path):
    feats = example()
    back = load_features(save_features(tmp_path / "f.npz", feats))
    for name in ("train_encoder", "train_projection", "train_labels", "test_encoder",
                 "test_projection", "test_labels", "pair_x", "pair_y", "pair_labels"):
        np.testing.assert_array_equal(getattr(back, name), getattr(feats, name))
    assert back.config == feats.config


@pytest.mark.parametrize("change,match", [
    (dict(train_projection=2 * unit(np.random.default_rng(1), 6, 3)), "not unit vectors"),
    (dict(test_encoder=np.full((4, 5), np.nan, np.float32)), "NaN"),
    (dict(train_labels=np.zeros(6, np.float32)), "train_labels is float32"),
    (dict(train_encoder=np.zeros((5, 5), np.float32)), "train_encoder has 5 rows"),
    (dict(pair_x=unit(np.random.default_rng(1), 2, 4)), "dimensions disagree"),
    (dict(test_encoder=np.zeros((4, 5), np.float64)), "test_encoder is float64"),
])
def test_invalid_arrays_are_rejected(change, match):
    with pytest.raises(ValueError, match=match):
        replace(example(), **change)


def test_bad_files_are_one_line_errors(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        load_features(tmp_path / "missing.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip file")
    with pytest.raises(ValueError, match="is not an .npz archive"):
        load_features(tmp_path / "junk.npz")
    (tmp_path / "cut.npz").write_bytes(b"PK\x03\x04 a zip header and nothing after it")
    with pytest.raises(ValueError, match="corrupt"):
        load_features(tmp_path / "cut.npz")
    arrays = {k: v for k, v in vars(example()).items() if k not in ("config", "pair_y")}
    np.savez(tmp_path / "partial.npz", **arrays, config=np.array("{}"))
    with pytest.raises(ValueError, match=r"lacks \['pair_y'\]"):
        load_features(tmp_path / "partial.npz")
    np.savez(tmp_path / "pickled.npz", **{**vars(example()), "config": np.array([{}], dtype=object)})
    with pytest.raises(ValueError, match="corrupt"):  # allow_pickle=False refuses object arrays
        load_features(tmp_path / "pickled.npz")


@pytest.mark.usefixtures("one_torch_thread")
def test_export_from_checkpoint_matches_the_trainer(tmp_path):
    config = TrainConfig(dataset="synthetic", synthetic_shape="1,8,8", synthetic_size=32, batch_size=16,
                         epochs=1, proj_hidden=32, proj_dim=16, knn_k=5, probe_iters=3, n_pairs=10,
                         progress=False, out_dir=str(tmp_path), name="run", device="cpu")
    run_dir = train(config).run_dir
    ours = load_features(run_dir / "features.npz")
    exported = load_features(export_features(run_dir / "checkpoint.pt", out=tmp_path / "again.npz"))
    for name in ("train_encoder", "train_projection", "test_projection", "pair_x", "pair_y"):
        np.testing.assert_array_equal(getattr(ours, name), getattr(exported, name))
    assert ours.train_projection.shape == (32, 16) and ours.train_encoder.shape == (32, 128)
    assert ours.pair_x.shape == (10, 16) and not np.allclose(ours.pair_x, ours.pair_y)
    np.testing.assert_array_equal(ours.pair_labels, ours.train_labels[:10])
    # a positive pair is closer than two different images, on average
    pos = (ours.pair_x * ours.pair_y).sum(1).mean()
    neg = (ours.pair_x @ ours.pair_y.T)[~np.eye(10, dtype=bool)].mean()
    assert pos > neg
    assert ours.config["objective"]["name"] == "kl" and Path(exported.config["out_dir"]) == tmp_path


def test_reading_features_does_not_import_the_trainer():
    code = ("import sys, fmicl_core.features; "
            "print(' '.join(m for m in sys.modules if m.startswith(('fmicl_core.', 'analysis'))))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert loaded == ["fmicl_core.outputs", "fmicl_core.features"]
