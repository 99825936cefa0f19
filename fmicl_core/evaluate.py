"""Evaluation of frozen representations: the weighted kNN monitor and the linear probe.

- :func:`knn_accuracy` is the weighted k-nearest-neighbour classifier of Wu et al. (2018, InstDisc)
  used as a training monitor by the MoCo CIFAR-10 demo and lightly (``knn_predict``): cosine
  similarities to the training features, the top ``k`` neighbours each vote for their class with
  weight ``exp(sim / t)``, the class with the largest summed weight wins. The paper reports it with
  ``k = 200`` (Table 7); ``t = 0.1`` as in InstDisc.
- :func:`linear_probe` is the linear evaluation protocol (paper Table 2) on cached frozen features:
  multinomial logistic regression on standardised features, optimised to convergence with
  full-batch L-BFGS. Its settings are a :class:`ProbeProtocol`, whose :meth:`~ProbeProtocol.describe`
  is printed next to every number.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["ProbeProtocol", "knn_accuracy", "knn_scores", "linear_probe"]

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
    """The linear-evaluation protocol: a linear layer + softmax cross-entropy on frozen features
    (standardised with the training mean and standard deviation when ``standardize``), minimised
    with full-batch L-BFGS (strong-Wolfe line search, lr 1) for at most ``max_iter`` iterations,
    with the penalty ``weight_decay / 2 * ||W||^2`` on the weights (not the bias)."""

    standardize: bool = True
    max_iter: int = 500
    weight_decay: float = 1e-4

    def describe(self) -> str:
        scaling = "standardised (train mean/std)" if self.standardize else "raw"
        return (f"linear probe: logistic regression on frozen {scaling} features, full-batch L-BFGS "
                f"(lr 1, strong Wolfe), {self.max_iter} iterations, weight decay {self.weight_decay:g}")


def linear_probe(train_feats: ArrayLike, train_labels: ArrayLike, test_feats: ArrayLike,
                 test_labels: ArrayLike, protocol: ProbeProtocol = ProbeProtocol(),
                 device: torch.device | str | None = None) -> float:
    """Test accuracy in [0, 1] of a linear classifier trained on frozen features by ``protocol``.

    Deterministic: the weights start at zero and L-BFGS is full batch.
    """
    if not (protocol.max_iter >= 1 and protocol.weight_decay >= 0):
        raise ValueError(f"probe protocol {protocol} is not allowed; max_iter must be >= 1 "
                         "and weight_decay >= 0")
    dev = torch.as_tensor(train_feats).device if device is None else device
    xtr, ytr, xte, yte = _checked(train_feats, train_labels, test_feats, test_labels, dev)
    if protocol.standardize:
        mean, std = xtr.mean(0), xtr.std(0).clamp_min(1e-6)
        xtr, xte = (xtr - mean) / std, (xte - mean) / std
    classes = int(max(int(ytr.max()), int(yte.max()))) + 1
    weight = torch.zeros(classes, xtr.shape[1], device=xtr.device, requires_grad=True)
    bias = torch.zeros(classes, device=xtr.device, requires_grad=True)
    opt = torch.optim.LBFGS([weight, bias], lr=1.0, max_iter=protocol.max_iter,
                            history_size=20, line_search_fn="strong_wolfe")

    def closure() -> Tensor:
        opt.zero_grad()
        loss = F.cross_entropy(xtr @ weight.T + bias, ytr)
        loss = loss + 0.5 * protocol.weight_decay * weight.pow(2).sum()
        loss.backward()
        return loss

    with torch.enable_grad():
        opt.step(closure)
    with torch.no_grad():
        return ((xte @ weight.T + bias).argmax(1) == yte).float().mean().item()
