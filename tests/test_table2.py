"""``python -m analysis.table2``: finished runs grouped into f-MICL Table 2's layout (objectives by
datasets), mean and sample sd over seeds beside the paper's number, and bad run folders refused in
one line."""

import json
import statistics

import pytest

from analysis import table2
from fmicl_core.config import TrainConfig
from fmicl_core.objective_config import ObjectiveConfig
from fmicl_core.outputs import save_json
from fmicl_core.train import train
from tiny_runs import tiny


def fake_run(folder, linear_acc, finished=True, objective="kl", hyper=(), **kw):
    """A run folder as the trainer leaves it: config.json and (when finished) result.json."""
    config = TrainConfig(objective=ObjectiveConfig(name=objective, **dict(hyper)), **kw)
    folder.mkdir(parents=True)
    save_json(folder / "config.json", config.to_dict())
    if finished:
        save_json(folder / "result.json", {"linear_acc": linear_acc, "knn_acc": 0.5})
    return folder


def test_cells_against_the_papers_numbers(tmp_path):
    runs = tmp_path / "runs"
    for seed, acc in enumerate([0.905, 0.910, 0.915]):
        fake_run(runs / f"kl-{seed}", acc, dataset="cifar10", seed=seed)
    for seed, acc in enumerate([0.80, 0.81]):
        fake_run(runs / f"moco-{seed}", acc, dataset="cifar10", method="moco", objective="infonce", seed=seed)
    fake_run(runs / "digits-kl", 0.98)
    out = table2.main([str(runs), "--out-dir", str(tmp_path)])
    cells = {(c["dataset"], c["label"]): c for c in out["cells"]}
    kl, moco, digits = cells["cifar10", "KL"], cells["cifar10", "MoCo"], cells["digits", "KL"]
    assert kl["mean"] == pytest.approx(91.0) and kl["sd"] == pytest.approx(0.5)  # ddof = 1
    assert kl["paper_mean"] == 90.61 and kl["difference"] == pytest.approx(0.39) and kl["verdict"] == "within"
    assert moco["sd"] == pytest.approx(statistics.stdev([80.0, 81.0])) and moco["verdict"] == "outside"
    assert digits["sd"] is None and digits["verdict"] == "no paper number"
    text = (tmp_path / "table2.md").read_text()
    assert text.splitlines()[0] == "| objective | CIFAR-10 | digits |"
    assert text.index("| MoCo |") < text.index("| KL |")  # Table 2's row order
    assert "| KL | 91.00 ± 0.50 (n=3); paper 90.61±.47; diff +0.39; within | 98.00 (n=1); no paper number |" in text
    assert text.rstrip().endswith("Linear probe: lbfgs.")
    assert json.loads((tmp_path / "table2.json").read_text())["numbers"]["markdown"] == text.rstrip("\n")


@pytest.mark.parametrize("ours_sd,verdict", [(0.2, "within"), (0.1, "outside"), (None, "outside")])
def test_within_means_inside_the_paper_sd_plus_ours(ours_sd, verdict):
    cell = table2.Cell("cifar10", "KL", "sgd", (0, 1), ("a", "b"), 90.61 - 0.6, ours_sd, 90.61, 0.47)  # |diff| 0.6
    assert cell.verdict == verdict


def test_labels_are_table_2_rows():
    assert [table2.table_label(*k) for k in [("moco", "infonce"), ("simclr", "infonce"), ("simclr", "au"),
                                             ("simclr", "sh"), ("mocov3", "kl")]] == [
        "MoCo", "SimCLR", "AU", "SH", "mocov3 kl"]


def _bad(tmp_path, case):
    runs = tmp_path / "runs"
    if case == "missing":
        return [str(tmp_path / "nowhere")], "nowhere"
    if case == "no runs":
        runs.mkdir()
        return [str(runs)], "neither a run folder"
    if case == "unfinished":
        fake_run(runs / "a", 0.9, seed=0)
        fake_run(runs / "b", 0.9, finished=False, seed=1)
        return [str(runs)], "b' is not finished"
    if case == "mixed":
        fake_run(runs / "a", 0.9, seed=0, lr=0.1)
        fake_run(runs / "b", 0.9, seed=1, lr=0.3)
        return [str(runs)], "differ in lr besides the seed (lr=0.1 in"
    if case == "mixed objective":
        fake_run(runs / "a", 0.9, seed=0)
        fake_run(runs / "b", 0.9, seed=1, hyper={"alpha": 1.0})
        return [str(runs)], "differ in objective.alpha besides the seed (objective.alpha=40.0 in"
    fake_run(runs / "a", 0.9, seed=0)
    fake_run(runs / "b", 0.9, seed=0, name="b")
    return [str(runs)], "repeat seed 0"


@pytest.mark.parametrize("case", ["missing", "no runs", "unfinished", "mixed", "mixed objective", "same seed"])
def test_bad_run_folders_are_one_line_errors(tmp_path, capsys, case):
    argv, expected = _bad(tmp_path, case)
    with pytest.raises(SystemExit) as exit_:
        table2.main([*argv, "--out-dir", str(tmp_path)])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and len(err.strip().splitlines()) == 1 and expected in err, err
    assert not (tmp_path / "table2.md").exists()


@pytest.mark.slow
@pytest.mark.usefixtures("one_torch_thread")
def test_table_of_trained_digits_runs(tmp_path):
    accs = {}
    for objective in ("infonce", "kl"):
        for seed in (0, 1):
            result = train(tiny(tmp_path / "runs", dataset="digits", objective=objective, seed=seed, epochs=1,
                                batch_size=128, knn_every=0, n_pairs=64, name=f"{objective}-s{seed}"))
            accs.setdefault(objective, []).append(100 * result.linear_acc)
    out = table2.main([str(tmp_path / "runs"), "--out-dir", str(tmp_path)])
    cells = {c["label"]: c for c in out["cells"]}
    assert list(cells) == ["SimCLR", "KL"]
    for label, objective in (("SimCLR", "infonce"), ("KL", "kl")):
        assert cells[label]["mean"] == pytest.approx(statistics.fmean(accs[objective]))
        assert cells[label]["sd"] == pytest.approx(statistics.stdev(accs[objective]))
        assert cells[label]["seeds"] == [0, 1] and cells[label]["verdict"] == "no paper number"
