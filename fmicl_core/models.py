"""Encoders g, projection heads h, the MoCo v3 predictor and the momentum (EMA) update.

The f-MICL embedding is ``normalize(h(g(x)))`` (Lu et al. 2023, f-MICL, arXiv:2402.10150, Figure 2):
``g`` is one of :func:`make_encoder`'s encoders and ``h`` a :class:`ProjectionHead` with output
dimension d = 512 for vision (Table 7). Encoders expose ``feature_dim`` (the size of ``g(x)``).

- ``resnet18`` / ``resnet50``: torchvision's ResNets with the CIFAR stem (3x3 stride-1 first convolution,
  no max-pool) and the classifier removed; ``feature_dim`` 512 / 2048. ``stem="imagenet"`` keeps the
  7x7 stride-2 convolution and the max-pool (large images).
- ``small_cnn``: three 3x3 conv-BN-ReLU blocks of ``width``, 2 ``width``, 4 ``width`` channels and global
  average pooling (``feature_dim`` 4 ``width`` = 128), sized for 8x8 digits so that the CPU default
  trains in minutes; ``width=16`` costs about 0.6x the time.
- ``mlp``: flatten and two Linear-BN-ReLU layers (``feature_dim`` 512) for ``image_size`` x
  ``image_size`` inputs (default 8, the digits).
- ``vit_tiny`` / ``vit_small``: torchvision's Vision Transformer (12 blocks, width 192 / 384) with a
  patch size suited to the image size, for MoCo v3 (:class:`ViTEncoder`).

``channels_last=True`` converts an encoder's parameters to the channels-last memory format (faster
convolutions with bf16 on recent GPUs; feed it ``x.contiguous(memory_format=torch.channels_last)``).
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor, nn

__all__ = ["make_encoder", "encoder_names", "ProjectionHead", "Predictor", "momentum_update", "SmallCNN",
           "MLPEncoder", "ViTEncoder"]


class SmallCNN(nn.Module):
    """conv(w)-conv(2w)-maxpool-conv(4w), each 3x3 + BN + ReLU, then global average pooling (w = 32)."""

    min_image_size = 2  # the 2x2 max-pool

    def __init__(self, in_channels: int, width: int = 32) -> None:
        super().__init__()
        if width < 1:
            raise ValueError(f"small_cnn width must be >= 1, got {width}")
        self.feature_dim = 4 * width

        def block(cin: int, cout: int) -> list[nn.Module]:
            return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]

        self.body = nn.Sequential(*block(in_channels, width), *block(width, 2 * width), nn.MaxPool2d(2),
                                  *block(2 * width, 4 * width), nn.AdaptiveAvgPool2d(1), nn.Flatten())

    def forward(self, x: Tensor) -> Tensor:
        return self.body(x)


class MLPEncoder(nn.Module):
    """Flatten, then (Linear-BN-ReLU) x 2 with 512 units; inputs must be ``in_channels x size x size``."""

    feature_dim = 512

    def __init__(self, in_channels: int, image_size: int = 8) -> None:
        super().__init__()
        self.input_shape = (in_channels, image_size, image_size)
        d_in, d = in_channels * image_size * image_size, self.feature_dim
        self.body = nn.Sequential(nn.Flatten(), nn.Linear(d_in, d, bias=False), nn.BatchNorm1d(d),
                                  nn.ReLU(inplace=True), nn.Linear(d, d, bias=False), nn.BatchNorm1d(d),
                                  nn.ReLU(inplace=True))

    def forward(self, x: Tensor) -> Tensor:
        if tuple(x.shape[1:]) != self.input_shape:
            raise ValueError(f"mlp encoder expects inputs (B, {', '.join(map(str, self.input_shape))}), "
                             f"got {tuple(x.shape)}; build it with image_size={x.shape[-1]}")
        return self.body(x)


VIT_SIZES = {"vit_tiny": dict(num_layers=12, num_heads=3, hidden_dim=192, mlp_dim=768),
             "vit_small": dict(num_layers=12, num_heads=6, hidden_dim=384, mlp_dim=1536)}
"""ViT-Tiny and ViT-Small (Touvron et al. 2021, arXiv:2012.12877, Table 1); ViT-S is MoCo v3's
(Chen, Xie & He 2021, arXiv:2104.02057)."""


class ViTEncoder(nn.Module):
    """torchvision's ``VisionTransformer`` without its classifier: ``g(x)`` is the class token after
    the last block (``feature_dim`` = the width, 192 tiny / 384 small).

    ``patch_size`` defaults to ``max(2, image_size // 8)``: 4 for 32x32 (64 tokens), 2 for the 8x8
    digits (16 tokens), 12 for 96x96 STL-10. ``freeze_patch`` keeps the random patch projection fixed,
    MoCo v3's remedy for its training instability (Chen, Xie & He 2021, arXiv:2104.02057, Sec. 4.2).
    """

    def __init__(self, size: str, in_channels: int, image_size: int = 32, patch_size: int | None = None,
                 freeze_patch: bool = True) -> None:
        super().__init__()
        from torchvision.models.vision_transformer import VisionTransformer

        patch_size = max(2, image_size // 8) if patch_size is None else patch_size
        if patch_size < 1 or image_size % patch_size:
            raise ValueError(f"vit patch_size={patch_size} must divide image_size={image_size}")
        self.vit = VisionTransformer(image_size, patch_size, num_classes=1, **VIT_SIZES[size])
        self.feature_dim = VIT_SIZES[size]["hidden_dim"]
        if in_channels != 3:
            self.vit.conv_proj = nn.Conv2d(in_channels, self.feature_dim, patch_size, stride=patch_size)
        self.vit.heads = nn.Identity()
        self.vit.conv_proj.requires_grad_(not freeze_patch)

    def forward(self, x: Tensor) -> Tensor:
        return self.vit(x)


def _resnet(depth: int, in_channels: int, stem: str = "cifar") -> nn.Module:
    """torchvision ResNet-18/50 without ``fc``; the CIFAR stem replaces conv1 and drops the max-pool."""
    from torchvision import models

    if stem not in ("cifar", "imagenet"):
        raise ValueError(f"unknown ResNet stem {stem!r}; choose 'cifar' or 'imagenet'")
    net = models.resnet18(weights=None) if depth == 18 else models.resnet50(weights=None)
    feature_dim = net.fc.in_features
    if stem == "cifar":
        net.conv1 = nn.Conv2d(in_channels, 64, kernel_size=3, stride=1, padding=1, bias=False)
        net.maxpool = nn.Identity()
    elif in_channels != 3:
        net.conv1 = nn.Conv2d(in_channels, 64, kernel_size=7, stride=2, padding=3, bias=False)
    net.fc = nn.Identity()
    net.feature_dim = feature_dim
    return net


_ENCODERS: dict[str, Callable[..., nn.Module]] = {
    "small_cnn": SmallCNN,
    "resnet18": lambda in_channels, **kw: _resnet(18, in_channels, **kw),
    "resnet50": lambda in_channels, **kw: _resnet(50, in_channels, **kw),
    "mlp": MLPEncoder,
    "vit_tiny": lambda in_channels, **kw: ViTEncoder("vit_tiny", in_channels, **kw),
    "vit_small": lambda in_channels, **kw: ViTEncoder("vit_small", in_channels, **kw),
}


_SIZED = ("mlp", "vit_tiny", "vit_small")
"""Encoders built for one input size."""


def encoder_names() -> list[str]:
    return list(_ENCODERS)


def make_encoder(name: str, in_channels: int, channels_last: bool = False, image_size: int | None = None,
                 **options) -> nn.Module:
    """Encoder ``name`` for ``in_channels``-channel images of ``image_size`` pixels (checked against the
    encoder's smallest input; the mlp and the ViTs are built for it); options: ``stem`` (ResNets),
    ``width`` (small_cnn), ``patch_size`` and ``freeze_patch`` (ViTs)."""
    if name not in _ENCODERS:
        raise ValueError(f"unknown encoder {name!r}; choose one of {encoder_names()}")
    if in_channels < 1:
        raise ValueError(f"in_channels must be >= 1, got {in_channels}")
    smallest = getattr(_ENCODERS[name], "min_image_size", 1)
    if image_size is not None and image_size < smallest:
        raise ValueError(f"encoder {name!r} needs images of at least {smallest}x{smallest} pixels, got "
                         f"image_size={image_size}")
    if name in _SIZED and image_size is not None:
        options["image_size"] = image_size
    try:
        net = _ENCODERS[name](in_channels, **options)
    except TypeError as err:
        raise ValueError(f"encoder {name!r} does not take option(s) {sorted(options)} ({err})") from None
    return net.to(memory_format=torch.channels_last) if channels_last else net


def _mlp(dims: list[int], last_bias: bool) -> list[nn.Module]:
    """Linear-BN-ReLU between consecutive ``dims``, a plain Linear at the end."""
    layers: list[nn.Module] = []
    for d_in, d_out in zip(dims[:-2], dims[1:-1]):
        layers += [nn.Linear(d_in, d_out, bias=False), nn.BatchNorm1d(d_out), nn.ReLU(inplace=True)]
    return layers + [nn.Linear(dims[-2], dims[-1], bias=last_bias)]


class ProjectionHead(nn.Sequential):
    """SimCLR projection head h: ``num_layers`` Linear layers, BN + ReLU after all but the last.

    ``num_layers=2`` is SimCLR v1's Linear-BN-ReLU-Linear; 3 is SimCLR v2's "3-layer" head (the paper says
    "the same 3-layer projection head" as SimCLR, in f-MICL's experimental details); ``out_dim`` = d = 512 for vision.
    """

    def __init__(self, in_dim: int, hidden_dim: int = 2048, out_dim: int = 512, num_layers: int = 2) -> None:
        if num_layers < 1 or min(in_dim, hidden_dim, out_dim) < 1:
            raise ValueError(f"ProjectionHead needs num_layers >= 1 and positive sizes, got in_dim={in_dim}, "
                             f"hidden_dim={hidden_dim}, out_dim={out_dim}, num_layers={num_layers}")
        super().__init__(*_mlp([in_dim] + [hidden_dim] * (num_layers - 1) + [out_dim], last_bias=True))
        self.out_dim = out_dim


class Predictor(nn.Sequential):
    """MoCo v3 predictor q: Linear(dim, hidden)-BN-ReLU-Linear(hidden, dim), no biases (Chen et al. 2021)."""

    def __init__(self, dim: int = 512, hidden_dim: int = 4096) -> None:
        if min(dim, hidden_dim) < 1:
            raise ValueError(f"Predictor needs positive sizes, got dim={dim}, hidden_dim={hidden_dim}")
        super().__init__(*_mlp([dim, hidden_dim, dim], last_bias=False))


@torch.no_grad()
def momentum_update(online: nn.Module, target: nn.Module, m: float) -> None:
    """EMA of the parameters in place: ``target <- m * target + (1 - m) * online`` (MoCo's key encoder).

    ``m = 0`` copies ``online``, ``m = 1`` keeps ``target``. Buffers (BN statistics) are left to the
    target's own forward passes, as in MoCo.
    """
    if not 0.0 <= m <= 1.0:
        raise ValueError(f"momentum m must lie in [0, 1], got {m}")
    src, dst = list(online.parameters()), list(target.parameters())
    if len(src) != len(dst) or any(a.shape != b.shape for a, b in zip(src, dst)):
        raise ValueError("momentum_update needs two modules with the same parameter shapes")
    torch._foreach_lerp_(dst, src, 1.0 - m)
