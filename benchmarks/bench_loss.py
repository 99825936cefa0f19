"""Forward+backward time of ``fmicl_loss`` for every divergence, as ratios against references timed
in the same run: (a) NT-Xent written as lightly's ``NTXentLoss`` does (cross-entropy over the
2N x (2N-1) logits), (b) the floor, one forward 2N x 2N Gram product, and (c) the least work any
divergence's forward+backward needs (:func:`least_work`), which bounds what the floor ratio can
reach on the device.

    python benchmarks/bench_loss.py [--device cpu|cuda] [--reps 30] [--batch 256 512] [--dim 128 512]

Targets: every divergence at most 0.7x NT-Xent at every size timed, and at most 4x the floor at
N = 256, d = 128. The references and the objectives are timed in turn, one call each per round, so
that a change in the load of the machine reaches every ratio alike.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F

from fmicl_core import divergences, validation
from fmicl_core.cli import ArgumentParser
from fmicl_core.losses import fmicl_loss, infonce_loss, unit_rows

NTXENT_TARGET = 0.7
FLOOR_TARGET, FLOOR_SIZE = 4.0, (256, 128)


def nt_xent_reference(z1: torch.Tensor, z2: torch.Tensor, temperature: float = 0.5) -> torch.Tensor:
    """NT-Xent as lightly's NTXentLoss computes it: normalise, 2N x 2N logits, drop the diagonal,
    cross-entropy with the partner view as the label."""
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    n2 = z.shape[0]
    n = n2 // 2
    logits = (z @ z.T / temperature)[~torch.eye(n2, dtype=torch.bool, device=z.device)].view(n2, n2 - 1)
    labels = torch.cat([torch.arange(n, 2 * n) - 1, torch.arange(n)]).to(z.device)
    return F.cross_entropy(logits, labels)


def gram_floor(z1: torch.Tensor, z2: torch.Tensor) -> torch.Tensor:
    z = torch.cat([z1, z2])
    return z @ z.T


class _ExpGramSum(torch.autograd.Function):
    """``sum exp(u u^T)`` of unit rows ``u``, with its gradient ``2 exp(u u^T) u`` taken in the
    forward, as :mod:`fmicl_core.fused` takes its gradient product."""

    @staticmethod
    def forward(ctx, u: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        e = torch.mm(u, u.T).exp_()
        ctx.save_for_backward(torch.mm(e, u))
        return e.sum()

    @staticmethod
    def backward(ctx, d: torch.Tensor):  # type: ignore[override]
        (grad,) = ctx.saved_tensors
        return grad * (2.0 * d)


def least_work(z1: torch.Tensor, z2: torch.Tensor) -> torch.Tensor:
    """What every divergence must do at the least, with nothing else: the loss's normalisation of the
    rows (:func:`fmicl_core.losses.unit_rows`), one Gram product, one exponential and one sum over
    it, and the gradient product. It is a bound, not a loss: no positive term, no excluded pairs, no
    constants."""
    return _ExpGramSum.apply(unit_rows(torch.cat([z1, z2])))


def timer(fn, z1: torch.Tensor, z2: torch.Tensor, backward: bool):
    """A function timing one call of ``fn`` on fresh leaves (and its backward), in milliseconds."""
    def once() -> float:
        a = z1.detach().requires_grad_(backward)
        b = z2.detach().requires_grad_(backward)
        if z1.is_cuda:
            torch.cuda.synchronize()
        start = time.perf_counter()
        out = fn(a, b)
        if backward:
            out.backward()
        if z1.is_cuda:
            torch.cuda.synchronize()
        return (time.perf_counter() - start) * 1e3

    return once


def median_ms(timers: dict, reps: int) -> dict:
    """The median time of each timer over ``reps`` rounds that call every timer once, in turn."""
    for _ in range(max(3, reps // 5)):
        for once in timers.values():
            once()
    times = {label: [] for label in timers}
    for _ in range(reps):
        for label, once in timers.items():
            times[label].append(once())
    return {label: statistics.median(t) for label, t in times.items()}


def run(device: str, batches: list[int], dims: list[int], reps: int) -> list[dict]:
    rows = []
    for n in batches:
        for d in dims:
            g = torch.Generator().manual_seed(0)
            z1 = torch.randn(n, d, generator=g).to(device)
            z2 = torch.randn(n, d, generator=g).to(device)
            candidates = {"infonce (ours)": lambda a, b: infonce_loss(a, b, 0.5)}
            candidates.update({name: (lambda a, b, name=name: fmicl_loss(a, b, name))
                               for name in divergences.names()})
            timers = {"floor": timer(gram_floor, z1, z2, backward=False),
                      "nt-xent": timer(nt_xent_reference, z1, z2, backward=True),
                      "least work": timer(least_work, z1, z2, backward=True)}
            timers.update({label: timer(fn, z1, z2, backward=True) for label, fn in candidates.items()})
            ms = median_ms(timers, reps)
            floor, ref = ms["floor"], ms["nt-xent"]
            rows += [dict(batch=n, dim=d, objective=label, ms=ms[label], vs_ntxent=ms[label] / ref,
                          vs_floor=ms[label] / floor, ntxent_ms=ref, floor_ms=floor,
                          least_vs_floor=ms["least work"] / floor) for label in candidates]
    return rows


def targets(rows: list[dict]) -> list[str]:
    """One line per target: "met" or "NOT met", with the worst divergence and size."""
    fm = [r for r in rows if r["objective"] in divergences.names()]
    worst = max(fm, key=lambda r: r["vs_ntxent"])
    lines = [f"target <= {NTXENT_TARGET}x NT-Xent at every size: "
             f"{'met' if worst['vs_ntxent'] <= NTXENT_TARGET else 'NOT met'} "
             f"(worst {worst['objective']} {worst['vs_ntxent']:.2f}x at N={worst['batch']}, d={worst['dim']})"]
    at_size = [r for r in fm if (r["batch"], r["dim"]) == FLOOR_SIZE]
    label = f"target <= {FLOOR_TARGET:g}x floor at N={FLOOR_SIZE[0]}, d={FLOOR_SIZE[1]}: "
    if not at_size:
        return lines + [label + f"not timed (add --batch {FLOOR_SIZE[0]} --dim {FLOOR_SIZE[1]})"]
    worst = max(at_size, key=lambda r: r["vs_floor"])
    return lines + [label + f"{'met' if worst['vs_floor'] <= FLOOR_TARGET else 'NOT met'} "
                    f"(worst {worst['objective']} {worst['vs_floor']:.2f}x; the least work takes "
                    f"{worst['least_vs_floor']:.2f}x on this device)"]


def main(argv: list[str] | None = None) -> None:
    p = ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu",
                   help="device to time on (default: cuda when available, else cpu)")
    p.add_argument("--batch", type=int, nargs="+", default=[256, 512], help="batch sizes N")
    p.add_argument("--dim", type=int, nargs="+", default=[128, 512], help="embedding dimensions d")
    p.add_argument("--reps", type=int, default=30, help="timed rounds per size (median)")
    args = p.parse_args(argv)
    try:
        validation.device("--device", args.device)
        for flag, values, minimum in (("--batch", args.batch, 2), ("--dim", args.dim, 1), ("--reps", [args.reps], 1)):
            for value in values:
                validation.integer(flag, value, minimum)
    except ValueError as err:
        p.error(str(err))
    print(f"device={args.device} torch={torch.__version__} threads={torch.get_num_threads()}")
    rows = run(args.device, args.batch, args.dim, args.reps)
    print(f"{'N':>4} {'d':>4} {'objective':<15} {'ms':>8} {'x NT-Xent':>10} {'x floor':>8}"
          f" {'NT-Xent ms':>11} {'floor ms':>9} {'least work x floor':>19}")
    for r in rows:
        print(f"{r['batch']:>4} {r['dim']:>4} {r['objective']:<15} {r['ms']:>8.2f} {r['vs_ntxent']:>10.2f}"
              f" {r['vs_floor']:>8.2f} {r['ntxent_ms']:>11.2f} {r['floor_ms']:>9.2f} {r['least_vs_floor']:>19.2f}")
    for line in targets(rows):
        print(line)


if __name__ == "__main__":
    main()
