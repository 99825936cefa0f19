"""The kNN monitor and the linear probe against hand-computed votes and known answers."""

import math

import numpy as np
import pytest
import torch

from fmicl_core.evaluate import ProbeProtocol, knn_accuracy, knn_scores, linear_probe

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def clusters(n_per_class: int, classes: int, dim: int, spread: float, seed: int):
    """Gaussian clusters around orthogonal unit means (separable for small ``spread``)."""
    rng = np.random.default_rng(seed)
    means = np.eye(dim)[:classes] * 3.0
    y = np.repeat(np.arange(classes), n_per_class)
    x = means[y] + spread * rng.standard_normal((len(y), dim))
    return x.astype(np.float32), y


def test_knn_separable_clusters_is_perfect():
    xtr, ytr = clusters(50, 4, 8, 0.1, 0)
    xte, yte = clusters(20, 4, 8, 0.1, 1)
    assert knn_accuracy(xtr, ytr, xte, yte, k=200, t=0.1) == 1.0


def test_weighted_vote_by_hand():
    # one neighbour of class 0 at cosine 1, two of class 1 at cosine 0.8
    c, s = 0.8, math.sqrt(1 - 0.8**2)
    train = torch.tensor([[1.0, 0.0], [c, s], [c, -s], [-1.0, 0.0]])
    labels = torch.tensor([0, 1, 1, 0])
    test = torch.tensor([[2.0, 0.0]])  # normalised inside: cosine is scale-free
    scores = knn_scores(train, labels, test, k=3, t=1.0)
    torch.testing.assert_close(scores, torch.tensor([[math.e, 2 * math.exp(0.8)]]))
    # t = 1: the two class-1 votes outweigh (2 e^0.8 = 4.45 > e = 2.72); t = 0.1: e^10 > 2 e^8
    assert knn_accuracy(train, labels, test, torch.tensor([1]), k=3, t=1.0) == 1.0
    assert knn_accuracy(train, labels, test, torch.tensor([0]), k=3, t=0.1) == 1.0
    # k = 1 is the nearest neighbour only
    torch.testing.assert_close(knn_scores(train, labels, test, k=1, t=0.5),
                               torch.tensor([[math.exp(2.0), 0.0]]))


def test_k_larger_than_train_set_uses_all():
    train = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8]])
    labels = torch.tensor([0, 1, 1])
    test = torch.tensor([[1.0, 0.0]])
    scores = knn_scores(train, labels, test, k=200, t=1.0)
    torch.testing.assert_close(scores, torch.tensor([[math.e, 1.0 + math.exp(0.6)]]))


def test_knn_rejects_bad_input():
    x = torch.randn(5, 3)
    with pytest.raises(ValueError, match="k=0"):
        knn_scores(x, torch.zeros(5, dtype=torch.long), x, k=0)
    y = torch.zeros(5, dtype=torch.long)
    with pytest.raises(ValueError, match="NaN"):
        knn_accuracy(x * float("nan"), y, x, y)
    with pytest.raises(ValueError, match="dimension"):
        knn_accuracy(x, y, torch.randn(5, 4), y)
    with pytest.raises(ValueError, match="integer class labels"):
        linear_probe(x, y.float(), x, y)


def test_linear_probe_separable_is_high():
    xtr, ytr = clusters(100, 5, 16, 0.3, 0)
    xte, yte = clusters(40, 5, 16, 0.3, 1)
    assert linear_probe(xtr, ytr, xte, yte, ProbeProtocol(max_iter=100)) == 1.0


def test_linear_probe_random_labels_is_chance():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2000, 32)).astype(np.float32)
    y = rng.integers(0, 4, 2000)
    acc = linear_probe(x[:1000], y[:1000], x[1000:], y[1000:], ProbeProtocol(max_iter=100))
    assert abs(acc - 0.25) < 0.05  # binomial sd at n=1000 is 0.014


def test_linear_probe_is_deterministic_and_describes_itself():
    xtr, ytr = clusters(30, 3, 6, 1.5, 0)
    xte, yte = clusters(30, 3, 6, 1.5, 1)
    assert linear_probe(xtr, ytr, xte, yte) == linear_probe(xtr, ytr, xte, yte)
    text = ProbeProtocol().describe()
    assert "L-BFGS" in text and "standardised" in text and "weight decay" in text
