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
# # 06 · The coordinate-wise (α-CL) view of contrastive learning, with f-MICL inside it
#
# This notebook teaches contrastive learning as a game between a min player, who weighs the pairs,
# and a max player, who trains the network, and places f-MICL inside it. Tian 2022 ("Understanding
# Deep Contrastive Learning via Coordinate-wise Optimization", NeurIPS 2022, arXiv:2201.12680), Theorem 1: the gradient of every loss of the family $\mathcal L_{\phi,\psi}$
# equals that of an energy $\mathcal E_\alpha=\sum_{i\ne j}\alpha_{ij}(d_{ij}^2-d_i^2)$ with the
# pairwise importance $\alpha$ held fixed. Contrastive learning is then a game: a min player picks
# $\alpha$, a max player trains the network on $\mathcal E_\alpha$.
#
# 1. The weights $\alpha_{ij}$ of the family and of **every f-MICL divergence** (Lu et al. 2023,
#    arXiv:2402.10150): an f-MICL negative at $G=\mu e^{-c\|z-z'\|^2}$ gets weight
#    $\propto G^2 f''(G)$ (KL: Gibbs weights = InfoNCE; RKL: uniform; Neyman: far pairs weigh more).
#    Closed forms checked against autograd.
# 2. With $\alpha$ fixed, the deep linear max player is PCA on the contrastive covariance $C_\alpha$
#    (rank one, energy $\lambda_{\max}/2$), not on the data covariance; a ReLU layer with
#    per-filter normalisation keeps a higher rank (Tian's abstract states both).
# 3. The α-CL losses (dual2 normalisation: exp weights with $p=4$, quadratic/sparse, inverse) as
#    trainer objectives on digits against InfoNCE and f-MICL KL/JS.
#
# Everything comes from `analysis.coordinate`.

# %% tags=["parameters"]
QUICK = True
SEED = 0
STEPS = 400 if QUICK else 3000           # deep linear max-player steps
RELU_STEPS = 200 if QUICK else 3000      # two-layer max-player steps
RELU_SEEDS = 1 if QUICK else 2
OBJECTIVES = ["infonce", "kl", "acl_exp"] if QUICK else [
    "infonce", "kl", "js", "acl_exp", "acl_quadratic", "acl_inverse"]
TRAIN_SEEDS = [0] if QUICK else [0, 1, 2]
EPOCHS = 1 if QUICK else 40

# %%
import tempfile

import matplotlib.pyplot as plt
import torch
from IPython.display import Markdown, display

from analysis.coordinate import experiments as ex
from analysis.coordinate import pair_weights as pw
from analysis.coordinate.plots import plot_checks, plot_digits
from analysis.gallery import AtLeast, AtMost, Claim, Finding, Within, claims_table, save
from fmicl_core.config import TrainConfig

torch.set_num_threads(1)

# %% [markdown]
# ## 1 · Pairwise importance: closed form vs autograd
# Every loss is written as a function of Tian's half squared distances; `autograd_weights` takes
# $-\partial L/\partial d_{ij}^2$ from `torch.autograd`, `family_weights` / `fmicl_weights` the closed
# forms. The f-MICL loss on distances equals `fmicl_loss` on the embeddings (tested).

# %%
errors = ex.weights_check(seed=SEED)
for name, err in errors.items():
    print(f"{name:22s} max relative difference {err:.1e}")
print("\nG^2 f''(G), the f-MICL importance profile per divergence:")
for name, text in pw.IMPORTANCE_TEXT.items():
    print(f"  {name:8s} {text}")

# %% [markdown]
# ## 2 · Max player with α fixed, and the alternating loop

# %%
result = ex.coordinate_checks(SEED, STEPS, RELU_STEPS, RELU_SEEDS)
print("\n".join(ex.summary(result)))
fig = plot_checks(result)
plt.show()

# %% [markdown]
# With α recomputed by the min player every 50 steps, the max player still reaches the top of the
# $C_\alpha$ it holds (|cos| and $E/(\lambda_{\max}/2)$ near 1), but the loop does not settle at a
# fixed point: the weights recomputed from the final network put their mass on pairs that are close
# along the direction just learnt, which makes that direction the *least* contrastive one
# (|cos| with the top eigenvector of $C_{\alpha(W)}$ stays small).

# %% [markdown]
# ## 3 · α-CL objectives in the trainer (digits, SimCLR, small CNN)
# The runs go into a temporary folder through `ensure_run`.

# %%
runs_dir = tempfile.TemporaryDirectory(prefix="fmicl-06-")
base = TrainConfig(epochs=EPOCHS, out_dir=runs_dir.name, progress=False, knn_every=0)
runs = ex.train_objectives(OBJECTIVES, TRAIN_SEEDS, base)
runs_dir.cleanup()
lines = ["| objective | kNN | linear probe | random-init kNN |", "|---|---|---|---|"]
for name, r in runs.items():
    lines.append(f"| {name} | {r.knn[0]:.3f} ± {r.knn[1]:.3f} | {r.linear[0]:.3f} ± {r.linear[1]:.3f} | "
                 f"{r.random_knn[0]:.3f} |")
display(Markdown("\n".join(lines)))
fig_digits = plot_digits(runs)
plt.show()

