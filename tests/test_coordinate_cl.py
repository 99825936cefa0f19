"""Pairwise importance alpha (Tian 2022, arXiv:2201.12680, Theorem 1) for the loss family and for
f-MICL (Lu et al. 2023, arXiv:2402.10150), the alpha-CL max player (Tian's abstract: PCA for a deep
linear network, higher-rank fixed points for a two-layer ReLU network) and the command."""

import dataclasses
from pathlib import Path

import pytest
import torch

from analysis import coordinate_cl
from analysis.coordinate import experiments
from analysis.coordinate import max_player as mp
from analysis.coordinate import pair_weights as pw
from fmicl_core import losses
from fmicl_core.alpha_cl import two_view_distances


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def views():
    g = torch.Generator().manual_seed(0)
    z1, z2 = (torch.randn(10, 6, generator=g, dtype=torch.float64) for _ in range(2))
    return z1, z2, *two_view_distances(z1, z2)


@pytest.mark.parametrize("name", pw.FAMILY)
def test_family_alpha_closed_form_equals_autograd(views, name):
    *_, d2_pos, d2_neg = views
    closed = pw.family_weights(name, d2_pos, d2_neg, tau=0.4)
    auto = pw.autograd_weights(lambda p, n: pw.family_loss(name, p, n, tau=0.4), d2_pos, d2_neg)
    torch.testing.assert_close(closed.alpha, auto.alpha, rtol=1e-10, atol=1e-14)
    torch.testing.assert_close(closed.beta, auto.beta, rtol=1e-10, atol=1e-14)
    torch.testing.assert_close(closed.balance, torch.ones_like(closed.balance))


def test_infonce_row_is_the_simclr_loss_and_alpha_its_softmax(views):
    """With eps = 1, L_{phi,psi} = tau * 2N * NT-Xent, and alpha is the softmax probability of each
    negative (rows sum to 1 - p_pos)."""
    z1, z2, d2_pos, d2_neg = views
    tau = 0.3
    total = pw.family_loss("infonce", d2_pos, d2_neg, tau=tau)
    torch.testing.assert_close(total, tau * 2 * len(z1) * losses.infonce_loss(z1, z2, tau))
    alpha = pw.family_weights("infonce", d2_pos, d2_neg, tau=tau).alpha
    torch.testing.assert_close(alpha, pw.infonce_softmax_weights(d2_pos, d2_neg, tau))
    p_pos = 1.0 / (1.0 + torch.exp((d2_pos[:, None] - d2_neg) / tau).sum(1))
    torch.testing.assert_close(alpha.sum(1), 1.0 - p_pos)


@pytest.mark.parametrize("name", list(pw.IMPORTANCE) + ["tsallis3"])
def test_fmicl_alpha_closed_form_equals_autograd_of_the_real_loss(views, name):
    """alpha_ij = 2 a c G^2 f''(G) / (MK) equals -dL/d(d2_ij) of the registry's f-MICL loss, which is
    fmicl_loss of the embeddings."""
    z1, z2, d2_pos, d2_neg = views
    div, beta = ("tsallis", 3.0) if name == "tsallis3" else (name, 2.0)
    c, mu, a = 0.8, 1.3, 40.0
    loss = lambda p, n: pw.fmicl_distance_loss(div, p, n, c=c, mu=mu, alpha=a, beta=beta)  # noqa: E731
    closed = pw.fmicl_weights(div, d2_pos, d2_neg, c=c, mu=mu, alpha=a, beta=beta)
    auto = pw.autograd_weights(loss, d2_pos, d2_neg)
    torch.testing.assert_close(closed.alpha, auto.alpha, rtol=1e-9, atol=1e-14)
    torch.testing.assert_close(closed.beta, auto.beta, rtol=1e-9, atol=1e-14)
    if div != "tsallis":
        sigma = (2 * c) ** -0.5
        torch.testing.assert_close(loss(d2_pos, d2_neg),
                                   losses.fmicl_loss(z1, z2, div, sigma=sigma, alpha=a, mu=mu))


def test_kl_fmicl_weights_are_gibbs_and_rkl_uniform(views):
    """KL: the alpha-CL-normalised weights are InfoNCE's with eps = 0 and tau = 1/(2c); RKL: uniform."""
    *_, d2_pos, d2_neg = views
    c = 1.0
    kl = pw.fmicl_weights("kl", d2_pos, d2_neg, c=c).simplex
    torch.testing.assert_close(kl, pw.infonce_softmax_weights(d2_pos, d2_neg, 1 / (2 * c), eps=0.0))
    rkl = pw.fmicl_weights("rkl", d2_pos, d2_neg).simplex
    torch.testing.assert_close(rkl, torch.full_like(rkl, 1.0 / d2_neg.shape[1]))
    errors = experiments.weights_check(n=6)
    assert len(errors) == len(pw.FAMILY) + len(pw.IMPORTANCE) and max(errors.values()) < 1e-9


def test_contrastive_covariance_gives_the_linear_energy():
    x, x_aug = mp.linear_data(64, seed=1)
    g = torch.Generator().manual_seed(2)
    alpha = torch.rand(64, 64, generator=g, dtype=torch.float64) * (1 - torch.eye(64, dtype=torch.float64))
    w = torch.randn(5, 10, generator=g, dtype=torch.float64)
    c = mp.contrastive_covariance(x, x_aug, alpha)
    torch.testing.assert_close(mp.energy(x @ w.T, x_aug @ w.T, alpha), 0.5 * torch.trace(w @ c @ w.T))


