"""Property tests of robustlab.paper_b.pixels.change_pixels (NHWC uint8, seeded, windowed)."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from robustlab.core.errors import ParameterError
from robustlab.paper_b.pixels import change_pixels, window_bounds


@st.composite
def setups(draw):
    h = draw(st.integers(4, 20))
    w = draw(st.integers(4, 20))
    area = draw(st.one_of(st.none(), st.integers(1, min(h, w))))
    rows, cols = (h, w) if area is None else (area, area)
    n_pixels = draw(st.integers(0, min(rows * cols, 40)))
    magnitude = draw(st.one_of(st.none(), st.integers(0, 255)))
    n = draw(st.integers(1, 4))
    seed = draw(st.integers(0, 2**31))
    img_seed = draw(st.integers(0, 2**31))
    x = torch.from_numpy(np.random.default_rng(img_seed).integers(0, 256, (n, h, w, 3), dtype=np.uint8))
    return x, n_pixels, magnitude, area, seed


@settings(max_examples=60, deadline=None)
@given(setups())
def test_only_chosen_positions_change_inside_window(s):
    x, n_pixels, magnitude, area, seed = s
    before = x.clone()
    y, pos = change_pixels(x, n_pixels, magnitude, area, seed, return_positions=True)
    assert torch.equal(x, before), "input must not be modified"
    assert y.dtype == torch.uint8 and y.shape == x.shape
    n, h, w, _ = x.shape
    top, left, rows, cols = window_bounds(h, w, area)
    assert pos.shape == (n, n_pixels, 2)
    mask = torch.zeros(n, h, w, dtype=torch.bool)
    for i in range(n):
        flat = pos[i, :, 0] * w + pos[i, :, 1]
        assert len(set(flat.tolist())) == n_pixels, "positions must be distinct"
        assert ((pos[i, :, 0] >= top) & (pos[i, :, 0] < top + rows)).all()
        assert ((pos[i, :, 1] >= left) & (pos[i, :, 1] < left + cols)).all()
        mask[i, pos[i, :, 0], pos[i, :, 1]] = True
    differs = (y != x).any(-1)
    assert not (differs & ~mask).any(), "a pixel outside the chosen positions changed"
    if magnitude is not None:
        d = (y.int() - x.int()).abs()
        assert int(d.max()) <= magnitude


@settings(max_examples=30, deadline=None)
@given(setups())
def test_same_seed_same_result_and_numpy_roundtrip(s):
    x, n_pixels, magnitude, area, seed = s
    a = change_pixels(x, n_pixels, magnitude, area, seed)
    b = change_pixels(x.numpy(), n_pixels, magnitude, area, torch.Generator().manual_seed(seed))
    assert isinstance(b, np.ndarray)
    assert torch.equal(a, torch.from_numpy(b))


def test_any_value_changes_most_chosen_pixels_and_other_seed_differs():
    x = torch.full((8, 32, 32, 3), 128, dtype=torch.uint8)
    y = change_pixels(x, 16, None, None, 1)
    changed = (y != x).any(-1).sum(dim=(1, 2))
    assert (changed >= 14).all()  # a value equals 128 in all 3 channels with prob. 256**-3
    assert not torch.equal(y, change_pixels(x, 16, None, None, 2))


def test_full_window_all_positions_and_magnitude_zero_is_identity():
    x = torch.randint(0, 256, (2, 6, 6, 3), dtype=torch.uint8)
    y = change_pixels(x, 16, None, 4, 0)
    assert (y[:, :1] == x[:, :1]).all() and (y[:, 5:] == x[:, 5:]).all()
    assert torch.equal(change_pixels(x, 36, 0, None, 0), x)


def test_clipping_at_bounds():
    x = torch.zeros(4, 8, 8, 3, dtype=torch.uint8)
    x[2:] = 255
    y = change_pixels(x, 64, 127, None, 3)
    assert int(y[:2].max()) <= 127 and int(y[2:].min()) >= 128


def test_uniform_positions_roughly():
    x = torch.zeros(4000, 4, 4, 3, dtype=torch.uint8)
    _, pos = change_pixels(x, 1, None, None, 5, return_positions=True)
    counts = np.bincount((pos[:, 0, 0] * 4 + pos[:, 0, 1]).numpy(), minlength=16)
    assert counts.min() > 180 and counts.max() < 320  # expectation 250


@pytest.mark.parametrize("kwargs, word", [
    ({"n_pixels": 17, "area": 4}, "n_pixels"),
    ({"n_pixels": 2, "magnitude": 256}, "magnitude"),
    ({"n_pixels": 2, "magnitude": -1}, "magnitude"),
    ({"n_pixels": 2, "area": 9}, "area"),
    ({"n_pixels": -1}, "n_pixels"),
])
def test_invalid_input_is_a_clear_error(kwargs, word):
    x = torch.zeros(1, 8, 8, 3, dtype=torch.uint8)
    with pytest.raises(ParameterError, match=word):
        change_pixels(x, **kwargs)


def test_wrong_layout_is_an_error():
    with pytest.raises(ParameterError, match="NHWC"):
        change_pixels(torch.zeros(1, 3, 8, 8, dtype=torch.uint8), 1)
    with pytest.raises(ParameterError, match="uint8"):
        change_pixels(torch.zeros(1, 8, 8, 3), 1)


def test_pixel_change_example_then_figure():
    """paper_b computes the changed image and the predictions; the plot only draws them."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    import torch

    from robustlab.book.plots.pixels import pixel_change_figure
    from robustlab.paper_b.pixels import pixel_change_example

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 16 * 16, 5)).eval()
    img = np.random.default_rng(0).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    ex = pixel_change_example(model, img, n_pixels=7, magnitude=None, seed=3)
    assert ex["images"].shape == (2, 16, 16, 3) and (ex["images"][0] == img).all()
    assert int((ex["images"][1] != img).any(-1).sum()) <= 7 and ex["positions"].shape == (7, 2)
    assert len(ex["pred"]) == 2 and all(0 <= c <= 1 for c in ex["conf"])
    fig = pixel_change_figure(ex, label=ex["pred"][0], class_names=[f"c{i}" for i in range(5)])
    assert len(fig.axes) == 2 and "7 pixels changed" in fig.axes[1].get_title()
    plt.close(fig)
