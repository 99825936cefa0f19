"""benchmarks/gpu_check.py --dry-run: every part of the GPU check runs on the cpu at tiny sizes (the
loss table, the eager and compiled SimCLR step, torchrun with a resume, the ViT MoCo v3 step)."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_dry_run_runs_every_part():
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "gpu_check.py"), "--dry-run"], cwd=ROOT,
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-2000:]
    table = proc.stdout[proc.stdout.index("cpu (dry run)"):]
    rows = [line.split(" | ") for line in table.splitlines()[3:]]
    assert {row[0].strip() for row in rows} == {"loss", "train", "torchrun", "vit"}
    assert len([r for r in rows if r[0].strip() == "loss"]) == 4 and len([r for r in rows if r[0].strip() == "train"]) == 8
    assert all(row[-1].strip() in ("dry run", "") for row in rows)
    assert "finished in" in next(r[2] for r in rows if r[0].strip() == "torchrun")
    assert "losses finite: True" in next(r[2] for r in rows if r[0].strip() == "vit")


def test_without_a_gpu_the_full_check_says_so():
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "gpu_check.py")], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 2 and "no CUDA GPU" in proc.stderr and proc.stderr.count("\n") == 1
