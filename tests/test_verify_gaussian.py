"""The check of the Gaussian-kernel assumption (Lu et al. 2023, f-MICL, arXiv:2402.10150, Figure 1):
analysis.gaussian.check's statistics on known lines, the known answer (vMF coupling: log p = const -
kappa ||x - y||^2 / 2), the negative control (ring coupling), bad input, and the command
python -m analysis.verify_gaussian."""

import ast
import json
import math
import subprocess
import sys

import numpy as np
import pytest
import torch
from scipy import stats

from analysis.gaussian.check import (
    _bins,
    _bootstrap_slope,
    _lack_of_fit_p,
    _project,
    implied_sigma2,
    kernel_sigma2,
    kernel_slope,
    verify_gaussian,
)
from analysis.gaussian.calibration import load_map
from analysis.gaussian.ring import ring_pairs
from analysis.gaussian.thickened import target_slope
from analysis.gaussian.vmf import VMFCoupling
from analysis.verify_gaussian import main
from fmicl_core.features import Features, save_features

torch.set_num_threads(1)
NOISE = 0.02


# --- the pair samplers -------------------------------------------------------------------------

def test_vmf_sampler_matches_its_closed_forms():
    """Wood 1994's sampler (analysis.gaussian.vmf): on S^2 the cosine t = x.y has CDF (e^{kt} - e^{-k}) / (e^k - e^{-k});
    in any d, E[t] = I_{d/2}(k) / I_{d/2-1}(k)."""
    rng = np.random.default_rng(0)
    x, y = VMFCoupling(3, 4.0).sample(4000, rng)
    t = np.sum(x * y, axis=1)
    assert np.allclose(np.linalg.norm(y, axis=1), 1.0)
    cdf = lambda s: (np.exp(4.0 * s) - np.exp(-4.0)) / (np.exp(4.0) - np.exp(-4.0))  # noqa: E731
    assert stats.kstest(t, cdf).pvalue > 0.01
    x, y = VMFCoupling(16, 16.0).sample(4000, rng)
    t = np.sum(x * y, axis=1)
    from scipy.special import ive

    assert abs(t.mean() - ive(8, 16.0) / ive(7, 16.0)) < 4 * t.std() / math.sqrt(len(t))
    assert np.abs(x.mean(0)).max() < 4 / math.sqrt(4000)  # x uniform: mean 0, sd 1/sqrt(d n) per coordinate


def test_ring_pairs_sit_at_the_ring_distance():
    x, y = ring_pairs(2000, 5, math.pi / 3, 0.05, np.random.default_rng(0))
    assert np.allclose(np.linalg.norm(y, axis=1), 1.0)
    theta = np.arccos(np.clip(np.sum(x * y, axis=1), -1, 1))
    assert abs(theta.mean() - math.pi / 3) < 0.005 and abs(theta.std() - 0.05) < 0.005
    with pytest.raises(ValueError, match="angle=4"):
        ring_pairs(10, 3, 4.0, 0.1, np.random.default_rng(0))


# --- the statistics, on lines whose answer is known ------------------------------------------------

def _line(n=1000, slope=-3.0, curve=0.0, seed=0):
    rng = np.random.default_rng(seed)
    d = rng.uniform(0, 2, n)
    return d, 1.0 + slope * d + curve * (d - 1.0) ** 2 + rng.standard_normal(n)


def test_bins_have_equal_counts_and_cover_their_means():
    d, lp = _line()
    edges, centres, counts, means, lo, hi, groups = _bins(d, lp, 10, 0.95)
    assert counts.tolist() == [100] * 10 and np.all(np.diff(centres) > 0) and np.all(np.diff(edges) >= 0)
    truth = 1.0 - 3.0 * centres  # the line at the bin's mean distance is the bin's expected mean
    assert np.all((lo < means) & (means < hi))
    assert np.mean((lo < truth) & (truth < hi)) >= 0.8  # 95% intervals: 10 bins, >= 8 must cover


def test_lack_of_fit_separates_a_line_from_a_curve():
    d, lp = _line()
    groups = _bins(d, lp, 10, 0.95)[-1]
    assert _lack_of_fit_p(d, lp, groups) > 0.05
    d, lp = _line(curve=-4.0)
    assert _lack_of_fit_p(d, lp, _bins(d, lp, 10, 0.95)[-1]) < 1e-6


def test_bootstrap_interval_matches_the_ols_standard_error():
    d, lp = _line(n=2000)
    lo, hi = _bootstrap_slope(d, lp, 2000, 0.95, np.random.default_rng(1))
    fit = stats.linregress(d, lp)
    assert lo < -3.0 < hi and lo < fit.slope < hi
    assert (hi - lo) == pytest.approx(2 * 1.96 * fit.stderr, rel=0.15)


