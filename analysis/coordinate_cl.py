"""The coordinate-wise (alpha-CL) view of contrastive learning, with f-MICL inside it (Tian 2022;
spec ``theory_papers.md`` §2): ``python -m analysis.coordinate_cl``.

Three checks, one function each, composed by :func:`run`:

1. :func:`weights_check`: the pairwise importance alpha_ij of every loss of Tian's family and of every
   f-MICL divergence, closed form (:mod:`analysis.pair_weights`) against ``torch.autograd`` on the
   distances, and the importance profiles ``alpha(d2)`` (figure panel a).
2. :func:`deep_linear`: the max player with alpha fixed on a deep linear network goes rank one along
   the top eigenvector of C_alpha (not the data's top principal component) and reaches
   ``lambda_max / 2``; the alternating loop with the Gibbs / quadratic / inverse min players.
3. :func:`relu_rank`: a two-layer ReLU network with per-filter normalisation keeps a higher rank.

The digits comparison of the alpha-CL objectives (``acl_exp``, ``acl_quadratic``, ``acl_inverse`` of
:mod:`fmicl_core.objectives`) with InfoNCE and f-MICL trains with the trainer and lives in notebook 06.
"""

from __future__ import annotations

import argparse
from dataclasses import asdict

import numpy as np
import torch

from analysis import max_player as mp
from analysis import pair_weights as pw
from analysis.cli_report import run_and_report
from fmicl_core.alpha_cl import WEIGHTS, two_view_distances

__all__ = ["deep_linear", "figure", "headline", "importance_profiles", "main", "relu_rank",
           "run", "weights_check"]


def weights_check(n: int = 16, dim: int = 8, tau: float = 0.5, c: float = 1.0, seed: int = 0) -> dict:
    """Largest relative difference between the closed-form alpha (and beta) and the autograd ones,
    per loss, on the two-view distances of random unit embeddings (float64)."""
    g = torch.Generator().manual_seed(seed)
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


def importance_profiles(tau: float = 0.5, c: float = 1.0, points: int = 101) -> dict:
    """Importance of a negative at half squared distance ``d2`` in [0, 2] (unit sphere), scaled to 1
    at d2 = 0: InfoNCE / Gibbs ``exp(-d2/tau)``, the p = 4 loss ``exp(-d2^2/tau)``, inverse
    ``tau/(d2 + tau)`` and every f-MICL divergence ``G^2 f''(G)`` with ``G = exp(-2 c d2)``."""
    d2 = torch.linspace(0.0, 2.0, points, dtype=torch.float64)
    profiles = {"infonce (Gibbs)": torch.exp(-d2 / tau), "alpha-CL p=4": torch.exp(-d2**2 / tau),
                "alpha-CL inverse": tau / (d2 + tau)}
    g = torch.exp(-2.0 * c * d2)
    for name, make in pw.IMPORTANCE.items():
        h = make()(g)
        profiles[f"f-MICL {name}"] = h / h[0]
    return {"d2": d2.tolist(), **{k: v.tolist() for k, v in profiles.items()}}


def deep_linear(n: int = 512, steps: int = 3000, lr: float = 0.05, temperature: float = 0.5,
                refresh: int = 50, seed: int = 0) -> dict[str, mp.LinearResult]:
    """Spec §2.6 (a): uniform alpha, then the alternating loop with each min player."""
    x, x_aug = mp.linear_data(n, seed=seed)
    out = {"uniform": mp.deep_linear_max_player(x, x_aug, lr=lr, steps=steps, seed=seed)}
    for kind in WEIGHTS:
        out[kind] = mp.deep_linear_max_player(x, x_aug, min_player_kind=kind, temperature=temperature,
                                              lr=lr, steps=steps, refresh=refresh, seed=seed)
    return out


def relu_rank(n: int = 256, steps: int = 1000, lr: float = 0.02, seeds: tuple[int, ...] = (0, 1)) -> dict:
    """Spec §2.6 (b): linear vs ReLU (per-filter W1) vs ReLU (per-layer W1), per seed."""
    setups = {"linear, per filter": (False, True), "relu, per filter": (True, True),
              "relu, per layer": (True, False)}
    out: dict[str, list[mp.ReluResult]] = {k: [] for k in setups}
    for seed in seeds:
        x, x_aug = mp.relu_data(n, seed=seed)
        for key, (relu, per_filter) in setups.items():
            out[key].append(mp.two_layer_max_player(x, x_aug, relu=relu, per_filter=per_filter,
                                                    lr=lr, steps=steps, seed=seed))
    return out


