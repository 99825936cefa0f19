"""The paper's settings in one table, and the commands rendered from it.

Lu et al. 2023 (f-MICL, arXiv:2402.10150): Table 7 (hyper-parameters per dataset), Table 2 (linear
top-1 % on CIFAR-10, STL-10 and TinyImageNet after 800 epochs; the package also runs CIFAR-100, which
the paper does not report) and its alpha ablation (kNN % on CIFAR-10 after 200 epochs). Where the
paper is silent a value comes from the reproduction its baseline follows (SimCLR, Chen et al. 2020,
arXiv:2002.05709; MoCo, He et al. 2020, arXiv:1911.05722 and MoCo v2, arXiv:2003.04297; MoCo v3,
Chen, Xie & He 2021, arXiv:2104.02057), named next to the value. The
README's GPU commands, the notebooks' commands and ``python -m fmicl_core.paper_settings`` are all
rendered by :func:`render`, and a test checks that the README holds exactly that text.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ALPHA_ABLATION", "COMMON_FLAGS", "DATASET_FLAGS", "DATASET_NAMES", "MOCO", "MOCO_V3", "MOCO_V3_VIT",
           "SEEDS", "SIMCLR", "TABLE2", "TABLE2_CIFAR10", "TABLE2_ROWS", "TABLE7", "VIT_OBJECTIVES", "PaperRun",
           "cifar10_flags", "dataset_flags", "help_notes", "paper_text", "render", "runs"]

TABLE7 = {
    # dataset: batch N, embedding d, lr, (2 sigma^2)^-1, alpha, mu, epochs, kNN k
    "cifar10": dict(batch_size=512, proj_dim=512, lr=0.1, c=1.0, alpha=40.0, mu=1.0, epochs=800, knn_k=200),
    "stl10": dict(batch_size=64, proj_dim=512, lr=0.1, c=1.0, alpha=40.0, mu=1.0, epochs=800, knn_k=200),
    "tinyimagenet": dict(batch_size=256, proj_dim=512, lr=0.1, c=1.0, alpha=40.0, mu=1.0, epochs=800, knn_k=200),
}
"""f-MICL Table 7 (the vision rows); ``c = (2 sigma^2)^-1``, so sigma = 0.7071."""
DATASET_NAMES = {"cifar10": "CIFAR-10", "cifar100": "CIFAR-100", "stl10": "STL-10", "tinyimagenet": "TinyImageNet"}

DATASET_FLAGS = {
    # f-MICL's experimental setup: ResNet-18 on CIFAR-10, ResNet-50 on STL-10 and TinyImageNet.
    "cifar10": dict(table7="cifar10", flags="--dataset cifar10 --download --encoder resnet18"),
    # The paper has no CIFAR-100 run: CIFAR-10's encoder and Table 7 row, with no number to compare with.
    "cifar100": dict(table7="cifar10", flags="--dataset cifar100 --download --encoder resnet18"),
    # Pre-training on STL-10's train + 100k unlabeled images, as the AU baseline's code does (Wang & Isola
    # 2020, arXiv:2005.10242, SsnL/align_uniform); the linear probe uses the labelled train/test splits.
    "stl10": dict(table7="stl10", flags="--dataset stl10 --download --unlabeled --encoder resnet50"),
    "tinyimagenet": dict(table7="tinyimagenet", flags="--dataset tinyimagenet --download --encoder resnet50"),
}
"""The dataset and encoder flags of each Table 2 column and the Table 7 row it uses."""
COMMON_FLAGS = "--proj-layers 3 --probe sgd --warmup-epochs 10 --weight-decay 5e-4 --knn-every 20"
"""Flags every paper run shares: f-MICL's "same 3-layer projection head" as SimCLR; SimCLR's SGD
linear evaluation (Chen et al. 2020, arXiv:2002.05709, Appendix B: Nesterov momentum, batch 512,
lr 0.1, cosine, 100 epochs) rather than L-BFGS. Which the paper does not state: SimCLR's 10 linear
warm-up epochs (Chen et al. 2020) and weight decay 5e-4 (MoCo's CIFAR-10 demo in
facebookresearch/moco, the code of the paper's MoCo baseline)."""
SEEDS = (0, 1, 2)
"""Table 2 reports mean ± sd over seeds (their number is not stated); the commands run three."""

SIMCLR = dict(temperature=0.5)
"""SimCLR's NT-Xent temperature on CIFAR-10 (Chen et al. 2020, arXiv:2002.05709, Appendix B.9)."""
MOCO = dict(temperature=0.2, moco_momentum=0.99, queue_size=4096)
"""MoCo's InfoNCE temperature 0.2 (MoCo v2, Chen et al. 2020, arXiv:2003.04297, Sec. 3 and its
``--moco-t 0.2`` recipe), key-encoder momentum 0.99 and queue length 4096 (MoCo's CIFAR-10 demo in
facebookresearch/moco, the code of He et al. 2020, arXiv:1911.05722, for a 50k-image dataset; its
ImageNet values are 0.999 and 65536)."""
MOCO_V3 = dict(pred_hidden=4096)
"""The hidden width of MoCo v3's predictor (Chen, Xie & He 2021, arXiv:2104.02057, Sec. 4)."""
MOCO_V3_VIT = dict(encoder="vit_small", optimizer="adamw", lr=1.5e-4 * TABLE7["cifar10"]["batch_size"] / 256,
                   weight_decay=0.1, warmup_epochs=40, moco_momentum=0.99, temperature=0.2, **MOCO_V3)
"""MoCo v3's ViT recipe (Chen, Xie & He 2021, arXiv:2104.02057, Sec. 4 and its appendix): AdamW,
lr 1.5e-4 x N / 256, weight decay 0.1, 40 warm-up epochs, key-encoder momentum 0.99 rising to 1,
InfoNCE temperature 0.2.
f-MICL's Table 3 runs it on ImageNet with ViT-S for 1000 epochs; the command here is the CIFAR-10
scale of the same recipe with the objective changed (no number of the paper to compare with)."""
VIT_OBJECTIVES = ("infonce", "kl", "js", "pearson")
"""The objectives of f-MICL's Table 3 (MoCo v3 and f-MICL with KL, JS, Pearson)."""

TABLE2_ROWS = {
    # objective label: (method, objective, extra flags)
    "MoCo": ("moco", "infonce", f"--temperature {MOCO['temperature']} --queue-size {MOCO['queue_size']} "
                                f"--moco-momentum {MOCO['moco_momentum']}"),
    "SimCLR": ("simclr", "infonce", f"--temperature {SIMCLR['temperature']}"),
    "AU": ("simclr", "au", ""),  # Wang & Isola 2020 (arXiv:2005.10242): the objective's defaults, t = 2
    "KL": ("simclr", "kl", ""),
    "JS": ("simclr", "js", ""),
    "Pearson": ("simclr", "pearson", ""),
    "SH": ("simclr", "sh", ""),
    "Tsallis": ("simclr", "tsallis", ""),  # the paper does not state the order beta: the objective's default
    "VLC": ("simclr", "vlc", ""),
}
"""The rows of f-MICL Table 2 (SH and Tsallis from the full table of its appendix), as trainer flags."""

TABLE2 = {
    # dataset: {objective label: (mean, sd) of the paper's linear top-1 %}
    "cifar10": {"MoCo": (90.30, 0.19), "SimCLR": (89.71, 0.37), "AU": (90.41, 0.26), "KL": (90.61, 0.47),
                "JS": (89.66, 0.28), "Pearson": (89.35, 0.52), "SH": (89.52, 0.25), "Tsallis": (89.15, 0.42),
                "VLC": (89.13, 0.33)},
    "cifar100": {},  # the paper reports no CIFAR-100 run
    "stl10": {"MoCo": (83.69, 0.22), "SimCLR": (82.97, 0.32), "AU": (84.44, 0.19), "KL": (85.33, 0.39),
              "JS": (85.94, 0.17), "Pearson": (82.64, 0.37), "SH": (82.80, 0.27), "Tsallis": (84.79, 0.34),
              "VLC": (85.94, 0.72)},
    # KL: 39.46 in Table 2; the appendix's full table prints 34.95±.20 for the same cell.
    "tinyimagenet": {"MoCo": (35.72, 0.17), "SimCLR": (30.56, 0.28), "AU": (41.20, 0.19), "KL": (39.46, 0.20),
                     "JS": (42.98, 0.18), "Pearson": (43.45, 0.54), "SH": (40.83, 0.67),
                     "Tsallis": (32.99, 0.49), "VLC": (38.65, 0.45)},
}
"""f-MICL Table 2: linear top-1 % after 800 epochs, mean ± sd over seeds (SH and Tsallis: the full
table of the appendix)."""


def paper_text(mean: float, sd: float) -> str:
    """A Table 2 cell as the paper prints it, e.g. ``90.61±.47``."""
    return f"{mean:.2f}±{sd:.2f}".replace("±0.", "±.")


TABLE2_CIFAR10 = {label: (*row, paper_text(*TABLE2["cifar10"][label])) for label, row in TABLE2_ROWS.items()}
"""f-MICL Table 2, CIFAR-10 row: objective label to (method, objective, extra flags, paper's number)."""

ALPHA_ABLATION = {
    "kl": {0.1: 13.16, 1: 77.60, 10: 83.53, 20: 83.77, 30: 81.39, 40: 84.19, 50: 82.77},
    "js": {0.1: 8.84, 1: 73.31, 10: 81.39, 20: 83.21, 30: 83.49, 40: 84.06, 50: 82.61},
}
"""f-MICL's alpha ablation on CIFAR-10: kNN top-1 % after 200 epochs."""
ALPHA_ABLATION_EPOCHS = 200


@dataclass(frozen=True)
class PaperRun:
    """One paper-scale run: a label, the trainer's flags, and the paper's number for it."""

    label: str
    flags: str
    paper: str

    @property
    def command(self) -> str:
        return f"python -m fmicl_core.train {self.flags}"


def help_notes() -> dict[str, str]:
    """What the papers set for a trainer flag, by field name: the text ``--help`` shows after it."""
    def per_dataset(key: str) -> str:
        return "f-MICL Table 7: " + ", ".join(f"{DATASET_NAMES[d]} {row[key]:g}" for d, row in TABLE7.items())

    t = TABLE7["cifar10"]
    notes = {key: per_dataset(key) for key in ("batch_size", "proj_dim", "lr", "epochs", "knn_k")}
    notes.update(alpha=f"f-MICL Table 7: {t['alpha']:g}", mu=f"f-MICL Table 7: {t['mu']:g}",
                 sigma=f"f-MICL Table 7: (2 sigma^2)^-1 = {t['c']:g}, sigma = {(1 / (2 * t['c'])) ** 0.5:.4f}")
    notes.update({key: f"MoCo on CIFAR: {value:g}" for key, value in MOCO.items()})
    notes["temperature"] = f"SimCLR {SIMCLR['temperature']:g}, MoCo on CIFAR {MOCO['temperature']:g}"
    notes.update({key: f"MoCo v3: {value:g}" for key, value in MOCO_V3.items()})
    return notes


def dataset_flags(dataset: str) -> str:
    """The trainer flags of one Table 2 column: its dataset and encoder, its Table 7 row (ResNet with
    the CIFAR stem, SGD with a cosine schedule) and :data:`COMMON_FLAGS`."""
    column = DATASET_FLAGS[dataset]
    t = TABLE7[column["table7"]]
    sigma = (1.0 / (2.0 * t["c"])) ** 0.5
    return (f"{column['flags']} --batch-size {t['batch_size']} --proj-dim {t['proj_dim']} --lr {t['lr']} "
            f"--epochs {t['epochs']} --knn-k {t['knn_k']} --alpha {t['alpha']:g} --sigma {sigma:.4f} "
            f"--mu {t['mu']:g} {COMMON_FLAGS}")


def cifar10_flags() -> str:
    """The trainer flags of f-MICL Table 7's CIFAR-10 row (:func:`dataset_flags`)."""
    return dataset_flags("cifar10")


def _row_flags(label: str) -> str:
    method, objective, extra = TABLE2_ROWS[label]
    return f"--method {method} --objective {objective} {extra}".strip()


def runs(seed: int = 0, datasets: tuple[str, ...] = ("cifar10",)) -> list[PaperRun]:
    """Every Table 2 run of ``datasets`` (each column of :data:`DATASET_FLAGS`) and, with CIFAR-10,
    the alpha-ablation runs, as trainer flags for one seed."""
    out = []
    for dataset in datasets:
        base, paper = dataset_flags(dataset), TABLE2[dataset]
        for label in TABLE2_ROWS:
            number = paper_text(*paper[label]) if label in paper else "no paper number"
            out.append(PaperRun(f"Table 2 {DATASET_NAMES[dataset]} {label}",
                                f"{base} {_row_flags(label)} --seed {seed}", number))
    if "cifar10" in datasets:
        base = cifar10_flags()
        for objective, row in ALPHA_ABLATION.items():
            for alpha, knn in row.items():
                flags = (f"{base} --epochs {ALPHA_ABLATION_EPOCHS} --objective {objective} --alpha {alpha:g} "
                         f"--seed {seed} --name ablation-{objective}-alpha{alpha:g}-s{seed}")
                out.append(PaperRun(f"alpha ablation {objective} alpha={alpha:g}", flags, f"kNN {knn}"))
    return out


def render() -> str:
    """The shell commands of every paper run (the README's GPU block), one per line with its number."""
    seeds = " ".join(map(str, SEEDS))
    variables = {"cifar10": "C", "cifar100": "C100", "stl10": "STL", "tinyimagenet": "TIN"}
    lines = ["# f-MICL Table 7 settings (Lu et al. 2023, arXiv:2402.10150) per dataset; later flags win"]
    lines += [f"{variables[d]}=\"{dataset_flags(d)}\"" for d in DATASET_FLAGS]
    lines.append(f"# Table 2, linear top-1 % (SGD probe), seeds {seeds} for mean ± sd; then "
                 "python -m analysis.table2 runs/simclr-* runs/moco-*")
    for dataset, variable in variables.items():
        lines.append(f"for s in {seeds}; do   # {DATASET_NAMES[dataset]}")
        for label in TABLE2_ROWS:
            paper = TABLE2[dataset].get(label)
            number = f"paper {paper_text(*paper)}" if paper else "no paper number"
            command = f"python -m fmicl_core.train ${variable} {_row_flags(label)} --seed $s"
            lines.append(f"  {command}   # {label}: {number}")
        lines.append("done")
    lines.append(f"# alpha ablation, kNN % after {ALPHA_ABLATION_EPOCHS} epochs")
    for objective, row in ALPHA_ABLATION.items():
        paper = " / ".join(f"{v:.2f}" for v in row.values())
        alphas = " ".join(f"{a:g}" for a in row)
        lines.append(f"for s in {seeds}; do for a in {alphas}; do   # paper {objective.upper()}: {paper}")
        lines.append(f"  python -m fmicl_core.train $C --epochs {ALPHA_ABLATION_EPOCHS} --objective {objective} "
                     f"--alpha $a --seed $s --name ablation-{objective}-alpha$a-s$s; done; done")
    vit = " ".join(f"--{k.replace('_', '-')} {v:g}" if isinstance(v, float) else f"--{k.replace('_', '-')} {v}"
                   for k, v in MOCO_V3_VIT.items())
    lines.append("# MoCo v3 with ViT-Small, MoCo v3's recipe at CIFAR-10 scale (f-MICL Table 3 is ImageNet)")
    lines.append(f"for o in {' '.join(VIT_OBJECTIVES)}; do")
    lines.append(f"  python -m fmicl_core.train $C --method mocov3 {vit} --objective $o --name mocov3-vit-$o-s0; done")
    lines.append("# several GPUs: torchrun --nproc_per_node=4 -m fmicl_core.train $C ...   (--batch-size is global)")
    return "\n".join(lines)


if __name__ == "__main__":
    print(render())
