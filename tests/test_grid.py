"""The paper-A grid: shape, cache reuse, recompute only what changed, shared σ = 0 model."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from helpers import count_calls
from robustlab.core.errors import ParameterError
from robustlab.core.params import resolve
from robustlab.core.results import ResultStore
from robustlab.paper_a import grid

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture
def cfg(shared_data, cache_dir, tmp_path):
    return resolve("test_grid", {"profile": "tiny", "data_dir": str(shared_data), "cache_dir": str(cache_dir),
                                 "results_dir": str(tmp_path), "sigmas": [0.0, 0.5], "train_subset": 40,
                                 "test_subset": 20, "epochs": 1, "batch_size": 20, "width": 1 / 16,
                                 "device": "cpu"})


def _count(store: ResultStore, kind: str) -> int:
    d = store.root / kind
    return len(list(d.glob("*.pt"))) if d.exists() else 0


def _spy(monkeypatch):
    return count_calls(monkeypatch, grid, "train")


def test_grid_shape_cache_and_partial_recompute(cfg, monkeypatch):
    calls = _spy(monkeypatch)
    store = ResultStore(cfg.results)
    m = grid.accuracy_matrix(cfg, "resnet", "noise", progress=False)
    assert m.shape == (2, 2) and np.all((m >= 0) & (m <= 1))
    assert calls == {"train": 2} and _count(store, "cifar_eval") == 4
    # second call: nothing computed
    again = grid.accuracy_matrix(cfg, "resnet", "noise", progress=False)
    assert calls == {"train": 2} and _count(store, "cifar_eval") == 4 and np.array_equal(m, again)
    # blur shares the σ = 0 model and its clean cell: one new model, three new cells
    grid.accuracy_matrix(cfg, "resnet", "blur", progress=False)
    assert calls == {"train": 3} and _count(store, "cifar_eval") == 7
    assert _count(store, "cifar_model") == 3 and _count(store, "cifar_train") == 3
    # add one σ: only the new row and column are computed (1 model, 5 cells)
    cfg2 = type(cfg)({**cfg, "sigmas": [0.0, 0.5, 1.0]})
    m3 = grid.accuracy_matrix(cfg2, "resnet", "noise", progress=False)
    assert m3.shape == (3, 3) and np.array_equal(m3[:2, :2], m)
    assert calls == {"train": 4} and _count(store, "cifar_eval") == 12
    # the finished models carry no leftover checkpoints
    assert _count(store, "cifar_model_ckpt") == 0


def test_identity_blur_rows_are_the_clean_model(cfg, monkeypatch):
    """Blur σ < 0.125 px is the identity: its row is the σ = 0 row, trained and evaluated once."""
    calls = _spy(monkeypatch)
    store = ResultStore(cfg.results)
    c = type(cfg)({**cfg, "sigmas": [0.0, 0.05, 0.5]})
    m = grid.accuracy_matrix(c, "resnet", "blur", progress=False)
    assert np.array_equal(m[1], m[0]) and np.array_equal(m[:, 1], m[:, 0])
    assert calls == {"train": 2} and _count(store, "cifar_model") == 2 and _count(store, "cifar_eval") == 4
    shown, sig = grid.distinct_view({("resnet", "blur"): m}, c.sigmas, "blur")
    assert sig == [0.0, 0.5] and shown[("resnet", "blur")].shape == (2, 2)
    assert list(grid.timings(c, "resnet", "blur")) == ["0", "0.5"]


def test_model_config_shared_sigma0(cfg):
    assert grid.model_config(cfg, "resnet", "noise", 0.0) == grid.model_config(cfg, "resnet", "blur", 0)
    assert grid.model_config(cfg, "resnet", "noise", 0.1) != grid.model_config(cfg, "resnet", "blur", 0.1)
    with pytest.raises(ParameterError, match="inception"):
        grid.model_config(cfg, "vgg", "noise", 0.1)
    with pytest.raises(ParameterError):
        grid.model_config(cfg, "resnet", "noise", -1)


def test_get_model_eval_cpu_and_deterministic(cfg, tmp_path):
    a = grid.get_model(cfg, "resnext", "blur", 0.5, progress=False)
    assert not a.training and next(a.parameters()).device.type == "cpu"
    cfg_b = type(cfg)({**cfg, "results_dir": str(tmp_path / "other")})
    b = grid.get_model(cfg_b, "resnext", "blur", 0.5, progress=False)  # trained again, elsewhere
    sa, sb = a.state_dict(), b.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert grid.model_record(cfg, "resnext", "blur", 0.5)["n_train"] == 40


def test_run_grid_keys(cfg, monkeypatch):
    cfg1 = type(cfg)({**cfg, "sigmas": [0.0]})
    out = grid.run_grid(cfg1, archs=["inception"], progress=False)
    assert set(out) == {("inception", "noise"), ("inception", "blur")}
    assert all(v.shape == (1, 1) for v in out.values())


def test_interrupted_grid_keeps_finished_cells(cfg, monkeypatch):
    real = grid.evaluate_many
    n = {"k": 0}

    def flaky(*a, **k):  # one call per σ_eval column; the second one is interrupted
        n["k"] += 1
        if n["k"] == 2:
            raise KeyboardInterrupt
        return real(*a, **k)

    monkeypatch.setattr(grid, "evaluate_many", flaky)
    with pytest.raises(KeyboardInterrupt):
        grid.accuracy_matrix(cfg, "resnet", "noise", progress=False)
    assert _count(ResultStore(cfg.results), "cifar_eval") == 2  # the finished column
    calls = count_calls(monkeypatch, grid, "train", "evaluate_many")
    monkeypatch.setattr(grid, "evaluate_many", real)
    calls = count_calls(monkeypatch, grid, "train", "evaluate_many")
    grid.accuracy_matrix(cfg, "resnet", "noise", progress=False)
    assert calls == {"train": 0, "evaluate_many": 1}  # both models and the finished column were kept
    assert _count(ResultStore(cfg.results), "cifar_eval") == 4


def test_plots_and_table():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from robustlab.book.plots import grids as pg

    sig = [0.0, 0.1, 1.0]
    m = np.array([[0.8, 0.7, 0.2], [0.79, 0.75, 0.3], [0.4, 0.45, 0.5]])
    mats = {("resnet", "noise"): m, ("inception", "noise"): m * 0.9}
    fig = pg.plot_accuracy_curves(mats, sig, "noise")
    assert len(fig.axes) == 2 and len(fig.axes[0].lines) == 3 + 1  # 3 σ_eval + chance line
    np.testing.assert_allclose(fig.axes[0].lines[1].get_ydata(), 100 * m[:, 1])
    f2 = pg.accuracy_curves_figure(mats, sig, "inception", "noise")
    assert f2.axes[0].get_title().startswith("inception")
    df = pg.matrix_table(m, sig, "noise")
    assert df.shape == (3, 3) and df.loc["0.1", "1"] == 30.0
    plt.close("all")
    with pytest.raises(KeyError):
        pg.accuracy_curves_figure(mats, sig, "resnext", "noise")


def test_claims_verdicts_follow_numbers():
    from robustlab.book.checklist import claims_table
    from robustlab.paper_a import claims as pac

    sig = [0.0, 0.01, 0.1, 1.0]
    good = np.array([[.80, .79, .50, .10], [.80, .80, .51, .105], [.79, .79, .80, .20], [.40, .45, .55, .60]])
    bad = good[:, ::-1].copy()
    c = {x.id: x.verdict for x in pac.fig4_claims({"resnet": good}, sig, ["resnet"], n_test=10000)}
    assert c["A-noise-001"] == "yes" and c["A-noise-diagonal"] == "yes" and c["A-noise-drop"] == "yes"
    assert c["A-noise-small-helps"] == "yes" and c["A-noise-archs"] == "not testable here"  # one architecture
    c = {x.id: x.verdict for x in pac.fig4_claims({"resnet": bad}, sig, ["resnet"], n_test=10000)}
    assert c["A-noise-diagonal"] != "yes"
    blur = pac.fig6_claims({"a": good, "inception": good + 0.01}, sig, ["a", "inception"], n_test=10000)
    b = {x.id: x.verdict for x in blur}
    assert b["A-blur-inception"] == "yes" and b["A-blur-archs"] == "yes"
    assert list(claims_table(blur)["section"]) == ["Fig. 6"] * 3  # every id has its checklist text
    # the data and module claims of chapters 01 and 02
    (params,) = [x for x in pac.module_claims() if x.id == "A-params-resnet"]
    assert params.ours == "69,632" and params.verdict == "yes"
