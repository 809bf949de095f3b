"""robustlab: re-running two robustness papers end to end.

Paper A (Bartschat et al.): CIFAR-10 nets trained on Gaussian noise / blur, accuracy grids and
the minimal adversarial change. Paper B (Zhang & Cai, JSEA 2021): random few-pixel changes,
FGSM, few-pixel augmentation and the Pixel-index on ImageNet classifiers.

``import robustlab as rl`` is the one surface the chapters use: ``rl.paper_a.train_grid``,
``rl.paper_b.experiment1``, ``rl.book.page.figure``, ``rl.core.params.load``. Both papers are imported
here (they register their choices — architectures, schedules, ImageNet models — with the parameter
SPEC, which ``robustlab.core.params.load`` checks); every other subpackage loads on first use.

Layers (``lint-imports``, the contract in pyproject.toml; an import may only point downwards):
``campaign``/``bench`` (command lines) → ``book`` → ``ops`` → ``beyond`` → ``paper_b`` → ``paper_a`` →
``attacks`` | ``data`` → ``core``.


* ``rl.core`` — parameters and profiles, the results store, deadlines, errors, paths, devices;
* ``rl.data`` — CIFAR-10 and ImageNet sources and the 8-bit ↔ model-scale conversions;
* ``rl.attacks`` — FGSM/BIM and the minimal change;
* ``rl.paper_a`` / ``rl.paper_b`` — each paper's experiments;
* ``rl.beyond`` — the questions the papers left open, with both papers' machinery (chapter 12);
* ``rl.book`` — the runner, the claims checklist, provenance, widgets and figures;
* ``rl.ops`` — operations: the campaign (``python -m robustlab.campaign``), the Ray executor, its log,
  pack/unpack and publish.
"""
from importlib import import_module as _import_module

__version__ = "0.1.0"
__all__ = ["core", "data", "attacks", "paper_a", "paper_b", "beyond", "book", "ops", "bench"]

# the papers register their choices with robustlab.core.params.SPEC when imported (see above)
from robustlab import paper_a, paper_b  # noqa: E402
from robustlab.beyond import kinds as _beyond_kinds  # noqa: E402,F401  (chapter 12 declares its result kinds)


def __getattr__(name: str):
    if name in __all__:
        return _import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'robustlab' has no attribute {name!r}")
