"""robustlab: re-running two robustness papers end to end.

Paper A (Bartschat et al.): CIFAR-10 nets trained on Gaussian noise / blur, accuracy grids and
the minimal adversarial change. Paper B (Zhang & Cai, JSEA 2021): random few-pixel changes,
FGSM, few-pixel augmentation and the Pixel-index on ImageNet classifiers.

Modules: ``data``, ``corruptions``, ``models``, ``train``, ``grid``, ``attacks``, ``pixels``,
``metrics``, ``paperb``, ``results``, ``params``, ``plots``, ``widgets``, ``provenance``, ``book``.
"""
__version__ = "0.1.0"
