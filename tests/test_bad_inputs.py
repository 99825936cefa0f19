"""Bad input to the trainer, its files and the shared validators: every case is refused with one
line that names the bad value, before anything is trained or written (the objectives' own table is
tests/test_bad_inputs_api.py, the analysis commands' tests/test_bad_inputs_cli.py)."""

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from fmicl_core import checkpoint, validation
from fmicl_core.config import TrainConfig
from fmicl_core.data import load_dataset
from fmicl_core.features import RunFolder, load_features
from fmicl_core.losses import FMICLLoss
from fmicl_core.objective_config import ObjectiveConfig
from fmicl_core.outputs import check_writable
from fmicl_core.train import main

TINY = ["--dataset", "synthetic", "--synthetic-shape", "1,8,8", "--synthetic-size", "64", "--batch-size", "16",
        "--epochs", "1", "--warmup-epochs", "0", "--proj-hidden", "32", "--proj-dim", "16", "--knn-k", "10",
        "--probe-iters", "5", "--n-pairs", "8", "--no-progress", "--device", "cpu"]

CLI = [  # (flags added to TINY, what the one line must contain)
    ("--method byol", "'byol'"),
    ("--dataset mnist", "'mnist'"),
    ("--encoder vit", "'vit'"),
    ("--objective hinge", "'hinge'"),
    ("--similarity bogus", "'bogus'"),
    ("--negatives bogus", "'bogus'"),
    ("--augment bogus", "'bogus'"),
    ("--recipe bogus", "'bogus'"),
    ("--optimizer lamb", "'lamb'"),
    ("--schedule step", "'step'"),
    ("--device tpu", "'tpu'"),
    ("--device cuda:x", "'cuda:x'"),
    ("--device mps:0:1", "'mps:0:1'"),
    ("--epochs 0", "epochs=0"),
    ("--epochs abc", "'abc'"),
    ("--batch-size 1", "batch_size=1"),
    ("--batch-size 0", "batch_size=0"),
    ("--batch-size 128", "batch_size=128"),
    ("--knn-k 100", "knn_k=100"),
    ("--n-pairs 1000", "n_pairs=1000"),
    ("--proj-dim 0", "proj_dim=0"),
    ("--proj-layers 0", "proj_layers=0"),
    ("--proj-hidden -4", "proj_hidden=-4"),
    ("--pred-hidden 0", "pred_hidden=0"),
    ("--queue-size 0", "queue_size=0"),
    ("--method moco --queue-size 40", "queue_size=40"),
    ("--method moco --bn-splits 3", "bn_splits=3"),
    ("--method moco --objective au", "'au'"),
    ("--method moco --negatives one_view", "negatives='one_view'"),
    ("--lr 0", "lr=0.0"),
    ("--lr -0.1", "lr=-0.1"),
    ("--lr nan", "lr=nan"),
    ("--lr inf", "lr=inf"),
    ("--momentum 1", "momentum=1.0"),
    ("--momentum -0.5", "momentum=-0.5"),
    ("--moco-momentum 1.5", "moco_momentum=1.5"),
    ("--weight-decay -1", "weight_decay=-1.0"),
    ("--weight-decay nan", "weight_decay=nan"),
    ("--warmup-epochs -1", "warmup_epochs=-1.0"),
    ("--probe-wd=-1e-3", "probe_wd=-0.001"),
    ("--probe-wd -1e-3", "--probe-wd"),
    ("--probe-iters 0", "probe_iters=0"),
    ("--knn-t 0", "knn_t=0.0"),
    ("--knn-every -1", "knn_every=-1"),
    ("--workers -2", "workers=-2"),
    ("--stop-after -1", "stop_after=-1"),
    ("--seed -1", "seed=-1"),
    ("--seed 1.5", "'1.5'"),
    ("--sigma 0", "sigma=0.0"),
    ("--sigma nan", "sigma=nan"),
    ("--alpha -1", "alpha=-1.0"),
    ("--mu 0", "mu=0.0"),
    ("--temperature 0", "temperature=0.0"),
    ("--objective tsallis --beta 1", "beta=1.0"),
    ("--synthetic-shape 1,8", "'1,8'"),
    ("--synthetic-shape a,b,c", "'a,b,c'"),
    ("--synthetic-shape 0,8,8", "shape=(0, 8, 8)"),
    ("--synthetic-size 0", "size=0"),
    ("--synthetic-shape 3,8,16", "(3, 8, 16)"),
    ("--synthetic-shape 1,1,1", "image_size=1"),
    ("--dataset imagefolder", "--data-path"),
    ("--dataset imagefolder --data-path /nonexistent/folder", "'/nonexistent/folder'"),
    ("--dataset cifar10 --data-root /nonexistent/root", "'/nonexistent/root"),
    ("--dataset stl10 --data-root /nonexistent/root", "'stl10'"),
    ("--name ../escape", "'../escape'"),
    ("--name a/b", "'a/b'"),
    ("--name .hidden", "'.hidden'"),
    ("--resume", "holds no run"),
    ("--resume --overwrite", "resume=True and overwrite=True"),
    ("--out-dir /dev/null/sub", "'/dev/null/sub'"),
    ("--unknown-flag 3", "--unknown-flag"),
]


