"""Reproduce everything: run every notebook headless and write ``figures/REPORT.md``.

    python -m analysis.reproduce [--full] [--only NAME ...] [--timeout SECONDS] [--out-dir DIR] [--html DIR]

Each notebook in ``notebooks/`` runs in a fresh kernel (nbclient) from its own folder, in quick mode
unless ``--full`` (which sets ``QUICK = False`` in the cell tagged ``parameters``: more seeds, epochs
and samples of the same digits and synthetic experiments; the paper-scale training runs are the
commands of ``python -m fmicl_core.paper_settings``, whose features notebook 01 reads once its
``FEATURES`` is set). Notebooks write
their figures ``NN_<what>.png`` with their JSON and their closing claims ``claims_NN_<name>.json``
into the gallery (``--out-dir``, default the repository's ``figures/``, the only writer of that
folder); the files of a notebook are removed before it runs, so the gallery holds exactly what this
run wrote. REPORT.md gathers one row per claim with the notebook's runtime; ``REPORT.json`` records
each notebook's last run, so ``--only`` updates the rows of the notebooks it runs and keeps the others. A failing notebook is
reported with its cell and error, and the others still run. ``--html DIR`` also writes the rendered
book of this run's executed notebooks into the new folder ``DIR`` (:mod:`analysis.book`).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import time
from dataclasses import dataclass, field, fields
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError
from tqdm import tqdm

from analysis import book
from analysis.gallery import FAILS, FINDING, HOLDS, UNJUDGED, gallery_dir
from analysis.runner import GALLERY
from fmicl_core import validation
from fmicl_core.cli import ArgumentParser
from fmicl_core.outputs import check_writable, save_json, write_text

__all__ = ["NotebookRun", "list_notebooks", "main", "merge_runs", "run_notebook", "verdict_counts",
           "write_report"]

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
_QUICK = re.compile(r"^QUICK\s*=\s*True\b", re.MULTILINE)
_COLOUR = re.compile(r"\x1b\[[0-9;]*m")
"""The terminal colour codes of an IPython traceback."""


@dataclass(frozen=True)
class NotebookRun:
    """The outcome of one notebook: ``error`` is empty on success; ``notebook`` is the executed
    notebook (its outputs up to the failing cell), which ``REPORT.json`` does not keep."""

    name: str
    seconds: float
    error_cell: int | None = None
    error: str = ""
    full: bool = False
    notebook: nbformat.NotebookNode | None = field(default=None, compare=False, repr=False)

    @property
    def ok(self) -> bool:
        return not self.error

    def record(self) -> dict:
        """The fields kept in ``REPORT.json``: all but the executed notebook."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "notebook"}


def list_notebooks(only: list[str] | None = None) -> list[Path]:
    """The paired ``.ipynb`` notebooks, or those whose name starts with one of ``only``."""
    paths = sorted(NOTEBOOKS.glob("[0-9]*.ipynb"))
    if only:
        chosen = [p for p in paths if any(p.stem.startswith(o) or p.stem == o for o in only)]
        missing = [o for o in only if not any(p.stem.startswith(o) for p in paths)]
        if missing:
            raise ValueError(f"no notebook named {missing}; available: {', '.join(p.stem for p in paths)}")
        return chosen
    return paths


def _set_mode(nb: nbformat.NotebookNode, full: bool) -> None:
    cells = [c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    if len(cells) != 1 or not _QUICK.search(cells[0].source):
        raise ValueError(f"expected one cell tagged 'parameters' containing 'QUICK = True', found {len(cells)}")
    if full:
        cells[0].source = _QUICK.sub("QUICK = False", cells[0].source)


def run_notebook(path: Path, full: bool = False, timeout: int = 1200) -> NotebookRun:
    """Execute one notebook cell by cell; the executed notebook is handed back in the run, never
    written back to the file."""
    validation.integer("timeout", timeout)
    nb = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    os.environ["FMICL_NOTEBOOK"] = path.stem
    index = None
    try:
        _set_mode(nb, full)
        client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                                resources={"metadata": {"path": str(path.parent)}})
        with client.setup_kernel():
            for index, cell in enumerate(nb.cells):
                client.execute_cell(cell, index)
    except (CellExecutionError, ValueError, RuntimeError, TimeoutError) as err:
        lines = [ln for ln in _COLOUR.sub("", str(err)).strip().splitlines() if ln.strip()]
        return NotebookRun(path.stem, time.perf_counter() - start, index, lines[-1] if lines else repr(err), full, nb)
    finally:
        os.environ.pop("FMICL_NOTEBOOK", None)
    return NotebookRun(path.stem, time.perf_counter() - start, full=full, notebook=nb)


def merge_runs(runs: list[NotebookRun], folder: Path | None = None) -> list[NotebookRun]:
    """``runs`` together with the earlier runs recorded in ``REPORT.json`` of the notebooks not run
    now (so ``--only`` keeps the other notebooks' rows); the record is rewritten."""
    record = (folder or gallery_dir()) / "REPORT.json"
    earlier = {}
    if record.is_file():
        try:
            earlier = {r["name"]: NotebookRun(**r) for r in json.loads(record.read_text())}
        except (json.JSONDecodeError, TypeError, KeyError):
            earlier = {}  # an unreadable record is replaced by this run's
    merged = sorted({**earlier, **{r.name: r for r in runs}}.values(), key=lambda r: r.name)
    save_json(record, [r.record() for r in merged])
    return merged


