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
        "from analysis.gallery import AtLeast, Claim, claims_table\n"
        "value = 2.0 if QUICK else 3.0\n"
        "print(claims_table([Claim('c', '1', 'k', f'{value:g}', 'cfg', AtLeast(value, 2.5))]))"))
    bad = make_notebook(tmp_path / "02_bad.ipynb", "raise ValueError('broken on purpose')")
    runs = [reproduce.run_notebook(bad), reproduce.run_notebook(good, full=True)]
    assert not runs[0].ok and runs[0].error_cell == 1 and "broken on purpose" in runs[0].error
    assert runs[1].ok
    [row] = json.loads((tmp_path / "claims_01_good.json").read_text())
    assert (row["this_run"], row["verdict"]) == ("3", "holds")  # --full
    report = reproduce.write_report(runs, folder=tmp_path).read_text()
    assert "FAILED at cell 1" in report and "| c | 01_good | 1 | k | 3 | ≥ 2.5 | holds | cfg |" in report
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
        "from analysis.gallery import Claim, Finding, claims_table, save\n"
        "save('01_fresh', None, {}, {})\n"
        "print(claims_table([Claim('c', '1', '', '2', 'cfg', Finding())]))"))
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


def test_report_counts_verdicts_and_reads_an_old_claims_file(tmp_path):
    rows = [{"claim": f"c{i}", "paper": "p", "known": "k", "this_run": "1", "config": "cfg", "tolerance": "≤ 1",
             "verdict": verdict, "known_answer": known}
            for i, (verdict, known) in enumerate([("holds", True), ("holds", False), ("does not hold", False),
                                                  ("does not hold", True), ("finding: no number in the paper", False)])]
    (tmp_path / "claims_01_new.json").write_text(json.dumps(rows))
    old = [{"claim": "old", "paper": "p", "known": "", "this_run": "2", "config": "cfg"}]  # before verdicts existed
    (tmp_path / "claims_02_old.json").write_text(json.dumps(old))
    runs = reproduce.merge_runs([reproduce.NotebookRun("01_new", 3.0), reproduce.NotebookRun("02_old", 4.0)], tmp_path)
    report = reproduce.write_report(runs, folder=tmp_path).read_text()
    line = "6 claims: 2 hold, 2 do not hold, 1 findings, 1 unjudged; known answers: 1 of 2 hold"
    assert reproduce.verdict_counts(tmp_path) == line and f"**{line}**" in report
    assert "| c3 | 01_new | p | k | 1 | ≤ 1 | does not hold | cfg | 3 |" in report
    assert "| old | 02_old | p |  | 2 |  | unjudged | cfg | 4 |" in report


def test_verdict_counts_need_a_report(tmp_path):
    with pytest.raises(ValueError, match="REPORT.json"):
        reproduce.verdict_counts(tmp_path)
