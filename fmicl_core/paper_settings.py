"""The paper's settings in one table, and the commands rendered from it.

Lu et al. 2023 (f-MICL, arXiv:2402.10150): Table 7 (hyper-parameters per dataset), Table 2 (linear
top-1 % on CIFAR-10 after 800 epochs) and its alpha ablation (kNN % on CIFAR-10 after 200 epochs). MoCo's temperature, momentum and queue are those of MoCo v2 on CIFAR (He et al. 2020,
arXiv:1911.05722; Chen et al. 2020, arXiv:2003.04297), which the paper's baselines follow. The
README's GPU commands, the notebooks' commands and ``python -m fmicl_core.paper_settings`` are all
rendered by :func:`render`, and a test checks that the README holds exactly that text.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ALPHA_ABLATION", "MOCO", "MOCO_V3", "MOCO_V3_VIT", "SIMCLR", "VIT_OBJECTIVES", "PaperRun", "TABLE2_CIFAR10", "TABLE7", "cifar10_flags", "help_notes",
           "render", "runs"]

TABLE7 = {
    # dataset: batch N, embedding d, lr, (2 sigma^2)^-1, alpha, mu, epochs, kNN k
    "cifar10": dict(batch_size=512, proj_dim=512, lr=0.1, c=1.0, alpha=40.0, mu=1.0, epochs=800, knn_k=200),
    "stl10": dict(batch_size=64, proj_dim=512, lr=0.1, c=1.0, alpha=40.0, mu=1.0, epochs=800, knn_k=200),
    "tinyimagenet": dict(batch_size=256, proj_dim=512, lr=0.1, c=1.0, alpha=40.0, mu=1.0, epochs=800, knn_k=200),
}
"""f-MICL Table 7 (the vision rows); ``c = (2 sigma^2)^-1``, so sigma = 0.7071."""
DATASET_NAMES = {"cifar10": "CIFAR-10", "stl10": "STL-10", "tinyimagenet": "TinyImageNet"}

SIMCLR = dict(temperature=0.5)
"""SimCLR's NT-Xent temperature on CIFAR-10 (Chen et al. 2020, arXiv:2002.05709)."""
MOCO = dict(temperature=0.2, moco_momentum=0.99, queue_size=4096)
"""MoCo's InfoNCE temperature, key-encoder momentum and queue length on CIFAR."""
MOCO_V3 = dict(pred_hidden=4096)
"""The hidden width of MoCo v3's predictor (Chen, Xie & He 2021, arXiv:2104.02057)."""
MOCO_V3_VIT = dict(encoder="vit_small", optimizer="adamw", lr=1.5e-4 * TABLE7["cifar10"]["batch_size"] / 256,
                   weight_decay=0.1, warmup_epochs=40, moco_momentum=0.99, temperature=0.2, **MOCO_V3)
"""MoCo v3's ViT recipe (Chen, Xie & He 2021, arXiv:2104.02057, Sec. 4 and its appendix): AdamW,
lr 1.5e-4 x N / 256, weight decay 0.1, 40 warm-up epochs, key-encoder momentum 0.99 rising to 1,
InfoNCE temperature 0.2.
f-MICL's Table 3 runs it on ImageNet with ViT-S for 1000 epochs; the command here is the CIFAR-10
scale of the same recipe with the objective changed (no number of the paper to compare with)."""
VIT_OBJECTIVES = ("infonce", "kl", "js", "pearson")
"""The objectives of f-MICL's Table 3 (MoCo v3 and f-MICL with KL, JS, Pearson)."""

TABLE2_CIFAR10 = {
    # objective label: (method, objective, extra flags, paper's linear top-1 %)
    "MoCo": ("moco", "infonce", f"--temperature {MOCO['temperature']} --queue-size {MOCO['queue_size']} "
                                f"--moco-momentum {MOCO['moco_momentum']}", "90.30±.19"),
    "SimCLR": ("simclr", "infonce", f"--temperature {SIMCLR['temperature']}", "89.71±.37"),
    "AU": ("simclr", "au", "", "90.41±.26"),
    "KL": ("simclr", "kl", "", "90.61±.47"),
    "JS": ("simclr", "js", "", "89.66±.28"),
    "Pearson": ("simclr", "pearson", "", "89.35±.52"),
    "VLC": ("simclr", "vlc", "", "89.13±.33"),
}
"""f-MICL Table 2, CIFAR-10 row (mean ± sd over seeds)."""

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


