"""Fair batch-size comparisons (f-MICL Figure 4 right; Lu et al. 2023, arXiv:2402.10150): every
batch size makes the same number of optimisation steps (or sees the same images with the learning
rate scaled by N/256), each cell is a Student-t interval over seeds, and "f beats InfoNCE at N" is
judged by the interval of the difference paired by seed."""

import math
import re
from dataclasses import replace

import pytest

from analysis import batch_size as command
from analysis.estimation.batch_size import SHORT_RUN, batch_size_study, schedules, versus
from analysis.training.comparison import RunSummary, difference, t_interval
from tiny_runs import tiny

T_975 = {2: 4.302652729749462, 1: 12.706204736174694}  # Student-t 0.975 quantiles, 2 and 1 degrees of freedom


def test_t_interval_on_a_known_case():
    mean, low, high = t_interval([1.0, 2.0, 3.0])  # s = 1, n = 3
    assert mean == 2.0 and (low, high) == pytest.approx((2 - T_975[2] / math.sqrt(3), 2 + T_975[2] / math.sqrt(3)))
    assert t_interval([0.0, 2.0]) == pytest.approx((1.0, 1 - T_975[1], 1 + T_975[1]))  # s = sqrt(2), n = 2
    assert t_interval([0.5, 0.5, 0.5]) == (0.5, 0.5, 0.5)
    for bad, named in (([0.7], "values=[0.7]"), ([0.1, math.nan], "values=nan")):
        with pytest.raises(ValueError, match=re.escape(named)):
            t_interval(bad)


def summary(objective, seed, knn, alpha=40.0):
    return RunSummary(objective, seed, alpha, 64, 22, knn, knn, 0.5, 0.5, 1.0)


def test_difference_is_paired_by_seed():
    runs = [summary("kl", s, v) for s, v in ((0, 0.99), (1, 0.5), (2, 0.61))]
    runs += [summary("infonce", s, v) for s, v in ((2, 0.4), (0, 0.8), (1, 0.3))]  # differences 0.19, 0.2, 0.21
    mean, low, high = difference(runs, "objective", "kl", "infonce")
    half = T_975[2] * 0.01 / math.sqrt(3)
    assert (mean, low, high) == pytest.approx((0.2, 0.2 - half, 0.2 + half))
    # unpaired, the seeds' spread (sd 0.25 per arm) would swamp the 0.2 difference; paired, it is clear of 0
    assert low > 0
    with pytest.raises(ValueError, match=re.escape("objective='kl' has seeds [0, 1, 2] and objective='js' has seeds []")):
        difference(runs, "objective", "kl", "js")
    with pytest.raises(ValueError, match="unknown metric 'top5'"):
        difference(runs, "objective", "kl", "infonce", "top5")


