"""Random few-pixel changes (paper B, experiments 1–3 and the augmentation of §4/§6.2).

Images are **8-bit RGB in NHWC layout** (``uint8``, shape ``(N, H, W, 3)``, values 0-255) — the
layout of :class:`robustlab.data.common.ImageSet` — and are changed *before* any normalisation.

:func:`change_pixels` picks ``n_pixels`` distinct positions per image, uniformly inside the
centred ``area × area`` window, independently for every image, and changes all three channels
of each chosen pixel:

* ``magnitude=None`` (experiment 1): to uniform random values in [0, 255];
* ``magnitude=m`` (experiment 2): to ``original + d`` with ``d`` a uniform integer in
  [-m, +m] per channel, clipped to [0, 255].

All randomness is drawn on the CPU from ``generator`` (a :class:`torch.Generator` or an int
seed) and then moved to the images' device, so the same seed gives the same result on any
device.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch

from robustlab.core.errors import ParameterError
from robustlab.paper_b.classifiers import predict

__all__ = ["pixel_change_example", "change_pixels", "window_bounds", "make_generator"]


def make_generator(seed: int | torch.Generator | None) -> torch.Generator:
    """A CPU :class:`torch.Generator` from an int seed (or pass a generator through; None → fresh seed)."""
    if isinstance(seed, torch.Generator):
        return seed
    g = torch.Generator(device="cpu")
    if seed is None:
        g.seed()
    else:
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ParameterError(f"generator={seed!r}: must be a torch.Generator, a non-negative int seed or None")
        g.manual_seed(int(seed))
    return g


def window_bounds(height: int, width: int, area: int | None) -> tuple[int, int, int, int]:
    """``(top, left, rows, cols)`` of the centred ``area × area`` window (whole image when None).

    The window starts at ``(H - area) // 2`` (and the same for the width), so an odd margin
    puts the extra row/column at the bottom/right.
    """
    if area is None:
        return 0, 0, height, width
    if isinstance(area, bool) or not isinstance(area, (int, np.integer)) or area < 1:
        raise ParameterError(f"area={area!r}: must be a positive int (side of the centred window, pixels) or None")
    if area > min(height, width):
        raise ParameterError(f"area={area}: larger than the {height}x{width} image; use area <= {min(height, width)} "
                             f"or None for the whole image")
    return (height - area) // 2, (width - area) // 2, int(area), int(area)


def change_pixels(images_uint8: Any, n_pixels: int, magnitude: int | None = None, area: int | None = None,
                  generator: torch.Generator | int | None = None, *, return_positions: bool = False):
    """Change ``n_pixels`` random pixels of every image (see module docstring).

    Args:
        images_uint8: ``uint8`` ``(N, H, W, 3)`` tensor (any device) or numpy array, 0-255.
        n_pixels: pixels changed per image, 0 ≤ n_pixels ≤ rows × cols of the window.
        magnitude: None (new values uniform in [0, 255]) or an int in [0, 255] (change of each
            channel uniform in [-magnitude, +magnitude], 8-bit units, then clipped to [0, 255]).
        area: side of the centred square window the positions are drawn from (pixels);
            None = the whole image.
        generator: CPU :class:`torch.Generator` or int seed (None = unseeded).
        return_positions: also return the chosen positions ``(N, n_pixels, 2)`` as (row, col).

    Returns:
        The changed images, same type (tensor/numpy), shape, dtype and device as the input
        (the input is not modified); with ``return_positions`` a tuple ``(images, positions)``.
    """
    is_numpy = isinstance(images_uint8, np.ndarray)
    x = torch.from_numpy(np.ascontiguousarray(images_uint8)) if is_numpy else images_uint8
    if not isinstance(x, torch.Tensor):
        raise ParameterError(f"images_uint8: expected a uint8 tensor or numpy array, got {type(images_uint8).__name__}")
    if x.dtype != torch.uint8 or x.ndim != 4 or x.shape[-1] != 3:
        raise ParameterError(f"images_uint8: expected uint8 of shape (N, H, W, 3) (NHWC, 0-255), "
                             f"got {x.dtype} {tuple(x.shape)}")
    n, h, w, _ = x.shape
    top, left, rows, cols = window_bounds(h, w, area)
    if isinstance(n_pixels, bool) or not isinstance(n_pixels, (int, np.integer)) or n_pixels < 0:
        raise ParameterError(f"n_pixels={n_pixels!r}: must be a non-negative int")
    if n_pixels > rows * cols:
        raise ParameterError(f"n_pixels={n_pixels}: more than the {rows * cols} pixels of the {rows}x{cols} "
                             f"window (area={area}); use n_pixels <= {rows * cols} or a larger area")
    if magnitude is not None and (isinstance(magnitude, bool) or not isinstance(magnitude, (int, np.integer))
                                  or not 0 <= magnitude <= 255):
        raise ParameterError(f"magnitude={magnitude!r}: must be None (any value) or an int in [0, 255] (8-bit units)")
    g = make_generator(generator)
    n_pixels = int(n_pixels)
    out = x.clone()
    if n == 0 or n_pixels == 0:
        res = out.numpy() if is_numpy else out
        return (res, torch.zeros(n, n_pixels, 2, dtype=torch.int64)) if return_positions else res
    # distinct positions: the n_pixels smallest of iid uniforms over the window (a uniform random subset)
    keys = torch.rand(n, rows * cols, generator=g)
    flat = keys.topk(n_pixels, dim=1, largest=False).indices  # (N, n_pixels), distinct per row
    r = flat // cols + top
    c = flat % cols + left
    if magnitude is None:
        values = torch.randint(0, 256, (n, n_pixels, 3), generator=g, dtype=torch.int64)
    else:
        delta = torch.randint(-int(magnitude), int(magnitude) + 1, (n, n_pixels, 3), generator=g, dtype=torch.int64)
    dev = x.device
    bi = torch.arange(n).unsqueeze(1).expand(n, n_pixels).to(dev)
    r_d, c_d = r.to(dev), c.to(dev)
    if magnitude is None:
        out[bi, r_d, c_d] = values.to(dev, torch.uint8)
    else:
        orig = x[bi, r_d, c_d].to(torch.int64)
        out[bi, r_d, c_d] = (orig + delta.to(dev)).clamp_(0, 255).to(torch.uint8)
    res = out.numpy() if is_numpy else out
    return (res, torch.stack([r, c], dim=-1)) if return_positions else res


def pixel_change_example(model, image_uint8, n_pixels: int = 16, magnitude: int | None = None, seed: int = 0,
                         area: int | None = None) -> dict:
    """One image before and after ``n_pixels`` random changes, with the model's top-1 class and
    confidence on both: ``{"images": uint8 (2, H, W, 3), "pred": [int, int], "conf": [float, float],
    "positions": int (n, 2) (row, column), "n_pixels", "magnitude" (None = any value), "seed"}``.
    ``model`` takes float NCHW on [0, 1]; ``magnitude`` None or ≥ 255 means any value."""
    img = np.array(image_uint8, dtype=np.uint8)[None]  # a writable copy (images may be read-only views)
    mag = None if magnitude is None or int(magnitude) >= 255 else int(magnitude)
    changed, pos = change_pixels(torch.from_numpy(img), int(n_pixels), mag, area, int(seed), return_positions=True)
    both = np.concatenate([img, changed.numpy()])
    dev = next(model.parameters()).device
    pred, conf = predict(model, both, 2, dev, return_conf=True)
    return {"images": both, "pred": pred.tolist(), "conf": conf.tolist(), "positions": pos[0].numpy(),
            "n_pixels": int(n_pixels), "magnitude": mag, "seed": int(seed)}
