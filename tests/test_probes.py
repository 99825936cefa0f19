"""The two linear-evaluation protocols (L-BFGS and SGD), their trainer wiring, and STL-10 pre-training on
its unlabeled images: the SGD probe reaches the L-BFGS optimum of the same penalised objective, is a
pure function of its inputs and seed, and the labels -1 of unlabeled images never reach a probe."""

import json
import math

import numpy as np
import pytest
import torch

from fmicl_core import evaluate, train
from fmicl_core.config import TrainConfig, from_args
from fmicl_core.evaluate import ProbeProtocol, SGDProbeProtocol, knn_accuracy, linear_probe
from fmicl_core.features import load_features
from test_data import _write_stl10
from test_evaluate import clusters
from tiny_runs import tiny

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def softmax_data(n: int, seed: int):
    """Features and labels of a 3-class softmax model with Gumbel noise (overlapping classes)."""
    rng = np.random.default_rng(seed)
    x = torch.tensor(rng.standard_normal((n, 10)), dtype=torch.float32)
    w = torch.tensor(rng.standard_normal((10, 3)), dtype=torch.float32)
    return x, (x @ w + torch.tensor(rng.gumbel(size=(n, 3)), dtype=torch.float32)).argmax(1)


def test_sgd_probe_reaches_the_lbfgs_optimum_of_the_same_objective():
    # cross-entropy + wd/2 ||W||^2 is strongly convex: L-BFGS finds its minimum, and SGD with a cosine
    # decay to 0 must end within a small gap of it (never below it)
    x, y = softmax_data(400, 0)
    wd = 0.05
    w_opt, b_opt = evaluate._lbfgs_fit(x, y, 3, ProbeProtocol(max_iter=500, weight_decay=wd))
    w_sgd, b_sgd = evaluate._sgd_fit(x, y, 3, SGDProbeProtocol(epochs=100, batch_size=64, weight_decay=wd), 0,
                                     None, lambda v: v)
    best = evaluate._penalised_loss(x, y, w_opt, b_opt, wd).item()
    gap = evaluate._penalised_loss(x, y, w_sgd, b_sgd, wd).item() - best
    assert -1e-5 < gap < 5e-4
    torch.testing.assert_close(w_sgd, w_opt, atol=0.03, rtol=0)


def test_sgd_probe_separable_is_perfect_and_random_labels_are_chance():
    xtr, ytr = clusters(100, 5, 16, 0.3, 0)
    xte, yte = clusters(40, 5, 16, 0.3, 1)
    assert linear_probe(xtr, ytr, xte, yte, SGDProbeProtocol(epochs=10, batch_size=64)) == 1.0
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2000, 32)).astype(np.float32)
    y = rng.integers(0, 4, 2000)
    acc = linear_probe(x[:1000], y[:1000], x[1000:], y[1000:], SGDProbeProtocol(epochs=10, batch_size=128))
    assert abs(acc - 0.25) < 0.05  # binomial sd at n=1000 is 0.014


def test_sgd_probe_is_a_pure_function_of_inputs_and_seed():
    xtr, ytr = softmax_data(300, 1)
    xte, yte = softmax_data(300, 2)
    copies = [t.clone() for t in (xtr, ytr, xte, yte)]
    protocol = SGDProbeProtocol(epochs=5, batch_size=32, lr=2.0)
    fits = [evaluate._sgd_fit(xtr, ytr, 3, protocol, seed, None, lambda v: v)[0] for seed in (0, 0, 1)]
    assert torch.equal(fits[0], fits[1]) and not torch.equal(fits[0], fits[2])  # the seed orders the batches
    assert linear_probe(xtr, ytr, xte, yte, protocol, seed=3) == linear_probe(xtr, ytr, xte, yte, protocol, seed=3)
    assert all(torch.equal(a, b) for a, b in zip(copies, (xtr, ytr, xte, yte)))


