"""Theorem 3 of f-MICL (Lu et al. 2023, arXiv:2402.10150: the regular simplex minimises the negative
term), the batch diagnostics of analysis.simplex and the collapse of RKL in training (Figure 4)."""

import math

import numpy as np
import pytest
import torch

from analysis.simplex import diagnostics as D
from analysis.simplex import negative_term as N
from fmicl_core import divergences

pytestmark = pytest.mark.usefixtures("one_torch_thread")
STRICTLY_CONVEX = [n for n in divergences.names() if divergences.get(n).uniformity_guaranteed]


def test_strictly_convex_set_is_the_papers():
    assert STRICTLY_CONVEX == ["kl", "js", "pearson", "sh", "tsallis", "vlc"]


@pytest.mark.parametrize("n,d", [(3, 2), (4, 3), (5, 4), (6, 16), (8, 7)])
@pytest.mark.parametrize("name", STRICTLY_CONVEX)
def test_theorem3_minimiser_is_the_regular_simplex(name, n, d):
    r = N.minimise_negative_term(name, n, d, seed=n + d)
    g = r.diagnostics
    assert r.converged
    assert g.centroid_norm < 1e-3 and g.gram_max < 1e-3 and g.sq_distance_rms < 1e-3
    assert g.is_simplex
    assert r.value == pytest.approx(r.simplex_value, abs=1e-9)


@pytest.mark.parametrize("c", [10.0, 300.0])
def test_a_stalled_minimisation_says_it_did_not_converge(c):
    """Far above c = 1 the negative term decays like exp(-c d): L-BFGS stalls (c = 10) or cannot move
    (c = 300, h underflows), and the result says it is not a minimiser instead of reporting its
    points as one."""
    stalled = N.minimise_negative_term("kl", 8, 7, c=c, seed=0, max_iter=300)
    assert not stalled.converged and not stalled.diagnostics.is_simplex
    assert not N.summary({("kl", 8, 7): stalled})["kl_N8_d7"]["converged"]


def test_theorem3_other_width_and_scale():
    r = N.minimise_negative_term("js", 5, 6, c=2.5, mu=0.3, seed=3)
    assert r.diagnostics.gram_max < 1e-3 and r.diagnostics.centroid_norm < 1e-3


def test_beyond_d_plus_1_no_simplex_but_above_jensen_bound():
    """For N > d + 1 the simplex is impossible: the minimum lies strictly above h(2N/(N-1))."""
    r = N.minimise_negative_term("kl", 8, 3, seed=0)
    assert r.diagnostics.centroid_norm < 1e-6
    assert r.value > r.simplex_value + 0.01
    assert r.diagnostics.gram_max > 0.3


def _rkl_closed_form(n, c, mu, centroid_sq=0.0):
    return math.log(mu) - 1.0 - c * 2.0 * n / (n - 1) * (1.0 - centroid_sq)


