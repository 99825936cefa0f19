"""The vMF coupling (known f-MI) and Theorem 4 of f-MICL (Lu et al. 2023, arXiv:2402.10150): the
estimation error against the batch size."""

import math

import numpy as np
import pytest
import torch
from scipy import integrate, special

from analysis.estimation import error as E
from analysis.gaussian.vmf import VMFCoupling, log_mean_exp_inner
from fmicl_core import divergences
from fmicl_core.losses import fmicl_terms

pytestmark = pytest.mark.usefixtures("one_torch_thread")
NAMES = divergences.names()


@pytest.mark.parametrize("d,kappa", [(2, 0.5), (3, 2.0), (8, 4.0), (64, 30.0)])
def test_normaliser_against_direct_integration(d, kappa):
    """``E exp(kappa t)`` with ``t`` of density ∝ (1 - t^2)^((d-3)/2), by adaptive quadrature."""
    w = lambda t: (1.0 - t * t) ** ((d - 3) / 2.0)
    num = integrate.quad(lambda t: math.exp(kappa * (t - 1.0)) * w(t), -1, 1, limit=200)[0]
    den = integrate.quad(w, -1, 1, limit=200)[0]
    assert log_mean_exp_inner(d, kappa) == pytest.approx(math.log(num / den) + kappa, rel=1e-9)


def test_coupling_moments_and_sampler():
    d, kappa = 5, 3.0
    m = VMFCoupling(d, kappa)
    assert m.expectation(np.ones_like, coupled=True) == pytest.approx(1.0, abs=1e-12)
    mean_t = m.expectation(lambda t: t, coupled=True)
    bessel_ratio = special.ive(d / 2, kappa) / special.ive(d / 2 - 1, kappa)  # A_d(kappa) of the vMF mean
    assert mean_t == pytest.approx(bessel_ratio, rel=1e-12)
    var_t = m.expectation(lambda t: t * t, coupled=True) - mean_t**2
    rng = np.random.default_rng(0)
    n = 200_000
    t = m.sample_inner(n, rng, coupled=True)
    assert abs(t.mean() - mean_t) < 4 * math.sqrt(var_t / n)
    assert t.var() == pytest.approx(var_t, rel=0.02)
    t0 = m.sample_inner(n, rng, coupled=False)  # product: E t = 0, E t^2 = 1/d
    assert abs(t0.mean()) < 4 * math.sqrt(1 / (5 * n)) and t0.var() == pytest.approx(1 / 5, rel=0.02)
    x, y = m.sample(20_000, rng)
    assert np.allclose(np.linalg.norm(x, axis=1), 1) and np.allclose(np.linalg.norm(y, axis=1), 1)
    assert abs(np.sum(x * y, 1).mean() - mean_t) < 4 * math.sqrt(var_t / 20_000)
    assert np.abs(x.mean(0)).max() < 4 / math.sqrt(20_000 * 5)  # x is uniform


def test_fgaussian_is_the_density_ratio():
    m = VMFCoupling(4, 2.5)
    t = np.linspace(-1, 1, 7)
    log_g = math.log(m.mu) - (1.0 / (2 * m.sigma**2)) * (2.0 - 2.0 * t)
    assert np.allclose(log_g, m.log_ratio(t), atol=1e-13)


@pytest.mark.parametrize("name", NAMES)
def test_bound_is_tight_and_monte_carlo_agrees(name):
    """``E+ f'(G) - Ex f*(f'(G)) = Ex f(G)`` (optimal critic), and a 10^6-draw Monte Carlo agrees."""
    p = E.population_fmi(name, VMFCoupling(3, 2.0), mc_samples=10**6, seed=1)
    assert p.quadrature == pytest.approx(p.f_divergence, abs=1e-12)
    assert abs(p.monte_carlo - p.quadrature) < 4 * p.monte_carlo_se
    assert p.monte_carlo_se < 0.01 * max(1.0, abs(p.quadrature))
    assert p.quadrature > 0 and p.r_T > 0 and p.r_f > 0


