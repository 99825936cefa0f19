"""fmicl_core.augment: the batched sampler draws torchvision's distributions, and applies its formulas."""

import dataclasses
import math

import numpy as np
import pytest
import torch
from scipy import stats
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as TF

from fmicl_core.augment import RECIPES, make_augment, torchvision_transform

N = 2500  # parameter draws per distribution
KS_P = 1e-3  # a sampler that matches torchvision fails this with probability 1e-3


def _ours(recipe, size, channels=3, seed=0, batch=N, **overrides):
    aug = make_augment(recipe, size, channels, **overrides)
    return aug.sample(batch, size, size, torch.Generator().manual_seed(seed))


def _tv_crops(recipe, size):
    r = RECIPES[recipe]
    crop = v2.RandomResizedCrop(size, scale=r.crop_scale, ratio=r.crop_ratio)
    image = torch.zeros(1, size, size, dtype=torch.uint8)
    torch.manual_seed(1)
    boxes = [crop.make_params([image]) for _ in range(N)]
    return {k: np.array([b[k] for b in boxes]) for k in ("top", "left", "height", "width")}


@pytest.mark.parametrize("recipe,size", [("simclr", 32), ("digits", 8), ("stl10", 96)])
def test_crop_boxes_have_torchvision_distribution(recipe, size):
    p = _ours(recipe, size)
    ours = {k: getattr(p, k).numpy() for k in ("top", "left", "height", "width")}
    tv = _tv_crops(recipe, size)

    def summary(b):
        area = b["height"] * b["width"] / size**2
        return area, np.log(b["width"] / b["height"]), b["top"] / (size - b["height"] + 1)

    for mine, ref in zip(summary(ours), summary(tv)):
        assert stats.ks_2samp(mine, ref).pvalue > KS_P
        assert abs(np.median(mine) - np.median(ref)) < 0.05 * (np.ptp(ref) + 1e-9) + 1e-9
    assert (ours["height"] <= size).all() and (ours["top"] + ours["height"] <= size).all()
    assert (ours["left"] + ours["width"] <= size).all() and ours["width"].min() >= 1


def test_crop_ks_test_has_power():
    """The same test rejects a sampler with another scale range, so the comparison above can fail."""
    p = _ours("simclr", 32, crop_scale=(0.2, 1.0))
    tv = _tv_crops("simclr", 32)
    assert stats.ks_2samp((p.height * p.width).numpy(), tv["height"] * tv["width"]).pvalue < 1e-6


def test_crop_fallback_is_torchvision_central_crop():
    # ratio 3..4 on a square image at scale >= 0.9: every try is too wide, so the central fallback is used
    p = _ours("simclr", 8, batch=50, crop_scale=(0.9, 1.0), crop_ratio=(3.0, 4.0))
    torch.manual_seed(0)
    ref = v2.RandomResizedCrop(8, scale=(0.9, 1.0), ratio=(3.0, 4.0)).make_params([torch.zeros(1, 8, 8)])
    for k in ("top", "left", "height", "width"):
        assert set(getattr(p, k).tolist()) == {ref[k]}


def _binomial_ok(rate, p, n=N):
    return abs(rate - p) <= 4.5 * math.sqrt(max(p * (1 - p), 1e-12) / n)


def test_flip_jitter_grayscale_blur_rates():
    p = _ours("stl10", 32)
    r = RECIPES["stl10"]
    for coin, prob in ((p.flip, r.flip_p), (p.jitter, r.jitter_p), (p.grayscale, r.grayscale_p), (p.blur, r.blur_p)):
        assert _binomial_ok(coin.float().mean().item(), prob)
    # the coins are independent of each other (no shared uniform): joint rate = product
    assert _binomial_ok((p.flip & p.jitter).float().mean().item(), r.flip_p * r.jitter_p)
    digits = _ours("digits", 8, channels=1)
    assert not digits.flip.any() and not digits.grayscale.any()


def _find(transform, cls):
    found = [t for t in transform.transforms if isinstance(t, cls)]
    found += [u for t in transform.transforms if isinstance(t, v2.RandomApply) for u in t.transforms
              if isinstance(u, cls)]
    return found


