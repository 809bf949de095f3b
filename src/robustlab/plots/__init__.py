"""Figures for the book, one file per area (grids, attacks, pixels, images)."""
from importlib import import_module as _imp

for _m in ("images", "grids", "attacks", "pixels"):
    try:
        _mod = _imp(f"{__name__}.{_m}")
    except ModuleNotFoundError as _e:  # an area not written yet
        if _e.name != f"{__name__}.{_m}":
            raise
        continue
    globals().update({k: getattr(_mod, k) for k in getattr(_mod, "__all__", [])})
