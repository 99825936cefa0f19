"""``python -m analysis.table2 RUN_DIR [RUN_DIR ...]``: finished trainer runs in the layout of f-MICL
Table 2 (Lu et al. 2023, arXiv:2402.10150): one row per objective, one column per dataset, this
package's linear top-1 % as mean ± sd over seeds (sd with ddof = 1) beside the paper's number, the
difference, and whether it lies within the paper's sd plus ours.

A RUN_DIR is a run folder of ``python -m fmicl_core.train`` or a folder of such run folders (e.g.
``runs``). Runs are grouped by dataset and objective (method and objective: MoCo, SimCLR, AU, KL, ...);
within a group they must differ only in the seed. The table is printed and written as
``<out-dir>/<name>.md``, its numbers as ``<name>.json``."""

from __future__ import annotations

import argparse
import statistics
from dataclasses import dataclass
from pathlib import Path

from analysis.runner import Command, run
from fmicl_core import validation
from fmicl_core.features import RunFolder
from fmicl_core.outputs import write_text
from fmicl_core.paper_settings import DATASET_NAMES, TABLE2, TABLE2_ROWS, paper_text

__all__ = ["COMMAND", "Cell", "collect", "main", "markdown", "table_label"]

NOT_SETTINGS = frozenset({"seed", "name", "out_dir", "data_root", "download", "device", "compile", "progress",
                          "workers", "resume", "overwrite", "stop_after", "knn_every", "n_pairs"})
"""Config fields in which the runs of one cell may differ: the seed and how a run was executed."""
_LABELS = {(method, objective): label for label, (method, objective, _) in TABLE2_ROWS.items()}


def table_label(method: str, objective: str) -> str:
    """The Table 2 row of a run (``MoCo``, ``SimCLR``, ``KL``, ...; other runs: ``method objective``)."""
    return _LABELS.get((method, objective), f"{method} {objective}")


@dataclass(frozen=True)
class Cell:
    """One dataset and objective: our linear top-1 % over seeds and the paper's number.

    ``sd`` is None for one seed; ``verdict`` is ``within`` when |difference| <= paper sd + our sd
    (ours counted as 0 for one seed), ``outside`` otherwise, ``no paper number`` without one."""

    dataset: str
    label: str
    probe: str
    seeds: tuple[int, ...]
    runs: tuple[str, ...]
    mean: float
    sd: float | None
    paper_mean: float | None
    paper_sd: float | None

    @property
    def difference(self) -> float | None:
        return None if self.paper_mean is None else self.mean - self.paper_mean

    @property
    def verdict(self) -> str:
        if self.paper_mean is None:
            return "no paper number"
        return "within" if abs(self.difference) <= self.paper_sd + (self.sd or 0.0) else "outside"

    def text(self) -> str:
        n = len(self.seeds)
        ours = f"{self.mean:.2f} (n=1)" if self.sd is None else f"{self.mean:.2f} ± {self.sd:.2f} (n={n})"
        if self.paper_mean is None:
            return f"{ours}; no paper number"
        return (f"{ours}; paper {paper_text(self.paper_mean, self.paper_sd)}; "
                f"diff {self.difference:+.2f}; {self.verdict}")


def _run_folders(paths: list[str]) -> list[RunFolder]:
    """The run folders named by RUN_DIR arguments: each a run folder or a folder of run folders."""
    folders = []
    for path in paths:
        folder = RunFolder(validation.existing_path("RUN_DIR", path, kind="folder"))
        inside = [RunFolder(p) for p in sorted(folder.path.iterdir()) if RunFolder(p).config.is_file()]
        if not folder.config.is_file() and not inside:
            raise ValueError(f"RUN_DIR {path!r} is neither a run folder of python -m fmicl_core.train nor a folder "
                             "of run folders (no config.json in it or in its sub-folders)")
        folders += [folder] if folder.config.is_file() else inside
    return folders


def _settings(config: dict) -> dict:
    """A run's settings other than :data:`NOT_SETTINGS`, with the objective's fields as ``objective.<field>``."""
    out = {k: v for k, v in config.items() if k not in NOT_SETTINGS and k != "objective"}
    out.update({f"objective.{k}": v for k, v in config["objective"].items()})
    return out


def _read(folder: RunFolder) -> tuple[dict, float]:
    """A finished run's config and its linear top-1 %; a one-line ``ValueError`` otherwise."""
    config = folder.read_json("config")
    if not isinstance(config, dict) or not {"method", "dataset", "seed"} <= config.keys() \
            or not isinstance(config.get("objective"), dict) or "name" not in config["objective"]:
        raise ValueError(f"{str(folder.config)!r} is not the config of a python -m fmicl_core.train run")
    if not folder.complete:
        raise ValueError(f"run folder {str(folder.path)!r} is not finished (no result.json); finish it with "
                         "--resume or leave it out")
    result = folder.read_json("result")
    if not isinstance(result.get("linear_acc"), (int, float)):
        raise ValueError(f"{str(folder.result)!r} has no linear_acc")
    return config, 100.0 * result["linear_acc"]