def test_augmented_probe_draws_every_epoch_from_the_seeded_generator():
    xtr, ytr = clusters(40, 3, 6, 0.5, 0)
    xte, yte = clusters(20, 3, 6, 0.5, 1)
    xtr = torch.from_numpy(xtr)
    calls = []

    def augmented(gen):  # "augmentation": noise drawn from the probe's generator
        calls.append(torch.randn(1, generator=gen).item())
        return xtr + 0.1 * torch.randn(xtr.shape, generator=gen)

    protocol = SGDProbeProtocol(epochs=4, batch_size=32, augment=True)
    first = linear_probe(xtr, ytr, xte, yte, protocol, seed=5, augmented=augmented)
    second = linear_probe(xtr, ytr, xte, yte, protocol, seed=5, augmented=augmented)
    assert first == second == 1.0 and len(calls) == 8 and calls[:4] == calls[4:]
    assert len(set(calls[:4])) == 4  # a fresh draw every epoch
    assert "random crop + flip" in protocol.describe()
    with pytest.raises(ValueError, match=r"augmented train features have shape \(120, 5\)"):
        linear_probe(xtr, ytr, xte, yte, protocol, augmented=lambda gen: xtr[:, :5])
    with pytest.raises(ValueError, match="augmented=None does not fit"):
        linear_probe(xtr, ytr, xte, yte, protocol)
    with pytest.raises(ValueError, match="augmented=<function.*does not fit.*lbfgs"):
        linear_probe(xtr, ytr, xte, yte, ProbeProtocol(), augmented=augmented)


def test_protocols_describe_themselves_and_refuse_bad_settings():
    text = SGDProbeProtocol().describe()
    for part in ("sgd", "Nesterov momentum 0.9", "lr 0.1 x 512/256 = 0.2", "cosine", "batch 512", "100 epochs",
                 "cached un-augmented features", "after the last epoch"):
        assert part in text, part
    assert SGDProbeProtocol(batch_size=128, lr=0.4).scaled_lr == pytest.approx(0.2)
    assert "lbfgs" in ProbeProtocol().describe() and "L-BFGS" in ProbeProtocol().describe()
    for kw, bad in [({"epochs": 0}, "epochs=0"), ({"batch_size": 2.5}, "batch_size=2.5"), ({"lr": -0.1}, "lr=-0.1"),
                    ({"momentum": 0.0}, "momentum=0.0"), ({"momentum": 1.0}, "momentum=1.0"),
                    ({"weight_decay": -1.0}, "weight_decay=-1.0")]:
        with pytest.raises(ValueError, match=bad):
            SGDProbeProtocol(**kw)
    with pytest.raises(ValueError, match="max_iter=0"):
        ProbeProtocol(max_iter=0)
    x, y = clusters(5, 2, 3, 0.1, 0)
    with pytest.raises(ValueError, match="seed=-1"):
        linear_probe(x, y, x, y, SGDProbeProtocol(epochs=1), seed=-1)
    with pytest.raises(ValueError, match="protocol='sgd' is not allowed"):
        linear_probe(x, y, x, y, "sgd")


@pytest.mark.parametrize("probe", [ProbeProtocol(max_iter=5), SGDProbeProtocol(epochs=1)])
def test_unlabeled_images_never_reach_a_probe_or_the_knn(probe):
    x, y = clusters(5, 2, 3, 0.1, 0)
    y = y.copy()
    y[3] = -1
    with pytest.raises(ValueError, match="train_labels contains the label -1"):
        linear_probe(x, y, x, np.abs(y), probe)
    with pytest.raises(ValueError, match="contains the label -1"):
        knn_accuracy(x, y, x, np.abs(y))


@pytest.mark.parametrize("argv, bad", [
    (["--probe", "adam"], "probe 'adam'"),
    (["--probe-epochs", "0"], "probe_epochs=0"),
    (["--probe-batch", "-4"], "probe_batch=-4"),
    (["--probe-lr", "0"], "probe_lr=0.0"),
    (["--probe-lr", "nan"], "probe_lr=nan"),
    (["--probe-augment"], "probe_augment=True does not apply to probe='lbfgs'"),
    (["--unlabeled"], "unlabeled=True does not apply to dataset 'digits'"),
    (["--unlabeled", "--dataset", "cifar10"], "unlabeled=True does not apply to dataset 'cifar10'"),
])
def test_cli_refuses_bad_probe_and_unlabeled_flags(capsys, argv, bad):
    with pytest.raises(SystemExit) as exit_:
        from_args(argv)
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and bad in err and err.count("\n") == 1


