"""Bad input to the objective family (losses, divergences, similarities, the Gram product, the
objective config, alpha-CL, the gather): each case is one call that must raise the given exception
with a one-line message naming the bad value."""

import math

import numpy as np
import pytest
import torch

from fmicl_core import alpha_cl, objectives, similarity
from fmicl_core import divergences as D
from fmicl_core.distributed import gather
from fmicl_core.gram import affine_gram
from fmicl_core.losses import (FMICLLoss, align_loss, au_loss, dv_kl_loss, fmicl_loss, fmicl_terms, infonce_loss,
                               spectral_loss, uniform_loss)
from fmicl_core.objective_config import ObjectiveConfig

_g = torch.Generator().manual_seed(0)
Z1, Z2 = torch.randn(6, 4, generator=_g), torch.randn(6, 4, generator=_g)
QUEUE = torch.randn(5, 4, generator=_g)


def with_row(z, row, value):
    """A copy of ``z`` whose ``row`` is ``value`` (a number or a list)."""
    z = z.clone()
    z[row] = torch.as_tensor(value, dtype=z.dtype)
    return z


NAN, INF = with_row(Z1, 3, math.nan), with_row(Z2, 1, math.inf)
ZERO1, ZERO2 = with_row(Z1, 2, 0.0), with_row(Z2, 4, 0.0)
D2 = torch.rand(3, 4, generator=_g)

