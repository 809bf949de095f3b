"""Interactive figures that also render in a static book.

``interactive(fn, **controls)`` wires a plain plotting function ``fn(**values) -> Figure`` to
ipywidgets controls. One call serves both worlds:

* in JupyterLab (a live kernel with a widget frontend) the controls redraw ``fn`` in an
  ``Output`` area whenever a value changes;
* in a static render (papermill's executed copy, the jupyter-book site) the cell output also
  carries a PNG of ``fn(**defaults)``;
* in a book run (``robustlab.book.page.in_book_run()``) it also carries *static controls*: an HTML
  block with the figure pre-rendered for a set of control values (:meth:`Interactive.static_html`),
  a range input per slider and a select per dropdown, and a small inline script (no library, nothing
  fetched) that swaps the pre-rendered frames. The book's ``_config.yml`` drops the widget-view MIME
  type, so the site shows that block: a reader without a kernel can still move the sliders over the
  pre-rendered states. ``static={"sigma": [0, 0.1, 1]}`` chooses the states (a control not named
  stays at its default); by default every dropdown/checkbox option and :data:`STATIC_SLIDER_STEPS`
  evenly spaced values of each slider, at most :data:`MAX_STATIC_FRAMES` frames in all.

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
import html
import io
import itertools
import json
import numbers
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from robustlab.book.page import in_book_run
from robustlab.core.errors import ParameterError

__all__ = ["Slider", "Dropdown", "Checkbox", "Fixed", "parse_control", "default_values", "figure_png",
           "static_states", "interactive", "Interactive", "STATIC_SLIDER_STEPS", "MAX_STATIC_FRAMES"]

#: Pre-rendered values per slider on a static page, unless ``static=`` names them.
STATIC_SLIDER_STEPS = 9
#: At most this many pre-rendered frames per interactive figure (each is one PNG in the page).
MAX_STATIC_FRAMES = 48


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


def static_states(controls: Mapping[str, Any], values: Mapping[str, Any],
                  static: Mapping[str, Any] | None = None) -> dict[str, list]:
    """The values each control takes on a static page: ``{name: [v0, v1, ...]}`` (controls without a
    widget, :class:`Fixed`, are left out). Each list holds the current value; numbers are sorted.

    ``static`` maps control names to the values to pre-render (each validated); controls not named
    keep their current value only. Without ``static``: every option of a dropdown or checkbox and
    :data:`STATIC_SLIDER_STEPS` evenly spaced values of a slider (its ends and the current value
    included). More than :data:`MAX_STATIC_FRAMES` combinations is a ParameterError."""
    parsed = {k: parse_control(k, v) for k, v in controls.items()}
    live = {k: c for k, c in parsed.items() if isinstance(c, (Slider, Dropdown, Checkbox))}
    if static is not None:
        unknown = sorted(set(static) - set(live))
        if unknown:
            raise ParameterError(f"static values for unknown control(s) {unknown}; controls are {sorted(live)}")
    out: dict[str, list] = {}
    for k, c in live.items():
        if static is not None:
            vals = [c.validate(k, v) for v in static.get(k, [])]
        elif isinstance(c, Slider):

            vals = [c.validate(k, round(float(v), 10) if not c.integer else int(round(v)))
                    for v in np.linspace(c.lo, c.hi, STATIC_SLIDER_STEPS)]
        elif isinstance(c, Checkbox):
            vals = [False, True]
        else:
            vals = list(c.options)
        if values[k] not in vals:
            vals.append(values[k])
        vals = list(dict.fromkeys(vals))
        if all(_is_number(v) for v in vals):
            vals = sorted(vals)
        out[k] = vals
    n = 1
    for v in out.values():
        n *= len(v)
    if n > MAX_STATIC_FRAMES:
        raise ParameterError(f"{n} static frames ({' × '.join(f'{k}: {len(v)}' for k, v in out.items())}) exceed "
                             f"{MAX_STATIC_FRAMES}: pass static={{name: [values]}} for fewer states")
    return out


_STATIC_JS = """(function () {
  var box = document.currentScript.parentNode;
  var data = JSON.parse(box.querySelector("script.rlw-data").textContent);
  var img = box.querySelector("img.rlw-frame");
  var inputs = box.querySelectorAll("[data-control]");
  function show() {
    var key = [];
    inputs.forEach(function (el) {
      var i = parseInt(el.value, 10);
      key.push(i);
      var out = box.querySelector("output[data-for='" + el.dataset.control + "']");
      if (out) { out.textContent = data.labels[el.dataset.control][i]; }
    });
    var src = data.frames[key.join(",")];
    if (src) { img.src = "data:image/png;base64," + src; }
  }
  inputs.forEach(function (el) { el.addEventListener("input", show); el.addEventListener("change", show); });
})();"""


def _label(v: Any) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


def _make_widget(name: str, control, value):
    # deferred: widgets only in a live notebook
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
                 dpi: int = 100, static: Mapping[str, Any] | None = None):
        self.fn = fn
        self.dpi = dpi
        self.controls = {k: parse_control(k, v) for k, v in controls.items()}
        self.values = default_values(self.controls, defaults)
        self.static = static
        static_states(self.controls, self.values, static)  # a bad static= fails here, before any drawing
        self.calls = 0
        self.png = self._render(self.values)
        self._ui = None
        self._out = None
        self._widgets: dict[str, Any] = {}

    def _render(self, values: Mapping[str, Any]) -> bytes:
        # deferred: pyplot is slow to import and picks a backend; only drawing needs it
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

    # ----- the static page ------------------------------------------------------------
    def page_states(self) -> dict[str, list]:
        """The values each control takes on the static page, for the current values
        (:func:`static_states` with this figure's ``static=``)."""
        return static_states(self.controls, self.values, self.static)

    def static_frames(self, states: Mapping[str, list]) -> dict[tuple[int, ...], bytes]:
        """PNG of ``fn`` for every combination of the values in ``states`` (:meth:`page_states`), keyed
        by the indices of the values of the controls that vary (more than one state), in their order.
        The current values are left as they were."""
        varying = [k for k in states if len(states[k]) > 1]
        frames = {}
        for idx in itertools.product(*(range(len(states[k])) for k in varying)):
            values = {**self.values, **{k: states[k][i] for k, i in zip(varying, idx)}}
            frames[idx] = self.png if values == self.values else self._render(values)
        return frames

    def static_html(self, states: Mapping[str, list] | None = None) -> str:
        """A self-contained HTML block: the pre-rendered frames, a range input per slider and a select
        per dropdown or checkbox that has more than one state (the others are named as fixed), and an
        inline script that shows the frame of the chosen values. Frames are keyed by the indices of the
        varying controls' values. Loads nothing; without JavaScript it shows the default figure."""
        states = states if states is not None else self.page_states()
        names = list(states)
        varying = [k for k in names if len(states[k]) > 1]
        frames = self.static_frames(states)
        current = tuple(states[k].index(self.values[k]) for k in varying)
        uid = uuid.uuid4().hex[:8]
        rows = []
        for k in varying:
            vals, i = states[k], states[k].index(self.values[k])
            label = html.escape(k.replace("_", " "))
            if isinstance(self.controls[k], Slider):
                rows.append(f'<label>{label} <input type="range" min="0" max="{len(vals) - 1}" step="1" value="{i}" '
                            f'data-control="{html.escape(k)}" aria-label="{label}"> '
                            f'<output data-for="{html.escape(k)}">{html.escape(_label(vals[i]))}</output></label>')
            else:
                opts = "".join(f'<option value="{j}"{" selected" if j == i else ""}>{html.escape(_label(v))}</option>'
                               for j, v in enumerate(vals))
                rows.append(f'<label>{label} <select data-control="{html.escape(k)}">{opts}</select></label>')
        data = {"labels": {k: [_label(v) for v in states[k]] for k in varying},
                "frames": {",".join(map(str, idx)): base64.b64encode(png).decode("ascii")
                           for idx, png in frames.items()}}
        payload = json.dumps(data).replace("</", "<\\/")  # nothing in it can close the script element
        img = base64.b64encode(frames[current]).decode("ascii")
        fixed = [f"{k.replace('_', ' ')} {_label(self.values[k])}" for k in names if k not in varying]
        note = ("Pre-rendered states (no kernel needed): " + "; ".join(
            f"{k.replace('_', ' ')} ∈ {{{', '.join(_label(v) for v in states[k])}}}" for k in varying)
                + (f"; fixed: {', '.join(fixed)}" if fixed else "") + ". In JupyterLab every value can be chosen.")
        return (f'<div class="robustlab-static-widget" id="rlw-{uid}" data-frames="{len(frames)}">'
                f'<div class="rlw-controls" style="display:flex;gap:1.5em;flex-wrap:wrap">{"".join(rows)}</div>'
                f'<img class="rlw-frame" style="max-width:100%" alt="{html.escape(note)}" '
                f'src="data:image/png;base64,{img}">'
                f'<p class="rlw-note" style="font-size:0.85em;color:#555">{html.escape(note)}</p>'
                f'<script type="application/json" class="rlw-data">{payload}</script>'
                f'<script>{_STATIC_JS}</script></div>')

    # ----- ipywidgets -----------------------------------------------------------------
    def _show_in_output(self) -> None:
        # deferred: IPython only where a notebook displays
        from IPython.display import Image

        self._out.outputs = ()  # replace (not append to) the previous figure, with or without a frontend
        self._out.append_display_data(Image(data=self.png, format="png"))

    def widget(self):
        """The ipywidgets UI (controls above an Output holding the figure); built once."""
        if self._ui is None:
            # deferred: widgets only in a live notebook
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

        states = self.page_states() if in_book_run() else {}
        if states:
            bundle["text/html"] = self.static_html(states)
        name = getattr(self.fn, "__name__", None) or getattr(getattr(self.fn, "func", None), "__name__", "fn")
        bundle["text/plain"] = f"<interactive figure: {name}({self.values})>"
        return bundle


def interactive(fn: Callable[..., Any], defaults: Mapping[str, Any] | None = None,
                static: Mapping[str, Any] | None = None, **controls: Any) -> Interactive:
    """Wire ``fn(**values) -> matplotlib Figure`` to controls (see module docstring).

    Returns an :class:`Interactive`; leave it as the last expression of a cell (or ``display`` it)
    to show the controls in JupyterLab, and the default figure with static controls over the
    pre-rendered states (``static``, see :func:`static_states`) on the book's page.
    """
    if not callable(fn):
        raise ParameterError(f"fn={fn!r} must be callable")
    return Interactive(fn, controls, defaults, static=static)