def _claim_rows(runs: list[NotebookRun], folder: Path) -> list[tuple[NotebookRun, dict]]:
    """Each successful run with each row of its ``claims_<name>.json``."""
    rows = []
    for r in runs:
        claims = folder / f"claims_{r.name}.json"
        if r.ok and claims.exists():
            rows += [(r, row) for row in json.loads(claims.read_text())]
    return rows


def _count_line(rows: list[dict]) -> str:
    """``N claims: a hold, b do not hold, c findings`` (and the unjudged rows of an older run), then
    how many of the known-answer rows hold."""
    verdicts = [row.get("verdict", UNJUDGED) for row in rows]
    known = [row["verdict"] for row in rows if row.get("known_answer")]
    unjudged = verdicts.count(UNJUDGED)
    return (f"{len(rows)} claims: {verdicts.count(HOLDS)} hold, {verdicts.count(FAILS)} do not hold, "
            f"{verdicts.count(FINDING)} findings" + (f", {unjudged} unjudged" if unjudged else "")
            + f"; known answers: {known.count(HOLDS)} of {len(known)} hold")


def verdict_counts(folder: str | os.PathLike | None = None) -> str:
    """The verdict counts of the report in ``folder`` (default: the repository's ``figures/``), from
    the claims of the runs recorded in its ``REPORT.json``: the line that ``REPORT.md`` and the
    README show."""
    record = Path(folder or GALLERY) / "REPORT.json"
    try:
        runs = [NotebookRun(**r) for r in json.loads(record.read_text())]
    except (OSError, json.JSONDecodeError, TypeError) as err:
        raise ValueError(f"{str(record)!r} is not a report record ({err}); run python -m analysis.reproduce") from None
    return _count_line([row for _, row in _claim_rows(runs, record.parent)])


def write_report(runs: list[NotebookRun], folder: Path | None = None) -> Path:
    """``REPORT.md``: the notebooks' mode, status and runtime, the verdict counts, then one row per
    claim with its tolerance and verdict."""
    folder = folder or gallery_dir()
    lines = ["# Reproduction report", "",
             "Written by `python -m analysis.reproduce`; every number below comes from the run of its notebook.", "",
             "| notebook | mode | status | runtime (s) |", "|---|---|---|---|"]
    for r in runs:
        status = "ok" if r.ok else f"FAILED at cell {r.error_cell}: {r.error}"
        lines.append(f"| {r.name} | {'full' if r.full else 'quick'} | {status.replace('|', '/')} | {r.seconds:.0f} |")
    claims = _claim_rows(runs, folder)
    lines += ["", "The paper's column holds only numbers a paper printed; the known answer is what holds without "
              "the paper (a closed form, an identity, or a simulation with its tolerance). Each verdict is computed "
              "from this run's numbers and the tolerance; a finding is a row where the paper printed no number "
              "and no answer is known.", "",
              f"**{_count_line([row for _, row in claims])}**", "",
              "| claim | source | paper's number | known answer | this run's number | tolerance | verdict | config "
              "| runtime (s) |", "|---|---|---|---|---|---|---|---|---|"]
    for r, row in claims:
        cells = [row["claim"], r.name, row["paper"], row["known"], row["this_run"], row.get("tolerance", ""),
                 row.get("verdict", UNJUDGED), row["config"], f"{r.seconds:.0f}"]
        lines.append("| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |")
    total = sum(r.seconds for r in runs)
    lines += ["", f"Total runtime: {total:.0f} s for {len(runs)} notebooks."]
    return write_text(folder / "REPORT.md", "\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> int:
    p = ArgumentParser(prog="python -m analysis.reproduce", description=__doc__,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--full", action="store_true",
                   help="each notebook's full mode (QUICK = False): more seeds, epochs and samples of the same "
                   "digits and synthetic experiments, not the paper-scale runs (python -m "
                   "fmicl_core.paper_settings prints those); notebook 01 fits its flows on a GPU")
    p.add_argument("--only", nargs="+", metavar="NAME", help="run only these notebooks (name or prefix, e.g. 02)")
    p.add_argument("--timeout", type=int, default=1200, help="seconds allowed per cell (>= 1)")
    p.add_argument("--out-dir", default=str(GALLERY), help="gallery folder (default: the repository's figures/)")
    p.add_argument("--html", metavar="DIR", help="also write the rendered book of the executed notebooks into DIR "
                   "(a new or empty folder; needs the book extra)")
    args = p.parse_args(argv)
    try:
        validation.integer("--timeout", args.timeout)
        paths = list_notebooks(args.only)
        check_writable(args.out_dir)
        if args.html is not None:
            book.site_folder("--html", args.html)
    except ValueError as err:
        p.error(str(err))
    os.environ["FMICL_FIGURES"] = args.out_dir
    runs = []
    bar = tqdm(paths, unit="notebook")
    for path in bar:
        bar.set_description(path.stem)
        for stale in [*gallery_dir().glob(f"{path.stem[:3]}*"), gallery_dir() / f"claims_{path.stem}.json"]:
            stale.unlink(missing_ok=True)  # this notebook's files: NN_* and its claims
        runs.append(run_notebook(path, args.full, args.timeout))
        if not runs[-1].ok:
            tqdm.write(f"{path.stem}: FAILED at cell {runs[-1].error_cell}: {runs[-1].error}")
    report = write_report(merge_runs(runs))
    failed = [r.name for r in runs if not r.ok]
    print(f"{len(runs) - len(failed)}/{len(runs)} notebooks ran; report: {report}; "
          f"total {sum(r.seconds for r in runs):.0f} s" + (f"; failed: {', '.join(failed)}" if failed else ""))
    if args.html is not None:
        index = book.write_site(args.html, {r.name: r.notebook for r in runs}, report.read_text(), args.full)
        print(f"rendered book: {index}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
