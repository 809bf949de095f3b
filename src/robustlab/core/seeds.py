"""Seed derivation by name: a draw is seeded from the profile's ``seed`` and the names of what it is
for, hashed (SHA-256) into a 63-bit seed, so two draws never share a stream by accident and each is
reproducible on its own, whatever order things run in. Paper B's draws (pixel changes, fine-tuning
order) use it; paper A's training and evaluation noise still derive their per-epoch seeds
arithmetically in ``paper_a/training.py`` (moving them here changes every paper-A number, a step of
its own), and data draws use ``numpy.random.default_rng(seed)``.

``derive_seed(cfg.seed, "aug-order", k)`` → an int; :func:`numpy_rng` and :func:`torch_generator` wrap it.
"""
from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
import torch

__all__ = ["derive_seed", "numpy_rng", "torch_generator"]


def derive_seed(*parts: Any) -> int:
    """A stable 63-bit seed from ``parts`` (ints, floats, strings; joined by ``|`` and hashed)."""
    h = hashlib.sha256("|".join(map(str, parts)).encode()).digest()
    return int.from_bytes(h[:8], "little") & (2**63 - 1)


def numpy_rng(*parts: Any):
    """``numpy.random.Generator`` seeded with :func:`derive_seed` of ``parts``."""

    return np.random.default_rng(derive_seed(*parts))


def torch_generator(*parts: Any, device: Any = "cpu"):
    """``torch.Generator`` on ``device`` seeded with :func:`derive_seed` of ``parts``."""

    return torch.Generator(device=device).manual_seed(derive_seed(*parts))
