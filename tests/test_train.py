"""The trainer: exact resume, SIGTERM, determinism, the schedule, bad input, and that DDP over two
gloo processes takes the step of one process on the same global batch."""

import json
import math
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from fmicl_core.config import TrainConfig, parser
from fmicl_core.features import RunFolder, load_features
from fmicl_core.methods import SplitBatchNorm
from fmicl_core.objective_config import ObjectiveConfig
from fmicl_core.train import _Run, _step_model, ensure_run, learning_rate, local_batch, main, train, training_step
from tiny_runs import assert_same_state, metrics, tiny, weights

ROOT = Path(__file__).resolve().parent.parent


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.mark.parametrize("method,objective,pipeline", [
    ("simclr", "kl", "batched"), ("moco", "js", "batched"), ("mocov3", "infonce", "batched"),
    ("simclr", "infonce", "torchvision")])
def test_resume_is_bit_identical(tmp_path, method, objective, pipeline):
    kw = dict(method=method, objective=objective, augment=pipeline, workers=0)
    straight = train(tiny(tmp_path, name="straight", **kw))
    train(tiny(tmp_path, name="split", stop_after=2, **kw))
    assert len(metrics(tmp_path / "split")) == 2
    resumed = train(tiny(tmp_path, name="split", resume=True, **kw))
    assert_same_state(weights(straight.run_dir), weights(resumed.run_dir))
    assert metrics(straight.run_dir) == metrics(resumed.run_dir)
    assert len(metrics(straight.run_dir)) == 4 and metrics(straight.run_dir)[-1]["knn"] is not None
    assert (straight.knn_acc, straight.linear_acc) == (resumed.knn_acc, resumed.linear_acc)
    assert (straight.random_knn_acc, straight.random_linear_acc) == (
        resumed.random_knn_acc, resumed.random_linear_acc)


def test_seed_repeats_and_changes(tmp_path):
    a = weights(train(tiny(tmp_path, name="a", epochs=1)).run_dir)
    b = weights(train(tiny(tmp_path, name="b", epochs=1)).run_dir)
    c = weights(train(tiny(tmp_path, name="c", epochs=1, seed=1)).run_dir)
    assert_same_state(a, b)
    assert not torch.equal(a["model"]["online.0.body.0.weight"], c["model"]["online.0.body.0.weight"])


