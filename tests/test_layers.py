"""The layers hold (README, "Layers"): the import-linter contracts of pyproject.toml pass, and they
fail when the trainer imports analysis, so the check has teeth."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LINT = shutil.which("lint-imports") or str(Path(sys.executable).with_name("lint-imports"))


def lint(root: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run([LINT, "--no-cache"], cwd=root, env=env, capture_output=True, text=True)


def test_contracts_hold():
    result = lint(ROOT)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "0 broken" in result.stdout


@pytest.mark.slow
def test_contracts_fail_when_the_trainer_imports_analysis(tmp_path):
    for name in ("fmicl_core", "analysis"):
        shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    train = tmp_path / "fmicl_core" / "train.py"
    train.write_text(train.read_text() + "\nimport analysis  # noqa: E402\n")
    result = lint(tmp_path)
    assert result.returncode != 0
    assert "fmicl_core never imports analysis BROKEN" in result.stdout


def test_question_packages_keep_maths_and_figures_apart():
    """In each analysis subpackage only plots.py draws, and no module parses flags or writes files:
    the commands (top-level modules, through analysis.runner) do that."""
    import ast

    for path in sorted((ROOT / "analysis").glob("*/*.py")):
        imported = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                imported |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module:
                imported.add(node.module)
        assert "argparse" not in imported and "analysis.runner" not in imported, path
        assert "fmicl_core.outputs" not in imported and "analysis.gallery" not in imported, path
        if path.name != "plots.py":
            assert "matplotlib" not in imported and not any(m.startswith("matplotlib") for m in imported), path
