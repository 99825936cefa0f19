"""The contrastive trainer and its CLI: ``python -m fmicl_core.train``.

One loop serves SimCLR, MoCo and MoCo v3 (:mod:`fmicl_core.methods`) with every objective of
:mod:`fmicl_core.objectives`; all settings are :class:`~fmicl_core.config.TrainConfig` fields
(``--help`` lists them). Without arguments it trains SimCLR with the KL f-MICL objective
(f-Gaussian similarity, ``(2 sigma^2)^-1 = 1``, ``alpha = 40``, ``mu = 1``: Lu et al. 2023,
f-MICL, arXiv:2402.10150, Table 7) on
scikit-learn's digits on the CPU in about two minutes, and prints the kNN and linear-probe accuracy
of the trained encoder next to those of the same encoder at initialisation (the floor). The linear
probe is ``--probe lbfgs`` (fast) or ``sgd`` (the standard SSL linear evaluation), both of
:mod:`fmicl_core.evaluate`; its protocol is printed and its name is stored in ``result.json``.
With ``--dataset stl10 --unlabeled`` the pre-training also draws from the 100,000 unlabeled images;
features, kNN and probe always use the labelled train/test splits.

Run folder ``<out_dir>/<name>/`` (:class:`fmicl_core.features.RunFolder`): ``config.json``,
``metrics.jsonl`` (one JSON line per epoch: loss, f-MI estimate, lr, kNN accuracy when evaluated,
images/s, seconds), ``checkpoint.pt``, ``features_init.npz`` and ``features.npz`` (the encoder at
initialisation and trained; :mod:`fmicl_core.features`) and, last, ``result.json``. Only rank 0
writes, holding the folder's lock for the whole run; a folder that holds a run is refused unless
``resume`` (continue its unfinished run) or ``overwrite`` (delete it first) says what to do. The analyses ask for a run through :func:`ensure_run`, which trains it only when its folder
does not hold it already.

Optimisation: SGD with momentum (the paper's small-vision recipe) or AdamW; the learning rate rises
linearly from 0 over ``warmup_epochs`` and then follows a cosine (or linear) decay to 0, per step.

Data: the whole split lives on the device as one uint8 tensor; every epoch is a permutation of it
drawn from a generator seeded with ``(seed, epoch)``, cut into global batches of ``batch_size``
(the incomplete last batch is dropped); under ``torchrun`` rank r takes the r-th contiguous slice
of each global batch (the split DistributedSampler makes), so the ranks' slices concatenated in rank
order are the one-process batch. The two views of a step come from a generator seeded with
``(seed, epoch, step, rank)`` (``--augment batched``) or, per image, ``(seed, epoch, position)``
(``--augment torchvision``). A position in the run therefore fixes every random draw, which
is what makes ``--resume`` exact: the checkpoint stores the model (momentum encoder, queue), the
optimizer, the position (epoch, step), the running sums of the epoch, and every global RNG
(:func:`fmicl_core.checkpoint.rng_state`).

Checkpoints are written atomically after every epoch (SIGKILL loses at most the epoch in progress)
and, on SIGTERM, after the step in progress; then the run stops (:class:`TrainingInterrupted`,
exit code 143 from the CLI). On the CPU, 4 epochs straight and 2 + ``--resume`` + 2 give
bit-identical weights and metrics.

Multi-GPU: under ``torchrun`` the process group is initialised from the environment (nccl on GPUs,
gloo on CPUs), the model is wrapped in DDP and the objectives gather the negatives over ranks with
gradients (``gather_all``). On cuda: bf16 autocast, channels-last, optional ``torch.compile``.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import signal
import sys
import threading
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Iterator

import numpy as np
import torch
import torch.distributed as dist
from torch import Tensor
from tqdm.auto import tqdm

from fmicl_core import augment, checkpoint, data, validation
from fmicl_core.config import RESUMABLE, TrainConfig, from_args, parser
from fmicl_core.distributed import rank_and_world
from fmicl_core.evaluate import Augmented, ProbeProtocol, SGDProbeProtocol, knn_accuracy, linear_probe
from fmicl_core.export import compute_features, encode
from fmicl_core.features import Features, RunFolder, save_features
from fmicl_core.methods import SimCLR, build_method
from fmicl_core.outputs import check_writable, save_json, write_text

__all__ = ["TrainConfig", "TrainResult", "TrainingDiverged", "TrainingInterrupted", "ensure_run", "epoch_order", "learning_rate",
           "local_batch", "main", "train"]

PERMUTATION, VIEWS, SAMPLE = 0, 1, 2  # streams of derive_seed


@dataclass(frozen=True)
class TrainResult:
    """What a finished run reports (accuracies in [0, 1]; NaN on ranks other than 0)."""

    run_dir: Path
    knn_acc: float
    linear_acc: float
    random_knn_acc: float
    random_linear_acc: float
    seconds: float
    probe: str = "lbfgs"
    """The linear probe behind ``linear_acc`` and ``random_linear_acc`` (``lbfgs`` or ``sgd``)."""


class TrainingInterrupted(RuntimeError):
    """SIGTERM arrived; the checkpoint after the last finished step was written."""


class TrainingDiverged(ValueError):
    """The loss or the weights became NaN or inf; the checkpoint of the last finished epoch is kept."""


def derive_seed(*parts: int) -> int:
    """A 63-bit seed mixed from non-negative integers (numpy's SeedSequence)."""
    return int(np.random.SeedSequence(list(parts)).generate_state(2, np.uint64)[0] >> np.uint64(1))


def epoch_order(seed: int, epoch: int, n: int) -> Tensor:
    """The permutation of the ``n`` training images in epoch ``epoch`` (same on every rank)."""
    gen = torch.Generator().manual_seed(derive_seed(seed, epoch, PERMUTATION))
    return torch.randperm(n, generator=gen)


def local_batch(order: Tensor, step: int, batch_size: int, rank: int, world: int) -> Tensor:
    """Indices of rank ``rank``'s contiguous slice of global batch ``step`` of ``order``."""
    per_rank = batch_size // world
    start = step * batch_size + rank * per_rank
    return order[start:start + per_rank]


def learning_rate(config: TrainConfig, step: int, steps_per_epoch: int) -> float:
    """Linear warm-up from 0 to ``lr`` over ``warmup_epochs``, then ``schedule`` decay to 0."""
    total, warm = config.epochs * steps_per_epoch, config.warmup_epochs * steps_per_epoch
    if step < warm:
        return config.lr * (step + 1) / warm
    progress = (step - warm) / max(total - warm, 1)
    decay = {"cosine": 0.5 * (1 + math.cos(math.pi * progress)), "linear": 1 - progress,
             "constant": 1.0}[config.schedule]
    return config.lr * decay


def _device(config: TrainConfig) -> torch.device:
    """The validated ``--device``; a bare ``cuda`` is this process's GPU under torchrun."""
    device = validation.device("device", config.device)
    if device.type == "cuda" and device.index is None:
        device = torch.device(f"cuda:{int(os.environ.get('LOCAL_RANK', '0'))}")
    return device


def _init_distributed(device: torch.device) -> bool:
    """Initialise the process group from torchrun's environment (also for one process, so that a
    one-GPU torchrun runs the collectives); True when this call did it."""
    if "WORLD_SIZE" not in os.environ or dist.is_initialized():
        return False
    dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    if device.type == "cuda":
        torch.cuda.set_device(device)
    return True


def _seed_everything(seed: int) -> None:
    import random

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


class _SeededTwoViews(data.TwoViews):
    """The per-sample pipeline with each image's draws seeded from (seed, epoch, position)."""

    def __init__(self, images: data.ImageData, transform, seed: int) -> None:
        super().__init__(images, transform)
        self.seed = seed

    def __getitem__(self, item: tuple[int, int, int]) -> tuple[Tensor, Tensor]:
        index, epoch, position = item
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(derive_seed(self.seed, epoch, position, SAMPLE))
            view1, view2, _ = super().__getitem__(index)
        return view1, view2


class Views:
    """The two augmented views of every step of an epoch, from either pipeline."""

    def __init__(self, config: TrainConfig, train: data.ImageData, device: torch.device,
                 rank: int, world: int) -> None:
        self.config, self.device, self.rank, self.world = config, device, rank, world
        self.n, recipe = len(train), config.resolved_recipe()
        self.steps = self.n // config.batch_size
        if config.augment == "batched":
            self.images = train.images.to(device)
            self.augment = augment.make_augment(recipe, train.image_size, train.channels, compile=config.compile)
        else:
            transform = augment.torchvision_transform(recipe, train.image_size, train.channels)
            self.dataset = _SeededTwoViews(train, transform, config.seed)

    def epoch(self, epoch: int, start: int) -> Iterator[tuple[Tensor, Tensor]]:
        """Views of steps ``start, ..., steps - 1`` of ``epoch`` on the device."""
        c = self.config
        order = epoch_order(c.seed, epoch, self.n)
        if c.augment == "batched":
            order = order.to(self.device)
            for step in range(start, self.steps):
                gen = torch.Generator(self.device)
                gen.manual_seed(derive_seed(c.seed, epoch, step, self.rank, VIEWS))
                images = self.images[local_batch(order, step, c.batch_size, self.rank, self.world)]
                yield self.augment(images, gen), self.augment(images, gen)
            return
        per_rank = c.batch_size // self.world
        batches = [[(int(i), epoch, step * c.batch_size + self.rank * per_rank + j)
                    for j, i in enumerate(local_batch(order, step, c.batch_size, self.rank, self.world))]
                   for step in range(start, self.steps)]
        loader = torch.utils.data.DataLoader(self.dataset, batch_sampler=batches, num_workers=c.workers,
                                             pin_memory=self.device.type == "cuda")
        for view1, view2 in loader:
            yield view1.to(self.device, non_blocking=True), view2.to(self.device, non_blocking=True)


class _StopFlag:
    """Set by SIGTERM (when installed from the main thread); agreed on by every rank."""

    def __init__(self) -> None:
        self.requested, self._previous = False, None

    def __enter__(self) -> _StopFlag:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGTERM, self._handle)
        return self

    def _handle(self, signum, frame) -> None:
        self.requested = True

    def __exit__(self, *exc) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGTERM, self._previous)

    def stop(self, device: torch.device) -> bool:
        if not dist.is_initialized():
            return self.requested
        flag = torch.tensor([float(self.requested)], device=device)
        dist.all_reduce(flag, op=dist.ReduceOp.MAX)
        return bool(flag.item())


