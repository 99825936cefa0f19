"""The rendered book: a static site of the executed notebooks that reads the same offline, opened
from disk (``file://``) or from any static server.

    python -m analysis.reproduce --html SITE                  # run the notebooks, then write the site
    python -m analysis.book SITE [--screenshots figures/book]  # check it in headless Chromium

``index.html`` maps each paper's results, by the paper's own numbering, onto the notebooks and
holds the reproduction report (``REPORT.md``); each notebook has a page with its figures, its
equations and its closing claims table. Pages are nbconvert's JupyterLab HTML with every script and
style on the site: MathJax 2 is copied from the ``jupyter-server-mathjax`` package with the
STIX-Web fonts it ships, and the CDN scripts of nbconvert's template (require.js, the widget
manager, mermaid) are left out. Building needs the ``book`` extra (nbconvert,
jupyter-server-mathjax); checking needs Playwright and a Chromium (Debian's ``chromium``), driven
through its own executable, so no browser is downloaded. The check fails a page with a broken
image, a MathJax error, no claims table, a request leaving the site or a file missing from it.
"""

from __future__ import annotations

import argparse
import html
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping
from urllib.parse import urlsplit

import nbformat
from nbformat.v4 import new_markdown_cell, new_notebook

from fmicl_core import validation
from fmicl_core.cli import ArgumentParser
from fmicl_core.outputs import check_writable

__all__ = ["MAP", "PAPERS", "SCREENSHOT_PAGE", "PageCheck", "check_site", "find_chromium", "main", "render",
           "site_folder", "write_site"]

INSTALL = 'pip install -e ".[book]"'
PAPERS = {
    "f-MICL": "Lu, Zhang, Sun, Guo & Yu 2023, *f-MICL: Understanding and Generalizing InfoNCE-based "
              "Contrastive Learning*, TMLR, arXiv:2402.10150",
    "Bansal et al.": "Bansal, Kavis & Sanghavi 2024, *Understanding Contrastive Learning via Gaussian "
                     "Mixture Models*, arXiv:2411.03517",
    "Tian": "Tian 2022, *Understanding Deep Contrastive Learning via Coordinate-wise Optimization*, "
            "NeurIPS 2022, arXiv:2201.12680",
    "Alkhatib & Tay": "Alkhatib & Tay 2026, *Contrastive Conformal Sets*, arXiv:2603.26261",
}
MAP = (
    ("f-MICL", "Table 1 (f, f', f*, A, B) and the uniformity condition", "00_objectives_zoo"),
    ("f-MICL", "Figure 3 (InfoNCE, DV-KL, alignment-uniformity and spectral as special cases)",
     "00_objectives_zoo"),
    ("f-MICL", "Figures 1 and 7 (the Gaussian-kernel assumption)", "01_gaussian_assumption"),
    ("f-MICL", "Theorem 3 (uniformity: the regular simplex) and Figure 5", "02_uniformity_simplex"),
    ("f-MICL", "Figure 4 left and middle (pair distances, RKL collapse)", "02_uniformity_simplex"),
    ("f-MICL", "Theorem 4 (estimation error, rate in N)", "03_estimation_error"),
    ("f-MICL", "Figure 4 right (batch size)", "03_estimation_error"),
    ("f-MICL", "Table 2, the α ablation and Table 7", "04_training_comparison"),
    ("Bansal et al.", "InfoNCE finds the Fisher (LDA) subspace of a Gaussian mixture; CLIP", "05_gmm_vs_lda"),
    ("Tian", "Theorem 1 (pairwise weights α), the max player as PCA of C_α, ReLU rank",
     "06_coordinate_wise_cl"),
    ("Alkhatib & Tay", "contrastive conformal sets: coverage, exclusion, volume", "07_conformal_sets"),
)
"""The papers' results (paper, result by its own numbering, notebook), in the order of the papers."""

