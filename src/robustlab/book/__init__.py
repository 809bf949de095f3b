"""The book: the papermill runner (:mod:`.runner`, ``python -m robustlab.book``), the checklist of
claims and the summary (:mod:`.checklist`), provenance, what a page shows besides plain outputs
(:mod:`.page`: numbered figures, quoted numbers, styled tables), widgets and the figures (:mod:`.plots`).

Submodules load on first use (``rl.book.page`` works after ``import robustlab as rl``)."""
from importlib import import_module as _import_module

__all__ = ["checklist", "page", "plots", "provenance", "runner", "widgets"]


def __getattr__(name: str):
    if name in __all__:
        return _import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'robustlab.book' has no attribute {name!r}")
