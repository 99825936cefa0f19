"""A user's run is never lost or silently reused: a reused --name is refused, --overwrite and
--resume say what they do, a second process on the same run folder is refused at once, a resumed
run records what ran, a diverging run says where, and files are written the way the user expects
(umask, no stray temporaries)."""

import hashlib
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from fmicl_core import checkpoint, outputs
from fmicl_core.features import RunFolder, load_features
from fmicl_core.train import TrainingDiverged, _StopFlag, ensure_run, learning_rate, main, train
from tiny_runs import assert_same_state, metrics, tiny

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.usefixtures("one_torch_thread")


def fingerprint(folder: Path) -> dict:
    """Every file of a folder with the hash of its bytes."""
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()}


def current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def cli_args(tmp_path, name="run", *extra):
    return ["--dataset", "synthetic", "--synthetic-shape", "1,8,8", "--synthetic-size", "64", "--batch-size", "16",
            "--epochs", "2", "--warmup-epochs", "1", "--proj-hidden", "32", "--proj-dim", "16", "--knn-k", "10",
            "--probe-iters", "5", "--n-pairs", "8", "--no-progress", "--device", "cpu", "--out-dir", str(tmp_path),
            "--name", name, *extra]


def one_line_exit(capsys, argv, *needles):
    """The CLI exits with code 2 and one line on stderr naming every needle."""
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    for needle in needles:
        assert needle in err, err
    return err


def test_reusing_a_name_never_touches_the_earlier_run(tmp_path, capsys):
    main(cli_args(tmp_path))
    before = fingerprint(tmp_path / "run")
    one_line_exit(capsys, cli_args(tmp_path, "run", "--objective", "js"), "already holds a run",
                  "kl on synthetic, 2 epochs, complete", "--resume", "--overwrite")
    with pytest.raises(ValueError, match="already holds a run"):  # also when the earlier run is unfinished
        train(tiny(tmp_path, name="half", stop_after=1))
        train(tiny(tmp_path, name="half", objective="js"))
    assert fingerprint(tmp_path / "run") == before
    assert load_features(tmp_path / "run" / "features.npz").config["objective"]["name"] == "kl"


def test_overwrite_replaces_every_file_of_the_run(tmp_path):
    train(tiny(tmp_path, epochs=2))
    result = train(tiny(tmp_path, epochs=1, objective="js", overwrite=True))
    folder = RunFolder(result.run_dir)
    assert folder.read_json("config")["objective"]["name"] == "js"
    assert load_features(folder.features).config["objective"]["name"] == "js"
    assert [r["epoch"] for r in folder.read_metrics()] == [1]
    assert checkpoint.load(folder.checkpoint)["config"]["objective"]["name"] == "js"
    with pytest.raises(ValueError, match="resume=True and overwrite=True contradict"):
        train(tiny(tmp_path, resume=True, overwrite=True))


