"""Every notebook: paired with its jupytext source, stored without outputs, and executed in quick
mode (what CI runs), once per test session: tests/test_book.py renders the same runs. Every
known-answer row of its claims must hold. Figures go to a temporary folder so the committed gallery
stays as it is."""

import json
from pathlib import Path

import jupytext
import nbformat
import pytest

from analysis.reproduce import NOTEBOOKS, NotebookRun, run_notebook

SOURCES = sorted(NOTEBOOKS.glob("[0-9]*.py"))
_RUNS: dict[str, NotebookRun] = {}


def executed(source: Path, tmp_path_factory) -> tuple[NotebookRun, Path]:
    """``source`` run in quick mode, once per test session, and the gallery folder it wrote into."""
    gallery = tmp_path_factory.getbasetemp() / "gallery"
    if source.stem not in _RUNS:
        gallery.mkdir(exist_ok=True)
        with pytest.MonkeyPatch.context() as env:
            env.setenv("FMICL_FIGURES", str(gallery))
            _RUNS[source.stem] = run_notebook(source.with_suffix(".ipynb"))
    return _RUNS[source.stem], gallery


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
def test_runs_in_quick_mode(source: Path, tmp_path_factory):
    run, gallery = executed(source, tmp_path_factory)
    assert run.ok, f"cell {run.error_cell}: {run.error}"
    claims = gallery / f"claims_{source.stem}.json"
    assert claims.exists(), "the notebook must end with claims_table"
    failing = [f"{row['claim']}: {row['this_run']} (tolerance {row['tolerance']}; {row['checks']})"
               for row in json.loads(claims.read_text()) if row["known_answer"] and row["verdict"] != "holds"]
    assert not failing, "known answers that do not hold: " + "; ".join(failing)