def _optimizer(config: TrainConfig, model: torch.nn.Module) -> torch.optim.Optimizer:
    params = [p for p in model.parameters() if p.requires_grad]
    if config.optimizer == "sgd":
        return torch.optim.SGD(params, lr=config.lr, momentum=config.momentum,
                               weight_decay=config.weight_decay)
    return torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)


def _accuracies(run: _Run, feats: Features) -> tuple[float, float]:
    """kNN and linear-probe accuracy (probe ``config.probe``) of the encoder features of a features
    file's arrays of the run's model; the augmented sgd probe re-encodes the labelled training
    images through the model."""
    config = run.config
    xtr, ytr, xte, yte = (torch.from_numpy(a).to(run.device) for a in (
        feats.train_encoder, feats.train_labels, feats.test_encoder, feats.test_labels))
    views = _probe_views(run.model, run.train, config) if config.probe_augment else None
    return (knn_accuracy(xtr, ytr, xte, yte, config.knn_k, config.knn_t),
            linear_probe(xtr, ytr, xte, yte, _protocol(config), seed=config.seed, augmented=views))


def _probe_views(model: SimCLR, train: data.ImageData, config: TrainConfig, batch_size: int = 512) -> Augmented:
    """Encoder features (eval mode) of random crops + flips of the training images, by the dataset's
    recipe with colour jitter, grayscale and blur switched off: the augmented SGD probe's inputs."""
    aug = augment.make_augment(config.resolved_recipe(), train.image_size, train.channels,
                               jitter_p=0.0, grayscale_p=0.0, blur_p=0.0)
    device = next(model.parameters()).device

    def views(gen: torch.Generator) -> Tensor:
        return torch.cat([encode(model, aug(chunk.to(device), gen), None, batch_size)[0]
                          for chunk in train.images.split(batch_size)])

    return views