@pytest.mark.parametrize("flags, needle", CLI, ids=[c[0] for c in CLI])
def test_trainer_cli(tmp_path, capsys, flags, needle):
    argv = [*TINY, "--out-dir", str(tmp_path / "runs"), *flags.split()]
    if "--out-dir" in flags:
        argv = [*TINY, *flags.split()]
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and err.count("\n") == 1 and "Traceback" not in err, err
    assert err.startswith("python -m fmicl_core.train: error: ") and needle in err, err
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").rglob("*.json"))


def _corrupt_file(path, content: bytes):
    path.write_bytes(content)
    return path


API = [  # (call on a tmp folder, exception, what the message must contain)
    (lambda t: load_dataset("mnist"), ValueError, "'mnist'"),
    (lambda t: load_dataset("synthetic", colour=True), ValueError, "'colour'"),
    (lambda t: load_dataset("synthetic", shape=(3, 0, 4)), ValueError, "(3, 0, 4)"),
    (lambda t: load_dataset("imagefolder"), ValueError, "path="),
    (lambda t: load_dataset("cifar100", root=t), ValueError, "'cifar100'"),
    (lambda t: load_features(t / "missing.npz"), ValueError, "missing.npz"),
    (lambda t: load_features(_corrupt_file(t / "notes.npz", b"plain text, not numbers")), ValueError,
     "not an .npz archive"),
    (lambda t: load_features(_corrupt_file(t / "cut.npz", b"PK\x03\x04\x00")), ValueError, "cut.npz"),
    (lambda t: checkpoint.load(t / "none.pt"), ValueError, "none.pt"),
    (lambda t: checkpoint.load(_corrupt_file(t / "text.pt", b"hello")), ValueError, "text.pt"),
    (lambda t: checkpoint.load(_save(t / "list.pt", [1, 2])), ValueError, "holds a list"),
    (lambda t: checkpoint.load(_save(t / "partial.pt", {"config": {}, "model": {}})), ValueError, "'optimizer'"),
    (lambda t: RunFolder(t).read_json("config"), ValueError, "config.json"),
    (lambda t: RunFolder(_corrupt_dir(t)).read_json("result"), ValueError, "result.json"),
    (lambda t: RunFolder(_corrupt_dir(t)).read_metrics(), ValueError, "metrics.jsonl"),
    (lambda t: check_writable(_corrupt_file(t / "a-file", b"") / "sub"), ValueError, "a-file"),
    (lambda t: TrainConfig.from_dict({"objective": "kl"}), ValueError, "objective='kl'"),
    (lambda t: TrainConfig.from_dict({"objective": {}, "colour": 1}), ValueError, "'colour'"),
    (lambda t: TrainConfig.from_dict({"objective": {"aplha": 1}}), ValueError, "'aplha'"),
    (lambda t: TrainConfig(objective="kl").validate(), ValueError, "objective='kl'"),
    (lambda t: TrainConfig(epochs=True).validate(), ValueError, "epochs=True"),
    (lambda t: TrainConfig(lr=1 + 2j).validate(), ValueError, "lr=(1+2j)"),
    (lambda t: TrainConfig(name="").validate(), ValueError, "name=''"),
    (lambda t: TrainConfig(name=7).validate(), ValueError, "name=7"),
    (lambda t: TrainConfig(device=0).validate(), ValueError, "device=0"),
    (lambda t: ObjectiveConfig(name="infonce", negatives="cross"), ValueError, "negatives='cross'"),
    (lambda t: FMICLLoss(ObjectiveConfig(negatives="one_view"))(torch.eye(4), torch.eye(4), torch.eye(4)), ValueError,
     "negatives='one_view'"),
    (lambda t: validation.number("x", "3"), ValueError, "x='3'"),
    (lambda t: validation.number("x", np.array([1.0, 2.0])), ValueError, "x=array"),
    (lambda t: validation.positive("x", torch.tensor(-1.0)), ValueError, "x=-1.0"),
    (lambda t: validation.unit_interval("q", 0.0, open_left=True), ValueError, "(0, 1]"),
    (lambda t: validation.integer("n", np.float64(3.0)), ValueError, "n=3.0"),
    (lambda t: validation.integer("n", 11, maximum=10), ValueError, "n=11"),
    (lambda t: validation.at_least("p", math.inf), ValueError, "p=inf"),
    (lambda t: validation.unit_interval("q", 1.5), ValueError, "q=1.5"),
    (lambda t: validation.choice("kind", None, ["a"]), ValueError, "None"),
    (lambda t: validation.keywords("f()", ["sigmaa"], ["sigma"]), ValueError, "'sigmaa'"),
    (lambda t: validation.existing_path("features", t / "nope.npz"), ValueError, "nope.npz"),
    (lambda t: validation.existing_path("features", t, kind="file"), ValueError, "is not a file"),
    (lambda t: validation.existing_path("data", ""), ValueError, "data=''"),
    (lambda t: validation.embeddings("z", [[1.0]]), ValueError, "list"),
    (lambda t: validation.embeddings("z", torch.ones(4, 3, dtype=torch.int64)), ValueError, "torch.int64"),
    (lambda t: validation.embeddings("z", np.ones((4, 3), dtype=bool)), ValueError, "bool"),
    (lambda t: validation.embeddings("z", torch.ones(4, 3, dtype=torch.cfloat)), ValueError, "complex"),
    (lambda t: validation.embeddings("z", torch.ones(4)), ValueError, "(4,)"),
    (lambda t: validation.embeddings("z", torch.ones(4, 0)), ValueError, "(4, 0)"),
    (lambda t: validation.embeddings("z", torch.ones(1, 3), min_rows=2), ValueError, "N=1"),
    (lambda t: validation.embeddings("z", torch.tensor([[1.0, math.nan]])), validation.NonFinite, "NaN"),
    (lambda t: validation.embeddings("z", np.array([[1.0, 0.0], [0.0, 0.0]])), ValueError, "row 1"),
    (lambda t: validation.device("device", "tpu"), ValueError, "'tpu'"),
    (lambda t: validation.device("device", "cuda:99"), ValueError, "'cuda:99'"),
    (lambda t: validation.device("device", None), ValueError, "None"),
]


