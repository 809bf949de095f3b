"""What a chapter shows besides plain cell outputs: numbered figures, numbers quoted in the prose,
styled tables.

A chapter's figures and key numbers are *glued* (MyST-NB's glue: an output stored under a name in the
executed notebook) and placed by the chapter's Markdown, so the page gives each figure a caption and
a number and the prose quotes numbers from the run::

    rl.book.page.figure("fig-03-curves", fig)          # code cell
    rl.book.page.number("acc-03-clean", 0.573 * 100)    # code cell

    ```{glue:figure} fig-03-curves                      (Markdown cell)
    :name: fig-03-curves

    Test accuracy (%) against ...
    ```
    ... clean accuracy {glue:text}`acc-03-clean:.1f` % ({numref}`fig-03-curves`) ...

In JupyterLab (no book run) :func:`figure` also shows the figure in the cell; in a book run
(the runner sets ``ROBUSTLAB_BOOK_PAGE=1``) the figure appears once, where the Markdown places it.

:func:`table` turns a DataFrame into a styled HTML table: no index column unless the index carries
meaning (it then becomes the first column), verdicts colour-coded, intervals kept as text.
"""
from __future__ import annotations

import math
import os
from collections.abc import Mapping
from typing import Any

__all__ = ["BOOK_ENV", "GLUE_PREFIX", "in_book_run", "glue", "figure", "note_figure", "number", "text", "table",
           "VERDICT_COLOURS"]

#: Set to 1 by the book runner for the kernels it starts.
BOOK_ENV = "ROBUSTLAB_BOOK_PAGE"
#: MIME prefix of an output stored but not shown (MyST-NB's and papermill's convention).
GLUE_PREFIX = "application/papermill.record/"

#: Background colours of the verdicts in tables (light, readable with black text).
VERDICT_COLOURS = {"yes": "#d4edda", "partly": "#fff3cd", "no": "#f8d7da", "not testable": "#e2e3e5",
                   "not testable here": "#e2e3e5", "by construction": "#e2e3e5", "not run yet": "#e2e3e5",
                   "not recorded": "#e2e3e5"}


def in_book_run() -> bool:
    """True in a kernel started by ``python -m robustlab.book`` (the executed copy becomes a page)."""
    return os.environ.get(BOOK_ENV, "") == "1"


def glue(name: str, obj: Any, display: bool = False) -> None:
    """Store ``obj``'s display (its MIME bundle) in the cell output under ``name``, for MyST-NB's
    ``{glue:...}`` roles and directives; shown in the cell only with ``display=True``. The output is
    the one ``myst_nb.glue`` writes; it is built here so that a kernel does not import MyST-NB and
    Sphinx (≈ 1.7 s each time) to store a number."""
    # deferred: IPython only where a notebook displays
    from IPython.core.formatters import format_display_data
    from IPython.display import display as ipy_display  # deferred: IPython only where a notebook displays

    if not name or any(c.isspace() for c in name) or ":" in name:
        raise ValueError(f"glue name {name!r}: use letters, digits and dashes (no spaces or ':')")
    bundle, metadata = format_display_data(obj)
    prefix = "" if display else GLUE_PREFIX
    metadata = {**metadata, "scrapbook": {"name": name, "mime_prefix": prefix}}
    ipy_display({prefix + k: v for k, v in bundle.items()}, raw=True, metadata=metadata)


def figure(name: str, fig, close: bool = True) -> None:
    """Glue a matplotlib figure under ``name`` for a ``{glue:figure}`` directive (caption, number,
    ``{numref}`` target) in the chapter's Markdown. Outside a book run the figure is also shown in
    the cell. ``close`` closes it, so the inline backend does not show it a second time."""
    # deferred: pyplot is slow to import and picks a backend; only drawing needs it
    import matplotlib.pyplot as plt

    # deferred: IPython only where a notebook displays
    from IPython.display import display

    if fig is None or not hasattr(fig, "savefig"):
        raise TypeError(f"figure {name!r}: expected a matplotlib Figure, got {type(fig).__name__}")
    glue(name, fig)
    if not in_book_run():
        display(fig)
    if close:
        plt.close(fig)


