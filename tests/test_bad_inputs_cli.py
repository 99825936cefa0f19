"""Bad input to every analysis command and to the analysis functions: a command exits with code 2
and one line on stderr that names the bad value, with no traceback and before anything expensive
runs or is written; a function raises a one-line ``ValueError`` that names the value. And a command
run with its default output folder leaves the tracked ``figures/`` gallery untouched (the trainer's
and the objectives' tables are tests/test_bad_inputs.py and tests/test_bad_inputs_api.py)."""

import json
import math

import numpy as np
import pytest
import torch

from analysis import (batch_size, collapse, conformal, coordinate_cl, estimation_error, gallery, gmm, objectives_zoo,
                      reproduce, training_comparison, training_curves, uniformity, verify_gaussian)
from analysis.conformal_sets import experiments as cf
from analysis.conformal_sets import sets as cs
from analysis.coordinate import experiments as ce
from analysis.coordinate import max_player as mp
from analysis.estimation import error as ee
from analysis.estimation.batch_size import SHORT_RUN, batch_size_study
from analysis.gaussian import flows
from analysis.gaussian.check import verify_gaussian as check_gaussian
from analysis.gaussian.ring import ring_pairs
from analysis.gaussian.vmf import VMFCoupling, log_mean_exp_inner
from analysis.mixtures import methods as M
from analysis.mixtures.encoder import EncoderTraining, fixed_source, train_linear
from analysis.mixtures.model import coupling_strength, make_gmm
from analysis.runner import GALLERY
from analysis.simplex import negative_term as nt
from analysis.zoo import curves as zoo
from fmicl_core.features import Features, RunFolder, save_features

pytestmark = pytest.mark.usefixtures("one_torch_thread")
GPU = torch.cuda.is_available()


def _unit(rng, rows, d):
    z = rng.normal(size=(rows, d))
    return (z / np.linalg.norm(z, axis=1, keepdims=True)).astype(np.float32)