def test_closed_forms_kl_and_pearson():
    """KL: ``I = log C + kappa E+ t``. Pearson: ``I = C(kappa)^2 / C(2 kappa) - 1``."""
    m = VMFCoupling(6, 3.0)
    kl = E.population_fmi("kl", m, mc_samples=100).quadrature
    assert kl == pytest.approx(m.log_c + 3.0 * special.ive(3, 3.0) / special.ive(2, 3.0), rel=1e-12)
    pearson = E.population_fmi("pearson", m, mc_samples=100).quadrature
    ref = math.exp(-2 * log_mean_exp_inner(6, 3.0) + log_mean_exp_inner(6, 6.0)) - 1.0
    assert pearson == pytest.approx(ref, rel=1e-12)


@pytest.mark.parametrize("n", [2, 7, 300, 513])
def test_batch_estimate_is_fmicl_terms_estimate(n):
    m = VMFCoupling(5, 3.0)
    x, y = (torch.from_numpy(a) for a in m.sample(n, np.random.default_rng(n)))
    divs = [divergences.get(k) for k in NAMES]
    ours = E.batch_estimates(x, y, divs, m)
    ref = [float(fmicl_terms(x, y, d, sigma=m.sigma, mu=m.mu, alpha=1.0, negatives="one_view").estimate)
           for d in divs]
    assert np.allclose(ours, ref, rtol=0, atol=1e-11)


def test_concentration_term_formula():
    assert E.concentration_term(1.0, 2.0, 11, 0.1) == pytest.approx(5.0 * math.sqrt(math.log(60) / 20))
    with pytest.raises(ValueError, match="delta"):
        E.concentration_term(1.0, 1.0, 10, 1.5)


@pytest.fixture(scope="module")
def study():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small matrices: one thread is faster on a shared machine
    try:
        return E.estimation_error_study(VMFCoupling(3, 2.0), ns=(8, 16, 32, 64, 128, 256), reps=200,
                                        mc_samples=10**5, seed=0)
    finally:
        torch.set_num_threads(threads)


def test_estimate_is_unbiased(study):
    for name, e in study.errors.items():
        z = e.mean(1) / (e.std(1, ddof=1) / math.sqrt(e.shape[1]))
        assert np.all(np.abs(z) < 4.5), (name, z)


@pytest.mark.parametrize("name", NAMES)
def test_theorem4_rate_is_minus_one_half(study, name):
    assert abs(study.slope[name]["slope"] + 0.5) < 0.1, study.slope[name]


@pytest.mark.parametrize("name", NAMES)
def test_theorem4_term_above_empirical_quantile(study, name):
    assert np.all(np.array(study.bound[name]) > np.array(study.quantile[name])), \
        (study.bound[name], study.quantile[name])


def test_bad_input_is_rejected():
    with pytest.raises(ValueError, match="kappa"):
        VMFCoupling(3, -1.0)
    with pytest.raises(ValueError, match="d=1"):
        VMFCoupling(1, 1.0)
    with pytest.raises(ValueError, match="reps=2"):
        E.estimation_error_study(ns=(8, 16, 32), reps=2)
    with pytest.raises(ValueError, match="unknown divergence"):
        E.population_fmi("kld", VMFCoupling())


def test_batch_sizes_up_to():
    assert E.batch_sizes_up_to(32) == (8, 16, 32)
    assert E.batch_sizes_up_to(1000) == (8, 16, 32, 64, 128, 256, 512)
    assert E.DEFAULT_NS == E.batch_sizes_up_to(1024)
    for too_few in (4, 8, 16):  # fewer than three batch sizes: no slope with a standard error
        with pytest.raises(ValueError, match=f"max_n={too_few} "):
            E.batch_sizes_up_to(too_few)
