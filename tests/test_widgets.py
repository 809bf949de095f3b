"""robustlab.book.widgets (interactive figures) and the data page's callbacks in robustlab.book.plots.images."""
from __future__ import annotations

import base64
import re

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from robustlab.book import widgets as W  # noqa: E402
from robustlab.book.plots import images as pim  # noqa: E402
from robustlab.core.errors import ParameterError  # noqa: E402
from robustlab.paper_a import corruptions as C  # noqa: E402

PNG = b"\x89PNG\r\n\x1a\n"


def _fig(**values):
    fig, ax = plt.subplots(figsize=(1, 1))
    ax.set_title(repr(sorted(values.items())))
    return fig


def test_parse_control_kinds():
    s = W.parse_control("sigma", (0.0, 5.0, 0.5))
    assert isinstance(s, W.Slider) and not s.integer and s.default == 0.0
    assert W.parse_control("k", (1, 64, 1)).integer
    d = W.parse_control("kind", ["noise", "blur"])
    assert isinstance(d, W.Dropdown) and d.default == "noise"
    assert isinstance(W.parse_control("arch", ("resnet", "inception", "resnext")), W.Dropdown)
    assert isinstance(W.parse_control("arch", (1, 2)), W.Dropdown)  # two numbers: options, not a slider
    c = W.parse_control("show", True)
    assert isinstance(c, W.Checkbox) and c.default is True
    assert W.parse_control("n", 3) == W.Fixed(3)


@pytest.mark.parametrize("spec", [(5.0, 0.0, 1.0), (0.0, 1.0, 0.0), []])
def test_parse_control_rejects_bad_specs(spec):
    with pytest.raises(ParameterError, match="control x"):
        W.parse_control("x", spec)


def test_default_values_and_overrides():
    controls = dict(sigma=(0.0, 5.0, 0.01), kind=["noise", "blur"], show=False, images="fixed")
    assert W.default_values(controls) == {"sigma": 0.0, "kind": "noise", "show": False, "images": "fixed"}
    assert W.default_values(controls, {"sigma": 1.0, "kind": "blur"})["sigma"] == 1.0
    with pytest.raises(ParameterError, match=r"sigma=9.0.*\[0.0, 5.0\]"):
        W.default_values(controls, {"sigma": 9.0})
    with pytest.raises(ParameterError, match="'gray'.*noise"):
        W.default_values(controls, {"kind": "gray"})
    with pytest.raises(ParameterError, match="unknown control"):
        W.default_values(controls, {"sigmaa": 1.0})


def test_interactive_renders_default_and_redraws():
    calls = []

    def fn(sigma, kind):
        calls.append((sigma, kind))
        return _fig(sigma=sigma, kind=kind)

    before = plt.get_fignums()
    it = W.interactive(fn, defaults={"sigma": 1.0}, sigma=(0.0, 5.0, 0.01), kind=["noise", "blur"])
    assert calls == [(1.0, "noise")]
    assert it.png.startswith(PNG)
    first = it.png
    new = it.update(kind="blur", sigma=2.5)
    assert calls[-1] == (2.5, "blur") and it.values == {"sigma": 2.5, "kind": "blur"}
    assert new.startswith(PNG) and new != first
    assert plt.get_fignums() == before  # figures are closed, not leaked into the notebook
    with pytest.raises(ParameterError):
        it.update(sigma=-1.0)
    with pytest.raises(ParameterError, match="unknown control"):
        it.update(sigm=1.0)


def test_widget_controls_trigger_redraw_and_bundle_has_static_png():
    pytest.importorskip("ipywidgets")
    calls = []

    def fn(sigma, kind):
        calls.append((sigma, kind))
        return _fig(sigma=sigma, kind=kind)

    it = W.interactive(fn, sigma=(0.0, 5.0, 0.5), kind=["noise", "blur"])
    ui = it.widget()
    slider, dropdown = it._widgets["sigma"], it._widgets["kind"]
    assert type(slider).__name__ == "FloatSlider" and slider.max == 5.0
    assert type(dropdown).__name__ == "Dropdown"
    slider.value = 1.5
    assert calls[-1] == (1.5, "noise")
    dropdown.value = "blur"
    assert calls[-1] == (1.5, "blur")
    assert len(it._out.outputs) == 1  # the Output area holds the redrawn figure only
    bundle = it._repr_mimebundle_()
    assert base64.b64decode(bundle["image/png"]).startswith(PNG)  # what a static page shows
    assert "application/vnd.jupyter.widget-view+json" in bundle  # what JupyterLab shows
    assert ui is it.widget()


