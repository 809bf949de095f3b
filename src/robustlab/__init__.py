"""robustlab: re-running two robustness papers end to end.

Paper A (Bartschat et al.): CIFAR-10 nets trained on Gaussian noise / blur, accuracy grids and
the minimal adversarial change. Paper B (Zhang & Cai, JSEA 2021): random few-pixel changes,
FGSM, few-pixel augmentation and the Pixel-index on ImageNet classifiers.

``import robustlab as rl`` gives the subpackages lazily (nothing heavy is imported until used):

* ``rl.core`` — parameters and profiles, the results store, deadlines, errors, paths, devices;
* ``rl.data`` — CIFAR-10 and ImageNet sources and the 8-bit ↔ model-scale conversions;
* ``rl.attacks`` — FGSM/BIM and the minimal change;
* ``rl.paper_a`` / ``rl.paper_b`` — each paper's experiments;
* ``rl.beyond`` — the questions the papers left open, with both papers' machinery (chapter 12);
* ``rl.book`` — the runner, the claims checklist, provenance, widgets and figures;
* ``rl.campaign`` — the resumable queue of every computation (``python -m robustlab.campaign``).
"""
from importlib import import_module as _import_module

__version__ = "0.1.0"
__all__ = ["core", "data", "attacks", "paper_a", "paper_b", "beyond", "book", "campaign", "bench"]


def __getattr__(name: str):
    if name in __all__:
        return _import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'robustlab' has no attribute {name!r}")