def _features(n, d=4, identical=False, classes=3):
    rng = np.random.default_rng(0)
    labels = np.arange(n, dtype=np.int64) % classes
    x = _unit(rng, n, d)
    y = x.copy() if identical else _unit(rng, n, d)
    return Features(_unit(rng, n, d), _unit(rng, n, d), labels, _unit(rng, n, d), _unit(rng, n, d), labels, x, y,
                    labels, config={"method": "simclr", "objective": {"name": "kl"}, "dataset": "digits"})


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Paths the cases name: a text file posing as features, features of identical pairs, of too few
    pairs and of one class, and run folders whose config or metrics lack what the curves need."""
    root = tmp_path_factory.mktemp("inputs")
    (root / "notes.npz").write_text("plain text, not numbers\n")
    save_features(root / "identical.npz", _features(200, identical=True))
    save_features(root / "few.npz", _features(12))
    save_features(root / "oneclass.npz", _features(90, classes=1))
    for name, config, metrics in (("noconfigkeys", {"method": "simclr"}, [{"epoch": 1, "loss": 1.0, "knn": None}]),
                                  ("noloss", {"method": "simclr", "dataset": "digits", "objective": {"name": "kl"}},
                                   [{"epoch": 1, "knn": None}])):
        run = RunFolder(root / name)
        run.path.mkdir()
        run.config.write_text(json.dumps(config))
        run.metrics.write_text("".join(json.dumps(m) + "\n" for m in metrics))
    (root / "emptyrun").mkdir()
    return {key: str(root / key) for key in ("emptyrun", "noconfigkeys", "noloss")} | {
        key: str(root / f"{key}.npz") for key in ("notes", "identical", "few", "oneclass")} | {"gallery": str(GALLERY)}


CLI = [  # (command, flags ({name} is a path of the files fixture), what the one line must contain)
    (verify_gaussian, "--layers 0", "--layers=0"),
    (verify_gaussian, "--hidden 0", "--hidden=0"),
    (verify_gaussian, "--epochs 0", "--epochs=0"),
    (verify_gaussian, "--patience 0", "--patience=0"),
    (verify_gaussian, "--bins 2", "--bins=2"),
    (verify_gaussian, "--max-dim -1", "--max-dim=-1"),
    (verify_gaussian, "--noise -1", "--noise=-1.0"),
    (verify_gaussian, "--noise nan", "--noise=nan"),
    (verify_gaussian, "--seed -1", "--seed=-1"),
    (verify_gaussian, "--epochs 2.5", "'2.5'"),
    pytest.param(verify_gaussian, "--device cuda", "--device='cuda'",
                 marks=pytest.mark.skipif(GPU, reason="cuda is a device on this machine")),
    (verify_gaussian, "--device cuda:99", "--device='cuda:99'"),
    (verify_gaussian, "--device tpu", "--device='tpu'"),
    (verify_gaussian, "--prior laplace", "'laplace'"),
    (verify_gaussian, "--backend normflows", "'normflows'"),
    (verify_gaussian, "--backend zuko --prior uniform", "'uniform'"),
    (verify_gaussian, "--features missing.npz", "'missing.npz'"),
    (verify_gaussian, "--features {notes}", "{notes}"),
    (verify_gaussian, "--features {emptyrun}", "{emptyrun}"),
    (verify_gaussian, "--features {identical}", "||x - y||^2 = 0"),
    (verify_gaussian, "--runs-dir {notes}", "{notes}"),
    (verify_gaussian, "--name ../escape", "'../escape'"),
    (verify_gaussian, "--name .hidden", "'.hidden'"),
    (verify_gaussian, "--out-dir {gallery}", "{gallery}"),
    (verify_gaussian, "--out-dir {gallery}/sub", "{gallery}/sub"),
    (uniformity, "--c -1", "--c=-1.0"),
    (uniformity, "--c 0", "--c=0.0"),
    (uniformity, "--c nan", "--c=nan"),
    (uniformity, "--c inf", "--c=inf"),
    (uniformity, "--mu 0", "--mu=0.0"),
    (uniformity, "--mu -2", "--mu=-2.0"),
    (uniformity, "--sizes 4y3", "'4y3'"),
    (uniformity, "--sizes 1x3", "'1x3'"),
    (uniformity, "--sizes 4x1", "'4x1'"),
    (uniformity, "--sizes 4x3x2", "'4x3x2'"),
    (uniformity, "--divergences kld", "'kld'"),
    (uniformity, "--max-iter 0", "--max-iter=0"),
    (uniformity, "--seed -1", "--seed=-1"),
    (uniformity, "--bogus 1", "--bogus"),
    (estimation_error, "--max-n 8", "max_n=8"),
    (estimation_error, "--max-n 16", "max_n=16"),
    (estimation_error, "--d 1", "--d=1"),
    (estimation_error, "--kappa -1", "--kappa=-1.0"),
    (estimation_error, "--kappa 0", "--kappa=0.0"),
    (estimation_error, "--kappa 50", "--kappa=50.0"),
    (estimation_error, "--kappa nan", "--kappa=nan"),
    (estimation_error, "--reps 2", "--reps=2"),
    (estimation_error, "--delta 1.5", "delta=1.5"),
    (estimation_error, "--delta 0", "delta=0.0"),
    (estimation_error, "--mc-samples 1", "--mc-samples=1"),
    (estimation_error, "--divergences kld", "'kld'"),
    (estimation_error, "--seed -1", "--seed=-1"),
    (estimation_error, "--threads 0", "--threads=0"),
    (gmm, "--d 1", "--d=1"),
    (gmm, "--k 1", "--k=1"),
    (gmm, "--d 2 --k 5", "K=5"),
    (gmm, "--deltas 1 0", "--deltas=0.0"),
    (gmm, "--deltas 1.5", "--deltas=1.5"),
    (gmm, "--deltas nan", "--deltas=nan"),
    (gmm, "--methods infonce pca2", "'pca2'"),
    (gmm, "--steps 0", "--steps=0"),
    (gmm, "--batch 1", "--batch=1"),
    (gmm, "--fmicl-steps 0", "--fmicl-steps=0"),
    (gmm, "--fmicl-batch 1", "--fmicl-batch=1"),
    (gmm, "--alpha 0", "--alpha=0.0"),
    (gmm, "--sigma -1", "--sigma=-1.0"),
    (gmm, "--sigma 1e-30", "sigma=1e-30"),
    (gmm, "--lr inf", "--lr=inf"),
    (gmm, "--n-test 3", "--n-test=3"),
    (gmm, "--seed -1", "--seed=-1"),
    (conformal, "--splits 0", "--splits=0"),
    (conformal, "--alpha 0", "--alpha=0.0"),
    (conformal, "--alpha 2", "--alpha=2.0"),
    (conformal, "--alpha nan", "--alpha=nan"),
    (conformal, "--alpha 0.001", "alpha=0.001"),
    (conformal, "--seed -1", "--seed=-1"),
    (conformal, "--features no-such-run", "'no-such-run'"),
    (conformal, "--features {notes}", "{notes}"),
    (conformal, "--features {few}", "n=12"),
    (conformal, "--features {oneclass}", "single class [0]"),
    (coordinate_cl, "--steps 0", "--steps=0"),
    (coordinate_cl, "--relu-steps 0", "--relu-steps=0"),
    (coordinate_cl, "--relu-seeds 0", "--relu-seeds=0"),
    (coordinate_cl, "--seed -1", "--seed=-1"),
    (coordinate_cl, "--temperature -1", "--temperature=-1.0"),
    (coordinate_cl, "--temperature 1e-9", "--temperature=1e-09"),
    (objectives_zoo, "--c -1", "--c=-1.0"),
    (objectives_zoo, "--c 1e6", "--c=1000000.0"),
    (objectives_zoo, "--temperature nan", "--temperature=nan"),
    (objectives_zoo, "--temperature 1e-4", "--temperature=0.0001"),
    (objectives_zoo, "--batches 0", "--batches=0"),
    (objectives_zoo, "--seed -1", "--seed=-1"),
    (training_comparison, "--objectives hinge", "'hinge'"),
    (training_comparison, "--seeds 0 -1", "--seeds=-1"),
    (training_comparison, "--epochs 0", "--epochs=0"),
    (training_comparison, "--runs-dir {notes}", "{notes}"),
    (training_comparison, "--runs-dir {gallery}", "{gallery}"),
    (training_curves, "/nonexistent/run", "'/nonexistent/run'"),
    (training_curves, "{notes}", "{notes}"),
    (training_curves, "{emptyrun}", "{emptyrun}"),
    (training_curves, "{noconfigkeys}", "['dataset', 'objective']"),
    (training_curves, "{noloss}", "['loss']"),
    (collapse, "--objectives kld", "'kld'"),
    (collapse, "--batch-size 1", "batch_size=1"),
    (collapse, "--lr 0", "lr=0.0"),
    (collapse, "--epochs 0", "epochs=0"),
    (collapse, "--dataset mnist9", "'mnist9'"),
    (collapse, "--encoder vit", "'vit'"),
    (collapse, "--seed -1", "seed=-1"),
    (collapse, "--runs-dir {notes}", "{notes}"),
    (collapse, "--runs-dir {gallery}/runs", "{gallery}/runs"),
    (batch_size, "--objectives kld", "'kld'"),
    (batch_size, "--batch-sizes 32 1", "batch_size=1"),
    (batch_size, "--batch-sizes 0", "batch_size=0"),
    (batch_size, "--epochs 0", "epochs=0"),
    (batch_size, "--dataset mnist9", "'mnist9'"),
    (batch_size, "--seed -1", "seed=-1"),
    (reproduce, "--only zz", "'zz'"),
    (reproduce, "--timeout 0", "--timeout=0"),
    (reproduce, "--out-dir {notes}", "{notes}"),
]


def _prog(command) -> str:
    return command.COMMAND.prog if hasattr(command, "COMMAND") else "python -m analysis.reproduce"


@pytest.mark.parametrize("command, flags, needle", CLI,
                         ids=lambda v: v.__name__.split(".")[-1] if hasattr(v, "__name__") else None)
def test_a_bad_flag_is_one_line_naming_the_value(command, flags, needle, files, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    argv = flags.format(**files).split()
    if "--out-dir" not in flags:
        argv += ["--out-dir", str(tmp_path / "out")]
    with pytest.raises(SystemExit) as exit_:
        command.main(argv)
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert exit_.value.code == 2 and len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith(f"{_prog(command)}: error: ") and needle.format(**files) in lines[0], lines[0]
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert not written, written  # refused before anything was trained or written


def _pairs(n=200, d=4, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)), rng.normal(size=(n, d))


X, Y = _pairs()
SYNTHETIC = cf.synthetic_pairs(n=90)
GMM = make_gmm(d=6, k=3)

API = [  # (call, what the one-line ValueError must contain)
    (lambda: check_gaussian(X, X), "||x - y||^2 = 0"),
    (lambda: check_gaussian(X, Y, layers=0), "layers=0"),
    (lambda: check_gaussian(X, Y, hidden=-1), "hidden=-1"),
    (lambda: check_gaussian(X, Y, lr=0.0), "lr=0.0"),
    (lambda: check_gaussian(X, Y, weight_decay=-1.0), "weight_decay=-1.0"),
    (lambda: check_gaussian(X, Y, device="tpu"), "'tpu'"),
    (lambda: check_gaussian(X, Y, device="cuda:99"), "'cuda:99'"),
    (lambda: check_gaussian(X, Y, seed=-1), "seed=-1"),
    (lambda: check_gaussian(X, Y, noise=math.nan), "noise=nan"),
    (lambda: check_gaussian(X, Y, bins=2), "bins=2"),
    (lambda: check_gaussian(X, Y, epoch=3), "'epoch'"),
    (lambda: check_gaussian(X, Y, "laplace"), "'laplace'"),
    (lambda: check_gaussian(X[:20], Y[:20]), "n=20"),
    (lambda: flows.fit_flow(X, Y[:, :3]), "(200, 3)"),
    (lambda: flows.fit_flow(np.full((10, 4), np.nan), Y), "NaN"),
    (lambda: flows.fit_flow(X, Y, blocks=0), "blocks=0"),
    (lambda: flows.check_backend("zuko", "uniform"), "'uniform'"),
    (lambda: ring_pairs(10, 1, 1.0, 0.1, np.random.default_rng(0)), "d=1"),
    (lambda: ring_pairs(10, 3, 1.0, -0.1, np.random.default_rng(0)), "jitter=-0.1"),
    (lambda: VMFCoupling(3, np.float32(-1.0)), "-1.0"),
    (lambda: VMFCoupling(True, 2.0), "d=True"),
    (lambda: log_mean_exp_inner(512, 1e-3), "kappa=0.001 with d=512"),
    (lambda: ee.batch_sizes_up_to(16), "max_n=16"),
    (lambda: ee.estimation_error_study(ns=(8, 16)), "ns=(8, 16)"),
    (lambda: ee.estimation_error_study(ns=(8, 16, 1)), "N=1"),
    (lambda: ee.estimation_error_study(VMFCoupling(3, 50.0), ns=(8, 16, 32)), "kappa=50.0"),
    (lambda: ee.estimation_error_study(ns=(8, 16, 32), seed=-1), "seed=-1"),
    (lambda: ee.population_fmi("kl", VMFCoupling(3, 20.0)), "kappa=20.0"),
    (lambda: ee.population_fmi("kl", VMFCoupling(3, 2.0), seed=-3), "seed=-3"),
    (lambda: ee.concentration_term(1.0, 1.0, 8, delta=2.0), "delta=2.0"),
    (lambda: nt.minimise_negative_term("kl", 4, 3, c=-1.0), "c=-1.0"),
    (lambda: nt.minimise_negative_term("kl", 4, 3, mu=0.0), "mu=0.0"),
    (lambda: nt.minimise_negative_term("kl", 1, 3), "n=1"),
    (lambda: nt.minimise_negative_term("kl", 4, 3, seed=-1), "seed=-1"),
    (lambda: nt.minimise_grid(("kl", "kld"), [(4, 3)]), "'kld'"),
    (lambda: nt.minimise_grid(("kl",), [(4, 3), (4, 1)]), "d=1"),
    (lambda: nt.negative_term(np.eye(3), "kl", c=math.nan), "c=nan"),
    (lambda: make_gmm(d=1), "d=1"),
    (lambda: coupling_strength(0.0), "delta=0.0"),
    (lambda: M.compare(make_gmm(d=2, k=5), methods=()), "K=5"),
    (lambda: M.compare(GMM, methods=(), n_test=2), "n_test=2"),
    (lambda: M.compare(GMM, deltas=(1.0, 1.2), methods=()), "deltas=1.2"),
    (lambda: M.method("kl", sigma=1e-30), "sigma=1e-30"),
    (lambda: M.method("pca2"), "'pca2'"),
    (lambda: EncoderTraining(steps=0), "steps=0"),
    (lambda: train_linear(fixed_source(_pairs()), lambda a, b: a.sum() / 0.0, 2,
                          config=EncoderTraining(steps=5)), "diverged at step 1"),
    (lambda: cs.miscoverage(1.0), "alpha=1.0"),
    (lambda: cf.synthetic_pairs(seed=-1), "seed=-1"),
    (lambda: cf.digits_pairs("lda", dim=12), "dim=12"),
    (lambda: cf.split_experiment(cf.synthetic_pairs(n=12)), "n=12"),
    (lambda: cf.split_experiment(SYNTHETIC, alphas=(0.01,)), "alpha=0.01"),
    (lambda: cf.coverage_band(SYNTHETIC, 0.1, splits=1), "splits=1"),
    (lambda: cf.pooled_anchor_coverage(scale_sd=-1.0), "scale_sd=-1.0"),
    (lambda: cf.Pairs(X, Y, np.zeros(200), "one class"), "single class [0.0]"),
    (lambda: ce.coordinate_checks(-1, 1, 1, 1), "seed=-1"),
    (lambda: ce.coordinate_checks(0, 1, 1, 1, temperature=0.0), "temperature=0.0"),
    (lambda: ce.weights_check(tau=1e-9), "tau=1e-09"),
    (lambda: ce.importance_profiles(points=1), "points=1"),
    (lambda: mp.linear_data(seed=-1), "seed=-1"),
    (lambda: mp.relu_data(noise=-1.0), "noise=-1.0"),
    (lambda: zoo.special_case_residuals(c=1e4), "c=10000.0"),
    (lambda: zoo.term_curves(c=0.0), "c=0.0"),
    (lambda: zoo.cosine_vs_gaussian(temperature=1e-9), "temperature=1e-09"),
    (lambda: batch_size_study(("kl",), (32, 1), SHORT_RUN, "unused"), "batch_size=1"),
    (lambda: gallery.save("Figure 1", None, {}, {}), "'Figure 1'"),
    (lambda: reproduce.list_notebooks(["zz"]), "'zz'"),
    (lambda: reproduce.run_notebook(reproduce.NOTEBOOKS / "00_objectives_zoo.ipynb", timeout=0), "timeout=0"),
]


@pytest.mark.parametrize("call, needle", API, ids=[needle for _, needle in API])
def test_a_bad_argument_is_a_one_line_value_error(call, needle):
    with pytest.raises(ValueError) as error:
        call()
    message = str(error.value)
    assert needle in message and "\n" not in message, message


def test_gallery_folder_that_is_a_file_is_one_line(tmp_path, monkeypatch):
    (tmp_path / "taken").write_text("")
    monkeypatch.setenv("FMICL_FIGURES", str(tmp_path / "taken"))
    with pytest.raises(ValueError, match="taken"):
        gallery.gallery_dir()


def _snapshot(folder):
    return {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}


def test_a_command_with_its_default_out_dir_leaves_the_gallery_untouched(tmp_path, monkeypatch, capsys):
    before = _snapshot(GALLERY)
    monkeypatch.chdir(tmp_path)
    objectives_zoo.main(["--batches", "1"])
    assert sorted(p.name for p in (tmp_path / "results").iterdir()) == ["objectives_zoo.json", "objectives_zoo.png"]
    assert _snapshot(GALLERY) == before
    monkeypatch.chdir(GALLERY)  # the default results/ would land inside the gallery: refused
    with pytest.raises(SystemExit) as exit_:
        objectives_zoo.main(["--batches", "1"])
    assert exit_.value.code == 2 and "inside the tracked gallery" in capsys.readouterr().err
    assert _snapshot(GALLERY) == before
