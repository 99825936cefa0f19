"""The commands of f-MICL's Theorem 3 and Figures 4 and 5 (python -m analysis.uniformity,
python -m analysis.collapse) and of its Theorem 4 and Figure 4 right (python -m
analysis.estimation_error, python -m analysis.batch_size) (Lu et al. 2023, arXiv:2402.10150):
figure and numbers written (their bad flags, and those of analysis.collapse and analysis.batch_size,
are in tests/test_bad_inputs_cli.py)."""

import json

import pytest

from analysis import estimation_error, uniformity

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_uniformity_command_writes_figure_and_numbers(tmp_path, capsys):
    numbers = uniformity.main(["--sizes", "4x3", "--divergences", "kl", "rkl", "--max-iter", "200",
                               "--out-dir", str(tmp_path)])
    assert numbers["kl_N4_d3"]["is_simplex"] and numbers["rkl_N4_d3"]["gap"] == pytest.approx(0.0, abs=1e-9)
    assert (tmp_path / "uniformity_simplex.png").is_file()
    stored = json.loads((tmp_path / "uniformity_simplex.json").read_text())
    assert stored["config"]["divergences"] == ["kl", "rkl"]
    assert "kl     " in capsys.readouterr().out


def test_estimation_error_command_writes_figure_and_numbers(tmp_path, capsys):
    numbers = estimation_error.main(["--max-n", "32", "--reps", "10", "--mc-samples", "1000",
                                     "--divergences", "kl", "js", "--out-dir", str(tmp_path)])
    assert numbers["ns"] == [8, 16, 32] and set(numbers["slope"]) == {"kl", "js"}
    assert (tmp_path / "estimation_error.png").is_file()
    stored = json.loads((tmp_path / "estimation_error.json").read_text())
    assert stored["config"]["max_n"] == 32
    assert "vMF coupling d=3" in capsys.readouterr().out
