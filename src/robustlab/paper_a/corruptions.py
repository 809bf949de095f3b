"""Paper A's two corruptions: additive Gaussian noise and Gaussian blur.

Both work on batches of float images, shape ``(N, C, H, W)``, normalised to **[-1, 1]**
(the paper's scale, see :func:`robustlab.data.scale.to_tensor_pm1`), on any device.

* :func:`gaussian_noise` adds N(0, σ²) independently to every pixel and channel, with no
  clipping or rounding afterwards (paper A, Sec. 3: "small changes are kept in the image").
  σ is in units of the [-1, 1] scale (σ = 1 is half the full 8-bit range).
* :func:`gaussian_blur` filters every channel with a separable Gaussian of standard deviation
  σ **pixels**, truncated at 4σ (radius ``int(4σ + 0.5)``) exactly like
  :func:`scipy.ndimage.gaussian_filter`, with scipy's default ``'reflect'`` edge mode
  (``d c b a | a b c d | d c b a``), implemented by index arithmetic so that radii larger than
  the image (σ = 5 → radius 20 on 32×32 images) work.

σ = 0 returns the input unchanged for both. σ < 0 or non-finite σ raise
:class:`~robustlab.core.errors.ParameterError`.
"""
from __future__ import annotations

import numpy as np
import torch

from robustlab.core.checks import check_choice, check_float
from robustlab.core.errors import ParameterError
from robustlab.data.scale import to_tensor_pm1

__all__ = ["KINDS", "check_sigma", "check_kind", "gaussian_noise", "gaussian_blur", "GaussianBlur",
           "gaussian_kernel1d", "corrupt", "level"]

#: The corruption kinds of paper A.
KINDS = ("noise", "blur")


def check_sigma(sigma: float, name: str = "sigma") -> float:
    """Return ``float(sigma)`` or raise :class:`ParameterError` if it is negative or not finite
    (0 means no corruption)."""
    return check_float(name, sigma, 0.0)


def check_kind(kind: str, name: str = "kind") -> str:
    """Return ``kind`` if it is one of :data:`KINDS`, else raise :class:`ParameterError`."""
    return check_choice(name, kind, KINDS)


def _check_images(x: torch.Tensor) -> None:
    if not isinstance(x, torch.Tensor) or x.dim() != 4 or not x.is_floating_point():
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ParameterError(
            f"x has shape/type {shape}; expected a float tensor (N, C, H, W) in [-1, 1] "
            "(see robustlab.data.scale.to_tensor_pm1)")


def gaussian_noise(x: torch.Tensor, sigma: float,
                   generator: torch.Generator | None = None) -> torch.Tensor:
    """Add N(0, σ²) noise per pixel and channel to ``x`` (float NCHW in [-1, 1]).

    No clipping or rounding. ``generator`` (on ``x``'s device) makes it reproducible; σ = 0
    returns ``x`` itself.
    """
    s = check_sigma(sigma)
    _check_images(x)
    if s == 0:
        return x
    noise = torch.randn(x.shape, generator=generator, device=x.device, dtype=torch.float32)
    return (x.float() + s * noise).to(x.dtype)


def gaussian_kernel1d(sigma: float, dtype: torch.dtype = torch.float64,
                      device: torch.device | str | None = None) -> torch.Tensor:
    """scipy's 1-D Gaussian kernel: radius ``int(4σ + 0.5)``, normalised to sum 1."""
    s = check_sigma(sigma)
    radius = int(4.0 * s + 0.5)
    t = torch.arange(-radius, radius + 1, dtype=torch.float64)
    k = torch.exp(-0.5 * (t / s) ** 2)
    k = k / k.sum()
    return k.to(dtype=dtype, device=device)


def _reflect_index(n: int, radius: int, device) -> torch.Tensor:
    """Indices into an axis of length ``n`` for scipy's 'reflect' (half-sample symmetric) padding
    by ``radius`` on each side; works for any radius (period 2n)."""
    i = torch.arange(-radius, n + radius, device=device)
    m = torch.remainder(i, 2 * n)
    return torch.where(m < n, m, 2 * n - 1 - m)


