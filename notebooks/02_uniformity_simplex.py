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
# # Uniformity and the regular simplex (f-MICL Theorem 3, Figures 4 and 5)
#
# This notebook teaches why the negative term of f-MICL spreads features out, and when it does not.
# Lu, Zhang, Sun, Guo & Yu 2023, "f-MICL: Understanding and Generalizing InfoNCE-based Contrastive
# Learning" (TMLR, arXiv:2402.10150), Theorem 3: if $h(t)=f^*\circ f'\circ G_\sigma(t)$ is strictly convex on
# $[0,4]$ and $2\le N\le d+1$, every minimiser of the negative term $\sum_{i\ne j} h(\|x_i-x_j\|^2)$ over $N$
# points of $\mathbb S^{d-1}$ is a regular simplex centred at the origin ($x_i\cdot x_j=-1/(N-1)$, Figure 5).
# RKL ($h$ linear) and Neyman ($h$ concave) are outside the theorem, and the paper shows RKL collapsing
# in training (Figure 4).
#
# This notebook (1) minimises the negative term numerically for every divergence
# (`analysis.simplex.negative_term`), (2) draws Figure 5, and (3) trains the objectives briefly on digits and
# scores the features for collapse (`analysis.simplex.collapse`, Figure 4).

# %% tags=["parameters"]
QUICK = True
# quick mode (CI, a 2-core CPU): small configurations and two short trainer runs
SIZES = [(4, 3), (8, 7), (8, 3)]
COLLAPSE_OBJECTIVES = ("js", "rkl")
COLLAPSE_EPOCHS = 1
COLLAPSE_BATCH, COLLAPSE_LR = 256, 0.3
if not QUICK:  # full mode: every objective of the registry, two epochs of the same run
    SIZES = [(4, 3), (8, 7), (16, 15), (32, 31), (8, 3), (16, 3)]
    COLLAPSE_OBJECTIVES = ("kl", "js", "pearson", "sh", "tsallis", "vlc", "rkl", "neyman")
    COLLAPSE_EPOCHS = 2

# %%
import tempfile
from dataclasses import replace

import matplotlib.pyplot as plt
import numpy as np
from IPython.display import Markdown, display

from analysis.gallery import AtLeast, AtMost, Claim, Finding, IsTrue, Within, claims_table, save
from analysis.simplex import collapse, plots
from analysis.simplex.diagnostics import regular_simplex
from analysis.simplex.negative_term import minimise_grid, negative_term, summary
from fmicl_core import divergences
from fmicl_core.objective_config import DEFAULTS

# %% [markdown]
# ## 1. Minimisers of the negative term
# Float64 L-BFGS from random points; `gram_max` is the largest $|x_i\cdot x_j+1/(N-1)|$ and `value - simplex`
# is the gap to Jensen's lower bound $h(2N/(N-1))$ (attained only by the simplex, only when $N\le d+1$).

# %%
results = minimise_grid(divergences.names(), SIZES, seed=0)
print(f"{'div':8s} {'shape h':16s} {'N':>3s} {'d':>3s} {'value - simplex':>15s} {'centroid':>9s} {'gram_max':>9s} {'antipodal':>9s}")
for (name, n, d), r in results.items():
    g = r.diagnostics
    print(f"{name:8s} {divergences.get(name).h_shape:16s} {n:3d} {d:3d} {r.value - r.simplex_value:15.2e} "
          f"{g.centroid_norm:9.1e} {g.gram_max:9.1e} {r.antipodal_fraction:9.2f}")

# %% [markdown]
# RKL: the negative term equals $\log\mu-1-c\,\tfrac{2N}{N-1}(1-\|\bar x\|^2)$, so every centred configuration
# is a minimiser. Check it on the simplex and on symmetric sets $\{\pm v_k\}$:

