"""One timed check of everything that needs a GPU, with "met" / "NOT met" per target.

    python benchmarks/gpu_check.py              # on one CUDA GPU: about 5-8 minutes
    python benchmarks/gpu_check.py --dry-run    # the same code at tiny sizes on the cpu (CI runs it)

Parts (every ratio is measured in this run against a reference timed in the same process):

1. the f-MICL loss, forward + backward, of every divergence against NT-Xent and the Gram floor
   (``bench_loss.py``), N in {256, 512, 1024, 4096} x d in {128, 512, 2048}, float32 and under bf16
   autocast; targets: at most 0.7x NT-Xent everywhere, at most 4x the floor at N = 256, d = 128;
2. the SimCLR step, ResNet-18 with the CIFAR stem on synthetic 32x32 images at B = 512, eager and
   compiled (``bench_train.py``): seconds per CIFAR-10 epoch (50,000 images; target 6 s on an
   H100-class GPU), the augmentation's share of the step (target 15 %), throughput against the
   torchvision DataLoader pipeline (target 3x), peak memory;
3. a one-GPU ``torchrun`` run (nccl process group) of two epochs, stopped after one and resumed;
4. the MoCo v3 step with the ViT-Small encoder (``--encoder vit_small``), images/s and peak memory.

``--dry-run`` shrinks every size (N, d, B, images) and runs on the cpu with gloo in place of nccl; its
verdicts say "dry run" because the targets are the GPU's.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_loss  # noqa: E402  (the sibling benchmark scripts)
import bench_train  # noqa: E402

from fmicl_core.cli import ArgumentParser  # noqa: E402
from fmicl_core.config import TrainConfig  # noqa: E402
from fmicl_core.methods import build_method  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
LOSS_TARGETS = {"vs_ntxent": 0.7, "vs_floor": 4.0}
FLOOR_SIZE = (256, 128)


@dataclass(frozen=True)
class Sizes:
    """What each part runs at: the GPU sizes, or the tiny ones of ``--dry-run``."""

    loss_batches: tuple[int, ...]
    loss_dims: tuple[int, ...]
    loss_reps: int
    train_batch: int
    train_steps: int
    vit_batch: int
    vit_image: int
    vit: str
    torchrun_images: int
    torchrun_encoder: str
    torchrun_shape: str


GPU = Sizes((256, 512, 1024, 4096), (128, 512, 2048), 20, 512, 20, 256, 32, "vit_small", 4096, "resnet18", "3,32,32")
DRY = Sizes((16, 32), (8, 16), 2, 8, 2, 4, 8, "vit_tiny", 64, "small_cnn", "3,8,8")


@dataclass(frozen=True)
class Check:
    part: str
    what: str
    measured: str
    target: str
    met: bool | None  # None: no target (a measurement only)


def _verdict(check: Check, dry: bool) -> str:
    if check.met is None:
        return ""
    return "dry run" if dry else ("met" if check.met else "NOT met")


def _peak(device: torch.device) -> str:
    return f"{torch.cuda.max_memory_allocated(device) / 2**20:.0f} MiB" if device.type == "cuda" else "n/a (cpu)"


def _reset_peak(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)


def loss_checks(device: torch.device, sizes: Sizes) -> list[Check]:
    """Part 1: every divergence's forward + backward against NT-Xent and the floor, fp32 and bf16."""
    checks = []
    for precision in ("float32", "bf16"):
        with torch.autocast(device.type, torch.bfloat16, enabled=precision == "bf16"):
            rows = bench_loss.run(str(device), list(sizes.loss_batches), list(sizes.loss_dims), sizes.loss_reps)
        fmicl = [r for r in rows if r["objective"] in bench_loss.divergences.names()]
        worst = max(fmicl, key=lambda r: r["vs_ntxent"])
        checks.append(Check("loss", f"{precision}: worst divergence / NT-Xent, all sizes",
                            f"{worst['vs_ntxent']:.2f}x ({worst['objective']}, N={worst['batch']}, d={worst['dim']})",
                            f"<= {LOSS_TARGETS['vs_ntxent']}x", worst["vs_ntxent"] <= LOSS_TARGETS["vs_ntxent"]))
        n, d = FLOOR_SIZE if FLOOR_SIZE[0] in sizes.loss_batches else (sizes.loss_batches[0], sizes.loss_dims[0])
        at = [r for r in fmicl if (r["batch"], r["dim"]) == (n, d)]
        worst = max(at, key=lambda r: r["vs_floor"])
        checks.append(Check("loss", f"{precision}: worst divergence / Gram floor at N={n}, d={d}",
                            f"{worst['vs_floor']:.2f}x ({worst['objective']}; least work "
                            f"{worst['least_vs_floor']:.2f}x)", f"<= {LOSS_TARGETS['vs_floor']}x",
                            worst["vs_floor"] <= LOSS_TARGETS["vs_floor"]))
    return checks


