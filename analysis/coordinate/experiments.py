"""The checks of the coordinate-wise view (Tian 2022, arXiv:2201.12680), one function each, and the
alpha-CL objectives trained on digits.

1. :func:`weights_check`: the pairwise importance alpha_ij of every loss of Tian's family and of every
   f-MICL divergence (Lu et al. 2023, arXiv:2402.10150), closed form (Theorem 1 and its f-MICL
   analogue, :mod:`analysis.coordinate.pair_weights`) against ``torch.autograd`` on the distances;
   :func:`importance_profiles` gives alpha as a function of the distance.
2. :func:`deep_linear`: with alpha fixed, the max player of a deep linear network goes rank one along
   the top eigenvector of C_alpha (not the data's top principal component) and reaches the closed
   form ``E = lambda_max / 2``; then the alternating loop with each min player.
3. :func:`relu_rank`: a two-layer ReLU network with per-filter normalisation keeps a higher rank.

:func:`coordinate_checks` composes the three; :func:`train_objectives` trains the alpha-CL
objectives (``acl_exp``, ``acl_quadratic``, ``acl_inverse``) next to InfoNCE and f-MICL through
:func:`fmicl_core.train.ensure_run`, into the folder its caller names.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np
import torch

from analysis.coordinate import max_player as mp
from analysis.coordinate import pair_weights as pw
from fmicl_core import validation
from fmicl_core.alpha_cl import WEIGHTS, two_view_distances
from fmicl_core.objective_config import DEFAULTS, hyper

if TYPE_CHECKING:
    from fmicl_core.config import TrainConfig

__all__ = ["RELU_SETUPS", "CoordinateResult", "ObjectiveRuns", "coordinate_checks", "deep_linear",
           "importance_profiles", "relu_rank", "summary", "train_objectives", "weights_check"]


def weights_check(n: int = 16, dim: int = 8, tau: float = DEFAULTS.temperature, c: float = DEFAULTS.c,
                  seed: int = 0) -> dict[str, float]:
    """Largest relative difference between the closed-form alpha (and beta) and the autograd ones,
    per loss, on the two-view distances of random embeddings (float64)."""
    n, dim = validation.integer("n", n, minimum=2), validation.integer("dim", dim)
    tau, c = hyper("temperature", tau, "tau"), validation.positive("c", c)
    g = torch.Generator().manual_seed(validation.integer("seed", seed, minimum=0))
    z1, z2 = (torch.randn(n, dim, generator=g, dtype=torch.float64) for _ in range(2))
    d2_pos, d2_neg = two_view_distances(z1, z2)

    def rel(a: pw.PairWeights, b: pw.PairWeights) -> float:
        return max(float((a.alpha - b.alpha).abs().max() / b.alpha.abs().max()),
                   float((a.beta - b.beta).abs().max() / b.beta.abs().max()))

    out = {}
    for name in pw.FAMILY:
        closed = pw.family_weights(name, d2_pos, d2_neg, tau=tau)
        out[name] = rel(closed, pw.autograd_weights(
            lambda p, q, name=name: pw.family_loss(name, p, q, tau=tau), d2_pos, d2_neg))
    for name in pw.IMPORTANCE:
        closed = pw.fmicl_weights(name, d2_pos, d2_neg, c=c)
        out[f"fmicl_{name}"] = rel(closed, pw.autograd_weights(
            lambda p, q, name=name: pw.fmicl_distance_loss(name, p, q, c=c), d2_pos, d2_neg))
    return out


def importance_profiles(tau: float = DEFAULTS.temperature, c: float = DEFAULTS.c,
                        points: int = 101) -> dict[str, list[float]]:
    """Importance of a negative at half squared distance ``d2`` in [0, 2] (unit sphere), scaled to 1
    at d2 = 0: InfoNCE / Gibbs ``exp(-d2/tau)``, Tian's p = 4 loss ``exp(-d2^2/tau)``, inverse
    ``tau/(d2 + tau)`` and every f-MICL divergence ``G^2 f''(G)`` with ``G = exp(-2 c d2)``."""
    tau, c = hyper("temperature", tau, "tau"), validation.positive("c", c)
    d2 = torch.linspace(0.0, 2.0, validation.integer("points", points, minimum=2), dtype=torch.float64)
    profiles = {"infonce (Gibbs)": torch.exp(-d2 / tau), "alpha-CL p=4": torch.exp(-d2**2 / tau),
                "alpha-CL inverse": tau / (d2 + tau)}
    g = torch.exp(-2.0 * c * d2)
    for name, make in pw.IMPORTANCE.items():
        h = make()(g)
        profiles[f"f-MICL {name}"] = h / h[0]
    return {"d2": d2.tolist(), **{k: v.tolist() for k, v in profiles.items()}}


def deep_linear(n: int = 512, steps: int = 3000, lr: float = 0.05, temperature: float = DEFAULTS.temperature,
                refresh: int = 50, seed: int = 0) -> dict[str, mp.LinearResult]:
    """Uniform alpha, then the alternating loop with each min player (alpha every ``refresh`` steps)."""
    x, x_aug = mp.linear_data(n, seed=seed)
    out = {"uniform": mp.deep_linear_max_player(x, x_aug, lr=lr, steps=steps, seed=seed)}
    for kind in WEIGHTS:
        out[kind] = mp.deep_linear_max_player(x, x_aug, min_player_kind=kind, temperature=temperature,
                                              lr=lr, steps=steps, refresh=refresh, seed=seed)
    return out


RELU_SETUPS = {"linear, per filter": (False, True), "relu, per filter": (True, True),
               "relu, per layer": (True, False)}
"""The two-layer networks compared: (ReLU or linear, W1 normalised per filter or per layer)."""


def relu_rank(n: int = 256, steps: int = 1000, lr: float = 0.02,
              seeds: tuple[int, ...] = (0, 1)) -> dict[str, list[mp.ReluResult]]:
    """Each of :data:`RELU_SETUPS`, per seed."""
    out: dict[str, list[mp.ReluResult]] = {k: [] for k in RELU_SETUPS}
    for seed in seeds:
        x, x_aug = mp.relu_data(n, seed=seed)
        for key, (relu, per_filter) in RELU_SETUPS.items():
            out[key].append(mp.two_layer_max_player(x, x_aug, relu=relu, per_filter=per_filter,
                                                    lr=lr, steps=steps, seed=seed))
    return out


@dataclass(frozen=True)
class CoordinateResult:
    """Every number of the checks: the closed-form-vs-autograd differences per loss, the importance
    profiles, the deep linear max player per alpha (uniform, then each min player) and the two-layer
    max player per setup and seed."""

    weights_max_rel_error: dict[str, float]
    profiles: dict[str, list[float]]
    deep_linear: dict[str, mp.LinearResult]
    relu: dict[str, list[mp.ReluResult]]


def coordinate_checks(seed: int, steps: int, relu_steps: int, relu_seeds: int,
                      temperature: float = DEFAULTS.temperature) -> CoordinateResult:
    """The three checks (module docstring); ``temperature`` is the min players' tau."""
    validation.integer("seed", seed, minimum=0)
    validation.integer("steps", steps)
    validation.integer("relu_steps", relu_steps)
    validation.integer("relu_seeds", relu_seeds)
    temperature = hyper("temperature", temperature)
    return CoordinateResult(
        weights_check(seed=seed), importance_profiles(temperature),
        deep_linear(steps=steps, temperature=temperature, seed=seed),
        relu_rank(steps=relu_steps, seeds=tuple(range(seed, seed + relu_seeds))))


