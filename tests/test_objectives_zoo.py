"""The objectives zoo: Figure 3's identities hold to rounding and the Jensen gap is positive; the
command writes its figure (its bad flags are in tests/test_bad_inputs_cli.py)."""

import json

from analysis import objectives_zoo
from analysis.zoo.curves import cosine_vs_gaussian, special_case_residuals, term_curves


def test_identities_and_jensen_gap():
    cases = special_case_residuals(batches=10)
    assert cases.kl_is_alignment_plus_unlogged_uniformity < 1e-10
    assert cases.dv_kl_is_alignment_uniformity < 1e-10
    assert cases.pearson_is_spectral < 1e-10
    assert cases.infonce_minus_dv_min_gap > 0


def test_curves_and_domains():
    curves = term_curves()
    assert set(curves) == {"kl", "js", "pearson", "sh", "tsallis", "vlc", "rkl", "neyman"}
    assert abs(curves["kl"]["B"][0] - 1.0) < 1e-12  # B_KL(0) = mu
    outside = {n: v["raw_outside_domain"] for n, v in cosine_vs_gaussian(0.5).items()}
    assert outside["kl"] == 0.0 and outside["vlc"] > 0.2  # cos/tau >= 1 for cos >= 0.5


def test_command_writes_figure_and_numbers(tmp_path):
    numbers = objectives_zoo.main(["--batches", "3", "--out-dir", str(tmp_path)])
    stored = json.loads((tmp_path / "objectives_zoo.json").read_text())
    assert (tmp_path / "objectives_zoo.png").is_file() and stored["config"]["batches"] == 3
    assert stored["numbers"]["special_cases"]["batches"] == 3 == numbers["special_cases"]["batches"]
