"""Conversions between 8-bit images and the models' input scales: uint8 (0-255) ↔ float on [-1, 1]
(paper A's CIFAR-10 nets) and uint8 → float on [0, 1] (paper B's ImageNet classifiers)."""
from __future__ import annotations

from typing import Any

import numpy as np
import torch

from robustlab.core.errors import ParameterError

__all__ = ["uint8_to_pm1", "to_tensor_pm1", "pm1_to_uint8", "to_unit"]


def to_tensor_pm1(images: np.ndarray, device=None):
    """uint8 NHWC (0-255) → float32 NCHW on [-1, 1] (paper A's scale: x / 127.5 - 1)."""
    return uint8_to_pm1(torch.as_tensor(np.asarray(images), device=device).permute(0, 3, 1, 2))


def uint8_to_pm1(x_u8):
    """uint8 tensor (any layout, 0-255) → float32 on [-1, 1]: ``x / 127.5 - 1`` (paper A's scale)."""
    return x_u8.float().div_(127.5).sub_(1.0)


def pm1_to_uint8(x) -> np.ndarray:
    """float NCHW on [-1, 1] → uint8 NHWC (rounded, clipped)."""
    y = ((x.detach().float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return y.permute(0, 2, 3, 1).cpu().numpy()


def to_unit(images_uint8: Any, device=None):
    """uint8 NHWC (numpy or tensor, 0-255) → float32 NCHW on [0, 1] (the input of
    :func:`robustlab.paper_b.classifiers.pretrained`)."""
    x = torch.as_tensor(images_uint8, device=device)
    if x.dtype != torch.uint8 or x.ndim != 4 or x.shape[-1] != 3:
        raise ParameterError(f"images: expected uint8 (N, H, W, 3), got {tuple(x.shape)} {x.dtype}")
    return x.permute(0, 3, 1, 2).float().div_(255.0).contiguous()