def test_implied_sigma2_inverts_the_kernel_slope():
    assert implied_sigma2(-1.0, 0.0) == pytest.approx(0.5)
    assert implied_sigma2(-1.0 / (2 * (0.5 + 2 * 0.1**2)), 0.1) == pytest.approx(0.5)
    assert math.isnan(implied_sigma2(0.2, 0.0))
    assert implied_sigma2(kernel_slope(0.3, 0.1), 0.1) == pytest.approx(0.3)
    assert kernel_slope(1 / 16.0, NOISE) == pytest.approx(-0.5 / (1 / 16.0 + 2 * NOISE**2))  # -kappa_eff / 2


def test_projection_keeps_the_leading_axes():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((300, 6)) * np.array([3, 2, 1, 0.01, 0.01, 0.01])
    y = x + 0.1 * rng.standard_normal((300, 6))
    px, py, explained = _project(x, y, np.arange(200), 3)
    assert px.shape == (300, 3) and 0.99 < explained <= 1.0  # 14 of ~14.03 units of variance
    assert np.allclose(np.sum((px - py) ** 2, 1), np.sum((x[:, :3] - y[:, :3]) ** 2, 1), rtol=0.2, atol=0.02)
    assert _project(x, y, np.arange(200), 6)[2] == 1.0


# --- bad input ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("change, message", [
    (lambda x, y: (x, y[:, :3]), "same shape"),
    (lambda x, y: (x[:, 0], y[:, 0]), "same shape"),
    (lambda x, y: (x[:30], y[:30]), "too small for the split"),
    (lambda x, y: (np.where(np.arange(4) == 2, np.nan, x), y), "x has 200 non-finite"),
    (lambda x, y: (x, np.where(np.arange(4) == 1, np.inf, y)), "y has 200 non-finite"),
])
def test_bad_pairs_are_rejected(change, message):
    x, y = VMFCoupling(4, 2.0).sample(200, np.random.default_rng(0))
    with pytest.raises(ValueError, match=message):
        verify_gaussian(*change(x, y), epochs=1)


@pytest.mark.parametrize("options, message", [
    ({"prior": "laplace"}, "unknown prior 'laplace'; allowed: gaussian, uniform"),
    ({"heldout_fraction": 1.5}, "heldout_fraction=1.5"),
    ({"bins": 2}, "bins=2"),
    ({"noise": -1.0}, "noise=-1.0"),
    ({"max_dim": 0}, "max_dim=0"),
    ({"bootstrap": 10}, "bootstrap=10"),
    ({"standardise": "pca"}, "unknown standardise 'pca'"),
])
def test_bad_options_are_rejected(options, message):
    x, y = VMFCoupling(4, 2.0).sample(200, np.random.default_rng(0))
    with pytest.raises(ValueError, match=message):
        verify_gaussian(x, y, epochs=1, **options)


# --- known answer and negative control -------------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("d, kappa, prior", [(3, 4.0, "gaussian"), (3, 16.0, "gaussian"), (16, 4.0, "gaussian"),
                                             (16, 16.0, "gaussian"), (16, 16.0, "uniform")])
def test_vmf_coupling_against_the_exact_target(d, kappa, prior):
    """x uniform on S^{d-1}, y ~ vMF(x, kappa): the raw slope is held to the exact slope of the thickened
    joint (analysis.gaussian.thickened) within three seed spreads of the bias the committed map measured
    at the nearest cell (d, kappa = 5 or 20: the map interpolates between them), and the calibrated
    interval covers the truth -kappa/2 and is certified. The uniform prior is not in the map: it is
    calibrated on vMF surrogates at its own settings."""
    x, y = VMFCoupling(d, kappa).sample(2000, np.random.default_rng(1))
    check = verify_gaussian(x, y, prior, noise=NOISE)
    target = target_slope(d, kappa, NOISE)
    if prior == "gaussian":
        curve = load_map().curve(d, 2000)
        expected = np.interp(np.log(kappa), np.log(curve.kappa), curve.mean) / target
        spread = np.interp(np.log(kappa), np.log(curve.kappa), curve.sd) / abs(target)
        assert abs(check.slope / target - expected) <= 3 * spread, (check.slope, target, expected, spread)
    assert check.calibrated.covers(-kappa / 2), check.calibrated
    assert check.r <= -0.9 and check.certified
    assert check.n_heldout == 600 and check.bin_counts.sum() == 600


@pytest.mark.slow
def test_ring_coupling_is_not_certified():
    """y at a jittered fixed angle pi/2 from x: log p peaks at ||x - y||^2 = 2 and falls on both sides.
    The bin means are not a decreasing line: r is far from -0.9 and the lack-of-fit test rejects the line."""
    x, y = ring_pairs(2000, 3, math.pi / 2, 0.15, np.random.default_rng(1))
    check = verify_gaussian(x, y, "gaussian", noise=NOISE, epochs=40)
    assert not check.certified
    assert check.r > -0.5 and check.lack_of_fit_p < 1e-3
    inner = check.bin_mean_loglik[3:7].mean()
    assert inner > check.bin_mean_loglik[0] and inner > check.bin_mean_loglik[-1]  # rises, then falls