CASES = {
    # embeddings of fmicl_loss: floating, 2-D, non-empty, finite, no zero row, torch, matching
    "width 0": (lambda: fmicl_loss(torch.randn(6, 0), torch.randn(6, 0)), ValueError, "shape (6, 0)"),
    "zero row": (lambda: fmicl_loss(ZERO1, Z2), ValueError, "z1 row 2 is all zeros"),
    "zero rows": (lambda: fmicl_loss(torch.zeros(6, 4), torch.zeros(6, 4)), ValueError, "z1 row 0 is all zeros"),
    "int": (lambda: fmicl_loss(Z1.long(), Z2.long()), ValueError, "torch.int64"),
    "bool": (lambda: fmicl_loss(Z1 > 0, Z2 > 0), ValueError, "torch.bool"),
    "complex": (lambda: fmicl_loss(Z1.to(torch.complex64), Z2), ValueError, "torch.complex64"),
    "numpy": (lambda: fmicl_loss(Z1.numpy(), Z2.numpy()), ValueError, "z1 is a ndarray"),
    "list": (lambda: fmicl_loss(Z1.tolist(), Z2), ValueError, "z1 is a list"),
    "nan": (lambda: fmicl_loss(NAN, Z2), ValueError, "z1 contains NaN"),
    "inf": (lambda: fmicl_loss(Z1, INF), ValueError, "z2 contains NaN or inf"),
    "1-D": (lambda: fmicl_loss(Z1[0], Z2[0]), ValueError, "shape (4,)"),
    "3-D": (lambda: fmicl_loss(Z1.view(2, 3, 4), Z2.view(2, 3, 4)), ValueError, "shape (2, 3, 4)"),
    "one row": (lambda: fmicl_loss(Z1[:1], Z2[:1]), ValueError, "N=1"),
    "rows differ": (lambda: fmicl_loss(Z1, Z2[:5]), ValueError, "(6, 4) but z2 has (5, 4)"),
    "z2 missing": (lambda: fmicl_loss(Z1, None), ValueError, "z2 is None"),
    "z1 missing": (lambda: fmicl_terms(None, Z2), ValueError, "z1 is a NoneType"),
    # hyper-parameters of fmicl_loss
    "alpha bool": (lambda: fmicl_loss(Z1, Z2, alpha=True), ValueError, "alpha=True"),
    "alpha 0": (lambda: fmicl_loss(Z1, Z2, alpha=0), ValueError, "alpha=0"),
    "alpha huge": (lambda: fmicl_loss(Z1, Z2, alpha=1e8), ValueError, "alpha=100000000.0"),
    "alpha str": (lambda: fmicl_loss(Z1, Z2, alpha="40"), ValueError, "alpha='40'"),
    "alpha nan": (lambda: fmicl_loss(Z1, Z2, alpha=math.nan), ValueError, "alpha=nan"),
    "alpha complex": (lambda: fmicl_loss(Z1, Z2, alpha=1 + 2j), ValueError, "alpha=(1+2j)"),
    "alpha vector": (lambda: fmicl_loss(Z1, Z2, alpha=torch.ones(2)), ValueError, "alpha=tensor([1., 1.])"),
    "sigma 1e-30": (lambda: fmicl_loss(Z1, Z2, sigma=1e-30), ValueError, "sigma=1e-30"),
    "sigma 0": (lambda: fmicl_loss(Z1, Z2, sigma=0), ValueError, "sigma=0"),
    "sigma numpy": (lambda: fmicl_loss(Z1, Z2, sigma=np.float32(-1)), ValueError, "sigma=-1.0"),
    "sigma unused": (lambda: fmicl_loss(Z1, Z2, similarity="cosine", sigma=-1.0), ValueError, "sigma=-1.0"),
    "mu 1e20": (lambda: fmicl_loss(Z1, Z2, "pearson", mu=1e20), ValueError, "mu=1e+20"),
    "mu negative": (lambda: fmicl_loss(Z1, Z2, mu=-1), ValueError, "mu=-1"),
    "temperature small": (lambda: fmicl_loss(Z1, Z2, "sh", "cosine", temperature=0.001), ValueError,
                          "temperature=0.001"),
    "temperature bool": (lambda: fmicl_loss(Z1, Z2, temperature=False), ValueError, "temperature=False"),
    "divergence": (lambda: fmicl_loss(Z1, Z2, "kullback"), ValueError, "'kullback'"),
    "divergence int": (lambda: fmicl_loss(Z1, Z2, 3), ValueError, "divergence 3"),
    "similarity": (lambda: fmicl_loss(Z1, Z2, similarity="dot"), ValueError, "'dot'"),
    "negatives": (lambda: fmicl_loss(Z1, Z2, negatives="bogus"), ValueError, "'bogus'"),
    "negatives bogus, queue": (lambda: fmicl_loss(Z1, Z2, negatives="bogus", queue=QUEUE), ValueError, "'bogus'"),
    "negatives with queue": (lambda: fmicl_loss(Z1, Z2, negatives="cross", queue=QUEUE), ValueError,
                             "negatives='cross' is not allowed with a queue"),
    "gather_all int": (lambda: fmicl_loss(Z1, Z2, gather_all=1), ValueError, "gather_all=1"),
    "misspelt keyword": (lambda: fmicl_loss(Z1, Z2, aplha=1.0), TypeError, "'aplha'"),
    # the queue (MoCo form)
    "queue width": (lambda: fmicl_loss(Z1, Z2, queue=QUEUE[:, :3]), ValueError, "queue has width 3"),
    "queue nan": (lambda: fmicl_loss(Z1, Z2, queue=with_row(QUEUE, 0, math.nan)), ValueError, "queue contains NaN"),
    "queue zero row": (lambda: fmicl_loss(Z1, Z2, queue=with_row(QUEUE, 0, 0.0)), ValueError, "queue row 0"),
    "queue int": (lambda: infonce_loss(Z1, Z2, queue=QUEUE.int()), ValueError, "queue has dtype torch.int32"),
    "queue numpy": (lambda: FMICLLoss()(Z1, Z2, queue=QUEUE.numpy()), ValueError, "queue is a ndarray"),
    "queue 1-D": (lambda: infonce_loss(Z1, Z2, queue=QUEUE[0]), ValueError, "queue has shape (4,)"),
    # FMICLLoss
    "config str": (lambda: FMICLLoss("kl"), ValueError, "config='kl'"),
    "config baseline": (lambda: FMICLLoss(ObjectiveConfig("infonce")), ValueError, "'infonce'"),
    "module gather_all": (lambda: FMICLLoss(gather_all="yes"), ValueError, "gather_all='yes'"),
    "module int": (lambda: FMICLLoss()(Z1.long(), Z2), ValueError, "torch.int64"),
    "module zero row": (lambda: FMICLLoss()(Z1, ZERO2), ValueError, "z2 row 4 is all zeros"),
    "module keyword": (lambda: FMICLLoss(alpha=1.0), TypeError, "'alpha'"),
    # infonce_loss
    "infonce temperature 0": (lambda: infonce_loss(Z1, Z2, 0.0), ValueError, "temperature=0.0"),
    "infonce temperature huge": (lambda: infonce_loss(Z1, Z2, 1e3), ValueError, "temperature=1000.0"),
    "include_positive": (lambda: infonce_loss(Z1, Z2, include_positive="no"), ValueError, "include_positive='no'"),
    "infonce zero row": (lambda: infonce_loss(Z1, ZERO2), ValueError, "z2 row 4"),
    "infonce complex": (lambda: infonce_loss(Z1.to(torch.complex64), Z2), ValueError, "torch.complex64"),
    # align_loss, uniform_loss, au_loss
    "align nan": (lambda: align_loss(NAN, Z2), ValueError, "x contains NaN"),
    "align alpha": (lambda: align_loss(Z1, Z2, alpha=0.5), ValueError, "alpha=0.5"),
    "align shapes": (lambda: align_loss(Z1, Z2[:, :3]), ValueError, "y has (6, 3)"),
    "align int": (lambda: align_loss(Z1.int(), Z2), ValueError, "x has dtype torch.int32"),
    "uniform nan": (lambda: uniform_loss(NAN), ValueError, "x contains NaN"),
    "uniform t": (lambda: uniform_loss(Z1, t=-1), ValueError, "t=-1"),
    "uniform t bool": (lambda: uniform_loss(Z1, t=True), ValueError, "t=True"),
    "uniform one row": (lambda: uniform_loss(Z1[:1]), ValueError, "N=1"),
    "au t": (lambda: au_loss(Z1, Z2, t=0), ValueError, "t=0"),
    "au zero row": (lambda: au_loss(ZERO1, Z2), ValueError, "z1 row 2"),
    # spectral_loss and dv_kl_loss
    "spectral bool": (lambda: spectral_loss(Z1 > 0, Z2 > 0), ValueError, "torch.bool"),
    "spectral one row": (lambda: spectral_loss(Z1[:1], Z2[:1]), ValueError, "N=1"),
    "spectral inf": (lambda: spectral_loss(Z1, INF), ValueError, "z2 contains NaN or inf"),
    "dv_kl negatives": (lambda: dv_kl_loss(Z1, Z2, negatives="all"), ValueError, "'all'"),
    "dv_kl sigma": (lambda: dv_kl_loss(Z1, Z2, sigma=1e-30), ValueError, "sigma=1e-30"),
    "dv_kl gather_all": (lambda: dv_kl_loss(Z1, Z2, gather_all=None), ValueError, "gather_all=None"),
    # alpha-CL
    "acl kind": (lambda: alpha_cl.alpha_cl_loss(Z1, Z2, "cubic"), ValueError, "'cubic'"),
    "acl temperature": (lambda: alpha_cl.alpha_cl_loss(Z1, Z2, temperature=0.001), ValueError, "temperature=0.001"),
    "acl numpy": (lambda: alpha_cl.alpha_cl_loss(Z1.numpy(), Z2), ValueError, "z1 is a ndarray"),
    "acl exponent": (lambda: alpha_cl.alpha_weights(D2, alpha_exponent=0), ValueError, "alpha_exponent=0"),
    "acl eps": (lambda: alpha_cl.dual2_weights(D2, alpha_eps=-1), ValueError, "alpha_eps=-1"),
    "acl eps huge": (lambda: alpha_cl.dual2_weights(D2, alpha_eps=1e3), ValueError, "alpha_eps=1000.0"),
    "acl weights kind": (lambda: alpha_cl.alpha_weights(D2, "cubic"), ValueError, "'cubic'"),
    "acl loss_fn kind": (lambda: alpha_cl.loss_fn("cubic"), ValueError, "'cubic'"),
    "acl loss_fn config": (lambda: alpha_cl.loss_fn("exp", {"temperature": 0.5}), ValueError,
                           "config={'temperature': 0.5}"),
    "acl distances": (lambda: alpha_cl.two_view_distances(Z1, Z2[:4]), ValueError, "(6, 4) but z2 has (4, 4)"),
    # objectives.make and Objective
    "make misspelt": (lambda: objectives.make("kl", aplha=1.0), ValueError, "'aplha'"),
    "make negatives": (lambda: objectives.make("infonce", negatives="cross"), ValueError, "negatives='cross'"),
    "make beside config": (lambda: objectives.make(ObjectiveConfig("kl"), alpha=1.0), ValueError, "'alpha'"),
    "make name": (lambda: objectives.make("kullback"), ValueError, "'kullback'"),
    "make gather_all": (lambda: objectives.make("kl", gather_all="yes"), ValueError, "gather_all='yes'"),
    "make config": (lambda: objectives.make(42), ValueError, "config=42"),
    "queue without form": (lambda: objectives.make("au")(Z1, Z2, QUEUE), ValueError, "objective 'au'"),
    "fn int": (lambda: objectives.make("kl").fn(Z1.long(), Z2), ValueError, "torch.int64"),
    "fn numpy": (lambda: objectives.make("spectral").fn(Z1.numpy(), Z2.numpy()), ValueError, "ndarray"),
    "fn zero row": (lambda: objectives.make("acl_exp").fn(ZERO1, Z2), ValueError, "z1 row 2"),
    "fn au nan": (lambda: objectives.make("au").fn(Z1, INF), ValueError, "z2 contains NaN"),
    "fn dv_kl width 0": (lambda: objectives.make("dv_kl").fn(Z1[:, :0], Z2[:, :0]), ValueError, "shape (6, 0)"),
    "fn infonce queue": (lambda: objectives.make("infonce")(Z1, Z2, with_row(QUEUE, 1, 0.0)), ValueError,
                         "queue row 1"),
    # ObjectiveConfig
    "config alpha bool": (lambda: ObjectiveConfig(alpha=True), ValueError, "alpha=True"),
    "config sigma": (lambda: ObjectiveConfig(sigma=1e-30), ValueError, "sigma=1e-30"),
    "config sigma huge": (lambda: ObjectiveConfig(sigma=1e200), ValueError, "sigma=1e+200"),
    "config mu": (lambda: ObjectiveConfig(mu=1e20), ValueError, "mu=1e+20"),
    "config beta": (lambda: ObjectiveConfig("tsallis", beta=6), ValueError, "beta=6"),
    "config temperature": (lambda: ObjectiveConfig(temperature=0.001), ValueError, "temperature=0.001"),
    "config t": (lambda: ObjectiveConfig(uniformity_t=0), ValueError, "uniformity_t=0"),
    "config exponent": (lambda: ObjectiveConfig(alpha_exponent=100), ValueError, "alpha_exponent=100"),
    "config eps": (lambda: ObjectiveConfig(alpha_eps=-1), ValueError, "alpha_eps=-1"),
    "config negatives": (lambda: ObjectiveConfig(negatives="all"), ValueError, "'all'"),
    "config name": (lambda: ObjectiveConfig("kullback"), ValueError, "'kullback'"),
    "config keyword": (lambda: ObjectiveConfig.of(sgima=1.0), ValueError, "'sgima'"),
    "config sigma None": (lambda: ObjectiveConfig(sigma=None), ValueError, "sigma=None"),
    # similarities
    "similarity name": (lambda: similarity.get("dot"), ValueError, "'dot'"),
    "similarity sigma": (lambda: similarity.get("gaussian", sigma=1e-30), ValueError, "sigma=1e-30"),
    "similarity temperature": (lambda: similarity.get("cosine", temperature=-1), ValueError, "temperature=-1"),
    "similarity keyword": (lambda: similarity.get("cosine", tau=0.5), TypeError, "'tau'"),
    "f-Gaussian mu": (lambda: similarity.FGaussian(mu=0), ValueError, "mu=0"),
    "cosine str": (lambda: similarity.Cosine(temperature="0.5"), ValueError, "temperature='0.5'"),
    # divergences
    "divergence name": (lambda: D.get("hellinger2"), ValueError, "'hellinger2'"),
    "divergence parameter": (lambda: D.get("kl", beta=2.0), ValueError, "'beta'"),
    "tsallis order": (lambda: D.get("tsallis", beta=1.0), ValueError, "beta=1.0"),
    "tsallis keyword": (lambda: D.get("tsallis", bta=2.0), ValueError, "'bta'"),
    "built divergence": (lambda: D.get(D.get("kl"), beta=2.0), ValueError, "'beta'"),
    "A mu": (lambda: D.get("kl").A(torch.zeros(2), mu=0.0), ValueError, "mu=0.0"),
    "B c": (lambda: D.get("kl").B(torch.zeros(2), c=-1.0), ValueError, "c=-1.0"),
    # the Gram product and the gather
    "gram scale": (lambda: affine_gram(Z1, Z1, 1e60), ValueError, "scale=1e+60"),
    "gram offset": (lambda: affine_gram(Z1, Z2, 1.0, math.nan), ValueError, "offset=nan"),
    "gram int": (lambda: affine_gram(Z1.long(), Z2.long()), ValueError, "torch.int64"),
    "gather list": (lambda: gather([1.0]), ValueError, "list"),
}


@pytest.mark.parametrize("call,error,needle", CASES.values(), ids=CASES.keys())
def test_bad_input_is_a_one_line_error_naming_the_value(call, error, needle):
    with pytest.raises(error) as err:
        call()
    message = str(err.value)
    assert needle in message, message
    assert "\n" not in message


def test_there_are_many_cases():
    assert len(CASES) >= 70


@pytest.mark.parametrize("value", [np.float32(40), np.float64(40), np.int64(40), torch.tensor(40.0), 40])
def test_numpy_and_tensor_scalars_are_numbers(value):
    expected = fmicl_loss(Z1, Z2, alpha=40.0, sigma=0.5, temperature=0.5)
    assert torch.equal(fmicl_loss(Z1, Z2, alpha=value, sigma=torch.tensor(0.5), temperature=np.float16(0.5)),
                       expected)
