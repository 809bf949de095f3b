"""Figures and tables of the book, one module per area: images, grids, attacks, pixels, beyond. They draw
what they are given and compute nothing."""
from robustlab.core.lazy import lazy_exports

# the modules load on first use: rl.book.plots.pixels after import robustlab as rl
__getattr__, __dir__, __all__ = lazy_exports(__name__, {}, modules=("attacks", "beyond", "grids", "images", "pixels"))
