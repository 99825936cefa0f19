"""One output scheme: every file of the committed gallery is written by a notebook that names it
(``NN_<what>`` from notebook NN, its claims, and the report), so ``python -m analysis.reproduce``
regenerates exactly the gallery, and the README shows only such figures. Every claim carries a
check whose verdict is computed from its numbers, and the README shows the report's verdict counts."""

import json
import math
import re
from pathlib import Path

import pytest

from analysis.gallery import (FAILS, FINDING, HOLDS, AtLeast, AtMost, Between, Claim, Finding, Interval, IsTrue,
                              Within, claims_table)
from analysis.reproduce import verdict_counts

ROOT = Path(__file__).resolve().parent.parent
GALLERY = ROOT / "figures"
NOTEBOOKS = {p.stem[:2]: p.read_text() for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.py")}


def test_every_gallery_file_has_the_notebook_that_writes_it():
    for path in GALLERY.iterdir():
        if path.name in ("REPORT.md", "REPORT.json", "book"):  # book/: python -m analysis.book --screenshots
            continue
        claims = re.fullmatch(r"claims_(\d\d)_\w+\.json", path.name)
        if claims:
            assert (ROOT / "notebooks" / f"{path.stem[len('claims_'):]}.py").is_file(), path.name
            continue
        figure = re.fullmatch(r"(\d\d)_[a-z0-9_]+\.(png|json)", path.name)
        assert figure, f"{path.name} is not named NN_<what>: no notebook writes it"
        assert f'save("{path.stem}"' in NOTEBOOKS.get(figure.group(1), ""), f"no notebook saves {path.stem}"


def test_every_saved_figure_is_in_the_gallery():
    for number, source in NOTEBOOKS.items():
        for name in re.findall(r'save\("(\d\d_[a-z0-9_]+)"', source):
            assert name.startswith(number + "_") and (GALLERY / f"{name}.json").is_file(), name


def test_readme_shows_gallery_figures_only():
    shown = re.findall(r"\]\((figures/[^)]+)\)", (ROOT / "README.md").read_text())
    assert shown, "the README shows no gallery figure"
    for link in shown:
        assert re.fullmatch(r"figures/(\d\d_|book/)[a-z0-9_]+\.png", link) and (ROOT / link).is_file(), link


# --- the checks behind every claim's verdict -------------------------------------------------------------------


def claim(check, known="k", known_answer=False):
    return Claim("c", "no number printed", known, "1.0", "cfg", check, known_answer)


@pytest.mark.parametrize("check, verdict, tolerance", [
    (Within(-7.5, -7.9, rel=0.1), HOLDS, "-7.9 ± 10%"),
    (Within(-6.9, -7.9, rel=0.1), FAILS, "-7.9 ± 10%"),
    (Within([-0.54, -0.45], -0.5, abs=0.1), HOLDS, "-0.5 ± 0.1"),
    (Within([-0.54, -0.39], -0.5, abs=0.1), FAILS, "-0.5 ± 0.1"),  # every value must pass
    (Within(0.0, 0.0, abs=0.0), HOLDS, "0 ± 0"),
    (AtMost(2.7e-15, 1e-12), HOLDS, "≤ 1e-12"),
    (AtMost(1.0, 1.0, strict=True), FAILS, "< 1"),
    (AtLeast([0.04, 0.02], 0.0, strict=True), HOLDS, "> 0"),
    (AtLeast(0.0, 0.0), HOLDS, "≥ 0"),
    (AtLeast(-1e-9, 0.0), FAILS, "≥ 0"),
    (Between(0.9, 0.9, 0.906), HOLDS, "in [0.9, 0.906]"),
    (Between(0.91, 0.9, 0.906), FAILS, "in [0.9, 0.906]"),
    (Interval(-8.5, -7.6, contains=-7.9), HOLDS, "interval covers -7.9"),
    (Interval(-8.5, -8.0, contains=-7.9), FAILS, "interval covers -7.9"),
    (Interval(0.01, 0.03, above=0.0), HOLDS, "interval above 0"),
    (Interval(-0.01, 0.03, above=0.0), FAILS, "interval above 0"),
    (Interval(-0.3, -0.1, below=0.0), HOLDS, "interval below 0"),
    (Interval(-0.3, 0.0, below=0.0), FAILS, "interval below 0"),
    (IsTrue(True, "not certified"), HOLDS, "not certified"),
    (IsTrue(False, "not certified"), FAILS, "not certified"),
])
def test_every_check_computes_its_verdict_and_says_its_tolerance(check, verdict, tolerance):
    row = claim(check)
    assert (row.verdict, row.tolerance) == (verdict, tolerance)


def test_several_checks_must_all_hold_and_a_finding_stands_alone():
    both = claim((Within(1.0, 1.0, rel=0.1), AtMost(-0.95, -0.9)))
    assert both.verdict == HOLDS and both.tolerance == "1 ± 10%; ≤ -0.9"
    assert claim((Within(1.0, 1.0, rel=0.1), AtMost(-0.8, -0.9))).verdict == FAILS
    finding = claim(Finding(), known="")
    assert (finding.verdict, finding.tolerance) == (FINDING, "none")
    for bad in (dict(check=Finding()), dict(check=(Finding(), AtMost(0.0, 1.0)), known=""),
                dict(check=Finding(), known="", known_answer=True)):
        with pytest.raises(ValueError, match="a Finding stands alone"):
            claim(**bad)
    with pytest.raises(ValueError, match="known_answer=True needs the known answer"):
        claim(AtMost(0.0, 1.0), known="", known_answer=True)


@pytest.mark.parametrize("make, named", [
    (lambda: Within(math.nan, 1.0, rel=0.1), "value=nan"),
    (lambda: Within([0.5, math.inf], 1.0, rel=0.1), "value=inf"),
    (lambda: Within(1.0, math.nan, abs=0.1), "target=nan"),
    (lambda: Within(1.0, 1.0, rel=-0.1), "rel=-0.1"),
    (lambda: Within(1.0, 1.0, abs=-1e-3), "abs=-0.001"),
    (lambda: Within(1.0, 1.0), "rel=None, abs=None"),
    (lambda: Within(1.0, 1.0, rel=0.1, abs=0.1), "rel=0.1, abs=0.1"),
    (lambda: Within([], 1.0, rel=0.1), "value=[]"),
    (lambda: AtMost(math.nan, 1.0), "value=nan"),
    (lambda: AtLeast(1.0, math.inf), "bound=inf"),
    (lambda: Between(0.5, 0.9, 0.8), "low=0.9 > high=0.8"),
    (lambda: Interval(1.0, 2.0), "none"),
    (lambda: Interval(1.0, 2.0, contains=1.5, above=0.0), "'contains', 'above'"),
    (lambda: Interval(math.nan, 2.0, above=0.0), "low=nan"),
    (lambda: Interval(1.0, 2.0, below=math.nan), "below=nan"),
    (lambda: IsTrue(1, "positive"), "flag=1"),
    (lambda: IsTrue(True, ""), "what=''"),
    (lambda: claim("holds"), "check='holds'"),
    (lambda: claim(()), "check=()"),
    (lambda: Claim("c", "p", "k", 1.0, "cfg", AtMost(0.0, 1.0)), "this_run=1.0"),
    (lambda: claims_table([claim(AtMost(0.0, 1.0)), "row"]), "'row'"),
    (lambda: claims_table([]), "rows is empty"),
])
def test_bad_checks_are_one_line_errors_naming_the_value(make, named):
    with pytest.raises(ValueError) as err:
        make()
    assert named in str(err.value) and "\n" not in str(err.value)


def test_the_json_row_carries_tolerance_verdict_and_numbers(tmp_path, monkeypatch):
    monkeypatch.setenv("FMICL_FIGURES", str(tmp_path))
    monkeypatch.setenv("FMICL_NOTEBOOK", "03_x")
    table = claims_table([claim((Within([-0.54, -0.45], -0.5, abs=0.1), AtLeast(8.8, 1.0)), known_answer=True)])
    assert table.splitlines()[0] == ("| claim | paper's number | known answer | this run's number | tolerance | verdict "
                                     "| config |")
    assert "| -0.5 ± 0.1; ≥ 1 | holds | cfg |" in table
    [row] = json.loads((tmp_path / "claims_03_x.json").read_text())
    assert (row["verdict"], row["tolerance"], row["known_answer"]) == ("holds", "-0.5 ± 0.1; ≥ 1", True)
    assert row["checks"] == [{"rule": "Within", "value": [-0.54, -0.45], "target": -0.5, "rel": None, "abs": 0.1},
                             {"rule": "AtLeast", "value": [8.8], "bound": 1.0, "strict": False}]


def test_readme_shows_the_reports_verdict_counts():
    text = (ROOT / "README.md").read_text()
    block = re.search(r"<!-- verdicts -->\n(.*?)\n<!-- /verdicts -->", text, re.S)
    assert block, "README lacks the verdicts block"
    line = verdict_counts(GALLERY)
    assert f"**{line}**" in (GALLERY / "REPORT.md").read_text(), "REPORT.md is older than its claims"
    assert block.group(1) == line, "README differs: paste python -c 'from analysis.reproduce import verdict_counts; " \
                                   "print(verdict_counts())'"
