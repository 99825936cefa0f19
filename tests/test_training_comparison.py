"""Summaries of the training comparison: mean and sample sd per objective or alpha."""

import math

import pytest

from analysis.training_comparison import RunSummary, summarise


def run(obj, seed, alpha, knn, linear):
    return RunSummary(obj, seed, alpha, knn, linear, 0.1, 0.2, 1.0)


def test_mean_and_sample_sd_per_group():
    runs = [run("kl", 0, 40, 0.8, 0.9), run("kl", 1, 40, 0.6, 0.7), run("js", 0, 1, 0.5, 0.5)]
    table = summarise(runs)
    assert list(table) == ["kl", "js"]
    assert table["kl"]["knn"] == pytest.approx((0.7, math.sqrt(0.02)))
    assert table["kl"]["n"] == 2 and math.isnan(table["js"]["knn"][1])
    by_alpha = summarise(runs, key="alpha")
    assert by_alpha[1]["linear"][0] == 0.5