def summary(result: CoordinateResult) -> list[str]:
    """The result in a few lines of text."""
    errors = result.weights_max_rel_error
    lines = [f"max rel. error closed-form vs autograd alpha: {max(errors.values()):.1e} over {len(errors)} losses"]
    for kind, r in result.deep_linear.items():
        lines.append(f"deep linear [{kind:9s}] |cos(v1,u_C)|={r.cos_top_eigvec:.4f} |cos(v1,PC1)|={r.cos_top_pc:.3f} "
                     f"E={r.energy:.3f} lambda_max/2={r.half_lambda_max:.3f} stable rank={r.stable_rank:.3f} "
                     f"|cos| at alpha(W_final)={r.cos_self_consistent:.3f}")
    for key, rs in result.relu.items():
        lines.append(f"two-layer [{key}] stable rank " + ", ".join(f"{r.stable_rank:.2f}" for r in rs)
                     + "; distinct inputs " + ", ".join(str(r.distinct_inputs) for r in rs)
                     + "; concentration " + ", ".join(f"{r.concentration:.2f}" for r in rs))
    return lines


@dataclass(frozen=True)
class ObjectiveRuns:
    """One objective over seeds: (mean, sd) of the kNN, linear-probe and random-initialisation kNN
    accuracies (in [0, 1]) of its trained runs."""

    objective: str
    seeds: list[int]
    knn: tuple[float, float]
    linear: tuple[float, float]
    random_knn: tuple[float, float]


def train_objectives(objectives: list[str], seeds: list[int], base: TrainConfig) -> dict[str, ObjectiveRuns]:
    """Train ``base`` once per objective and seed through :func:`fmicl_core.train.ensure_run` (run
    folders ``<objective>-s<seed>`` in ``base.out_dir``, reused when they already hold that run)."""
    from fmicl_core.train import ensure_run

    def mean_sd(values: list[float]) -> tuple[float, float]:
        return float(np.mean(values)), float(np.std(values))

    out = {}
    for name in objectives:
        runs = [ensure_run(replace(base, seed=s, name=f"{name}-s{s}").with_objective(name=name)) for s in seeds]
        out[name] = ObjectiveRuns(name, list(seeds), mean_sd([r.knn_acc for r in runs]),
                                  mean_sd([r.linear_acc for r in runs]), mean_sd([r.random_knn_acc for r in runs]))
    return out
