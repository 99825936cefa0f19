# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 00 · The objectives zoo
#
# This notebook teaches what each f-divergence asks of a pair of embeddings: Table 1 of f-MICL
# (Lu et al. 2023, arXiv:2402.10150) gives, for every f, the positive score A(d) = f'(G) and the
# negative penalty B(d) = f*(f'(G)) of a pair at squared distance d in [0, 4]. It checks numerically
# the relations of f-MICL's Figure 3 (KL with the f-Gaussian similarity is alignment plus uniformity,
# and InfoNCE bounds its Donsker–Varadhan form) and shows why the cosine similarity needs the f-GAN
# output activations. Everything comes from `fmicl_core.divergences` and `analysis.zoo`.
#
# With the f-Gaussian similarity $G(d) = \mu\, e^{-d/(2\sigma^2)}$ of a pair at $d = \|x - y\|^2$, the loss to
# minimise is
#
# $$\mathcal{L} = -\,\mathbb{E}_{+}\, A(d) + \alpha\, \mathbb{E}_{-}\, B(d), \qquad A(d) = f'(G(d)), \quad
# B(d) = f^*\big(f'(G(d))\big),$$
#
# and $\hat I_f = \mathbb{E}_{+} A - \mathbb{E}_{-} B$ (with $\alpha = 1$) is the estimate of the f-mutual information.

# %% tags=["parameters"]
QUICK = True  # CI mode; the full mode only uses more random batches
BATCHES = 50 if QUICK else 1000
from fmicl_core.objective_config import DEFAULTS

C = DEFAULTS.c  # (2 sigma^2)^-1 = 1, f-MICL Table 7
TEMPERATURE = DEFAULTS.temperature

# %%
import matplotlib.pyplot as plt
import torch
from IPython.display import Markdown, display

from analysis.gallery import AtLeast, AtMost, Claim, Finding, Within, claims_table, save
from analysis.zoo import curves as zoo
from analysis.zoo.plots import plot_zoo
from fmicl_core import divergences as D

print(D.table())

# %% [markdown]
# ## Table 1 as curves
# Every B is decreasing in d (f* and f' increase, G decreases). The uniformity theorem (f-MICL
# Theorem 3) needs h = B strictly convex on [0, 4]: true for KL, JS, Pearson, SH, Tsallis and VLC; RKL's h is
# linear and Neyman's concave.

# %%
curves = zoo.term_curves(C)
cosine = zoo.cosine_vs_gaussian(TEMPERATURE, C)
fig = plot_zoo(curves, cosine)
plt.show()

# %% [markdown]
# ## The relations of Figure 3
# Residuals of the identities over random batches (float64): KL + f-Gaussian is alignment plus
# un-logged uniformity; its DV shift is Wang & Isola's alignment-uniformity; chi^2 with the
# inner-product ratio is the spectral loss; and the Jensen gap InfoNCE - DV-shifted KL is >= 0.

# %%
cases = zoo.special_case_residuals(BATCHES, c=C)
cases

# %% [markdown]
# ## The corrected VLC entry
# The paper prints f*(f'(u)) = 3 - 4/(u+1); the Fenchel-Young equality u f'(u) - f(u) gives
# 3 - (8u+4)/(u+1)^2, which is 0 at u = 1 as it must be (f(1) = 0).

# %%
vlc = D.get("vlc")
u = torch.tensor([1.0], dtype=torch.float64)
vlc_right = float(u * vlc.f_prime(u) - vlc.f(u))
vlc_paper = float(3 - 4 / (u + 1))
outside = {n: v["raw_outside_domain"] for n, v in cosine.items()}
print(f"VLC at u = 1: paper {vlc_paper}, Fenchel-Young {vlc_right}")
print("fraction of cosines whose raw score cos/tau leaves dom f*:", outside)

# %%
save("00_objectives_zoo", fig, {"special_cases": cases, "raw_cosine_outside_domain": outside,
                                    "vlc_at_1": {"paper": vlc_paper, "fenchel_young": vlc_right}},
     {"c": C, "temperature": TEMPERATURE, "batches": BATCHES})
no_number = "identity; no number printed"
rounding = "residual 0 (float64 rounding; the tests allow 1e-10)"
rows = [
    Claim("KL + f-Gaussian = c·alignment + α·un-logged uniformity (Figure 3)", no_number, rounding,
          f"max residual {cases.kl_is_alignment_plus_unlogged_uniformity:.1e}", f"{BATCHES} batches, c={C:g}",
          AtMost(cases.kl_is_alignment_plus_unlogged_uniformity, 1e-10), known_answer=True),
    Claim("DV-shifted KL = alignment-uniformity (Figure 3)", no_number, rounding,
          f"max residual {cases.dv_kl_is_alignment_uniformity:.1e}", f"{BATCHES} batches",
          AtMost(cases.dv_kl_is_alignment_uniformity, 1e-10), known_answer=True),
    Claim("χ²-MICL = spectral contrastive loss (Figure 3)", no_number, rounding,
          f"max residual {cases.pearson_is_spectral:.1e}", "G = z1·z2", AtMost(cases.pearson_is_spectral, 1e-10),
          known_answer=True),
    Claim("InfoNCE ≥ DV-shifted KL (Jensen)", "no number printed", "gap > 0 (Jensen's inequality, strict off a constant)",
          f"min gap {cases.infonce_minus_dv_min_gap:.2e}", f"τ = σ², {BATCHES} batches",
          AtLeast(cases.infonce_minus_dv_min_gap, 0.0, strict=True), known_answer=True),
    Claim("VLC f*∘f'(1) (Table 1)", "3 − 4/(u+1), which is 1 at u = 1 (Table 1)", "0 (f(1) = 0, Fenchel–Young)",
          f"{vlc_right:.0f} (corrected form)", "Fenchel–Young", Within(vlc_right, 0.0, abs=1e-12), known_answer=True),
    Claim("raw cosine leaves dom f* for VLC", "no number printed", "",
          f"{outside['vlc']:.0%} of cosines", f"τ = {TEMPERATURE}", Finding()),
]
display(Markdown(claims_table(rows)))

# %% [markdown]
# ## Explore
# The explorer draws A(d), h(d) = B(d), h'' (the condition of f-MICL Theorem 3) and the importance
# of a negative pair (Tian 2022, arXiv:2201.12680, Theorem 1) for any divergence, σ, α, μ and
# similarity. In JupyterLab with the `notebooks` extra its controls redraw the figure; run headless
# it shows the defaults.

# %%
from analysis.explorers.objectives import explore_objectives

explore_objectives()

# %% [markdown]
# ## Try it
# - In the explorer, pick `rkl`, then `neyman`: h'' is 0, then negative, so Theorem 3 no longer
#   applies; RKL weighs every negative pair alike, Neyman weighs the far pairs most.
# - Move σ down to 0.16 (c ≈ 20, the Wikipedia setting of f-MICL Table 7): B(d) of KL vanishes beyond
#   d ≈ 0.3, and the pair weight sits on the closest negatives.
# - Set `similarity` to `cosine` with `vlc`: h'' turns negative, so the cosine form of VLC is outside
#   the uniformity argument, while `kl` and `js` stay strictly convex.
# - Set `C = 20` in the parameters cell and rerun: the residuals of Figure 3 stay at float64 rounding,
#   since the identities hold for every c.
# - Set `TEMPERATURE = 0.1`: the share of cosines whose raw score cos/τ leaves dom f* grows for every
#   divergence but KL (VLC: from 25 % to 80 %).