def train_checks(device: torch.device, sizes: Sizes) -> list[Check]:
    """Part 2: the SimCLR ResNet-18 step, eager and compiled."""
    checks = []
    for compiled in (False, True):
        argv = ["--device", str(device), "--settings", "cifar", "--batch-size", str(sizes.train_batch),
                "--steps", str(sizes.train_steps), "--rounds", "1", "--workers", "2" if device.type == "cpu" else "8"]
        args = bench_train.parser().parse_args(argv + ["--compile"] * compiled)
        _reset_peak(device)
        r = bench_train.run_setting("cifar", device, args)
        label = "compiled" if compiled else "eager"
        t = bench_train.TARGETS
        checks += [
            Check("train", f"{label}: seconds per CIFAR-10 epoch (B={r.batch})", f"{r.epoch_seconds:.2f} s",
                  f"<= {t['epoch_s']:.0f} s", r.epoch_seconds <= t["epoch_s"]),
            Check("train", f"{label}: augmentation share of the step", f"{r.overhead:.1%}",
                  f"<= {t['overhead']:.0%}", r.overhead <= t["overhead"]),
            Check("train", f"{label}: throughput / torchvision DataLoader", f"{r.speedup:.2f}x",
                  f">= {t['speedup']:.0f}x", r.speedup >= t["speedup"]),
            Check("train", f"{label}: peak memory", _peak(device), "", None),
        ]
    return checks


def torchrun_check(device: torch.device, sizes: Sizes) -> list[Check]:
    """Part 3: two epochs under torchrun (nccl on cuda, gloo on the cpu), stopped after one, resumed."""
    flags = ["--dataset", "synthetic", "--synthetic-shape", sizes.torchrun_shape,
             "--synthetic-size", str(sizes.torchrun_images), "--encoder", sizes.torchrun_encoder, "--batch-size", str(sizes.train_batch), "--epochs", "2", "--warmup-epochs", "1",
             "--knn-every", "0", "--knn-k", "10", "--probe-iters", "10", "--n-pairs", "8", "--no-progress",
             "--device", "cuda" if device.type == "cuda" else "cpu", "--name", "torchrun"]
    with tempfile.TemporaryDirectory(prefix="gpu-check-") as tmp:
        command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=1",
                   "-m", "fmicl_core.train", *flags, "--out-dir", tmp]
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        started = time.perf_counter()
        first = subprocess.run([*command, "--stop-after", "1"], env=env, capture_output=True, text=True)
        second = subprocess.run([*command, "--resume"], env=env, capture_output=True, text=True)
        seconds = time.perf_counter() - started
        done = (Path(tmp) / "torchrun" / "result.json").is_file()
    ok = first.returncode == 0 and second.returncode == 0 and done
    detail = "" if ok else f" ({(first.stderr or second.stderr).strip().splitlines()[-1:]})"
    backend = "nccl" if device.type == "cuda" else "gloo"
    return [Check("torchrun", f"one-GPU torchrun ({backend}): 1 epoch, stop, --resume 1 epoch",
                  f"{'finished' if ok else 'FAILED'} in {seconds:.0f} s{detail}", "finishes", ok)]


def vit_check(device: torch.device, sizes: Sizes) -> list[Check]:
    """Part 4: MoCo v3 steps with the ViT encoder (AdamW, bf16 autocast on cuda)."""
    config = TrainConfig(method="mocov3", encoder=sizes.vit, optimizer="adamw")
    model = build_method(config, 3, sizes.vit_image).to(device)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4, weight_decay=0.1)
    x1, x2 = torch.randn(2, sizes.vit_batch, 3, sizes.vit_image, sizes.vit_image, device=device).unbind(0)

    def step() -> float:
        with torch.autocast(device.type, torch.bfloat16, enabled=device.type == "cuda"):
            loss, _, keys = model(x1, x2)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        model.after_step(keys, 0.5)
        return loss.item()

    _reset_peak(device)
    losses = [step() for _ in range(2)]  # warm-up
    started = time.perf_counter()
    losses += [step() for _ in range(sizes.train_steps)]
    rate = sizes.train_steps * sizes.vit_batch / (time.perf_counter() - started)
    finite = all(torch.isfinite(torch.tensor(losses)))
    return [Check("vit", f"MoCo v3 {sizes.vit} step, B={sizes.vit_batch}, {sizes.vit_image}x{sizes.vit_image}",
                  f"{rate:.0f} images/s, peak {_peak(device)}, losses finite: {finite}", "finite loss",
                  finite)]


def table(checks: list[Check], dry: bool) -> str:
    rows = [(c.part, c.what, c.measured, c.target, _verdict(c, dry)) for c in checks]
    head = ("part", "check", "measured", "target", "verdict")
    widths = [max(len(str(r[i])) for r in [head, *rows]) for i in range(5)]
    lines = [" | ".join(str(v).ljust(w) for v, w in zip(row, widths)) for row in [head, *rows]]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> list[Check]:
    p = ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dry-run", action="store_true", help="tiny sizes on the cpu (checks the code, not the targets)")
    p.add_argument("--parts", nargs="+", choices=("loss", "train", "torchrun", "vit"),
                   default=["loss", "train", "torchrun", "vit"], help="parts to run")
    args = p.parse_args(argv)
    if not args.dry_run and not torch.cuda.is_available():
        p.error("no CUDA GPU on this machine; --dry-run runs the same code on the cpu")
    device = torch.device("cpu" if args.dry_run else "cuda")
    sizes = DRY if args.dry_run else GPU
    parts = {"loss": loss_checks, "train": train_checks, "torchrun": torchrun_check, "vit": vit_check}
    checks = []
    for name in args.parts:
        started = time.perf_counter()
        checks += parts[name](device, sizes)
        print(f"{name}: {time.perf_counter() - started:.0f} s", flush=True)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu (dry run)"
    print(f"\n{name}, torch {torch.__version__}\n{table(checks, args.dry_run)}")
    return checks


if __name__ == "__main__":
    main()
