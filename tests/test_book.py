"""The rendered book (analysis.book): pages of executed notebooks with their figures, equations and
claims tables, an index mapping the papers onto the notebooks, MathJax served from the site itself,
and headless Chromium finding a broken image, a MathJax error or a missing claims table."""

import functools
import http.server
import importlib.util
import json
import re
import threading
import time
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from analysis import book, reproduce
from test_notebooks import SOURCES, executed

PNG = ("iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAYAAABytg0kAAAAFklEQVR4nGP8z8DwnwEKmBiQAIzDAAB"
       "E8wIFmS6+6wAAAABJRU5ErkJggg==")  # a 2 x 2 PNG


def tiny_notebook(math: str = r"$G=\mu e^{-c d}$", image: str = "", claims: bool = True) -> nbformat.NotebookNode:
    """An executed notebook: a heading with an equation, a figure output, the claims table."""
    figure = new_code_cell("plt.show()", outputs=[new_output(
        "display_data", data={"image/png": PNG, "text/plain": "<Figure size 2x2>"})])
    cells = [new_markdown_cell(f"# 09 · A tiny notebook\n\nThe f-Gaussian {math} (f-MICL, Lu et al. 2023, "
                               f"arXiv:2402.10150).{image}"), figure]
    if claims:
        table = "| claim | this run's number | verdict |\n|---|---|---|\n| slope of log p | -0.98 | holds |"
        cells.append(new_code_cell("display(Markdown(claims_table(rows)))", outputs=[new_output(
            "display_data", data={"text/markdown": table, "text/plain": "<Markdown>"})]))
    return new_notebook(cells=cells)


class _References(HTMLParser):
    """Every resource a page asks for: ``src`` of any tag, ``href`` of ``<link>``, ``url(...)`` and
    ``@import`` in ``<style>``."""

    def __init__(self):
        super().__init__()
        self.urls, self._style = [], False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.urls += [attrs["src"]] if attrs.get("src") else []
        self.urls += [attrs["href"]] if tag == "link" and attrs.get("href") else []
        self._style = tag == "style"

    def handle_endtag(self, tag):
        self._style = False

    def handle_data(self, data):
        if self._style:
            self.urls += re.findall(r"url\(\s*['\"]?([^'\")]+)", data)
            self.urls += re.findall(r"@import\s+['\"]([^'\"]+)", data)


def remote_references(page: Path) -> list[str]:
    """The resources of ``page`` that are not on the site (any scheme but data:, or ``//host``)."""
    refs = _References()
    refs.feed(page.read_text(encoding="utf-8"))
    return [u for u in refs.urls if urlsplit(u).scheme not in ("", "data") or u.startswith("//")]


@pytest.fixture
def site(tmp_path) -> Path:
    report = "# Reproduction report\n\n| claim | x |\n|---|---|\n| c \\| d | 1 |\n"
    book.write_site(tmp_path / "site", {"09_tiny": tiny_notebook()}, report)
    return tmp_path / "site"


def test_page_holds_figure_equations_and_claims_with_local_mathjax():
    page = book.render(tiny_notebook(), "09_tiny", note="executed in quick mode")
    assert f'src="data:image/png;base64,{PNG}' in page
    assert r"$G=\mu e^{-c d}$" in page  # typeset by MathJax in the browser
    assert '<script src="mathjax/MathJax.js?config=TeX-AMS-MML_HTMLorMML-full">' in page
    assert 'webFont: "STIX-Web"' in page  # the only fonts jupyter-server-mathjax ships
    assert "<th>claim</th>" in page and "<td>-0.98</td>" in page
    assert "executed in quick mode" in page and "<title>09 · A tiny notebook</title>" in page
    assert "require.js" not in page and "unpkg" not in page and "mermaid" not in page


def test_site_holds_index_pages_and_the_mathjax_it_loads(site):
    assert sorted(p.name for p in site.iterdir()) == ["09_tiny.html", "index.html", "mathjax"]
    assert not [p for p in site.parent.iterdir() if p.name != "site"], "the build folder was left behind"
    mathjax = site / "mathjax"
    for needed in ("MathJax.js", "config/TeX-AMS-MML_HTMLorMML-full.js", "jax/output/HTML-CSS/fonts/STIX-Web",
                   "fonts/HTML-CSS/STIX-Web/woff/STIXMathJax_Main-Regular.woff", "jax/element/mml/optable"):
        assert (mathjax / needed).exists(), needed
    assert not (mathjax / "jax/output/SVG").exists() and not (mathjax / "extensions/a11y").exists()
    index = (site / "index.html").read_text()
    assert "arXiv:2402.10150" in index and "arXiv:2411.03517" in index and "arXiv:2201.12680" in index
    assert "<td>Theorem 3 (uniformity: the regular simplex) and Figure 5</td>" in index
    assert "<td>02_uniformity_simplex (not run)</td>" in index  # only the pages written are linked
    assert "<td>c | d</td>" in index  # the report's table, its escaped bar read back
    note = (site / "09_tiny.html").read_text()
    assert '<a href="index.html">Contents</a>' in note and "executed in quick mode" in note


