"""The trainer's configuration: one dataclass whose fields are the command-line flags.

Defaults are the CPU digits run of ``python -m fmicl_core.train`` (SimCLR with the KL f-MICL
objective, the f-Gaussian similarity with ``(2 sigma^2)^-1 = 1``, ``alpha = 40``, ``mu = 1``: the
paper's Table 7 objective settings). The paper's CIFAR-10 row of Table 7 is reached by flags::

    --dataset cifar10 --encoder resnet18 --batch-size 512 --proj-dim 512 --lr 0.1 --epochs 800

:func:`parser` builds the argparse parser from the fields (their ``help`` metadata), so every
flag is documented by construction.
"""

from __future__ import annotations

import argparse
import math
import os
import typing
from dataclasses import MISSING, asdict, dataclass, field, fields

from fmicl_core import data, models, objectives
from fmicl_core.augment import recipe_names

__all__ = ["METHODS", "RESUMABLE", "TrainConfig", "parser"]

METHODS = ("simclr", "moco", "mocov3")
DEFAULT_RECIPE = {"digits": "digits", "stl10": "stl10"}
"""Augmentation recipe per dataset when ``recipe='auto'`` (anything else: ``simclr``)."""
DEFAULT_NEGATIVES = {"simclr": "two_view", "mocov3": "cross", "moco": "two_view"}
"""f-MICL negative set per method when ``negatives='auto'`` (MoCo uses its queue instead)."""
RESUMABLE = frozenset({"epochs", "stop_after", "knn_every", "device", "compile", "progress", "workers", "resume",
                       "out_dir", "name", "data_root", "download", "n_pairs", "probe_iters"})
"""Fields that may differ between a checkpoint's config and the config that resumes it."""


def _f(default: object, help: str) -> typing.Any:
    return field(default=default, metadata={"help": help})


