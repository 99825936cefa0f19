"""``python -m analysis.verify_gaussian``: check the Gaussian-kernel assumption (f-MICL, checked in
Figure 1; Lu et al. 2023, arXiv:2402.10150) on a trainer run's positive pairs.

By default the trainer's default run of ``--seed`` (in ``--runs-dir``, trained through
:func:`fmicl_core.train.ensure_run` when missing) is checked with both priors of Figure 1; writes
``<out-dir>/gaussian_assumption.png`` + ``.json``. The method and its accuracy are in
:mod:`analysis.gaussian.check`; this module holds only the flags and the glue.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

from analysis.gaussian.check import CALIBRATIONS, FORMS, GaussianCheck, kernel_sigma2, verify_gaussian
from analysis.gaussian.flows import BACKENDS, PRIORS, check_backend
from analysis.gaussian.verdicts import kernel_width, linear_decreasing
from analysis.runner import Command, check_integers, output_folder, run
from fmicl_core import validation
from fmicl_core.features import RunFolder, load_features

__all__ = ["COMMAND", "main"]


def _arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--features", default=None,
                   help="features.npz (or run folder) of a trainer run (default: the trainer's default run of "
                   "--seed in --runs-dir, trained first through ensure_run if missing)")
    p.add_argument("--runs-dir", default="runs", help="folder of the run folders, for the default run")
    p.add_argument("--prior", default="both", choices=[*PRIORS, "both"], help="base distribution of the flow")
    p.add_argument("--form", default="joint", choices=[*FORMS, "both"],
                   help="joint: log p(x, y), as in Figure 1; pmi: log p(x, y) - log p(x) - log p(y) (two more flows)")
    p.add_argument("--calibration", default="auto", choices=CALIBRATIONS,
                   help="auto: the committed bias map where it was made at these settings, else vMF surrogates at "
                   "these settings (9 more fits); map; surrogate; none (raw slope only, nothing certified)")
    p.add_argument("--epochs", type=int, default=60, help="maximum flow-training epochs (early stopping on held-out NLL)")
    p.add_argument("--patience", type=int, default=8, help="epochs without held-out improvement before stopping")
    p.add_argument("--max-dim", type=int, default=16,
                   help="project the features onto this many principal axes first (0: no projection; paper: none)")
    p.add_argument("--noise", type=float, default=0.02, help="std of the Gaussian thickening of the features")
    p.add_argument("--bins", type=int, default=10, help="equal-count distance bins")
    p.add_argument("--hidden", type=int, default=64, help="hidden width of the coupling networks")
    p.add_argument("--layers", type=int, default=6, help="affine coupling layers")
    p.add_argument("--backend", default="nflows", choices=BACKENDS,
                   help="flow library: nflows (RealNVP, as in the paper) or zuko (cross-check, gaussian prior only)")
    p.add_argument("--device", default="auto", help="auto (cuda when available), cpu, cuda, cuda:1, ...")
    p.add_argument("--seed", type=int, default=0, help="seed of the default run, the split, the thickening, the "
                   "flow and the bootstrap")


@dataclass
class _Outcome:
    checks: list[GaussianCheck]
    source: str
    run_config: dict
    pairs: tuple[int, int]

    @property
    def run(self) -> str:
        objective = self.run_config.get("objective")
        name = objective.get("name") if isinstance(objective, dict) else objective
        return f"{self.run_config.get('method')}-{name} on {self.run_config.get('dataset')}"


def _features_path(args: argparse.Namespace) -> Path:
    """The features file of ``--features``, or of the default run (trained first if missing)."""
    if args.features is not None:
        path = Path(args.features)
        return RunFolder(path).features if path.is_dir() else path
    from fmicl_core.config import TrainConfig
    from fmicl_core.train import ensure_run

    config = TrainConfig(seed=args.seed, out_dir=str(output_folder("--runs-dir", args.runs_dir)))
    if not RunFolder(Path(config.out_dir) / config.run_name).complete:
        print(f"{Path(config.out_dir) / config.run_name} is not a finished run: training the trainer's default run "
              f"(python -m fmicl_core.train --seed {args.seed} --out-dir {args.runs_dir}) first", flush=True)
    return RunFolder(ensure_run(config).run_dir).features


def _compute(args: argparse.Namespace) -> _Outcome:
    check_integers(args, epochs=1, patience=1, hidden=1, layers=1, bins=3, max_dim=0, seed=0)
    validation.at_least("--noise", args.noise)
    device = validation.device("--device", args.device)
    priors = PRIORS if args.prior == "both" else (args.prior,)
    for prior in priors:
        check_backend(args.backend, prior)
    path = _features_path(args)
    feats = load_features(path)
    forms = FORMS if args.form == "both" else (args.form,)
    checks = [verify_gaussian(feats.pair_x, feats.pair_y, prior, form=form, max_dim=args.max_dim or None,
                              noise=args.noise, bins=args.bins, calibration=args.calibration, seed=args.seed,
                              epochs=args.epochs, patience=args.patience, hidden=args.hidden, layers=args.layers,
                              backend=args.backend, device=str(device))
              for prior in priors for form in forms]
    return _Outcome(checks, str(path), feats.config, feats.pair_x.shape)


def _verdicts(check: GaussianCheck, trained: float) -> dict:
    return {"linear and decreasing": linear_decreasing(check), "kernel width": kernel_width(check, trained)}


def _numbers(out: _Outcome) -> dict:
    trained = kernel_sigma2(out.run_config)
    return {f"{c.prior}/{c.form}": c.numbers() | {"verdicts": _verdicts(c, trained)} for c in out.checks} | {
        "trained_sigma2": trained, "features": out.source, "train_config": out.run_config}


def _headline(out: _Outcome) -> list[str]:
    first, trained = out.checks[0], kernel_sigma2(out.run_config)
    lines = [f"pairs: {out.pairs[0]} x d={out.pairs[1]} from {out.source} ({out.run}); fitted dim "
             f"{first.fitted_dim} (explained variance {first.explained_variance:.3f}); trained sigma^2 {trained:.3g}"]
    for c in out.checks:
        cal = c.calibrated
        lines.append(f"{c.prior:>8} prior, {c.form}: raw slope {c.slope:+.3f} [{c.slope_ci[0]:+.3f}, {c.slope_ci[1]:+.3f}] "
                     f"(flow held fixed)  r {c.r:+.3f}  held-out NLL {c.heldout_nll:.2f}")
        if cal is not None and cal.calibrated:
            lines.append(f"{'':>10}calibrated slope {cal.slope:+.3f} [{cal.ci[0]:+.3f}, {cal.ci[1]:+.3f}]  sigma^2 implied "
                         f"{cal.sigma2:.3g} [{cal.sigma2_ci[0]:.3g}, {cal.sigma2_ci[1]:.3g}]  ({cal.source}"
                         f"{'; ' + cal.note if cal.note else ''})")
        for claim, verdict in _verdicts(c, trained).items():
            lines.append(f"{'':>10}{claim}: {verdict}")
    return lines


def _plot(out: _Outcome, args: argparse.Namespace):
    from analysis.gaussian.plots import plot_checks

    return plot_checks(out.checks, [f"{c.prior} prior, {c.form} ({out.run}, d={c.fitted_dim})" for c in out.checks])


COMMAND = Command(
    prog="python -m analysis.verify_gaussian",
    description="Test the Gaussian-kernel assumption (f-MICL Figure 1; Lu et al. 2023, arXiv:2402.10150): fit "
    "RealNVP to the joint density of positive-pair features, regress the held-out log-likelihood on the "
    "squared distance, calibrate the slope on von Mises-Fisher couplings, and judge two claims: log p linear and "
    "decreasing in the distance, and the kernel width equal to the trained sigma^2.",
    figure="gaussian_assumption",
    arguments=_arguments,
    compute=_compute,
    headline=_headline,
    plot=_plot,
    numbers=_numbers,
)


def main(argv: list[str] | None = None) -> dict:
    """The command (``--help``); returns the numbers it writes."""
    return run(COMMAND, argv)


if __name__ == "__main__":
    main()
