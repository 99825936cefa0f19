"""Contrastive conformal sets (Alkhatib & Tay 2026, arXiv:2603.26261; minimum-volume covering sets of
Braun et al. 2025, arXiv:2503.19068): the volume formula, the split-conformal coverage guarantee
[1 - alpha, 1 - alpha + 1/(n + 1)] for every set type, learnt geometry vs the ball, exchangeability,
and the command."""

import json
import math

import numpy as np
import pytest

from analysis import conformal
from analysis.conformal_sets import experiments as cf
from analysis.conformal_sets import sets as cs
from fmicl_core.features import Features, RunFolder, save_features

ALPHA = 0.1


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_unit_ball_volumes_are_known_values():
    assert math.exp(cs.log_unit_ball_volume(2.0, 2)) == pytest.approx(math.pi)
    assert math.exp(cs.log_unit_ball_volume(2.0, 3)) == pytest.approx(4 * math.pi / 3)
    assert math.exp(cs.log_unit_ball_volume(1.0, 3)) == pytest.approx(8 / 6)  # cross-polytope 2^k/k!
    assert cs.log_unit_ball_volume(math.inf, 4) == pytest.approx(4 * math.log(2))
    # Monte Carlo for a non-integer p: fraction of the cube [-1, 1]^3 inside the unit l_1.5 ball
    u = np.random.default_rng(0).uniform(-1, 1, (400_000, 3))
    frac = np.mean(np.linalg.norm(u, 1.5, axis=1) <= 1)
    assert math.exp(cs.log_unit_ball_volume(1.5, 3)) == pytest.approx(8 * frac, rel=0.01)


def test_log_volume_of_a_set_scales_with_lambda_and_q():
    lam = np.diag([2.0, 0.5, 4.0])
    g = cs.Geometry(lam, 2.0)
    assert g.log_volume(3.0) == pytest.approx(-math.log(4.0) + 3 * math.log(3.0) + math.log(4 * math.pi / 3))


def test_conformal_quantile_is_the_ceil_rank():
    scores = np.arange(1.0, 10.0)  # n = 9
    assert cs.conformal_quantile(scores, 0.1) == 9.0  # ceil(10 * 0.9) = 9
    assert cs.conformal_quantile(scores, 0.05) == math.inf  # ceil(10 * 0.95) = 10 > 9
    assert cs.conformal_quantile(scores, 0.5) == 5.0


@pytest.fixture(scope="module")
def fitted():
    """Synthetic anisotropic pairs: geometries fitted once on a shape split; the rest is split at
    random into calibration and test many times (exchangeable given the fit split)."""
    pairs = cf.synthetic_pairs(n=700, seed=1)
    fit = slice(0, 200)
    res_fit = pairs.positives[fit] - pairs.anchors[fit]
    geos = {m: fitter(res_fit, ALPHA) for m, fitter in cf.METHODS.items()}
    return pairs, geos


def _coverages(pairs, geo, splits, n_cal, seed):
    rest = np.arange(200, pairs.anchors.shape[0])
    scores = geo.score(pairs.positives[rest] - pairs.anchors[rest])
    return cf.resampled_coverage(scores, n_cal, ALPHA, splits, np.random.default_rng(seed))


@pytest.mark.parametrize("method", list(cf.METHODS))
def test_mean_coverage_lies_in_the_conformal_band_for_every_set_type(fitted, method):
    """Over 300 random calibration/test splits the mean coverage lies in
    [1 - alpha, 1 - alpha + 1/(n + 1)] up to Monte Carlo error, taken as 3 standard errors of the mean."""
    pairs, geos = fitted
    n_cal = 200
    cov = _coverages(pairs, geos[method], 300, n_cal, seed=2)
    se = cov.std(ddof=1) / math.sqrt(cov.size)
    assert 1 - ALPHA - 3 * se <= cov.mean() <= 1 - ALPHA + 1 / (n_cal + 1) + 3 * se


def test_learnt_geometry_has_smaller_volume_than_the_ball_on_anisotropic_positives(fitted):
    pairs, geos = fitted
    cal = slice(200, 450)
    vols = {m: cs.calibrate(g, pairs.anchors[cal], pairs.positives[cal], ALPHA).log_volume
            for m, g in geos.items()}
    assert vols["whitened_lp"] < vols["ball"] - 1.0
    assert vols["mvcs"] < vols["ball"] - 1.0


def test_mvcs_lowers_its_loss_from_the_whitened_l2_start():
    pairs = cf.synthetic_pairs(n=300, seed=3)
    res = pairs.positives - pairs.anchors
    start = cs.Geometry(cs.whitened_lp(res, ALPHA, p_grid=(2.0,)).lam, 2.0)
    learnt = cs.mvcs(res, ALPHA, steps=150)

    def loss(g):  # the MVCS objective at the fit split's order statistic
        s = np.sort(g.score(res))[math.ceil((1 - ALPHA) * len(res)) - 1]
        return g.log_volume(s)

    assert loss(learnt) < loss(start)


