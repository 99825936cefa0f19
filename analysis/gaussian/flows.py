"""RealNVP density model for the check of the Gaussian-kernel assumption (f-MICL, checked in
Figure 1; Lu et al. 2023, arXiv:2402.10150): an nflows 0.14 RealNVP (Dinh et al. 2017,
arXiv:1605.08803) with a Gaussian or a uniform base, as in Figure 1, fitted by maximum likelihood with
early stopping on held-out data, with shims for three traps of the released nflows 0.14:

* **The affine-coupling scale is capped.** nflows 0.14 uses ``scale = sigmoid(s + 2) + 1e-3`` in
  (0.001, 1.001), in the data -> noise direction, so a coupling can shrink but never expand: every
  log|det| is <= ~0, and a model of data narrower than the base cannot reach its likelihood. We therefore
  standardise the inputs by a fixed affine map fitted on the training split, with its log-Jacobian in
  the density: ``standardise="whiten"`` (default) maps the training mean to 0 and the covariance to the
  identity (``W = Sigma^{-1/2}``, eigenvalues floored), so that also the narrow *correlated* direction
  ``x - y`` of positive pairs is expanded; ``"diagonal"`` divides by the per-coordinate standard
  deviation; ``"none"`` is the raw nflows behaviour. ``tests/test_flows.py`` measures the three.
* **BatchNorm between layers** gives train-mode "densities" that are not densities and invalid held-out
  ones, so we use none; the held-out data are scored in ``eval()`` mode.
* **``BoxUniform`` cannot be a base** (``Independent.log_prob`` rejects ``context``): ``UniformBase`` is a
  small nflows ``Distribution`` (log-density 0 on the unit cube, -inf outside), and the transform ends in
  a ``BufferedSigmoid`` (temperature registered as a buffer, so it moves to CUDA with the module).
  Its temperature ``pi / sqrt(3)`` maps a unit-variance logistic variable exactly onto U(0, 1), so the
  (unit-variance) standardised data start close to the uniform base; couplings cannot expand.

``backend="zuko"`` swaps the couplings for zuko's RealNVP (its affine scales can expand as well as
shrink), after the same standardisation, as a cross-check of the nflows fit (Gaussian base only).
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field

import numpy as np
import torch
from nflows.distributions.base import Distribution
from nflows.distributions.normal import StandardNormal
from nflows.flows.base import Flow
from nflows.nn.nets import ResidualNet
from nflows.transforms.base import CompositeTransform, Transform
from nflows.transforms.coupling import AffineCouplingTransform
from nflows.transforms.nonlinearities import Sigmoid

from fmicl_core import validation

__all__ = [
    "BACKENDS",
    "PRIORS",
    "STANDARDISATIONS",
    "BufferedSigmoid",
    "FlowFit",
    "Standardise",
    "UniformBase",
    "ZukoRealNVP",
    "check_backend",
    "fit_flow",
    "make_flow",
]

BACKENDS = ("nflows", "zuko")
PRIORS = ("gaussian", "uniform")
STANDARDISATIONS = ("whiten", "diagonal", "none")
LOGISTIC_TEMPERATURE = math.pi / math.sqrt(3.0)


class UniformBase(Distribution):
    """U(0, 1)^D as an nflows base: log-density 0 inside the unit cube, -inf outside."""

    def __init__(self, features: int):
        super().__init__()
        self.features = features
        self.register_buffer("_anchor", torch.zeros(()))  # carries the device for sampling

    def _log_prob(self, inputs, context):
        inside = ((inputs >= 0) & (inputs <= 1)).all(dim=1)
        return torch.where(inside, 0.0, -math.inf).to(inputs.dtype)

    def _sample(self, num_samples, context):
        return torch.rand(num_samples, self.features, device=self._anchor.device)


class BufferedSigmoid(Sigmoid):
    """nflows' ``Sigmoid`` with a fixed temperature registered as a buffer (0.14 keeps it as a plain
    tensor that stays on the CPU when the flow moves to CUDA)."""

    def __init__(self, temperature: float = LOGISTIC_TEMPERATURE, eps: float = 1e-6):
        super().__init__(temperature=temperature, eps=eps)
        temp = self.temperature
        del self.temperature
        self.register_buffer("temperature", temp)


class Standardise(Transform):
    """The fixed affine map ``z = W (x - m)`` (data -> noise), log|det| = log|det W|."""

    def __init__(self, mean: torch.Tensor, matrix: torch.Tensor):
        super().__init__()
        self.register_buffer("mean", mean)
        self.register_buffer("matrix", matrix)
        self.register_buffer("inverse_matrix", torch.linalg.inv(matrix))
        self.register_buffer("log_det", torch.linalg.slogdet(matrix).logabsdet)

    @classmethod
    def fit(cls, data: torch.Tensor, mode: str, floor: float = 1e-6) -> "Standardise":
        """Fit on (training) ``data``: whiten (``Sigma^{-1/2}``), diagonal (``1 / std``), or identity
        (``none``)."""
        mean = data.mean(0)
        dim = data.shape[1]
        if mode == "none":
            return cls(torch.zeros_like(mean), torch.eye(dim, dtype=data.dtype))
        centred = data - mean
        if mode == "diagonal":
            var = centred.pow(2).mean(0).clamp_min(floor)
            return cls(mean, torch.diag(var.rsqrt()))
        evals, evecs = torch.linalg.eigh(centred.T @ centred / len(data))
        inv_sqrt = evals.clamp_min(floor * evals.max()).rsqrt()
        return cls(mean, (evecs * inv_sqrt) @ evecs.T)

    def forward(self, inputs, context=None):
        out = (inputs - self.mean) @ self.matrix.T
        return out, self.log_det.expand(len(inputs))

    def inverse(self, inputs, context=None):
        out = inputs @ self.inverse_matrix.T + self.mean
        return out, -self.log_det.expand(len(inputs))


def make_flow(
    standardise: Standardise, prior: str = "gaussian", hidden: int = 64, layers: int = 6, blocks: int = 1
) -> Flow:
    """RealNVP (``SimpleRealNVP``'s alternating-mask affine couplings with ResidualNet conditioners,
    no BatchNorm) after ``standardise``; Gaussian base, or a sigmoid then a uniform base."""
    validation.choice("prior", prior, PRIORS)
    for name, value in (("hidden", hidden), ("layers", layers), ("blocks", blocks)):
        validation.integer(name, value)
    features = standardise.mean.numel()
    if features < 2:
        raise ValueError(f"a coupling flow needs >= 2 features, got {features}")

    def conditioner(in_features, out_features):
        return ResidualNet(in_features, out_features, hidden_features=hidden, num_blocks=blocks)

    mask = torch.ones(features)
    mask[::2] = -1
    steps: list[Transform] = [standardise]
    for _ in range(layers):
        steps.append(AffineCouplingTransform(mask=mask.clone(), transform_net_create_fn=conditioner))
        mask *= -1
    if prior == "uniform":
        steps.append(BufferedSigmoid())
        base: Distribution = UniformBase(features)
    else:
        base = StandardNormal([features])
    return Flow(CompositeTransform(steps), base)


class ZukoRealNVP(torch.nn.Module):
    """zuko's RealNVP (Gaussian base) after a fixed ``Standardise``, with the ``log_prob`` of an nflows flow."""

    def __init__(self, standardise: Standardise, hidden: int = 64, layers: int = 6):
        super().__init__()
        import zuko

        self.standardise = standardise
        self.core = zuko.flows.RealNVP(standardise.mean.numel(), transforms=layers, hidden_features=(hidden, hidden))

    def log_prob(self, inputs):
        noise, logabsdet = self.standardise(inputs)
        return self.core().log_prob(noise) + logabsdet


