"""The f-divergence registry against the definitions: f(1) = 0, the conjugate as a numerical
supremum, Fenchel-Young, closed forms = compositions, and the convexity of h on [0, 4]."""

import math
import subprocess
import sys

import numpy as np
import pytest
import torch
from scipy.optimize import minimize_scalar

from fmicl_core import divergences as D
from fmicl_core.objective_config import RANGES

ALL = D.names()
T = torch.float64


def t64(x):
    return torch.as_tensor(x, dtype=T)


def numerical_conjugate(div, t: float) -> float:
    """sup_{u > 0} (u t - f(u)) by bounded scalar search on log u."""
    def neg(log_u):
        u = t64(math.exp(log_u))
        return -float(u * t - div.f(u))

    res = minimize_scalar(neg, bounds=(-30.0, 12.0), method="bounded", options={"xatol": 1e-12})
    return -res.fun


def test_names_in_paper_order():
    assert ALL == ("kl", "js", "pearson", "sh", "tsallis", "vlc", "rkl", "neyman")


@pytest.mark.parametrize("name", ALL)
def test_f_vanishes_at_one(name):
    assert abs(float(D.get(name).f(t64(1.0)))) < 1e-14


@pytest.mark.parametrize("name", ALL)
def test_conjugate_is_the_supremum(name):
    div = D.get(name)
    lo, hi = div.conj_domain
    lo = max(lo, -4.0) + 0.05
    hi = min(hi, 3.0) - 0.05
    for t in np.linspace(lo, hi, 13):
        assert float(div.f_conj(t64(t))) == pytest.approx(numerical_conjugate(div, t), abs=2e-6)


