"""The explorers: headless, each returns the figure whose plotted numbers are the package's at the
defaults; with widgets, the layout has the named controls and moving one redraws with the new
numbers; the switch between the two; and every bad value is a one-line error naming it."""

import math
import re
import sys
from pathlib import Path
from types import SimpleNamespace

import ipywidgets
import numpy as np
import pytest
import torch
from matplotlib.figure import Figure
from scipy.spatial.distance import pdist

from analysis.coordinate.pair_weights import fmicl_weights
from analysis.explorers import frontend
from analysis.explorers import gaussian as gaussian_explorer
from analysis.explorers import mixture as mixture_explorer
from analysis.explorers.frontend import Control, explore, front_end, use_widgets
from analysis.explorers.gaussian import explore_gaussian, true_slope
from analysis.explorers.mixture import explore_gmm
from analysis.explorers.objectives import POINTS, explore_objectives
from analysis.explorers.simplex import explore_simplex
from analysis.gaussian.thickened import target_slope
from analysis.mixtures.encoder import EncoderTraining
from analysis.simplex.negative_term import minimise_negative_term
from fmicl_core import divergences
from fmicl_core.objective_config import DEFAULTS

pytestmark = pytest.mark.usefixtures("one_torch_thread")

ROOT = Path(__file__).resolve().parent.parent
D_GRID = torch.linspace(0.0, 4.0, POINTS, dtype=torch.float64)


def line(ax, label: str) -> np.ndarray:
    """The y data of the line labelled ``label`` on ``ax``."""
    found = [ln for ln in ax.lines if ln.get_label() == label]
    assert len(found) == 1, f"no single line {label!r} among {[ln.get_label() for ln in ax.lines]}"
    return np.asarray(found[0].get_ydata())


# --- the notebooks extra ----------------------------------------------------------------------------


def test_notebooks_extra_matches_environment_and_readme():
    tomllib = pytest.importorskip("tomllib", reason="tomllib is in the standard library from Python 3.11")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    assert [re.split("[<>=]", r)[0] for r in extras["notebooks"]] == ["jupyterlab", "jupytext", "ipywidgets"]
    assert "ipywidgets>=8" in extras["dev"]  # the explorers' widget tests run in the test suite
    environment = (ROOT / "environment.yml").read_text()
    listed = set(re.findall(r"^\s+- (\S+)$", environment, re.MULTILINE))
    conda_names = {"torch": "pytorch"}
    for requirement in project["dependencies"] + extras["notebooks"]:
        name = re.split("[<>=]", requirement)[0]
        assert requirement.replace(name, conda_names.get(name, name), 1) in listed, requirement
    assert '-e ".[dev,notebooks]"' in environment
    readme = (ROOT / "README.md").read_text()
    quick_start = readme.index("## Quick start")
    block = readme.index('```bash\npip install -e ".[notebooks]"\njupyter lab notebooks/\n```')
    assert quick_start < readme.index("### Explore in JupyterLab") < block < readme.index("## Layers")


# --- the switch -------------------------------------------------------------------------------------


def kernel(monkeypatch, shell) -> None:
    """Pretend that IPython's running shell is ``shell``."""
    monkeypatch.setitem(sys.modules, "IPython", SimpleNamespace(get_ipython=lambda: shell))


def test_detection(monkeypatch):
    monkeypatch.delenv("FMICL_NOTEBOOK", raising=False)
    assert front_end() is False and use_widgets(None) is False  # pytest: no kernel
    kernel(monkeypatch, SimpleNamespace(kernel=SimpleNamespace(comm_manager=object())))
    assert front_end() is True and use_widgets(None) is True
    monkeypatch.setenv("FMICL_NOTEBOOK", "00_objectives_zoo")  # run headless by analysis.reproduce
    assert front_end() is False
    monkeypatch.delenv("FMICL_NOTEBOOK")
    kernel(monkeypatch, SimpleNamespace())  # a terminal IPython: no kernel, no comms
    assert front_end() is False
    assert use_widgets(False) is False and use_widgets(True) is True


def test_without_ipywidgets(monkeypatch):
    kernel(monkeypatch, SimpleNamespace(kernel=SimpleNamespace(comm_manager=object())))
    find_spec = frontend.importlib.util.find_spec
    monkeypatch.setattr(frontend.importlib.util, "find_spec",
                        lambda name, *a: None if name == "ipywidgets" else find_spec(name, *a))
    assert front_end() is False
    with pytest.raises(ValueError, match=r'interactive=True needs ipywidgets.*pip install -e "\.\[notebooks\]"'):
        use_widgets(True)


