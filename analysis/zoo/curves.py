"""The objectives of f-MICL (Lu et al. 2023, arXiv:2402.10150) as curves, and the relations of its
Figure 3 ("f-MICL generalizes InfoNCE-based objectives") checked numerically.

- :func:`term_curves`: Table 1 as curves, A(d) = f'(G(d)) and B(d) = f*(f'(G(d))) over d in [0, 4].
- :func:`special_case_residuals`: on random batches, the gaps of the identities behind Figure 3:
  KL + f-Gaussian = c * alignment + alpha * un-logged uniformity - 1; the Donsker-Varadhan shift turns
  it into the alignment-uniformity objective of Wang & Isola 2020 (arXiv:2005.10242); chi^2 with the
  inner-product density ratio is the spectral loss of HaoChen et al. 2021 (arXiv:2106.04156); and
  the Jensen gap by which InfoNCE upper-bounds the DV-shifted KL objective (it must be >= 0).
- :func:`cosine_vs_gaussian`: the negative-pair penalty f*(s) against the cosine of the pair for both
  similarities, and how much of [-1, 1] the *raw* cosine score s = cos/tau would put outside dom f*
  (the reason the cosine variant needs the f-GAN output activations of Nowozin et al. 2016,
  arXiv:1606.00709).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from fmicl_core import divergences as D
from fmicl_core import validation
from fmicl_core.losses import align_loss, dv_kl_loss, fmicl_loss, infonce_loss, spectral_loss, uniform_loss
from fmicl_core.objective_config import DEFAULTS, RANGES, hyper

__all__ = ["C_RANGE", "SpecialCases", "cosine_vs_gaussian", "special_case_residuals", "term_curves"]

C_RANGE = (max(1.0 / (2.0 * RANGES["temperature"][1]), RANGES["uniformity_t"][0]),
           min(1.0 / (2.0 * RANGES["temperature"][0]), RANGES["uniformity_t"][1]))
"""The kernel precisions ``c = 1/(2 sigma^2)`` of :func:`special_case_residuals`: InfoNCE there has
the temperature ``sigma^2 = 1/(2c)`` and the uniformity term ``t = c``, each of which must lie in the
objectives' range (the range of sigma allows more)."""


def term_curves(c: float = DEFAULTS.c, mu: float = DEFAULTS.mu, points: int = 201) -> dict[str, dict[str, np.ndarray]]:
    """``{name: {"d", "A", "B"}}`` over d in [0, 4] (float64, closed forms of the registry)."""
    c, mu = validation.positive("c", c), validation.positive("mu", mu)
    d = torch.linspace(0.0, 4.0, validation.integer("points", points, minimum=2), dtype=torch.float64)
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


def special_case_residuals(batches: int = 50, n: int = 16, dim: int = 8, c: float = DEFAULTS.c,
                           alpha: float = DEFAULTS.alpha, seed: int = 0) -> SpecialCases:
    """Check the relations of f-MICL Figure 3 (module docstring) on ``batches`` random float64 batches
    of ``n`` pairs in ``dim`` dimensions (``c`` in :data:`C_RANGE`)."""
    c = validation.at_least("c", c, *C_RANGE)
    alpha = hyper("alpha", alpha)
    batches, n = validation.integer("batches", batches), validation.integer("n", n, minimum=2)
    dim = validation.integer("dim", dim)
    g = torch.Generator().manual_seed(validation.integer("seed", seed, minimum=0))
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
        haochen = spectral_loss(z1, z2)
        r_sp = max(r_sp, abs(float(haochen + i_chi2 + 1.0)))
        nce = infonce_loss(z1, z2, temperature=sigma**2, include_positive=False) - math.log(2 * n - 2)
        gap = min(gap, float(dv_kl_loss(z1, z2, sigma=sigma) - nce))
    return SpecialCases(r_kl, r_dv, r_sp, gap, batches)


def cosine_vs_gaussian(temperature: float = DEFAULTS.temperature, c: float = DEFAULTS.c, points: int = 201) -> dict:
    """Penalty f*(s) against the cosine u of a pair (d = 2 - 2u) for both similarities, and the
    fraction of u in [-1, 1] where the raw score u/tau lies outside the domain of f*'s formula."""
    temperature, c = hyper("temperature", temperature), validation.positive("c", c)
    u = torch.linspace(-1.0, 1.0, validation.integer("points", points, minimum=2), dtype=torch.float64)
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
