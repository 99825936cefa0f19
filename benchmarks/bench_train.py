"""Throughput of the SimCLR training step and what the augmentation pipeline costs, as ratios measured
in one run. For each setting, images/s (source images; each gives two views) of

  (a) the full step fed by the batched augmentation on the device (``fmicl_core.augment``),
  (b) the same step fed by the per-sample torchvision v2 DataLoader pipeline (``--workers`` processes),
  (c) the model step alone on pre-augmented tensors (forward, f-MICL loss, backward, SGD),

each the median over interleaved rounds, and the ratios: augmentation overhead ``1 - (a)/(c)`` and
batched speed-up ``(a)/(b)``; "augment alone" is the speed ratio of the two augmentations without the
model (batched on the device vs torchvision image by image in one process).

    python benchmarks/bench_train.py                      # cpu: digits/small_cnn and CIFAR-shaped/resnet18
    python benchmarks/bench_train.py --device cuda --compile --settings cifar

Settings: ``digits`` (the bundled digits, small_cnn, B = 256), ``cifar`` (synthetic 3x32x32, ResNet-18
with the CIFAR stem; B = 32 on the cpu so it finishes in about a minute, 512 on cuda), ``stl10``
(synthetic 3x96x96, ResNet-18, recipe with blur; B = 8 cpu / 256 cuda). On cuda the step runs under
bf16 autocast with channels-last tensors (``--no-amp``, ``--no-channels-last`` turn them off).
On a shared, oversubscribed cpu the wall-clock rates swing with the other jobs, and every multi-threaded
op pays an OpenMP wake-up (milliseconds when the cores are busy): ``--threads 1`` removes the latter,
``--clock cpu`` counts CPU seconds of the process and of its DataLoader workers instead of elapsed time.
Targets of the trainer issue for one H100, SimCLR ResNet-18, CIFAR-shaped, B = 512: at most 6 s per
CIFAR-10 epoch (100k views), overhead at most 15 %, speed-up at least 3x; they are checked and
printed when that setting runs on cuda.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import time
from dataclasses import asdict, dataclass
from typing import Callable, Iterator

import torch
from torch import Tensor

from fmicl_core import augment, data, validation
from fmicl_core.cli import ArgumentParser
from fmicl_core.config import TrainConfig
from fmicl_core.methods import build_method
from fmicl_core.objective_config import names as objective_names
from fmicl_core.outputs import save_json

CIFAR_EPOCH_VIEWS = 100_000
TARGETS = {"epoch_s": 6.0, "overhead": 0.15, "speedup": 3.0}


@dataclass(frozen=True)
class Setting:
    dataset: str
    encoder: str
    recipe: str
    shape: tuple[int, int, int]
    batch_cpu: int
    batch_cuda: int


SETTINGS = {
    "digits": Setting("digits", "small_cnn", "digits", (1, 8, 8), 256, 256),
    "cifar": Setting("synthetic", "resnet18", "simclr", (3, 32, 32), 32, 512),
    "stl10": Setting("synthetic", "resnet18", "stl10", (3, 96, 96), 8, 256),
}


@dataclass
class Result:
    setting: str
    device: str
    batch: int
    batched: float  # (a) images/s
    torchvision: float  # (b)
    model_only: float  # (c)
    workers: int
    steps: int
    augment_ratio: float  # two views: batched images/s over the per-image torchvision transform's, one process

    @property
    def overhead(self) -> float:
        return 1.0 - self.batched / self.model_only

    @property
    def speedup(self) -> float:
        return self.batched / self.torchvision

    @property
    def epoch_seconds(self) -> float:
        """Seconds of a CIFAR-10 epoch (50k images, 100k views) at the batched rate."""
        return CIFAR_EPOCH_VIEWS / (2 * self.batched)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def cpu_seconds() -> float:
    """CPU time of this process and of its exited children (the DataLoader workers of a finished round)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def images_per_second(step: Callable[[Tensor, Tensor], None], views: Iterator[tuple[Tensor, Tensor]],
                      batch: int, warmup: int, device: torch.device, clock: str, loader: bool) -> float:
    """Source images per second of ``step`` over the finite feed ``views`` after ``warmup`` untimed steps.

    ``clock="wall"``: elapsed time. ``clock="cpu"``: CPU seconds of this process and of its exited
    children, a cost that other jobs on a shared machine hardly change; a DataLoader's workers exit when
    its feed ends, so for a ``loader`` feed the whole round, warm-up included, is counted."""
    for _ in range(0 if clock == "cpu" and loader else warmup):
        step(*next(views))
    now = time.perf_counter if clock == "wall" else cpu_seconds
    _sync(device)
    start, steps = now(), 0
    for x1, x2 in views:
        step(x1, x2)
        steps += 1
    _sync(device)
    return steps * batch / (now() - start)


