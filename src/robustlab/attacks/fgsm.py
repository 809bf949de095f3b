"""Gradient-sign attacks: FGSM, iterative FGSM (BIM / PGD) and rounding to the 8-bit grid.

See :mod:`robustlab.attacks` for the conventions (bounds, ε in 8-bit units, eval mode).
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from robustlab.attacks._common import _batched, _check_bounds, _check_eps, _check_inputs, _eval_mode, _model_device
from robustlab.core.errors import ParameterError

__all__ = ["fgsm", "ifgsm", "quantize_8bit"]


def quantize_8bit(x: torch.Tensor, bounds=(0.0, 1.0)) -> torch.Tensor:
    """Round ``x`` (input scale, inside ``bounds``) to the nearest of the 256 8-bit grey levels."""
    lo, hi = _check_bounds(bounds)
    return (torch.round((x - lo) * (255.0 / (hi - lo))).clamp(0, 255) * ((hi - lo) / 255.0) + lo).to(x.dtype)


def _input_grad(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Gradient of the summed cross-entropy w.r.t. the input (one forward + one backward pass)."""
    x = x.detach().requires_grad_(True)
    with torch.enable_grad():
        loss = F.cross_entropy(model(x), y, reduction="sum")
        (g,) = torch.autograd.grad(loss, x)
    return g


def fgsm(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, eps: float, *,
         bounds=(0.0, 1.0), targeted: bool = False, round_to_8bit: bool = False,
         batch_size: int | None = None) -> torch.Tensor:
    """Fast gradient sign method (Goodfellow et al. 2015): one signed gradient step of size ``eps``.

    Args:
        model: classifier returning logits; put in eval mode during the attack (restored after).
        images: float ``(N, C, H, W)`` on the model's input scale, values in ``bounds``.
        labels: int64 ``(N,)``: the true classes (untargeted: the loss on them is *increased*) or,
            with ``targeted=True``, the target classes (the loss on them is *decreased*).
        eps: step size in **8-bit units** (0-255); the step on the input scale is
            ``eps * (hi - lo) / 255`` per pixel and channel (an L-infinity perturbation).
        bounds: ``(lo, hi)`` valid range of the input scale; the result is clipped to it.
        targeted: see ``labels``.
        round_to_8bit: if True, the result is rounded to the 8-bit grid of ``bounds`` (so it is
            exactly representable as a uint8 image; the change per value may then be
            ``round(eps)`` or one grey level less/more than ``eps``).
        batch_size: optional chunking (None = all at once).

    Returns:
        The adversarial images, same shape/dtype/device as ``images``, detached.
    """
    lo, hi = _check_bounds(bounds)
    e = _check_eps(eps)
    _check_inputs(images, labels, lo, hi)
    step = e * (hi - lo) / 255.0
    dev = _model_device(model, images.device)
    out = torch.empty_like(images)
    with _eval_mode(model):
        for sl in _batched(images.shape[0], batch_size):
            x = images[sl].to(dev)
            y = labels[sl].to(dev)
            g = _input_grad(model, x, y)
            sign = -1.0 if targeted else 1.0
            adv = (x + sign * step * g.sign()).clamp(lo, hi)
            if round_to_8bit:
                adv = quantize_8bit(adv, (lo, hi))
            out[sl] = adv.detach().to(images.device)
    return out


def ifgsm(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, eps: float, *,
          steps: int = 10, step_size: float | None = None, bounds=(0.0, 1.0), targeted: bool = False,
          round_to_8bit: bool = False, random_start: bool = False, seed: int = 0,
          batch_size: int | None = None) -> torch.Tensor:
    """Iterative FGSM / BIM (Kurakin et al. 2016), PGD with ``random_start=True`` (Madry et al. 2018).

    ``steps`` signed-gradient steps of ``step_size`` (8-bit units; default ``2.5 * eps / steps``),
    each followed by projection onto the L-infinity ball of radius ``eps`` (8-bit units) around the
    input and onto ``bounds``. ``random_start`` draws a uniform start in that ball (generator seeded
    by ``seed``). Otherwise the same arguments and return as :func:`fgsm`.
    """
    lo, hi = _check_bounds(bounds)
    e = _check_eps(eps)
    if int(steps) < 1:
        raise ParameterError(f"steps={steps!r} must be >= 1")
    a = 2.5 * e / int(steps) if step_size is None else _check_eps(step_size, "step_size")
    _check_inputs(images, labels, lo, hi)
    scale = (hi - lo) / 255.0
    e_in, a_in = e * scale, a * scale
    dev = _model_device(model, images.device)
    gen = torch.Generator(device="cpu").manual_seed(int(seed))
    out = torch.empty_like(images)
    sign = -1.0 if targeted else 1.0
    with _eval_mode(model):
        for sl in _batched(images.shape[0], batch_size):
            x0 = images[sl].to(dev)
            y = labels[sl].to(dev)
            x = x0.clone()
            if random_start and e_in > 0:
                noise = (torch.rand(x0.shape, generator=gen) * 2 - 1).to(dev, x0.dtype) * e_in
                x = (x0 + noise).clamp(lo, hi)
            for _ in range(int(steps)):
                g = _input_grad(model, x, y)
                x = x + sign * a_in * g.sign()
                x = torch.minimum(torch.maximum(x, x0 - e_in), x0 + e_in).clamp(lo, hi)
            if round_to_8bit:
                x = quantize_8bit(x, (lo, hi))
            out[sl] = x.detach().to(images.device)
    return out
