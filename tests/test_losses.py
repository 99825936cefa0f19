"""The objectives against hand-written references, the special cases of f-MICL's Figure 3 (Lu et al.
2023, arXiv:2402.10150), the uniformity theorem (Theorem 3), gradients, numerical range, and input
validation."""

import itertools
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from fmicl_core import divergences as D
from fmicl_core import objectives
from fmicl_core.losses import (
    FMICLLoss,
    align_loss,
    dv_kl_loss,
    fmicl_loss,
    fmicl_terms,
    infonce_loss,
    spectral_loss,
    uniform_loss,
    unit_rows,
)
from fmicl_core.objective_config import DEFAULTS, RANGES, ObjectiveConfig, names

ALL = D.names()
SIGMA = DEFAULTS.sigma


def batch(n=6, d=5, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g, dtype=dtype), torch.randn(n, d, generator=g, dtype=dtype)


def unit(z):
    return F.normalize(z, dim=1)


def negative_pairs(mode, n):
    """Ordered (row, col) index pairs of the negative set, views indexed 0..2n-1 (view 2 = n + i)."""
    if mode == "two_view":
        return [(a, b) for a in range(2 * n) for b in range(2 * n) if a % n != b % n]
    if mode == "one_view":
        return [(a, b) for a in range(n) for b in range(n) if a != b]
    return [(a, n + b) for a in range(n) for b in range(n) if a != b]  # cross


