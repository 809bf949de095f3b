"""Checks and plumbing shared by the attacks (private): bounds, ε and input validation, eval mode,
the model's device and batching.

The conventions they enforce are in :mod:`robustlab.attacks`.
"""
from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager

import torch
import torch.nn as nn

from robustlab.core.errors import ParameterError


def _check_bounds(bounds) -> tuple[float, float]:
    try:
        lo, hi = float(bounds[0]), float(bounds[1])
    except Exception as e:  # noqa: BLE001
        raise ParameterError(f"bounds={bounds!r} is not a pair (lo, hi) of numbers; "
                             "pass e.g. bounds=(0.0, 1.0) or (-1.0, 1.0)") from e
    if not (math.isfinite(lo) and math.isfinite(hi) and hi > lo):
        raise ParameterError(f"bounds={bounds!r} must be finite with lo < hi; e.g. (-1.0, 1.0)")
    return lo, hi


def _check_inputs(images, labels, lo: float, hi: float, name: str = "images") -> None:
    if not torch.is_tensor(images) or images.ndim != 4 or not images.is_floating_point():
        raise ParameterError(f"{name} must be a float tensor (N, C, H, W); got "
                             f"{type(images).__name__} {getattr(images, 'shape', '')} "
                             f"{getattr(images, 'dtype', '')}. Convert uint8 NHWC images with "
                             "robustlab.data.to_tensor_pm1")
    if not torch.is_tensor(labels) or labels.ndim != 1 or labels.shape[0] != images.shape[0]:
        raise ParameterError(f"labels must be a 1-d integer tensor with one entry per image "
                             f"({images.shape[0]}); got {getattr(labels, 'shape', labels)!r}")
    if images.numel():
        tol = 1e-5 * (hi - lo)
        mn, mx = float(images.min()), float(images.max())
        if mn < lo - tol or mx > hi + tol:
            raise ParameterError(f"{name} have values in [{mn:.4g}, {mx:.4g}], outside bounds=({lo}, {hi}); "
                                 "pass the bounds of the model's input scale (e.g. (-1, 1) for "
                                 "to_tensor_pm1 images)")


def _check_eps(eps, name: str = "eps") -> float:
    try:
        e = float(eps)
    except Exception as ex:  # noqa: BLE001
        raise ParameterError(f"{name}={eps!r} is not a number; give it in 8-bit units, e.g. 2.0") from ex
    if not math.isfinite(e) or e < 0 or e > 255:
        raise ParameterError(f"{name}={eps!r} must be in [0, 255] (8-bit units)")
    return e


@contextmanager
def _eval_mode(model: nn.Module) -> Iterator[nn.Module]:
    was = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was)


def _model_device(model: nn.Module, default: torch.device) -> torch.device:
    for p in model.parameters():
        return p.device
    for b in model.buffers():
        return b.device
    return default


def _batched(n: int, batch_size: int | None) -> Iterator[slice]:
    bs = n if not batch_size else int(batch_size)
    for s in range(0, n, max(bs, 1)):
        yield slice(s, min(s + bs, n))