def _knn_monitor(model: SimCLR, train: data.ImageData, test: data.ImageData, config: TrainConfig) -> float:
    """kNN accuracy of the encoder features of the un-augmented images (the per-epoch monitor)."""
    recipe = config.resolved_recipe()
    xtr, _ = encode(model, train.images, recipe)
    xte, _ = encode(model, test.images, recipe)
    return knn_accuracy(xtr, train.labels.to(xtr.device), xte, test.labels.to(xtr.device), config.knn_k, config.knn_t)


def _protocol(config: TrainConfig) -> ProbeProtocol | SGDProbeProtocol:
    """The linear-evaluation protocol of ``config.probe``."""
    if config.probe == "sgd":
        return SGDProbeProtocol(epochs=config.probe_epochs, batch_size=config.probe_batch, lr=config.probe_lr,
                                weight_decay=config.probe_wd, augment=config.probe_augment)
    return ProbeProtocol(max_iter=config.probe_iters, weight_decay=config.probe_wd)


def _read_metrics(folder: RunFolder, epochs: int) -> list[str]:
    """The lines of ``metrics.jsonl`` of the first ``epochs`` epochs."""
    return [json.dumps(r) for r in folder.read_metrics() if r["epoch"] <= epochs]


class _Run:
    """The state of one training run: data, model, optimizer, position, and the run folder."""

    def __init__(self, config: TrainConfig) -> None:
        self.config = config.validate()
        self.device = _device(config)
        self.owns_group = _init_distributed(self.device)
        self.rank, self.world = rank_and_world()
        _seed_everything(config.seed)
        options = config.dataset_options()
        self.train = data.load_dataset(config.dataset, config.data_root, True, config.download, **options)
        self.test = data.load_dataset(config.dataset, config.data_root, False, config.download, **options)
        # pre-training data: the training split, or with stl10 --unlabeled also its unlabeled images
        # (label -1); features, kNN and probe use the labelled self.train only
        self.pretrain = (data.load_dataset(config.dataset, config.data_root, True, config.download,
                                           **config.dataset_options(pretrain=True))
                         if config.unlabeled else self.train)
        for key in ("batch_size", "knn_k", "n_pairs"):
            if (getattr(config, key) or 0) > len(self.train):
                raise ValueError(f"{key}={getattr(config, key)} is larger than the {len(self.train)} "
                                 f"training images of {config.dataset!r}")
        per_rank = config.batch_size // self.world
        if config.batch_size % self.world or (config.method == "moco" and per_rank % config.bn_splits):
            raise ValueError(f"batch_size={config.batch_size} must split into {self.world} equal "
                             f"rank batches (divisible by bn_splits={config.bn_splits} for moco)")
        self.folder = RunFolder(Path(config.out_dir) / config.run_name)
        if self.rank == 0:
            check_writable(self.folder.path)
        self.model = build_method(config, self.train.channels, self.train.image_size,
                                  gather_all=self.world > 1).to(self.device)
        self.cuda = self.device.type == "cuda"
        # the GPU recipe; tests switch it on for the cpu, where PyTorch runs the same code
        self.amp, self.channels_last = self.cuda and config.amp, self.cuda and config.channels_last
        if self.channels_last:
            self.model.to(memory_format=torch.channels_last)
        self.optimizer = _optimizer(config, self.model)
        self.views = Views(config, self.pretrain, self.device, self.rank, self.world)
        self.epoch, self.step = 0, 0
        self.sums = torch.zeros(3, dtype=torch.float64, device=self.device)  # loss, estimate, steps
        self.floor = (math.nan, math.nan)
        self.metrics: list[str] = []  # the lines of metrics.jsonl

    @property
    def dir(self) -> Path:
        return self.folder.path

    @property
    def checkpoint_path(self) -> Path:
        return self.folder.checkpoint

    def start(self) -> None:
        """Resume from the checkpoint, or evaluate the floor and write a fresh run folder."""
        if self.config.resume:
            state = checkpoint.load(self.checkpoint_path)
            checkpoint.check_compatible(self.checkpoint_path, state["config"], self.config.to_dict(),
                                        RESUMABLE)
            checkpoint.restore(self.checkpoint_path, self.model, state["model"], "model")
            checkpoint.restore(self.checkpoint_path, self.optimizer, state["optimizer"], "optimizer")
            checkpoint.set_rng_state(state["rng"])
            self.epoch, self.step = state["epoch"], state["step"]
            self.sums = state["sums"].to(self.device)
            self.floor = tuple(state["floor"])
            if self.rank == 0:
                self.metrics = _read_metrics(self.folder, self.epoch)
                self.write_metrics()
            return
        if self.rank == 0:
            save_json(self.folder.config, self.config.to_dict())
            initial = compute_features(self.model, self.train, self.test, self.config)
            save_features(self.folder.initial_features, initial)
            self.floor = _accuracies(self, initial)
            self.write_metrics()

    def write_metrics(self) -> None:
        """Rewrite metrics.jsonl atomically (a kill never leaves half a line)."""
        write_text(self.folder.metrics, "".join(line + "\n" for line in self.metrics))

    def save(self) -> None:
        if self.rank != 0:
            return
        checkpoint.save(self.checkpoint_path, {
            "config": self.config.to_dict(), "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(), "epoch": self.epoch, "step": self.step,
            "sums": self.sums.cpu(), "floor": list(self.floor), "rng": checkpoint.rng_state()})