@pytest.mark.parametrize("bad", ["yes", 1, 0.0])
def test_interactive_must_be_a_bool_or_none(bad):
    with pytest.raises(ValueError, match=rf"interactive={bad!r} is not allowed"):
        use_widgets(bad)


def test_a_refused_value_shows_its_message_instead_of_a_figure(capsys):
    def draw(fig, x):
        if x == 5:
            raise ValueError("x=5 is refused")
        fig.add_subplot().plot([0, x])

    layout = explore(draw, (Control("x", "x", 0, 10, 1),), {"x": 1}, True, (2.0, 2.0))
    assert layout.figure.axes[0].lines[0].get_ydata()[1] == 1
    layout.controls["x"].value = 5
    assert layout.figure.axes == [] and "x=5 is refused" in capsys.readouterr().out
    layout.controls["x"].value = 7
    assert layout.figure.axes[0].lines[0].get_ydata()[1] == 7


@pytest.mark.parametrize("call, named", [
    (lambda: explore_objectives(divergence="renyi"), "'renyi'"),
    (lambda: explore_objectives(sigma=-1.0), "sigma=-1.0"),
    (lambda: explore_objectives(sigma=float("nan")), "sigma=nan"),
    (lambda: explore_objectives(alpha=1e9), "alpha=1000000000.0"),
    (lambda: explore_objectives(mu=0.0), "mu=0.0"),
    (lambda: explore_objectives(similarity="dot"), "'dot'"),
    (lambda: explore_simplex(n=11), "n=11"),
    (lambda: explore_simplex(n=2.5), "n=2.5"),
    (lambda: explore_simplex(d=True), "d=True"),
    (lambda: explore_simplex(divergence="rkl2"), "'rkl2'"),
    (lambda: explore_gaussian(kappa=0.0), "kappa=0.0"),
    (lambda: explore_gaussian(d=1), "d=1"),
    (lambda: explore_gaussian(n=100), "n=100"),
    (lambda: explore_gaussian(prior="laplace"), "'laplace'"),
    (lambda: explore_gmm(delta=0.0), "delta=0.0"),
    (lambda: explore_gmm(weight_ratio=0.5), "weight_ratio=0.5"),
    (lambda: explore_gmm(anisotropy="high"), "anisotropy='high'"),
    (lambda: explore_gmm(interactive="auto"), "interactive='auto'"),
])
def test_bad_values_are_named(call, named):
    with pytest.raises(ValueError, match=named.replace("(", r"\(").replace(".", r"\.")) as err:
        call()
    assert "\n" not in str(err.value)


# --- objectives -------------------------------------------------------------------------------------


def test_objectives_headless_plots_the_closed_forms():
    fig = explore_objectives()
    assert isinstance(fig, Figure) and len(fig.axes) == 3
    kl, c, mu, alpha = divergences.get("kl"), DEFAULTS.c, DEFAULTS.mu, DEFAULTS.alpha
    np.testing.assert_allclose(line(fig.axes[0], "A(d) = f'(G)"), 1.0 + math.log(mu) - c * D_GRID.numpy(),
                               rtol=0, atol=1e-12)  # f-MICL Table 1: A_KL = 1 + log mu - c d
    np.testing.assert_allclose(line(fig.axes[0], "h(d) = B(d) = f*(f'(G))"), kl.B(D_GRID, c, mu).numpy(), rtol=1e-12)
    np.testing.assert_allclose(line(fig.axes[1], "h''(d)"), mu * c**2 * np.exp(-c * D_GRID.numpy()), rtol=1e-12)
    closed = fmicl_weights("kl", torch.zeros(1), D_GRID[None, :] / 2.0, c, mu, alpha).alpha[0] * POINTS
    np.testing.assert_allclose(line(fig.axes[2], "α_ij"), closed.numpy(), rtol=1e-12)  # 2 alpha c G^2 f''(G)
    assert "Theorem 3 applies" in fig.axes[1].get_title()
    assert len(fig.axes[0].lines) == 2  # KL is the special case itself: nothing overlaid