@dataclass
class TrainConfig:
    """Every setting of one training run (each field is the flag ``--field-name``)."""

    method: str = _f("simclr", f"contrastive method: {', '.join(METHODS)}")
    objective: str = _f("kl", f"training objective: {', '.join(objectives.names())} (f-MICL "
                              "divergences, then baselines)")
    similarity: str = _f("gaussian", "f-MICL similarity: gaussian (f-Gaussian) or cosine")
    alpha: float = _f(40.0, "weight alpha of the f-MICL negative term (paper: 40)")
    sigma: float = _f(1 / math.sqrt(2), "f-Gaussian width sigma; 0.7071 gives (2 sigma^2)^-1 = 1 (paper)")
    mu: float = _f(1.0, "f-Gaussian scale mu inside G (paper: 1)")
    temperature: float = _f(0.5, "temperature of infonce and of the cosine similarity")
    beta: float = _f(2.0, "order beta > 1 of the Tsallis divergence")
    negatives: str = _f("auto", "f-MICL negative pairs: two_view, one_view, cross, or auto "
                                "(two_view for simclr, cross for mocov3; moco uses its queue)")
    dataset: str = _f("digits", f"dataset: {', '.join(data.names())}")
    data_root: str = _f("data", "folder of the torchvision datasets")
    data_path: typing.Optional[str] = _f(None, "folder of class sub-folders (dataset imagefolder)")
    synthetic_shape: str = _f("3,32,32", "image shape C,H,W of dataset synthetic (random images)")
    synthetic_size: int = _f(1024, "images per split of dataset synthetic")
    download: bool = _f(False, "download the dataset if it is missing (cifar10, cifar100, stl10)")
    augment: str = _f("batched", "augmentation pipeline: batched (per-sample parameters, on the device) "
                                 "or torchvision (the per-sample transforms.v2 DataLoader reference)")
    recipe: str = _f("auto", f"augmentation recipe: {', '.join(recipe_names())}, or auto "
                             "(digits for digits, stl10 for stl10, simclr otherwise)")
    workers: int = _f(2, "DataLoader worker processes of --augment torchvision")
    encoder: str = _f("small_cnn", f"encoder g: {', '.join(models.encoder_names())}")
    proj_hidden: int = _f(512, "hidden width of the projection head h")
    proj_dim: int = _f(128, "embedding dimension d (paper: 512 for vision)")
    proj_layers: int = _f(2, "number of Linear layers of the projection head (2: SimCLR v1, 3: v2)")
    pred_hidden: int = _f(512, "hidden width of the MoCo v3 predictor (MoCo v3: 4096)")
    queue_size: int = _f(256, "MoCo queue length K (a multiple of --batch-size; well below the dataset "
                              "size, or the queue holds keys of the query's own image; MoCo CIFAR: 4096)")
    moco_momentum: float = _f(0.9, "momentum m of the key encoder (MoCo v3: start of a cosine ramp to 1); "
                                   "0.9 suits the few steps of digits, MoCo uses 0.99 on CIFAR")
    bn_splits: int = _f(8, "MoCo: BatchNorm statistics over this many groups of the batch (SplitBatchNorm, "
                           "the one-device form of ShuffleBN); 1 = plain BatchNorm")
    epochs: int = _f(20, "training epochs")
    batch_size: int = _f(128, "global batch size N (split evenly over the ranks under torchrun)")
    optimizer: str = _f("sgd", "optimizer: sgd (momentum, the paper's small-vision recipe) or adamw")
    lr: float = _f(0.1, "peak learning rate (after warm-up; paper Table 7: 0.1 at N = 512)")
    momentum: float = _f(0.9, "SGD momentum")
    weight_decay: float = _f(5e-4, "weight decay")
    warmup_epochs: float = _f(2.0, "epochs of linear learning-rate warm-up from 0")
    schedule: str = _f("cosine", "learning-rate decay after warm-up: cosine (to 0), linear (to 0) or constant")
    knn_every: int = _f(5, "run the kNN monitor every this many epochs (and after the last); 0 = last only")
    knn_k: int = _f(200, "neighbours k of the kNN monitor (paper: 200)")
    knn_t: float = _f(0.1, "temperature of the kNN vote weights exp(sim / t)")
    probe_iters: int = _f(500, "L-BFGS iterations of the final linear probe")
    probe_wd: float = _f(1e-4, "weight decay of the final linear probe")
    n_pairs: int = _f(1000, "positive pairs (two augmentations of one training image) in features.npz")
    device: str = _f("auto", "device: auto (cuda when available), cpu, cuda, cuda:1, ...")
    amp: bool = _f(True, "bf16 autocast on cuda (ignored on the cpu)")
    channels_last: bool = _f(True, "channels-last memory format on cuda (ignored on the cpu)")
    compile: bool = _f(False, "torch.compile the model and the batched augmentation")
    progress: bool = _f(True, "tqdm progress bar")
    seed: int = _f(0, "random seed (a cpu run is bit-for-bit repeatable)")
    out_dir: str = _f("runs", "folder of the run folders")
    name: typing.Optional[str] = _f(None, "run folder name (default: {method}-{objective}-{dataset}-s{seed})")
    resume: bool = _f(False, "continue from <out-dir>/<name>/checkpoint.pt")
    stop_after: int = _f(0, "stop after this many epochs of this invocation, checkpoint written "
                            "(time-limited jobs; continue with --resume); 0 = run to the end")

    @property
    def run_name(self) -> str:
        return self.name or f"{self.method}-{self.objective}-{self.dataset}-s{self.seed}"

    @property
    def resolved_negatives(self) -> str:
        return DEFAULT_NEGATIVES[self.method] if self.negatives == "auto" else self.negatives

    def resolved_recipe(self) -> str:
        return DEFAULT_RECIPE.get(self.dataset, "simclr") if self.recipe == "auto" else self.recipe

    def dataset_options(self) -> dict:
        """Keyword options of :func:`fmicl_core.data.load_dataset` for ``dataset``."""
        if self.dataset == "imagefolder":
            return {"path": self.data_path}
        if self.dataset == "synthetic":
            try:
                shape = tuple(int(v) for v in self.synthetic_shape.split(","))
            except ValueError:
                shape = ()
            if len(shape) != 3:
                raise ValueError(f"synthetic_shape={self.synthetic_shape!r} is not C,H,W (e.g. 3,32,32)")
            return {"shape": shape, "size": self.synthetic_size}
        return {}

    def to_dict(self) -> dict:
        return asdict(self)

    def validate(self) -> TrainConfig:
        """Raise a one-line ``ValueError`` naming the first bad value; return ``self``."""
        choices = {"method": METHODS, "objective": objectives.names(), "dataset": data.names(),
                   "encoder": models.encoder_names(), "similarity": ("gaussian", "cosine"),
                   "negatives": ("auto", "two_view", "one_view", "cross"),
                   "augment": ("batched", "torchvision"), "recipe": ("auto", *recipe_names()),
                   "optimizer": ("sgd", "adamw"), "schedule": ("cosine", "linear", "constant")}
        for key, allowed in choices.items():
            if getattr(self, key) not in allowed:
                raise ValueError(f"unknown {key} {getattr(self, key)!r}; allowed: {', '.join(allowed)}")
        positive = ("batch_size", "epochs", "proj_hidden", "proj_dim", "proj_layers", "pred_hidden",
                    "queue_size", "bn_splits", "knn_k", "probe_iters", "n_pairs", "lr", "alpha",
                    "sigma", "mu", "temperature", "knn_t")
        for key in positive:
            value = getattr(self, key)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"{key}={value!r} is not allowed; it must be > 0")
        for key in ("weight_decay", "warmup_epochs", "knn_every", "workers", "probe_wd", "stop_after"):
            if not (math.isfinite(getattr(self, key)) and getattr(self, key) >= 0):
                raise ValueError(f"{key}={getattr(self, key)!r} is not allowed; it must be >= 0")
        if not (0 <= self.moco_momentum <= 1 and 0 <= self.momentum < 1):
            raise ValueError(f"moco_momentum={self.moco_momentum} and momentum={self.momentum} must "
                             "lie in [0, 1]")
        if self.method == "moco":
            if not objectives.make(self.objective).supports_queue:
                raise ValueError(f"objective {self.objective!r} has no queue form, so it cannot be used "
                                 "with method 'moco'; use simclr or mocov3")
            if self.queue_size % self.batch_size:
                raise ValueError(f"queue_size={self.queue_size} is not a multiple of "
                                 f"batch_size={self.batch_size}")
        if self.dataset == "imagefolder" and not self.data_path:
            raise ValueError("dataset 'imagefolder' needs --data-path <folder of class sub-folders>")
        self.dataset_options()
        return self