def test_callback_must_return_a_figure():
    with pytest.raises(TypeError, match="matplotlib Figure"):
        W.interactive(lambda x: None, x=[1, 2])


# --- the data page's callbacks --------------------------------------------------------
def _images(n=3, seed=0):
    return np.random.default_rng(seed).integers(0, 256, size=(n, 32, 32, 3), dtype=np.uint8)


def _shown(fig, row, col, ncols):
    return np.asarray(fig.axes[row * ncols + col].images[0].get_array(), dtype=float)


def _explore(a, sigma, kind, seed=0):
    return pim.corruption_explorer(a, C.display_corrupted(a, kind, sigma, seed=seed), sigma, kind)


def test_corruption_explorer_rows():
    a = _images()
    fig = _explore(a, 0.0, "noise")
    assert len(fig.axes) == 2 * len(a)
    top, bottom = _shown(fig, 0, 0, 3), _shown(fig, 1, 0, 3)
    np.testing.assert_allclose(top / 255.0, bottom, atol=1e-6)  # σ = 0: unchanged
    plt.close(fig)
    fig = _explore(a, 0.5, "noise", seed=1)
    assert np.abs(_shown(fig, 0, 0, 3) / 255.0 - _shown(fig, 1, 0, 3)).mean() > 0.05
    again = _explore(a, 0.5, "noise", seed=1)
    np.testing.assert_array_equal(_shown(fig, 1, 2, 3), _shown(again, 1, 2, 3))  # seeded
    plt.close("all")


def test_callbacks_reject_bad_input():
    a = _images()
    with pytest.raises(ParameterError, match="kind"):
        C.display_corrupted(a, "jpeg", 0.1)
    with pytest.raises(ParameterError, match="sigma"):
        C.display_corrupted(a, "noise", -0.1)
    with pytest.raises(ParameterError, match="sigma"):
        C.mean_abs_change(a, [0.0, float("nan")], "blur")
    with pytest.raises(ParameterError, match="uint8"):
        pim.show_examples(a.astype(np.float32))
    with pytest.raises(ParameterError, match="panels"):
        pim.corruption_grid([], [0.5], "blur")
    plt.close("all")


def test_corruption_grid_layout():
    a = _images(2)
    sig = [0.0, 0.5, 1.0]
    fig = pim.corruption_grid([C.display_corrupted(a, "blur", s) for s in sig], sig, "blur", titles=["x", "y"])
    assert len(fig.axes) == 2 * 3
    assert [ax.get_title() for ax in fig.axes[:3]] == ["σ = 0 px", "σ = 0.5 px", "σ = 1 px"]
    plt.close(fig)


def test_mean_abs_change_matches_gaussian_theory():
    a = _images(4)
    sig = [0.0, 0.05, 0.5]
    noise = C.mean_abs_change(a, sig, "noise")
    assert noise[0] == 0.0
    for s, m in zip(sig[1:], noise[1:]):
        assert m == pytest.approx(s * np.sqrt(2 / np.pi), rel=0.03)
    blur = C.mean_abs_change(a, [0.0, 0.1, 1.0], "blur")
    assert blur[0] == 0.0 and blur[1] == 0.0 and blur[2] > 0.1  # radius int(4σ+0.5) = 0 for σ = 0.1


def test_pick_examples_fig1():
    labels = np.repeat(np.arange(10), 20)
    classes = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
    idx = pim.pick_examples(labels, classes, seed=3)
    assert [classes[labels[i]] for i in idx] == list(pim.FIG1_CLASSES)
    assert len(set(idx.tolist())) == 5  # the two planes are different images
    np.testing.assert_array_equal(idx, pim.pick_examples(labels, classes, seed=3))
    assert not np.array_equal(idx, pim.pick_examples(labels, classes, seed=4))
    with pytest.raises(ParameterError, match="'zebra'"):
        pim.pick_examples(labels, classes, ["zebra"])


