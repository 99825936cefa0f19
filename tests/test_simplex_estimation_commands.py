"""The commands of f-MICL's Theorem 3 and Figures 4 and 5 (python -m analysis.uniformity,
python -m analysis.collapse) and of its Theorem 4 and Figure 4 right (python -m
analysis.estimation_error, python -m analysis.batch_size) (Lu et al. 2023, arXiv:2402.10150):
figure and numbers written, bad flags a one-line usage error (exit 2) that writes nothing."""

import json

import pytest

from analysis import batch_size, collapse, estimation_error, uniformity

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


@pytest.mark.parametrize("command,argv,message", [
    (uniformity, ["--sizes", "4y3"], "--sizes"),
    (uniformity, ["--divergences", "kld"], "unknown divergence 'kld'"),
    (uniformity, ["--c", "-1"], "c=-1.0"),
    (uniformity, ["--max-iter", "0"], "max_iter=0"),
    (collapse, ["--objectives", "kld"], "unknown objective 'kld'"),
    (collapse, ["--dataset", "mnist9"], "unknown dataset 'mnist9'"),
    (collapse, ["--batch-size", "0"], "batch_size=0"),
    (estimation_error, ["--max-n", "4"], "max_n=4"),
    (estimation_error, ["--kappa", "-1"], "kappa=-1.0"),
    (estimation_error, ["--delta", "1.5"], "delta=1.5"),
    (estimation_error, ["--divergences", "kld"], "unknown divergence 'kld'"),
    (estimation_error, ["--reps", "2"], "reps=2"),
    (batch_size, ["--objectives", "kld"], "unknown objective 'kld'"),
    (batch_size, ["--batch-sizes", "0"], "batch_size=0"),
    (batch_size, ["--epochs", "0"], "epochs=0"),
], ids=lambda v: " ".join(v) if isinstance(v, list) else None)
def test_bad_flag_is_a_one_line_usage_error(command, argv, message, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        command.main([*argv, "--out-dir", str(tmp_path)])
    assert exit_.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert message in err[-1] and err[-1].startswith(f"{command.COMMAND.prog}: error:")
    assert not list(tmp_path.iterdir())
