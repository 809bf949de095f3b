"""Interactive figures that also render in a static book.

``interactive(fn, **controls)`` wires a plain plotting function ``fn(**values) -> Figure`` to
ipywidgets controls. One call serves both worlds:

* in JupyterLab (a live kernel with a widget frontend) the controls redraw ``fn`` in an
  ``Output`` area whenever a value changes;
* in a static render (papermill's executed copy, the jupyter-book site) the cell output also
  carries a PNG of ``fn(**defaults)``, so the page shows the figure for the default values. The
  book's ``_config.yml`` drops the widget-view MIME type, so the site shows that PNG.

Controls (keyword arguments, one per parameter of ``fn``):

=================================  ==========================================================
value                              control
=================================  ==========================================================
``(min, max, step)`` of numbers    slider (``IntSlider`` when all three are ints); default min
list, or tuple of non-numbers      dropdown; default the first option
``bool``                           checkbox; default the value given
:class:`Fixed` / anything else     passed through unchanged (no control)
=================================  ==========================================================

``defaults={"name": value}`` overrides the default of any control (it must be a valid value).
The callbacks themselves live in ``robustlab.book.plots`` and are tested as plain functions.
"""
from __future__ import annotations

import base64
import io
import numbers
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from robustlab.core.errors import ParameterError

__all__ = ["Slider", "Dropdown", "Checkbox", "Fixed", "parse_control", "default_values", "figure_png",
           "interactive", "Interactive"]


@dataclass(frozen=True)
class Slider:
    """A numeric slider from ``lo`` to ``hi`` in steps of ``step`` (ints → integer slider)."""

    lo: float
    hi: float
    step: float

    @property
    def integer(self) -> bool:
        return all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in (self.lo, self.hi, self.step))

    @property
    def default(self):
        return self.lo

    def validate(self, name: str, v: Any):
        if isinstance(v, bool) or not isinstance(v, numbers.Real) or not (self.lo <= v <= self.hi):
            raise ParameterError(f"control {name}={v!r}: must be a number in [{self.lo}, {self.hi}]")
        return int(v) if self.integer else float(v)


@dataclass(frozen=True)
class Dropdown:
    """A choice among ``options`` (any values; shown with ``str``)."""

    options: tuple

    @property
    def default(self):
        return self.options[0]

    def validate(self, name: str, v: Any):
        if v not in self.options:
            raise ParameterError(f"control {name}={v!r}: must be one of {list(self.options)}")
        return v


@dataclass(frozen=True)
class Fixed:
    """A value passed to the callback unchanged, without a control (also the base of :class:`Checkbox`)."""

    value: Any

    @property
    def default(self):
        return self.value

    def validate(self, name: str, v: Any):
        return v


@dataclass(frozen=True)
class Checkbox(Fixed):
    """A True/False toggle."""

    value: bool

    def validate(self, name: str, v: Any):
        if not isinstance(v, bool):
            raise ParameterError(f"control {name}={v!r}: must be True or False")
        return v


def _is_number(v: Any) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool)


def parse_control(name: str, spec: Any):
    """Turn a control specification (see module docstring) into a control object."""
    if isinstance(spec, (Slider, Dropdown, Checkbox, Fixed)):
        return spec
    if isinstance(spec, bool):
        return Checkbox(spec)
    if isinstance(spec, tuple) and len(spec) == 3 and all(_is_number(v) for v in spec):
        lo, hi, step = spec
        if not hi > lo or not step > 0:
            raise ParameterError(f"control {name}={spec!r}: a slider needs (min, max, step) with max > min "
                                 f"and step > 0")
        return Slider(lo, hi, step)
    if isinstance(spec, (list, tuple)):
        if len(spec) == 0:
            raise ParameterError(f"control {name}={spec!r}: a dropdown needs at least one option")
        return Dropdown(tuple(spec))
    return Fixed(spec)


