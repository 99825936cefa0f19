"""Every notebook: paired with its jupytext source, stored without outputs, and executed in quick
mode (what CI runs). Figures go to a temporary folder so the committed gallery stays as it is."""

from pathlib import Path

import jupytext
import nbformat
import pytest

from analysis.reproduce import NOTEBOOKS, run_notebook

SOURCES = sorted(NOTEBOOKS.glob("[0-9]*.py"))


def test_there_are_notebooks():
    assert len(SOURCES) >= 1


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_paired_and_without_outputs(source: Path):
    ipynb = source.with_suffix(".ipynb")
    assert ipynb.exists(), f"{ipynb.name} missing: run jupytext --to ipynb {source.name}"
    paired = nbformat.read(ipynb, as_version=4)
    text = jupytext.read(source)
    assert [c.source for c in paired.cells] == [c.source for c in text.cells], "run jupytext --sync"
    assert all(not c.get("outputs") for c in paired.cells if c.cell_type == "code")
    tagged = [c for c in paired.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1 and "QUICK = True" in tagged[0].source


@pytest.mark.slow
@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_runs_in_quick_mode(source: Path, tmp_path, monkeypatch):
    monkeypatch.setenv("FMICL_FIGURES", str(tmp_path))
    run = run_notebook(source.with_suffix(".ipynb"))
    assert run.ok, f"cell {run.error_cell}: {run.error}"
    assert (tmp_path / f"claims_{source.stem}.json").exists(), "the notebook must end with claims_table"
