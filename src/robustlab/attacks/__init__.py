"""Adversarial attacks: FGSM / BIM and the minimal change (DeepFool start + FMN steps).

One module per concern: :mod:`~robustlab.attacks.fgsm` (gradient-sign attacks, 8-bit rounding) and
:mod:`~robustlab.attacks.minimal` (the minimal change); shared checks in ``_common``.

Conventions (all functions):

* ``images`` are float tensors ``(N, C, H, W)`` on the *model's input scale*, every value inside
  ``bounds = (lo, hi)`` (e.g. ``(-1, 1)`` for the paper-A CIFAR nets fed by
  :func:`robustlab.data.scale.to_tensor_pm1`, ``(0, 1)`` for a model with built-in normalisation).
* ``labels`` are int64 class indices ``(N,)``.
* Perturbation sizes called ``eps`` are given in **8-bit units** (0-255 scale) and converted
  internally to the input scale as ``eps * (hi - lo) / 255``; so ``eps=2`` means "two grey levels"
  whatever the input scale is.
* The model is put in eval mode for the attack (and restored afterwards); gradients are taken
  with respect to the input only (``torch.autograd.grad``), the weights' ``.grad`` is untouched.
* Results are clipped to ``bounds``.
"""
from robustlab.attacks.fgsm import fgsm, ifgsm, quantize_8bit
from robustlab.attacks.minimal import AttackResult, minimal_change

__all__ = ["AttackResult", "fgsm", "ifgsm", "minimal_change", "quantize_8bit"]