def test_torchvision_pipeline_uses_the_same_probabilities():
    tv = torchvision_transform("stl10", 96, 3)
    r = RECIPES["stl10"]
    applies = {type(t.transforms[0]): t.p for t in tv.transforms if isinstance(t, v2.RandomApply)}
    assert applies == {v2.ColorJitter: r.jitter_p, v2.GaussianBlur: r.blur_p}
    assert _find(tv, v2.RandomHorizontalFlip)[0].p == r.flip_p
    assert _find(tv, v2.RandomGrayscale)[0].p == r.grayscale_p
    # torchvision's own flip rate, measured on an asymmetric image, agrees with the recipe
    image = torch.arange(4, dtype=torch.uint8).view(1, 1, 4)
    flip = _find(tv, v2.RandomHorizontalFlip)[0]
    torch.manual_seed(0)
    rate = np.mean([flip(image)[0, 0, 0].item() == 3 for _ in range(N)])
    assert _binomial_ok(rate, r.flip_p)
    assert [type(t) for t in torchvision_transform("digits", 8, 1).transforms] == [
        v2.RandomResizedCrop, v2.RandomApply, v2.ToDtype, v2.Normalize]


def test_jitter_factors_order_and_blur_sigma_match_torchvision():
    p = _ours("stl10", 32)
    tv = torchvision_transform("stl10", 32, 3)
    jitter, blur = _find(tv, v2.ColorJitter)[0], _find(tv, v2.GaussianBlur)[0]
    torch.manual_seed(2)
    draws = [jitter.make_params([torch.zeros(3, 4, 4)]) for _ in range(N)]
    keys = ("brightness_factor", "contrast_factor", "saturation_factor", "hue_factor")
    for col, key in enumerate(keys):
        ref = np.array([d[key] for d in draws])
        assert stats.ks_2samp(p.factors[:, col].numpy(), ref).pvalue > KS_P
    assert p.factors[:, :3].min() >= 0.6 and p.factors[:, :3].max() <= 1.4 and p.factors[:, 3].abs().max() <= 0.1
    # the order is a uniform random permutation of the 4 ops, like torchvision's randperm(4)
    def perm_counts(perms):
        codes = [int("".join(map(str, q))) for q in perms]
        return np.unique(codes, return_counts=True)

    codes, mine = perm_counts(p.order.tolist())
    ref_codes, ref = perm_counts([d["fn_idx"].tolist() for d in draws])
    assert len(codes) == 24 and np.array_equal(codes, ref_codes)
    assert stats.chi2_contingency(np.stack([mine, ref])).pvalue > KS_P
    sigmas = [blur.make_params([torch.zeros(3, 4, 4)])["sigma"][0] for _ in range(N)]
    assert stats.ks_2samp(p.sigma.numpy(), sigmas).pvalue > KS_P


def _torchvision_apply(image: torch.Tensor, aug, p, i: int) -> torch.Tensor:
    """torchvision's functional ops with our parameters of sample i, on a float image in [0, 1]."""
    r, size = aug.recipe, aug.image_size
    x = TF.resized_crop(image.float() / 255, int(p.top[i]), int(p.left[i]), int(p.height[i]), int(p.width[i]),
                        [size, size], antialias=True)
    if p.flip[i]:
        x = TF.horizontal_flip(x)
    if p.jitter[i]:
        ops = (TF.adjust_brightness, TF.adjust_contrast, TF.adjust_saturation, TF.adjust_hue)
        for op in p.order[i].tolist():
            if op < 3 and r.jitter[op] > 0 or op == 3 and r.jitter[3] > 0:
                x = ops[op](x, float(p.factors[i, op]))
    if p.grayscale[i] and x.shape[0] == 3:
        x = TF.rgb_to_grayscale(x, num_output_channels=3)
    if p.blur[i]:
        k = r.kernel_size(size)
        x = TF.gaussian_blur(x, [k, k], [float(p.sigma[i])] * 2)
    mean, std = r.stats(x.shape[0])
    return TF.normalize(x, mean, std)


@pytest.mark.parametrize("recipe,shape,size", [("stl10", (3, 24, 20), 24), ("simclr", (3, 32, 32), 32),
                                               ("digits", (1, 8, 8), 8), ("digits", (1, 8, 8), 16)])