def test_mvcs_stays_finite_with_identical_views():
    """Two identical augmentations give a zero residual; d/dp of 0^p must not turn the fit into NaN."""
    pairs = cf.synthetic_pairs(n=120, seed=5)
    res = pairs.positives - pairs.anchors
    res[:3] = 0.0
    g = cs.mvcs(res, ALPHA, steps=30)
    assert np.isfinite(g.lam).all() and np.isfinite(g.p) and np.isfinite(g.score(res)).all()


def test_split_experiment_reports_nominal_coverage_and_higher_exclusion_for_learnt_sets():
    res = cf.split_experiment(cf.synthetic_pairs(seed=4), (ALPHA,), splits=4, methods=("ball", "whitened_lp"))
    ball, wlp = res["ball"][str(ALPHA)], res["whitened_lp"][str(ALPHA)]
    assert abs(ball["coverage"][0] - (1 - ALPHA)) < 0.05 and abs(wlp["coverage"][0] - (1 - ALPHA)) < 0.05
    assert wlp["exclusion"][0] > ball["exclusion"][0]


def test_digits_pairs_are_disjoint_same_class_pairs():
    pairs = cf.digits_pairs("pca", seed=0)
    rows = np.concatenate([pairs.anchors, pairs.positives])
    assert np.unique(rows.round(8), axis=0).shape[0] == rows.shape[0]  # every image used once
    assert pairs.anchors.shape == (pairs.anchors.shape[0], 9) and 520 <= pairs.anchors.shape[0] <= 540


def test_without_exchangeability_coverage_falls_below_nominal():
    """Calibration pairs sharing the anchors of one small pool, test pairs those of another: coverage
    drops below 1 - alpha by many standard errors; the exchangeable control stays in the band."""
    r = cf.pooled_anchor_coverage(ALPHA, splits=400, seed=0)
    shared, control = r["shared_pools"], r["exchangeable"]
    assert shared["coverage"] < 1 - ALPHA - 3 * shared["se"]
    assert 1 - ALPHA - 3 * control["se"] <= control["coverage"] <= r["upper"] + 3 * control["se"]


def test_bad_inputs_are_rejected():
    with pytest.raises(ValueError, match="alpha"):
        cs.conformal_quantile(np.ones(5), 1.5)
    with pytest.raises(ValueError, match="finite"):
        cs.conformal_quantile(np.array([1.0, np.nan]), 0.1)
    with pytest.raises(ValueError, match="residuals must be"):
        cs.euclidean_ball(3).score(np.ones((4, 2)))
    with pytest.raises(ValueError, match="NaN"):
        cf.Pairs(np.full((3, 2), np.nan), np.zeros((3, 2)), np.array([0, 1, 0]), "x")
    with pytest.raises(ValueError, match="unknown encoder"):
        cf.digits_pairs("tsne")
    with pytest.raises(ValueError, match="unknown method"):
        cf.split_experiment(cf.synthetic_pairs(n=60), methods=("cube",))


def test_coverage_band_of_every_set_type_holds_the_guarantee():
    """The notebook's measurement: geometry fitted on a third, the rest re-split many times."""
    bands = cf.coverage_band(cf.synthetic_pairs(n=600, seed=6), ALPHA, splits=200, seed=0)
    for band in bands.values():
        assert band.lower == 1 - ALPHA and band.upper == pytest.approx(1 - ALPHA + 1 / (band.n_cal + 1))
        assert band.inside(3.0)


def _features(n=40, d=4, seed=0):
    rng = np.random.default_rng(seed)

    def unit(rows):
        z = rng.normal(size=(rows, d))
        return (z / np.linalg.norm(z, axis=1, keepdims=True)).astype(np.float32)

    labels = np.arange(n, dtype=np.int64) % 3
    return Features(unit(n), unit(n), labels, unit(n), unit(n), labels, unit(n), unit(n), labels,
                    config={"objective": {"name": "js", "alpha": 40.0}})


def test_pairs_from_features_are_the_runs_positive_pairs():
    f = _features()
    pairs = cf.pairs_from_features(f)
    np.testing.assert_array_equal(pairs.anchors, f.pair_x.astype(float))
    np.testing.assert_array_equal(pairs.positives, f.pair_y.astype(float))
    assert pairs.name == "trained features js"


def test_the_command_reads_a_run_folder_and_writes_its_figure_and_numbers(tmp_path):
    run = RunFolder(tmp_path / "run")
    save_features(run.features, _features(n=90))
    numbers = conformal.main(["--splits", "1", "--features", str(run.path), "--out-dir", str(tmp_path / "out")])
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["conformal_sets.json", "conformal_sets.png"]
    assert "trained features js" in numbers["table"] and len(numbers["table"]) == 4
    stored = json.loads((tmp_path / "out" / "conformal_sets.json").read_text())
    assert stored["config"]["features"] == str(run.path) and stored["numbers"]["alpha"] == ALPHA