SCREENSHOT_PAGE = "02_uniformity_simplex"
"""The notebook page shot beside the index: Theorem 3 typeset, its figures and claims."""
MATHJAX = "mathjax"
"""The site's folder holding MathJax 2."""
_MATHJAX_LEFT_OUT = ("jax/output/SVG", "extensions/a11y")
"""Parts of MathJax the pages never load: the SVG output (the menu's renderer choice is hidden)
and the accessibility explorer (loaded only from its own menu, which this configuration lacks)."""
_TEMPLATE = """{%- extends 'index.html.j2' -%}
{% block html_head_js_requirejs %}{% endblock %}
{% block jupyter_widgets %}{% endblock %}
{% block html_head_js_mermaidjs %}{% endblock %}
{% block html_head_js_mathjax %}
<script type="text/x-mathjax-config">
MathJax.Hub.Config({"HTML-CSS": {availableFonts: [], preferredFont: null, webFont: "STIX-Web", imageFont: null},
                    TeX: {noErrors: {disabled: true}, noUndefined: {disabled: true}},
                    MathMenu: {showRenderer: false}});
</script>
{{ super() }}
{% endblock %}
{% block body_header %}{{ super() }}
{% if resources.book_note %}<p class="jp-RenderedHTMLCommon">{{ resources.book_note }}</p>{% endif %}
{% endblock %}
"""
"""nbconvert's JupyterLab page without its CDN scripts, with MathJax set to the fonts it ships
(``jupyter-server-mathjax`` has only STIX-Web; MathJax's default TeX fonts would fail to load) and
TeX errors shown as errors (``merror``), not as the unparsed source or a red macro name."""


def _exporter():
    """nbconvert's HTML exporter with :data:`_TEMPLATE` and the site's MathJax."""
    try:
        from jinja2 import DictLoader
        from nbconvert import HTMLExporter
    except ImportError as err:
        raise ValueError(f"the rendered book needs nbconvert ({err}); {INSTALL}") from None
    return HTMLExporter(template_name="lab", extra_loaders=[DictLoader({"book.html.j2": _TEMPLATE})],
                        template_file="book.html.j2",
                        mathjax_url=f"{MATHJAX}/MathJax.js?config=TeX-AMS-MML_HTMLorMML-full")


def _mathjax_source() -> Path:
    """The MathJax 2 that ``jupyter-server-mathjax`` ships."""
    try:
        import jupyter_server_mathjax
    except ImportError as err:
        raise ValueError(f"the rendered book needs jupyter-server-mathjax ({err}); {INSTALL}") from None
    return Path(jupyter_server_mathjax.__file__).parent / "static"


def site_folder(name: str, value: object) -> Path:
    """A folder for a new site: absent or empty, its parent writable, the book's tools installed
    (checked before any notebook runs)."""
    if not isinstance(value, (str, os.PathLike)) or not str(value):
        raise ValueError(f"{name}={value!r} is not allowed; it must be the path of a new or empty folder")
    path = Path(value)
    if path.exists() and not (path.is_dir() and not any(path.iterdir())):
        raise ValueError(f"{name} {str(path)!r} is not allowed; it must be a new or empty folder (a site is "
                         "never written over another)")
    check_writable(path.parent)
    _exporter()
    _mathjax_source()
    return path


def _title(nb: nbformat.NotebookNode, name: str) -> str:
    """The notebook's first heading, else its name."""
    for cell in nb.cells:
        if cell.cell_type == "markdown" and cell.source.startswith("# "):
            return cell.source.splitlines()[0][2:].strip()
    return name


def render(nb: nbformat.NotebookNode, name: str, note: str = "") -> str:
    """One page of the site: the HTML of the executed notebook ``nb``, with ``note`` (HTML) above it."""
    page = nbformat.from_dict(nb)
    page.metadata["title"] = _title(nb, name)
    body, _ = _exporter().from_notebook_node(page, resources={"metadata": {"name": name}, "book_note": note})
    return body


def _index(pages: list[str], report: str) -> nbformat.NotebookNode:
    """The index as a notebook of markdown cells: the papers, the map onto the notebooks, the report."""
    link = {name: f"[{name}]({name}.html)" for name in pages}
    rows = [f"| {paper} | {result} | {link.get(nb, nb + ' (not run)')} |" for paper, result, nb in MAP]
    cells = [
        "# fmicl: the notebooks, executed\n\nThe notebooks of the `fmicl` package as `python -m analysis.reproduce "
        "--html` ran them; the report below gives each notebook's mode (quick: CI scale on a CPU; full: more "
        "seeds, epochs and samples). Each page holds the notebook's figures, its equations and its claims table.",
        "## Papers\n\n" + "\n".join(f"- **{key}**: {cite}" for key, cite in PAPERS.items()),
        "## Map: the papers' results onto the notebooks\n\n| paper | result | notebook |\n|---|---|---|\n"
        + "\n".join(rows),
        report,
    ]
    nb = new_notebook(cells=[new_markdown_cell(c) for c in cells])
    nb.metadata["title"] = "fmicl: the notebooks, executed"
    return nb


