"""The exact target, the bias map and the calibrated slope of the Gaussian check (Lu et al. 2023, f-MICL,
arXiv:2402.10150, Figure 1): the thickened vMF density against brute force, the target's limits, the
calibration's inversion on a curve with a known bias, the committed map's accuracy, the verdicts, the
known case with non-uniform marginals, and a fresh calibrated run on a case the map does not hold."""

import json
import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from scipy.special import ive

from analysis.gaussian.anchored import AnchoredCoupling
from analysis.gaussian.bias_map import Measurement, cells
from analysis.gaussian.calibration import (CalibratedSlope, Curve, calibrate, leave_one_seed_out, load_map,
                                           uncalibrated)
from analysis.gaussian.check import check_settings, verify_gaussian
from analysis.gaussian.thickened import kappa_of_slope, log_density, target_slope
from analysis.gaussian.verdicts import kernel_width, linear_decreasing
from analysis.gaussian.vmf import VMFCoupling

torch.set_num_threads(1)


# --- the exact target -----------------------------------------------------------------------------------

def test_thickened_density_matches_brute_force():
    """log p(x~, y~) in closed form + Monte Carlo over one sphere equals the brute-force mean of the two
    Gaussian thickening densities over pairs of the coupling (wide noise, so that brute force converges)."""
    d, kappa, noise = 3, 4.0, 0.35
    rng = np.random.default_rng(1)
    x, y = VMFCoupling(d, kappa).sample(200_000, rng)
    points_x = rng.standard_normal((4, d))
    points_x *= rng.uniform(0.8, 1.2, (4, 1)) / np.linalg.norm(points_x, axis=1, keepdims=True)
    points_y = points_x + 0.3 * rng.standard_normal((4, d))
    exact = log_density(points_x, points_y, kappa, noise, draws=4096)
    for i in range(4):
        log_k = -(np.sum((points_x[i] - x) ** 2, 1) + np.sum((points_y[i] - y) ** 2, 1)) / (2 * noise**2)
        top = log_k.max()
        brute = top + math.log(np.mean(np.exp(log_k - top))) - d * math.log(2 * math.pi * noise**2)
        assert exact[i] == pytest.approx(brute, abs=0.03)


def test_target_slope_limits():
    """No thickening: the on-sphere density's slope -kappa/2 exactly. Thin thickening: close to the
    smoothed kernel's -kappa_eff/2. Wide thickening at d = 16: well below it in size (pairs are binned by
    the clean distance), as measured."""
    assert target_slope(8, 10.0, 0.0) == -5.0
    kappa_eff = 1 / (1 / 10.0 + 2 * 0.005**2)
    assert target_slope(16, 10.0, 0.005, n=8000) == pytest.approx(-kappa_eff / 2, rel=0.03)
    wide = target_slope(16, 10.0, 0.1, n=8000) / (-0.5 / (1 / 10.0 + 2 * 0.1**2))
    assert 0.7 < wide < 0.9


def test_kappa_of_slope_inverts_the_target():
    """Up to the Monte Carlo noise of the target at 4000 pairs (about 2% of the slope; each kappa draws
    its own pairs)."""
    slope = target_slope(4, 6.0, 0.05, n=4000)
    assert kappa_of_slope(slope, 4, 0.05, n=4000) == pytest.approx(6.0, rel=0.05)
    with pytest.raises(ValueError, match="slope=1.0 is outside"):
        kappa_of_slope(1.0, 4, 0.05, n=2000)


def test_thickened_density_rejects_bad_input():
    with pytest.raises(ValueError, match=r"d >= 3, got \(2, 2\)"):
        log_density(np.ones((2, 2)), np.ones((2, 2)), 1.0, 0.1)
    with pytest.raises(ValueError, match="kappa=-1"):
        log_density(np.ones((2, 3)), np.ones((2, 3)), -1.0, 0.1)


# --- the calibration on a curve whose bias is known ---------------------------------------------------------

def _biased_cells(bias=0.8, rel_sd=0.05, seeds=8, d=5, n=1000):
    """Measurements whose raw slope is ``bias * (-kappa/2)`` with a relative spread ``rel_sd`` over seeds."""
    rng = np.random.default_rng(0)
    kappas = [1.0, 3.0, 10.0, 30.0]
    found = [Measurement(d, k, n, s, bias * -k / 2 * (1 + rel_sd * z), 0.0, 0.0)
             for k in kappas for s, z in zip(range(seeds), rng.standard_normal(seeds))]
    return found, {(d, k): -k / 2 for k in kappas}


def test_calibration_removes_a_known_bias():
    found, targets = _biased_cells()
    curve = Curve.from_cells(cells(found, targets), "test")
    mean_at_6 = np.exp(np.interp(np.log(6.0), np.log([3.0, 10.0]),
                                 np.log([-np.mean([m.slope for m in found if m.kappa == k]) for k in (3.0, 10.0)])))
    result = calibrate(-mean_at_6, curve)
    assert result.kappa == pytest.approx(6.0, rel=1e-2) and result.slope == pytest.approx(-3.0, rel=1e-2)
    assert result.kappa_ci[0] < 6.0 < result.kappa_ci[1] and result.covers(-3.0)
    assert result.sigma2 == pytest.approx(1 / result.kappa) and result.sigma2_ci == pytest.approx(
        (1 / result.kappa_ci[1], 1 / result.kappa_ci[0]))
    half_width = (result.kappa_ci[1] - result.kappa_ci[0]) / 2 / result.kappa
    assert 0.05 < half_width < 0.25  # about t(7) * 5% * sqrt(1 + 1/8), widened by the curve's slope