def _step_model(run: _Run) -> torch.nn.Module:
    """What the loop calls: the model, wrapped in DDP under torchrun, compiled on request."""
    model: torch.nn.Module = run.model
    if run.world > 1:
        ids = [run.device.index] if run.cuda else None
        model = torch.nn.parallel.DistributedDataParallel(model, device_ids=ids)
    return torch.compile(model) if run.config.compile else model


def training_step(run: _Run, model: torch.nn.Module, x1: Tensor, x2: Tensor, lr: float,
                  progress: float) -> tuple[Tensor, Tensor | None]:
    """One optimizer step on the views ``x1, x2``; returns the (detached) loss and estimate."""
    if run.channels_last and x1.dim() == 4:
        x1 = x1.contiguous(memory_format=torch.channels_last)
        x2 = x2.contiguous(memory_format=torch.channels_last)
    for group in run.optimizer.param_groups:
        group["lr"] = lr
    with torch.autocast(run.device.type, torch.bfloat16, enabled=run.amp):
        loss, estimate, keys = model(x1, x2)
    run.optimizer.zero_grad(set_to_none=True)
    loss.backward()
    run.optimizer.step()
    run.model.after_step(keys, progress)
    return loss.detach(), None if estimate is None else estimate.detach()


def _checked_step(run: _Run, model: torch.nn.Module, x1: Tensor, x2: Tensor, lr: float,
                  progress: float) -> tuple[Tensor, Tensor | None]:
    """:func:`training_step`, raising :class:`TrainingDiverged` (with the position) when the loss or
    the embeddings are not finite (weights or activations blew up)."""
    where = (f"training diverged at epoch {run.epoch + 1}, step {run.step + 1} (lr {lr:.3g})")
    kept = f"the checkpoint of epoch {run.epoch} is kept" if run.epoch else "no checkpoint was written"
    advice = f"{kept}; lower --lr or change the objective's settings"
    try:
        loss, estimate = training_step(run, model, x1, x2, lr, progress)
    except validation.NonFinite as err:
        raise TrainingDiverged(f"{where}: the embeddings hold NaN or inf ({err}); {advice}") from None
    if not bool(torch.isfinite(loss)):
        raise TrainingDiverged(f"{where}: the loss is {loss.item()}; {advice}")
    return loss, estimate


