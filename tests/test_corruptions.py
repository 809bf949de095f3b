"""Paper A's corruptions: noise statistics, blur vs scipy, σ validation."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.ndimage import gaussian_filter

from robustlab.core.errors import ParameterError
from robustlab.paper_a import corruptions as C


def _images(n=3, c=3, h=32, w=32, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand((n, c, h, w), generator=g) * 2 - 1


@pytest.mark.parametrize("sigma", [0.5, 1.0, 2.3, 5.0])
@pytest.mark.parametrize("shape", [(2, 3, 32, 32), (1, 2, 9, 13)])
def test_blur_matches_scipy(sigma, shape):
    x = _images(*shape)
    y = C.gaussian_blur(x, sigma).numpy()
    xn = x.numpy().astype(np.float64)
    for i in range(shape[0]):
        for c in range(shape[1]):
            ref = gaussian_filter(xn[i, c], sigma, mode="reflect", truncate=4.0)
            assert np.abs(y[i, c] - ref).max() < 1e-4


def test_blur_kernel_radius_like_scipy():
    for s in (0.01, 0.1, 0.5, 1.0, 5.0):
        assert C.gaussian_kernel1d(s).numel() == 2 * int(4 * s + 0.5) + 1


def test_zero_sigma_is_identity():
    x = _images()
    assert C.gaussian_noise(x, 0) is x
    assert C.gaussian_blur(x, 0.0) is x
    assert torch.equal(C.corrupt(x, "blur", 0), x)


def test_noise_statistics_and_no_clipping():
    x = torch.zeros(8, 3, 32, 32)
    g = torch.Generator().manual_seed(1)
    y = C.gaussian_noise(x, 0.5, generator=g)
    assert abs(y.std().item() - 0.5) < 0.02
    assert abs(y.mean().item()) < 0.02
    big = C.gaussian_noise(torch.ones(2, 3, 8, 8), 5.0, generator=g)
    assert big.max() > 1.0 and big.min() < -1.0  # no clipping to [-1, 1]


def test_noise_seeded_reproducible():
    x = _images()
    a = C.corrupt(x, "noise", 0.1, generator=torch.Generator().manual_seed(3))
    b = C.corrupt(x, "noise", 0.1, generator=torch.Generator().manual_seed(3))
    c = C.corrupt(x, "noise", 0.1, generator=torch.Generator().manual_seed(4))
    assert torch.equal(a, b) and not torch.equal(a, c)


@pytest.mark.parametrize("bad", [-0.1, math.nan, math.inf, "x"])
def test_bad_sigma_rejected(bad):
    x = _images()
    for fn in (C.gaussian_noise, C.gaussian_blur):
        with pytest.raises(ParameterError, match="sigma"):
            fn(x, bad)
    with pytest.raises(ParameterError):
        C.check_sigma(bad, name="sigma_train")


def test_unknown_kind_rejected():
    with pytest.raises(ParameterError, match="noise"):
        C.corrupt(_images(), "fog", 0.1)