def test_calibration_refuses_a_slope_off_the_curve():
    found, targets = _biased_cells()
    curve = Curve.from_cells(cells(found, targets), "test")
    far = calibrate(-1000.0, curve)
    assert not far.calibrated and math.isnan(far.slope) and "outside the curve's range" in far.note
    assert not far.covers(-1000.0)
    with pytest.raises(ValueError, match="raw slope=nan is not allowed"):
        calibrate(float("nan"), curve)
    flat = [Measurement(3, k, 100, s, 0.1, 0, 0) for k in (1.0, 2.0) for s in range(3)]
    with pytest.raises(ValueError, match="negative mean raw slope"):
        Curve.from_cells(cells(flat, {(3, 1.0): -0.5, (3, 2.0): -1.0}), "test")


def test_leave_one_seed_out_on_the_known_bias_covers():
    found, targets = _biased_cells(seeds=10)
    rows = leave_one_seed_out(found, targets)
    assert len(rows) == len(found)
    assert np.mean([r["covered"] for r in rows]) >= 0.9
    assert abs(np.mean([r["ratio"] for r in rows]) - 1) < 0.02
    assert all(r["raw_ratio"] == pytest.approx(0.8, rel=0.25) for r in rows)


# --- the committed map -------------------------------------------------------------------------------------

MAP = load_map()


def test_the_map_was_made_at_the_command_defaults():
    assert MAP.settings == check_settings("gaussian", "joint", 0.02, 0.3, 10, {})
    assert {c.d for c in MAP.cells} == {3, 4, 8, 16, 32} and {c.kappa for c in MAP.cells} == {1, 2, 5, 10, 20, 40}
    assert {c.n for c in MAP.cells} == {1000, 2000}
    assert min(len(c.slopes) for c in MAP.cells if c.n == 2000) == 10


@pytest.mark.parametrize("d, kappa, low, high", [(3, 10.0, 0.75, 0.87), (4, 10.0, 1.05, 1.20), (16, 10.0, 0.94, 1.0),
                                                 (32, 40.0, 0.97, 1.03)])
def test_pinned_cells_of_the_raw_bias(d, kappa, low, high):
    """The raw slope over the exact target at n = 2000: undershoot at d = 3, overshoot at d = 4, close at
    d = 16 and 32 (10 seeds per cell)."""
    cell = next(c for c in MAP.cells if (c.d, c.kappa, c.n) == (d, kappa, 2000))
    assert low < cell.ratio < high


def test_calibration_is_accurate_out_of_sample_on_the_map():
    """Each seed read through the curve of the other seeds (n = 2000): the calibrated slope is within
    +-10% of -kappa/2 on average in every cell but d = 32, kappa = 1 (where the raw slopes spread by
    over 50% of the slope), and the 95% intervals cover the truth for at least 90% of all seeds."""
    rows = leave_one_seed_out([m for m in MAP.measurements if m.n == 2000], MAP.targets)
    by_cell = {}
    for r in rows:
        by_cell.setdefault((r["d"], r["kappa"]), []).append(r)
    weak = (32, 1.0)
    for key, group in by_cell.items():
        if key != weak:
            assert abs(np.nanmean([r["ratio"] for r in group]) - 1) <= 0.10, key
    assert np.mean([r["covered"] for r in rows]) >= 0.90


def test_the_map_says_when_it_does_not_apply():
    settings = check_settings("gaussian", "joint", 0.02, 0.3, 10, {})
    assert MAP.applies(settings, 16, 2000, -5.0) == ""
    assert "noise=0.1 differs" in MAP.applies(check_settings("gaussian", "joint", 0.1, 0.3, 10, {}), 16, 2000, -5.0)
    assert "n=300 pairs" in MAP.applies(settings, 16, 300, -5.0)
    assert "d=64 is outside" in MAP.applies(settings, 64, 2000, -5.0)
    assert "outside the map's range" in MAP.applies(settings, 16, 2000, -500.0)
    between = MAP.curve(6, 2000)
    assert between.d == 6 and "between d=4 and d=8" in between.source


def test_a_bad_map_file_is_one_line(tmp_path):
    bad = tmp_path / "map.json"
    bad.write_text("{not json")
    with pytest.raises(ValueError, match="map.json' cannot be read"):
        load_map(bad)
    bad.write_text(json.dumps({"settings": {}}))
    with pytest.raises(ValueError, match="KeyError"):
        load_map(bad)


# --- the verdicts ----------------------------------------------------------------------------------------

