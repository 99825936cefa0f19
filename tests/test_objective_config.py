"""One objective config: every default written once, validated once, typos refused; and the
validators behind every public function (bools, complex numbers and non-finite values refused;
numpy scalars and 0-d tensors accepted)."""

import inspect
import math

import numpy as np
import pytest
import torch

from fmicl_core import alpha_cl, divergences, losses, objectives, paper_settings, similarity, validation
from fmicl_core.config import TrainConfig
from fmicl_core.objective_config import BASELINES, DEFAULTS, RANGES, ObjectiveConfig, names, reads_negatives


def test_defaults_are_the_papers_table_7():
    assert DEFAULTS.c == pytest.approx(1.0) and DEFAULTS.alpha == 40.0 and DEFAULTS.mu == 1.0
    assert TrainConfig().objective == DEFAULTS


@pytest.mark.parametrize("fn,params", [
    (losses.fmicl_terms, {"divergence": "name", "similarity": "similarity", "sigma": "sigma", "alpha": "alpha",
                          "mu": "mu", "temperature": "temperature"}),
    (losses.infonce_loss, {"temperature": "temperature"}),
    (losses.dv_kl_loss, {"sigma": "sigma", "mu": "mu"}),
    (similarity.get, {"sigma": "sigma", "mu": "mu", "temperature": "temperature"}),
    (alpha_cl.alpha_cl_loss, {"temperature": "temperature", "alpha_eps": "alpha_eps"}),
])
def test_function_defaults_are_the_configs(fn, params):
    signature = inspect.signature(fn)
    for param, field in params.items():
        assert signature.parameters[param].default == getattr(DEFAULTS, field), (fn.__name__, param)


def test_unknown_hyper_parameter_is_refused():
    with pytest.raises(ValueError, match="unknown keyword 'aplha'") as err:
        objectives.make("kl", aplha=1.0)
    assert "\n" not in str(err.value)
    with pytest.raises(ValueError, match="beside an ObjectiveConfig"):
        objectives.make(ObjectiveConfig("kl"), alpha=1.0)


def test_every_baseline_has_a_builder():
    assert tuple(objectives._BUILDERS) == BASELINES


def test_make_by_name_equals_make_by_config():
    z1, z2 = torch.randn(8, 5, dtype=torch.float64), torch.randn(8, 5, dtype=torch.float64)
    for name in names():
        by_name = objectives.make(name, alpha=7.0, temperature=0.3)
        by_config = objectives.make(ObjectiveConfig(name, alpha=7.0, temperature=0.3))
        assert by_name.config == by_config.config
        assert torch.equal(by_name(z1, z2), by_config(z1, z2)), name


@pytest.mark.parametrize("field,value,needle", [
    ("alpha", True, "alpha=True"), ("alpha", 0.0, "alpha=0.0"), ("sigma", math.nan, "sigma=nan"),
    ("mu", 1 + 2j, "mu=(1+2j)"), ("temperature", "0.5", "temperature='0.5'"), ("beta", 1.0, "beta=1.0"),
    ("name", "kullback", "'kullback'"), ("similarity", "dot", "'dot'"), ("negatives", "all", "'all'"),
    ("alpha_eps", -1.0, "alpha_eps=-1.0"), ("alpha_exponent", 0.0, "alpha_exponent=0.0"),
])
def test_bad_values_are_one_line_errors(field, value, needle):
    with pytest.raises(ValueError) as err:
        ObjectiveConfig(**{field: value})
    assert needle in str(err.value) and "\n" not in str(err.value)


def test_numpy_and_tensor_scalars_are_numbers():
    config = ObjectiveConfig(alpha=np.float32(40), sigma=torch.tensor(0.5, dtype=torch.float64))
    assert config.alpha == 40.0 and type(config.alpha) is float and config.sigma == 0.5
    assert validation.integer("n", np.int64(3)) == 3
    with pytest.raises(ValueError, match="n=True"):
        validation.integer("n", True)


def test_ranges_hold_the_papers_values():
    """f-MICL Table 7 (Lu et al. 2023, arXiv:2402.10150): (2 sigma^2)^-1 = 1 for vision and 20 for
    Wikipedia (the smallest sigma, 0.158), alpha = 40 and 409600, mu = 1; the SimCLR and MoCo
    temperatures; every default."""
    inside = {key: [getattr(DEFAULTS, key)] for key in RANGES if getattr(DEFAULTS, key) is not None}
    for row in paper_settings.TABLE7.values():
        inside["sigma"].append((2 * row["c"]) ** -0.5)
        inside["alpha"].append(row["alpha"])
        inside["mu"].append(row["mu"])
    inside["sigma"].append(40**-0.5)
    inside["alpha"].append(409600.0)
    inside["temperature"] += [paper_settings.SIMCLR["temperature"], paper_settings.MOCO["temperature"], 0.07]
    for key, values in inside.items():
        low, high = RANGES[key]
        assert all(low <= v <= high for v in values), key
        ObjectiveConfig(**{key: min(values)})


@pytest.mark.parametrize("key", sorted(RANGES))
def test_each_range_is_closed_and_ends_outside_are_refused(key):
    low, high = RANGES[key]
    assert ObjectiveConfig(**{key: low}) == ObjectiveConfig(**{key: float(low)})
    ObjectiveConfig(**{key: high})
    for bad in (high * 1.5, low - 0.5 * max(low, 1e-3)):
        with pytest.raises(ValueError, match=f"{key}={bad!r} is not allowed; it must be a finite number in"):
            ObjectiveConfig(**{key: bad})


def test_negatives_only_for_objectives_that_read_them():
    assert [n for n in names() if reads_negatives(n)] == [*divergences.names(), "dv_kl"]
    assert ObjectiveConfig.of(name="dv_kl", negatives="one_view").negatives == "one_view"
    for name in ("infonce", "au", "spectral", "acl_exp"):
        with pytest.raises(ValueError, match=f"negatives='cross' is not allowed with objective '{name}'"):
            objectives.make(name, negatives="cross")


def test_with_objective_changes_only_the_objective():
    config = TrainConfig(epochs=3).with_objective(name="js", alpha=10)
    assert config.epochs == 3 and config.objective == ObjectiveConfig("js", alpha=10.0)
    assert config.resolved_objective.negatives == "two_view"
    assert TrainConfig(method="mocov3").resolved_objective.negatives == "cross"