def test_a_second_process_on_the_same_run_folder_is_refused_at_once(tmp_path, capsys):
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import sys, time
        from fmicl_core.features import RunFolder
        with RunFolder({str(tmp_path / 'run')!r}).lock():
            print("locked", flush=True)
            sys.stdin.read()
        """)], cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        one_line_exit(capsys, cli_args(tmp_path), "is in use by another running process")
        with pytest.raises(ValueError, match="in use"):
            ensure_run(tiny(tmp_path))
        assert RunFolder(tmp_path / "run").run_files() == []
    finally:
        holder.communicate("", timeout=30)
    train(tiny(tmp_path, epochs=1))  # the lock died with its process


def test_resume_refuses_another_epoch_count_and_a_finished_run(tmp_path, capsys):
    train(tiny(tmp_path, epochs=4, stop_after=2))
    with pytest.raises(ValueError, match="trained with epochs=4, this run has epochs=6"):
        train(tiny(tmp_path, epochs=6, resume=True))
    finished = train(tiny(tmp_path, epochs=4, resume=True))
    before = fingerprint(finished.run_dir)
    for epochs in ("2", "4"):
        one_line_exit(capsys, [*cli_args(tmp_path), "--epochs", epochs, "--resume"], "holds a complete run",
                      "4 epochs", "nothing to resume")
    assert fingerprint(finished.run_dir) == before
    assert RunFolder(finished.run_dir).read_json("config")["epochs"] == 4
    with pytest.raises(ValueError, match="epochs"):
        ensure_run(tiny(tmp_path, epochs=6))


def test_a_run_killed_before_its_first_checkpoint_is_started_again(tmp_path):
    folder = RunFolder(tmp_path / "run")
    outputs.save_json(folder.config, tiny(tmp_path).to_dict())  # config.json is the first file written
    with pytest.raises(ValueError, match="already holds a run .*unfinished"):
        train(tiny(tmp_path))
    with pytest.raises(ValueError, match="epochs=4, this run has epochs=3"):
        train(tiny(tmp_path, epochs=3, resume=True))
    result = ensure_run(tiny(tmp_path))
    assert folder.complete and result.run_dir == folder.path
    outputs.save_json(RunFolder(tmp_path / "cli").config, tiny(tmp_path, name="cli").to_dict())
    assert train(tiny(tmp_path, name="cli", resume=True)).knn_acc == result.knn_acc


@pytest.mark.slow
def test_sigkill_at_random_moments_then_resume_is_bit_identical(tmp_path):
    args = ["--dataset", "synthetic", "--synthetic-shape", "1,8,8", "--synthetic-size", "256", "--batch-size", "16",
            "--epochs", "4", "--proj-hidden", "32", "--proj-dim", "16", "--knn-every", "0", "--knn-k", "10",
            "--probe-iters", "5", "--n-pairs", "8", "--no-progress", "--device", "cpu", "--out-dir", str(tmp_path)]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "fmicl_core.train", *args, "--name", "killed"]
    rng, kills, folder = np.random.default_rng(0), 0, RunFolder(tmp_path / "killed")
    while not folder.complete and kills < 5:  # each kill lands at a random moment after the run has started
        resume = ["--resume"] if folder.config.exists() else []
        proc = subprocess.Popen(command + resume, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        while proc.poll() is None and not folder.config.exists():
            time.sleep(0.02)
        try:
            proc.wait(timeout=float(rng.uniform(0.0, 2.0)))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            kills += 1
    if not folder.complete:
        subprocess.run(command + ["--resume"], env=env, check=True, stdout=subprocess.DEVNULL)
    main([*args, "--name", "straight"])
    assert kills >= 1
    assert_same_state(checkpoint.load(tmp_path / "killed" / "checkpoint.pt"),
                      checkpoint.load(tmp_path / "straight" / "checkpoint.pt"))
    assert metrics(tmp_path / "killed") == metrics(tmp_path / "straight")
    assert not list((tmp_path / "killed").glob(".*.tmp"))


@pytest.mark.parametrize("name", ["", "../x", "a/b", "..", ".hidden", "/abs", "-flag", "a b", "x\\y"])
def test_run_names_are_folder_names(tmp_path, name):
    with pytest.raises(ValueError, match="name=") as err:
        train(tiny(tmp_path, name=name))
    assert repr(name) in str(err.value)
    assert list(tmp_path.iterdir()) == []


def test_unknown_or_missing_devices_are_one_line_errors(tmp_path, capsys):
    one_line_exit(capsys, [*cli_args(tmp_path), "--device", "tpu"], "'tpu'", "cpu, cuda")
    if not torch.cuda.is_available():
        one_line_exit(capsys, [*cli_args(tmp_path), "--device", "cuda"], "'cuda'", "no CUDA GPU")
        one_line_exit(capsys, [*cli_args(tmp_path), "--device", "cuda:3"], "'cuda:3'")


def test_a_diverging_run_says_where_and_writes_no_result(tmp_path, capsys):
    one_line_exit(capsys, [*cli_args(tmp_path, "diverged"), "--lr", "1e30"], "training diverged at epoch 1, step ",
                  "lr", "no checkpoint was written", "lower --lr")
    with pytest.raises(TrainingDiverged, match=r"training diverged at epoch 1, step \d+"):
        train(tiny(tmp_path, name="again", lr=1e30))
    folder = RunFolder(tmp_path / "again")
    assert not folder.complete and not folder.features.exists() and not folder.checkpoint.exists()


def test_sigterm_after_an_epochs_last_step_records_that_steps_learning_rate(tmp_path, monkeypatch):
    calls = []

    def stop_after_fourth_step(self, device):  # 4 steps per epoch: the signal lands on epoch 1's last step
        calls.append(1)
        return len(calls) == 4

    straight = train(tiny(tmp_path, name="straight"))
    with monkeypatch.context() as patch:
        patch.setattr(_StopFlag, "stop", stop_after_fourth_step)
        with pytest.raises(RuntimeError, match="stopped by SIGTERM at epoch 1, step 4"):
            train(tiny(tmp_path, name="split"))
    train(tiny(tmp_path, name="split", resume=True))
    assert metrics(tmp_path / "split") == metrics(straight.run_dir)
    config = tiny(tmp_path)
    assert [r["lr"] for r in metrics(straight.run_dir)] == [learning_rate(config, 4 * e - 1, 4) for e in (1, 2, 3, 4)]


def test_a_checkpoint_that_does_not_fit_is_a_one_line_error(tmp_path):
    train(tiny(tmp_path, epochs=2, stop_after=1))
    path = tmp_path / "run" / "checkpoint.pt"
    state = checkpoint.load(path)
    checkpoint.save(path, {k: v for k, v in state.items() if k != "optimizer"})
    with pytest.raises(ValueError, match="lacks 'optimizer'"):
        train(tiny(tmp_path, epochs=2, resume=True))
    key = next(iter(state["model"]))
    checkpoint.save(path, {**state, "model": {**state["model"], key: torch.zeros(3)}})
    with pytest.raises(ValueError, match=f"stored model does not fit .*{key}") as err:
        train(tiny(tmp_path, epochs=2, resume=True))
    assert "\n" not in str(err.value)
    checkpoint.save(path, {**state, "model": {k: v for k, v in state["model"].items() if k != key}})
    with pytest.raises(ValueError, match=f"Missing key.*{key}"):
        train(tiny(tmp_path, epochs=2, resume=True))


def test_written_files_follow_the_umask_and_killed_writers_leave_nothing(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stray = tmp_path / f".metrics.jsonl.{int(dead.stdout)}.abc123.tmp"
    stray.write_text("half a line")
    mine = tmp_path / f".other.{os.getpid()}.xyz.tmp"  # this process's own: being written, kept
    mine.write_text("")
    outputs.save_json(tmp_path / "numbers.json", {"a": 1})
    code = f"from fmicl_core.outputs import save_json; save_json({str(tmp_path / 'umask.json')!r}, {{}})"
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, preexec_fn=lambda: os.umask(0o027))
    assert (tmp_path / "umask.json").stat().st_mode & 0o777 == 0o640
    assert (tmp_path / "numbers.json").stat().st_mode & 0o777 == 0o666 & ~current_umask()
    assert not stray.exists() and mine.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == [mine.name, "numbers.json", "umask.json"]
