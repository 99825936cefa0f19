"""The trainer's configuration: one dataclass whose fields are the command-line flags.

Defaults are the CPU digits run of ``python -m fmicl_core.train`` (SimCLR with the KL f-MICL
objective and the hyper-parameters of :class:`~fmicl_core.objective_config.ObjectiveConfig`, which
``TrainConfig.objective`` embeds and whose fields are flags too: ``--objective`` is its name). The
paper's settings are flags as well; :mod:`fmicl_core.paper_settings` holds them and renders the
commands.

:func:`parser` builds the argparse parser from the fields (their ``help`` metadata), so every
flag is documented by construction.
"""

from __future__ import annotations

import argparse
import re
import typing
from dataclasses import MISSING, asdict, dataclass, field, fields, replace

from fmicl_core import data, models, paper_settings, validation
from fmicl_core.cli import ArgumentParser
from fmicl_core.augment import recipe_names
from fmicl_core.objective_config import ObjectiveConfig, names as objective_names, reads_negatives, supports_queue

__all__ = ["METHODS", "RESUMABLE", "TrainConfig", "from_args", "parser"]

METHODS = ("simclr", "moco", "mocov3")
DEFAULT_RECIPE = {"digits": "digits", "stl10": "stl10"}
"""Augmentation recipe per dataset when ``recipe='auto'`` (anything else: ``simclr``)."""
METHOD_NEGATIVES = {"simclr": "two_view", "mocov3": "cross"}
"""Negative set per method when ``negatives`` is unset, for the objectives that read one (MoCo's
negatives are its queue)."""
RESUMABLE = frozenset({"stop_after", "knn_every", "device", "compile", "progress", "workers", "resume", "overwrite",
                       "out_dir", "name", "data_root", "download"})
"""Fields that may differ between a checkpoint's config and the config that resumes it: how the run
is carried out, never what it computes (the probe and the pairs of features.npz included). ``epochs`` is
not one: the learning-rate schedule is a function of the total number of epochs, so a run resumed
with another count would continue a schedule that no run of either length follows."""
DEFAULT_PAIRS = 1000
"""Positive pairs in features.npz when ``n_pairs`` is unset (fewer when the training split is smaller)."""
RUN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+=,-]*")
"""Run folder names: letters, digits and ``_ . + = , -``, starting with a letter or digit (so never
empty, ``..``, hidden, or a path)."""


def _f(default: object, help: str) -> typing.Any:
    return field(default=default, metadata={"help": help})