def test_config_fields_and_dataset_options():
    config = from_args(["--probe", "sgd", "--probe-augment", "--probe-epochs", "7", "--probe-batch", "64",
                        "--probe-lr", "0.4", "--dataset", "stl10", "--unlabeled"])
    assert (config.probe, config.probe_augment, config.probe_epochs, config.probe_batch) == ("sgd", True, 7, 64)
    assert train._protocol(config) == SGDProbeProtocol(epochs=7, batch_size=64, lr=0.4, augment=True)
    assert config.dataset_options() == {} and config.dataset_options(pretrain=True) == {"unlabeled": True}
    default = TrainConfig()
    assert (default.probe, default.probe_epochs, default.probe_batch, default.probe_lr) == ("lbfgs", 100, 512, 0.1)
    assert train._protocol(default) == ProbeProtocol(max_iter=500, weight_decay=1e-4)


@pytest.mark.parametrize("augment", [False, True])
def test_trainer_reports_the_sgd_probe(tmp_path, capsys, augment):
    config = tiny(tmp_path, epochs=2, probe="sgd", probe_epochs=3, probe_batch=16, probe_augment=augment)
    result = train.train(config)
    stored = json.loads((result.run_dir / "result.json").read_text())
    assert stored["probe"] == "sgd" and stored["linear_acc"] == result.linear_acc
    assert 0 <= result.linear_acc <= 1 and 0 <= result.random_linear_acc <= 1
    # the final probe is the SGD probe on the run's features, with the run's seed
    feats = load_features(result.run_dir / "features.npz")
    if not augment:
        assert result.linear_acc == linear_probe(feats.train_encoder, feats.train_labels, feats.test_encoder,
                                                 feats.test_labels, train._protocol(config), seed=config.seed)
    report = train._report(config, result)
    assert "linear probe (sgd)" in report and train._protocol(config).describe() in report
    again = train.train(tiny(tmp_path, epochs=2, probe="sgd", probe_epochs=3, probe_batch=16,
                             probe_augment=augment, name="again"))
    assert again.linear_acc == result.linear_acc and again.random_linear_acc == result.random_linear_acc


def test_stl10_pretrains_on_unlabeled_images_and_probes_the_labelled_split(tmp_path, monkeypatch):
    _write_stl10(tmp_path / "data", np.random.default_rng(0), n_train=6, n_test=4, n_unlabeled=10)
    monkeypatch.setattr("torchvision.datasets.utils.check_integrity", lambda *args, **kw: True)  # not official
    config = tiny(tmp_path, dataset="stl10", data_root=str(tmp_path / "data"), unlabeled=True, batch_size=4,
                  epochs=1, knn_k=3, n_pairs=4, encoder="small_cnn")
    run = train._Run(config)
    assert len(run.pretrain) == 16 and run.pretrain.labels.tolist()[6:] == [-1] * 10
    assert len(run.train) == 6 and int(run.train.labels.min()) >= 0 and run.views.n == 16
    assert run.views.steps == 4  # the 16 pre-training images, in batches of 4
    result = train.train(config)
    feats = load_features(result.run_dir / "features.npz")
    assert len(feats.train_labels) == 6 and feats.train_labels.min() >= 0 and not math.isnan(result.linear_acc)


@pytest.mark.slow
def test_both_probes_on_the_same_digits_encoders(tmp_path):
    """The digits default run (SimCLR + KL f-MICL), shortened to 5 epochs, for two seeds: kNN, the L-BFGS
    probe and the SGD probe (SimCLR protocol, 100 epochs) on the same encoder features, trained and at
    initialisation; printed as a table (pytest -s)."""
    rows = []
    for seed in (0, 1):
        result = train.train(TrainConfig(epochs=5, knn_every=0, seed=seed, progress=False, device="cpu",
                                          out_dir=str(tmp_path)))
        for stage, file in (("trained", "features.npz"), ("init", "features_init.npz")):
            f = load_features(result.run_dir / file)
            args = (f.train_encoder, f.train_labels, f.test_encoder, f.test_labels)
            sgd = [linear_probe(*args, SGDProbeProtocol(), seed=seed) for _ in range(2)]
            assert sgd[0] == sgd[1]  # deterministic for a seed
            rows.append((seed, stage, knn_accuracy(*args), linear_probe(*args), sgd[0]))
    print("\nseed  encoder  kNN     L-BFGS  SGD")
    for row in rows:
        print("{:<5} {:<8} {:.4f}  {:.4f}  {:.4f}".format(*row))
    for seed, stage, knn, lbfgs, sgd in rows:
        assert knn > 0.8 and lbfgs > 0.8 and sgd > 0.8, (seed, stage)
        assert abs(lbfgs - sgd) < 0.05, (seed, stage)  # two fits of one convex objective
