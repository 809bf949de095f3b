"""Progress bars: :func:`tqdm` is ``tqdm.auto.tqdm`` that honours ``TQDM_DISABLE``.

Every long loop in robustlab shows a tqdm bar (a widget in Jupyter, text in a terminal). The book
runner sets ``TQDM_DISABLE=1`` for the notebooks it executes, because a bar stored in a static page
shows up frozen at 0 %; ``tqdm.notebook`` ignores that variable, so it is applied here. A call that
passes ``disable=True`` explicitly stays disabled either way.
"""
from __future__ import annotations

import os

from tqdm.auto import tqdm as _tqdm

__all__ = ["tqdm", "disabled_by_env"]


def disabled_by_env() -> bool:
    """True when the environment variable ``TQDM_DISABLE`` is set to a true value."""
    return os.environ.get("TQDM_DISABLE", "").strip().lower() in ("1", "true", "yes", "on")


def tqdm(*args, **kwargs):
    """``tqdm.auto.tqdm(*args, **kwargs)``, disabled when ``TQDM_DISABLE`` is set."""
    if disabled_by_env():
        kwargs["disable"] = True
    return _tqdm(*args, **kwargs)