def write_site(folder: str | os.PathLike, notebooks: Mapping[str, nbformat.NotebookNode], report: str,
               full: bool = False) -> Path:
    """Write the site into ``folder`` (new or empty): ``index.html``, ``<name>.html`` for each executed
    notebook of ``notebooks`` and MathJax. ``report`` is the markdown of ``REPORT.md``; ``full`` is the
    notebooks' mode. The site is built beside ``folder`` and moved into place whole. Returns the index."""
    folder = site_folder("site folder", folder)
    build = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    try:
        mode = "full" if full else "quick"
        for name, nb in notebooks.items():
            note = (f'<a href="index.html">Contents</a> · <code>notebooks/{html.escape(name)}.ipynb</code>, '
                    f"executed in {mode} mode by <code>python -m analysis.reproduce</code>")
            (build / f"{name}.html").write_text(render(nb, name, note), encoding="utf-8")
        (build / "index.html").write_text(render(_index(list(notebooks), report), "index"), encoding="utf-8")
        source = _mathjax_source()
        left_out = {source / p for p in _MATHJAX_LEFT_OUT}
        shutil.copytree(source, build / MATHJAX,
                        ignore=lambda where, names: [n for n in names if Path(where) / n in left_out])
        build.chmod(0o755)
        if folder.exists():
            folder.rmdir()
        build.rename(folder)
    except BaseException:
        shutil.rmtree(build, ignore_errors=True)
        raise
    return folder / "index.html"


_INSPECT = """() => {
  const firstHeader = t => (t.querySelector('th') || {textContent: ''}).textContent.trim();
  return {
    images: document.images.length,
    broken: [...document.images].filter(i => !(i.complete && i.naturalWidth > 0))
            .map(i => i.src.startsWith('data:') ? i.src.slice(0, 40) + '...' : i.src),
    math: document.querySelectorAll('.MathJax').length,
    math_errors: [...document.querySelectorAll('.MathJax .merror')].map(e => e.textContent)
                 .concat(document.body.innerText.includes('Math Processing Error') ? ['Math Processing Error'] : []),
    claims_table: [...document.querySelectorAll('table')].some(t => firstHeader(t) === 'claim'),
  };
}"""
"""What a loaded page shows: its images (broken: not loaded, naturalWidth 0), the typeset equations,
MathJax's errors (the messages of its ``merror`` elements, and "Math Processing Error"), and
whether a table's first header is "claim" (a notebook's claims table, or the report on the index)."""
_LOCAL_SCHEMES = ("data", "about", "blob")
"""URL schemes that never leave the page (inline data, MathJax's ``about:blank`` font probe, blobs)."""


@dataclass
class PageCheck:
    """One page as headless Chromium showed it."""

    page: str
    images: int = 0
    broken: list[str] = field(default_factory=list)
    math: int = 0
    math_errors: list[str] = field(default_factory=list)
    claims_table: bool = False
    remote: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)

    @property
    def problems(self) -> list[str]:
        """What is wrong with the page; empty when nothing is."""
        found = [f"broken image {src}" for src in self.broken]
        found += [f"MathJax error {message!r}" for message in self.math_errors]
        found += [] if self.claims_table else ["no claims table"]
        found += [f"remote request {url}" for url in self.remote]
        found += [f"missing file {url}" for url in self.missing]
        return found

    def line(self) -> str:
        status = "ok" if not self.problems else "FAILED: " + "; ".join(self.problems)
        return (f"{self.page}: {self.images} images, {self.math} equations typeset, claims table "
                f"{'yes' if self.claims_table else 'no'}: {status}")


def find_chromium() -> str | None:
    """The system Chromium (``$CHROMIUM``, else ``chromium`` or ``chromium-browser`` on the PATH)."""
    return os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


