"""Registered training augmentations of paper A's trainer (:func:`robustlab.paper_a.training.train`,
argument ``augmentation``): a name → a seeded batch operation on the nets' [-1, 1] input.

Paper A trains on clean, noisy or blurred images only and names "rotations and other
transformations" as an open question (§4). The registry declares, as data, the augmentations the
book's cross-paper chapter trains with (:data:`AUGMENTATIONS`: name, description, parameters);
:func:`apply` runs one on a batch. Each is drawn from a CPU generator seeded per (training seed,
epoch, batch) by the trainer, so training stays bit-reproducible on the CPU.

The few-pixel change is paper B's augmentation (k random pixels set to values uniform 0–255) at the
*same share of the image* as paper B's suggested 64 of 224 × 224 pixels: 64 · 32² / 224² = 1.31 pixels
of a 32 × 32 image, rounded to **1**, and 4 × that share (5.22) rounded to **5**.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from robustlab.core.errors import ParameterError
from robustlab.data import augment_ops

__all__ = ["Augmentation", "AUGMENTATIONS", "FEW_PIXEL_SHARE", "few_pixel_k", "check_augmentation", "apply"]

#: Paper B's suggested few-pixel change as a share of the image: 64 of 224 × 224 pixels.
FEW_PIXEL_SHARE = 64 / (224 * 224)


def few_pixel_k(multiple: float = 1.0, size: int = 32) -> int:
    """Pixels of a ``size × size`` image that are ``multiple`` × paper B's share (64 / 224²), rounded
    to the nearest integer, at least 1: 1 (× 1) and 5 (× 4) on 32 × 32."""
    return max(1, round(multiple * FEW_PIXEL_SHARE * size * size))


@dataclass(frozen=True)
class Augmentation:
    """One registered augmentation: ``name`` (what training records and keys hold), a one-line
    ``description`` for tables, its ``params`` (plain data, part of every trained model's key) and
    ``fn(x_pm1, generator, **params)`` → the augmented batch (float (B, 3, H, W) on [-1, 1])."""

    name: str
    description: str
    params: dict[str, Any] = field(default_factory=dict)
    fn: Callable[..., torch.Tensor] = field(default=None, repr=False, compare=False)


def _crop_flip(x, g, pad):
    return augment_ops.crop_flip(x, pad, g, fill=0.0)  # zero padding = mid-grey on [-1, 1]


def _rotate(x, g, max_deg):
    return augment_ops.rotate(x, max_deg, g, fill=0.0)


def _pixels(x, g, k):
    return augment_ops.random_pixels(x, k, g, lo=-1.0, hi=1.0)


_K1, _K4 = few_pixel_k(1), few_pixel_k(4)

#: The registry (name → :class:`Augmentation`).
AUGMENTATIONS: dict[str, Augmentation] = {a.name: a for a in [
    Augmentation("crop-flip", "standard CIFAR augmentation: random 32×32 crop of the image zero-padded by 4 px, "
                 "horizontal flip with probability 1/2", {"pad": 4}, _crop_flip),
    Augmentation("rotation", "random rotation, uniform in ±15° per image (bilinear, corners filled with grey)",
                 {"max_deg": 15.0}, _rotate),
    Augmentation(f"pixels-{_K1}", f"paper B's few-pixel change: {_K1} random pixel(s) per image set to uniform "
                 f"0–255 values (the share of 64 of 224² pixels, 1.31 px, rounded)", {"k": _K1}, _pixels),
    Augmentation(f"pixels-{_K4}", f"paper B's few-pixel change at 4× that share: {_K4} random pixels per image "
                 f"(5.22 px, rounded)", {"k": _K4}, _pixels),
]}


def check_augmentation(name: str | None) -> str | None:
    """``name`` if registered (None = no augmentation), else a ParameterError listing the names."""
    if name is None or name in AUGMENTATIONS:
        return name
    raise ParameterError(f"augmentation={name!r} is not registered; choose one of {sorted(AUGMENTATIONS)} "
                         f"(robustlab.paper_a.augmentations.AUGMENTATIONS) or None")


def apply(name: str | None, x_pm1: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """The registered augmentation ``name`` applied to the batch ``x_pm1`` (float (B, 3, H, W) on
    [-1, 1]) with random draws from ``generator``; None returns ``x_pm1`` unchanged."""
    if check_augmentation(name) is None:
        return x_pm1
    a = AUGMENTATIONS[name]
    return a.fn(x_pm1, generator, **a.params)