@pytest.fixture(scope="module")
def linear_uniform():
    x, x_aug = mp.linear_data(512, seed=0)
    return mp.deep_linear_max_player(x, x_aug, steps=400, log_every=400)


def test_deep_linear_max_player_is_pca_of_the_contrastive_covariance(linear_uniform):
    """Rank one along the top eigenvector of C_alpha, at the closed-form optimum E = lambda_max / 2,
    far from the data's top principal component (the augmentation noise is largest along it)."""
    r = linear_uniform
    assert r.cos_top_eigvec >= 0.99
    assert abs(r.energy / r.half_lambda_max - 1) <= 0.01
    assert r.cos_top_pc <= 0.2
    # |cos(v1, PC1) - cos(u_C, PC1)| <= ||v1 - u_C|| = sqrt(2 (1 - |cos(v1, u_C)|)) <= 0.15 at cos >= 0.99
    assert r.cos_top_pc == pytest.approx(r.cos_eigvec_top_pc, abs=0.15)
    assert r.stable_rank == pytest.approx(1.0, abs=1e-3)
    assert r.singular_values[1] < 1e-3


def test_alternating_loop_max_player_reaches_top_of_the_held_alpha():
    x, x_aug = mp.linear_data(256, seed=0)
    r = mp.deep_linear_max_player(x, x_aug, min_player_kind="exp", steps=300, refresh=50, log_every=300)
    assert r.cos_top_eigvec >= 0.99 and abs(r.energy / r.half_lambda_max - 1) <= 0.01


def test_min_players_lie_on_the_simplex_and_prefer_close_pairs():
    g = torch.Generator().manual_seed(0)
    z = torch.randn(20, 3, generator=g, dtype=torch.float64)
    d = torch.cdist(z, z)
    for kind in ("exp", "quadratic", "inverse"):
        a = mp.min_player(z, kind, 0.5) * 20
        torch.testing.assert_close(a.sum(1), torch.ones(20, dtype=torch.float64))
        assert torch.all(a.diagonal() == 0)
        d_off = d + torch.eye(20, dtype=torch.float64) * 1e9
        nearest, farthest = d_off.argmin(1), d.argmax(1)
        assert torch.all(a[torch.arange(20), nearest] >= a[torch.arange(20), farthest])


def test_relu_with_per_filter_normalisation_keeps_a_higher_rank():
    """Linear -> stable rank 1; ReLU with per-filter W1 -> stable rank > 1.2."""
    x, x_aug = mp.relu_data(256, seed=0)
    lin = mp.two_layer_max_player(x, x_aug, relu=False, steps=200)
    relu = mp.two_layer_max_player(x, x_aug, relu=True, steps=200)
    assert lin.stable_rank == pytest.approx(1.0, abs=1e-3) and lin.distinct_inputs == 1
    assert relu.stable_rank > 1.2 and relu.distinct_inputs >= 2


def test_bad_inputs_are_rejected(views):
    *_, d2_pos, d2_neg = views
    with pytest.raises(ValueError, match="unknown loss"):
        pw.family_weights("hinge", d2_pos, d2_neg)
    with pytest.raises(ValueError, match="unknown divergence"):
        pw.fmicl_weights("bogus", d2_pos, d2_neg)
    with pytest.raises(ValueError, match="must be"):
        pw.family_loss("infonce", d2_pos[:3], d2_neg)
    with pytest.raises(ValueError, match="unknown min player"):
        mp.min_player(torch.zeros(4, 2), "gibbs")


def test_the_command_writes_its_figure_and_numbers(tmp_path):
    numbers = coordinate_cl.main(["--steps", "20", "--relu-steps", "5", "--relu-seeds", "1",
                                  "--out-dir", str(tmp_path), "--name", "cl"])
    assert {p.name for p in tmp_path.iterdir()} == {"cl.png", "cl.json"}
    assert set(numbers["deep_linear"]) == {"uniform", "exp", "quadratic", "inverse"}
    assert max(numbers["weights_max_rel_error"].values()) < 1e-9


def test_train_objectives_trains_each_objective_and_seed_once_and_averages(monkeypatch):
    """Through ensure_run, one run folder per objective and seed; mean and sd over seeds."""
    from fmicl_core import train
    from fmicl_core.config import TrainConfig

    seen = []

    def fake_ensure_run(config):
        seen.append((config.objective.name, config.seed, config.name))
        acc = 0.5 + 0.1 * config.seed
        return train.TrainResult(Path(config.out_dir) / config.name, acc, acc + 0.1, 0.3, 0.2, 0.0)

    monkeypatch.setattr(train, "ensure_run", fake_ensure_run)
    runs = experiments.train_objectives(["infonce", "acl_exp"], [0, 2], TrainConfig(out_dir="unused"))
    assert seen == [("infonce", 0, "infonce-s0"), ("infonce", 2, "infonce-s2"),
                    ("acl_exp", 0, "acl_exp-s0"), ("acl_exp", 2, "acl_exp-s2")]
    r = runs["acl_exp"]
    assert r.knn == pytest.approx((0.6, 0.1)) and r.linear == pytest.approx((0.7, 0.1))
    assert r.random_knn == pytest.approx((0.3, 0.0)) and dataclasses.asdict(r)["seeds"] == [0, 2]