def make_step(setting: Setting, device: torch.device, args) -> Callable[[Tensor, Tensor], None]:
    """One SimCLR optimizer step (the trainer's model and objective, SGD) on two batches of views."""
    config = TrainConfig(encoder=setting.encoder, proj_dim=args.proj_dim).with_objective(name=args.objective)
    model = build_method(config, setting.shape[0], setting.shape[1]).to(device)
    cuda = device.type == "cuda"
    channels_last = cuda and args.channels_last
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    forward = torch.compile(model) if args.compile else model
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)

    def step(x1: Tensor, x2: Tensor) -> None:
        if channels_last:
            x1, x2 = (x.contiguous(memory_format=torch.channels_last) for x in (x1, x2))
        with torch.autocast("cuda", torch.bfloat16, enabled=cuda and args.amp):
            loss = forward(x1, x2)[0]
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    return step


def run_setting(name: str, device: torch.device, args) -> Result:
    s = SETTINGS[name]
    cuda = device.type == "cuda"
    batch = args.batch_size or (s.batch_cuda if cuda else s.batch_cpu)
    steps = args.steps or (20 if cuda else 3)
    if s.dataset == "digits":
        train = data.load_dataset("digits")
    else:
        train = data.load_dataset("synthetic", shape=s.shape, size=max(4 * batch, 2048), seed=args.seed)
    if batch > len(train):
        raise ValueError(f"--batch-size {batch} is larger than the {len(train)} images of setting {name!r}")
    torch.manual_seed(args.seed)
    step = make_step(s, device, args)
    aug = augment.make_augment(s.recipe, train.image_size, train.channels, compile=args.compile)
    images = train.images.to(device)
    gen = torch.Generator(device).manual_seed(args.seed)
    pairs = data.TwoViews(train, augment.torchvision_transform(s.recipe, train.image_size, train.channels))
    workers = args.workers if args.workers >= 0 else min(8, os.cpu_count() or 1)

    def batched_views(n_batches: int) -> Iterator[tuple[Tensor, Tensor]]:
        for _ in range(n_batches):
            x = images[torch.randint(0, len(images), (batch,), device=device, generator=gen)]
            yield aug(x, gen), aug(x, gen)

    def loader_views(n_batches: int) -> Iterator[tuple[Tensor, Tensor]]:
        """A fresh DataLoader over exactly ``n_batches`` batches: its workers start and stop within the
        round, so they neither work in the background of the other pipelines nor carry a full queue over."""
        index = torch.randint(0, len(train), (n_batches * batch,)).tolist()
        loader = torch.utils.data.DataLoader(torch.utils.data.Subset(pairs, index), batch_size=batch,
                                             num_workers=workers, pin_memory=cuda)
        for x1, x2, _ in loader:
            yield x1.to(device, non_blocking=True), x2.to(device, non_blocking=True)

    fixed = next(batched_views(1))

    def model_views(n_batches: int) -> Iterator[tuple[Tensor, Tensor]]:
        return iter([fixed] * n_batches)

    feeds = {"model_only": model_views, "batched": batched_views, "torchvision": loader_views}
    rates: dict[str, list[float]] = {key: [] for key in feeds}
    for round_ in range(args.rounds):  # interleaved, so that a change of machine load hits all three
        for key, views in feeds.items():
            # the loader warms up every round, also draining the batches its workers prefetched (2 each)
            warmup = args.warmup + 2 * workers if key == "torchvision" else args.warmup if round_ == 0 else 0
            rates[key].append(images_per_second(step, views(warmup + steps), batch, warmup, device, args.clock,
                                                key == "torchvision"))
    rate = {key: statistics.median(values) for key, values in rates.items()}
    return Result(name, str(device), batch, rate["batched"], rate["torchvision"], rate["model_only"], workers,
                  steps, augmentation_ratio(aug, pairs, images, gen, batch, steps, device))