# %%
config = {"seed": SEED, "steps": STEPS, "relu_steps": RELU_STEPS, "relu_seeds": RELU_SEEDS,
          "objectives": OBJECTIVES, "train_seeds": TRAIN_SEEDS, "epochs": EPOCHS, "quick": QUICK}
save("06_coordinate_wise_cl", fig, result, config)
save("06_alpha_cl_digits", fig_digits, runs, config)
uni, gibbs = result.deep_linear["uniform"], result.deep_linear["exp"]
relu = result.relu
best_acl = max((n for n in runs if n.startswith("acl")), key=lambda n: runs[n].linear[0])
cfg_lin = f"L=3 10-10-10-5, N=512, {STEPS} steps"
cfg_relu = f"10-10-20, N=256, {RELU_STEPS} steps"


def ranks(key):
    return [r.stable_rank for r in relu[key]]


def listed(values):
    return ", ".join(f"{v:.2f}" for v in values)


rows = [
    Claim("closed-form alpha = autograd (family + every f-MICL divergence)",
          "no number printed (Theorem 1)", "equal (chain rule): differences at float64 rounding, < 1e-9",
          f"max rel. diff {max(errors.values()):.1e}", "float64, 2N=32 views", AtMost(max(errors.values()), 1e-9),
          known_answer=True),
    Claim("deep linear, uniform alpha: |cos(v1, top eigvec C_alpha)|",
          "qualitative: rank-1, recovers PCA (abstract)",
          "1 (the maximum of tr(W C W^T) is rank one along u_C); test: >= 0.99",
          f"{uni.cos_top_eigvec:.4f}", cfg_lin, AtLeast(uni.cos_top_eigvec, 0.99), known_answer=True),
    Claim("... |cos(v1, data top PC)|", "no number printed",
          f"|cos(u_C, PC1)| = {uni.cos_eigvec_top_pc:.3f} (eigenvectors of C_alpha and of the data covariance); "
          "within sqrt(2 (1 - 0.99)) < 0.15 once |cos(v1, u_C)| >= 0.99",
          f"{uni.cos_top_pc:.3f}", cfg_lin, Within(uni.cos_top_pc, uni.cos_eigvec_top_pc, abs=0.15), known_answer=True),
    Claim("... energy at the optimum", "no number printed",
          f"lambda_max(C_alpha)/2 = {uni.half_lambda_max:.3f}; test: within 1%",
          f"{uni.energy:.3f}", cfg_lin, Within(uni.energy, uni.half_lambda_max, rel=0.01), known_answer=True),
    Claim("alternating, Gibbs alpha tau=0.5: |cos| with top eigvec of held C_alpha, E",
          "no number printed", f"1 and lambda_max/2 = {gibbs.half_lambda_max:.3f} of the held C_alpha; test: >= 0.99, "
          "within 1%", f"{gibbs.cos_top_eigvec:.4f}, E {gibbs.energy:.3f}", f"{cfg_lin}, alpha every 50 steps",
          (AtLeast(gibbs.cos_top_eigvec, 0.99), Within(gibbs.energy, gibbs.half_lambda_max, rel=0.01)),
          known_answer=True),
    Claim("two-layer linear, per-filter W1: stable rank", "qualitative: rank-1 for deep linear networks (abstract)",
          "1 (linear network: the rank-one optimum); test: within 1e-3", listed(ranks("linear, per filter")), cfg_relu,
          Within(ranks("linear, per filter"), 1.0, abs=1e-3), known_answer=True),
    Claim("two-layer ReLU, per-filter W1: stable rank",
          "qualitative: fixed points can have higher ranks (abstract)", "", listed(ranks("relu, per filter")), cfg_relu,
          AtLeast(ranks("relu, per filter"), 1.2, strict=True)),
    Claim("two-layer ReLU, per-layer W1: stable rank", "no number printed", "", listed(ranks("relu, per layer")), cfg_relu,
          Finding()),
    Claim("alpha-CL (best of acl_*) vs InfoNCE, linear probe",
          "qualitative: comparable (or better) than InfoNCE on CIFAR-10, STL-10, CIFAR-100 (abstract)", "",
          f"{best_acl} {100 * runs[best_acl].linear[0]:.1f} vs {100 * runs['infonce'].linear[0]:.1f}",
          f"digits, small CNN, {EPOCHS} epochs, seeds {TRAIN_SEEDS}", Finding()),
]
display(Markdown(claims_table(rows)))

# %% [markdown]
# ## Try it
# - Set `STEPS = 3000`: the deep linear max player's |cos| with the top eigenvector of $C_\alpha$ and
#   its energy approach 1 and $\lambda_{\max}/2$.
# - Set `RELU_STEPS = 3000` and `RELU_SEEDS = 2`: does the ReLU layer keep a stable rank above 1 while
#   the linear layer falls to 1?
# - Add `"js"`, `"acl_quadratic"` and `"acl_inverse"` to `OBJECTIVES` with `EPOCHS = 10`: is the best
#   α-CL loss comparable to InfoNCE, as Tian's abstract states?
# - In notebook 00's explorer, the last panel is the f-MICL weight $\alpha_{ij}$ of part 1 for any
#   divergence and σ: compare KL's (Gibbs weights, InfoNCE's) with RKL's (uniform).