def check_backend(backend: str, prior: str) -> str:
    """``backend`` (:data:`BACKENDS`) if it can fit a flow with base ``prior`` (zuko: gaussian only)."""
    validation.choice("backend", backend, BACKENDS)
    validation.choice("prior", prior, PRIORS)
    if backend == "zuko" and prior != "gaussian":
        raise ValueError(f"backend {backend!r} with prior {prior!r} is not allowed; zuko takes the gaussian prior only")
    return backend


def _rows(name: str, data, width: int | None = None) -> torch.Tensor:
    """``data`` as a finite float32 (n, D) tensor with ``n >= 2`` (and ``D == width`` when given)."""
    array = np.asarray(data, dtype=np.float64)
    if array.ndim != 2 or array.shape[0] < 2 or (width is not None and array.shape[1] != width):
        want = "(n, D) with n >= 2" if width is None else f"(n, {width}) with n >= 2"
        raise ValueError(f"{name} has shape {array.shape}; it must be {want}")
    if not np.isfinite(array).all():
        raise ValueError(f"{name} contains NaN or inf values; the data must be finite")
    return torch.as_tensor(array, dtype=torch.float32)


@dataclass
class FlowFit:
    """A fitted flow (in eval mode, at its best held-out epoch) and its learning curves (mean NLL, nats)."""

    flow: Flow | ZukoRealNVP
    prior: str
    best_epoch: int
    heldout_nll: float
    train_curve: list[float] = field(default_factory=list)
    heldout_curve: list[float] = field(default_factory=list)

    @torch.no_grad()
    def log_prob(self, data, batch_size: int = 4096) -> np.ndarray:
        """``log p(data)`` per row (nats), in eval mode."""
        self.flow.eval()
        device = next(self.flow.buffers()).device
        data = torch.as_tensor(np.asarray(data), dtype=torch.float32)
        parts = [self.flow.log_prob(chunk.to(device)).cpu() for chunk in data.split(batch_size)]
        return torch.cat(parts).double().numpy()


