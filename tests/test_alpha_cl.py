"""alpha-CL losses (Tian 2022, arXiv:2201.12680: the losses it derives from its Theorem 1) as objectives."""

import math

import pytest
import torch

from fmicl_core import alpha_cl, losses, objectives


def _views(n=12, d=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(n, d, generator=g, dtype=torch.float64) for _ in range(2))


def test_exp_weights_with_exponent_one_give_infonce_gradient():
    """dual2 with exp weights, e = 1, eps = 0 is InfoNCE without the positive in the denominator
    (the Gibbs min player): equal gradients with respect to the embeddings."""
    z1, z2 = _views()
    z1.requires_grad_(True)
    acl = objectives.make("acl_exp", alpha_exponent=1.0, temperature=0.3)
    g_acl, = torch.autograd.grad(acl(z1, z2), z1)
    g_nce, = torch.autograd.grad(losses.infonce_loss(z1, z2, 0.3, include_positive=False), z1)
    torch.testing.assert_close(g_acl, g_nce, rtol=1e-10, atol=1e-12)


def test_alpha_eps_plays_the_positive_term_of_the_infonce_denominator():
    """At d2_pos = 0 InfoNCE's denominator holds e^0 = 1 = eps_alpha (2N - 2) for eps_alpha = 1/(2N - 2):
    then alpha~ equals InfoNCE's softmax over [positive, negatives] restricted to the negatives."""
    z1, _ = _views()
    d2_pos, d2_neg = alpha_cl.two_view_distances(z1, z1)
    assert torch.allclose(d2_pos, torch.zeros_like(d2_pos), atol=1e-12)
    k = d2_neg.shape[1]
    alpha = alpha_cl.dual2_weights(d2_neg, "exp", 0.5, 1.0, 1.0 / k)
    full = torch.softmax(torch.cat([torch.zeros(len(d2_pos), 1, dtype=d2_neg.dtype), -d2_neg / 0.5], 1), 1)
    torch.testing.assert_close(alpha, full[:, 1:])


def test_quadratic_weights_are_the_simplex_projection_closed_form():
    """alpha_ij = [mu_i - d2_ij]_+ / tau with mu_i = (sum_{S_i} d2_ij + tau) / |S_i| (Tian 2022, the min player with the quadratic regulariser)."""
    g = torch.Generator().manual_seed(1)
    d2 = torch.rand(5, 9, generator=g, dtype=torch.float64) * 2
    tau = 0.3
    a = alpha_cl.alpha_weights(d2, "quadratic", tau)
    torch.testing.assert_close(a.sum(1), torch.ones(5, dtype=torch.float64))
    for i in range(5):
        s = a[i] > 0
        mu = (d2[i, s].sum() + tau) / s.sum()
        torch.testing.assert_close(a[i], (mu - d2[i]).clamp(min=0) / tau)
    # it minimises sum_j alpha_j d2_j + tau/2 |alpha|^2 on the simplex: no random simplex point does better
    rand = torch.distributions.Dirichlet(torch.ones(9, dtype=torch.float64)).sample((2000,))
    for i in range(5):
        obj = lambda al: (al * d2[i]).sum(-1) + tau / 2 * (al**2).sum(-1)  # noqa: E731
        assert obj(a[i]) <= obj(rand).min() + 1e-12


def test_exp_exponent_two_is_the_paper_p4_weight_and_inverse_is_a_power():
    d2 = torch.tensor([[0.1, 0.5, 1.5]], dtype=torch.float64)
    torch.testing.assert_close(alpha_cl.alpha_weights(d2, "exp", 0.5, 2.0), torch.exp(-d2**2 / 0.5))
    torch.testing.assert_close(alpha_cl.alpha_weights(d2, "inverse", 0.5, 1.5), (d2 + 0.5) ** -1.5)
    z1, z2 = _views(seed=1)  # p = 4 (exponent 2) by default
    torch.testing.assert_close(objectives.make("acl_exp")(z1, z2), alpha_cl.alpha_cl_loss(z1, z2, "exp", 0.5, 2.0))


@pytest.mark.parametrize("name", ["acl_exp", "acl_quadratic", "acl_inverse"])
def test_objective_is_scale_invariant_and_descends_to_aligned_uniform_views(name):
    """Embeddings are normalised (scale-free); a gradient step lowers the loss."""
    z1, z2 = _views(seed=3)
    obj = objectives.make(name)
    torch.testing.assert_close(obj(3.0 * z1, 0.5 * z2), obj(z1, z2))
    z1.requires_grad_(True)
    loss = obj(z1, z2)
    g, = torch.autograd.grad(loss, z1)
    assert obj(z1.detach() - 0.05 * g, z2) < loss
    assert not obj.supports_queue


def test_bad_hyper_parameters_and_inputs_are_rejected():
    with pytest.raises(ValueError, match="temperature"):
        objectives.make("acl_exp", temperature=0.0)
    with pytest.raises(ValueError, match="alpha_eps"):
        objectives.make("acl_inverse", alpha_eps=-1.0)
    with pytest.raises(ValueError, match="alpha weights"):
        alpha_cl.alpha_weights(torch.zeros(2, 2), "cubic")
    with pytest.raises(ValueError, match="NaN"):
        objectives.make("acl_exp")(torch.full((4, 3), math.nan), torch.zeros(4, 3))


@pytest.mark.parametrize("kind", alpha_cl.WEIGHTS)
def test_dual2_weights_are_the_normalised_weights(kind):
    """``alpha~ = w / (sum_k w_k + eps_alpha K)``, as the module docstring writes it, where nothing underflows."""
    g = torch.Generator().manual_seed(2)
    d2 = torch.rand(4, 6, generator=g, dtype=torch.float64) * 2
    w = alpha_cl.alpha_weights(d2, kind, 0.4, 1.5)
    for eps in (0.0, 0.3):
        expected = w / (w.sum(1, keepdim=True) + eps * 6)
        torch.testing.assert_close(alpha_cl.dual2_normalise(w, eps), expected, rtol=1e-15, atol=0)
        torch.testing.assert_close(alpha_cl.dual2_weights(d2, kind, 0.4, 1.5, eps), expected, rtol=1e-12, atol=0)


def test_dual2_weights_hold_when_every_weight_underflows():
    """Far negatives at tau = 0.005: every ``w = exp(-d2^2 / tau)`` underflows float32, yet with
    eps_alpha = 0 the weights are the softmax of ``-d2^2 / tau``, and with eps_alpha > 0 they vanish."""
    d2 = torch.tensor([[1.5, 1.6, 2.0]])
    assert alpha_cl.alpha_weights(d2, "exp", 0.005, 2.0).max() == 0
    alpha = alpha_cl.dual2_weights(d2, "exp", 0.005, 2.0, 0.0)
    torch.testing.assert_close(alpha, torch.softmax(-d2**2 / 0.005, 1))
    assert alpha_cl.dual2_weights(d2, "exp", 0.005, 2.0, 0.1).abs().max() == 0
    z = torch.eye(4) - 0.25  # every negative at d2 = 4/3 or more
    for name in ("acl_exp", "acl_inverse", "acl_quadratic"):
        assert torch.isfinite(objectives.make(name, temperature=0.005, alpha_exponent=10.0)(z, z))
