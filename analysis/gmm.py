"""Does contrastive learning recover the Fisher/LDA subspace of a non-isotropic Gaussian mixture under
noisy coupled augmentation, for InfoNCE and for every f-MICL objective? (Bansal, Kavis & Sanghavi
2024, "Understanding Contrastive Learning via Gaussian Mixture Models", arXiv:2411.03517.)

The command only: its flags and the glue to :mod:`analysis.mixtures`, which holds the maths.

    python -m analysis.gmm [--d 20] [--k 5] [--deltas 1 0.3] [--methods infonce kl js pearson sh vlc] ...

The default runs InfoNCE with 6000 steps x B = 512 of fresh pairs (what <= 3 degrees at
delta = 0.3 needs) and five f-MICL divergences with 600 steps x 128 (f-Gaussian sigma and alpha of
:mod:`analysis.mixtures.methods`), then prints the table and writes ``<out-dir>/gmm_vs_lda.{png,json}``.
"""

from __future__ import annotations

import argparse

from analysis.mixtures import methods as M
from analysis.mixtures.encoder import EncoderTraining
from analysis.mixtures.model import coupling_strength, make_gmm
from analysis.mixtures.plots import plot_comparison
from analysis.runner import Command, check_integers, run
from fmicl_core import validation

__all__ = ["COMMAND", "main"]


def _arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--d", type=int, default=20, help="data dimension")
    p.add_argument("--k", type=int, default=5, help="number of mixture components; r = K - 1")
    p.add_argument("--deltas", type=float, nargs="+", default=[1.0, 0.3], help="coupling strengths in (0, 1]")
    p.add_argument("--methods", nargs="+", default=["infonce", "kl", "js", "pearson", "sh", "vlc"],
                   help=f"methods: {', '.join(M.METHODS)} (tsallis with beta=2 is pearson again; rkl and "
                        "neyman are the failing cases)")
    p.add_argument("--uncentred", action="store_true", help="do not centre the component means (failure mode)")
    p.add_argument("--steps", type=int, default=6000, help="InfoNCE/spectral training steps")
    p.add_argument("--batch", type=int, default=EncoderTraining.batch, help="pairs per step")
    p.add_argument("--fmicl-steps", type=int, default=600, help="f-MICL training steps")
    p.add_argument("--fmicl-batch", type=int, default=128, help="f-MICL pairs per step")
    p.add_argument("--alpha", type=float, default=M.FMICL_ALPHA, help="f-MICL negative weight alpha")
    p.add_argument("--sigma", type=float, default=M.FMICL_SIGMA, help="f-MICL f-Gaussian width sigma")
    p.add_argument("--lr", type=float, default=EncoderTraining.lr, help="Adam learning rate, cosine decay")
    p.add_argument("--n-test", type=int, default=5000, help="fresh test points for k-means")
    p.add_argument("--seed", type=int, default=0, help="seed of the mixture, training and test draws")


def _compute(args: argparse.Namespace) -> list:
    check_integers(args, d=2, k=2, steps=1, batch=2, fmicl_steps=1, fmicl_batch=2, seed=0,
                   n_test=args.k)  # k-means needs at least K test points
    for flag in ("alpha", "sigma", "lr"):
        validation.positive("--" + flag, getattr(args, flag))
    deltas = tuple(coupling_strength(delta, "--deltas") for delta in args.deltas)
    config = EncoderTraining(steps=args.steps, batch=args.batch, lr=args.lr, seed=args.seed)
    fconfig = EncoderTraining(steps=args.fmicl_steps, batch=args.fmicl_batch, lr=args.lr, seed=args.seed)
    methods = tuple(M.method(m, config, fconfig, args.alpha, args.sigma) for m in args.methods)
    gmm = make_gmm(args.d, args.k, centred=not args.uncentred, seed=args.seed)
    return M.compare(gmm, deltas, methods, n_test=args.n_test, seed=args.seed)


def _plot(rows: list, args: argparse.Namespace):
    return plot_comparison(rows, f"d={args.d}, K={args.k}, {'uncentred' if args.uncentred else 'centred'} means")


COMMAND = Command(
    prog="python -m analysis.gmm",
    description=__doc__.split("\n\n")[0],
    figure="gmm_vs_lda",
    arguments=_arguments,
    compute=_compute,
    headline=lambda rows: [M.format_table(rows)],
    plot=_plot,
    numbers=lambda rows: dict(rows=rows),
    threads=1,
)


def main(argv: list[str] | None = None) -> dict:
    return run(COMMAND, argv)


if __name__ == "__main__":
    main()
