"""benchmarks/bench_loss.py: its least-work reference computes the gradient of what it returns (so the
bound it gives is the cost of a true forward+backward), and one tiny run reports every ratio."""

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
import bench_loss  # noqa: E402


def test_least_work_gradient_is_that_of_its_value():
    g = torch.Generator().manual_seed(0)
    z1, z2 = (torch.randn(5, 3, generator=g, dtype=torch.float64, requires_grad=True) for _ in range(2))
    assert torch.autograd.gradcheck(bench_loss.least_work, (z1, z2))
    u = torch.nn.functional.normalize(torch.cat([z1, z2]), dim=1)
    assert torch.allclose(bench_loss.least_work(z1, z2), (u @ u.T).exp().sum())


def test_one_run_reports_every_objective_and_the_bound():
    rows = bench_loss.run("cpu", [8], [4], reps=1)
    assert {r["objective"] for r in rows} == {"infonce (ours)", *bench_loss.divergences.names()}
    assert all(r["least_vs_floor"] > 0 and r["vs_floor"] > 0 and r["vs_ntxent"] > 0 for r in rows)
    lines = bench_loss.targets(rows)
    assert "NT-Xent at every size" in lines[0] and "not timed" in lines[1]
