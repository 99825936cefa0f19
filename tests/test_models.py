"""fmicl_core.models: encoder shapes, the CIFAR stem, heads, and the momentum (EMA) update."""

import copy

import pytest
import torch
from torch import nn

from fmicl_core.models import Predictor, ProjectionHead, encoder_names, make_encoder, momentum_update


@pytest.mark.parametrize("name,channels,size,dim", [("small_cnn", 1, 8, 128), ("mlp", 1, 8, 512),
                                                    ("resnet18", 3, 16, 512), ("resnet50", 3, 16, 2048)])
def test_encoder_feature_shapes(name, channels, size, dim):
    torch.manual_seed(0)
    net = make_encoder(name, channels).eval()
    assert net.feature_dim == dim
    with torch.no_grad():
        out = net(torch.randn(2, channels, size, size))
    assert out.shape == (2, dim) and torch.isfinite(out).all()


def test_small_cnn_width():
    net = make_encoder("small_cnn", 1, width=8)
    assert net.feature_dim == 32 and net(torch.zeros(3, 1, 8, 8)).shape == (3, 32)
    convs = [m.out_channels for m in net.modules() if isinstance(m, nn.Conv2d)]
    assert convs == [8, 16, 32]


@pytest.mark.parametrize("name, channels, size, dim, tokens", [("vit_tiny", 1, 8, 192, 16),
                                                                ("vit_small", 3, 32, 384, 64)])
def test_vit_encoder(name, channels, size, dim, tokens):
    torch.manual_seed(0)
    net = make_encoder(name, channels, image_size=size).eval()
    assert net.feature_dim == dim and net.vit.seq_length == tokens + 1  # patches and the class token
    assert not any(p.requires_grad for p in net.vit.conv_proj.parameters())  # MoCo v3's frozen patch projection
    with torch.no_grad():
        out = net(torch.randn(2, channels, size, size))
    assert out.shape == (2, dim) and torch.isfinite(out).all()
    with pytest.raises(ValueError, match="patch_size=3 must divide image_size=32"):
        make_encoder(name, channels, image_size=32, patch_size=3)


def test_encoder_names_and_errors():
    assert encoder_names() == ["small_cnn", "resnet18", "resnet50", "mlp", "vit_tiny", "vit_small"]
    with pytest.raises(ValueError, match="unknown encoder 'vit'.*small_cnn.*resnet18"):
        make_encoder("vit", 3)
    with pytest.raises(ValueError, match="image_size=32"):
        make_encoder("mlp", 3)(torch.zeros(2, 3, 32, 32))
    with pytest.raises(ValueError, match="stem"):
        make_encoder("resnet18", 3, stem="tiny")
    with pytest.raises(ValueError, match="option"):
        make_encoder("small_cnn", 1, stem="cifar")


def _layer4_size(net, size):
    seen = []

    def hook(module, inputs, output):
        seen.append(output.shape[-1])

    net.layer4.register_forward_hook(hook)
    with torch.no_grad():
        net.eval()(torch.zeros(1, 3, size, size))
    return seen[0]


def test_cifar_stem_is_3x3_stride_1_without_maxpool():
    net = make_encoder("resnet18", 3)
    conv1 = net.conv1
    assert (conv1.kernel_size, conv1.stride, conv1.padding, conv1.in_channels) == ((3, 3), (1, 1), (1, 1), 3)
    assert isinstance(net.maxpool, nn.Identity) and isinstance(net.fc, nn.Identity)
    assert not any(isinstance(m, nn.MaxPool2d) for m in net.modules())
    # 32x32 input: the CIFAR stem keeps 4x4 maps in the last stage, the ImageNet stem only 1x1
    assert _layer4_size(net, 32) == 4
    imagenet = make_encoder("resnet18", 3, stem="imagenet")
    assert imagenet.conv1.kernel_size == (7, 7) and imagenet.conv1.stride == (2, 2)
    assert _layer4_size(imagenet, 32) == 1
    assert make_encoder("resnet18", 1).conv1.in_channels == 1


def test_channels_last_gives_the_same_features():
    torch.manual_seed(0)
    net = make_encoder("small_cnn", 3).eval()
    fast = make_encoder("small_cnn", 3, channels_last=True).eval()
    fast.load_state_dict(net.state_dict())
    assert fast.body[0].weight.is_contiguous(memory_format=torch.channels_last)
    x = torch.randn(4, 3, 8, 8)
    with torch.no_grad():
        assert torch.allclose(net(x), fast(x.contiguous(memory_format=torch.channels_last)), atol=1e-4)


def test_projection_head_and_predictor_layers():
    head = ProjectionHead(128, 256, 64, num_layers=3)
    linears = [m for m in head if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(128, 256), (256, 256), (256, 64)]
    assert sum(isinstance(m, nn.BatchNorm1d) for m in head) == 2 and isinstance(head[-1], nn.Linear)
    assert head(torch.randn(4, 128)).shape == (4, 64) and ProjectionHead(512).out_dim == 512
    pred = Predictor(64, 32)
    assert [type(m) for m in pred] == [nn.Linear, nn.BatchNorm1d, nn.ReLU, nn.Linear]
    assert pred[0].bias is None and pred[3].bias is None and pred(torch.randn(4, 64)).shape == (4, 64)
    with pytest.raises(ValueError, match="num_layers"):
        ProjectionHead(8, 8, 8, num_layers=0)


def test_momentum_update_is_the_ema():
    torch.manual_seed(0)
    online, target = ProjectionHead(6, 5, 4), ProjectionHead(6, 5, 4)
    before = copy.deepcopy(target)
    momentum_update(online, target, 1.0)
    assert all(torch.equal(a, b) for a, b in zip(target.parameters(), before.parameters()))
    momentum_update(online, target, 0.9)
    for t, b, o in zip(target.parameters(), before.parameters(), online.parameters()):
        assert torch.allclose(t, 0.9 * b + 0.1 * o, atol=1e-7)
        assert not t.requires_grad or t.grad is None
    target[1].running_mean.fill_(3.0)
    momentum_update(online, target, 0.0)
    assert all(torch.equal(a, b) for a, b in zip(target.parameters(), online.parameters()))
    assert torch.all(target[1].running_mean == 3.0)  # buffers are the target's own
    with pytest.raises(ValueError, match="\\[0, 1\\]"):
        momentum_update(online, target, 1.5)
    with pytest.raises(ValueError, match="same parameter shapes"):
        momentum_update(online, ProjectionHead(6, 5, 3), 0.5)
