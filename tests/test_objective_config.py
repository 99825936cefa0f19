"""One objective config: every default written once, validated once, typos refused; and the
validators behind every public function (bools, complex numbers and non-finite values refused;
numpy scalars and 0-d tensors accepted)."""

import inspect
import math

import numpy as np
import pytest
import torch

from fmicl_core import alpha_cl, losses, objectives, similarity, validation
from fmicl_core.config import TrainConfig
from fmicl_core.objective_config import BASELINES, DEFAULTS, ObjectiveConfig, names


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
    with pytest.raises(ValueError, match="unknown objective hyper-parameter 'aplha'") as err:
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


def test_with_objective_changes_only_the_objective():
    config = TrainConfig(epochs=3).with_objective(name="js", alpha=10)
    assert config.epochs == 3 and config.objective == ObjectiveConfig("js", alpha=10.0)
    assert config.resolved_objective.negatives == "two_view"
    assert TrainConfig(method="mocov3").resolved_objective.negatives == "cross"