@pytest.mark.parametrize("name", divergences.names())
def test_objectives_uniformity_verdict_and_pair_weight(name):
    fig = explore_objectives(divergence=name, sigma=0.5, mu=2.0, alpha=3.0)
    div, c = divergences.get(name), 1.0 / (2.0 * 0.5**2)
    applies = "Theorem 3 applies" in fig.axes[1].get_title()
    assert applies == div.uniformity_guaranteed  # the registry's shape of h, f-MICL Theorem 3
    np.testing.assert_allclose(line(fig.axes[0], "A(d) = f'(G)"), div.A(D_GRID, c, 2.0).numpy(), rtol=1e-10)
    special = "h(d) = B(d) = f*(f'(G))" if name == "kl" else "KL (InfoNCE, AU): h = un-logged uniformity"
    np.testing.assert_allclose(line(fig.axes[0], special), 2.0 * np.exp(-c * D_GRID.numpy()), rtol=1e-12)
    closed = fmicl_weights(name, torch.zeros(1), D_GRID[None, :] / 2.0, c, 2.0, 3.0).alpha[0] * POINTS
    np.testing.assert_allclose(line(fig.axes[2], "α_ij"), closed.numpy(), rtol=1e-9)


def test_objectives_widgets_redraw():
    layout = explore_objectives(interactive=True)
    assert isinstance(layout, ipywidgets.VBox)
    assert list(layout.controls) == ["divergence", "sigma", "alpha", "mu", "similarity"]
    assert isinstance(layout.controls["sigma"], ipywidgets.FloatLogSlider)
    assert layout.controls["divergence"].options == divergences.names()
    fig = layout.figure
    layout.controls["sigma"].value = 0.5  # c = 2
    np.testing.assert_allclose(line(fig.axes[0], "A(d) = f'(G)"), 1.0 - 2.0 * D_GRID.numpy(), atol=1e-12)
    layout.controls["divergence"].value = "neyman"
    assert "outside Theorem 3" in fig.axes[1].get_title()
    layout.controls["similarity"].value = "cosine"  # s = g_f(cos / tau), tau = sigma^2
    cosine = (1.0 - D_GRID / 2.0) / 0.25
    np.testing.assert_allclose(line(fig.axes[0], "A(d) = f'(G)"),
                               divergences.get("neyman").activation(cosine).numpy(), rtol=1e-12)


# --- simplex ----------------------------------------------------------------------------------------


def test_simplex_headless_plots_the_minimiser():
    fig = explore_simplex()
    result = minimise_negative_term("kl", 4, 3)
    assert fig.axes[0].name == "3d"
    np.testing.assert_allclose(line(fig.axes[1], "minimiser's pairs"), np.sort(pdist(result.points, "sqeuclidean")))
    np.testing.assert_allclose(line(fig.axes[1], "minimiser's pairs"), 8.0 / 3.0, rtol=1e-6)  # the regular simplex
    heights = [p.get_height() for p in fig.axes[2].patches]
    assert heights == [result.value, result.simplex_value]
    assert heights[1] == pytest.approx(math.exp(-8.0 / 3.0), rel=1e-12)  # h(2N/(N-1)), KL, c = mu = 1


def test_simplex_widgets_redraw():
    layout = explore_simplex(interactive=True)
    assert list(layout.controls) == ["n", "d", "divergence"]
    assert isinstance(layout.controls["n"], ipywidgets.IntSlider) and layout.controls["n"].max == 10
    layout.controls["d"].value = 4  # not 3: the Gram matrix instead of the sphere
    fig = layout.figure
    assert fig.axes[0].name != "3d" and len(fig.axes[0].images) == 1
    expected = minimise_negative_term("kl", 4, 4)
    np.testing.assert_allclose(fig.axes[0].images[0].get_array(), expected.points @ expected.points.T)
    layout.controls["n"].value = 6  # N > d + 1: no simplex
    assert len(line(fig.axes[1], "minimiser's pairs")) == 15
    assert "N > d + 1" in fig.axes[2].get_title()
    layout.controls["divergence"].value = "neyman"
    assert "h is concave: outside Theorem 3" in fig.axes[2].get_title()


# --- the Gaussian check -----------------------------------------------------------------------------


def test_true_slope_is_the_exact_slope_of_the_thickened_vmf_joint():
    assert true_slope(4.0, 3) == target_slope(3, 4.0, gaussian_explorer.NOISE, n=5000)
    assert true_slope(4.0, 3, 0.0) == -2.0  # -kappa/2: the vMF kernel exp(kappa x.y) in ||x - y||^2