def _flag_type(annotation: str):
    return {"int": int, "float": float, "str": str, "typing.Optional[str]": str}[annotation]


def parser() -> argparse.ArgumentParser:
    """An argparse parser with one documented flag per :class:`TrainConfig` field."""
    p = argparse.ArgumentParser(
        prog="python -m fmicl_core.train",
        description="Contrastive pre-training (SimCLR, MoCo, MoCo v3) with any f-MICL objective or "
                    "baseline; writes <out-dir>/<name>/{config.json, metrics.jsonl, checkpoint.pt, "
                    "features.npz} and prints kNN and linear-probe accuracy next to a randomly "
                    "initialised encoder's.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    for f in fields(TrainConfig):
        flag = "--" + f.name.replace("_", "-")
        default = f.default if f.default is not MISSING else None
        if f.type == "bool":
            p.add_argument(flag, action=argparse.BooleanOptionalAction, default=default,
                           help=f.metadata["help"])
        else:
            p.add_argument(flag, type=_flag_type(f.type), default=default, help=f.metadata["help"],
                           metavar=f.name.upper())
    return p


def from_args(argv: list[str] | None = None) -> TrainConfig:
    """Parse ``argv`` into a validated config (bad values exit with a one-line usage error)."""
    p = parser()
    config = TrainConfig(**vars(p.parse_args(argv)))
    try:
        return config.validate()
    except ValueError as err:
        p.error(str(err))


def check_writable(folder: str | os.PathLike) -> None:
    """Raise a one-line ``ValueError`` unless ``folder`` can be created and written to."""
    try:
        os.makedirs(folder, exist_ok=True)
        probe = os.path.join(folder, f".write-test-{os.getpid()}")
        with open(probe, "w"):
            pass
        os.remove(probe)
    except OSError as err:
        raise ValueError(f"output folder {os.fspath(folder)!r} is not writable ({err.strerror})") from None