# %%
rng = np.random.default_rng(0)
v = rng.standard_normal((3, 8))
v /= np.linalg.norm(v, axis=1, keepdims=True)
rkl_closed_form = float(np.log(DEFAULTS.mu) - 1.0 - DEFAULTS.c * 2 * 6 / 5)
rkl_values = {"simplex N=6": negative_term(regular_simplex(6, 8), "rkl"),
              "{+-v_1, +-v_2, +-v_3}": negative_term(np.vstack([v, -v]), "rkl")}
print(rkl_values, "closed form:", rkl_closed_form)

# %% [markdown]
# ## 2. Figure 5: the simplex on the sphere, and what RKL and Neyman give instead

# %%
fig5 = plots.figure_minimisers(results, ("kl", "rkl", "neyman"))
save("02_uniformity_simplex", fig5, summary(results), {"sizes": SIZES, "quick": QUICK})
plt.show()

# %% [markdown]
# ## 3. Collapse in training (Figure 4)
# Each objective trains the same short digits run (batch `COLLAPSE_BATCH`, peak learning rate `COLLAPSE_LR`,
# `COLLAPSE_EPOCHS` epochs, same seed); a run is collapsed when the std of its normalised test embeddings is
# below 1% of $1/\sqrt d$ (the value for uniform points). The reference is the same encoder at random
# initialisation, which every run folder holds.

# %%
config = replace(collapse.SHORT_RUN, epochs=COLLAPSE_EPOCHS, batch_size=COLLAPSE_BATCH, lr=COLLAPSE_LR)
with tempfile.TemporaryDirectory(prefix="fmicl-02-") as runs_dir:
    runs = collapse.collapse_study(COLLAPSE_OBJECTIVES, config, runs_dir)
collapse_numbers = collapse.summary(runs)
for k, s in collapse_numbers.items():
    print(f"{k:12s} collapse std {s['collapse_std']:.5f} (1/sqrt(d) = {s['uniform_std']:.4f})  "
          f"{'COLLAPSED' if s['collapsed'] else 'spread'}  median negative distance {s['median_negative_distance']:.3f}")
collapse_config = {"objectives": COLLAPSE_OBJECTIVES, "epochs": COLLAPSE_EPOCHS}
save("02_collapse_distances", plots.figure_pair_distances({k: r.distances for k, r in runs.items()}, ncols=5),
     collapse_numbers, collapse_config)
save("02_collapse_std", plots.figure_collapse_std(runs), collapse_numbers, collapse_config)
plt.show()

# %% [markdown]
# ## Claims
# The paper prints no number for these results: Theorem 3 and Figures 4 and 5 are exact statements and
# pictures. The known answers are closed forms: the simplex's Gram entries $-1/(N-1)$ and its value
# $h(2N/(N-1))$, RKL's constant, and $1/\sqrt d$ for uniform points.