def _check(slope, ci, r, certified, sigma2=0.1, sigma2_ci=(0.08, 0.12)):
    cal = CalibratedSlope(slope, slope, ci, 1 / sigma2, (0, 0), sigma2, sigma2_ci, "test")
    return SimpleNamespace(calibrated=cal, certified=certified, r=r)


def test_verdicts_follow_the_numbers():
    assert linear_decreasing(_check(-5.0, (-6.0, -4.0), -0.99, True)).startswith("holds")
    assert linear_decreasing(_check(2.0, (1.0, 3.0), 0.99, False)).startswith("does not hold")
    assert "not linear" in linear_decreasing(_check(-5.0, (-6.0, -4.0), -0.5, False))
    assert linear_decreasing(_check(-0.5, (-1.0, 0.5), -0.95, False)).startswith("not established")
    nothing = SimpleNamespace(calibrated=uncalibrated(-5.0, "test", "why"), certified=False, r=-1.0)
    assert linear_decreasing(nothing) == "not judged: the slope is not calibrated (why)"
    assert kernel_width(_check(-5.0, (-6.0, -4.0), -0.99, True), 0.1).startswith("holds")
    assert kernel_width(_check(-5.0, (-6.0, -4.0), -0.99, True), 0.5).startswith("does not hold")
    assert kernel_width(_check(-5.0, (-6.0, -4.0), -0.99, True), float("nan")).startswith("not judged")


# --- non-uniform marginals ---------------------------------------------------------------------------------

def test_anchored_coupling_exact_forms():
    """x ~ vMF(e1, 10), y | x ~ vMF(x, 10), d = 8: the joint's slope is the kernel's -kappa/2 (t is
    independent of x), the pointwise mutual information's is not (log p(y) correlates with t)."""
    model = AnchoredCoupling(8, 10.0, 10.0)
    slopes = model.exact_slopes(n=100_000)
    assert slopes["joint"] == pytest.approx(-5.0, rel=0.02)
    assert -3.6 < slopes["pmi"] < -3.0
    x, y = model.sample(5000, np.random.default_rng(0))
    mean_resultant = ive(4, 10.0) / ive(3, 10.0)  # E x_1 = I_{d/2}(anchor) / I_{d/2-1}(anchor), not 0: not uniform
    assert abs(np.mean(x[:, 0]) - mean_resultant) < 4 * np.std(x[:, 0]) / math.sqrt(len(x))
    logs = model.log_densities(x, y)
    assert np.allclose(logs["pmi"], logs["joint"] - logs["x"] - logs["y"])


@pytest.mark.slow
def test_each_form_measures_its_own_exact_slope():
    """The two forms of the check on the anchored coupling (2000 pairs): each raw slope lies nearer its
    own exact slope than the other form's."""
    model = AnchoredCoupling(8, 10.0, 10.0)
    exact = model.exact_slopes(n=100_000)
    x, y = model.sample(2000, np.random.default_rng(3))
    for form, other in (("joint", "pmi"), ("pmi", "joint")):
        raw = verify_gaussian(x, y, form=form, calibration="none").slope
        assert abs(raw - exact[form]) < abs(raw - exact[other]), (form, raw, exact)


@pytest.mark.slow
@pytest.mark.parametrize("d, kappa", [(6, 25.0), (3, 7.0), (12, 3.0)])
def test_calibrated_slope_covers_the_truth_off_the_map_grid(d, kappa):
    """Fresh vMF samples at dimensions and concentrations the map does not hold (the curve is blended
    between map cells): the calibrated interval covers -kappa/2 and the check is certified."""
    x, y = VMFCoupling(d, kappa).sample(2000, np.random.default_rng(100 + d))
    check = verify_gaussian(x, y, seed=100)
    cal = check.calibrated
    assert cal.calibrated and cal.covers(-kappa / 2), (check.slope, cal)
    assert check.certified


@pytest.mark.slow
def test_bias_map_command_writes_a_loadable_map(tmp_path, capsys):
    from analysis.gaussian_bias_map import main

    numbers = main(["--dims", "3", "--kappas", "2", "4", "--seeds", "0", "1", "2", "--pairs", "300",
                    "--out-dir", str(tmp_path)])
    assert "worst calibrated cell" in capsys.readouterr().out
    written = load_map(tmp_path / "gaussian_bias_map.json")
    assert len(written.measurements) == 6 and written.settings == MAP.settings
    assert {(c["d"], c["kappa"]) for c in numbers["cells"]} == {(3, 2.0), (3, 4.0)}
    assert (tmp_path / "gaussian_bias_map.png").stat().st_size > 1000


def test_by_cell_averages_the_calibrated_seeds_of_each_cell():
    from analysis.gaussian.calibration import by_cell

    rows = [{"d": 3, "kappa": 2.0, "n": 100, "ratio": r, "covered": c}
            for r, c in ((0.9, True), (1.3, False), (float("nan"), False))]
    rows.append({"d": 4, "kappa": 2.0, "n": 100, "ratio": 1.0, "covered": True})
    assert by_cell(rows) == {(3, 2.0, 100): (pytest.approx(1.1), pytest.approx(1 / 3)), (4, 2.0, 100): (1.0, 1.0)}
