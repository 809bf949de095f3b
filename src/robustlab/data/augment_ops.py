"""Training-time image augmentations as seeded batch operations, shared by both papers' code.

Every function takes a float batch ``x`` of shape ``(B, C, H, W)`` on any scale (the caller says
which: paper A's nets read [-1, 1], paper B's classifiers [0, 1]), draws every random number on the
CPU from ``generator`` (a :class:`torch.Generator`), moves them to ``x``'s device and returns a new
tensor (``x`` is not modified). The same generator state therefore gives the same result on any
device, and a training loop that seeds one generator per batch is reproducible.

* :func:`crop_flip` — the standard CIFAR augmentation: zero padding by ``pad`` pixels, a random
  ``H × W`` crop per image, a horizontal flip with probability 1/2.
* :func:`rotate` — a rotation by a uniform angle in [−``max_deg``, ``max_deg``] per image (bilinear;
  corners that leave the image are filled with ``fill``).
* :func:`random_pixels` — ``k`` distinct random pixels per image set to new values uniform on the
  8-bit grid 0–255 (every channel its own value), mapped to ``x``'s scale by ``lo``/``hi`` — paper B's
  few-pixel change, the same rule as :func:`robustlab.paper_b.pixels.change_pixels` on 8-bit images.
* :func:`random_erasing` — Zhong et al.'s random erasing: with probability ``p`` one rectangle per
  image (area share uniform in ``area``, aspect ratio log-uniform in ``ratio``) filled with uniform
  random values on [``lo``, ``hi``].
* :func:`gaussian_noise` — ``x + σ·z`` (z standard normal), clipped to [``lo``, ``hi``].
"""
from __future__ import annotations

import math

import torch
from torch import nn

from robustlab.core.errors import ParameterError

__all__ = ["crop_flip", "rotate", "random_pixels", "random_erasing", "gaussian_noise"]


def _check(x: torch.Tensor, name: str) -> None:
    if not isinstance(x, torch.Tensor) or x.ndim != 4 or not x.is_floating_point():
        raise ParameterError(f"{name}: expected a float tensor (B, C, H, W), got "
                             f"{getattr(x, 'dtype', type(x).__name__)} {tuple(getattr(x, 'shape', ()))}")


def crop_flip(x: torch.Tensor, pad: int, generator: torch.Generator, fill: float = 0.0) -> torch.Tensor:
    """Pad every image by ``pad`` pixels (value ``fill``), crop a random ``H × W`` window per image
    (offsets uniform in 0 … 2·pad) and flip it horizontally with probability 1/2."""
    _check(x, "crop_flip")
    if pad < 0:
        raise ParameterError(f"crop_flip: pad={pad} must be >= 0 (pixels)")
    b, c, h, w = x.shape
    dy = torch.randint(0, 2 * pad + 1, (b,), generator=generator)
    dx = torch.randint(0, 2 * pad + 1, (b,), generator=generator)
    flip = torch.rand(b, generator=generator) < 0.5
    p = nn.functional.pad(x, (pad, pad, pad, pad), value=fill)
    rows = (dy[:, None] + torch.arange(h)[None]).to(x.device)  # (B, H)
    cols = (dx[:, None] + torch.arange(w)[None])
    cols = torch.where(flip[:, None], cols.flip(1), cols).to(x.device)  # (B, W)
    bi = torch.arange(b, device=x.device)[:, None, None]
    out = p.permute(0, 2, 3, 1)[bi, rows[:, :, None], cols[:, None, :]]  # (B, H, W, C)
    return out.permute(0, 3, 1, 2).contiguous()


def rotate(x: torch.Tensor, max_deg: float, generator: torch.Generator, fill: float = 0.0) -> torch.Tensor:
    """Rotate every image about its centre by its own angle, uniform in [−max_deg, max_deg] degrees
    (bilinear interpolation; what leaves the image is cut, what enters is ``fill``)."""
    _check(x, "rotate")
    b = x.shape[0]
    ang = (torch.rand(b, generator=generator, dtype=torch.float64) * 2 - 1) * math.radians(float(max_deg))
    cos, sin = torch.cos(ang), torch.sin(ang)
    zero = torch.zeros_like(ang)
    theta = torch.stack([torch.stack([cos, -sin, zero], 1), torch.stack([sin, cos, zero], 1)], 1)
    grid = nn.functional.affine_grid(theta.to(x.device, torch.float32), list(x.shape), align_corners=False)
    out = nn.functional.grid_sample(x.float() - fill, grid, mode="bilinear", padding_mode="zeros",
                                    align_corners=False) + fill
    return out.to(x.dtype)