def fit_flow(
    train,
    heldout,
    prior: str = "gaussian",
    *,
    standardise: str = "whiten",
    backend: str = "nflows",
    hidden: int = 64,
    layers: int = 6,
    blocks: int = 1,
    epochs: int = 60,
    batch_size: int = 256,
    lr: float = 2e-3,
    weight_decay: float = 1e-6,
    patience: int = 8,
    seed: int = 0,
    device: str = "cpu",
) -> FlowFit:
    """Maximum-likelihood fit of ``make_flow`` (or ``ZukoRealNVP``) to ``train`` (n, D) with Adam (gradient
    norm clipped at 10) after the ``standardise`` map fitted on ``train``; after each epoch the
    held-out NLL is computed in eval mode, and training stops after ``patience`` epochs without
    improvement; the returned flow carries the parameters of the best held-out epoch."""
    check_backend(backend, prior)
    validation.choice("standardise", standardise, STANDARDISATIONS)
    for name, value in (("epochs", epochs), ("batch_size", batch_size), ("patience", patience), ("hidden", hidden),
                        ("layers", layers), ("blocks", blocks)):
        validation.integer(name, value, minimum=1)
    validation.positive("lr", lr)
    validation.at_least("weight_decay", weight_decay)
    device = validation.device("device", device)
    train_t = _rows("train", train)
    held_t = _rows("heldout", heldout, train_t.shape[1]).to(device)
    torch.manual_seed(validation.integer("seed", seed, minimum=0))
    standardiser = Standardise.fit(train_t.double(), standardise).float()
    if backend == "zuko":
        flow = ZukoRealNVP(standardiser, hidden, layers)
    else:
        flow = make_flow(standardiser, prior, hidden, layers, blocks)
    flow.to(device)
    train_t = train_t.to(device)
    opt = torch.optim.Adam(flow.parameters(), lr=lr, weight_decay=weight_decay)
    gen = torch.Generator().manual_seed(seed)
    best = (math.inf, 0, copy.deepcopy(flow.state_dict()))
    train_curve, held_curve = [], []
    for epoch in range(1, epochs + 1):
        flow.train()
        total = 0.0
        for idx in torch.randperm(len(train_t), generator=gen).split(batch_size):
            loss = -flow.log_prob(train_t[idx.to(device)]).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(flow.parameters(), 10.0)
            opt.step()
            total += loss.item() * len(idx)
        train_curve.append(total / len(train_t))
        flow.eval()
        with torch.no_grad():
            held = -flow.log_prob(held_t).mean().item()
        held_curve.append(held)
        if held < best[0]:
            best = (held, epoch, copy.deepcopy(flow.state_dict()))
        elif epoch - best[1] >= patience:
            break
    flow.load_state_dict(best[2])
    flow.eval()
    return FlowFit(flow, prior, best[1], best[0], train_curve, held_curve)
