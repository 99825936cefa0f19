"""Which f-MICL objectives collapse in training: trainer runs scored by the uniformity diagnostics.

Spec ``fmicl_paper.md`` section 2 and section 6 (Figure 4 left/middle): for the divergences of
Table 1 the negative pairs of a trained model spread out ("nearly uniform"), while RKL (linear
``h``) and Neyman (concave ``h``) "generally result in feature collapse", RKL's pair distances all
being 0. Each objective is trained by :func:`fmicl_core.train.train` on the same data and seed; the
test-set embeddings are scored by :func:`analysis.uniformity.diagnose` and the collapse statistic,
and a run is called collapsed when that statistic is below ``COLLAPSE_FRACTION`` of the value
``1/sqrt(d)`` of points uniform on the sphere. The random-initialisation encoder is the reference.
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from dataclasses import dataclass, replace

import numpy as np
import torch

from analysis.outputs import save_figure
from analysis.trainer_runs import add_trainer_arguments, base_config
from analysis.uniformity import BatchDiagnostics, PairDistances, diagnose, figure_pair_distances, pair_distances
from fmicl_core import data, methods
from fmicl_core.features import Features, compute_features, load_features
from fmicl_core.train import TrainConfig, train

__all__ = ["COLLAPSE_FRACTION", "SHORT_RUN", "CollapseRun", "collapse_study", "figure", "main", "score", "summary"]

COLLAPSE_FRACTION = 0.01
DEFAULT_OBJECTIVES = ("kl", "js", "pearson", "sh", "tsallis", "vlc", "rkl", "neyman")
SHORT_RUN = TrainConfig(epochs=2, batch_size=256, lr=0.3, knn_every=0, probe_iters=50)
"""Two epochs of digits at batch 256 and peak learning rate 0.3: RKL and Neyman collapse within
them. (At the trainer's default batch 128 and learning rate 0.1, RKL's embeddings spread out over
the first epochs instead: RKL's negative term is minimised by *every* centred configuration, so
whether training collapses is decided by the optimisation, not by the objective.)"""


@dataclass(frozen=True)
class CollapseRun:
    """One run's features scored: diagnostics of ``batch`` test embeddings, the collapse statistic
    over the whole test set, Figure 4's pair distances, and the trainer's kNN accuracy."""

    objective: str
    collapse_std: float
    uniform_std: float
    collapsed: bool
    diagnostics: BatchDiagnostics
    distances: PairDistances
    knn_acc: float


def score(objective: str, features: Features, knn_acc: float = math.nan, batch: int = 256) -> CollapseRun:
    """Score one features file (module docstring); ``batch`` rows make the diagnosed batch."""
    z = features.test_projection
    g = diagnose(z[:batch])
    full = diagnose(z).collapse_std
    uniform = 1.0 / math.sqrt(z.shape[1])
    n = min(batch, len(features.pair_x))
    return CollapseRun(objective, full, uniform, full < COLLAPSE_FRACTION * uniform, g,
                       pair_distances(features.pair_x[:n], features.pair_y[:n]), knn_acc)


def _random_init_features(config: TrainConfig) -> Features:
    """Features of the encoder at initialisation (the trainer's seeding, no training step)."""
    torch.manual_seed(config.seed)
    train_set = data.load_dataset(config.dataset, config.data_root, True, **config.dataset_options())
    test_set = data.load_dataset(config.dataset, config.data_root, False, **config.dataset_options())
    model = methods.build_method(config, train_set.channels, train_set.image_size)
    return compute_features(model, train_set, test_set, config)


def collapse_study(objectives: tuple[str, ...] = DEFAULT_OBJECTIVES, base: TrainConfig | None = None,
                   out_dir: str | None = None) -> dict[str, CollapseRun]:
    """Train ``base`` (default: :data:`SHORT_RUN`) once per objective and score the features; key
    ``"random init"`` is the untrained encoder. Run folders go to ``out_dir`` (default: a temporary
    folder, deleted afterwards)."""
    base = base or SHORT_RUN
    with tempfile.TemporaryDirectory() as tmp:
        root = out_dir or tmp
        config = replace(base, out_dir=root, progress=False).validate()
        runs = {"random init": score("random init", _random_init_features(config))}
        for name in objectives:
            result = train(replace(config, objective=name, name=f"collapse-{name}"))
            runs[name] = score(name, load_features(result.run_dir / "features.npz"), result.knn_acc)
    return runs


def figure(runs: dict[str, CollapseRun]):
    """Figure 4 (left/middle) per run, then the collapse statistic of every run against 1/sqrt(d)."""
    import matplotlib.pyplot as plt

    fig_d = figure_pair_distances({k: r.distances for k, r in runs.items()}, ncols=5)
    fig_s, ax = plt.subplots(figsize=(7.0, 2.6))
    names = list(runs)
    values = [runs[k].collapse_std for k in names]
    colours = ["tab:red" if runs[k].collapsed else "tab:blue" for k in names]
    ax.bar(names, values, color=colours)
    uniform = next(iter(runs.values())).uniform_std
    ax.axhline(uniform, color="k", ls="--", lw=1, label="uniform 1/sqrt(d)")
    ax.axhline(COLLAPSE_FRACTION * uniform, color="tab:red", ls=":", lw=1, label="collapse threshold")
    ax.set_yscale("log")
    ax.set_ylabel("std of normalised features")
    ax.legend(fontsize=7)
    ax.tick_params(axis="x", labelsize=8)
    fig_s.tight_layout()
    return fig_d, fig_s


def summary(runs: dict[str, CollapseRun]) -> dict:
    """Plain numbers of every run (for the JSON beside the figure); ``vs_random_init`` is the
    collapse statistic over the untrained encoder's (> 1: training spread the embeddings out)."""
    ref = runs["random init"].collapse_std if "random init" in runs else math.nan
    return {k: {"collapse_std": r.collapse_std, "vs_random_init": r.collapse_std / ref, "uniform_std": r.uniform_std, "collapsed": r.collapsed,
                "knn_acc": r.knn_acc, "centroid_norm": r.diagnostics.centroid_norm,
                "mean_sq_distance": r.diagnostics.mean_sq_distance, "uniformity": r.diagnostics.uniformity,
                "median_negative_distance": float(np.median(r.distances.negative)),
                "median_positive_distance": float(np.median(r.distances.positive))}
            for k, r in runs.items()}


def main(argv: list[str] | None = None) -> dict[str, CollapseRun]:
    """``python -m analysis.collapse``: train every objective briefly on digits and score collapse."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--objectives", nargs="+", default=list(DEFAULT_OBJECTIVES), help="objectives to train")
    p.add_argument("--batch-size", type=int, default=SHORT_RUN.batch_size, help="batch size N")
    p.add_argument("--lr", type=float, default=SHORT_RUN.lr, help="peak learning rate")
    add_trainer_arguments(p, epochs=SHORT_RUN.epochs, name="uniformity_collapse")
    args = p.parse_args(argv)
    import matplotlib

    matplotlib.use("Agg")
    start = time.time()
    base = base_config(args, batch_size=args.batch_size, lr=args.lr)
    try:
        runs = collapse_study(tuple(args.objectives), base, args.out_dir)
    except ValueError as err:
        raise SystemExit(f"error: {err}") from None
    numbers = summary(runs)
    for k, v in numbers.items():
        print(f"{k:12s} collapse std {v['collapse_std']:.5f} (uniform {v['uniform_std']:.4f}) "
              f"{'COLLAPSED' if v['collapsed'] else 'spread   '}  kNN {v['knn_acc']:.3f}  "
              f"median negative distance {v['median_negative_distance']:.3f}")
    fig_d, fig_s = figure(runs)
    config = {**vars(args), "seconds": round(time.time() - start, 1)}
    save_figure(args.name, fig_d, numbers, config)
    save_figure(f"{args.name}_std", fig_s, numbers, config)
    print(f"wrote figures/{args.name}.png ({config['seconds']} s)")
    return runs


if __name__ == "__main__":
    main()