def test_no_page_references_a_remote_url(site):
    pages = sorted(site.glob("*.html"))
    assert len(pages) == 2
    assert {p.name: remote_references(p) for p in pages} == {p.name: [] for p in pages}


def test_remote_references_are_found(tmp_path):
    page = tmp_path / "page.html"
    page.write_text('<script src="https://cdn.example/require.js"></script><link href="//fonts.example/f.css">'
                    '<style>@import "http://x.example/a.css"; b {background: url(https://x.example/b.png)}</style>'
                    '<img src="data:image/png;base64,AA"><script src="mathjax/MathJax.js"></script>')
    assert remote_references(page) == ["https://cdn.example/require.js", "//fonts.example/f.css",
                                       "https://x.example/b.png", "http://x.example/a.css"]


def test_every_notebook_is_on_the_map():
    assert {nb for _, _, nb in book.MAP} == {p.stem for p in SOURCES}
    assert {paper for paper, _, _ in book.MAP} == set(book.PAPERS)


@pytest.mark.parametrize("target", ["folder", "folder/page.html"])
def test_site_is_never_written_over_anything(tmp_path, target):
    (tmp_path / "folder").mkdir()
    (tmp_path / "folder" / "page.html").write_text("mine")
    with pytest.raises(ValueError, match=re.escape(f"{str(tmp_path / target)!r} is not allowed; it must be a new "
                                                   "or empty folder")):
        book.write_site(tmp_path / target, {"09_tiny": tiny_notebook()}, "")
    assert (tmp_path / "folder" / "page.html").read_text() == "mine"


def test_failed_build_leaves_nothing(tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("render failed")

    monkeypatch.setattr(book, "render", broken)
    with pytest.raises(RuntimeError, match="render failed"):
        book.write_site(tmp_path / "site", {"09_tiny": tiny_notebook()}, "")
    assert list(tmp_path.iterdir()) == []


def test_report_record_keeps_no_notebook(tmp_path):
    runs = [reproduce.NotebookRun("01_a", 3.0, notebook=tiny_notebook())]
    reproduce.merge_runs(runs, tmp_path)
    assert json.loads((tmp_path / "REPORT.json").read_text()) == [
        {"name": "01_a", "seconds": 3.0, "error_cell": None, "error": "", "full": False}]


@pytest.mark.parametrize("argv, shown", [
    (lambda t: ["--html", str(t / "full")], "--html '{t}/full' is not allowed; it must be a new or empty folder"),
    (lambda t: ["--html", ""], "--html='' is not allowed; it must be the path of a new or empty folder"),
])
def test_reproduce_refuses_a_bad_html_folder_before_running(tmp_path, capsys, argv, shown):
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "page.html").write_text("")
    with pytest.raises(SystemExit) as exit_:
        reproduce.main([*argv(tmp_path), "--out-dir", str(tmp_path / "gallery"), "--only", "00"])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and err.count("\n") == 1
    assert shown.format(t=tmp_path) in err
    assert not (tmp_path / "gallery" / "REPORT.md").exists()


@pytest.mark.parametrize("argv, shown", [
    (lambda s: [str(s / "nowhere")], "site folder '{s}/nowhere' does not exist"),
    (lambda s: [str(s / "mathjax")], "holds no index.html"),
    (lambda s: [str(s), "--screenshots", str(s.parent / "shots"), "--page", "99_nope"],
     "unknown page '99_nope'; allowed: 09_tiny"),
    (lambda s: [str(s), "--browser", str(s / "no-chromium")], "browser '{s}/no-chromium' does not exist"),
])
def test_book_command_errors_name_the_bad_value(site, capsys, argv, shown):
    with pytest.raises(SystemExit) as exit_:
        book.main(argv(site))
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and err.count("\n") == 1
    assert shown.format(s=site) in err


def test_no_chromium_is_a_one_line_error(site, capsys, monkeypatch):
    monkeypatch.setattr(book, "find_chromium", lambda: None)
    with pytest.raises(SystemExit) as exit_:
        book.main([str(site)])
    assert exit_.value.code == 2
    assert capsys.readouterr().err == ("python -m analysis.book: error: no Chromium found (set $CHROMIUM or install "
                                       "Debian's chromium: apt-get install -y chromium)\n")


def test_a_browser_that_does_not_start_is_named(site, capsys):
    pytest.importorskip("playwright", reason='no Playwright: pip install -e ".[book]"')
    with pytest.raises(SystemExit) as exit_:
        book.main([str(site), "--browser", "/bin/true"])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and err.count("\n") == 1
    assert "browser '/bin/true' could not be started (" in err


