"""The affine Gram product and the raise of low-precision logits to float32."""

import pytest
import torch

from fmicl_core.gram import affine_gram, full_precision


def test_values():
    a, b = torch.randn(3, 2), torch.randn(4, 2)
    assert torch.allclose(affine_gram(a, b, 2.0, 1.0), 2.0 * a @ b.T + 1.0)


def test_full_precision_raises_only_half_precision():
    x = torch.tensor([1.0 / 3.0], dtype=torch.float64)
    for dtype, raised in ((torch.bfloat16, torch.float32), (torch.float16, torch.float32),
                          (torch.float32, torch.float32), (torch.float64, torch.float64)):
        y = full_precision(x.to(dtype))
        assert y.dtype == raised and float(y) == float(x.to(dtype))
    same = torch.randn(2)
    assert full_precision(same) is same


def test_scale_beyond_the_dtype_is_refused():
    """A kernel width of 1e-30 gives ``2c = 1e60``: refused by name instead of a torch overflow."""
    a = torch.randn(3, 2)
    with pytest.raises(ValueError, match=r"scale=1e\+60 is not allowed; it overflows torch.float32"):
        affine_gram(a, a, 1e60)
    assert torch.isfinite(affine_gram(a.double(), a.double(), 1e60, -1e60)).all()


@pytest.mark.parametrize("a,b,needle", [
    (torch.ones(3, 2, dtype=torch.int64), torch.ones(3, 2, dtype=torch.int64), "a is a torch.int64 tensor"),
    (torch.randn(3, 2), torch.randn(3, 2, dtype=torch.float64), "b is a torch.float64 tensor"),
    (torch.randn(3, 2), torch.randn(4, 3), "b is a torch.float32 tensor of shape (4, 3)"),
    (torch.randn(3), torch.randn(3), "a is a torch.float32 tensor of shape (3,)"),
    ([[1.0]], torch.randn(1, 1), "a is a list"),
])
def test_bad_operands(a, b, needle):
    with pytest.raises(ValueError) as err:
        affine_gram(a, b)
    assert needle in str(err.value) and "\n" not in str(err.value)
