"""The paper's settings live in one table: the README's GPU commands are its rendering, every
command parses into a valid trainer config with the values the table states, and the objective
defaults are the table's."""

import re
import shlex
from pathlib import Path

import pytest

from fmicl_core import paper_settings
from fmicl_core.config import from_args
from fmicl_core.objective_config import DEFAULTS

README = Path(__file__).resolve().parent.parent / "README.md"


def test_readme_block_is_the_rendered_table():
    text = README.read_text()
    block = re.search(r"<!-- paper-commands: begin -->\n```bash\n(.*?)\n```\n<!-- paper-commands: end -->", text, re.S)
    assert block, "README lacks the paper-commands block"
    assert block.group(1) == paper_settings.render(), "README differs: paste python -m fmicl_core.paper_settings"


ALL_RUNS = paper_settings.runs(datasets=tuple(paper_settings.DATASET_FLAGS))
ENCODERS = {"cifar10": "resnet18", "cifar100": "resnet18", "stl10": "resnet50", "tinyimagenet": "resnet50"}


@pytest.mark.parametrize("run", ALL_RUNS, ids=lambda r: r.label)
def test_every_paper_run_is_a_valid_config_with_the_tables_values(run):
    config = from_args(shlex.split(run.flags))
    table = paper_settings.TABLE7[paper_settings.DATASET_FLAGS[config.dataset]["table7"]]
    assert (config.encoder, config.batch_size, config.proj_dim, config.lr, config.knn_k) == (
        ENCODERS[config.dataset], table["batch_size"], table["proj_dim"], table["lr"], table["knn_k"])
    assert config.objective.c == pytest.approx(table["c"], rel=1e-3) and config.objective.mu == 1.0
    assert (config.proj_layers, config.probe, config.unlabeled) == (3, "sgd", config.dataset == "stl10")
    if run.label.startswith("alpha ablation"):
        assert config.epochs == paper_settings.ALPHA_ABLATION_EPOCHS
        assert config.objective.alpha in paper_settings.ALPHA_ABLATION[config.objective.name]
    else:
        assert config.epochs == table["epochs"] and config.objective.alpha == table["alpha"]
    if config.method == "moco":
        moco = paper_settings.MOCO
        assert (config.objective.temperature, config.moco_momentum, config.queue_size) == (
            moco["temperature"], moco["moco_momentum"], moco["queue_size"])


def test_table_2_runs_every_row_on_every_dataset_with_the_papers_numbers():
    table2 = [r for r in ALL_RUNS if r.label.startswith("Table 2")]
    assert len(table2) == len(paper_settings.DATASET_FLAGS) * len(paper_settings.TABLE2_ROWS)
    assert {r.label: r.paper for r in table2}["Table 2 STL-10 JS"] == "85.94±.17"
    assert {r.paper for r in table2 if "CIFAR-100" in r.label} == {"no paper number"}
    assert paper_settings.TABLE2_CIFAR10["KL"] == ("simclr", "kl", "", "90.61±.47")


def test_rendered_commands_are_the_runs_over_three_seeds():
    text = paper_settings.render()
    assert paper_settings.SEEDS == (0, 1, 2) and text.count("for s in 0 1 2; do") == 4 + 2
    for dataset in paper_settings.DATASET_FLAGS:
        variable = re.search(rf'^(\w+)="{re.escape(paper_settings.dataset_flags(dataset))}"$', text, re.M)
        assert variable, dataset
        for run in paper_settings.runs(datasets=(dataset,)):
            if run.label.startswith("Table 2"):
                rest = run.flags[len(paper_settings.dataset_flags(dataset)):].rsplit(" --seed", 1)[0].strip()
                number = run.paper if run.paper == "no paper number" else f"paper {run.paper}"
                assert f"${variable.group(1)} {rest} --seed $s   # {run.label.split()[-1]}: {number}" in text


def test_every_mocov3_command_uses_its_papers_predictor():
    lines = [line for line in paper_settings.render().splitlines() if "--method mocov3" in line]
    assert lines
    for line in lines:
        command = line.split("fmicl_core.train", 1)[1].split("; done")[0]
        config = from_args(shlex.split(command.replace("$C", paper_settings.cifar10_flags()).replace("$o", "kl")))
        assert (config.pred_hidden, config.proj_layers) == (paper_settings.MOCO_V3["pred_hidden"], 3)


def test_objective_defaults_are_the_table_7_values():
    table = paper_settings.TABLE7["cifar10"]
    assert DEFAULTS.c == pytest.approx(table["c"]) and DEFAULTS.alpha == table["alpha"]


def test_help_shows_the_tables_values(capsys):
    from fmicl_core.config import parser

    with pytest.raises(SystemExit):
        parser().parse_args(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    for note in paper_settings.help_notes().values():
        assert f"(paper: {note})" in text, note
    assert f"MoCo on CIFAR: {paper_settings.MOCO['queue_size']}" in text
