"""The switch behind every explorer: ipywidgets controls around a figure where a Jupyter front end
shows widgets, the figure itself anywhere else.

An explorer is a drawing function ``draw(fig, **values)`` and one :class:`Control` per value.
:func:`explore` checks the values against their controls, then

- with widgets (:func:`use_widgets`): returns an ``ipywidgets.VBox`` of the controls above an
  ``Output`` that shows the figure, redrawn whenever a control changes
  (``ipywidgets.interactive_output``); the box also carries ``controls`` (name -> widget) and
  ``figure``;
- without (a script, the tests, a notebook executed headless, the rendered book): draws the
  figure at the values and returns it.

Widgets are used when ipywidgets is installed (the ``notebooks`` extra) and the code runs in an
IPython kernel with a comm manager (a Jupyter front end), unless the notebook is being run
headless by ``python -m analysis.reproduce``, which sets ``FMICL_NOTEBOOK``: its kernel has a comm
manager too, but no front end to draw the widgets.
"""

from __future__ import annotations

import importlib.util
import math
import os
import sys
from dataclasses import dataclass
from typing import Any, Callable

from analysis.explorers.plots import new_figure
from fmicl_core import validation

__all__ = ["Control", "explore", "front_end", "use_widgets"]

INSTALL = 'pip install -e ".[notebooks]"'


@dataclass(frozen=True)
class Control:
    """A named value and the widget that sets it: a dropdown of ``options``, else a slider over
    ``[low, high]`` in steps of ``step`` (integers when all three are ints; with ``log``, a
    base-10 log slider whose ``step`` is in decades)."""

    name: str
    label: str
    low: float = 0.0
    high: float = 1.0
    step: float = 0.1
    options: tuple[str, ...] = ()
    log: bool = False

    @property
    def integer(self) -> bool:
        return all(isinstance(v, int) for v in (self.low, self.high, self.step))

    def check(self, value: object) -> object:
        """``value`` if this control can show it, else a one-line ``ValueError`` naming it."""
        if self.options:
            return validation.choice(self.name, value, self.options)
        if self.integer:
            return validation.integer(self.name, value, self.low, self.high)
        return validation.at_least(self.name, value, self.low, self.high)

    def widget(self, value: object):
        """The ipywidgets control, set to ``value``."""
        import ipywidgets as w

        common = dict(value=value, description=self.label, style={"description_width": "initial"})
        if self.options:
            return w.Dropdown(options=self.options, **common)
        slider = dict(step=self.step, continuous_update=False, **common)
        if self.integer:
            return w.IntSlider(min=self.low, max=self.high, **slider)
        if self.log:
            return w.FloatLogSlider(base=10, min=math.log10(self.low), max=math.log10(self.high),
                                    readout_format=".3g", **slider)
        return w.FloatSlider(min=self.low, max=self.high, readout_format=".3g", **slider)


def front_end() -> bool:
    """Whether widgets can be shown here (module docstring): ipywidgets importable, an IPython
    kernel with a comm manager running, and no headless run of ``analysis.reproduce``."""
    if os.environ.get("FMICL_NOTEBOOK") or importlib.util.find_spec("ipywidgets") is None:
        return False
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    return getattr(getattr(shell, "kernel", None), "comm_manager", None) is not None


def use_widgets(interactive: object) -> bool:
    """``interactive`` checked: True (widgets; needs ipywidgets), False (the figure) or None
    (:func:`front_end` decides)."""
    if interactive is None:
        return front_end()
    if not isinstance(interactive, bool):
        raise ValueError(f"interactive={interactive!r} is not allowed; it must be True, False or None (detect)")
    if interactive and importlib.util.find_spec("ipywidgets") is None:
        raise ValueError(f"interactive=True needs ipywidgets, which is not installed; {INSTALL}")
    return interactive


def explore(draw: Callable[..., None], controls: tuple[Control, ...], values: dict[str, object],
            interactive: object, figsize: tuple[float, float]) -> Any:
    """The explorer of ``draw`` (module docstring): the figure at ``values``, or the widgets
    around it. A value that ``draw`` refuses while the controls move is shown as its one-line
    message in place of the figure."""
    values = {c.name: c.check(values[c.name]) for c in controls}
    widgets = use_widgets(interactive)
    fig = new_figure(figsize)
    if not widgets:
        draw(fig, **values)
        return fig
    import ipywidgets as w
    from IPython.display import display

    boxes = {c.name: c.widget(values[c.name]) for c in controls}

    def redraw(**current: object) -> None:
        fig.clear()
        try:
            draw(fig, **current)
        except ValueError as err:
            print(err)
            return
        display(fig)

    panel = w.HBox(list(boxes.values()), layout=w.Layout(flex_flow="row wrap"))
    layout = w.VBox([panel, w.interactive_output(redraw, boxes)])
    layout.controls, layout.figure = boxes, fig
    return layout