def _symmetric_set(k, d, seed):
    v = torch.randn(k, d, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    v = torch.nn.functional.normalize(v, dim=1)
    return torch.cat([v, -v]).numpy()


@pytest.mark.parametrize("c,mu", [(1.0, 1.0), (0.7, 2.0)])
def test_rkl_negative_term_is_constant_over_centred_configurations(c, mu):
    n, d = 6, 8
    configs = [D.regular_simplex(n, d), _symmetric_set(3, d, 0), _symmetric_set(3, d, 1)]
    rng = np.random.default_rng(0)
    rot, _ = np.linalg.qr(rng.standard_normal((d, d)))
    configs.append(D.regular_simplex(n, d) @ rot)
    values = [N.negative_term(z, "rkl", c, mu) for z in configs]
    assert np.allclose(values, _rkl_closed_form(n, c, mu), atol=1e-12)
    # the configurations are genuinely different: the symmetric sets are not simplices
    assert D.diagnose(configs[1]).gram_max > 0.1
    # an uncentred set is strictly worse, by exactly the closed form
    z = _symmetric_set(3, d, 2)
    z[0] = z[1]
    m2 = float(np.sum(z.mean(0) ** 2))
    assert N.negative_term(z, "rkl", c, mu) == pytest.approx(_rkl_closed_form(n, c, mu, m2), abs=1e-12)
    assert m2 > 0.01


def test_rkl_minimiser_is_centred_but_not_a_simplex():
    r = N.minimise_negative_term("rkl", 5, 8, seed=0)
    assert r.diagnostics.centroid_norm < 1e-6
    assert r.value == pytest.approx(r.simplex_value, abs=1e-10)
    assert r.diagnostics.gram_max > 0.1


@pytest.mark.parametrize("n,d", [(4, 3), (6, 16), (8, 7)])
def test_neyman_is_not_driven_to_the_simplex(n, d):
    """Concave h: the minimiser splits into antipodal clusters, far below the simplex's value."""
    r = N.minimise_negative_term("neyman", n, d, seed=0)
    assert r.diagnostics.gram_max > 0.5
    assert r.value < r.simplex_value - 10.0
    assert r.antipodal_fraction > 0.4
    assert N.negative_term(D.regular_simplex(n, d), "neyman") == pytest.approx(r.simplex_value)


def test_diagnostics_exact_simplex():
    n, d = 5, 7
    g = D.diagnose(D.regular_simplex(n, d))
    assert g.centroid_norm < 1e-12 and g.gram_max < 1e-12 and g.sq_distance_rms < 1e-12
    assert g.mean_sq_distance == pytest.approx(2 * n / (n - 1))
    assert g.collapse_std == pytest.approx(math.sqrt(n) / d, rel=1e-12)  # var 1/(N-1) on N-1 axes
    assert g.uniformity == pytest.approx(-2.0 * 2 * n / (n - 1))
    pd = D.pair_distances(D.regular_simplex(n, d), D.regular_simplex(n, d))
    assert len(pd.negative) == n * (n - 1) // 2
    assert np.allclose(pd.negative, math.sqrt(2 * n / (n - 1))) and np.allclose(pd.positive, 0.0)


def test_diagnostics_collapsed_set():
    n = 10
    z = np.outer(np.linspace(0.5, 3.0, n), np.arange(1.0, 5.0))  # one direction, several norms
    g = D.diagnose(z)
    assert g.collapse_std == pytest.approx(0.0, abs=1e-12)
    assert g.centroid_norm == pytest.approx(1.0)
    assert g.gram_max == pytest.approx(n / (n - 1))
    assert g.sq_distance_rms == pytest.approx(2 * n / (n - 1))
    assert g.uniformity == pytest.approx(0.0, abs=1e-12)
    assert not g.is_simplex


def test_diagnostics_uniform_random_points():
    n, d = 2000, 16
    z = torch.randn(n, d, generator=torch.Generator().manual_seed(0))
    g, ref = D.diagnose(z), D.uniform_reference(d)
    assert g.collapse_std == pytest.approx(ref["collapse_std"], rel=0.02)
    assert g.uniformity == pytest.approx(ref["uniformity"], abs=0.01)
    assert g.mean_sq_distance == pytest.approx(2.0, abs=0.01)
    assert g.centroid_norm < 4.0 / math.sqrt(n)


def test_bad_input_is_rejected():
    with pytest.raises(ValueError, match="NaN"):
        D.diagnose(np.array([[np.nan, 1.0], [0.0, 1.0]]))
    with pytest.raises(ValueError, match="shape"):
        D.diagnose(np.ones(5))
    with pytest.raises(ValueError, match="unknown divergence"):
        N.minimise_negative_term("kld", 4, 3)
    with pytest.raises(ValueError, match="n <= d"):
        D.regular_simplex(5, 3)
    with pytest.raises(ValueError, match="must match"):
        D.pair_distances(np.ones((4, 3)), np.ones((5, 3)))


@pytest.mark.slow
def test_short_training_rkl_collapses_and_js_does_not(tmp_path):
    """The same one-epoch digits run (batch 256, peak lr 0.3): RKL's embeddings collapse, JS's do
    not (collapse statistic). The random-init encoder is not collapsed either."""
    from dataclasses import replace

    from analysis.simplex import collapse

    base = replace(collapse.SHORT_RUN, epochs=1, probe_iters=10, n_pairs=64)
    runs = collapse.collapse_study(("rkl", "js"), base, str(tmp_path))
    assert runs["rkl"].collapsed and not runs["js"].collapsed
    assert runs["rkl"].collapse_std < 0.01 * runs["rkl"].uniform_std
    assert runs["js"].collapse_std > 10 * runs["rkl"].collapse_std
    assert not runs[collapse.RANDOM_INIT].collapsed
    # the random-initialisation reference is the run folder's features_init.npz, and the run is reused
    again = collapse.collapse_study(("rkl",), base, str(tmp_path))
    assert again["rkl"].collapse_std == runs["rkl"].collapse_std
    assert again["random init"].collapse_std == runs["random init"].collapse_std