def note_figure(message: str):
    """A small figure that only states ``message``: what a numbered figure shows when this run had
    nothing to draw (e.g. no FGSM example fooled the model), so the page says so instead of failing."""
    # deferred: pyplot is slow to import and picks a backend; only drawing needs it
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 1.2))
    ax.axis("off")
    ax.text(0.5, 0.5, message, ha="center", va="center", wrap=True, fontsize=11)
    return fig


class _Text:
    """A glued text: ``{glue:text}`` shows its plain text (a ``str`` would be shown with quotes)."""

    def __init__(self, s: str):
        self.s = str(s)

    def __repr__(self) -> str:
        return self.s

    def _repr_markdown_(self) -> str:
        return self.s


def number(name: str, value: float) -> None:
    """Glue a number for ``{glue:text}`name:.1f``` in the prose (nothing is shown in the cell).
    NaN and None are refused (a sentence would quote "nan")."""

    if value is None or (isinstance(value, float) and math.isnan(value)):
        raise ValueError(f"number {name!r} is {value!r}: nothing to quote; glue a text instead")
    glue(name, float(value) if not isinstance(value, int) else value)


def text(name: str, s: str) -> None:
    """Glue a short text (a model name, a verdict) for ``{glue:text}`name``` in the prose (nothing is
    shown in the cell)."""
    glue(name, _Text(s))


def _verdict_style(v: Any) -> str:
    c = VERDICT_COLOURS.get(str(v).strip().lower())
    return f"background-color: {c}; font-weight: 600" if c else ""


def table(df, caption: str | None = None, index: bool | None = None, precision: int = 1,
          verdict_columns: tuple[str, ...] = ("verdict",), widths: Mapping[str, str] | None = None):
    """A DataFrame as a styled table (a pandas ``Styler``; HTML in Jupyter and on the page).

    * ``index``: None (default) keeps the index as the first column when it is named or not a plain
      0..n-1 range, else drops it; True/False force either. No bare index column is ever shown.
    * Columns named in ``verdict_columns`` are colour-coded (:data:`VERDICT_COLOURS`) and moved right
      after a ``claim`` column, so a wide claims table shows its verdict without scrolling.
    * Floats are shown with ``precision`` digits; text cells (intervals such as ``4.1 [1.2, 7.0]``)
      stay as they are. ``caption`` is shown above the table; put units in the column names.
    * ``widths``: CSS widths for long text columns, e.g. ``{"why": "30em"}``.
    """
    # deferred: pandas is slow to import; only tables need it
    import pandas as pd

    if isinstance(df, pd.Series):
        df = df.to_frame()
    df = df.copy()
    if index is None:
        index = any(n is not None for n in df.index.names) or not isinstance(df.index, pd.RangeIndex)
    if index:
        df = df.reset_index()
    else:
        df = df.reset_index(drop=True)
    df.columns = [" / ".join(str(x) for x in c if str(x)) if isinstance(c, tuple) else str(c) for c in df.columns]
    present = [c for c in verdict_columns if c in df.columns]
    if present and "claim" in df.columns:
        rest = [c for c in df.columns if c not in present]
        at = rest.index("claim") + 1
        df = df[rest[:at] + present + rest[at:]]
    st = df.style.hide(axis="index").format(precision=precision, na_rep="—")
    if present:
        st = st.map(_verdict_style, subset=present)
    st = st.set_table_attributes('class="robustlab-table"')
    cell = "padding: 0.3em 0.7em; border-bottom: 1px solid #ddd"
    whole = "border-collapse: collapse; font-size: 0.85em; margin: 0.5em 0"
    st = st.set_table_styles([{"selector": "", "props": whole},
                              {"selector": "th", "props": f"text-align: left; vertical-align: bottom; {cell}; "
                                                          "border-bottom: 2px solid #888"},
                              {"selector": "td", "props": f"vertical-align: top; {cell}"},
                              {"selector": "caption", "props": "caption-side: top; text-align: left; "
                                                               "font-weight: 600; padding: 0.3em 0"}])
    widths = {**({"claim": "11em"} if "claim" in df.columns else {}), **(widths or {})}
    for col, w in widths.items():
        if col in df.columns:
            st = st.set_properties(subset=[col], **{"min-width": w, "white-space": "normal"})
    if caption:
        st = st.set_caption(caption)
    return st
