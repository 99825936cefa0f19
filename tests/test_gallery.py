"""One output scheme: every file of the committed gallery is written by a notebook that names it
(``NN_<what>`` from notebook NN, its claims, and the report), so ``python -m analysis.reproduce``
regenerates exactly the gallery, and the README shows only such figures."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GALLERY = ROOT / "figures"
NOTEBOOKS = {p.stem[:2]: p.read_text() for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.py")}


def test_every_gallery_file_has_the_notebook_that_writes_it():
    for path in GALLERY.iterdir():
        if path.name in ("REPORT.md", "REPORT.json"):
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
        assert re.fullmatch(r"figures/\d\d_[a-z0-9_]+\.png", link) and (ROOT / link).is_file(), link