def _epoch_record(run: _Run, seconds: float, images: int) -> dict:
    """The epoch's line of metrics.jsonl (loss and estimate averaged over steps and ranks; ``lr`` of
    the epoch's last step)."""
    steps = run.views.steps
    lr = learning_rate(run.config, (run.epoch + 1) * steps - 1, steps)
    sums = run.sums.clone()
    if run.world > 1:
        dist.all_reduce(sums)
    loss, estimate, steps = sums.tolist()
    has_estimate = run.model.objective.fmicl is not None
    return {"epoch": run.epoch + 1, "loss": loss / steps, "estimate": estimate / steps if has_estimate else None,
            "lr": lr, "knn": None, "images_per_s": images / seconds, "seconds": seconds}


def _loop(run: _Run, stop: _StopFlag) -> None:
    c, steps = run.config, run.views.steps
    model = _step_model(run)
    bar = tqdm(total=(c.epochs - run.epoch) * steps - run.step, disable=not (c.progress and run.rank == 0),
               dynamic_ncols=True, leave=False)
    stop_epoch = min(c.epochs, run.epoch + c.stop_after) if c.stop_after else c.epochs
    while run.epoch < stop_epoch:
        run.model.train()
        started, images = time.perf_counter(), 0
        for x1, x2 in run.views.epoch(run.epoch, run.step):
            position = run.epoch * steps + run.step
            lr = learning_rate(c, position, steps)
            loss, estimate = _checked_step(run, model, x1, x2, lr, (position + 1) / (c.epochs * steps))
            run.sums[0] += loss.double()
            run.sums[1] += 0.0 if estimate is None else estimate.double()
            run.sums[2] += 1
            run.step += 1
            images += c.batch_size
            bar.update()
            if run.step % 10 == 0 or run.step == steps:
                bar.set_postfix(epoch=run.epoch + 1, loss=f"{loss.item():.4f}",
                                img_s=f"{images / (time.perf_counter() - started):.0f}")
            if stop.stop(run.device):
                run.save()
                raise TrainingInterrupted(f"stopped by SIGTERM at epoch {run.epoch + 1}, step "
                                          f"{run.step}; continue with --resume")
        record = _epoch_record(run, time.perf_counter() - started, images)
        run.epoch, run.step = run.epoch + 1, 0
        run.sums.zero_()
        if run.rank == 0:
            due = c.knn_every and run.epoch % c.knn_every == 0
            if due or run.epoch == c.epochs:
                record["knn"] = _knn_monitor(run.model, run.train, run.test, c)
                bar.write(f"epoch {run.epoch}: loss {record['loss']:.4f}, kNN {record['knn']:.4f}")
            run.metrics.append(json.dumps(record))
            run.write_metrics()
        run.save()
    bar.close()