def _cell(dataset: str, label: str, members: list[tuple[RunFolder, dict, float]]) -> Cell:
    """The cell of one group, after checking that its runs differ only in the seed."""
    first_folder, first = members[0][0], _settings(members[0][1])
    seeds = [config["seed"] for _, config, _ in members]
    for folder, config, _ in members[1:]:
        other = _settings(config)
        changed = sorted(k for k in first.keys() | other.keys() if first.get(k) != other.get(k))
        if changed:
            k = changed[0]
            raise ValueError(f"the {label} runs on {dataset} differ in {', '.join(changed)} besides the seed "
                             f"({k}={first.get(k)!r} in {str(first_folder.path)!r}, {other.get(k)!r} in "
                             f"{str(folder.path)!r}); pass runs of one setting per dataset and objective")
    repeated = sorted({s for s in seeds if seeds.count(s) > 1})
    if repeated:
        raise ValueError(f"the {label} runs on {dataset} repeat seed {repeated[0]}; pass each seed once")
    values = [acc for _, _, acc in members]
    paper = TABLE2.get(dataset, {}).get(label)
    probe = members[0][1].get("probe", "lbfgs")
    return Cell(dataset, label, probe, tuple(seeds), tuple(str(f.path) for f, _, _ in members),
                statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else None,
                *(paper or (None, None)))


def collect(paths: list[str]) -> list[Cell]:
    """The cells of the finished runs under ``paths``, in Table 2's row and column order."""
    groups: dict[tuple[str, str], list] = {}
    for folder in _run_folders(paths):
        config, acc = _read(folder)
        key = (config["dataset"], table_label(config["method"], config["objective"]["name"]))
        groups.setdefault(key, []).append((folder, config, acc))
    rows, columns = _order([label for _, label in groups], list(TABLE2_ROWS)), _order([d for d, _ in groups],
                                                                                      list(TABLE2))
    return [_cell(d, label, groups[d, label]) for label in rows for d in columns if (d, label) in groups]


def _order(names: list[str], known: list[str]) -> list[str]:
    """``names`` once each, those of ``known`` first in its order, then the others sorted."""
    present = set(names)
    return [n for n in known if n in present] + sorted(present - set(known))


def markdown(cells: list[Cell]) -> str:
    """The Table 2 layout of ``cells``: objectives as rows, datasets as columns."""
    rows = list(dict.fromkeys(c.label for c in cells))
    columns = _order([c.dataset for c in cells], list(TABLE2))
    by_key = {(c.label, c.dataset): c for c in cells}
    lines = ["| objective | " + " | ".join(DATASET_NAMES.get(d, d) for d in columns) + " |",
             "|---" * (len(columns) + 1) + "|"]
    for label in rows:
        lines.append(f"| {label} | " + " | ".join(by_key[label, d].text() if (label, d) in by_key else "-"
                                                   for d in columns) + " |")
    lines += ["", "Linear top-1 %, mean ± sd over seeds (sd with ddof = 1). Paper: f-MICL Table 2 (Lu et al. 2023, "
              "arXiv:2402.10150). within: |diff| <= paper sd + our sd (our sd counted as 0 when n=1). Linear probe: "
              + ", ".join(sorted({c.probe for c in cells})) + "."]
    return "\n".join(lines)


def _arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run_dirs", nargs="+", metavar="RUN_DIR",
                   help="run folders of python -m fmicl_core.train, or folders of them (e.g. runs)")


def _compute(args: argparse.Namespace) -> dict:
    cells = collect(args.run_dirs)
    text = markdown(cells)
    path = write_text(Path(args.out_dir) / f"{args.name}.md", text + "\n")
    return {"cells": cells, "markdown": text, "markdown_path": str(path)}


def _numbers(out: dict) -> dict:
    cells = [dict(vars(c), difference=c.difference, verdict=c.verdict) for c in out["cells"]]
    return {"cells": cells, "markdown": out["markdown"]}


COMMAND = Command(
    prog="python -m analysis.table2",
    description=__doc__,
    figure="table2",
    arguments=_arguments,
    compute=_compute,
    headline=lambda out: [out["markdown"], f"wrote {out['markdown_path']}"],
    numbers=_numbers,
)


def main(argv: list[str] | None = None) -> dict:
    return run(COMMAND, argv)


if __name__ == "__main__":
    main()
