"""The paper-A grid: shape, cache reuse, recompute only what changed, shared σ = 0 model."""
from __future__ import annotations

import os
import time

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


def test_module_claims_count_the_built_modules():
    """Chapter 02's claim (the grid's claims are tested in tests/test_claims_a.py)."""
    from robustlab.paper_a import claims as pac

    (params,) = [x for x in pac.module_claims() if x.id == "A-params-resnet"]
    assert params.ours == "69,632" and params.verdict == "yes"


def test_cells_store_per_image_correctness_and_old_cells_are_recomputed(cfg, monkeypatch):
    """Every cell keeps which test image its model classifies correctly; a cell cached before that
    (same key without ``per_image``) is not reused: it is evaluated again, its model is not retrained."""
    store = ResultStore(cfg.results)
    conf = grid.eval_config(cfg, "resnet", "noise", 0.5, 0.5)
    old = {k: v for k, v in conf.items() if k != "per_image"}
    store.put("cifar_eval", old, {"accuracy": 0.123, "n_test": 20, "device": "cpu"})
    calls = _spy(monkeypatch)
    m = grid.accuracy_matrix(cfg, "resnet", "noise", progress=False)
    assert calls == {"train": 2} and _count(store, "cifar_eval") == 1 + 4 and m[1, 1] != 0.123
    cor = grid.correct_cells(cfg, "resnet", "noise", progress=False)
    assert cor.shape == (1, 2, 2, 20) and cor.dtype == bool and np.array_equal(cor[0].mean(-1), m)
    assert np.array_equal(grid.accuracy_matrices(cfg, "resnet", "noise", progress=False), m[None])
    hit = store.get("cifar_eval", conf)
    assert hit["correct"].shape == (20,) and hit["accuracy"] == hit["correct"].mean()
    # the per-image array is the model's predictions on the seeded corrupted test subset
    from robustlab.paper_a.training import predict

    x, y = grid.test_data(cfg)
    model = grid.get_model(cfg, "resnet", "noise", 0.5, progress=False)
    pred = predict(model, x, kind="noise", sigma=0.5, seed=int(cfg.seed), batch_size=grid.EVAL_BATCH)
    assert np.array_equal(hit["correct"], pred == y)


@pytest.mark.slow
def test_cpu_models_train_in_worker_processes_bit_identically(cfg, tmp_path):
    """With two torch threads the missing models of a grid train in two single-threaded processes fed
    from one queue (small nets do not use a second intra-op thread); each equals the model trained
    serially with one thread. With one thread, on a deadline, or for one model: serial, in this process."""
    from robustlab.core import budget

    n = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        assert grid.cpu_workers(cfg, 2) == min(2, os.cpu_count() or 1) and grid.cpu_workers(cfg, 1) == 1
        with budget.deadline_at(time.time() + 3600):
            assert grid.cpu_workers(cfg, 2) == 1
        # one queue for every architecture and kind: σ = 0 is one model for both kinds
        jobs = grid.train_grid(cfg, ["noise", "blur"], ["resnet", "resnext"], progress=False)
        assert sorted(jobs) == sorted((a, k, s, 0) for a in ("resnet", "resnext")
                                      for k, s in (("noise", 0.0), ("noise", 0.5), ("blur", 0.5)))
        assert grid.train_grid(cfg, ["noise", "blur"], ["resnet", "resnext"], progress=False) == []
        torch.set_num_threads(1)
        assert grid.cpu_workers(cfg, 2) == 1
        serial = resolve("test_grid", {**{k: cfg[k] for k in ("profile", "data_dir", "cache_dir", "sigmas",
                                                            "train_subset", "test_subset", "epochs",
                                                            "batch_size", "width", "device")},
                                       "results_dir": str(tmp_path / "serial")})
        grid.train_models(serial, "resnet", "noise", [0.0, 0.5], progress=False)
        for s in (0.0, 0.5):
            a = grid.get_model(cfg, "resnet", "noise", s).state_dict()
            b = grid.get_model(serial, "resnet", "noise", s).state_dict()
            assert all(torch.equal(a[k], b[k]) for k in a)
            assert grid.model_record(cfg, "resnet", "noise", s)["num_threads"] == 1
    finally:
        torch.set_num_threads(n)
