"""The symmetric fast path of the affine Gram product gives the autograd gradient of any sum of an
elementwise function of the matrix."""

import pytest
import torch

from fmicl_core.gram import affine_gram


@pytest.mark.parametrize("fn", [torch.exp, torch.sigmoid, lambda x: x**3])
def test_symmetric_path_matches_general_path(fn):
    a = torch.randn(7, 4, dtype=torch.float64, requires_grad=True)
    fast = fn(affine_gram(a, a, 0.7, -0.3)).sum()
    (g_fast,) = torch.autograd.grad(fast, a)
    b = a.detach().clone().requires_grad_(True)
    slow = fn(affine_gram(b, b.clone(), 0.7, -0.3)).sum()  # distinct tensors: general addmm path
    (g_slow,) = torch.autograd.grad(slow, b)
    assert torch.allclose(fast, slow)
    assert torch.allclose(g_fast, g_slow, rtol=1e-12)


def test_values():
    a, b = torch.randn(3, 2), torch.randn(4, 2)
    assert torch.allclose(affine_gram(a, b, 2.0, 1.0), 2.0 * a @ b.T + 1.0)