def _image_folder(root, files: dict[str, bytes | None]):
    """A folder of class sub-folders; ``None`` writes a valid 8x8 PNG."""
    from PIL import Image

    for name, content in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        if content is None:
            Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(root / name)
        else:
            (root / name).write_bytes(content)
    return root


@pytest.mark.parametrize("files, needle", [
    ({"a/0.png": b"not an image", **{f"b/{i}.png": None for i in range(5)}}, "a/0.png' is not a readable image"),
    ({"a/notes.txt": b"text"}, "holds no class sub-folders of images"),
    ({}, "holds no class sub-folders of images"),
    ({"a/0.png": None}, "too few for the stratified 20% test split"),
    ({"a/0.png": None, "a/1.png": None, "b/0.png": None}, "the smallest has 1"),
])
def test_image_folders_that_cannot_be_read(tmp_path, files, needle):
    (tmp_path / "data").mkdir()
    with pytest.raises(ValueError, match=needle) as err:
        load_dataset("imagefolder", path=_image_folder(tmp_path / "data", files))
    assert "\n" not in str(err.value)


def _save(path, obj):
    torch.save(obj, path)
    return path


def _corrupt_dir(tmp_path):
    (tmp_path / "result.json").write_text("{half")
    (tmp_path / "metrics.jsonl").write_text('{"epoch": 1}\n{"epo')
    return tmp_path


@pytest.mark.parametrize("call, error, needle", API, ids=[f"api{i}" for i in range(len(API))])
def test_api(tmp_path, call, error, needle):
    with pytest.raises(error) as err:
        call(tmp_path)
    message = str(err.value)
    assert "\n" not in message and needle in message, message


def test_every_validator_accepts_numpy_and_tensor_scalars():
    assert validation.number("x", np.float32(0.5)) == 0.5 and validation.positive("x", torch.tensor(2.0)) == 2.0
    assert validation.integer("n", np.int64(3)) == 3 and validation.integer("n", torch.tensor(3)) == 3
    assert validation.unit_interval("q", np.float64(1.0)) == 1.0
    assert validation.device("device", "cpu") == torch.device("cpu")
    assert json.dumps(validation.at_least("p", 0)) == "0.0"


BENCHMARKS = [
    ("bench_loss.py", "--device tpu", "'tpu'"),
    ("bench_loss.py", "--batch 1", "--batch=1"),
    ("bench_train.py", "--rounds 0", "--rounds=0"),
    ("bench_train.py", "--objective hinge", "'hinge'"),
]


@pytest.mark.parametrize("script, flags, needle", BENCHMARKS, ids=[f"{s} {f}" for s, f, _ in BENCHMARKS])
def test_benchmark_cli(script, flags, needle):
    root = Path(__file__).resolve().parent.parent
    proc = subprocess.run([sys.executable, str(root / "benchmarks" / script), *flags.split()], capture_output=True,
                          text=True, cwd=root, timeout=120)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and needle in proc.stderr, proc.stderr