@pytest.mark.parametrize("name", ALL)
def test_fenchel_young_equality(name):
    div = D.get(name)
    u = t64(np.geomspace(0.02, 30.0, 200))
    fp = div.f_prime(u)
    assert torch.allclose(div.f_conj(fp), u * fp - div.f(u), rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("c,mu", [(1.0, 1.0), (0.5, 2.0), (2.0, 0.5), (20.0, 1.0)])
def test_closed_forms_equal_composition(name, c, mu):
    div = D.get(name)
    d = t64(np.linspace(0.0, 4.0, 101))
    G = mu * torch.exp(-c * d)
    # exact wherever every exponential stays below EXP_CAP (Neyman's A has exp(-2 log G))
    keep = torch.log(G) >= -D.EXP_CAP / 2
    assert torch.allclose(div.A(d, c, mu)[keep], div.f_prime(G)[keep], rtol=1e-9, atol=1e-9)
    assert torch.allclose(div.B(d, c, mu)[keep], div.f_conj(div.f_prime(G))[keep], rtol=1e-9, atol=1e-9)


def test_vlc_corrects_the_papers_entry():
    """The paper's f* o f' = 3 - 4/(u+1) is 1 at u = 1; the right value u f'(u) - f(u) is 0."""
    vlc = D.get("vlc")
    u = t64([0.3, 1.0, 4.0])
    right = u * vlc.f_prime(u) - vlc.f(u)
    assert torch.allclose(vlc.B(-torch.log(u)), right)  # d = -log u with c = mu = 1
    paper = 3 - 4 / (u + 1)
    assert float(paper[1]) == 1.0 and float(right[1]) == 0.0


@pytest.mark.parametrize("name", ALL)
def test_convexity_flag_matches_second_differences(name):
    """h(t) = f* o f' o G(t) on [0, 4] (c = mu = 1), second differences on a fine grid."""
    div = D.get(name)
    t = t64(np.linspace(0.0, 4.0, 401))
    h = div.B(t)
    second = (h[2:] - 2 * h[1:-1] + h[:-2]) / (t[1] - t[0]) ** 2
    shape = div.h_shape
    if shape == "strictly convex":
        assert bool((second > 1e-6).all())
    elif shape == "linear":
        assert float(second.abs().max()) < 1e-8
    else:
        assert shape == "concave" and bool((second < -1e-6).all())
    assert div.uniformity_guaranteed == (shape == "strictly convex")


def test_uniformity_flags_match_the_paper():
    flags = {n: D.get(n).uniformity_guaranteed for n in ALL}
    assert flags == {"kl": True, "js": True, "pearson": True, "sh": True, "tsallis": True,
                     "vlc": True, "rkl": False, "neyman": False}


@pytest.mark.parametrize("name", ALL)
def test_h_is_decreasing(name):
    """f* and f' increase and G decreases, so h decreases (proof of the uniformity theorem)."""
    h = D.get(name).B(t64(np.linspace(0.0, 4.0, 101)))
    assert bool((h[1:] < h[:-1]).all())


@pytest.mark.parametrize("name", ALL)
def test_cosine_activation_lands_in_conjugate_domain(name):
    div = D.get(name)
    lo, hi = div.conj_domain
    s = div.activation(t64(np.linspace(-6.0, 6.0, 121)))
    assert bool((s < hi).all())
    # below the formula's domain the monotone conjugate is -f(0); only Pearson and VLC can get there
    if name not in ("pearson",):
        assert bool((s > lo).all())


@pytest.mark.parametrize("name", ALL)
def test_conj_activation_is_the_monotone_conjugate(name):
    div = D.get(name)
    for v in np.linspace(-4.0, 3.0, 15):
        t = float(div.activation(t64(v)))
        assert float(div.conj_activation(t64(v))) == pytest.approx(numerical_conjugate(div, t), abs=5e-6)


@pytest.mark.parametrize("beta", [1.5, 2.0, 3.0])
def test_tsallis_order(beta):
    div = D.get("tsallis", beta=beta)
    u = t64(np.geomspace(0.1, 10.0, 50))
    assert torch.allclose(div.f_prime(u), beta / (beta - 1) * u ** (beta - 1))
    assert torch.allclose(div.B(-torch.log(u)), u**beta + 1 / (beta - 1))


@pytest.mark.parametrize("bad", [1.0, 1.05, 0.5, -2.0, 5.5, float("nan"), "2", True])
def test_tsallis_rejects_orders_outside_its_range(bad):
    with pytest.raises(ValueError, match=f"beta={bad!r}"):
        D.get("tsallis", beta=bad)


def test_unknown_divergence_names_the_value_and_the_allowed():
    with pytest.raises(ValueError) as err:
        D.get("hellinger2")
    msg = str(err.value)
    assert "'hellinger2'" in msg and "kl" in msg and "neyman" in msg and "\n" not in msg


def test_parameters_only_for_tsallis():
    with pytest.raises(ValueError, match="no parameters, got 'beta'"):
        D.get("kl", beta=2.0)
    with pytest.raises(ValueError, match="unknown keyword 'order'"):
        D.get("tsallis", order=2.0)
    with pytest.raises(ValueError, match="already built and takes no parameters, got 'beta'"):
        D.get(D.get("tsallis"), beta=3.0)


def test_closed_forms_refuse_a_kernel_without_a_logarithm():
    with pytest.raises(ValueError, match="mu=0.0"):
        D.get("kl").A(t64([1.0]), mu=0.0)
    with pytest.raises(ValueError, match="c=-1.0"):
        D.get("js").B(t64([1.0]), c=-1.0)


@pytest.mark.parametrize("beta", RANGES["beta"])
def test_tsallis_cosine_conjugate_does_not_underflow(beta):
    """``f*(g_f(v)) = (e^v / k)^k + 1/(beta - 1)`` with ``k = beta/(beta - 1)`` is computed as
    ``exp(k (v - log k))``: the factor ``k^-k`` alone would underflow float32 as beta nears 1."""
    div = D.get("tsallis", beta=beta)
    k = beta / (beta - 1)
    v = t64(np.linspace(-3.0, 3.0, 13))
    assert torch.allclose(div.conj_activation(v), (torch.exp(v) / k) ** k + 1 / (beta - 1), rtol=1e-12)
    assert torch.allclose(div.conj_activation(v.float()), div.conj_activation(v).float(), rtol=1e-5)


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_terms_finite_over_the_allowed_ranges(name, dtype):
    """A and B over d in [0, 4] at every corner of the ranges of sigma, mu and beta, and the cosine
    forms over v = cos / tau for cos in [-1, 1] down to the smallest temperature: finite values
    and finite derivatives."""
    betas = RANGES["beta"] if name == "tsallis" else (D.DEFAULT_BETA,)
    sigmas, mus = RANGES["sigma"], RANGES["mu"]
    for beta in betas:
        div = D.get(name, **({"beta": beta} if name == "tsallis" else {}))
        for sigma, mu in ((s, m) for s in sigmas for m in mus):
            d = torch.linspace(0.0, 4.0, 81, dtype=dtype).requires_grad_(True)
            terms = torch.stack([div.A(d, 1 / (2 * sigma**2), mu), div.B(d, 1 / (2 * sigma**2), mu)])
            terms.sum().backward()
            assert torch.isfinite(terms).all() and torch.isfinite(d.grad).all(), (beta, sigma, mu)
        v = (torch.linspace(-1.0, 1.0, 81, dtype=dtype) / RANGES["temperature"][0]).requires_grad_(True)
        terms = torch.stack([div.activation(v), div.conj_activation(v)])
        terms.sum().backward()
        assert torch.isfinite(terms).all() and torch.isfinite(v.grad).all(), beta


def test_exp_lin_is_exp_then_its_tangent():
    x = t64([0.0, 10.0, D.EXP_CAP, D.EXP_CAP + 5.0])
    y = D.exp_lin(x)
    assert torch.allclose(y[:3], torch.exp(x[:3]))
    assert float(y[3]) == pytest.approx(math.exp(D.EXP_CAP) * 6.0)


def test_cli_prints_the_table_from_the_registry():
    out = subprocess.run([sys.executable, "-m", "fmicl_core.divergences"], capture_output=True,
                         text=True, check=True).stdout
    for name in ALL:
        div = D.get(name)
        line = next(l for l in out.splitlines() if l.startswith(name + " "))
        assert div.f_text in line and div.A_text in line and div.B_text in line
        assert line.rstrip().endswith("yes" if div.uniformity_guaranteed else "no")


@pytest.mark.parametrize("phi", list(D.PHI))
def test_term_is_an_affine_transform_of_phi(phi):
    x = t64(np.linspace(-4.0, 4.0, 17))
    term = D.Term(phi, slope=-0.5, shift=0.3, scale=2.0, offset=-1.0)
    assert torch.allclose(term(x), 2.0 * D.PHI[phi](-0.5 * x + 0.3) - 1.0, rtol=1e-14)


def test_softplus_is_exact_with_its_derivative_far_out():
    """log(1 + e^x) with the derivative sigmoid(x), also beyond F.softplus's cut-off at 20."""
    x = t64([-50.0, 0.0, 25.0, 40.0]).requires_grad_(True)
    y = D.PHI["softplus"](x)
    (grad,) = torch.autograd.grad(y.sum(), x)
    assert torch.allclose(y, torch.log1p(torch.exp(x.detach())), rtol=1e-15)
    assert torch.allclose(grad, torch.sigmoid(x.detach()), rtol=1e-15)


@pytest.mark.parametrize("kwargs,needle", [({"phi": "cosh"}, "'cosh'"), ({"phi": "exp", "slope": math.nan}, "slope=nan"),
                                           ({"phi": "exp", "offset": "1"}, "offset='1'")])
def test_term_rejects_bad_fields(kwargs, needle):
    with pytest.raises(ValueError) as err:
        D.Term(**kwargs)
    assert needle in str(err.value) and "\n" not in str(err.value)


def test_divergences_with_default_parameters_are_built_once():
    assert all(D.get(name) is D.get(name) for name in ALL)
    assert D.get("tsallis", beta=3.0).neg_log == D.Term("exp", slope=3.0, offset=0.5)