def run(seed: int = 0, steps: int = 1500, relu_steps: int = 1000, relu_seeds: int = 2,
        temperature: float = 0.5) -> dict:
    """Every number of the CLI and of notebook 06."""
    linear = deep_linear(steps=steps, temperature=temperature, seed=seed)
    relu = relu_rank(steps=relu_steps, seeds=tuple(range(seed, seed + relu_seeds)))
    return {
        "weights_max_rel_error": weights_check(seed=seed),
        "profiles": importance_profiles(temperature),
        "deep_linear": {k: asdict(v) for k, v in linear.items()},
        "relu": {k: [{f: getattr(r, f) for f in ("stable_rank", "distinct_inputs", "concentration",
                                                 "energy")} for r in v] for k, v in relu.items()},
        "relu_w1": {k: v[0].w1 for k, v in relu.items()},
    }


def figure(numbers: dict):
    """Four panels: importance profiles, the deep linear trajectory, singular values, ReLU W1."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(1, 4, figsize=(19, 4.2))
    prof = numbers["profiles"]
    for key, val in prof.items():
        if key != "d2":
            ax[0].plot(prof["d2"], val, label=key, lw=2 if "f-MICL" not in key else 1,
                       ls="-" if "f-MICL" in key else "--")
    ax[0].set(yscale="log", ylim=(1e-3, 20), xlabel="d2 = |z - z'|^2 / 2", ylabel="importance / value at 0",
              title="(a) pairwise importance alpha(d2)")
    ax[0].legend(fontsize=6, ncol=2)
    for kind, res in numbers["deep_linear"].items():
        h = res["history"]
        ax[1].plot(h["step"], h["cos_top_eigvec"], label=f"{kind}: |cos(v1, u_C)|")
    h = numbers["deep_linear"]["uniform"]["history"]
    ax[1].plot(h["step"], h["cos_top_pc"], "k:", label="uniform: |cos(v1, top PC)|")
    ax[1].plot(h["step"], h["energy_ratio"], "k--", label="uniform: E / (lambda_max/2)")
    ax[1].set(xlabel="max-player step", ylim=(-0.05, 1.05), title="(b) deep linear max player")
    ax[1].legend(fontsize=7)
    for i, (kind, res) in enumerate(numbers["deep_linear"].items()):
        ax[2].bar(np.arange(5) + 0.2 * i, res["singular_values"], width=0.2, label=kind)
    ax[2].set(xlabel="index", ylabel="singular value / largest", title="(c) singular values of W")
    ax[2].legend(fontsize=7)
    w1 = numbers["relu_w1"]
    panel = np.concatenate([np.abs(w1[k]) / np.abs(w1[k]).max(1, keepdims=True).clip(1e-12)
                            for k in ("linear, per filter", "relu, per filter")], 1)
    ax[3].imshow(panel, cmap="viridis", aspect="auto")
    ax[3].set(xlabel="input dim (linear | ReLU)", ylabel="filter", title="(d) |W1| per filter")
    ax[3].axvline(w1["relu, per filter"].shape[1] - 0.5, color="w")
    fig.tight_layout()
    return fig


def headline(numbers: dict) -> list[str]:
    lines = ["max rel. error closed-form vs autograd alpha: "
             f"{max(numbers['weights_max_rel_error'].values()):.1e} over "
             f"{len(numbers['weights_max_rel_error'])} losses"]
    for kind, r in numbers["deep_linear"].items():
        lines.append(f"deep linear [{kind:9s}] |cos(v1,u_C)|={r['cos_top_eigvec']:.4f} "
                     f"|cos(v1,PC1)|={r['cos_top_pc']:.3f} E={r['energy']:.3f} "
                     f"lambda_max/2={r['half_lambda_max']:.3f} stable rank={r['stable_rank']:.3f} "
                     f"|cos| at alpha(W_final)={r['cos_self_consistent']:.3f}")
    for key, rs in numbers["relu"].items():
        lines.append(f"two-layer [{key}] stable rank " + ", ".join(f"{r['stable_rank']:.2f}" for r in rs)
                     + "; distinct inputs " + ", ".join(str(r["distinct_inputs"]) for r in rs)
                     + "; concentration " + ", ".join(f"{r['concentration']:.2f}" for r in rs))
    return lines


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m analysis.coordinate_cl", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=0, help="seed of data and initialisations")
    parser.add_argument("--steps", type=int, default=1500, help="deep linear max-player steps")
    parser.add_argument("--relu-steps", type=int, default=1000, help="two-layer max-player steps")
    parser.add_argument("--relu-seeds", type=int, default=2, help="number of two-layer seeds")
    parser.add_argument("--temperature", type=float, default=0.5, help="min-player temperature tau")
    parser.add_argument("--name", default="coordinate_cl", help="figure/JSON name in figures/")
    args = parser.parse_args(argv)
    if args.steps < 1 or args.relu_steps < 1 or args.relu_seeds < 1:
        parser.error("--steps, --relu-steps and --relu-seeds must be >= 1")
    if not args.temperature > 0:
        parser.error(f"--temperature {args.temperature} must be > 0")
    torch.manual_seed(args.seed)
    return run_and_report(parser, args, lambda: run(args.seed, args.steps, args.relu_steps, args.relu_seeds,
                                                    args.temperature), figure, headline)

if __name__ == "__main__":
    main()