@dataclass
class TrainConfig:
    """Every setting of one training run (each field is the flag ``--field-name``; the fields of
    ``objective`` are flags of their own)."""

    objective: ObjectiveConfig = field(default_factory=ObjectiveConfig, metadata={"help": "the objective"})
    method: str = _f("simclr", f"contrastive method: {', '.join(METHODS)}")
    dataset: str = _f("digits", f"dataset: {', '.join(data.names())}")
    data_root: str = _f("data", "folder of the torchvision datasets")
    data_path: typing.Optional[str] = _f(None, "folder of class sub-folders (dataset imagefolder)")
    synthetic_shape: str = _f("3,32,32", "image shape C,H,W of dataset synthetic (random images)")
    synthetic_size: int = _f(1024, "images per split of dataset synthetic")
    download: bool = _f(False, "download the dataset if it is missing (cifar10, cifar100, stl10, tinyimagenet)")
    unlabeled: bool = _f(False, "stl10: pre-train on the 5,000 labelled training images and the 100,000 unlabeled "
                                "ones; kNN and linear probe still use the labelled train/test splits")
    augment: str = _f("batched", "augmentation pipeline: batched (per-sample parameters, on the device) "
                                 "or torchvision (the per-sample transforms.v2 DataLoader reference)")
    recipe: str = _f("auto", f"augmentation recipe: {', '.join(recipe_names())}, or auto "
                             "(digits for digits, stl10 for stl10, simclr otherwise)")
    workers: int = _f(2, "DataLoader worker processes of --augment torchvision")
    encoder: str = _f("small_cnn", f"encoder g: {', '.join(models.encoder_names())}")
    proj_hidden: int = _f(512, "hidden width of the projection head h")
    proj_dim: int = _f(128, "embedding dimension d")
    proj_layers: int = _f(2, "number of Linear layers of the projection head (2: SimCLR v1, 3: v2)")
    pred_hidden: int = _f(512, "hidden width of the MoCo v3 predictor")
    queue_size: int = _f(256, "MoCo queue length K (a multiple of --batch-size; well below the dataset "
                              "size, or the queue holds keys of the query's own image)")
    moco_momentum: float = _f(0.9, "momentum m of the key encoder (MoCo v3: start of a cosine ramp to 1); "
                                   "0.9 suits the few steps of digits")
    bn_splits: int = _f(8, "MoCo: BatchNorm statistics over this many groups of the batch (SplitBatchNorm, "
                           "the one-device form of ShuffleBN); 1 = plain BatchNorm")
    epochs: int = _f(20, "training epochs")
    batch_size: int = _f(128, "global batch size N (split evenly over the ranks under torchrun)")
    optimizer: str = _f("sgd", "optimizer: sgd (momentum, the paper's small-vision recipe) or adamw")
    lr: float = _f(0.1, "peak learning rate (after warm-up)")
    momentum: float = _f(0.9, "SGD momentum")
    weight_decay: float = _f(5e-4, "weight decay")
    warmup_epochs: float = _f(2.0, "epochs of linear learning-rate warm-up from 0")
    schedule: str = _f("cosine", "learning-rate decay after warm-up: cosine (to 0), linear (to 0) or constant")
    knn_every: int = _f(5, "run the kNN monitor every this many epochs (and after the last); 0 = last only")
    knn_k: int = _f(200, "neighbours k of the kNN monitor")
    knn_t: float = _f(0.1, "temperature of the kNN vote weights exp(sim / t)")
    probe: str = _f("lbfgs", "linear probe reported in result.json: lbfgs (full-batch L-BFGS on cached features, "
                             "fast) or sgd (the standard SSL linear evaluation: SGD with Nesterov momentum, "
                             "cosine decay, evaluated after its last epoch)")
    probe_iters: int = _f(500, "L-BFGS iterations of the lbfgs probe")
    probe_wd: float = _f(1e-4, "weight decay wd of the linear probe (penalty wd/2 ||W||^2, either probe)")
    probe_epochs: int = _f(100, "epochs of the sgd probe")
    probe_batch: int = _f(512, "batch size of the sgd probe")
    probe_lr: float = _f(0.1, "base learning rate of the sgd probe, scaled by --probe-batch/256 "
                              "(0.1 x 512/256 = 0.2)")
    probe_augment: bool = _f(False, "sgd probe: train on random crop + flip of the training images, re-encoded "
                                    "by the frozen encoder every epoch (default: cached un-augmented features)")
    n_pairs: typing.Optional[int] = _f(None, "positive pairs (two augmentations of one training image) in "
                                             "features.npz (default: 1000, or every training image when fewer)")
    device: str = _f("auto", "device: auto (cuda when available), cpu, cuda, cuda:1, ...")
    amp: bool = _f(True, "bf16 autocast on cuda (ignored on the cpu)")
    channels_last: bool = _f(True, "channels-last memory format on cuda (ignored on the cpu)")
    compile: bool = _f(False, "torch.compile the model and the batched augmentation")
    progress: bool = _f(True, "tqdm progress bar")
    seed: int = _f(0, "random seed (a cpu run is bit-for-bit repeatable)")
    out_dir: str = _f("runs", "folder of the run folders")
    name: typing.Optional[str] = _f(None, "run folder name (default: {method}-{objective}-{dataset}-s{seed})")
    resume: bool = _f(False, "continue the unfinished run in <out-dir>/<name>/ from its checkpoint.pt")
    overwrite: bool = _f(False, "delete the run already in <out-dir>/<name>/ and train anew (without it, or "
                                "--resume, an existing run folder is refused)")
    stop_after: int = _f(0, "stop after this many epochs of this invocation, checkpoint written "
                            "(time-limited jobs; continue with --resume); 0 = run to the end")

    @property
    def run_name(self) -> str:
        return self.name or f"{self.method}-{self.objective.name}-{self.dataset}-s{self.seed}"

    @property
    def resolved_objective(self) -> ObjectiveConfig:
        """``objective`` with its negatives set to the method's own when unset and the objective reads
        a negative set (:func:`~fmicl_core.objective_config.reads_negatives`; not under MoCo)."""
        if self.objective.negatives or self.method == "moco" or not reads_negatives(self.objective.name):
            return self.objective
        return replace(self.objective, negatives=METHOD_NEGATIVES[self.method])

    def with_objective(self, **changes: object) -> TrainConfig:
        """A copy whose objective has ``changes`` (``name="js"``, ``alpha=10``, ...)."""
        return replace(self, objective=replace(self.objective, **changes))

    def pairs(self, n_train: int) -> int:
        """The number of positive pairs in features.npz for ``n_train`` training images."""
        return min(DEFAULT_PAIRS, n_train) if self.n_pairs is None else self.n_pairs

    def resolved_recipe(self) -> str:
        return DEFAULT_RECIPE.get(self.dataset, "simclr") if self.recipe == "auto" else self.recipe

    def dataset_options(self, pretrain: bool = False) -> dict:
        """Keyword options of :func:`fmicl_core.data.load_dataset` for ``dataset``: of the labelled
        splits (features, kNN, probe), or with ``pretrain`` of the pre-training split (stl10 with
        ``unlabeled``: the labelled training images and the 100,000 unlabeled ones)."""
        if self.dataset == "stl10" and pretrain and self.unlabeled:
            return {"unlabeled": True}
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

    @classmethod
    def from_dict(cls, values: dict) -> TrainConfig:
        """The config stored by :meth:`to_dict` (config.json, checkpoints, features files); a
        missing, unknown or malformed key is a one-line ``ValueError``."""
        values = dict(values)
        objective = values.pop("objective", None)
        if not isinstance(objective, dict):
            raise ValueError(f"stored config has objective={objective!r}; expected the fields of an "
                             "ObjectiveConfig (was it written by another version of fmicl?)")
        allowed = [f.name for f in fields(cls)]
        unknown = sorted(set(values) - set(allowed))
        if unknown:
            raise ValueError(f"stored config has unknown setting {unknown[0]!r}; allowed: {', '.join(allowed)}")
        return cls(objective=ObjectiveConfig.of(**objective), **values)

    def validate(self) -> TrainConfig:
        """Raise a one-line ``ValueError`` naming the first bad value; return ``self``."""
        if not isinstance(self.objective, ObjectiveConfig):
            raise ValueError(f"objective={self.objective!r} is not allowed; it must be an ObjectiveConfig "
                             "(fmicl_core.objective_config), e.g. TrainConfig().with_objective(name='js')")
        choices = {"method": METHODS, "dataset": data.names(), "encoder": models.encoder_names(),
                   "augment": ("batched", "torchvision"), "recipe": ("auto", *recipe_names()),
                   "optimizer": ("sgd", "adamw"), "schedule": ("cosine", "linear", "constant"),
                   "probe": ("lbfgs", "sgd")}
        for key, allowed in choices.items():
            validation.choice(key, getattr(self, key), allowed)
        validation.integer("batch_size", self.batch_size, minimum=2)  # a contrastive batch needs negatives
        validation.integer("seed", self.seed, minimum=0)
        for key in ("epochs", "proj_hidden", "proj_dim", "proj_layers", "pred_hidden",
                    "queue_size", "bn_splits", "knn_k", "probe_iters", "probe_epochs", "probe_batch"):
            validation.integer(key, getattr(self, key), minimum=1)
        if self.n_pairs is not None:
            validation.integer("n_pairs", self.n_pairs, minimum=1)
        for key in ("knn_every", "workers", "stop_after"):
            validation.integer(key, getattr(self, key), minimum=0)
        for key in ("lr", "knn_t", "probe_lr"):
            validation.positive(key, getattr(self, key))
        for key in ("weight_decay", "warmup_epochs", "probe_wd"):
            if validation.number(key, getattr(self, key)) < 0:
                raise ValueError(f"{key}={getattr(self, key)!r} is not allowed; it must be >= 0")
        validation.unit_interval("moco_momentum", self.moco_momentum)
        validation.unit_interval("momentum", self.momentum, closed_right=False)
        if self.method == "moco" and self.objective.negatives is not None:
            raise ValueError(f"negatives={self.objective.negatives!r} does not apply to method 'moco', whose "
                             "negatives are the queue; leave --negatives unset")
        if self.method == "moco":
            if not supports_queue(self.objective.name):
                raise ValueError(f"objective {self.objective.name!r} has no queue form, so it cannot be used "
                                 "with method 'moco'; use simclr or mocov3")
            if self.queue_size % self.batch_size:
                raise ValueError(f"queue_size={self.queue_size} is not a multiple of "
                                 f"batch_size={self.batch_size}")
        if self.name is not None and (not isinstance(self.name, str) or not RUN_NAME.fullmatch(self.name)):
            raise ValueError(f"name={self.name!r} is not allowed; a run name uses letters, digits and _ . + = , - "
                             "and starts with a letter or digit (no folders, no '..')")
        validation.device("device", self.device)
        if self.resume and self.overwrite:
            raise ValueError("resume=True and overwrite=True contradict each other; --resume continues the run "
                             "in the folder, --overwrite deletes it")
        if self.unlabeled and self.dataset != "stl10":
            raise ValueError(f"unlabeled=True does not apply to dataset {self.dataset!r}; only stl10 has "
                             "unlabeled images (drop --unlabeled)")
        if self.probe_augment and self.probe != "sgd":
            raise ValueError(f"probe_augment=True does not apply to probe={self.probe!r}; the augmented probe is "
                             "the sgd probe (pass --probe sgd)")
        if self.dataset == "imagefolder" and not self.data_path:
            raise ValueError("dataset 'imagefolder' needs --data-path <folder of class sub-folders>")
        self.dataset_options()
        return self


