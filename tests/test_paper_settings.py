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


@pytest.mark.parametrize("run", paper_settings.runs(), ids=lambda r: r.label)
def test_every_paper_run_is_a_valid_config_with_the_tables_values(run):
    config = from_args(shlex.split(run.flags))
    table = paper_settings.TABLE7["cifar10"]
    assert (config.dataset, config.batch_size, config.proj_dim, config.lr, config.knn_k) == (
        "cifar10", table["batch_size"], table["proj_dim"], table["lr"], table["knn_k"])
    assert config.objective.c == pytest.approx(table["c"], rel=1e-3) and config.objective.mu == 1.0
    if run.label.startswith("alpha ablation"):
        assert config.epochs == paper_settings.ALPHA_ABLATION_EPOCHS
        assert config.objective.alpha in paper_settings.ALPHA_ABLATION[config.objective.name]
    else:
        assert config.epochs == table["epochs"] and config.objective.alpha == table["alpha"]
    if config.method == "moco":
        moco = paper_settings.MOCO
        assert (config.objective.temperature, config.moco_momentum, config.queue_size) == (
            moco["temperature"], moco["moco_momentum"], moco["queue_size"])


def test_rendered_commands_are_the_runs():
    text = paper_settings.render()
    flags = paper_settings.cifar10_flags()
    for run in paper_settings.runs():
        if run.label.startswith("Table 2"):
            rest = run.flags[len(flags):].rsplit(" --seed", 1)[0].strip()
            assert f"$C {rest} --seed 0" in text and run.paper in text


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
