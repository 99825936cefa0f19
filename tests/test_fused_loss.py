"""The fused f-MICL objective (one pass over the Gram matrix, closed-form gradient) against its
readable definition with plain autograd: values and gradients for every divergence, both
similarities, every negative layout, the capped and uncapped exponentials and both softplus kernels;
float64 gradcheck; bf16 autocast; what the backward keeps; bad input."""

import itertools
import math

import pytest
import torch

from fmicl_core import divergences as D
from fmicl_core import fused
from fmicl_core.similarity import get as get_similarity

ALL = D.names()
N, DIM = 5, 4
# (similarity, settings): the paper's f-Gaussian, a narrow kernel (exponentials past the cap and
# past the factored range), the default cosine and a small temperature (the stable softplus)
SETTINGS = {
    "gaussian": ("gaussian", {"sigma": 1 / math.sqrt(2), "mu": 1.3}),
    "gaussian narrow": ("gaussian", {"sigma": 0.1}),
    "cosine": ("cosine", {"temperature": 0.5}),
    "cosine cold": ("cosine", {"temperature": 0.01}),
}


def unit_batch(rows, seed, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    return torch.nn.functional.normalize(torch.randn(rows, DIM, generator=g, dtype=dtype), dim=1)


def layouts(z):
    """(name, m, cols, excluded) for the layouts of the loss: both views against both (the
    symmetric matrix), view 1 against view 1, view 1 against view 2, and a queue of keys."""
    n = z.shape[0] // 2
    queue = unit_batch(7, seed=11, dtype=z.dtype)
    return {
        "two_view": (2 * n, None, ((0, 0, 2 * n), (0, n, n), (n, 0, n))),
        "one_view": (n, None, ((0, 0, n),)),
        "cross": (n, z[n:], ((0, 0, n),)),
        "queue": (n, queue, ()),
    }


def reference(z, m, cols, positive, negative, gram_scale, gram_offset, excluded, alpha):
    """The definition (Lu et al. 2023, f-MICL, arXiv:2402.10150, the sample objective of its
    Figure 2): ``L = alpha * mean_neg B - mean_pos A`` with the terms of the logits, by autograd."""
    n = z.shape[0] // 2
    rows = z[:m]
    other = rows if cols is None else cols
    logits = gram_scale * rows @ other.T + gram_offset
    keep = torch.ones(logits.shape, dtype=torch.bool)
    for r, c, length in excluded:
        for i in range(length):
            keep[r + i, c + i] = False
    negative_mean = negative(logits[keep]).mean()
    positive_mean = positive(gram_scale * (z[:n] * z[n:]).sum(1) + gram_offset).mean()
    return alpha * negative_mean - positive_mean, positive_mean, negative_mean


def terms(name, setting):
    similarity, kwargs = SETTINGS[setting]
    sim = get_similarity(similarity, **kwargs)
    div = D.get(name)
    return sim.positive_term(div), sim.negative_term(div), *sim.gram_affine


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("setting", SETTINGS)
@pytest.mark.parametrize("layout", ["two_view", "one_view", "cross", "queue"])
def test_values_and_gradients_equal_the_definition(name, setting, layout):
    z = unit_batch(2 * N, seed=10 * ALL.index(name) + list(SETTINGS).index(setting))
    m, cols, excluded = layouts(z)[layout]
    args = (*terms(name, setting), excluded, 3.0)
    z_fused = z.clone().requires_grad_(True)
    z_ref = z.clone().requires_grad_(True)
    cols_fused = cols_ref = None
    if cols is not None:  # columns of their own (view 2 or keys) take gradients too
        cols_fused, cols_ref = cols.clone().requires_grad_(True), cols.clone().requires_grad_(True)
    fused_out = fused.objective(z_fused, m, cols_fused, *args)
    ref_out = reference(z_ref, m, cols_ref, *args)
    for got, want in zip(fused_out, ref_out):
        assert torch.allclose(got, want, rtol=1e-11, atol=1e-12), (got, want)
    for k in range(3):  # the loss and each mean alone
        inputs_fused = [z_fused] + ([cols_fused] if cols is not None else [])
        inputs_ref = [z_ref] + ([cols_ref] if cols is not None else [])
        got = torch.autograd.grad(fused_out[k], inputs_fused, retain_graph=True, materialize_grads=True)
        want = torch.autograd.grad(ref_out[k], inputs_ref, retain_graph=True, materialize_grads=True)
        for g_got, g_want in zip(got, want):
            assert torch.allclose(g_got, g_want, rtol=1e-10, atol=1e-12), (k, g_got, g_want)


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("setting", ["gaussian", "cosine"])
@pytest.mark.parametrize("layout", ["two_view", "cross"])
def test_gradcheck(name, setting, layout):
    """float64 gradcheck of the fused function, the symmetric matrix and one with columns of its own."""
    z = unit_batch(2 * N, seed=3).requires_grad_(True)
    m, cols, excluded = layouts(z.detach())[layout]
    args = (*terms(name, setting), excluded, 2.0)
    if cols is None:
        assert torch.autograd.gradcheck(lambda a: fused.objective(a, m, None, *args), (z,))
    else:
        cols = cols.clone().requires_grad_(True)
        assert torch.autograd.gradcheck(lambda a, b: fused.objective(a, m, b, *args), (z, cols))


def gradient(fn, layout, name, setting, weights, wrt_cols=False):
    """The gradient of ``weights . (L, mean_pos, mean_neg)`` with respect to the rows (or to the
    columns alone, the rows frozen)."""
    z = unit_batch(2 * N, seed=6)
    m, cols, excluded = layouts(z)[layout]
    leaf = cols.clone().requires_grad_(True) if wrt_cols else z.clone().requires_grad_(True)
    out = fn(z if wrt_cols else leaf, m, leaf if wrt_cols else cols, *terms(name, setting), excluded, 2.0)
    (grad,) = torch.autograd.grad(sum(w * o for w, o in zip(weights, out)), leaf)
    return grad


@pytest.mark.parametrize("layout,name,setting,weights,wrt_cols", [
    ("queue", "vlc", "cosine", (1.0, 0.0, 0.0), True),  # a learnt queue of keys, the embeddings frozen
    ("two_view", "js", "gaussian", (1.0, 2.0, -5.0), False),  # all three incoming gradients at once
])
def test_gradients_of_weighted_outputs(layout, name, setting, weights, wrt_cols):
    want = gradient(reference, layout, name, setting, weights, wrt_cols)
    assert torch.allclose(gradient(fused.objective, layout, name, setting, weights, wrt_cols), want,
                          rtol=1e-10, atol=1e-12)


def test_the_backward_keeps_no_matrix_of_pairs():
    """Only (rows, d)-sized products survive the forward, never the 2N x 2N matrix of pairs."""
    z = unit_batch(2 * 64, seed=1, dtype=torch.float32).requires_grad_(True)
    m, cols, excluded = layouts(z.detach())["two_view"]
    loss, _, _ = fused.objective(z, m, cols, *terms("kl", "gaussian"), excluded, 1.0)
    saved = loss.grad_fn.saved_tensors
    assert saved and max(t.numel() for t in saved if t is not None) <= z.numel()


@pytest.mark.parametrize("name", ALL)
def test_bf16_autocast_is_close_to_float32_and_keeps_float32(name):
    """Under CPU bf16 autocast the Gram product runs in bf16, the terms in float32."""
    z = unit_batch(2 * 32, seed=2, dtype=torch.float32)
    m, cols, excluded = layouts(z)["two_view"]
    args = (*terms(name, "gaussian"), excluded, 2.0)
    full = fused.objective(z, m, cols, *args)
    a = z.clone().requires_grad_(True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        low = fused.objective(a, m, cols, *args)
    low[0].backward()
    assert all(t.dtype == torch.float32 for t in low) and a.grad.dtype == torch.float32
    assert torch.isfinite(a.grad).all()
    for got, want in zip(low, full):
        assert float(got.detach()) == pytest.approx(float(want), rel=0.03, abs=0.03)


def test_without_grad_the_values_are_the_same():
    z = unit_batch(2 * N, seed=4).requires_grad_(True)
    m, cols, excluded = layouts(z.detach())["two_view"]
    args = (m, cols, *terms("kl", "gaussian"), excluded, 1.0)
    with torch.no_grad():
        values = fused.objective(z, *args)
    assert values[0].grad_fn is None
    assert all(torch.equal(a, b.detach()) for a, b in zip(values, fused.objective(z, *args)))


def test_kernels_match_their_functions():
    """Each kernel sums phi over the unmasked entries and leaves k * w = phi' there, 0 elsewhere."""
    t = torch.linspace(-3.0, 3.0, 12, dtype=torch.float64).reshape(3, 4)
    runs = ((0, 1, 2),)
    keep = torch.ones(3, 4, dtype=torch.bool)
    keep[0, 1] = keep[1, 2] = False
    kernels = [(phi, fused.KERNELS[phi]) for phi in D.PHI] + [("softplus", fused._softplus_by_exp)]
    for (phi, kernel), shift in itertools.product(kernels, (0.0, D.EXP_CAP - 1.0)):  # across the cap
        fn = D.PHI[phi]
        x = (t + shift).requires_grad_(True)
        (grad,) = torch.autograd.grad(fn(x)[keep].sum(), x)
        total, w, k = kernel(t + shift, lambda buf: fused.fill_runs(buf, runs, 0.0))
        assert torch.allclose(total, fn(t + shift)[keep].sum(), rtol=1e-12), (phi, shift)
        assert torch.allclose(k * w, grad, rtol=1e-12), (phi, shift)


def test_fill_runs_sets_diagonal_runs():
    buf = torch.zeros(4, 6)
    fused.fill_runs(buf, ((0, 2, 3), (3, 0, 1)), 1.0)
    assert buf.nonzero().tolist() == [[0, 2], [1, 3], [2, 4], [3, 0]]


Z = unit_batch(2 * N, seed=0)
POS, NEG, SCALE, OFFSET = terms("kl", "gaussian")


@pytest.mark.parametrize("call,needle", [
    (lambda: fused.objective(Z.numpy(), N, None, POS, NEG, SCALE, OFFSET), "z is a ndarray"),
    (lambda: fused.objective(Z[:-1], N, None, POS, NEG, SCALE, OFFSET), "z has 9 rows"),
    (lambda: fused.objective(Z, N, Z[:, :2], POS, NEG, SCALE, OFFSET), "shape (10, 2)"),
    (lambda: fused.objective(Z, N, None, "kl", NEG, SCALE, OFFSET), "positive is a str"),
    (lambda: fused.objective(Z, 0, None, POS, NEG, SCALE, OFFSET), "m=0"),
    (lambda: fused.objective(Z, N, None, POS, NEG, math.nan, OFFSET), "gram_scale=nan"),
    (lambda: fused.objective(Z, N, None, POS, NEG, SCALE, OFFSET, ((0, 3, 3),)), "(0, 3, 3)"),
    (lambda: fused.objective(Z, N, Z, POS, NEG, SCALE, OFFSET, ((0, 8, 3),)), "(0, 8, 3)"),
    (lambda: fused.objective(Z, 1, Z[:1], POS, NEG, SCALE, OFFSET, ((0, 0, 1),)), "leaves no pair"),
    (lambda: fused.objective(Z, N, Z, POS, NEG, SCALE, OFFSET, ((0, -1, 3),)), "excluded run (0, -1, 3)"),
    (lambda: fused.objective(Z, N, Z, POS, NEG, SCALE, OFFSET, ((0, 1),)), "excluded run (0, 1)"),
    (lambda: fused.objective(Z, N, Z, POS, NEG, SCALE, OFFSET, (5,)), "excluded run 5"),
])
def test_bad_input_is_a_one_line_error_naming_the_value(call, needle):
    with pytest.raises(ValueError) as err:
        call()
    assert needle in str(err.value) and "\n" not in str(err.value)