# %%
convex = [k for k in results if divergences.get(k[0]).uniformity_guaranteed and k[1] <= k[2] + 1]
worst = max(results[k].diagnostics.gram_max for k in convex)
worst_gap = max(abs(results[k].value - results[k].simplex_value) for k in convex)
beyond = [k for k in results if divergences.get(k[0]).uniformity_guaranteed and k[1] > k[2] + 1]
beyond_gaps = [results[k].value - results[k].simplex_value for k in beyond]
rkl_spread = min(results[k].diagnostics.gram_max for k in results if k[0] == "rkl")
ney = [results[k] for k in results if k[0] == "neyman"]
collapsed = [k for k, s in collapse_numbers.items() if s["collapsed"]]
proper = [k for k in COLLAPSE_OBJECTIVES if divergences.get(k).uniformity_guaranteed]
uniform_std = next(iter(runs.values())).uniform_std
rows = [
    Claim("strictly convex h, N <= d+1: minimiser is the regular simplex",
          "qualitative: regular simplex (Theorem 3, Figure 5); no number printed",
          "closed form: x_i.x_j = -1/(N-1), value h(2N/(N-1)) (the tests allow 1e-3 on x_i.x_j, 1e-9 on the value)",
          f"max |x_i.x_j + 1/(N-1)| = {worst:.1e}, max |value - h(2N/(N-1))| = {worst_gap:.1e} over {len(convex)} runs",
          f"sizes {SIZES}, c = {DEFAULTS.c:g}, mu = {DEFAULTS.mu:g}", (AtMost(worst, 1e-3), AtMost(worst_gap, 1e-9)),
          known_answer=True),
    Claim("N > d+1: no simplex; minimum above the Jensen bound", "no number printed (outside Theorem 3)",
          "minimum > h(2N/(N-1)) (Jensen, not attained)",
          f"min gap +{min(beyond_gaps):.3f} over {len(beyond)} runs; "
          + ", ".join(f"{k[0]} N={k[1]} d={k[2]}: +{g:.3f}" for k, g in list(zip(beyond, beyond_gaps))[:3]),
          "L-BFGS float64", AtLeast(beyond_gaps, 0.0, strict=True), known_answer=True),
    Claim("RKL: every centred configuration minimises the negative term", "no number printed",
          f"closed form log mu - 1 - c 2N/(N-1) = {rkl_closed_form:.6f} (N=6)",
          f"values {', '.join(f'{x:.6f}' for x in rkl_values.values())}; minimiser min gram_max {rkl_spread:.2f}",
          "N=6, d=8", Within(list(rkl_values.values()), rkl_closed_form, abs=1e-12), known_answer=True),
    Claim("Neyman (concave h): not driven to the simplex", "no number printed (outside Theorem 3)", "",
          f"antipodal clusters: antipodal pair fraction {min(r.antipodal_fraction for r in ney):.2f}-"
          f"{max(r.antipodal_fraction for r in ney):.2f}, value below simplex by "
          f"{min(r.simplex_value - r.value for r in ney):.1f}+", f"sizes {SIZES}", Finding()),
    Claim("RKL collapses in training; Table-1 f spread out", "qualitative: RKL pair distances all 0 (Figure 4)",
          f"uniform points: collapse std 1/sqrt(d) = {uniform_std:.4f}",
          f"collapsed: {collapsed or 'none'}; " + ", ".join(f"{k} {s['collapse_std']:.4f}" for k, s in collapse_numbers.items()),
          f"digits, {COLLAPSE_EPOCHS} epoch(s), batch {COLLAPSE_BATCH}, lr {COLLAPSE_LR}",
          IsTrue("rkl" in collapsed and not set(collapsed) & set(proper),
                 f"RKL collapsed (std below 1% of 1/sqrt(d)), none of {', '.join(proper)} did")),
]
display(Markdown(claims_table(rows)))

# %% [markdown]
# ## Explore
# The explorer minimises the negative term for any N, d and divergence and sets the minimum found
# against Theorem 3's value $h(2N/(N-1))$; for d = 3 it draws the points on the sphere (Figure 5).
# In JupyterLab with the `notebooks` extra its controls redraw the figure; run headless it shows the
# defaults.

# %%
from analysis.explorers.simplex import explore_simplex

explore_simplex()

# %% [markdown]
# ## Try it
# - In the explorer, set N = 5 with d = 3 (N > d + 1): no simplex fits, the pair distances split into
#   2, 3 and 4 (two poles and a triangle) and the minimum lies above $h(2N/(N-1))$, now only Jensen's
#   lower bound.
# - Set N = 5, d = 4: the simplex is back, every pair at $2N/(N-1) = 2.5$ and the gap at rounding.
# - Pick `neyman`: the points fall into antipodal clusters (distances 0 and 4), far below the
#   simplex's value; pick `rkl`: the gap is 0, yet the distances differ (every centred configuration
#   is a minimiser).
# - Add `(16, 15)` to `SIZES` and `"neyman"` to `COLLAPSE_OBJECTIVES`, with `COLLAPSE_EPOCHS = 2`: does
#   the concave h also collapse in training, as RKL does in Figure 4?