def _load(browser, url: str, page: str, screenshot: Path | None) -> PageCheck:
    """Open ``url`` in a fresh tab, wait for MathJax to finish typesetting, and inspect the page;
    requests leaving the site are refused and recorded."""
    site = urlsplit(url)
    remote_urls, missing = [], []

    def remote(request_url: str) -> bool:
        parts = urlsplit(request_url)
        return parts.scheme not in _LOCAL_SCHEMES and (parts.scheme, parts.netloc) != (site.scheme, site.netloc)

    def refuse(route) -> None:
        remote_urls.append(route.request.url)
        route.abort()

    def failed(request) -> None:
        if request.resource_type in ("document", "script", "stylesheet") and not remote(request.url):
            missing.append(request.url)

    tab = browser.new_page(viewport={"width": 1100, "height": 800})
    tab.route(remote, refuse)
    tab.on("requestfailed", failed)
    tab.goto(url)  # returns once the page and its scripts have loaded
    mathjax = tab.evaluate("() => Boolean(window.MathJax && MathJax.Hub)")
    if mathjax:
        tab.wait_for_function("() => MathJax.isReady === true", timeout=60_000)
        tab.evaluate("() => new Promise(done => MathJax.Hub.Queue(done))")
    check = PageCheck(page, **tab.evaluate(_INSPECT), remote=remote_urls, missing=missing)
    check.math_errors += [] if mathjax else ["MathJax.js did not load"]
    if screenshot is not None:
        tab.screenshot(path=str(screenshot))
    tab.close()
    return check


def check_site(folder: str | os.PathLike, base_url: str | None = None, screenshots: str | os.PathLike | None = None,
               page: str = SCREENSHOT_PAGE, browser: str | None = None) -> list[PageCheck]:
    """Load ``index.html`` and every page of the site in ``folder`` in headless Chromium (from
    ``base_url`` when given, e.g. a static server of the folder, else from disk) and inspect each
    (:class:`PageCheck`). With ``screenshots``, write ``index.png`` and ``<page>.png`` there."""
    folder = validation.existing_path("site folder", folder, kind="folder")
    names = sorted(p.stem for p in folder.glob("*.html"))
    if "index" not in names:
        raise ValueError(f"site folder {str(folder)!r} holds no index.html; write it with "
                         "python -m analysis.reproduce --html")
    shots = {}
    if screenshots is not None:
        validation.choice("page", page, [n for n in names if n != "index"])
        target = Path(screenshots)
        target.mkdir(parents=True, exist_ok=True)
        shots = {"index": target / "index.png", page: target / f"{page}.png"}
    executable = validation.existing_path("browser", browser) if browser else find_chromium()
    if executable is None:
        raise ValueError("no Chromium found (set $CHROMIUM or install Debian's chromium: apt-get install -y chromium)")
    try:
        from playwright.sync_api import Error, sync_playwright
    except ImportError as err:
        raise ValueError(f"checking the site needs Playwright ({err}); {INSTALL}") from None
    base = base_url.rstrip("/") + "/" if base_url else folder.resolve().as_uri() + "/"
    with sync_playwright() as driver:
        try:
            chromium = driver.chromium.launch(executable_path=executable)
        except Error as err:
            raise ValueError(f"browser {str(executable)!r} could not be started "
                             f"({str(err).strip().splitlines()[0]})") from None
        try:
            return [_load(chromium, base + f"{n}.html", n, shots.get(n)) for n in names]
        finally:
            chromium.close()


def main(argv: list[str] | None = None) -> int:
    p = ArgumentParser(prog="python -m analysis.book", description=__doc__,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("site", help="the site folder written by python -m analysis.reproduce --html")
    p.add_argument("--screenshots", metavar="DIR",
                   help="write index.png and <page>.png (1100 x 800) there, e.g. figures/book")
    p.add_argument("--page", default=SCREENSHOT_PAGE,
                   help=f"the notebook page of the second screenshot (default: {SCREENSHOT_PAGE})")
    p.add_argument("--browser", help="the Chromium executable (default: $CHROMIUM, chromium, chromium-browser)")
    args = p.parse_args(argv)
    try:
        checks = check_site(args.site, screenshots=args.screenshots, page=args.page, browser=args.browser)
    except ValueError as err:
        p.error(str(err))
    bad = [c.page for c in checks if c.problems]
    print("\n".join(c.line() for c in checks))
    print(f"{len(checks) - len(bad)}/{len(checks)} pages ok" + (f"; failed: {', '.join(bad)}" if bad else ""))
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