class GaussianBlur:
    """Paper A's blur at one σ (pixels) for images of size ``hw`` = (H, W) on ``device``: the scipy
    kernel and the reflect indices are built once, so a training loop that blurs every batch pays for
    them once. The one blur implementation (:func:`gaussian_blur` builds one and applies it).
    σ = 0 is the identity."""

    def __init__(self, sigma: float, hw: tuple[int, int], device: torch.device | str | None = None):
        self.sigma = check_sigma(sigma)
        if self.sigma == 0:
            return
        k = gaussian_kernel1d(self.sigma, dtype=torch.float32, device=device)
        r = (k.numel() - 1) // 2
        self.kw, self.kh = k.view(1, 1, 1, -1), k.view(1, 1, -1, 1)
        self.iw, self.ih = _reflect_index(hw[1], r, device), _reflect_index(hw[0], r, device)
        self.hw = tuple(hw)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """``x``: float (N, C, H, W) in [-1, 1] with (H, W) = ``hw`` → blurred, same dtype (computed in
        float32: rows along W, then columns along H)."""
        if self.sigma == 0:
            return x
        n, c, h, w = x.shape
        if (h, w) != self.hw:
            raise ParameterError(f"x has image size {(h, w)}; this blur was built for {self.hw}")
        y = x.float().reshape(n * c, 1, h, w).index_select(3, self.iw)
        y = torch.nn.functional.conv2d(y, self.kw).index_select(2, self.ih)
        return torch.nn.functional.conv2d(y, self.kh).reshape(n, c, h, w).to(x.dtype)


def gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Blur every channel of ``x`` (float NCHW in [-1, 1]) with a Gaussian of σ pixels.

    Matches ``scipy.ndimage.gaussian_filter(img, sigma, mode='reflect', truncate=4.0)`` per
    channel (max abs difference < 1e-4 in float32). σ = 0 returns ``x`` itself. (One
    :class:`GaussianBlur`, built for ``x``'s size and device.)
    """
    s = check_sigma(sigma)
    _check_images(x)
    if s == 0:
        return x
    return GaussianBlur(s, tuple(x.shape[-2:]), x.device)(x)


def level(kind: str, sigma: float) -> tuple[str, float]:
    """The corruption a (kind, σ) really applies: ``("clean", 0.0)`` for σ = 0 and for a blur whose
    kernel is the identity (σ < 0.125 px: radius ``int(4σ + 0.5)`` = 0), else ``(kind, σ)``."""
    check_kind(kind)
    s = check_sigma(sigma)
    if s == 0 or (kind == "blur" and int(4.0 * s + 0.5) == 0):
        return "clean", 0.0
    return kind, s


def corrupt(x: torch.Tensor, kind: str, sigma: float,
            generator: torch.Generator | None = None) -> torch.Tensor:
    """Apply paper A's corruption ``kind`` ("noise" or "blur") at level σ to ``x`` (NCHW, [-1, 1]).

    ``generator`` is used for noise only (blur is deterministic).
    """
    check_kind(kind)
    if kind == "noise":
        return gaussian_noise(x, sigma, generator=generator)
    return gaussian_blur(x, sigma)


def display_corrupted(images_uint8, kind: str, sigma: float, seed: int = 0):
    """uint8 images (N, H, W, 3) corrupted at (kind, σ) on the [-1, 1] scale with a generator seeded by
    ``seed``, returned for display: float (N, H, W, 3) in [0, 1] (noise clipped to the valid range)."""
    a = np.asarray(images_uint8)
    if a.dtype != np.uint8 or a.ndim != 4 or a.shape[-1] != 3:
        raise ParameterError(f"images: got dtype {a.dtype} shape {a.shape}; expected uint8 (N, H, W, 3)")
    g = torch.Generator().manual_seed(int(seed))
    y = corrupt(to_tensor_pm1(a), check_kind(kind), check_sigma(sigma), generator=g)
    return ((y.clamp(-1, 1) + 1) / 2).permute(0, 2, 3, 1).numpy()


def mean_abs_change(images_uint8, sigmas, kind: str = "noise", seed: int = 0) -> list[float]:
    """Mean absolute change per pixel and channel on the [-1, 1] scale (unclipped), for each σ."""
    a = np.asarray(images_uint8)
    if a.dtype != np.uint8 or a.ndim != 4 or a.shape[-1] != 3:
        raise ParameterError(f"images: got dtype {a.dtype} shape {a.shape}; expected uint8 (N, H, W, 3)")
    x = to_tensor_pm1(a)
    out = []
    for s in sigmas:
        g = torch.Generator().manual_seed(int(seed))
        out.append(float((corrupt(x, check_kind(kind), check_sigma(s), generator=g) - x).abs().mean()))
    return out