def augmentation_ratio(aug, pairs: data.TwoViews, images: Tensor, gen: torch.Generator, batch: int, steps: int,
                       device: torch.device) -> float:
    """Images/s of the batched augmentation over those of the torchvision transform applied image by image
    in this process (two views each; no model): the augmentation cost alone, measured in the same run."""
    def batched() -> None:
        x = images[:batch]
        aug(x, gen), aug(x, gen)

    def per_image() -> None:
        for i in range(batch):
            pairs[i]

    seconds = []
    for fn in (batched, per_image):
        fn()
        _sync(device)
        start = time.perf_counter()
        for _ in range(steps):
            fn()
        _sync(device)
        seconds.append(time.perf_counter() - start)
    return seconds[1] / seconds[0]


def table(results: list[Result], clock: str) -> str:
    head = (f"{'setting':<8} {'device':<7} {'B':>5} {'steps':>5} {'workers':>7} {'(a) batched':>12} "
            f"{'(b) torchvision':>16} "
            f"{'(c) model':>10} {'overhead 1-a/c':>15} {'speed-up a/b':>13} {'s/CIFAR epoch':>14} "
            f"{'augment alone':>14}")
    lines = [head, "-" * len(head)]
    for r in results:
        epoch = f"{r.epoch_seconds:.1f}" if r.setting == "cifar" else "-"
        lines.append(f"{r.setting:<8} {r.device:<7} {r.batch:>5} {r.steps:>5} {r.workers:>7} {r.batched:>12.1f} "
                     f"{r.torchvision:>16.1f} "
                     f"{r.model_only:>10.1f} {r.overhead:>14.1%} {r.speedup:>12.2f}x {epoch:>14} "
                     f"{r.augment_ratio:>13.1f}x")
    unit = "images/s" if clock == "wall" else "images per CPU-second (process + DataLoader workers)"
    return "\n".join(lines) + (f"\n({unit} of source images; each step trains on two views of each; "
                               "augment alone: batched over per-image torchvision, one process, wall clock)")


def check_targets(results: list[Result]) -> list[str]:
    """The H100 targets, for the cifar setting at B = 512 on cuda."""
    lines = []
    for r in results:
        if r.setting == "cifar" and r.device.startswith("cuda") and r.batch == 512:
            for what, value, ok in (
                    (f"epoch (100k views) <= {TARGETS['epoch_s']:.0f} s", f"{r.epoch_seconds:.2f} s",
                     r.epoch_seconds <= TARGETS["epoch_s"]),
                    (f"augmentation overhead <= {TARGETS['overhead']:.0%}", f"{r.overhead:.1%}",
                     r.overhead <= TARGETS["overhead"]),
                    (f"speed-up over the DataLoader >= {TARGETS['speedup']:.0f}x", f"{r.speedup:.2f}x",
                     r.speedup >= TARGETS["speedup"])):
                lines.append(f"target {what}: {value} {'met' if ok else 'NOT met'} ({torch.cuda.get_device_name()})")
    return lines