def random_pixels(x: torch.Tensor, k: int, generator: torch.Generator, lo: float = 0.0,
                  hi: float = 255.0) -> torch.Tensor:
    """Set ``k`` distinct random pixels of every image (all channels) to new values uniform on the
    8-bit grid: value ``v`` in 0 … 255 becomes ``lo + (hi − lo)·v/255`` on ``x``'s scale."""
    _check(x, "random_pixels")
    b, c, h, w = x.shape
    if isinstance(k, bool) or not isinstance(k, int) or not 0 <= k <= h * w:
        raise ParameterError(f"random_pixels: k={k!r} must be an int in 0..{h * w} (pixels per image)")
    if k == 0:
        return x.clone()
    keys = torch.rand(b, h * w, generator=generator)
    flat = keys.topk(k, dim=1, largest=False).indices  # (B, k) distinct per image
    v = torch.randint(0, 256, (b, k, c), generator=generator).to(torch.float32)
    vals = (lo + (hi - lo) * v / 255.0).to(x.device, x.dtype)
    out = x.clone().reshape(b, c, h * w)
    idx = flat.to(x.device)[:, None, :].expand(b, c, k)
    out.scatter_(2, idx, vals.permute(0, 2, 1))
    return out.reshape(b, c, h, w)


def random_erasing(x: torch.Tensor, generator: torch.Generator, p: float = 0.5,
                   area: tuple[float, float] = (0.02, 0.33), ratio: tuple[float, float] = (0.3, 3.3),
                   lo: float = 0.0, hi: float = 1.0) -> torch.Tensor:
    """Random erasing (Zhong et al. 2020): with probability ``p`` per image, one rectangle whose area
    is a uniform share in ``area`` of the image and whose aspect ratio is log-uniform in ``ratio``
    (cut to the image), at a uniform position, filled with values uniform on [``lo``, ``hi``]."""
    _check(x, "random_erasing")
    b, c, h, w = x.shape
    on = torch.rand(b, generator=generator) < p
    s = (area[0] + (area[1] - area[0]) * torch.rand(b, generator=generator)) * h * w
    r = torch.exp(math.log(ratio[0]) + (math.log(ratio[1]) - math.log(ratio[0])) * torch.rand(b, generator=generator))
    eh = torch.sqrt(s * r).round().clamp(1, h).long()
    ew = torch.sqrt(s / r).round().clamp(1, w).long()
    top = (torch.rand(b, generator=generator) * (h - eh + 1)).floor().long()
    left = (torch.rand(b, generator=generator) * (w - ew + 1)).floor().long()
    fill = lo + (hi - lo) * torch.rand(b, c, h, w, generator=generator)
    ys, xs = torch.arange(h)[None, :], torch.arange(w)[None, :]
    inside = (((ys >= top[:, None]) & (ys < (top + eh)[:, None]))[:, :, None]
              & ((xs >= left[:, None]) & (xs < (left + ew)[:, None]))[:, None, :] & on[:, None, None])
    m = inside[:, None].to(x.device)
    return torch.where(m, fill.to(x.device, x.dtype), x)


def gaussian_noise(x: torch.Tensor, sigma: float, generator: torch.Generator, lo: float = 0.0,
                   hi: float = 1.0) -> torch.Tensor:
    """``x + σ·z`` with z standard normal per value (drawn on the CPU), clipped to [``lo``, ``hi``]."""
    _check(x, "gaussian_noise")
    if not sigma >= 0:
        raise ParameterError(f"gaussian_noise: sigma={sigma!r} must be >= 0 (on x's scale)")
    z = torch.randn(x.shape, generator=generator)
    return (x + float(sigma) * z.to(x.device, x.dtype)).clamp(lo, hi)