_TYPES = {"int": int, "float": float, "str": str, "typing.Optional[str]": str, "typing.Optional[float]": float,
          "typing.Optional[int]": int}


def _flags() -> list[tuple[str, object, typing.Any]]:
    """``(flag, owner, field)`` for every flag: the objective's fields, then the trainer's."""
    out = [("--objective" if f.name == "name" else "--" + f.name.replace("_", "-"), ObjectiveConfig, f)
           for f in fields(ObjectiveConfig)]
    return out + [("--" + f.name.replace("_", "-"), TrainConfig, f) for f in fields(TrainConfig)
                  if f.name != "objective"]


def parser() -> argparse.ArgumentParser:
    """An argparse parser with one documented flag per :class:`TrainConfig` field (and per field of
    its :class:`ObjectiveConfig`)."""
    p = ArgumentParser(
        prog="python -m fmicl_core.train",
        description="Contrastive pre-training (SimCLR, MoCo, MoCo v3) with any f-MICL objective or "
                    "baseline; writes <out-dir>/<name>/{config.json, metrics.jsonl, checkpoint.pt, "
                    "features_init.npz, features.npz, result.json} and prints kNN and linear-probe "
                    "accuracy next to a randomly initialised encoder's.")
    notes = paper_settings.help_notes()
    for flag, owner, f in _flags():
        default = f.default if f.default is not MISSING else None
        help = f.metadata["help"] + (f": {', '.join(objective_names())}" if flag == "--objective" else "")
        help += f" (paper: {notes[f.name]})" if f.name in notes else ""
        dest = "objective_" + f.name if owner is ObjectiveConfig else f.name
        if f.type == "bool":
            p.add_argument(flag, dest=dest, action=argparse.BooleanOptionalAction, default=default, help=help)
        else:
            p.add_argument(flag, dest=dest, type=_TYPES[f.type], default=default, help=help,
                           metavar=flag[2:].upper().replace("-", "_"))
    return p


def from_args(argv: list[str] | None = None) -> TrainConfig:
    """Parse ``argv`` into a validated config (bad values exit with a one-line usage error)."""
    p = parser()
    values = vars(p.parse_args(argv))
    hyper = {k[len("objective_"):]: values.pop(k) for k in list(values) if k.startswith("objective_")}
    try:
        return TrainConfig(objective=ObjectiveConfig(**hyper), **values).validate()
    except ValueError as err:
        p.error(str(err))