def reference_terms(z1, z2, name, similarity, mode, sigma=SIGMA, mu=1.0, tau=0.5, queue=None):
    """Per-pair loops on explicit distances, with the registry's closed forms."""
    div = D.get(name)
    c = 1 / (2 * sigma**2)
    x, y = unit(z1), unit(z2)
    views = torch.cat([x, y])

    def pos(a, b):
        if similarity == "gaussian":
            return div.A(((a - b) ** 2).sum(), c, mu)
        return div.activation((a * b).sum() / tau)

    def neg(a, b):
        if similarity == "gaussian":
            return div.B(((a - b) ** 2).sum(), c, mu)
        return div.conj_activation((a * b).sum() / tau)

    p = torch.stack([pos(x[i], y[i]) for i in range(len(x))]).mean()
    if queue is not None:
        k = unit(queue)
        ngs = [neg(x[i], k[j]) for i in range(len(x)) for j in range(len(k))]
    else:
        ngs = [neg(views[a], views[b]) for a, b in negative_pairs(mode, len(x))]
    return p, torch.stack(ngs).mean()


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("similarity", ["gaussian", "cosine"])
@pytest.mark.parametrize("mode", ["two_view", "one_view", "cross"])
def test_fmicl_terms_match_pairwise_loops(name, similarity, mode):
    z1, z2 = batch(seed=10 * ALL.index(name) + ["two_view", "one_view", "cross"].index(mode))
    t = fmicl_terms(z1, z2, name, similarity, alpha=3.0, mu=1.3, negatives=mode, temperature=0.7)
    p, n = reference_terms(z1, z2, name, similarity, mode, mu=1.3, tau=0.7)
    assert torch.allclose(t.positive, p, rtol=1e-10, atol=1e-10)
    assert torch.allclose(t.negative, n, rtol=1e-10, atol=1e-10)
    assert torch.allclose(t.loss, -p + 3.0 * n, rtol=1e-10, atol=1e-10)
    assert torch.allclose(t.estimate, p - n, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("name", ["kl", "js", "vlc"])
def test_moco_queue_form(name):
    z1, z2 = batch()
    queue = torch.randn(11, 5, dtype=torch.float64)
    t = fmicl_terms(z1, z2, name, queue=queue, alpha=2.0)
    p, n = reference_terms(z1, z2, name, "gaussian", None, queue=queue)
    assert torch.allclose(t.loss, -p + 2.0 * n, rtol=1e-10)


@pytest.mark.parametrize("c", [1.0, 2.0, 20.0])
def test_kl_gaussian_is_alignment_plus_unlogged_uniformity(c):
    """KL + f-Gaussian: L = c E_pos d + alpha E_neg exp(-c d) - 1 (f-MICL Table 1 with mu = 1)."""
    z1, z2 = batch(n=7)
    sigma = math.sqrt(1 / (2 * c))
    x, y = unit(z1), unit(z2)
    views = torch.cat([x, y])
    neg = torch.stack([torch.exp(-c * ((views[a] - views[b]) ** 2).sum())
                       for a, b in negative_pairs("two_view", 7)]).mean()
    expected = c * align_loss(x, y) + 40.0 * neg - 1.0
    assert torch.allclose(fmicl_loss(z1, z2, "kl", sigma=sigma), expected, rtol=1e-10)


@pytest.mark.parametrize("c", [1.0, 2.0])
def test_dv_shifted_kl_is_alignment_uniformity(c):
    """KL + f-Gaussian + DV shift = c * align + uniform(t = c) of Wang & Isola 2020 (f-MICL Figure 3)."""
    z1, z2 = batch(n=9)
    x, y = unit(z1), unit(z2)
    dv = dv_kl_loss(z1, z2, sigma=math.sqrt(1 / (2 * c)), negatives="one_view")
    assert torch.allclose(dv, c * align_loss(x, y) + uniform_loss(x, t=c), rtol=1e-10)


def test_kl_alpha_is_the_dv_shift():
    """For KL, f*(s - v) = e^{-v} f*(s): alpha = e^{-v}, and alpha* = 1/E_neg G makes the f-MICL
    value equal the DV objective up to the constant log alpha* (f-MICL Figure 3)."""
    z1, z2 = batch(n=8)
    t1 = fmicl_terms(z1, z2, "kl", alpha=1.0)
    alpha_star = 1.0 / float(t1.negative)  # E_neg G
    t = fmicl_terms(z1, z2, "kl", alpha=alpha_star)
    # -L(alpha*) = E s - 1, and the DV objective is E s - log E e^s = E s - 1 + log alpha*
    dv = -dv_kl_loss(z1, z2)
    assert float(-t.loss) == pytest.approx(float(dv) - math.log(alpha_star), rel=1e-10)


def test_pearson_with_inner_product_ratio_is_spectral_loss():
    """chi^2-MICL with the density-ratio model G = z1.z2 is the spectral contrastive loss (f-MICL Figure 3):
    A(G) = A(0) + 2G and B(G) = B(0) + G^2, so i_hat = -spectral + A(0) - B(0)."""
    z1, z2 = batch(n=8, d=4)
    pearson = D.get("pearson")
    gram = z1 @ z2.T
    off = ~torch.eye(8, dtype=torch.bool)
    i_hat = pearson.f_prime(gram.diagonal()).mean() - pearson.f_conj(pearson.f_prime(gram[off])).mean()
    spectral = spectral_loss(z1, z2)
    zero = torch.zeros((), dtype=gram.dtype)
    at_zero = pearson.f_prime(zero) - pearson.f_conj(pearson.f_prime(zero))
    assert torch.allclose(i_hat, -spectral + at_zero, rtol=1e-10)


def numpy_nt_xent(z1, z2, tau):
    z = np.concatenate([z1, z2])
    z = z / np.linalg.norm(z, axis=1, keepdims=True)
    n = len(z1)
    total = 0.0
    for a in range(2 * n):
        partner = (a + n) % (2 * n)
        logits = np.array([z[a] @ z[b] / tau for b in range(2 * n) if b != a])
        others = [b for b in range(2 * n) if b != a]
        lse = np.log(np.exp(logits - logits.max()).sum()) + logits.max()
        total += lse - logits[others.index(partner)]
    return total / (2 * n)


@pytest.mark.parametrize("tau", [0.1, 0.5, 1.0])
@pytest.mark.parametrize("seed", [0, 1])
def test_infonce_equals_numpy_nt_xent(tau, seed):
    z1, z2 = batch(n=7, d=4, seed=seed)
    assert float(infonce_loss(z1, z2, tau)) == pytest.approx(numpy_nt_xent(z1.numpy(), z2.numpy(), tau), rel=1e-10)


@pytest.mark.parametrize("n", [2, 5, 16])
def test_infonce_collinear_is_log_2n_minus_1(n):
    z = torch.ones(n, 3, dtype=torch.float64)
    assert float(infonce_loss(z, z, 0.3)) == pytest.approx(math.log(2 * n - 1), rel=1e-12)


def test_infonce_queue_form():
    z1, z2 = batch(n=5, d=4)
    queue = torch.randn(9, 4, dtype=torch.float64)
    q, k, kq = unit(z1), unit(z2), unit(queue)
    logits = torch.cat([(q * k).sum(1, keepdim=True), q @ kq.T], 1) / 0.2
    expected = F.cross_entropy(logits, torch.zeros(5, dtype=torch.long))
    assert torch.allclose(infonce_loss(z1, z2, 0.2, queue=queue), expected, rtol=1e-10)


@pytest.mark.parametrize("seed", range(5))
def test_infonce_upper_bounds_dv_shifted_kl(seed):
    """E_pos s - E_x log E_y e^s >= E_pos s - log E_x,y e^s (Jensen), with s = 2c x.y: in losses,
    dv_kl >= infonce (negatives-only denominator) - log(2N - 2)."""
    n = 10
    z1, z2 = batch(n=n, d=6, seed=seed)
    dv = dv_kl_loss(z1, z2, sigma=SIGMA)
    nce = infonce_loss(z1, z2, temperature=SIGMA**2, include_positive=False) - math.log(2 * n - 2)
    assert float(dv) >= float(nce) - 1e-12
    assert float(dv) - float(nce) > 1e-6  # strict for a generic batch


def test_uniform_loss_matches_definition():
    x = unit(batch(n=6)[0])
    vals = [math.exp(-2 * float(((x[i] - x[j]) ** 2).sum())) for i in range(6) for j in range(i + 1, 6)]
    assert float(uniform_loss(x)) == pytest.approx(math.log(np.mean(vals)), rel=1e-12)


# --- the uniformity theorem ------------------------------------------------------------------

def minimise_negative_term(name, n, d, seed=0):
    g = torch.Generator().manual_seed(seed)
    v = torch.randn(n, d, generator=g, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([v], lr=1, max_iter=500, tolerance_grad=1e-13, tolerance_change=1e-15,
                            line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = fmicl_terms(v, v, name, negatives="one_view").negative
        loss.backward()
        return loss

    for _ in range(5):
        opt.step(closure)
    return unit(v.detach())


@pytest.mark.parametrize("name", [n for n in ALL if D.get(n).uniformity_guaranteed])
@pytest.mark.parametrize("n,d", [(2, 3), (4, 3), (5, 8), (8, 7)])
def test_negative_term_minimiser_is_regular_simplex(name, n, d):
    x = minimise_negative_term(name, n, d)
    sq = torch.cdist(x, x) ** 2
    off = ~torch.eye(n, dtype=torch.bool)
    assert float((sq[off] - 2 * n / (n - 1)).abs().max()) < 1e-3
    assert float(x.mean(0).norm()) < 1e-3


# --- gradients and numerical range -----------------------------------------------------------

@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("similarity", ["gaussian", "cosine"])
def test_gradcheck(name, similarity):
    z1, z2 = batch(n=4, d=3, seed=3)
    z1.requires_grad_(True)
    z2.requires_grad_(True)
    assert torch.autograd.gradcheck(
        lambda a, b: fmicl_loss(a, b, name, similarity, alpha=2.0, temperature=0.8), (z1, z2))


def extreme_batches():
    e = torch.zeros(4, 8)
    e[:, 0] = 1.0
    identical = (e.clone(), e.clone())  # every distance 0
    antipodal = (torch.cat([e[:2], -e[:2]]), torch.cat([-e[:2], e[:2]]))  # positives at d = 4
    t = torch.linspace(0.0, math.pi, 9)
    sweep = (torch.tensor([[1.0, 0.0]]).repeat(9, 1), torch.stack([t.cos(), t.sin()], 1))  # positives: d in [0, 4]
    simplex = torch.eye(4) - 0.25  # every negative far: d = 8/3 within a view
    return {"identical": identical, "antipodal": antipodal, "sweep": sweep, "spread": (simplex, -simplex)}


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("similarity,kw", [("gaussian", {"sigma": SIGMA}),
                                            ("gaussian", {"sigma": math.sqrt(1 / 40)}),
                                            ("cosine", {"temperature": 0.05})])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("case", ["identical", "antipodal"])
def test_finite_loss_and_gradients(name, similarity, kw, dtype, case):
    """d = 0 and d = 4 with c = 1 and c = 20 (the paper's vision and text settings)."""
    z1, z2 = (z.to(dtype).requires_grad_(True) for z in extreme_batches()[case])
    loss = fmicl_loss(z1, z2, name, similarity, **kw)
    loss.backward()
    assert torch.isfinite(loss)
    assert torch.isfinite(z1.grad).all() and torch.isfinite(z2.grad).all()


def reads(name, similarity):
    """The hyper-parameters of ObjectiveConfig that objective ``name`` reads."""
    if name in ALL:
        kernel = ("sigma", "mu") if similarity == "gaussian" else ("temperature",)
        return kernel + ("alpha",) + (("beta",) if name == "tsallis" else ())
    return {"infonce": ("temperature",), "au": ("uniformity_t",), "spectral": (), "dv_kl": ("sigma", "mu"),
            }.get(name, ("temperature", "alpha_exponent", "alpha_eps"))  # the alpha-CL losses


def corner_configs(name):
    """The objective at every corner of the ranges of the hyper-parameters it reads."""
    for similarity in ("gaussian", "cosine") if name in ALL else ("gaussian",):
        keys = reads(name, similarity)
        for values in itertools.product(*(RANGES[k] for k in keys)):
            yield ObjectiveConfig(name, similarity=similarity, **dict(zip(keys, values)))


@pytest.mark.parametrize("name", names())
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_every_objective_finite_at_the_corners_of_the_ranges(name, dtype):
    """The numerical grid: every objective, every corner of the allowed ranges (cosine temperature
    down to 0.005, mu from 1e-4 to 1e4, sigma from 0.01, ...), on identical views, antipodal
    positives, positives sweeping d over [0, 4] and far negatives: finite loss and gradients."""
    for config in corner_configs(name):
        objective = objectives.make(config)
        for case, (a, b) in extreme_batches().items():
            z1, z2 = (z.to(dtype).requires_grad_(True) for z in (a, b))
            loss = objective(z1, z2)
            loss.backward()
            assert torch.isfinite(loss), (config, case)
            assert torch.isfinite(z1.grad).all() and torch.isfinite(z2.grad).all(), (config, case)


@pytest.mark.parametrize("name", [n for n in names() if n != "spectral"])
def test_only_directions_count(name):
    """Rows scaled by 1e30 or 1e-30 give the loss of the unscaled rows and finite gradients (the L2
    normalisation does not overflow or underflow); in bfloat16, scaling by 2^100 is exact."""
    objective = objectives.make(name)
    z1, z2 = batch(n=6, d=5, dtype=torch.float32)
    for dtype, scales, rel in ((torch.float32, (1e30, 1e-30), 1e-5), (torch.bfloat16, (2.0**100, 2.0**-100), 0.0)):
        a, b = z1.to(dtype), z2.to(dtype)
        reference = objective(a, b)
        for scale in scales:
            x = (a * scale).requires_grad_(True)
            loss = objective(x, b * scale)
            loss.backward()
            assert float(loss.detach()) == pytest.approx(float(reference), rel=rel, abs=rel), (dtype, scale)
            assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


def test_unit_rows_of_any_scale_agree_bit_for_bit():
    """Rows whose squares would overflow or underflow float32 are first divided by a power of two:
    the directions and the gradients (scaled by the inverse power) are those of the ordinary rows
    bit for bit, alone or mixed with ordinary rows in one batch."""
    z = batch(n=6, d=5, dtype=torch.float32)[0]
    weights = torch.randn(6, 5, generator=torch.Generator().manual_seed(1))

    def direction_and_grad(rows):
        rows = rows.clone().requires_grad_(True)
        u = unit_rows(rows)
        (grad,) = torch.autograd.grad((u * weights).sum(), rows)
        return u.detach(), grad

    ref_u, ref_grad = direction_and_grad(z)
    for k in (-100, -70, 70, 100):
        u, grad = direction_and_grad(z * 2.0**k)
        assert torch.equal(u, ref_u) and torch.equal(grad * 2.0**k, ref_grad), k
    mixed = torch.cat([z[:3] * 2.0**100, z[3:]])
    assert torch.equal(direction_and_grad(mixed)[0], ref_u)


def test_unit_rows_gradcheck():
    z = batch(n=4, d=3)[0].requires_grad_(True)
    assert torch.autograd.gradcheck(unit_rows, (z,))
    assert torch.allclose(unit_rows(z), F.normalize(z, dim=1), rtol=1e-15)


def test_sh_cosine_is_finite_for_antipodal_positives_at_small_temperature():
    """The SH cosine activation ``1 - e^-v`` goes through the linear continuation of exp (it overflowed
    float32 for antipodal positives at tau <= 0.011)."""
    z1, z2 = (z.requires_grad_(True) for z in extreme_batches()["antipodal"])
    loss = fmicl_loss(z1, z2, "sh", "cosine", temperature=0.005)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(z1.grad).all()


def test_mixed_dtypes_are_promoted():
    """MoCo v3 pairs bf16 queries with float32 keys; float32 with float64 is promoted too."""
    z1, z2 = batch(dtype=torch.float64)
    for name in ("kl", "infonce", "spectral"):
        objective = objectives.make(name)
        mixed = objective(z1.float(), z2)
        assert mixed.dtype == torch.float64
        assert float(mixed) == pytest.approx(float(objective(z1.float().double(), z2)), rel=1e-12)
    queue = torch.randn(5, 5, dtype=torch.float64)
    assert torch.isfinite(fmicl_loss(z1.float(), z2.float(), queue=queue))


def test_low_precision_close_to_full_precision():
    z1, z2 = batch(n=32, d=16, dtype=torch.float32)
    for name in ALL:
        full = fmicl_loss(z1, z2, name)
        half = fmicl_loss(z1.bfloat16(), z2.bfloat16(), name)
        assert float(half) == pytest.approx(float(full), rel=0.02, abs=0.05)


def test_module_matches_function_and_tsallis_order():
    z1, z2 = batch()
    m = FMICLLoss(ObjectiveConfig("tsallis", sigma=0.6, alpha=5.0, beta=3.0))
    expected = fmicl_loss(z1, z2, D.get("tsallis", beta=3.0), sigma=0.6, alpha=5.0)
    assert torch.allclose(m(z1, z2), expected)


# --- bad input ---------------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs,needle", [
    ({"divergence": "kullback"}, "'kullback'"),
    ({"similarity": "dot"}, "'dot'"),
    ({"sigma": 0.0}, "sigma=0.0"),
    ({"sigma": -1.0}, "sigma=-1.0"),
    ({"alpha": 0.0}, "alpha=0.0"),
    ({"alpha": -3.0}, "alpha=-3.0"),
    ({"mu": 0.0}, "mu=0.0"),
    ({"negatives": "all"}, "'all'"),
])
def test_bad_hyperparameters(kwargs, needle):
    z1, z2 = batch()
    with pytest.raises(ValueError) as err:
        fmicl_loss(z1, z2, **kwargs)
    assert needle in str(err.value) and "\n" not in str(err.value)


def test_bad_tsallis_order_in_config():
    with pytest.raises(ValueError, match="beta=1.0"):
        ObjectiveConfig("tsallis", beta=1.0)


def test_module_builds_its_divergence_and_similarity_once():
    m = FMICLLoss(ObjectiveConfig("js", sigma=0.6))
    assert m.divergence.name == "js" and m.similarity.sigma == 0.6
    with pytest.raises(ValueError, match="'infonce'"):
        FMICLLoss(ObjectiveConfig("infonce"))


@pytest.mark.parametrize("z1,z2,needle", [
    (torch.randn(4, 3), torch.randn(5, 3), "must match"),
    (torch.randn(4, 3), torch.randn(4, 2), "must match"),
    (torch.randn(4), torch.randn(4), "2-D"),
    (torch.randn(2, 3, 4), torch.randn(2, 3, 4), "2-D"),
    (torch.randn(1, 3), torch.randn(1, 3), "N=1"),
    (torch.tensor([[0.0, 1.0], [float("nan"), 1.0]]), torch.randn(2, 2), "finite"),
    (torch.randn(2, 2), torch.tensor([[0.0, 1.0], [float("inf"), 1.0]]), "finite"),
])
def test_bad_embeddings(z1, z2, needle):
    for fn in (fmicl_loss, infonce_loss, dv_kl_loss, spectral_loss):
        with pytest.raises(ValueError, match=needle):
            fn(z1, z2)


def test_bad_queue():
    z1, z2 = batch()
    with pytest.raises(ValueError, match="width 3"):
        fmicl_loss(z1, z2, queue=torch.randn(4, 3, dtype=torch.float64))