# --- the command ------------------------------------------------------------------------------------------

def _features_file(folder, config):
    """A features file of 400 vMF pairs (d = 6, kappa = 8) with the stored run ``config``."""
    rng = np.random.default_rng(0)
    x, y = VMFCoupling(6, 8.0).sample(400, rng)
    unit = x[:50].astype(np.float32)
    feats = Features(train_encoder=unit, train_projection=unit, train_labels=np.zeros(50, np.int64),
                     test_encoder=unit, test_projection=unit, test_labels=np.zeros(50, np.int64),
                     pair_x=x.astype(np.float32), pair_y=y.astype(np.float32),
                     pair_labels=np.zeros(400, np.int64), config=config)
    return save_features(folder / "features.npz", feats)


RUN_CONFIG = {"method": "simclr", "dataset": "synthetic", "objective": {"name": "kl", "sigma": 0.5}}
QUICK = ["--prior", "gaussian", "--epochs", "2", "--max-dim", "4"]


def test_command_on_a_features_file(tmp_path, capsys):
    path = _features_file(tmp_path, RUN_CONFIG)
    out_dir = tmp_path / "results"
    numbers = main(["--features", str(path), *QUICK, "--out-dir", str(out_dir)])
    out = capsys.readouterr().out
    assert "raw slope" in out and "trained sigma^2 0.25" in out and "simclr-kl on synthetic" in out
    assert "calibrated slope" in out and "(vMF surrogates" in out  # two flow epochs: not the map's settings
    assert "linear and decreasing: " in out and "kernel width: " in out
    written = json.loads((out_dir / "gaussian_assumption.json").read_text())
    first = written["numbers"]["gaussian/joint"]
    assert first["slope"] == pytest.approx(numbers["gaussian/joint"]["slope"])
    assert first["calibrated"]["source"] == "vMF surrogates" and set(first["verdicts"]) == {
        "linear and decreasing", "kernel width"}
    assert first["fitted_dim"] == 4 and written["config"]["max_dim"] == 4
    assert written["numbers"]["trained_sigma2"] == pytest.approx(0.25)
    assert written["numbers"]["features"] == str(path)
    assert (out_dir / "gaussian_assumption.png").stat().st_size > 1000
    main(["--features", str(tmp_path), *QUICK, "--out-dir", str(out_dir), "--name", "folder"])  # a run folder
    assert (out_dir / "folder.json").exists()


def test_command_trains_the_default_run_through_ensure_run(tmp_path, monkeypatch, capsys):
    """No --features: the trainer's default config of --seed in --runs-dir, through ensure_run."""
    import fmicl_core.train
    from fmicl_core.config import TrainConfig

    run_dir = tmp_path / "runs" / "the-run"
    run_dir.mkdir(parents=True)
    _features_file(run_dir, RUN_CONFIG)
    asked = []

    def fake_ensure_run(config):
        asked.append(config)
        return fmicl_core.train.TrainResult(run_dir, 0.9, 0.9, 0.1, 0.1, 1.0)

    monkeypatch.setattr(fmicl_core.train, "ensure_run", fake_ensure_run)
    main([*QUICK, "--seed", "3", "--runs-dir", str(tmp_path / "runs"), "--out-dir", str(tmp_path / "out")])
    assert asked == [TrainConfig(seed=3, out_dir=str(tmp_path / "runs"))]
    assert "training the trainer's default run" in capsys.readouterr().out


def test_reading_features_does_not_import_the_trainer():
    """Importing the command imports no part of the trainer (it is imported only to make a run)."""
    code = ("import analysis.verify_gaussian, sys; "
            "print(sorted(m for m in sys.modules if m.startswith('fmicl_core')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    loaded = ast.literal_eval(out)
    for module in ("fmicl_core.train", "fmicl_core.augment", "fmicl_core.data", "fmicl_core.methods"):
        assert module not in loaded


def test_kernel_sigma2_of_a_run():
    """sigma^2 for the f-Gaussian similarity, the temperature for InfoNCE, NaN where there is no kernel."""
    assert kernel_sigma2({"objective": {"name": "kl", "sigma": 1 / math.sqrt(2)}}) == pytest.approx(0.5)
    assert kernel_sigma2({"objective": {"name": "infonce", "temperature": 0.2, "sigma": 3.0}}) == pytest.approx(0.2)
    assert math.isnan(kernel_sigma2({"objective": {"name": "js", "similarity": "cosine", "sigma": 1.0}}))
    assert math.isnan(kernel_sigma2({"objective": {"name": "au", "sigma": 1.0}}))
    assert math.isnan(kernel_sigma2({}))
    assert math.isnan(kernel_sigma2({"objective": "kl", "sigma": 1.0}))  # an old flat config says nothing
