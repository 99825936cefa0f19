"""The three contrastive methods, each an ``nn.Module`` whose forward maps two batches of views
to the training loss of any :mod:`fmicl_core.objectives` objective.

- :class:`SimCLR` (Chen et al. 2020): one encoder g and head h; both views go through the network
  in one batch, negatives are the other samples' views in the batch (``two_view`` by default).
- :class:`MoCo` (He et al. 2020, v2 recipe): query network g, h and a momentum (EMA) copy for the
  keys; the negatives are a queue of the last K keys, so the objective is used in its queue form
  (``objective(q, k, queue=K)``). The official code's ShuffleBN needs DDP; on one device we do what
  the MoCo CIFAR-10 demo does: :class:`SplitBatchNorm` computes BatchNorm statistics over
  ``bn_splits`` groups of the batch, as on that many GPUs, and the keys are regrouped by a fixed
  transpose permutation before the key network, so that each key shares its BN group with only
  ``1 / bn_splits`` of its query's group (ShuffleBN's random shuffle does the same in expectation).
  This stops the model from matching query and key through batch statistics.
- :class:`MoCoV3` (Chen et al. 2021): online g, h and a predictor q; momentum g, h for the keys;
  the symmetric loss ``(ctr(q1, k2) + ctr(q2, k1)) / 2`` with in-batch keys. For f-MICL objectives
  ``ctr`` is the ``cross`` negative set (q_i against k_j, j != i, gathered over ranks); for
  ``infonce`` it is MoCo v3's cross-entropy of q_i against every key, positive included
  (:func:`fmicl_core.losses.infonce_loss` with the keys as ``queue`` and ``include_positive=False``)
  times MoCo v3's factor 2 tau (Chen, Xie & He 2021, arXiv:2104.02057, Algorithm 1:
  ``CrossEntropyLoss()(logits, labels) * (2 * tau)``). The key momentum follows MoCo v3's cosine
  ramp from ``moco_momentum`` to 1.

``forward(x1, x2)`` returns ``(loss, estimate, keys)``: the f-MI estimate of f-MICL objectives
(``None`` for baselines) and the keys to enqueue (MoCo; ``None`` otherwise). After the optimizer
step the trainer calls ``after_step(keys, progress)``.
"""

from __future__ import annotations

import copy
import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from fmicl_core import losses, models, objectives
from fmicl_core.distributed import gather, is_distributed

__all__ = ["MoCo", "MoCoV3", "SimCLR", "SplitBatchNorm", "build_method"]


