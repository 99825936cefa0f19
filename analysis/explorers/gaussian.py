"""Explore the check of f-MICL's Gaussian-kernel assumption (Lu et al. 2023, arXiv:2402.10150,
Figure 1) on a coupling where the assumption holds exactly: ``x`` uniform on S^{d-1} and
``y | x ~ vMF(x, kappa)`` (:class:`analysis.gaussian.vmf.VMFCoupling`).

:func:`analysis.gaussian.check.verify_gaussian` fits a RealNVP to ``n`` pairs (a small flow, so that
one redraw takes a few seconds) and regresses the held-out ``log p`` on ``||x - y||^2``; the figure
sets its raw slope, with its bootstrap interval, against the slope a perfect density model would give
(:func:`true_slope`: the exact slope of the thickened joint, :mod:`analysis.gaussian.thickened`). The
raw slope's departure from it is the bias that ``python -m analysis.gaussian_bias_map`` maps and
``verify_gaussian``'s calibration removes.
"""

from __future__ import annotations

import numpy as np

from analysis.explorers import plots
from analysis.explorers.frontend import Control, explore
from analysis.gaussian.check import verify_gaussian
from analysis.gaussian.flows import PRIORS
from analysis.gaussian.thickened import target_slope
from analysis.gaussian.vmf import VMFCoupling

__all__ = ["CHECK_OPTIONS", "CONTROLS", "NOISE", "SEED", "explore_gaussian", "run_check", "true_slope"]

CONTROLS = (
    Control("kappa", "κ", 0.5, 50.0, 0.05, log=True),
    Control("d", "d", 3, 8, 1),
    Control("n", "pairs n", 500, 4000, 250),
    Control("prior", "prior", options=PRIORS),
)
CHECK_OPTIONS = dict(hidden=32, layers=4, epochs=30, patience=5, bootstrap=200, calibration="none")
"""The check's settings here: a small flow and bootstrap (the command's defaults are larger), and the
raw slope, which is what the flow recovers (calibrating it would refit the flow on surrogates)."""
NOISE = 0.02
"""The thickening noise of :func:`~analysis.gaussian.check.verify_gaussian`."""
SEED = 0


def true_slope(kappa: float, d: int, noise: float = NOISE) -> float:
    """The exact slope of ``log p`` on the clean ``||x - y||^2`` for the vMF coupling (``sigma^2 = 1/kappa``)
    thickened by ``noise`` (:func:`analysis.gaussian.thickened.target_slope`, 5000 pairs: about 2% Monte
    Carlo error); ``-kappa / 2`` without thickening."""
    return target_slope(d, kappa, noise, n=5000)


def run_check(kappa: float, d: int, n: int, prior: str):
    """The check of ``n`` vMF pairs with the explorer's settings (:data:`CHECK_OPTIONS`, :data:`NOISE`,
    :data:`SEED`)."""
    values = {c.name: c.check(v) for c, v in zip(CONTROLS, (kappa, d, n, prior))}
    x, y = VMFCoupling(values["d"], values["kappa"]).sample(values["n"], np.random.default_rng(SEED))
    return verify_gaussian(x, y, values["prior"], noise=NOISE, seed=SEED, **CHECK_OPTIONS)


def _draw(fig, kappa: float, d: int, n: int, prior: str) -> None:
    title = f"vMF pairs, κ = {kappa:.3g}, d = {d}, n = {n}, {prior} prior"
    plots.draw_gaussian(fig, run_check(kappa, d, n, prior), true_slope(kappa, d), title)


def explore_gaussian(kappa: float = 4.0, d: int = 3, n: int = 1000, prior: str = "gaussian",
                     interactive: bool | None = None):
    """The Gaussian-check explorer (module docstring): widgets for kappa, d, n and the prior around the
    figure, or the figure at these values when no front end shows widgets (``interactive``:
    :func:`analysis.explorers.frontend.use_widgets`)."""
    return explore(_draw, CONTROLS, dict(kappa=kappa, d=d, n=n, prior=prior), interactive, figsize=(11.0, 4.0))
