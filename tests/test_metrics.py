"""robustlab.paper_b.pixel_index: the Pixel-index (paper B eq. 7) and wrong-rate helpers."""
from __future__ import annotations

import numpy as np
import pytest

from robustlab.core.errors import ParameterError
from robustlab.paper_b.pixel_index import accuracy, pixel_index, spread, wrong_rate


def test_paper_worked_example():
    # 10,000 images 224x224, 64 pixels, range 255, area 200x200, 1,000 wrong: the paper prints 98.30
    assert pixel_index(1000, 10000, 64, 224, 255, 200, paper_rounding=True) == pytest.approx(98.30, abs=1e-9)
    # the exact formula: 0.1 / (64/224² · 200²/224²)
    exact = pixel_index(1000, 10000, 64, 224, 255, 200)
    assert round(exact, 2) == 98.34
    assert exact == pytest.approx(0.1 * 224**4 / (64 * 200**2))


def test_pixel_index_scales():
    base = pixel_index(50, 1000, 16, 224, 255, None)
    assert pixel_index(100, 1000, 16, 224, 255, None) == pytest.approx(2 * base)
    assert pixel_index(50, 1000, 32, 224, 255, None) == pytest.approx(base / 2)
    assert pixel_index(50, 1000, 16, 224, 127.5, None) == pytest.approx(2 * base)
    assert pixel_index(50, 1000, 16, 224, 255, 112) == pytest.approx(4 * base)
    assert pixel_index(0, 1000, 16, 224) == 0.0


@pytest.mark.parametrize("kw", [dict(wrong=11, total=10), dict(total=0), dict(n_pixels=0),
                                dict(value_range=256), dict(area=225), dict(wrong=float("nan"))])
def test_pixel_index_bad_input(kw):
    args = dict(wrong=1, total=10, n_pixels=4, image_size=224, value_range=255, area=None) | kw
    with pytest.raises(ParameterError):
        pixel_index(**args)


def test_accuracy_and_wrong_rate():
    assert accuracy(np.array([1, 2, 3, 4]), np.array([1, 2, 0, 0])) == 0.5
    r = wrong_rate([np.array([True, False, False, False]), np.array([True, True, False, False])])
    assert r["mean"] == pytest.approx(0.375) and r["std"] == pytest.approx(np.std([0.25, 0.5], ddof=1))
    assert r["wrong"] == 1.5 and r["total"] == 4
    assert wrong_rate([3, 5], total=10)["mean"] == pytest.approx(0.4)
    assert spread([0.2])["std"] == 0.0
    with pytest.raises(ParameterError):
        accuracy(np.array([1]), np.array([1, 2]))
