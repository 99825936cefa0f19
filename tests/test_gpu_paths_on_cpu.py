"""The trainer's GPU recipe executed on the CPU, where PyTorch runs the same code: bf16 autocast,
the channels-last memory format, and ``torch.compile`` (inductor) of the training step, the
objective and the batched augmentation, each checked against the eager float32 computation. Only
CUDA kernels and nccl remain unrun without a GPU (``benchmarks/gpu_check.py`` runs them).

Tolerances: bf16 keeps 8 bits of mantissa, so a bf16 loss agrees with float32 to about 1e-2
relative. The update of one SGD step goes back through three convolution + BatchNorm layers in
bf16, and the f-MICL gradient is a difference of large positive and negative terms (alpha = 40), so
its direction agrees with float32 to a cosine similarity above 0.97 (measured: 0.975-0.99 per layer
for KL, 0.985-0.999 for InfoNCE; the head's last layer, computed from the float32 loss, to 1e-4).
The channels-last layout changes no value (cosine 1 to 1e-6). Compiled float32 agrees with eager to
float32 rounding (1e-4 relative after a step)."""

import pytest
import torch

from fmicl_core.augment import make_augment
from fmicl_core.losses import fmicl_loss
from fmicl_core.train import _Run, _step_model, training_step
from tiny_runs import tiny

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def views():
    g = torch.Generator().manual_seed(0)
    return torch.randn(2, 16, 3, 8, 8, generator=g).unbind(0)


def one_step(tmp_path, name, amp=False, channels_last=False, **kw):
    """The loss and the weight update of one training step of a fresh run (same seed: same init)."""
    run = _Run(tiny(tmp_path, name=name, synthetic_shape="3,8,8", **kw))
    run.amp, run.channels_last = amp, channels_last
    if channels_last:
        run.model.to(memory_format=torch.channels_last)
    before = {k: v.detach().clone() for k, v in run.model.named_parameters()}
    loss, _ = training_step(run, _step_model(run), *views(), lr=0.1, progress=0.1)
    update = torch.cat([(p.detach() - before[k]).flatten() for k, p in run.model.named_parameters()])
    return loss, update, run


@pytest.mark.parametrize("method", ["simclr", "moco", "mocov3"])
def test_bf16_autocast_and_channels_last_match_float32(tmp_path, method):
    ref_loss, ref_update, _ = one_step(tmp_path, "fp32", method=method)
    loss, update, run = one_step(tmp_path, "bf16", amp=True, channels_last=True, method=method)
    assert run.model.online[0].body[0].weight.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(loss, ref_loss, rtol=2e-2, atol=1e-3)
    assert torch.nn.functional.cosine_similarity(update, ref_update, dim=0) > 0.97


@pytest.mark.slow
def test_compiled_training_step_matches_eager(tmp_path):
    ref_loss, ref_update, _ = one_step(tmp_path, "eager")
    loss, update, _ = one_step(tmp_path, "compiled", compile=True)
    torch.testing.assert_close(loss, ref_loss, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(update, ref_update, rtol=1e-4, atol=1e-6)


@pytest.mark.slow
@pytest.mark.parametrize("objective", ["kl", "neyman"])
def test_compiled_objective_matches_eager(objective):
    z1, z2 = torch.randn(2, 64, 32, generator=torch.Generator().manual_seed(1)).unbind(0)
    grads = []
    for fn in (fmicl_loss, torch.compile(fmicl_loss)):
        a, b = z1.clone().requires_grad_(), z2.clone().requires_grad_()
        loss = fn(a, b, objective)
        loss.backward()
        grads.append((loss.detach(), a.grad, b.grad))
    for eager, compiled in zip(*grads):
        torch.testing.assert_close(compiled, eager, rtol=1e-4, atol=1e-6)


@pytest.mark.slow
def test_compiled_batched_augmentation_matches_eager():
    images = torch.randint(0, 256, (32, 3, 16, 16), dtype=torch.uint8, generator=torch.Generator().manual_seed(2))
    outs = []
    for compile in (False, True):
        augment = make_augment("simclr", 16, 3, compile=compile)
        outs.append(augment(images, torch.Generator().manual_seed(3)))
    torch.testing.assert_close(outs[1], outs[0], rtol=1e-4, atol=1e-4)