def test_outputs_equal_torchvision_functional_with_the_same_parameters(recipe, shape, size):
    images = torch.randint(0, 256, (32, *shape), generator=torch.Generator().manual_seed(3), dtype=torch.uint8)
    aug = make_augment(recipe, size, shape[0])
    p = aug.sample(32, shape[1], shape[2], torch.Generator().manual_seed(5))
    out = aug.apply(images, p)
    assert out.shape == (32, shape[0], size, size) and out.dtype == torch.float32
    ref = torch.stack([_torchvision_apply(images[i], aug, p, i) for i in range(32)])
    # float32 rounding only: measured max |difference| 7e-6 (normalised units); a wrong op order gives > 0.3
    assert torch.allclose(out, ref, atol=5e-5, rtol=0)
    if recipe == "stl10":
        assert p.flip.any() and p.jitter.any() and p.grayscale.any() and p.blur.any()
        # no sample drawing an op leaves the op out (and does not fail on an empty selection)
        off = dataclasses.replace(p, blur=torch.zeros_like(p.blur), jitter=torch.zeros_like(p.jitter))
        ref = torch.stack([_torchvision_apply(images[i], aug, off, i) for i in range(4)])
        assert torch.allclose(aug.apply(images[:4], _first(off, 4)), ref, atol=5e-5, rtol=0)


def _first(p, n):
    return type(p)(**{f.name: getattr(p, f.name)[:n] for f in dataclasses.fields(p)})


def test_identity_when_every_random_op_is_off():
    images = torch.randint(0, 256, (16, 3, 32, 32), generator=torch.Generator().manual_seed(0), dtype=torch.uint8)
    aug = make_augment("stl10", 32, 3, crop_scale=(1.0, 1.0), crop_ratio=(1.0, 1.0), flip_p=0.0, jitter_p=0.0,
                       grayscale_p=0.0, blur_p=0.0)
    out = aug(images, torch.Generator().manual_seed(0))
    mean, std = RECIPES["stl10"].stats(3)
    expect = (images.float() / 255 - torch.tensor(mean).view(1, 3, 1, 1)) / torch.tensor(std).view(1, 3, 1, 1)
    assert torch.allclose(out, expect, atol=1e-6, rtol=0)


def test_range_determinism_and_per_sample_randomness():
    image = torch.randint(0, 256, (1, 3, 32, 32), generator=torch.Generator().manual_seed(0), dtype=torch.uint8)
    batch = image.expand(16, 3, 32, 32).contiguous()
    aug = make_augment("simclr", 32, 3)
    a = aug(batch, torch.Generator().manual_seed(7))
    b = aug(batch, torch.Generator().manual_seed(7))
    c = aug(batch, torch.Generator().manual_seed(8))
    assert torch.equal(a, b) and not torch.equal(a, c)
    # one image repeated 16 times: every view differs from every other (per-sample parameters)
    flat = a.flatten(1)
    assert torch.cdist(flat, flat).add(torch.eye(16) * 1e9).min() > 1e-3
    mean, std = (torch.tensor(v).view(1, 3, 1, 1) for v in RECIPES["simclr"].stats(3))
    pixels = a * std + mean
    assert pixels.min() >= -1e-6 and pixels.max() <= 1 + 1e-6


def test_bad_inputs():
    aug = make_augment("digits", 8, 1)
    with pytest.raises(ValueError, match="uint8"):
        aug(torch.zeros(2, 1, 8, 8), torch.Generator())
    with pytest.raises(ValueError, match="uint8 images \\(B, 1"):
        aug(torch.zeros(2, 3, 8, 8, dtype=torch.uint8), torch.Generator())
    with pytest.raises(ValueError, match="unknown augmentation recipe 'autoaugment'.*digits"):
        make_augment("autoaugment", 32, 3)
    with pytest.raises(ValueError, match="probabilities.*flip_p"):
        make_augment("simclr", 32, 3, flip_p=1.5)
    with pytest.raises(ValueError, match="unknown recipe field"):
        torchvision_transform("simclr", 32, 3, solarize_p=0.2)


def test_fixed_shape_path_of_the_gpu_equals_the_cpu_path(monkeypatch):
    """On the GPU (and under torch.compile) hue and blur run on every sample and are then selected; on the
    CPU only the selected samples are computed. Both give the same views."""
    images = torch.randint(0, 256, (32, 3, 16, 16), generator=torch.Generator().manual_seed(0), dtype=torch.uint8)
    aug = make_augment("stl10", 16, 3)
    p = aug.sample(32, 16, 16, torch.Generator().manual_seed(1))
    cpu_path = aug.apply(images, p)
    monkeypatch.setattr(torch.compiler, "is_compiling", lambda: True)
    assert torch.allclose(aug.apply(images, p), cpu_path, atol=1e-6, rtol=0)