def test_static_states_and_frames(monkeypatch):
    """The static page's states: every dropdown option, evenly spaced slider values (ends and the
    current value included), or the values named in static=; too many frames is an error."""
    import json
    import re

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from robustlab.book.page import BOOK_ENV
    from robustlab.book.widgets import MAX_STATIC_FRAMES, STATIC_SLIDER_STEPS, interactive, static_states

    def draw(sigma, kind, n=1):
        fig, ax = plt.subplots(figsize=(1, 1))
        ax.set_title(f"{kind} {sigma} {n}")
        ax.plot([0, 1], [0, sigma])
        return fig

    st = static_states({"sigma": (0.0, 5.0, 0.01), "kind": ["noise", "blur"]}, {"sigma": 1.0, "kind": "noise"})
    assert st["kind"] == ["noise", "blur"] and 1.0 in st["sigma"] and st["sigma"][0] == 0.0 and st["sigma"][-1] == 5.0
    assert len(st["sigma"]) == STATIC_SLIDER_STEPS + 1  # 1.0 is not on the even grid
    st = static_states({"sigma": (0.0, 5.0, 0.01), "kind": ["noise", "blur"]}, {"sigma": 1.0, "kind": "noise"},
                       static={"sigma": [0, 0.1, 5]})
    assert st == {"sigma": [0, 0.1, 1.0, 5], "kind": ["noise"]}  # the current value joins; kind stays fixed
    with pytest.raises(ParameterError, match="static frames"):
        static_states({"n": (1, 500, 1)}, {"n": 1}, static={"n": list(range(1, MAX_STATIC_FRAMES + 2))})
    with pytest.raises(ParameterError, match="unknown control"):
        static_states({"n": (1, 5, 1)}, {"n": 1}, static={"m": [1]})
    with pytest.raises(ParameterError):
        static_states({"n": (1, 5, 1)}, {"n": 1}, static={"n": [9]})  # outside the slider

    w = interactive(draw, defaults={"sigma": 1.0}, sigma=(0.0, 5.0, 0.01), kind=["noise", "blur"],
                    static={"sigma": [0.0, 1.0, 5.0], "kind": ["noise", "blur"]})
    monkeypatch.delenv(BOOK_ENV, raising=False)
    assert "text/html" not in w._repr_mimebundle_()  # JupyterLab / plain papermill: the live widget only
    monkeypatch.setenv(BOOK_ENV, "1")
    html = w._repr_mimebundle_()["text/html"]
    data = json.loads(re.search(r'class="rlw-data">(.*?)</script>', html).group(1))
    assert len(data["frames"]) == 6 and data["labels"] == {"sigma": ["0", "1", "5"], "kind": ["noise", "blur"]}
    assert len(set(data["frames"].values())) == 6  # six different pictures
    assert 'type="range"' in html and "<select" in html and "http" not in html
    assert w.values == {"sigma": 1.0, "kind": "noise"}  # rendering the frames changed no value
    w.update(sigma=2.5)  # a value moved off the pre-rendered states joins them
    data = json.loads(re.search(r'class="rlw-data">(.*?)</script>', w._repr_mimebundle_()["text/html"]).group(1))
    assert data["labels"]["sigma"] == ["0", "1", "2.5", "5"] and len(data["frames"]) == 8


def test_styled_tables():
    """rl.book.page.table: no bare index column, a meaningful index kept as a column, verdicts
    coloured and moved next to the claim, units in the headers kept."""
    import pandas as pd

    from robustlab.book.page import VERDICT_COLOURS, table

    claims = pd.DataFrame({"section": ["§1", "§2"], "claim": ["a", "b"], "ours": ["1.0 [0.5, 1.5] pts", "x"],
                           "verdict": ["yes", "not testable here"], "why": ["rule", "rule"]})
    html = table(claims).to_html()
    assert "<th class=\"blank" not in html and "row_heading" not in html  # no index column
    heads = re.findall(r'<th id="T_\w+_level0_col\d+" class="col_heading level0 col\d+" >([^<]*)</th>', html)
    assert heads == ["section", "claim", "verdict", "ours", "why"]
    assert VERDICT_COLOURS["yes"] in html and VERDICT_COLOURS["not testable here"] in html
    m = pd.DataFrame([[0.5731, 0.1]], index=pd.Index(["0"], name="σ_train"), columns=["accuracy (%)", "b"])
    html = table(m, precision=1).to_html()
    assert ">σ_train<" in html and ">accuracy (%)<" in html and ">57.3<" not in html and ">0.6<" in html
