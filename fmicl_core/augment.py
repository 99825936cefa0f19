"""Batched augmentations with per-sample random parameters, on the images' device.

The positive pairs of f-MICL (Lu et al. 2023, arXiv:2402.10150, Figure 2: two augmentations of one
image, from the standard SimCLR/MoCo set of augmentations) are drawn here for a whole batch at once. torchvision's
transforms applied to a ``(B, C, H, W)`` tensor use one random draw for the whole batch, so the usual
remedy is a per-sample CPU DataLoader; :class:`BatchAugment` instead samples every parameter per image
(:meth:`BatchAugment.sample`) and applies them with batched tensor ops on the device
(:meth:`BatchAugment.apply`), reproducing the distributions of the torchvision v2 pipeline that
:func:`torchvision_transform` builds from the same :class:`Recipe`:

1. ``RandomResizedCrop``: torchvision's rejection sampler (10 tries of area fraction ~ U(scale) and
   log aspect ratio ~ U(log ratio), integer box, uniform integer offset, else the central fallback),
   vectorised; the crop is resized by separable bilinear interpolation with half-pixel centres and
   clamping at the crop border, exactly the sampling of ``F.interpolate(align_corners=False)``.
2. ``RandomHorizontalFlip``: folded into the column indices of the crop.
3. ``RandomApply(ColorJitter(b, c, s, h), p)``: brightness, contrast, saturation and hue in a random
   order drawn per sample (as torchvision draws ``randperm(4)`` per call); the formulas are
   torchvision's (contrast blends with the mean of the luma image, saturation with the luma image,
   hue rotates H in HSV). Saturation and hue leave 1-channel images unchanged, as in torchvision.
4. ``RandomGrayscale(p)`` (3 channels: luma 0.2989 R + 0.587 G + 0.114 B in every channel).
5. ``RandomApply(GaussianBlur(k, sigma ~ U(sigma range)), p)`` with reflect padding (stl10 recipe).
6. Scale to [0, 1] and normalise with the recipe's mean/std.

Given the same parameters, :meth:`BatchAugment.apply` equals torchvision's functional ops on the float
image to float32 rounding (max 7e-6 in the tests); on a uint8 input torchvision also rounds or truncates
to uint8 after each step, here everything after the crop stays in float32.
Determinism: parameters are drawn from the given ``torch.Generator`` on its device, then moved to the
images' device. A generator on the images' device keeps the whole step free of host synchronisation;
a seeded CPU generator gives the same parameters on any device, and bit-identical outputs on the CPU.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace
from typing import Callable

import torch
from torch import Tensor
from torch.nn import functional as F

__all__ = ["Recipe", "RECIPES", "AugmentParams", "BatchAugment", "make_augment", "torchvision_transform",
           "recipe_names"]

_LUMA = (0.2989, 0.587, 0.114)


@dataclass(frozen=True)
class Recipe:
    """Parameters of one augmentation recipe (shared by the batched and the torchvision pipelines)."""

    crop_scale: tuple[float, float] = (0.08, 1.0)
    crop_ratio: tuple[float, float] = (3 / 4, 4 / 3)
    flip_p: float = 0.5
    jitter: tuple[float, float, float, float] = (0.4, 0.4, 0.4, 0.1)
    """Brightness, contrast, saturation, hue strengths (factors ~ U(1 -/+ s), hue ~ U(-h, h))."""
    jitter_p: float = 0.8
    grayscale_p: float = 0.2
    blur_p: float = 0.0
    blur_sigma: tuple[float, float] = (0.1, 2.0)
    blur_kernel_fraction: float = 0.1
    """Kernel size = this fraction of the image size, made odd (SimCLR: 10 %)."""
    mean: tuple[float, ...] = (0.4914, 0.4822, 0.4465)
    std: tuple[float, ...] = (0.2470, 0.2435, 0.2616)

    def __post_init__(self) -> None:
        probs = dict(flip_p=self.flip_p, jitter_p=self.jitter_p, grayscale_p=self.grayscale_p, blur_p=self.blur_p)
        bad = {k: v for k, v in probs.items() if not 0.0 <= v <= 1.0}
        if bad:
            raise ValueError(f"augmentation probabilities must lie in [0, 1], got {bad}")
        lo, hi = self.crop_scale
        if not 0.0 < lo <= hi <= 1.0 or not 0.0 < self.crop_ratio[0] <= self.crop_ratio[1]:
            raise ValueError(f"need 0 < crop_scale[0] <= crop_scale[1] <= 1 and 0 < ratio[0] <= ratio[1], got "
                             f"crop_scale={self.crop_scale}, crop_ratio={self.crop_ratio}")
        if min(self.jitter) < 0 or self.jitter[3] > 0.5:
            raise ValueError(f"jitter strengths must be >= 0 with hue <= 0.5, got {self.jitter}")
        if not 0.0 < self.blur_sigma[0] <= self.blur_sigma[1]:
            raise ValueError(f"blur_sigma must satisfy 0 < min <= max, got {self.blur_sigma}")

    def kernel_size(self, image_size: int) -> int:
        k = max(int(self.blur_kernel_fraction * image_size), 1)
        return k if k % 2 else k + 1

    def stats(self, channels: int) -> tuple[list[float], list[float]]:
        """Normalisation mean/std for ``channels`` (one value is repeated, RGB values averaged for 1)."""
        def fit(v: tuple[float, ...]) -> list[float]:
            if len(v) == channels:
                return list(v)
            return [sum(v) / len(v)] * channels

        return fit(self.mean), fit(self.std)


RECIPES: dict[str, Recipe] = {
    # 8x8 grayscale digits: the strokes fill most of the 8x8 frame, so the crop keeps at least half of it
    # (scale 0.5-1: a shift of up to ~2 pixels and a mild zoom); no flip, since a mirrored 2, 3, 5, 7 or 9
    # is not the same digit; brightness/contrast jitter as SimCLR; saturation, hue, grayscale and blur
    # have no meaning or no room on 1-channel 8x8 images.
    "digits": Recipe(crop_scale=(0.5, 1.0), flip_p=0.0, jitter=(0.4, 0.4, 0.0, 0.0), grayscale_p=0.0,
                     mean=(0.3053,), std=(0.3759,)),
    # SimCLR (Chen et al. 2020, appendix A) on CIFAR: no blur at 32x32, CIFAR-10 statistics.
    "simclr": Recipe(),
    # SimCLR with Gaussian blur (p = 0.5, sigma ~ U(0.1, 2), kernel 10 % of the image) for 96x96 STL-10.
    "stl10": Recipe(blur_p=0.5, mean=(0.4408, 0.4279, 0.3867), std=(0.2682, 0.2610, 0.2686)),
}


def recipe_names() -> list[str]:
    return list(RECIPES)


def _recipe(name: str, overrides: dict) -> Recipe:
    if name not in RECIPES:
        raise ValueError(f"unknown augmentation recipe {name!r}; choose one of {recipe_names()}")
    allowed = [f.name for f in fields(Recipe)]
    unknown = sorted(set(overrides) - set(allowed))
    if unknown:
        raise ValueError(f"unknown recipe field(s) {unknown}; allowed: {allowed}")
    return replace(RECIPES[name], **overrides)


@dataclass(frozen=True)
class AugmentParams:
    """Per-sample parameters of one batch (each field has the batch size as first dimension)."""

    top: Tensor  # int64, crop box in the input image
    left: Tensor
    height: Tensor
    width: Tensor
    flip: Tensor  # bool
    jitter: Tensor  # bool: colour jitter applied
    order: Tensor  # int64 (B, 4): 0 brightness, 1 contrast, 2 saturation, 3 hue
    factors: Tensor  # float32 (B, 4): brightness, contrast, saturation factors and hue shift
    grayscale: Tensor  # bool
    blur: Tensor  # bool
    sigma: Tensor  # float32

    def to(self, device: torch.device) -> AugmentParams:
        return AugmentParams(**{f.name: getattr(self, f.name).to(device, non_blocking=True) for f in fields(self)})


def _uniform(lo: float, hi: float, shape: tuple[int, ...], gen: torch.Generator | None, device: torch.device,
             dtype: torch.dtype = torch.float32) -> Tensor:
    return lo + (hi - lo) * torch.rand(shape, generator=gen, device=device, dtype=dtype)


def _crop_boxes(recipe: Recipe, batch: int, height: int, width: int, gen: torch.Generator | None,
                device: torch.device) -> tuple:
    """torchvision's ``RandomResizedCrop.make_params`` for ``batch`` images at once (float64 maths).

    ``w = sqrt(area * aspect) = sqrt(area) exp(log_ratio / 2)``, ``h = sqrt(area) / exp(log_ratio / 2)``,
    rounded half up (torchvision: half to even; the two differ on a set of probability zero). Few
    transcendental ops: on a busy CPU each costs a thread wake-up."""
    tries = 10
    side = _uniform(*recipe.crop_scale, (batch, tries), gen, device, torch.float64).mul_(height * width).sqrt_()
    log_ratio = _uniform(math.log(recipe.crop_ratio[0]), math.log(recipe.crop_ratio[1]), (batch, tries), gen,
                         device, torch.float64)
    stretch = log_ratio.mul_(0.5).exp_()
    w = (side * stretch + 0.5).long()
    h = (side / stretch + 0.5).long()
    ok = (w > 0) & (w <= width) & (h > 0) & (h <= height)
    first = ok.long().argmax(dim=1, keepdim=True)
    found = ok.any(dim=1)
    # central fallback (torchvision, after 10 failed tries)
    in_ratio = width / height
    if in_ratio < recipe.crop_ratio[0]:
        fw, fh = width, int(round(width / recipe.crop_ratio[0]))
    elif in_ratio > recipe.crop_ratio[1]:
        fw, fh = int(round(height * recipe.crop_ratio[1])), height
    else:
        fw, fh = width, height
    w = torch.where(found, w.gather(1, first)[:, 0], fw)
    h = torch.where(found, h.gather(1, first)[:, 0], fh)
    u = torch.rand((2, batch), generator=gen, device=device, dtype=torch.float64)
    top = torch.where(found, (u[0] * (height - h + 1)).long(), (height - fh) // 2)
    left = torch.where(found, (u[1] * (width - w + 1)).long(), (width - fw) // 2)
    return top, left, h, w


def _gray(x: Tensor) -> Tensor:
    """Luma image (B, 1, H, W) of float images in [0, 1] (the image itself for 1 channel)."""
    if x.shape[1] == 1:
        return x
    return x[:, 0:1].mul(_LUMA[0]).add_(x[:, 1:2], alpha=_LUMA[1]).add_(x[:, 2:3], alpha=_LUMA[2])


def _rgb_to_hsv(x: Tensor) -> Tensor:
    """torchvision's ``_rgb_to_hsv`` (Pillow's algorithm) for (B, 3, H, W) in [0, 1]."""
    r, g, _ = x.unbind(1)
    minc, maxc = torch.aminmax(x, dim=1)
    eqc = maxc == minc
    ones = torch.ones_like(maxc)
    s = (maxc - minc) / torch.where(eqc, ones, maxc)
    rc, gc, bc = ((maxc.unsqueeze(1) - x) / torch.where(eqc, ones, maxc - minc).unsqueeze(1)).unbind(1)
    is_r, is_g = maxc == r, (maxc == g) & (maxc != r)
    is_b = ~is_r & ~is_g
    h = (bc - gc) * is_r + (2.0 + rc - bc) * is_g + (4.0 + gc - rc) * is_b
    h = torch.fmod(h / 6.0 + 1.0, 1.0)
    return torch.stack((h, s, maxc), dim=1)


def _hsv_to_rgb(hsv: Tensor) -> Tensor:
    """HSV to RGB for (B, 3, H, W): ``c_n = v - v s clamp(min(k, 4 - k), 0, 1)``, ``k = (n + 6h) mod 6`` with
    n = 5, 3, 1 for R, G, B; the same values as torchvision's sector table (to float rounding), without
    its gather."""
    h, s, v = hsv[:, 0:1], hsv[:, 1:2], hsv[:, 2:3]
    n = torch.arange(5.0, 0.0, -2.0, device=hsv.device).view(1, 3, 1, 1)  # built on the device: no copy
    k = torch.remainder(n + 6.0 * h, 6.0)
    return v - v * s * torch.minimum(k, 4.0 - k).clamp(0.0, 1.0)


def _adjust_hue(x: Tensor, shift: Tensor) -> Tensor:
    hsv = _rgb_to_hsv(x)
    h = torch.remainder(hsv[:, 0:1] + shift.view(-1, 1, 1, 1), 1.0)
    return _hsv_to_rgb(torch.cat((h, hsv[:, 1:]), dim=1))


def _apply_where(mask: Tensor, fn: Callable[[Tensor, Tensor], Tensor], x: Tensor, arg: Tensor) -> Tensor:
    """``fn(x, arg)`` (``arg``: one value per sample) on the samples where ``mask`` holds. On the CPU only
    those samples are computed; on other devices all are, then selected (no host sync, fixed shapes)."""
    if x.device.type == "cpu" and not torch.compiler.is_compiling():
        if not mask.any():
            return x
        out = x.clone()
        out[mask] = fn(x[mask], arg[mask])
        return out
    return torch.where(mask.view(-1, 1, 1, 1), fn(x, arg), x)


class BatchAugment:
    """``augment(images_uint8 (B, C, H, W), generator) -> float32 (B, C, S, S)``, normalised.

    Every image gets its own crop, flip, jitter, grayscale and blur parameters; the work is a handful of
    batched tensor ops on the images' device (see the module docstring for the order and formulas).
    """

    def __init__(self, recipe: Recipe, image_size: int, channels: int, compile: bool = False) -> None:
        if image_size < 1 or channels < 1:
            raise ValueError(f"image_size and channels must be >= 1, got {image_size}, {channels}")
        self.recipe, self.image_size, self.channels = recipe, image_size, channels
        # torch.compile fuses the ~200 element-wise kernels of apply() into a few (sampling stays eager)
        self._apply = torch.compile(self.apply, dynamic=False) if compile else self.apply
        self._stats: dict[torch.device, tuple[Tensor, Tensor]] = {}

    def __repr__(self) -> str:
        return f"BatchAugment({self.recipe}, image_size={self.image_size}, channels={self.channels})"

    def sample(self, batch: int, height: int, width: int, generator: torch.Generator | None,
               device: torch.device | str = "cpu") -> AugmentParams:
        """Per-sample parameters for ``batch`` images of size ``height`` x ``width``, drawn on the
        generator's device (on ``device`` from the global RNG when ``generator`` is None)."""
        r, gen = self.recipe, generator
        device = gen.device if gen is not None else torch.device(device)
        top, left, h, w = _crop_boxes(r, batch, height, width, gen, device)
        coins = torch.rand((4, batch), generator=gen, device=device)
        b, c, s, hue = r.jitter
        factors = torch.stack([_uniform(max(0.0, 1 - b), 1 + b, (batch,), gen, device),
                               _uniform(max(0.0, 1 - c), 1 + c, (batch,), gen, device),
                               _uniform(max(0.0, 1 - s), 1 + s, (batch,), gen, device),
                               _uniform(-hue, hue, (batch,), gen, device)], dim=1)
        order = torch.rand((batch, 4), generator=gen, device=device).argsort(dim=1)
        sigma = _uniform(*r.blur_sigma, (batch,), gen, device)
        return AugmentParams(top, left, h, w, flip=coins[0] < r.flip_p, jitter=coins[1] < r.jitter_p,
                             order=order, factors=factors, grayscale=coins[2] < r.grayscale_p,
                             blur=coins[3] < r.blur_p, sigma=sigma)

    def __call__(self, images: Tensor, generator: torch.Generator | None = None) -> Tensor:
        if images.dtype != torch.uint8 or images.ndim != 4 or images.shape[1] != self.channels:
            raise ValueError(f"expected uint8 images (B, {self.channels}, H, W), got {images.dtype} "
                             f"{tuple(images.shape)}")
        params = self.sample(images.shape[0], images.shape[2], images.shape[3], generator, images.device)
        self._normalisation(images.device)  # cached before a compiled apply() reads it
        return self._apply(images, params.to(images.device))

    def apply(self, images: Tensor, p: AugmentParams) -> Tensor:
        """Apply per-sample parameters ``p`` (on the images' device) to uint8 ``images``."""
        r = self.recipe
        x = self._resized_crop(images, p)
        if r.jitter_p > 0 and max(r.jitter) > 0:
            x = self._color_jitter(x, p)
        if x.shape[1] == 3 and r.grayscale_p > 0:
            x = torch.where(p.grayscale.view(-1, 1, 1, 1), _gray(x).expand_as(x), x)
        if r.blur_p > 0:
            x = _apply_where(p.blur, self._blur, x, p.sigma)
        mean, std = self._normalisation(x.device)
        return (x - mean) / std

    def _normalisation(self, device: torch.device) -> tuple[Tensor, Tensor]:
        """Mean and std (1, C, 1, 1) on ``device``, copied there once."""
        if device not in self._stats:
            self._stats[device] = tuple(torch.tensor(v, device=device).view(1, -1, 1, 1)
                                        for v in self.recipe.stats(self.channels))
        return self._stats[device]

    def _source(self, start: Tensor, length: Tensor, flip: Tensor | None) -> tuple[Tensor, Tensor, Tensor]:
        """Bilinear source indices and weights (B, S) of one axis (``interpolate``, align_corners=False)."""
        size = self.image_size
        o = torch.arange(size, device=start.device, dtype=torch.float32).expand(start.shape[0], size)
        if flip is not None:
            o = torch.where(flip[:, None], size - 1 - o, o)
        length_f = length[:, None].float()
        src = ((o + 0.5) * (length_f / size) - 0.5).clamp(min=0.0)
        src = torch.minimum(src, length_f - 1)
        i0 = src.long()  # floor, as src >= 0
        frac = src - i0
        i1 = torch.minimum(i0 + 1, length[:, None] - 1)
        return i0 + start[:, None], i1 + start[:, None], frac

    def _resized_crop(self, images: Tensor, p: AugmentParams) -> Tensor:
        bsz, ch, _, width = images.shape
        size = self.image_size
        r0, r1, fr = self._source(p.top, p.height, None)
        c0, c1, fc = self._source(p.left, p.width, p.flip)

        def rows(idx: Tensor) -> Tensor:
            return images.gather(2, idx[:, None, :, None].expand(bsz, ch, size, width)).float()

        x = torch.lerp(rows(r0), rows(r1), fr[:, None, :, None])

        def cols(idx: Tensor) -> Tensor:
            return x.gather(3, idx[:, None, None, :].expand(bsz, ch, size, size))

        return torch.lerp(cols(c0), cols(c1), fc[:, None, None, :]) / 255.0

    def _color_jitter(self, x: Tensor, p: AugmentParams) -> Tensor:
        """Brightness/contrast/saturation (blends) and hue, each sample in its own random order."""
        # blend factor per op slot; slot 3 (hue, or no jitter at all) blends with factor 1 = identity
        table = torch.cat([p.factors[:, :3], torch.ones_like(p.factors[:, :1])], dim=1)
        do_hue = x.shape[1] == 3 and self.recipe.jitter[3] > 0
        for step in range(4):
            op = torch.where(p.jitter, p.order[:, step], 3)
            blend = table.gather(1, op[:, None]).view(-1, 1, 1, 1)
            gray = _gray(x)
            op = op.view(-1, 1, 1, 1)
            ref = torch.where(op == 1, gray.mean(dim=(1, 2, 3), keepdim=True), torch.where(op == 2, gray, 0.0))
            x = torch.lerp(ref, x, blend).clamp_(0.0, 1.0)
            if do_hue:
                x = _apply_where(p.jitter & (p.order[:, step] == 3), _adjust_hue, x, p.factors[:, 3])
        return x

    def _blur(self, x: Tensor, sigma: Tensor) -> Tensor:
        """Separable Gaussian blur, one sigma per sample, reflect padding (torchvision's kernel)."""
        bsz, ch, h, w = x.shape
        k = self.recipe.kernel_size(self.image_size)
        t = torch.arange(k, device=x.device, dtype=torch.float32) - k // 2
        kernel = torch.softmax(-(t[None, :] ** 2) / (2 * sigma[:, None] ** 2), dim=1).repeat_interleave(ch, dim=0)
        y = F.pad(x.reshape(1, bsz * ch, h, w), [k // 2] * 4, mode="reflect")
        y = F.conv2d(y, kernel.view(bsz * ch, 1, 1, k), groups=bsz * ch)
        y = F.conv2d(y, kernel.view(bsz * ch, 1, k, 1), groups=bsz * ch)
        return y.view(bsz, ch, h, w)


def make_augment(recipe: str, image_size: int, channels: int, compile: bool = False,
                 **overrides) -> BatchAugment:
    """The batched augmentation of ``recipe`` (``digits``, ``simclr``, ``stl10``); ``overrides`` replace
    :class:`Recipe` fields (e.g. ``flip_p=0``); ``compile=True`` compiles the batched ops (GPU)."""
    return BatchAugment(_recipe(recipe, overrides), image_size, channels, compile)


def torchvision_transform(recipe: str, image_size: int, channels: int, **overrides):
    """The reference per-sample ``torchvision.transforms.v2`` pipeline of the same recipe, for one uint8
    image ``(C, H, W)`` in a DataLoader (``--augment torchvision``)."""
    from torchvision.transforms import v2

    r = _recipe(recipe, overrides)
    steps = [v2.RandomResizedCrop(image_size, scale=r.crop_scale, ratio=r.crop_ratio, antialias=True)]
    if r.flip_p > 0:
        steps.append(v2.RandomHorizontalFlip(r.flip_p))
    if r.jitter_p > 0 and max(r.jitter) > 0:
        b, c, s, h = r.jitter
        steps.append(v2.RandomApply([v2.ColorJitter(b, c, s, h)], p=r.jitter_p))
    if r.grayscale_p > 0 and channels == 3:
        steps.append(v2.RandomGrayscale(r.grayscale_p))
    if r.blur_p > 0:
        steps.append(v2.RandomApply([v2.GaussianBlur(r.kernel_size(image_size), r.blur_sigma)], p=r.blur_p))
    mean, std = r.stats(channels)
    steps += [v2.ToDtype(torch.float32, scale=True), v2.Normalize(mean, std)]
    return v2.Compose(steps)
