"""Trainer runs compared: mean, sample sd and Student-t interval per objective or alpha; the
comparison and the training-curves commands on real (tiny) runs, reused when their folders already
hold them, and the steps of a run read from its metrics."""

import json
import math

import pytest

from analysis import training_comparison, training_curves
from analysis.training.comparison import RunSummary, summarise


def run(obj, seed, alpha, knn, linear):
    return RunSummary(obj, seed, alpha, 128, 22, knn, linear, 0.1, 0.2, 1.0)


def test_mean_sample_sd_and_t_interval_per_group():
    runs = [run("kl", 0, 40, 0.8, 0.9), run("kl", 1, 40, 0.6, 0.7), run("js", 0, 1, 0.5, 0.5)]
    table = summarise(runs)
    assert list(table) == ["kl", "js"]
    assert table["kl"]["knn"] == pytest.approx((0.7, math.sqrt(0.02)))
    half = 12.706204736174694 * math.sqrt(0.02) / math.sqrt(2)  # Student-t 0.975 quantile, 1 degree of freedom
    assert table["kl"]["knn_ci95"] == pytest.approx((0.7 - half, 0.7 + half))
    assert table["kl"]["n"] == 2 and math.isnan(table["js"]["knn"][1]) and math.isnan(table["js"]["knn_ci95"][0])
    by_alpha = summarise(runs, key="alpha")
    assert by_alpha[1]["linear"][0] == 0.5


@pytest.mark.slow
@pytest.mark.usefixtures("one_torch_thread")
def test_commands_on_a_real_run(tmp_path):
    flags = ["--objectives", "kl", "--epochs", "1", "--runs-dir", str(tmp_path / "runs"), "--out-dir", str(tmp_path)]
    first = training_comparison.main(flags)
    run_dir = tmp_path / "runs" / "cmp-kl-s0"
    stamp = (run_dir / "result.json").stat().st_mtime_ns
    again = training_comparison.main(flags)  # the run folder holds the run: read, not trained again
    assert (run_dir / "result.json").stat().st_mtime_ns == stamp and again["table"] == first["table"]
    assert 0 < first["table"]["kl"]["knn"][0] <= 1
    assert first["runs"][0]["steps"] == 1437 // 128  # one epoch of the digits, read from metrics.jsonl
    curves = training_curves.main([str(run_dir), "--out-dir", str(tmp_path)])
    assert [r["epoch"] for r in curves["epochs"]] == [1] and (tmp_path / "training_curves.png").is_file()
    assert json.loads((tmp_path / "training_curves.json").read_text())["numbers"]["result"]["knn_acc"] == \
        pytest.approx(first["table"]["kl"]["knn"][0])