def default_values(controls: Mapping[str, Any], defaults: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The values ``fn`` is called with before anyone touches a control."""
    parsed = {k: parse_control(k, v) for k, v in controls.items()}
    defaults = dict(defaults or {})
    unknown = sorted(set(defaults) - set(parsed))
    if unknown:
        raise ParameterError(f"defaults for unknown control(s) {unknown}; controls are {sorted(parsed)}")
    return {k: c.validate(k, defaults[k]) if k in defaults else c.default for k, c in parsed.items()}


def figure_png(fig, dpi: int = 100) -> bytes:
    """PNG bytes of a matplotlib figure."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    return buf.getvalue()


def _make_widget(name: str, control, value):
    import ipywidgets as W

    desc = name.replace("_", " ")
    style = {"description_width": "initial"}
    if isinstance(control, Slider):
        cls = W.IntSlider if control.integer else W.FloatSlider
        return cls(value=value, min=control.lo, max=control.hi, step=control.step, description=desc,
                   continuous_update=False, style=style)
    if isinstance(control, Dropdown):
        return W.Dropdown(options=[(str(o), o) for o in control.options], value=value, description=desc,
                          style=style)
    if isinstance(control, Checkbox):
        return W.Checkbox(value=value, description=desc, style=style)
    return None


class Interactive:
    """The result of :func:`interactive`: controls, an output area and the default figure's PNG.

    Displayed in Jupyter, it is one output holding both the widget view (used by live frontends)
    and a PNG of the default figure (used by static renderers).
    """

    def __init__(self, fn: Callable[..., Any], controls: Mapping[str, Any], defaults: Mapping[str, Any] | None = None,
                 dpi: int = 100):
        self.fn = fn
        self.dpi = dpi
        self.controls = {k: parse_control(k, v) for k, v in controls.items()}
        self.values = default_values(self.controls, defaults)
        self.calls = 0
        self.png = self._render(self.values)
        self._ui = None
        self._out = None
        self._widgets: dict[str, Any] = {}

    def _render(self, values: Mapping[str, Any]) -> bytes:
        import matplotlib.pyplot as plt

        fig = self.fn(**values)
        self.calls += 1
        if fig is None or not hasattr(fig, "savefig"):
            name = getattr(self.fn, "__name__", self.fn)
            raise TypeError(f"{name!r} must return a matplotlib Figure, got {type(fig)}")
        try:
            return figure_png(fig, self.dpi)
        finally:
            plt.close(fig)

    def update(self, **changes: Any) -> bytes:
        """Set some control values, redraw, and return the new PNG (what a control change does)."""
        for k, v in changes.items():
            if k not in self.controls:
                raise ParameterError(f"unknown control {k!r}; controls are {sorted(self.controls)}")
            self.values[k] = self.controls[k].validate(k, v)
        self.png = self._render(self.values)
        if self._out is not None:
            self._show_in_output()
        return self.png

    # ----- ipywidgets -----------------------------------------------------------------
    def _show_in_output(self) -> None:
        from IPython.display import Image

        self._out.outputs = ()  # replace (not append to) the previous figure, with or without a frontend
        self._out.append_display_data(Image(data=self.png, format="png"))

    def widget(self):
        """The ipywidgets UI (controls above an Output holding the figure); built once."""
        if self._ui is None:
            import ipywidgets as W

            self._out = W.Output()
            for k, c in self.controls.items():
                w = _make_widget(k, c, self.values[k])
                if w is None:
                    continue

                def on_change(change, key=k):
                    self.update(**{key: change["new"]})

                w.observe(on_change, names="value")
                self._widgets[k] = w
            self._show_in_output()
            self._ui = W.VBox([W.HBox(list(self._widgets.values())), self._out])
        return self._ui

    def _repr_mimebundle_(self, include=None, exclude=None):
        bundle: dict[str, Any] = {}
        try:
            ui = self.widget()
            wb = ui._repr_mimebundle_() if hasattr(ui, "_repr_mimebundle_") else None
            if isinstance(wb, tuple):
                wb = wb[0]
            if wb:
                bundle.update({k: v for k, v in wb.items() if k != "text/plain"})
        except ImportError:  # no ipywidgets: the static figure alone
            pass
        bundle["image/png"] = base64.b64encode(self.png).decode("ascii")
        name = getattr(self.fn, "__name__", None) or getattr(getattr(self.fn, "func", None), "__name__", "fn")
        bundle["text/plain"] = f"<interactive figure: {name}({self.values})>"
        return bundle


def interactive(fn: Callable[..., Any], defaults: Mapping[str, Any] | None = None, **controls: Any) -> Interactive:
    """Wire ``fn(**values) -> matplotlib Figure`` to controls (see module docstring).

    Returns an :class:`Interactive`; leave it as the last expression of a cell (or ``display`` it)
    to show the controls in JupyterLab and the default figure in a static page.
    """
    if not callable(fn):
        raise ParameterError(f"fn={fn!r} must be callable")
    return Interactive(fn, controls, defaults)
