"""analysis.reproduce reports a failing notebook with its cell and error, runs the others, and
writes REPORT.md with one row per claim."""

import json

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from analysis import reproduce


def make_notebook(path, body):
    params = new_code_cell("QUICK = True")
    params.metadata["tags"] = ["parameters"]
    nb = new_notebook(cells=[params, new_code_cell(body)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


@pytest.mark.slow
def test_failure_is_reported_and_others_run(tmp_path, monkeypatch):
    monkeypatch.setenv("FMICL_FIGURES", str(tmp_path))
    good = make_notebook(tmp_path / "01_good.ipynb", (
        "from analysis.gallery import Claim, claims_table\n"
        "print(claims_table([Claim('c', '1', 'k', '2' if QUICK else '3', 'cfg')]))"))
    bad = make_notebook(tmp_path / "02_bad.ipynb", "raise ValueError('broken on purpose')")
    runs = [reproduce.run_notebook(bad), reproduce.run_notebook(good, full=True)]
    assert not runs[0].ok and runs[0].error_cell == 1 and "broken on purpose" in runs[0].error
    assert runs[1].ok
    rows = json.loads((tmp_path / "claims_01_good.json").read_text())
    assert rows == [{"claim": "c", "paper": "1", "known": "k", "this_run": "3", "config": "cfg"}]  # --full
    report = reproduce.write_report(runs, folder=tmp_path).read_text()
    assert "FAILED at cell 1" in report and "| c | 01_good | 1 | k | 3 | cfg |" in report
    assert "| 01_good | full | ok |" in report


def test_missing_parameters_cell_is_an_error(tmp_path):
    nb = new_notebook(cells=[new_code_cell("x = 1")])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, tmp_path / "03_x.ipynb")
    run = reproduce.run_notebook(tmp_path / "03_x.ipynb")
    assert not run.ok and "parameters" in run.error


def test_unknown_notebook_name():
    with pytest.raises(ValueError, match="no notebook named"):
        reproduce.list_notebooks(["99_nothing"])



def test_gallery_names_carry_the_notebook_number(tmp_path, monkeypatch):
    from analysis import gallery

    monkeypatch.setenv("FMICL_FIGURES", str(tmp_path))
    gallery.save("03_thing", None, {"x": 1}, {})
    assert (tmp_path / "03_thing.json").is_file()
    for bad in ("thing", "3_thing", "03_Thing", "03_../x"):
        with pytest.raises(ValueError, match="NN_<what>"):
            gallery.save(bad, None, {}, {})


def test_rerun_replaces_exactly_the_notebooks_files(tmp_path, monkeypatch):
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    make_notebook(notebooks / "01_good.ipynb", (
        "from analysis.gallery import Claim, claims_table, save\n"
        "save('01_fresh', None, {}, {})\n"
        "print(claims_table([Claim('c', '1', '', '2', 'cfg')]))"))
    out = tmp_path / "gallery"
    out.mkdir()
    for stale in ("01_old.png", "01_old.json", "02_other.json"):
        (out / stale).write_text("")
    monkeypatch.setattr(reproduce, "NOTEBOOKS", notebooks)
    monkeypatch.setenv("FMICL_FIGURES", str(tmp_path / "unused"))  # restored after main() sets it
    assert reproduce.main(["--out-dir", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == [
        "01_fresh.json", "02_other.json", "REPORT.json", "REPORT.md", "claims_01_good.json"]


def test_only_keeps_the_other_notebooks_rows(tmp_path):
    first = [reproduce.NotebookRun("01_a", 3.0), reproduce.NotebookRun("02_b", 5.0, full=True)]
    reproduce.merge_runs(first, tmp_path)
    merged = reproduce.merge_runs([reproduce.NotebookRun("02_b", 7.0)], tmp_path)
    assert merged == [reproduce.NotebookRun("01_a", 3.0), reproduce.NotebookRun("02_b", 7.0)]