def test_reproduce_html_renders_the_executed_notebooks(tmp_path, monkeypatch):
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    for name, body in [("01_good", "from IPython.display import Markdown, display\n"
                                   "display(Markdown(f'| claim | this run |\\n|---|---|\\n| c | {6 * 7} |'))"),
                       ("02_bad", "raise ValueError('broken on purpose')")]:
        params = new_code_cell("QUICK = True")
        params.metadata["tags"] = ["parameters"]
        nb = new_notebook(cells=[new_markdown_cell(f"# {name}\n\n$x^2$"), params, new_code_cell(body)])
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nbformat.write(nb, notebooks / f"{name}.ipynb")
    monkeypatch.setattr(reproduce, "NOTEBOOKS", notebooks)
    monkeypatch.setenv("FMICL_FIGURES", str(tmp_path / "unused"))
    assert reproduce.main(["--out-dir", str(tmp_path / "gallery"), "--html", str(tmp_path / "site")]) == 1
    assert "<td>42</td>" in (tmp_path / "site" / "01_good.html").read_text()  # the executed notebook's output
    assert "broken on purpose" in (tmp_path / "site" / "02_bad.html").read_text()  # its traceback
    index = (tmp_path / "site" / "index.html").read_text()
    assert "FAILED at cell 2: ValueError: broken on purpose" in index  # without the traceback's colour codes
    assert all(not c.get("outputs") for c in nbformat.read(notebooks / "01_good.ipynb", as_version=4).cells
               if c.cell_type == "code")


def browser_or_skip() -> None:
    if importlib.util.find_spec("playwright") is None:
        pytest.skip('no Playwright: pip install -e ".[book]"')
    if book.find_chromium() is None:
        pytest.skip("no Chromium: apt-get install -y chromium (or set $CHROMIUM)")


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def served(tmp_path):
    """A static server of ``tmp_path``; yields its URL."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(tmp_path)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.slow
def test_browser_finds_each_defect_from_disk_and_from_a_server(tmp_path, served, capsys):
    browser_or_skip()
    bad = tiny_notebook(math=r"$\frac{1}{$ and $\nosuchmacro x$", claims=False,
                        image="\n\n![gone](gone.png) ![remote](https://example.invalid/x.png)")
    book.write_site(tmp_path / "site", {"09_good": tiny_notebook(), "10_bad": bad}, "| claim |\n|---|\n| c |\n")
    for base in (None, f"{served}/site"):
        by_page = {c.page: c for c in book.check_site(tmp_path / "site", base)}
        assert [by_page["index"].problems, by_page["09_good"].problems] == [[], []]
        assert by_page["09_good"].images == 1 and by_page["09_good"].math == 1
        gone = (base or (tmp_path / "site").as_uri()) + "/gone.png"
        assert by_page["10_bad"].problems == [
            f"broken image {gone}", "broken image https://example.invalid/x.png",
            "MathJax error 'Missing close brace'", "MathJax error 'Undefined control sequence \\\\nosuchmacro'",
            "no claims table", "remote request https://example.invalid/x.png"]
    assert book.main([str(tmp_path / "site"), "--screenshots", str(tmp_path / "shots"), "--page", "09_good"]) == 1
    assert capsys.readouterr().out.endswith("2/3 pages ok; failed: 10_bad\n")
    assert sorted(p.name for p in (tmp_path / "shots").iterdir()) == ["09_good.png", "index.png"]
    (tmp_path / "site" / "mathjax" / "MathJax.js").unlink()
    index = book.check_site(tmp_path / "site")[0]
    assert index.problems == ["MathJax error 'MathJax.js did not load'", "missing file " + (tmp_path / "site").as_uri()
                              + "/mathjax/MathJax.js?config=TeX-AMS-MML_HTMLorMML-full"]


@pytest.mark.slow
def test_book_of_the_notebooks_in_a_real_browser(tmp_path_factory, tmp_path):
    browser_or_skip()
    runs = [executed(source, tmp_path_factory) for source in SOURCES]
    gallery = runs[0][1]
    report = reproduce.write_report([r for r, _ in runs], folder=gallery).read_text()
    start = time.perf_counter()
    index = book.write_site(tmp_path / "site", {r.name: r.notebook for r, _ in runs}, report)
    written = time.perf_counter()
    pages = sorted(index.parent.glob("*.html"))
    assert {p.name: remote_references(p) for p in pages} == {p.name: [] for p in pages}
    checks = book.check_site(index.parent, screenshots=tmp_path / "shots")
    print("\n".join(c.line() for c in checks))
    size = sum(f.stat().st_size for f in index.parent.rglob("*") if f.is_file())
    print(f"site: {len(pages)} pages, {size / 2**20:.1f} MiB; written in {written - start:.1f} s, checked in "
          f"{time.perf_counter() - written:.1f} s")
    assert [c.page for c in checks] == sorted(["index", *(p.stem for p in SOURCES)])
    assert {c.page: c.problems for c in checks} == {c.page: [] for c in checks}
    assert all(c.images > 0 for c in checks if c.page != "index") and sum(c.math for c in checks) > 0
    for shot in ("index.png", f"{book.SCREENSHOT_PAGE}.png"):
        data = (tmp_path / "shots" / shot).read_bytes()
        assert data.startswith(b"\x89PNG") and len(data) < 200_000, (shot, len(data))