def parser() -> argparse.ArgumentParser:
    p = ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="auto", help="auto (cpu, then cuda too when available), cpu or cuda")
    p.add_argument("--settings", nargs="+", choices=list(SETTINGS), default=None,
                   help="settings to time (default: digits and cifar on the cpu, cifar on cuda)")
    p.add_argument("--batch-size", type=int, default=0, help="images per step (0: the setting's default)")
    p.add_argument("--steps", type=int, default=0, help="timed steps per pipeline and round (0: 3 cpu, 20 cuda)")
    p.add_argument("--rounds", type=int, default=3,
                   help="rounds of (c), (a), (b) in turn; each rate is the median over rounds")
    p.add_argument("--warmup", type=int, default=1,
                   help="untimed steps before timing (first round; pipeline (b): every round, plus its prefetch)")
    p.add_argument("--workers", type=int, default=-1,
                   help="DataLoader worker processes of pipeline (b) (-1: the cpu count, at most 8)")
    p.add_argument("--objective", default="kl", help="objective of fmicl_core.objectives (default kl)")
    p.add_argument("--proj-dim", type=int, default=512, help="embedding dimension d (paper: 512)")
    p.add_argument("--compile", action="store_true", help="torch.compile the model and the batched augmentation")
    p.add_argument("--no-amp", dest="amp", action="store_false", help="no bf16 autocast on cuda")
    p.add_argument("--no-channels-last", dest="channels_last", action="store_false",
                   help="keep the contiguous (NCHW) memory format on cuda")
    p.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                   help="wall: elapsed time; cpu: CPU seconds of the process and its DataLoader workers "
                        "(a cost that other jobs on a shared cpu machine do not change; cpu device only)")
    p.add_argument("--threads", type=int, default=0,
                   help="torch cpu threads of the main process (0: torch's default; 1 avoids the thread "
                        "wake-up cost of every op on a busy shared machine)")
    p.add_argument("--seed", type=int, default=0, help="random seed")
    p.add_argument("--json", default=None, help="also write the numbers to this JSON file")
    return p


def main(argv: list[str] | None = None) -> list[Result]:
    p = parser()
    args = p.parse_args(argv)
    try:
        for flag, minimum in (("rounds", 1), ("steps", 0), ("warmup", 0), ("batch_size", 0), ("workers", -1),
                              ("threads", 0), ("proj_dim", 1), ("seed", 0)):
            validation.integer(f"--{flag.replace('_', '-')}", getattr(args, flag), minimum)
        validation.choice("--objective", args.objective, objective_names())
        if args.device != "auto":
            validation.device("--device", args.device)
        if args.clock == "cpu" and args.device not in ("auto", "cpu"):
            raise ValueError(f"--clock cpu measures the cpu device only, not --device {args.device!r}")
    except ValueError as err:
        p.error(str(err))
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    if args.device == "auto" and args.clock == "cpu":
        args.device = "cpu"
    if args.device == "auto":
        runs = [("cpu", args.settings or ["digits", "cifar"])]
        if torch.cuda.is_available():
            runs.append(("cuda", args.settings or ["cifar"]))
    else:
        default = ["cifar"] if args.device.startswith("cuda") else ["digits", "cifar"]
        runs = [(args.device, args.settings or default)]
    results = []
    for device, names in runs:
        for name in names:
            results.append(run_setting(name, torch.device(device), args))
            print(f"{name} on {device}: done", flush=True)
    print(table(results, args.clock))
    for line in check_targets(results):
        print(line)
    print(f"(torch {torch.__version__}, {torch.get_num_threads()} cpu threads, load average "
          f"{os.getloadavg()[0]:.1f}; each rate the median of {args.rounds} interleaved rounds)")
    if args.json:
        numbers = [dict(asdict(r), overhead=r.overhead, speedup=r.speedup) for r in results]
        save_json(args.json, {"results": numbers, "args": vars(args)})
    return results


if __name__ == "__main__":
    main()
