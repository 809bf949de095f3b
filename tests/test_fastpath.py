"""The fast path: train_many (stacked σ levels) == separate train() calls, resume, evaluation
of several models at once == evaluate(), and the grid's stacked path shares the cache keys."""
from __future__ import annotations

import copy

import numpy as np
import pytest
from conftest import count_calls
import torch

from robustlab import grid
from robustlab import train as T
from robustlab.errors import ParameterError
from robustlab.models.cifar import build
from robustlab.params import resolve
from robustlab.results import ResultStore, load_result

from test_train import HP, _net, _same, separable

HPM = {k: v for k, v in HP.items() if k != "sigma"}


pytestmark = pytest.mark.usefixtures("one_thread")


def _close(a: torch.nn.Module, b: torch.nn.Module, atol=2e-2, rtol=1e-2) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    for k in sa:
        if sa[k].is_floating_point():
            if not torch.allclose(sa[k], sb[k], atol=atol, rtol=rtol):
                return False
        elif not torch.equal(sa[k], sb[k]):
            return False
    return True


@pytest.mark.parametrize("kind,sigmas,augment", [("noise", [0.0, 0.05, 0.5], True), ("blur", [0.0, 0.7, 2.0], True)])
def test_train_many_equals_separate_train(kind, sigmas, augment):
    x, y = separable(96)
    models = [_net(i) for i in range(3)]
    refs = [copy.deepcopy(m) for m in models]
    hp = {**HPM, "kind": kind, "augment": augment}
    hs = T.train_many(models, x, y, sigmas=sigmas, epochs=2, **hp)
    assert len(hs) == 3 and all(h["stacked"] == 3 for h in hs)
    for m, r, s, h in zip(models, refs, sigmas, hs):
        hr = T.train(r, x, y, sigma=s, epochs=2, **hp)
        assert _close(m, r), (kind, s)
        assert not _same(m, _net(0))  # it trained
        np.testing.assert_allclose(h["loss"], hr["loss"], rtol=1e-3)
        assert np.allclose(h["train_acc"], hr["train_acc"], atol=2 / 96)
        ea = T.evaluate(m, x, y, kind=kind, sigma=0.3, seed=1, batch_size=48)
        eb = T.evaluate(r, x, y, kind=kind, sigma=0.3, seed=1, batch_size=48)
        assert abs(ea - eb) <= 2 / 96
    # the models differ from each other: each saw its own σ
    assert not _close(models[1], models[2], atol=1e-4, rtol=0)


def test_train_many_one_model_is_train():
    x, y = separable(64)
    a, b = _net(), _net()
    ha = T.train(a, x, y, epochs=1, **HP)
    hb = T.train_many([b], x, y, sigmas=[HP["sigma"]], epochs=1, **HPM)[0]
    assert _same(a, b) and ha["loss"] == hb["loss"] and "stacked" not in hb