def cifar10_flags() -> str:
    """The trainer flags of f-MICL Table 7's CIFAR-10 row (ResNet-18 with the CIFAR stem, SGD with a
    cosine schedule; the warm-up and weight decay, which the paper does not state, are SimCLR's)."""
    t = TABLE7["cifar10"]
    sigma = (1.0 / (2.0 * t["c"])) ** 0.5
    return (f"--dataset cifar10 --download --encoder resnet18 --batch-size {t['batch_size']} "
            f"--proj-dim {t['proj_dim']} --lr {t['lr']} --epochs {t['epochs']} --warmup-epochs 10 "
            f"--weight-decay 5e-4 --knn-k {t['knn_k']} --knn-every 20 --alpha {t['alpha']:g} --sigma {sigma:.4f} "
            f"--mu {t['mu']:g}")


def runs(seed: int = 0) -> list[PaperRun]:
    """Every Table 2 (CIFAR-10) and alpha-ablation run, as trainer flags."""
    base = cifar10_flags()
    out = []
    for label, (method, objective, extra, paper) in TABLE2_CIFAR10.items():
        flags = f"{base} --method {method} --objective {objective} {extra}".strip()
        out.append(PaperRun(f"Table 2 CIFAR-10 {label}", f"{flags} --seed {seed}", paper))
    for objective, row in ALPHA_ABLATION.items():
        for alpha, knn in row.items():
            flags = (f"{base} --epochs {ALPHA_ABLATION_EPOCHS} --objective {objective} --alpha {alpha:g} "
                     f"--seed {seed} --name ablation-{objective}-alpha{alpha:g}-s{seed}")
            out.append(PaperRun(f"alpha ablation {objective} alpha={alpha:g}", flags, f"kNN {knn}"))
    return out


def render() -> str:
    """The shell commands of every paper run (the README's GPU block), one per line with its number."""
    lines = ["# f-MICL Table 7 settings, CIFAR-10 (Lu et al. 2023, arXiv:2402.10150); later flags win",
             f"C=\"{cifar10_flags()}\""]
    lines.append("# Table 2, CIFAR-10 linear top-1 %: run seeds 0, 1, 2 for mean ± sd")
    for label, (method, objective, extra, paper) in TABLE2_CIFAR10.items():
        flags = f"--method {method} --objective {objective} {extra}".strip()
        lines.append(f"python -m fmicl_core.train $C {flags} --seed 0   # {label}: paper {paper}")
    lines.append(f"# alpha ablation, kNN % after {ALPHA_ABLATION_EPOCHS} epochs")
    for objective, row in ALPHA_ABLATION.items():
        paper = " / ".join(f"{v:.2f}" for v in row.values())
        alphas = " ".join(f"{a:g}" for a in row)
        lines.append(f"for a in {alphas}; do   # paper {objective.upper()}: {paper}")
        lines.append(f"  python -m fmicl_core.train $C --epochs {ALPHA_ABLATION_EPOCHS} --objective {objective} "
                     f"--alpha $a --name ablation-{objective}-alpha$a-s0; done")
    vit = " ".join(f"--{k.replace('_', '-')} {v:g}" if isinstance(v, float) else f"--{k.replace('_', '-')} {v}"
                   for k, v in MOCO_V3_VIT.items())
    lines.append("# MoCo v3 with ViT-Small, MoCo v3's recipe at CIFAR-10 scale (f-MICL Table 3 is ImageNet)")
    lines.append(f"for o in {' '.join(VIT_OBJECTIVES)}; do")
    lines.append(f"  python -m fmicl_core.train $C --method mocov3 {vit} --objective $o --name mocov3-vit-$o-s0; done")
    lines.append("# several GPUs: torchrun --nproc_per_node=4 -m fmicl_core.train $C ...   (--batch-size is global)")
    return "\n".join(lines)


if __name__ == "__main__":
    print(render())
