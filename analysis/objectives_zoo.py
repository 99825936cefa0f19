"""The objectives zoo: Table 1 of f-MICL as curves, and the relations of its Figure 3 checked numerically.

- ``term_curves``: A(d) = f'(G(d)) and B(d) = f*(f'(G(d))) over d in [0, 4] for every divergence.
- ``special_case_residuals``: on random batches, the gaps of the identities of spec section 4:
  KL + f-Gaussian = c * alignment + alpha * un-logged uniformity - 1; the DV shift turns it into
  alignment-uniformity; chi^2 with the inner-product ratio is the spectral loss; and the Jensen gap
  by which InfoNCE upper-bounds the DV-shifted KL objective (must be >= 0).
- ``cosine_vs_gaussian``: the negative-pair penalty f*(s) against the cosine of the pair for both
  similarities, and how much of [-1, 1] the *raw* cosine score s = cos/tau would put outside dom f*
  (the plausible reason the paper's cosine variant fails for VLC).

``python -m analysis.objectives_zoo`` writes ``figures/objectives_zoo.png`` and its JSON.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from analysis.outputs import save_figure
from fmicl_core import divergences as D
from fmicl_core.losses import align_loss, dv_kl_loss, fmicl_loss, infonce_loss, spectral_loss, uniform_loss

__all__ = ["SpecialCases", "cosine_vs_gaussian", "main", "plot_zoo", "special_case_residuals", "term_curves"]


def term_curves(c: float = 1.0, mu: float = 1.0, points: int = 201) -> dict[str, dict[str, np.ndarray]]:
    """``{name: {"d", "A", "B"}}`` over d in [0, 4] (float64, closed forms of the registry)."""
    d = torch.linspace(0.0, 4.0, points, dtype=torch.float64)
    return {n: {"d": d.numpy(), "A": D.get(n).A(d, c, mu).numpy(), "B": D.get(n).B(d, c, mu).numpy()}
            for n in D.names()}


@dataclass(frozen=True)
class SpecialCases:
    """Largest absolute residual of each identity over the batches, and the smallest Jensen gap."""

    kl_is_alignment_plus_unlogged_uniformity: float
    dv_kl_is_alignment_uniformity: float
    pearson_is_spectral: float
    infonce_minus_dv_min_gap: float
    batches: int


def special_case_residuals(batches: int = 50, n: int = 16, dim: int = 8, c: float = 1.0,
                           alpha: float = 40.0, seed: int = 0) -> SpecialCases:
    """Check the relations of spec section 4 on ``batches`` random float64 batches."""
    g = torch.Generator().manual_seed(seed)
    sigma = math.sqrt(1.0 / (2.0 * c))
    pearson = D.get("pearson")
    r_kl = r_dv = r_sp = 0.0
    gap = math.inf
    for _ in range(batches):
        z1 = torch.randn(n, dim, generator=g, dtype=torch.float64)
        z2 = z1 + 0.5 * torch.randn(n, dim, generator=g, dtype=torch.float64)
        x, y = F.normalize(z1, dim=1), F.normalize(z2, dim=1)
        one_view_neg = torch.exp(-c * torch.pdist(x) ** 2).mean()
        kl = fmicl_loss(z1, z2, "kl", sigma=sigma, alpha=alpha, negatives="one_view")
        r_kl = max(r_kl, abs(float(kl - (c * align_loss(x, y) + alpha * one_view_neg - 1.0))))
        dv = dv_kl_loss(z1, z2, sigma=sigma, negatives="one_view")
        r_dv = max(r_dv, abs(float(dv - (c * align_loss(x, y) + uniform_loss(x, t=c)))))
        gram = z1 @ z2.T
        off = ~torch.eye(n, dtype=torch.bool)
        i_chi2 = pearson.f_prime(gram.diagonal()).mean() - pearson.f_conj(pearson.f_prime(gram[off])).mean()
        r_sp = max(r_sp, abs(float(spectral_loss(z1, z2) + i_chi2 + 1.0)))
        nce = infonce_loss(z1, z2, temperature=sigma**2, include_positive=False) - math.log(2 * n - 2)
        gap = min(gap, float(dv_kl_loss(z1, z2, sigma=sigma) - nce))
    return SpecialCases(r_kl, r_dv, r_sp, gap, batches)


def cosine_vs_gaussian(temperature: float = 0.5, c: float = 1.0, points: int = 201) -> dict:
    """Penalty f*(s) against the cosine u of a pair (d = 2 - 2u) for both similarities, and the
    fraction of u in [-1, 1] where the raw score u/tau lies outside the domain of f*'s formula."""
    u = torch.linspace(-1.0, 1.0, points, dtype=torch.float64)
    out = {}
    for n in D.names():
        div = D.get(n)
        lo, hi = div.conj_domain
        raw = u / temperature
        out[n] = {
            "u": u.numpy(),
            "gaussian": div.B(2.0 - 2.0 * u, c).numpy(),
            "cosine": div.conj_activation(raw).numpy(),
            "raw_outside_domain": float(((raw <= lo) | (raw >= hi)).double().mean()),
        }
    return out


def plot_zoo(curves: dict, cosine: dict):
    """Three panels: A(d), B(d) (Table 1 as curves) and the cosine vs f-Gaussian penalty."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    for n, cv in curves.items():
        axes[0].plot(cv["d"], np.clip(cv["A"], -20, 5), label=n)
        axes[1].plot(cv["d"], np.clip(cv["B"], -20, 5), label=n)
        axes[2].plot(cosine[n]["u"], np.clip(cosine[n]["gaussian"], -20, 5), label=f"{n} gauss")
    axes[0].set(title="positive score A(d) = f'(G)", xlabel="squared distance d", ylim=(-20, 5))
    axes[1].set(title="negative penalty B(d) = f*(f'(G))", xlabel="squared distance d", ylim=(-20, 5))
    for n in ("kl", "js", "vlc"):
        axes[2].plot(cosine[n]["u"], cosine[n]["cosine"], "--", label=f"{n} cosine")
    axes[2].set(title="penalty vs cosine: f-Gaussian (solid), cosine (dashed)", xlabel="cosine u", ylim=(-5, 8))
    axes[0].legend(fontsize=7)
    axes[2].legend(fontsize=6, ncol=2)
    fig.tight_layout()
    return fig


def main(argv: list[str] | None = None) -> SpecialCases:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--c", type=float, default=1.0, help="kernel precision c = 1/(2 sigma^2) (paper: 1)")
    p.add_argument("--temperature", type=float, default=0.5, help="cosine temperature for the comparison")
    p.add_argument("--batches", type=int, default=50, help="random batches for the identities")
    p.add_argument("--seed", type=int, default=0, help="random seed")
    args = p.parse_args(argv)
    import matplotlib

    matplotlib.use("Agg")
    curves = term_curves(args.c)
    cosine = cosine_vs_gaussian(args.temperature, args.c)
    cases = special_case_residuals(args.batches, c=args.c, seed=args.seed)
    for field, value in vars(cases).items():
        print(f"{field:45s} {value:.3g}")
    outside = {n: v["raw_outside_domain"] for n, v in cosine.items()}
    print("fraction of cosines whose raw score cos/tau leaves dom f*:", outside)
    save_figure("objectives_zoo", plot_zoo(curves, cosine),
                {"special_cases": cases, "raw_cosine_outside_domain": outside},
                vars(args))
    return cases


if __name__ == "__main__":
    main()