def test_run_folder_contents(tmp_path):
    result = train(tiny(tmp_path, epochs=2))
    assert sorted(p.name for p in result.run_dir.iterdir()) == [
        ".lock", "checkpoint.pt", "config.json", "features.npz", "features_init.npz", "metrics.jsonl", "result.json"]
    stored = json.loads((result.run_dir / "config.json").read_text())
    assert stored["objective"]["name"] == "kl" and TrainConfig.from_dict(stored) == tiny(tmp_path, epochs=2)
    done = json.loads((result.run_dir / "result.json").read_text())
    assert (done["knn_acc"], done["random_knn_acc"]) == (result.knn_acc, result.random_knn_acc)
    initial, trained = (load_features(result.run_dir / f) for f in ("features_init.npz", "features.npz"))
    assert initial.train_projection.shape == trained.train_projection.shape
    assert not (initial.train_projection == trained.train_projection).all()
    lines = [json.loads(line) for line in (result.run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in lines] == [1, 2]
    for r in lines:
        assert set(r) == {"epoch", "loss", "estimate", "lr", "knn", "images_per_s", "seconds"}
        assert math.isfinite(r["loss"]) and math.isfinite(r["estimate"]) and r["images_per_s"] > 0
    assert 0 <= result.knn_acc <= 1 and 0 <= result.random_linear_acc <= 1


@pytest.mark.slow
def test_sigterm_saves_then_resume_finishes_identically(tmp_path):
    args = ["--dataset", "synthetic", "--synthetic-shape", "1,8,8", "--synthetic-size", "256",
            "--batch-size", "16", "--epochs", "3", "--proj-hidden", "32", "--proj-dim", "16",
            "--knn-every", "0", "--knn-k", "10", "--probe-iters", "5", "--n-pairs", "8",
            "--no-progress", "--device", "cpu", "--out-dir", str(tmp_path)]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "fmicl_core.train", *args, "--name", "killed"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    ckpt = tmp_path / "killed" / "checkpoint.pt"
    deadline = time.time() + 120
    while not ckpt.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, err
    assert "SIGTERM" in err and "--resume" in err
    state = weights(tmp_path / "killed")
    assert 0 < state["epoch"] * 16 + state["step"] < 3 * 16  # stopped mid-run, after a step
    main([*args, "--name", "killed", "--resume"])
    main([*args, "--name", "straight"])
    assert_same_state(weights(tmp_path / "killed"), weights(tmp_path / "straight"))
    assert metrics(tmp_path / "killed") == metrics(tmp_path / "straight")


def test_learning_rate_schedule(tmp_path):
    cfg = tiny(tmp_path, epochs=10, warmup_epochs=2, lr=0.4)
    lrs = [learning_rate(cfg, s, 5) for s in range(50)]
    assert lrs[0] == pytest.approx(0.04) and lrs[9] == pytest.approx(0.4)  # linear warm-up
    assert lrs[10] == pytest.approx(0.4) and lrs[30] == pytest.approx(0.2)  # cosine: half way
    assert 0 < lrs[-1] < 1e-3 and all(a >= b for a, b in zip(lrs[9:], lrs[10:]))


def test_local_batches_tile_the_global_batch():
    order = torch.randperm(100, generator=torch.Generator().manual_seed(0))
    for step in range(3):
        parts = [local_batch(order, step, 32, r, 4) for r in range(4)]
        assert torch.equal(torch.cat(parts), local_batch(order, step, 32, 0, 1))
        assert len(set(torch.cat(parts).tolist())) == 32


def test_split_batchnorm_normalises_each_group():
    bn = SplitBatchNorm(3, num_splits=2)
    x = torch.randn(8, 3, 2, 2) * 3 + 1
    y = bn(x)
    for g in (0, 1):  # sample i is in group i mod 2
        ref = torch.nn.functional.batch_norm(x[g::2], None, None, training=True, eps=bn.eps)
        torch.testing.assert_close(y[g::2], ref)
    means = (x[0::2].mean((0, 2, 3)) + x[1::2].mean((0, 2, 3))) / 2
    torch.testing.assert_close(bn.running_mean, 0.1 * means)  # momentum 0.1 from zero


@pytest.mark.parametrize("kw,match", [
    (dict(method="byol"), "unknown method 'byol'"),
    (dict(dataset="mnist"), "unknown dataset 'mnist'"),
    (dict(objective="hinge"), "unknown objective 'hinge'"),
    (dict(encoder="vit"), "unknown encoder 'vit'"),
    (dict(batch_size=128), "batch_size=128 is larger than the 64 training images"),
    (dict(method="moco", queue_size=40), "queue_size=40 is not a multiple of batch_size=16"),
    (dict(method="moco", objective="au"), "objective 'au' has no queue form"),
    (dict(lr=-1.0), "lr=-1.0"),
])
def test_bad_input_is_one_line_error(tmp_path, kw, match):
    with pytest.raises(ValueError, match=match) as err:
        train(tiny(tmp_path, **kw))
    assert "\n" not in str(err.value)


def test_resume_checks_config_and_folder(tmp_path):
    with pytest.raises(ValueError, match="holds no run"):
        train(tiny(tmp_path, resume=True))
    train(tiny(tmp_path, stop_after=1))
    with pytest.raises(ValueError, match="trained with objective.name='kl', this run has objective.name='js'"):
        train(tiny(tmp_path, objective="js", resume=True))
    (tmp_path / "file").write_text("")
    with pytest.raises(ValueError, match="is not writable"):
        train(tiny(tmp_path, out_dir=str(tmp_path / "file" / "sub")))


def test_ensure_run_trains_once_and_never_reuses_another_run(tmp_path):
    config = tiny(tmp_path, epochs=1)
    first = ensure_run(config)
    stamp = (first.run_dir / "checkpoint.pt").stat().st_mtime_ns
    again = ensure_run(config)  # read back, not trained again
    assert again == first and (first.run_dir / "checkpoint.pt").stat().st_mtime_ns == stamp
    with pytest.raises(ValueError, match="objective"):
        ensure_run(tiny(tmp_path, epochs=1, objective="js"))  # same folder, another run
    with pytest.raises(ValueError, match="epochs"):
        ensure_run(tiny(tmp_path, epochs=2))
    assert RunFolder(first.run_dir).read_json("config")["objective"]["name"] == "kl"


def test_ensure_run_continues_an_interrupted_run(tmp_path):
    train(tiny(tmp_path, name="split", stop_after=2))
    assert not RunFolder(tmp_path / "split").complete
    resumed = ensure_run(tiny(tmp_path, name="split"))
    straight = train(tiny(tmp_path, name="straight"))
    assert_same_state(weights(straight.run_dir), weights(resumed.run_dir))


def test_config_from_a_stored_dict_rejects_old_and_unknown_layouts():
    good = TrainConfig().to_dict()
    assert TrainConfig.from_dict(good) == TrainConfig()
    with pytest.raises(ValueError, match="objective='kl'"):
        TrainConfig.from_dict({**good, "objective": "kl"})
    with pytest.raises(ValueError, match="unknown setting 'alpha'"):
        TrainConfig.from_dict({**good, "alpha": 40.0})
    with pytest.raises(ValueError, match="'aplha'"):
        TrainConfig.from_dict({**good, "objective": {**good["objective"], "aplha": 1.0}})


def test_cli_help_documents_every_field(capsys):
    with pytest.raises(SystemExit):
        parser().parse_args(["--help"])
    text = capsys.readouterr().out
    for name in [*TrainConfig.__dataclass_fields__, *ObjectiveConfig.__dataclass_fields__]:
        flag = {"objective": None, "name": "--objective"}.get(name, "--" + name.replace("_", "-"))
        assert flag is None or flag in text, flag
    with pytest.raises(SystemExit):
        main(["--method", "byol"])
    assert "unknown method 'byol'" in capsys.readouterr().err


# --- DDP: two gloo ranks take the same step as one process on the global batch ---------------

DDP_CASES = {"simclr-kl": dict(method="simclr", objective="kl"),
             "moco-infonce": dict(method="moco", objective="infonce", temperature=0.2),
             "mocov3-js": dict(method="mocov3", objective="js")}


def global_views():
    g = torch.Generator().manual_seed(0)
    return torch.randn(2, 16, 1, 8, 8, generator=g, dtype=torch.float32).unbind(0)


def one_step(config: TrainConfig, rank: int, world: int):
    """Build the run, take one step on this rank's slice of the global views. BatchNorm runs in
    eval mode with running statistics set to those of the global batch (momentum 1), so that it
    is per-sample (the same on one rank and on two) and the embeddings are spread out."""
    run = _Run(config)
    x1, x2 = global_views()
    for module in run.model.modules():
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
            module.momentum = 1.0
    with torch.no_grad():
        run.model(x1, x2)
    run.model.eval()
    before = run.model.online[0].body[0].weight.detach().clone()
    rows = local_batch(torch.arange(16), 0, 16, rank, world)
    loss, _ = training_step(run, _step_model(run), x1[rows], x2[rows], lr=0.5, progress=0.1)
    assert not torch.equal(before, run.model.online[0].body[0].weight)  # the step moved the weights
    return loss, {k: v.detach().clone() for k, v in run.model.state_dict().items()}


def ddp_worker(rank, port, root, results):
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=2)
    for case, kw in DDP_CASES.items():
        loss, state = one_step(tiny(Path(root), name=f"{case}-{rank}", **kw), rank, 2)
        dist.all_reduce(loss)
        if rank == 0:
            results[case] = (loss / 2, state)
    dist.destroy_process_group()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_ddp_step_equals_one_process_on_the_global_batch(tmp_path):
    with mp.Manager() as manager:
        results = manager.dict()
        mp.spawn(ddp_worker, args=(free_port(), str(tmp_path), results), nprocs=2, join=True)
        results = dict(results)
    for case, kw in DDP_CASES.items():
        loss, state = one_step(tiny(tmp_path, name=case, **kw), 0, 1)
        d_loss, d_state = results[case]
        torch.testing.assert_close(d_loss, loss, rtol=1e-5, atol=1e-6)
        assert d_state.keys() == state.keys()
        for key, value in state.items():  # weights after the SGD step: the gradients agree
            torch.testing.assert_close(d_state[key], value, rtol=1e-4, atol=1e-6, msg=key)


@pytest.mark.slow
def test_mocov3_trains_a_vit_on_digits_with_adamw(tmp_path):
    """The ViT-Tiny encoder (2x2 patches of the 8x8 digits) under MoCo v3 with AdamW and warm-up."""
    config = tiny(tmp_path, dataset="digits", method="mocov3", encoder="vit_tiny", optimizer="adamw", lr=1e-3,
                  weight_decay=0.1, batch_size=128, epochs=3, warmup_epochs=1, knn_every=0, knn_k=20, n_pairs=64)
    result = train(config)
    losses = [r["loss"] for r in metrics(result.run_dir)]
    assert all(math.isfinite(v) for v in losses) and losses[-1] < losses[0]
    feats = load_features(result.run_dir / "features.npz")
    assert feats.train_encoder.shape == (1437, 192) and math.isfinite(result.linear_acc)
