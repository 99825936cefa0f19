"""Evaluation of frozen representations: the weighted kNN monitor and the linear probe.

- :func:`knn_accuracy` is the weighted k-nearest-neighbour classifier of Wu et al. (2018, InstDisc)
  used as a training monitor by the MoCo CIFAR-10 demo and lightly (``knn_predict``): cosine
  similarities to the training features, the top ``k`` neighbours each vote for their class with
  weight ``exp(sim / t)``, the class with the largest summed weight wins. The paper reports it with
  ``k = 200`` (Table 7); ``t = 0.1`` as in InstDisc.
- :func:`linear_probe` is the linear evaluation of f-MICL's Table 2 (Lu et al. 2023, arXiv:2402.10150):
  multinomial logistic regression (a linear layer + softmax cross-entropy, penalty
  ``weight_decay / 2 * ||W||^2`` on the weights, not the bias) on frozen, by default standardised,
  features, fitted by one of two protocols whose ``describe()`` is printed next to every number:

  * :class:`ProbeProtocol` (``lbfgs``, the fast option): full-batch L-BFGS to convergence on cached
    features, the protocol SimCLR used for its transfer experiments (Chen et al. 2020,
    arXiv:2002.05709, Appendix B.8).
  * :class:`SGDProbeProtocol` (``sgd``): the standard SSL linear evaluation, SimCLR's SGD protocol
    (Chen et al. 2020, Appendix B.5-B.6: Nesterov momentum 0.9, no warm-up, learning rate scaled as
    ``base x BatchSize/256``) with the CIFAR-10 values of its reproductions: base learning rate 0.1,
    so ``lr * batch_size / 256`` = 0.1 x 512/256 = 0.2 at the default batch of 512, decayed to 0 by
    a cosine per step, 100 epochs; the classifier after the last epoch is evaluated (no early
    stopping, nothing selected on test accuracy). Either on cached un-augmented features, or with
    ``augment`` on features of random crops + flips of the training images recomputed through the
    frozen encoder every epoch (a callable supplied by the caller).

  The probe is a pure function of its inputs: the weights start at zero, and the SGD probe draws its
  mini-batch order (and hands the augmentation its generator) from one CPU generator seeded with
  ``seed``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from fmicl_core import validation

__all__ = ["ProbeProtocol", "SGDProbeProtocol", "knn_accuracy", "knn_scores", "linear_probe"]

ArrayLike = Tensor | np.ndarray


def _features(x: ArrayLike, name: str, device: torch.device | str | None = None) -> Tensor:
    x = torch.as_tensor(x)
    if x.dim() != 2 or x.shape[0] < 1 or not x.is_floating_point():
        raise ValueError(f"{name} has shape {tuple(x.shape)} and dtype {x.dtype}; "
                         "features must be a non-empty 2-D floating-point (n, d) array")
    if not torch.isfinite(x).all():
        raise ValueError(f"{name} contains NaN or inf values; features must be finite")
    return x.to(device=device, dtype=torch.float32)


def _labels(y: ArrayLike, n: int, name: str, device: torch.device | str | None = None) -> Tensor:
    y = torch.as_tensor(y)
    if y.dim() != 1 or y.shape[0] != n or y.is_floating_point() or y.is_complex():
        raise ValueError(f"{name} has shape {tuple(y.shape)} and dtype {y.dtype}; "
                         f"expected {n} integer class labels")
    if n and int(y.min()) < 0:
        raise ValueError(f"{name} contains the label {int(y.min())}; labels must be >= 0")
    return y.to(device=device, dtype=torch.int64)


def _checked(train_feats: ArrayLike, train_labels: ArrayLike, test_feats: ArrayLike,
             test_labels: ArrayLike, device: torch.device | str | None):
    xtr = _features(train_feats, "train_feats", device)
    xte = _features(test_feats, "test_feats", device)
    if xtr.shape[1] != xte.shape[1]:
        raise ValueError(f"train_feats have dimension {xtr.shape[1]} but test_feats have "
                         f"{xte.shape[1]}; they must match")
    ytr = _labels(train_labels, xtr.shape[0], "train_labels", device)
    yte = _labels(test_labels, xte.shape[0], "test_labels", device)
    return xtr, ytr, xte, yte


def knn_scores(train_feats: ArrayLike, train_labels: ArrayLike, test_feats: ArrayLike,
               k: int = 200, t: float = 0.1, num_classes: int | None = None,
               chunk: int = 1024) -> Tensor:
    """Class scores ``(n_test, C)`` of the weighted kNN vote: ``score[i, c] = sum over the k
    training features j most cosine-similar to test feature i with label c of exp(sim_ij / t)``.

    ``k`` larger than the training set uses every training feature. Features are L2-normalised
    here (cosine similarity); test rows are processed ``chunk`` at a time to bound memory.
    """
    if not (isinstance(k, int) and k >= 1):
        raise ValueError(f"k={k!r} is not allowed; it must be an integer >= 1")
    if not (isinstance(t, (int, float)) and math.isfinite(t) and t > 0):
        raise ValueError(f"t={t!r} is not allowed; it must be a finite number > 0")
    xtr = F.normalize(_features(train_feats, "train_feats"), dim=1)
    xte = F.normalize(_features(test_feats, "test_feats", xtr.device), dim=1)
    ytr = _labels(train_labels, xtr.shape[0], "train_labels", xtr.device)
    if xtr.shape[1] != xte.shape[1]:
        raise ValueError(f"train_feats have dimension {xtr.shape[1]} but test_feats have "
                         f"{xte.shape[1]}; they must match")
    classes = int(ytr.max()) + 1 if num_classes is None else num_classes
    k = min(k, xtr.shape[0])
    scores = []
    for start in range(0, xte.shape[0], chunk):
        sim, idx = (xte[start:start + chunk] @ xtr.T).topk(k, dim=1)
        votes = torch.zeros(sim.shape[0], classes, device=xtr.device)
        scores.append(votes.scatter_add_(1, ytr[idx], (sim / t).exp()))
    return torch.cat(scores)


def knn_accuracy(train_feats: ArrayLike, train_labels: ArrayLike, test_feats: ArrayLike,
                 test_labels: ArrayLike, k: int = 200, t: float = 0.1) -> float:
    """Top-1 accuracy in [0, 1] of the weighted kNN classifier (:func:`knn_scores`)."""
    ytr = torch.as_tensor(train_labels)
    yte = _labels(test_labels, torch.as_tensor(test_feats).shape[0], "test_labels")
    classes = int(max(int(ytr.max()), int(yte.max()))) + 1
    scores = knn_scores(train_feats, train_labels, test_feats, k, t, classes)
    return (scores.argmax(1).cpu() == yte.cpu()).float().mean().item()


@dataclass(frozen=True)
class ProbeProtocol:
    """The L-BFGS linear evaluation: full-batch L-BFGS (strong-Wolfe line search, lr 1) for at most
    ``max_iter`` iterations on features standardised with the training mean and standard deviation
    when ``standardize``."""

    standardize: bool = True
    max_iter: int = 500
    weight_decay: float = 1e-4
    name: ClassVar[str] = "lbfgs"

    def __post_init__(self) -> None:
        validation.integer("max_iter", self.max_iter, minimum=1)
        validation.at_least("weight_decay", self.weight_decay)

    def describe(self) -> str:
        return (f"linear probe lbfgs: logistic regression on frozen {_scaling(self.standardize)} features, "
                f"full-batch L-BFGS (lr 1, strong Wolfe), {self.max_iter} iterations, "
                f"weight decay {self.weight_decay:g}")


@dataclass(frozen=True)
class SGDProbeProtocol:
    """The SGD linear evaluation (module docstring): ``epochs`` epochs of mini-batches of
    ``batch_size`` (the last one of an epoch smaller when it does not divide), Nesterov momentum
    ``momentum``, peak learning rate :attr:`scaled_lr` with a per-step cosine decay to 0, on
    features standardised with the un-augmented training features' mean and standard deviation when
    ``standardize``; with ``augment``, the training features of every epoch come from random crops
    + flips of the images."""

    epochs: int = 100
    batch_size: int = 512
    lr: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 1e-4
    standardize: bool = True
    augment: bool = False
    name: ClassVar[str] = "sgd"

    def __post_init__(self) -> None:
        validation.integer("epochs", self.epochs, minimum=1)
        validation.integer("batch_size", self.batch_size, minimum=1)
        validation.positive("lr", self.lr)
        validation.unit_interval("momentum", self.momentum, closed_right=False, open_left=True)
        validation.at_least("weight_decay", self.weight_decay)

    @property
    def scaled_lr(self) -> float:
        """The peak learning rate ``lr * batch_size / 256`` (SimCLR's linear scaling rule)."""
        return self.lr * self.batch_size / 256

    def describe(self) -> str:
        data = ("random crop + flip of the training images every epoch, re-encoded by the frozen encoder"
                if self.augment else "cached un-augmented features")
        return (f"linear probe sgd: logistic regression on frozen {_scaling(self.standardize)} features, "
                f"SGD (Nesterov momentum {self.momentum:g}), lr {self.lr:g} x {self.batch_size}/256 = "
                f"{self.scaled_lr:g} with per-step cosine decay to 0, batch {self.batch_size}, {self.epochs} epochs, "
                f"weight decay {self.weight_decay:g}, {data}; test accuracy after the last epoch")


Augmented = Callable[[torch.Generator], Tensor]
"""Training features of freshly augmented images, drawn from the given generator, rows in the order
of the training labels."""


def _scaling(standardize: bool) -> str:
    return "standardised (train mean/std)" if standardize else "raw"


def _penalised_loss(x: Tensor, y: Tensor, weight: Tensor, bias: Tensor, weight_decay: float) -> Tensor:
    """Mean softmax cross-entropy of ``x @ weight.T + bias`` plus ``weight_decay / 2 * ||weight||^2``."""
    return F.cross_entropy(x @ weight.T + bias, y) + 0.5 * weight_decay * weight.pow(2).sum()


def _lbfgs_fit(x: Tensor, y: Tensor, classes: int, protocol: ProbeProtocol) -> tuple[Tensor, Tensor]:
    weight = torch.zeros(classes, x.shape[1], device=x.device, requires_grad=True)
    bias = torch.zeros(classes, device=x.device, requires_grad=True)
    opt = torch.optim.LBFGS([weight, bias], lr=1.0, max_iter=protocol.max_iter,
                            history_size=20, line_search_fn="strong_wolfe")

    def closure() -> Tensor:
        opt.zero_grad()
        loss = _penalised_loss(x, y, weight, bias, protocol.weight_decay)
        loss.backward()
        return loss

    with torch.enable_grad():
        opt.step(closure)
    return weight.detach(), bias.detach()


def _sgd_fit(x: Tensor, y: Tensor, classes: int, protocol: SGDProbeProtocol, seed: int,
             augmented: Augmented | None, standardise: Callable[[Tensor], Tensor]) -> tuple[Tensor, Tensor]:
    weight = torch.zeros(classes, x.shape[1], device=x.device, requires_grad=True)
    bias = torch.zeros(classes, device=x.device, requires_grad=True)
    opt = torch.optim.SGD([weight, bias], lr=protocol.scaled_lr, momentum=protocol.momentum, nesterov=True)
    gen = torch.Generator().manual_seed(seed)
    n = x.shape[0]
    total = protocol.epochs * math.ceil(n / protocol.batch_size)
    step = 0
    for _ in range(protocol.epochs):
        feats = x
        if augmented is not None:
            feats = _features(augmented(gen), "augmented train features", x.device)
            if feats.shape != x.shape:
                raise ValueError(f"augmented train features have shape {tuple(feats.shape)}; expected "
                                 f"{tuple(x.shape)}, the shape of train_feats")
            feats = standardise(feats)
        order = torch.randperm(n, generator=gen).to(x.device)
        for idx in order.split(protocol.batch_size):
            opt.param_groups[0]["lr"] = protocol.scaled_lr * 0.5 * (1 + math.cos(math.pi * step / total))
            with torch.enable_grad():
                loss = _penalised_loss(feats[idx], y[idx], weight, bias, protocol.weight_decay)
                opt.zero_grad()
                loss.backward()
            opt.step()
            step += 1
    return weight.detach(), bias.detach()


def linear_probe(train_feats: ArrayLike, train_labels: ArrayLike, test_feats: ArrayLike,
                 test_labels: ArrayLike, protocol: ProbeProtocol | SGDProbeProtocol = ProbeProtocol(),
                 device: torch.device | str | None = None, seed: int = 0,
                 augmented: Augmented | None = None) -> float:
    """Test accuracy in [0, 1] of a linear classifier trained on frozen features by ``protocol``.

    ``augmented`` (only with ``SGDProbeProtocol(augment=True)``, which needs it) returns the training
    features of freshly augmented images, drawn from the generator it is given; ``train_feats`` are
    then the un-augmented features, which set the standardisation. ``seed`` seeds the SGD probe's
    mini-batch order and augmentations; the L-BFGS probe is deterministic without one.
    """
    if not isinstance(protocol, (ProbeProtocol, SGDProbeProtocol)):
        raise ValueError(f"protocol={protocol!r} is not allowed; it must be a ProbeProtocol (lbfgs) or an "
                         "SGDProbeProtocol (sgd)")
    wants = getattr(protocol, "augment", False)
    if wants != (augmented is not None):
        raise ValueError(f"augmented={augmented!r} does not fit the protocol ({protocol.describe()}); pass the "
                         "callable exactly when the protocol is SGDProbeProtocol(augment=True)")
    seed = validation.integer("seed", seed, minimum=0)
    dev = torch.as_tensor(train_feats).device if device is None else device
    xtr, ytr, xte, yte = _checked(train_feats, train_labels, test_feats, test_labels, dev)
    mean, std = xtr.mean(0), xtr.std(0).clamp_min(1e-6)

    def standardise(x: Tensor) -> Tensor:
        return (x - mean) / std if protocol.standardize else x

    xtr, xte = standardise(xtr), standardise(xte)
    classes = int(max(int(ytr.max()), int(yte.max()))) + 1
    if isinstance(protocol, ProbeProtocol):
        weight, bias = _lbfgs_fit(xtr, ytr, classes, protocol)
    else:
        weight, bias = _sgd_fit(xtr, ytr, classes, protocol, seed, augmented, standardise)
    with torch.no_grad():
        return ((xte @ weight.T + bias).argmax(1) == yte).float().mean().item()
