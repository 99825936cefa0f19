"""The two verdicts of the Gaussian check (Lu et al. 2023, f-MICL, arXiv:2402.10150), computed from a
:class:`analysis.gaussian.check.GaussianCheck`:

* **linear and decreasing** (the paper's claim, Figure 1): ``log p`` falls linearly with the squared
  distance. It holds when the calibrated slope's interval is below 0 and the binned curve has
  ``r <= -0.9``; it does not hold when the interval is above 0 or the curve is not linear (``r > -0.9``
  with a negative slope is a curve that bends); with an interval that straddles 0 it is not established.
* **kernel width** (the assumption as stated): the trained ``sigma^2`` lies in the interval of the
  ``sigma^2`` the calibrated slope implies.

A slope that could not be calibrated is not judged; the verdict says why.
"""

from __future__ import annotations

import math

from analysis.gaussian.check import CERTIFY_R, GaussianCheck

__all__ = ["kernel_width", "linear_decreasing"]


def linear_decreasing(check: GaussianCheck) -> str:
    """The verdict on "log-density linear and decreasing in the squared distance" (module docstring)."""
    cal = check.calibrated
    if cal is None or not cal.calibrated:
        reason = "no calibration asked for" if cal is None else cal.note
        return f"not judged: the slope is not calibrated ({reason})"
    if check.certified:
        return f"holds: calibrated slope {cal.slope:.3g} [{cal.ci[0]:.3g}, {cal.ci[1]:.3g}] < 0, r {check.r:.3f}"
    if cal.ci[0] > 0:
        return f"does not hold: calibrated slope {cal.slope:.3g} [{cal.ci[0]:.3g}, {cal.ci[1]:.3g}] > 0"
    if check.r > CERTIFY_R:
        return f"does not hold: the binned curve is not linear (r {check.r:.3f} > {CERTIFY_R})"
    return f"not established: the calibrated interval [{cal.ci[0]:.3g}, {cal.ci[1]:.3g}] includes 0"


def kernel_width(check: GaussianCheck, trained_sigma2: float) -> str:
    """The verdict on "kernel width matches the trained sigma^2" (module docstring)."""
    cal = check.calibrated
    if not math.isfinite(trained_sigma2):
        return "not judged: the run trained no Gaussian kernel (no sigma^2 or temperature in its config)"
    if cal is None or not cal.calibrated:
        reason = "no calibration asked for" if cal is None else cal.note
        return f"not judged: the slope is not calibrated ({reason})"
    low, high = cal.sigma2_ci
    word = "holds" if low <= trained_sigma2 <= high else "does not hold"
    return f"{word}: implied sigma^2 {cal.sigma2:.3g} [{low:.3g}, {high:.3g}] vs trained {trained_sigma2:.3g}"