def test_equal_steps_plan_on_digits():
    plans = schedules(SHORT_RUN, [32, 128, 512])  # 44, 11 and 2 steps per epoch on 1,437 images
    assert {n: c.epochs for n, c in plans.items()} == {32: 1, 128: 4, 512: 22}
    assert {n: c.epochs * (1437 // n) for n, c in plans.items()} == {32: 44, 128: 44, 512: 44}
    share = SHORT_RUN.warmup_epochs / SHORT_RUN.epochs
    assert all(c.warmup_epochs / c.epochs == pytest.approx(share) and c.lr == SHORT_RUN.lr for c in plans.values())
    assert schedules(SHORT_RUN, [64, 256], steps=220)[256].epochs == 44
    samples = schedules(SHORT_RUN, [64, 512], budget="samples")
    assert [(c.epochs, c.lr) for c in samples.values()] == [(3, SHORT_RUN.lr / 4), (3, SHORT_RUN.lr * 2)]


@pytest.mark.parametrize("call, named", [
    (lambda: schedules(SHORT_RUN, [32, 128], steps=50), "steps=50 is not a whole number of epochs at batch size 32"),
    (lambda: schedules(SHORT_RUN, [32, 128], steps=0), "steps=0"),
    (lambda: schedules(SHORT_RUN, [2048]), "batch_size=2048 is larger than the 1437"),
    (lambda: schedules(SHORT_RUN, [32], budget="epochs"), "unknown budget 'epochs'"),
    (lambda: schedules(SHORT_RUN, [32], budget="samples", steps=44), "steps=44 does not apply"),
    (lambda: schedules(replace(SHORT_RUN, dataset="imagefolder"), [32]), "dataset 'imagefolder'"),
    (lambda: batch_size_study(("kl",), (32, 64), SHORT_RUN, "unused", seeds=(0,)), "seeds=[0]"),
    (lambda: batch_size_study(("kl",), (32, 64), SHORT_RUN, "unused", seeds=(0, 0, 1)), "seeds=[0, 0, 1]"),
    (lambda: batch_size_study(("kl",), (32, 64), SHORT_RUN, "unused", seeds=(0, -1)), "seed=-1"),
    (lambda: versus({"kl": {}}), "reference='infonce' was not run"),
])
def test_bad_plans_are_one_line_errors(call, named):
    with pytest.raises(ValueError) as err:
        call()
    assert named in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize("flags, named", [
    ("--budget epochs", "'epochs'"),
    ("--repeats 1", "--repeats=1"),
    ("--steps 0", "--steps=0"),
    ("--steps 50", "steps=50"),
    ("--budget samples --steps 44", "steps=44"),
])
def test_cli_bad_flags(flags, named, capsys):
    with pytest.raises(SystemExit) as exit_:
        command.main(flags.split())
    err = capsys.readouterr().err.strip()
    assert exit_.value.code == 2 and named in err and len(err.splitlines()) == 1


def test_versus_judges_each_batch_size_by_the_paired_interval():
    results = {"random init": {"knn_acc": 0.1},
               "infonce": {"batch_size": [32, 64], "knn_by_seed": [[0.50, 0.60, 0.55], [0.6, 0.6, 0.6]]},
               "kl": {"batch_size": [32, 64], "knn_by_seed": [[0.52, 0.62, 0.57], [0.7, 0.5, 0.6]]}}
    kl = versus(results)["kl"]
    assert kl["difference"] == pytest.approx([0.02, 0.0]) and kl["above"] == [True, False]
    assert kl["ci95"][0] == pytest.approx([0.02, 0.02])  # the same gain on every seed: no spread
    assert kl["ci95"][1] == pytest.approx([-T_975[2] * 0.1 / math.sqrt(3), T_975[2] * 0.1 / math.sqrt(3)])


@pytest.mark.slow
@pytest.mark.usefixtures("one_torch_thread")
def test_every_batch_size_makes_the_same_number_of_steps(tmp_path):
    base = tiny(tmp_path, epochs=2, warmup_epochs=1, knn_every=0)  # 64 images: 8 steps per epoch at N=8, 2 at 32
    study = batch_size_study(("infonce", "kl"), (8, 32), base, tmp_path, seeds=(0, 1))
    for obj in ("infonce", "kl"):
        assert study[obj]["steps"] == [8, 8] and study[obj]["epochs"] == [1, 4]  # read from the runs' metrics
        assert all(low <= mean <= high for mean, (low, high) in zip(study[obj]["knn_acc"], study[obj]["knn_ci95"]))
    assert set(versus(study)["kl"]) == {"batch_size", "difference", "ci95", "above"}


def test_cli_prints_cells_with_intervals_and_the_verdicts(tmp_path, monkeypatch, capsys):
    def study(objectives, batch_sizes, base, folder, seeds, budget, steps):
        assert (seeds, budget, steps) == ((0, 1, 2), "steps", None)
        cell = {"batch_size": list(batch_sizes), "steps": [44] * len(batch_sizes)}
        return {"random init": {"knn_acc": 0.8},
                "infonce": {**cell, "knn_acc": [0.9, 0.9], "knn_ci95": [[0.88, 0.92]] * 2,
                            "knn_by_seed": [[0.9, 0.91, 0.89]] * 2},
                "kl": {**cell, "knn_acc": [0.95, 0.9], "knn_ci95": [[0.94, 0.96], [0.88, 0.92]],
                       "knn_by_seed": [[0.95, 0.96, 0.94], [0.9, 0.9, 0.9]]}}

    monkeypatch.setattr(command, "batch_size_study", study)
    numbers = command.main(["--objectives", "infonce", "kl", "--batch-sizes", "32", "128", "--out-dir", str(tmp_path)])
    out = capsys.readouterr().out
    assert "N=32 (44 steps): 0.950 [0.940, 0.960]" in out
    assert "kl - infonce: N=32: +0.050 [+0.050, +0.050] beats  N=128: +0.000 [-0.025, +0.025]\n" in out
    assert numbers["versus_infonce"]["kl"]["above"] == [True, False] and (tmp_path / "batch_size.png").is_file()