def test_train_many_resume_equals_uninterrupted(tmp_path, monkeypatch):
    x, y = separable(96)
    sig = [0.0, 0.1, 0.5]
    ref = [_net(i) for i in range(3)]
    href = T.train_many(ref, x, y, sigmas=sig, epochs=3, **HPM)
    ck = tmp_path / "stack.pt"
    real = T._corrupt_many
    calls = {"n": 0}
    steps = len(y) // HP["batch_size"]

    def boom(*a, **k):
        calls["n"] += 1
        if calls["n"] == steps + 2:  # inside epoch 2
            raise KeyboardInterrupt
        return real(*a, **k)

    monkeypatch.setattr(T, "_corrupt_many", boom)
    with pytest.raises(KeyboardInterrupt):
        T.train_many([_net(i) for i in range(3)], x, y, sigmas=sig, epochs=3, checkpoint=ck, **HPM)
    monkeypatch.setattr(T, "_corrupt_many", real)
    assert load_result(ck)["epoch"] == 1
    resumed = [_net(i) for i in range(3)]
    hs = T.train_many(resumed, x, y, sigmas=sig, epochs=3, checkpoint=ck, **HPM)
    assert all(h["resumed_from_epoch"] == 1 for h in hs)
    assert all(_same(a, b) for a, b in zip(resumed, ref))
    assert [h["loss"] for h in hs] == [h["loss"] for h in href]
    # finished: reused without training; damaged: warned about and trained from scratch
    again = [_net(i) for i in range(3)]
    assert T.train_many(again, x, y, sigmas=sig, epochs=3, checkpoint=ck, **HPM)[0]["resumed_from_epoch"] == 3
    assert all(_same(a, b) for a, b in zip(again, ref))
    data = ck.read_bytes()
    ck.write_bytes(data[: len(data) // 2])
    fresh = [_net(i) for i in range(3)]
    with pytest.warns(UserWarning, match="stack.pt"):
        hs = T.train_many(fresh, x, y, sigmas=sig, epochs=3, checkpoint=ck, **HPM)
    assert hs[0]["resumed_from_epoch"] == 0 and all(_same(a, b) for a, b in zip(fresh, ref))


def test_train_many_bad_input():
    x, y = separable(32)
    with pytest.raises(ParameterError, match="one σ per model"):
        T.train_many([_net(), _net()], x, y, sigmas=[0.1], epochs=1, **HPM)
    with pytest.raises(ParameterError, match="one σ per model"):
        T.train_many([], x, y, sigmas=[], epochs=1, **HPM)
    with pytest.raises(ParameterError):
        T.train_many([_net(), _net()], x, y, sigmas=[0.1, -1.0], epochs=1, **HPM)
    with pytest.raises(ParameterError, match="architecture"):
        T.train_many([_net(), build("inception", width=1 / 16)], x, y, sigmas=[0.1, 0.2], epochs=1, **HPM)
    with pytest.raises(ParameterError, match="uint8"):
        T.train_many([_net(), _net()], x.astype(np.float32), y, sigmas=[0.1, 0.2], epochs=1, **HPM)


@pytest.mark.parametrize("kind", ["noise", "blur"])
def test_evaluate_many_equals_evaluate(kind):
    x, y = separable(90)
    models = [_net(i) for i in range(3)]
    sig = [0.0, 0.5, 1.0]
    acc = T.evaluate_many(models, x, y, kind=kind, sigmas=sig, seed=2, batch_size=40)
    ref = np.array([[T.evaluate(m, x, y, kind=kind, sigma=s, seed=2, batch_size=40) for m in models] for s in sig])
    assert acc.shape == (3, 3) and np.array_equal(acc, ref)
    pred = T.predict_many(models, x, kind=kind, sigmas=sig, seed=2, batch_size=40)
    assert np.array_equal(pred[1, 2], T.predict(models[2], x, kind=kind, sigma=0.5, seed=2, batch_size=40))
    st = T.evaluate_many(models, x, y, kind=kind, sigmas=sig, seed=2, batch_size=40, stacked=True)
    assert np.abs(st - ref).max() <= 2 / 90  # logits equal up to rounding
    with pytest.raises(ParameterError):
        T.predict_many([], x, kind=kind, sigmas=sig)


@pytest.fixture
def cfg(shared_data, cache_dir, tmp_path):
    return resolve("test_fastpath", {"profile": "tiny", "data_dir": str(shared_data), "cache_dir": str(cache_dir),
                                     "results_dir": str(tmp_path / "on"), "sigmas": [0.0, 0.5, 1.0],
                                     "train_subset": 40, "test_subset": 20, "epochs": 1, "batch_size": 20,
                                     "width": 1 / 16, "device": "cpu", "stack_models": "on"})


def test_grid_stacked_matches_separate_and_shares_keys(cfg, tmp_path, monkeypatch):
    calls = count_calls(monkeypatch, grid, "train_many", "train")
    m_on = grid.accuracy_matrix(cfg, "resnet", "noise", progress=False)
    assert calls == {"train_many": 1, "train": 0} and m_on.shape == (3, 3)
    store = ResultStore(cfg.results)
    assert not list((store.root / "cifar_stack_ckpt").glob("*.pt"))
    assert grid.model_record(cfg, "resnet", "noise", 0.5)["stacked_with"] == 3
    # the same keys serve the per-model path: nothing is retrained
    off = type(cfg)({**cfg, "stack_models": "off"})
    assert np.array_equal(grid.accuracy_matrix(off, "resnet", "noise", progress=False), m_on)
    grid.get_model(off, "resnet", "noise", 1.0, progress=False)
    assert calls == {"train_many": 1, "train": 0}
    # blur: the σ = 0 model is shared, only the two blur models are trained (stacked)
    grid.accuracy_matrix(cfg, "resnet", "blur", progress=False)
    assert calls == {"train_many": 2, "train": 0}
    # trained alone elsewhere: the same numbers up to rounding
    sep = type(cfg)({**cfg, "stack_models": "off", "results_dir": str(tmp_path / "off")})
    m_off = grid.accuracy_matrix(sep, "resnet", "noise", progress=False)
    assert calls["train"] == 3
    assert np.abs(m_off - m_on).max() <= 2 / 20
    a = grid.get_model(cfg, "resnet", "noise", 0.5, progress=False)
    b = grid.get_model(sep, "resnet", "noise", 0.5, progress=False)
    assert _close(a, b)


def test_grid_stacked_interrupted_keeps_finished_cells(cfg, monkeypatch):
    real = grid.evaluate_many
    n = {"k": 0}

    def flaky(*a, **k):
        n["k"] += 1
        if n["k"] == 2:
            raise KeyboardInterrupt
        return real(*a, **k)

    monkeypatch.setattr(grid, "evaluate_many", flaky)
    with pytest.raises(KeyboardInterrupt):
        grid.accuracy_matrix(cfg, "resnext", "noise", progress=False)
    store = ResultStore(cfg.results)
    assert len(list((store.root / "cifar_eval").glob("*.pt"))) == 3  # the first σ_eval column
    assert len(list((store.root / "cifar_model").glob("*.pt"))) == 3
    monkeypatch.setattr(grid, "evaluate_many", real)
    monkeypatch.setattr(grid, "train_many", lambda *a, **k: pytest.fail("retrained"))
    m = grid.accuracy_matrix(cfg, "resnext", "noise", progress=False)
    assert np.all((m >= 0) & (m <= 1))


def test_use_stacking(cfg):
    assert grid.use_stacking(cfg) is True
    assert grid.use_stacking(type(cfg)({**cfg, "stack_models": "off"})) is False
    auto = type(cfg)({**cfg, "stack_models": "auto"})
    assert grid.use_stacking(auto) is grid.CPU_STACK_PAYS
    with pytest.raises(ParameterError, match="stack_models"):
        grid.use_stacking(type(cfg)({**cfg, "stack_models": "maybe"}))