def _train(config: TrainConfig) -> TrainResult:
    """Train in the claimed run folder (:func:`train`)."""
    started = time.perf_counter()
    run = _Run(config)
    try:
        run.start()
        with _StopFlag() as stop:
            _loop(run, stop)
        if run.rank != 0 or run.epoch < config.epochs:  # other ranks; or stopped early by stop_after
            floor = run.floor if run.rank == 0 else (math.nan, math.nan)
            return TrainResult(run.dir, math.nan, math.nan, *floor, time.perf_counter() - started, config.probe)
        feats = compute_features(run.model, run.train, run.test, run.config)
        save_features(run.folder.features, feats)
        knn, lin = _accuracies(run, feats)
        result = TrainResult(run.dir, knn, lin, *run.floor, time.perf_counter() - started, config.probe)
        save_json(run.folder.result, {k: v for k, v in asdict(result).items() if k != "run_dir"})
        return result
    finally:
        if run.owns_group:
            dist.destroy_process_group()


@contextlib.contextmanager
def _claimed(folder: RunFolder) -> Iterator[RunFolder]:
    """The run folder, locked by rank 0 for the duration (a second process is refused at once)."""
    if os.environ.get("RANK", "0") != "0":
        yield folder
        return
    with folder.lock():
        yield folder


def _describe(folder: RunFolder) -> str:
    """What the run folder holds, for an error message."""
    try:
        stored = folder.read_json("config")
        what = (f"{stored['method']} + {stored['objective']['name']} on {stored['dataset']}, "
                f"{stored['epochs']} epochs")
    except (ValueError, KeyError, TypeError):
        what = "files " + ", ".join(p.name for p in folder.run_files())
    return what + (", complete" if folder.complete else ", unfinished")