@pytest.fixture
def verify_calls(monkeypatch):
    """The results of every call of verify_gaussian made by the explorer."""
    calls = []
    real = gaussian_explorer.verify_gaussian

    def spy(x, y, *args, **kwargs):
        calls.append(SimpleNamespace(x=x, result=real(x, y, *args, **kwargs), args=args, kwargs=kwargs))
        return calls[-1].result

    monkeypatch.setattr(gaussian_explorer, "verify_gaussian", spy)
    return calls


def test_gaussian_headless_plots_the_check(verify_calls):
    fig = explore_gaussian()
    (call,) = verify_calls
    assert call.x.shape == (1000, 3) and call.args == ("gaussian",)
    slope = fig.axes[1].lines[0].get_ydata()[0]
    assert slope == call.result.slope
    truth = [ln for ln in fig.axes[1].lines if ln.get_label() == "truth"][0].get_ydata()[0]
    assert truth == target_slope(3, 4.0, call.kwargs["noise"], n=5000)
    np.testing.assert_allclose(fig.axes[0].collections[0].get_offsets(),
                               np.column_stack([call.result.distances, call.result.loglik]))


def test_gaussian_widgets_redraw(verify_calls, monkeypatch):
    monkeypatch.setattr(gaussian_explorer, "CHECK_OPTIONS", dict(gaussian_explorer.CHECK_OPTIONS, epochs=2, bootstrap=100))
    layout = explore_gaussian(interactive=True)
    assert list(layout.controls) == ["kappa", "d", "n", "prior"]
    layout.controls["kappa"].value = 16.0
    layout.controls["prior"].value = "uniform"
    assert [c.args for c in verify_calls] == [("gaussian",), ("gaussian",), ("uniform",)]
    fig = layout.figure
    assert fig.axes[1].lines[0].get_ydata()[0] == verify_calls[-1].result.slope
    truth = [ln for ln in fig.axes[1].lines if ln.get_label() == "truth"][0].get_ydata()[0]
    assert truth == target_slope(3, 16.0, gaussian_explorer.NOISE, n=5000)


# --- the Gaussian mixture ---------------------------------------------------------------------------


@pytest.fixture
def compare_calls(monkeypatch):
    """The mixtures and rows of every call of methods.compare made by the explorer."""
    calls = []
    real = mixture_explorer.methods.compare

    def spy(gmm, *args, **kwargs):
        calls.append(SimpleNamespace(gmm=gmm, rows={s.method: s for s in real(gmm, *args, **kwargs)}))
        return list(calls[-1].rows.values())

    monkeypatch.setattr(mixture_explorer.methods, "compare", spy)
    return calls


def test_gmm_headless_plots_the_angles(compare_calls):
    fig = explore_gmm()
    (call,) = compare_calls
    assert call.gmm.delta == 1.0 and np.allclose(call.gmm.pi, 0.25)
    eig = np.linalg.eigvalsh(call.gmm.cov)
    assert eig.max() / eig.min() == pytest.approx(100.0, rel=1e-9)
    bars = fig.axes[0].containers
    for container, name in zip(bars, mixture_explorer.SHOWN):
        assert [p.get_height() for p in container] == list(call.rows[name].angles)
    assert call.rows["infonce"].max_angle < 10.0 < call.rows["pca"].max_angle  # Bansal et al.: InfoNCE finds Fisher
    assert [p.get_height() for p in fig.axes[1].patches] == [call.rows[n].nmi for n in ("infonce", "pca", "lda", "raw")]


def test_gmm_widgets_redraw(compare_calls, monkeypatch):
    monkeypatch.setattr(mixture_explorer, "TRAINING", EncoderTraining(steps=20, batch=64))
    layout = explore_gmm(interactive=True)
    assert list(layout.controls) == ["delta", "weight_ratio", "anisotropy"]
    layout.controls["delta"].value = 0.5
    layout.controls["weight_ratio"].value = 4.0
    last = compare_calls[-1]
    assert last.gmm.delta == 0.5
    assert last.gmm.pi.max() / last.gmm.pi.min() == pytest.approx(4.0)
    np.testing.assert_allclose(last.gmm.pi @ last.gmm.means, 0.0, atol=1e-12)  # centred under the new weights
    heights = [p.get_height() for p in layout.figure.axes[0].containers[0]]
    assert heights == list(last.rows["infonce"].angles)
