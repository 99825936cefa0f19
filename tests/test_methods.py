"""MoCo v3's InfoNCE loss is its paper's (Chen, Xie & He 2021, arXiv:2104.02057, Algorithm 1):
the symmetric cross-entropy of queries against every in-batch key, times 2 tau."""

import pytest
import torch
import torch.nn.functional as F

from fmicl_core.config import TrainConfig
from fmicl_core.methods import build_method
from fmicl_core.objective_config import ObjectiveConfig


def _algorithm_1_ctr(q, k, tau):
    """``ctr`` of MoCo v3's Algorithm 1, written out: ``CrossEntropyLoss()(logits, labels) * (2 * tau)``."""
    logits = F.normalize(q, dim=1) @ F.normalize(k, dim=1).T / tau
    return F.cross_entropy(logits, torch.arange(len(q))) * (2 * tau)


@pytest.mark.parametrize("tau", [0.2, 1.0])
def test_mocov3_infonce_is_algorithm_1_with_its_2_tau_factor(tau):
    torch.manual_seed(0)
    config = TrainConfig(method="mocov3", objective=ObjectiveConfig(name="infonce", temperature=tau),
                         encoder="small_cnn", proj_hidden=32, proj_dim=16, pred_hidden=32)
    model = build_method(config, in_channels=1, image_size=8).eval()
    x1, x2 = torch.randn(2, 12, 1, 8, 8)
    loss, estimate, keys = model(x1, x2)
    with torch.no_grad():
        q1, q2 = model.predictor(model.online(torch.cat([x1, x2]))).chunk(2)
        k1, k2 = model.target(torch.cat([x1, x2])).chunk(2)
        expected = (_algorithm_1_ctr(q1, k2, tau) + _algorithm_1_ctr(q2, k1, tau)) / 2
    torch.testing.assert_close(loss.detach(), expected)
    assert estimate is None and keys is None