def _prepare(folder: RunFolder, config: TrainConfig) -> TrainConfig:
    """Refuse to touch a run folder unless asked: ``resume`` continues an unfinished run,
    ``overwrite`` deletes the run first, otherwise the folder must hold no run. Returns the config
    to train (a run killed before its first checkpoint is resumed by starting it again)."""
    if config.resume and folder.complete:
        raise ValueError(f"run folder {str(folder.path)!r} holds a complete run ({_describe(folder)}); there is "
                         "nothing to resume (--overwrite trains it again, another --name keeps it)")
    if config.resume and not folder.checkpoint.is_file():
        checkpoint.check_compatible(folder.path, folder.read_json("config"), config.to_dict(), RESUMABLE)
        config = replace(config, resume=False, overwrite=True)
    if config.overwrite and os.environ.get("RANK", "0") == "0":
        folder.clear()
    elif not config.resume and folder.run_files():
        raise ValueError(f"run folder {str(folder.path)!r} already holds a run ({_describe(folder)}); pass "
                         "--resume to continue it, --overwrite to replace it, or choose another --name")
    return config


def train(config: TrainConfig) -> TrainResult:
    """Train by ``config`` and write its run folder ``<out_dir>/<name>``: a fresh run in a folder
    that holds no run, the unfinished run of the folder continued from its checkpoint with
    ``resume``, or a new run replacing the folder's with ``overwrite``; any other use of an existing
    run folder, or of one another process is training in, is a one-line ``ValueError``. Returns the
    final and the random-initialisation accuracies. A run stopped by ``stop_after`` before its last
    epoch writes no features and no ``result.json`` and reports NaN accuracies; ``resume`` finishes it."""
    config = config.validate()
    folder = RunFolder(Path(config.out_dir) / config.run_name)
    if config.resume and not folder.config.is_file():
        raise ValueError(f"cannot resume: {str(folder.path)!r} holds no run (start the run without --resume)")
    if os.environ.get("RANK", "0") == "0":
        check_writable(Path(config.out_dir))
    with _claimed(folder):
        return _train(_prepare(folder, config))


def ensure_run(config: TrainConfig) -> TrainResult:
    """The finished run of ``config``: read from its run folder when that holds this very run
    (same config, ``result.json`` written), else trained, continuing from the folder's checkpoint
    when one of the same config is there. A folder that holds a different run is never reused or
    overwritten: that is a one-line ``ValueError``. This is how the analyses get a trained run."""
    config = replace(config, resume=False, overwrite=False).validate()
    folder = RunFolder(Path(config.out_dir) / config.run_name)
    check_writable(Path(config.out_dir))
    with _claimed(folder):
        if folder.config.is_file():
            checkpoint.check_compatible(folder.path, folder.read_json("config"), config.to_dict(), RESUMABLE)
            if folder.complete:
                done = folder.read_json("result")
                return TrainResult(folder.path, **{k: done[k] if done[k] is not None else math.nan for k in done})
            config = replace(config, resume=True)
        return _train(_prepare(folder, config))


def _report(config: TrainConfig, result: TrainResult) -> str:
    knn = f"kNN (k={config.knn_k}, t={config.knn_t}, cosine, encoder features)"
    if math.isnan(result.knn_acc):
        return (f"run {result.run_dir}: stopped before epoch {config.epochs} (--stop-after {config.stop_after}); "
                "continue with --resume")
    return "\n".join([
        f"run {result.run_dir}: {config.method} + {config.objective.name} on {config.dataset}, "
        f"{config.epochs} epochs, {result.seconds:.1f} s",
        f"{knn}: {result.knn_acc:.4f}   random-init encoder: {result.random_knn_acc:.4f}",
        f"linear probe ({result.probe}): {result.linear_acc:.4f}   random-init encoder: "
        f"{result.random_linear_acc:.4f}",
        f"  ({_protocol(config).describe()})",
    ])


def main(argv: list[str] | None = None) -> TrainResult | None:
    """The CLI: train and print the numbers (rank 0); ``python -m analysis.training_curves`` plots
    the run's curves."""
    config = from_args(argv)
    try:
        result = train(config)
    except TrainingInterrupted as err:
        print(err, file=sys.stderr)
        raise SystemExit(143) from None
    except ValueError as err:  # bad input found while running, a refused run folder, divergence
        parser().error(str(err))
    except torch.cuda.OutOfMemoryError:
        parser().error(f"out of GPU memory with batch_size={config.batch_size} on {config.device}; lower "
                       "--batch-size (or use a smaller --encoder)")
    if os.environ.get("RANK", "0") == "0":
        print(_report(config, result))
    return result


if __name__ == "__main__":
    main()