class SplitBatchNorm(nn.BatchNorm1d):
    """BatchNorm whose training statistics are computed separately over ``num_splits`` groups of
    the batch (sample i in group ``i mod num_splits``), as ``num_splits`` GPUs would; running
    statistics are the mean over groups (MoCo CIFAR-10 demo). Works for (N, C) and (N, C, H, W)."""

    def __init__(self, num_features: int, num_splits: int, **kw) -> None:
        super().__init__(num_features, **kw)
        self.num_splits = num_splits

    def _check_input_dim(self, input: Tensor) -> None:
        if input.dim() not in (2, 4):
            raise ValueError(f"SplitBatchNorm expects 2-D or 4-D input, got {input.dim()}-D")

    def forward(self, x: Tensor) -> Tensor:
        s = self.num_splits
        if not self.training or s == 1:
            return super().forward(x)
        n, c = x.shape[:2]
        if n % s:
            raise ValueError(f"batch of {n} is not divisible by bn_splits={s}")
        mean, var = self.running_mean.repeat(s), self.running_var.repeat(s)
        y = F.batch_norm(x.reshape(n // s, c * s, *x.shape[2:]), mean, var, self.weight.repeat(s),
                         self.bias.repeat(s), True, self.momentum, self.eps)
        self.running_mean.copy_(mean.view(s, c).mean(0))
        self.running_var.copy_(var.view(s, c).mean(0))
        self.num_batches_tracked.add_(1)
        return y.view_as(x)


def split_batchnorm(module: nn.Module, num_splits: int) -> nn.Module:
    """Replace every BatchNorm1d/2d of ``module`` (in place) by a :class:`SplitBatchNorm`."""
    for name, child in module.named_children():
        if isinstance(child, (nn.BatchNorm1d, nn.BatchNorm2d)):
            new = SplitBatchNorm(child.num_features, num_splits, eps=child.eps, momentum=child.momentum,
                                 affine=child.affine)
            new.load_state_dict(child.state_dict())
            setattr(module, name, new)
        else:
            split_batchnorm(child, num_splits)
    return module


class _Network(nn.Sequential):
    """Encoder g followed by the projection head h; ``features`` is g alone."""

    def __init__(self, encoder: nn.Module, head: nn.Module) -> None:
        super().__init__(encoder, head)

    def features(self, x: Tensor) -> Tensor:
        return self[0](x)


def _terms(objective: objectives.Objective, z1: Tensor, z2: Tensor,
           queue: Tensor | None = None) -> tuple[Tensor, Tensor | None]:
    """The loss and, for f-MICL objectives, the f-MI estimate ``mean A(d+) - mean B(d-)``."""
    if objective.fmicl is not None:
        terms = objective.fmicl.terms(z1, z2, queue)
        return terms.loss, terms.estimate
    return objective(z1, z2, queue) if queue is not None else objective(z1, z2), None


class SimCLR(nn.Module):
    """SimCLR: ``loss = objective(h(g(x1)), h(g(x2)))`` (in-batch negatives)."""

    def __init__(self, online: _Network, objective: objectives.Objective) -> None:
        super().__init__()
        self.online, self.objective = online, objective

    def features(self, x: Tensor) -> Tensor:
        """Encoder features g(x) (kNN monitor, linear probe)."""
        return self.online.features(x)

    def project(self, h: Tensor) -> Tensor:
        """The embedding that enters the loss (before L2 normalisation) from encoder features h."""
        return self.online[1](h)

    def forward(self, x1: Tensor, x2: Tensor) -> tuple[Tensor, Tensor | None, None]:
        z1, z2 = self.online(torch.cat([x1, x2])).chunk(2)
        return (*_terms(self.objective, z1, z2), None)

    def after_step(self, keys: Tensor | None, progress: float) -> None:
        """Nothing to update after the optimizer step."""


class _Momentum(SimCLR):
    """An online network and its EMA copy (no gradients) for the keys."""

    def __init__(self, online: _Network, objective: objectives.Objective, momentum: float) -> None:
        super().__init__(online, objective)
        self.target = copy.deepcopy(online).requires_grad_(False)
        self.momentum = momentum

    def key_momentum(self, progress: float) -> float:
        return self.momentum

    def after_step(self, keys: Tensor | None, progress: float) -> None:
        models.momentum_update(self.online, self.target, self.key_momentum(progress))


class MoCo(_Momentum):
    """MoCo: ``loss = objective(q, k, queue)`` with a queue of the last ``queue_size`` keys."""

    def __init__(self, online: _Network, objective: objectives.Objective, momentum: float,
                 queue_size: int, bn_splits: int) -> None:
        split_batchnorm(online, bn_splits)
        super().__init__(online, objective, momentum)
        self.bn_splits = bn_splits
        dim = online[1].out_dim
        self.register_buffer("queue", F.normalize(torch.randn(queue_size, dim), dim=1))
        self.register_buffer("queue_ptr", torch.zeros((), dtype=torch.long))

    def _keys(self, x: Tensor) -> Tensor:
        """Key embeddings, with the batch regrouped for the split BatchNorm (module docstring)."""
        n, s = x.shape[0], self.bn_splits
        order = torch.arange(n, device=x.device).view(s, n // s).T.reshape(-1) if n % s == 0 else None
        if order is None:
            raise ValueError(f"per-rank batch {n} is not divisible by bn_splits={s}")
        with torch.no_grad():
            k = torch.empty((n, self.queue.shape[1]), device=x.device)
            k[order] = self.target(x[order]).float()
        return F.normalize(k, dim=1)

    def forward(self, x1: Tensor, x2: Tensor) -> tuple[Tensor, Tensor | None, Tensor]:
        q = self.online(x1)
        k = self._keys(x2)
        loss, estimate = _terms(self.objective, q, k, self.queue)
        return loss, estimate, k

    @torch.no_grad()
    def after_step(self, keys: Tensor | None, progress: float) -> None:
        super().after_step(keys, progress)
        keys = gather(keys) if is_distributed() else keys
        ptr, size = int(self.queue_ptr), self.queue.shape[0]
        self.queue[ptr:ptr + keys.shape[0]] = keys
        self.queue_ptr.fill_((ptr + keys.shape[0]) % size)


class MoCoV3(_Momentum):
    """MoCo v3: symmetric ``(ctr(p(h(g(x1))), k2) + ctr(p(h(g(x2))), k1)) / 2`` with in-batch keys."""

    def __init__(self, online: _Network, objective: objectives.Objective, momentum: float,
                 predictor: nn.Module) -> None:
        super().__init__(online, objective, momentum)
        self.predictor = predictor

    def project(self, h: Tensor) -> Tensor:
        return self.predictor(self.online[1](h))

    def key_momentum(self, progress: float) -> float:
        """MoCo v3: ``m_t = 1 - (1 - m) (cos(pi t / T) + 1) / 2``."""
        return 1.0 - (1.0 - self.momentum) * (math.cos(math.pi * progress) + 1.0) / 2.0

    def _ctr(self, q: Tensor, k: Tensor) -> tuple[Tensor, Tensor | None]:
        """One direction of the symmetric loss; for ``infonce`` MoCo v3's ``ctr`` of Algorithm 1
        (Chen, Xie & He 2021, arXiv:2104.02057), the cross-entropy times 2 tau."""
        if self.objective.name == "infonce":
            keys = gather(k) if is_distributed() else k
            t = self.objective.config.temperature
            return 2 * t * losses.infonce_loss(q, k, t, queue=keys, include_positive=False), None
        return _terms(self.objective, q, k)

    def forward(self, x1: Tensor, x2: Tensor) -> tuple[Tensor, Tensor | None, None]:
        q1, q2 = self.predictor(self.online(torch.cat([x1, x2]))).chunk(2)
        with torch.no_grad():
            k1, k2 = self.target(torch.cat([x1, x2])).float().chunk(2)
        (l1, e1), (l2, e2) = self._ctr(q1, k2), self._ctr(q2, k1)
        estimate = None if e1 is None else (e1 + e2) / 2
        return (l1 + l2) / 2, estimate, None


def build_method(config, in_channels: int, image_size: int, gather_all: bool = False) -> SimCLR:
    """The method of ``config`` (a :class:`fmicl_core.config.TrainConfig`) with freshly
    initialised weights (from the global torch RNG)."""
    encoder = models.make_encoder(config.encoder, in_channels, image_size=image_size)
    head = models.ProjectionHead(encoder.feature_dim, config.proj_hidden, config.proj_dim,
                                 config.proj_layers)
    objective = objectives.make(config.resolved_objective, gather_all)
    online = _Network(encoder, head)
    if config.method == "simclr":
        return SimCLR(online, objective)
    if config.method == "moco":
        return MoCo(online, objective, config.moco_momentum, config.queue_size, config.bn_splits)
    predictor = models.Predictor(config.proj_dim, config.pred_hidden)
    return MoCoV3(online, objective, config.moco_momentum, predictor)
