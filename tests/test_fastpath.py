"""The fast path: train_many (σ levels as one wide net) == separate train() calls, deadline and
time-based checkpoints resume bit-identically mid-epoch, the batch loop never reads the device,
evaluation of several models at once == evaluate(), and the grid's stacked path shares the cache keys."""
from __future__ import annotations

import copy
import time

import numpy as np
import pytest
import torch

from helpers import HP, count_calls, same_state, separable, tiny_net
from robustlab.core import budget
from robustlab.core.errors import DeadlineReached, ParameterError
from robustlab.core.params import resolve
from robustlab.core.results import ResultStore, load_result
from robustlab.paper_a import grid
from robustlab.paper_a import training as T
from robustlab.paper_a.nets import build

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


def _net64(seed=0, arch="resnet"):
    torch.manual_seed(seed)
    return build(arch, width=1 / 16).double()


@pytest.mark.parametrize("arch,kind,sigmas,augment", [
    ("resnet", "noise", [0.0, 0.05, 0.5], True), ("resnet", "blur", [0.0, 0.7, 2.0], True),
    ("inception", "noise", [0.5, 0.0, 0.1], False), ("resnext", "blur", [0.0, 0.1, 1.0], False)])
def test_train_many_equals_separate_train_exactly_in_float64(arch, kind, sigmas, augment):
    """In float64 the wide net's rounding is invisible: this checks the RNG contract (same shuffle,
    augmentation and noise per model), the per-model losses, BatchNorm and the optimiser."""
    x, y = separable(96)
    models = [_net64(i, arch) for i in range(3)]
    refs = [copy.deepcopy(m) for m in models]
    hp = {**HPM, "kind": kind, "augment": augment}
    hs = T.train_many(models, x, y, sigmas=sigmas, epochs=2, **hp)
    assert len(hs) == 3 and all(h["stacked"] == 3 for h in hs)
    for m, r, s, h in zip(models, refs, sigmas, hs):
        hr = T.train(r, x, y, sigma=s, epochs=2, **hp)
        for (k, a), b in zip(m.state_dict().items(), r.state_dict().values()):
            torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-11, msg=k)
        np.testing.assert_allclose(h["loss"], hr["loss"], rtol=1e-6)
        assert h["train_acc"] == hr["train_acc"]
    assert not same_state(models[0], _net64(0, arch))  # it trained
    assert not _close(models[1], models[2], atol=1e-4, rtol=0)  # each saw its own σ


def test_train_many_float32_matches_separate_up_to_rounding():
    x, y = separable(96)
    sigmas = [0.0, 0.05, 0.5]
    models = [tiny_net(i) for i in range(3)]
    refs = [copy.deepcopy(m) for m in models]
    hp = {**HPM, "augment": True, "lr": 0.02}
    hs = T.train_many(models, x, y, sigmas=sigmas, epochs=2, **hp)
    for m, r, s, h in zip(models, refs, sigmas, hs):
        hr = T.train(r, x, y, sigma=s, epochs=2, **hp)
        np.testing.assert_allclose(h["loss"], hr["loss"], rtol=1e-2)
        assert np.allclose(h["train_acc"], hr["train_acc"], atol=3 / 96)
        ea = T.evaluate(m, x, y, kind="noise", sigma=0.3, seed=1, batch_size=48)
        eb = T.evaluate(r, x, y, kind="noise", sigma=0.3, seed=1, batch_size=48)
        assert abs(ea - eb) <= 3 / 96


def test_train_many_one_model_is_train():
    x, y = separable(64)
    a, b = tiny_net(), tiny_net()
    ha = T.train(a, x, y, epochs=1, **HP)
    hb = T.train_many([b], x, y, sigmas=[HP["sigma"]], epochs=1, **HPM)[0]
    assert same_state(a, b) and ha["loss"] == hb["loss"] and "stacked" not in hb


@pytest.fixture
def past_deadline():
    """Every training call stops (checkpointed) after one batch."""
    budget.set_deadline(time.time() - 1)
    try:
        yield
    finally:
        budget.set_deadline(None)


def _until_done(fn, limit=50):
    for calls in range(1, limit + 1):
        try:
            return fn(), calls
        except DeadlineReached:
            pass
    raise AssertionError("no progress")


@pytest.mark.parametrize("many", [True, False])
def test_deadline_resume_mid_epoch_is_bit_identical(tmp_path, many, request):
    x, y = separable(96)
    sig = [0.0, 0.1, 0.5] if many else [0.7]
    hp = {**HPM, "kind": "noise" if many else "blur", "augment": True}
    ref = [tiny_net(i) for i in range(len(sig))]
    href = T.train_many(ref, x, y, sigmas=sig, epochs=2, **hp)
    ck = tmp_path / "ck.pt"
    request.getfixturevalue("past_deadline")
    out = {}

    def once():
        out["models"] = [tiny_net(i) for i in range(len(sig))]
        return T.train_many(out["models"], x, y, sigmas=sig, epochs=2, checkpoint=ck, **hp)

    with pytest.raises(DeadlineReached, match="ck.pt"):
        once()
    state = load_result(ck)
    assert (state["epoch"], state["batch"]) == (0, 1)  # one batch per call, position inside the epoch
    hs, calls = _until_done(once)
    steps = len(y) // HP["batch_size"]
    assert calls == 2 * steps  # 1 + (2·steps - 1) more batches, + the call that closes the last epoch
    assert all(same_state(a, b) for a, b in zip(out["models"], ref))
    assert [h["loss"] for h in hs] == [h["loss"] for h in href]
    assert [h["train_acc"] for h in hs] == [h["train_acc"] for h in href]


def test_checkpoints_by_time_and_resume(tmp_path, monkeypatch):
    x, y = separable(96)
    sig = [0.0, 0.1, 0.5]
    ref = [tiny_net(i) for i in range(3)]
    href = T.train_many(ref, x, y, sigmas=sig, epochs=3, **HPM)
    real = T._train_step
    calls = {"n": 0}
    steps = len(y) // HP["batch_size"]

    def boom(*a, **k):
        calls["n"] += 1
        if calls["n"] == steps + 2:  # inside epoch 2
            raise KeyboardInterrupt
        return real(*a, **k)

    monkeypatch.setattr(T, "_train_step", boom)
    ck = tmp_path / "stack.pt"
    with pytest.raises(KeyboardInterrupt):  # default: every 600 s, so nothing written yet
        T.train_many([tiny_net(i) for i in range(3)], x, y, sigmas=sig, epochs=3, checkpoint=ck, **HPM)
    assert not ck.exists()
    calls["n"] = 0
    with pytest.raises(KeyboardInterrupt):  # every batch
        T.train_many([tiny_net(i) for i in range(3)], x, y, sigmas=sig, epochs=3, checkpoint=ck,
                     checkpoint_every_s=0, **HPM)
    monkeypatch.setattr(T, "_train_step", real)
    st = load_result(ck)
    assert (st["epoch"], st["batch"]) == (1, 1)
    resumed = [tiny_net(i) for i in range(3)]
    hs = T.train_many(resumed, x, y, sigmas=sig, epochs=3, checkpoint=ck, **HPM)
    assert all(h["resumed_from_epoch"] == 1 and h["resumed_from_batch"] == 1 for h in hs)
    assert all(same_state(a, b) for a, b in zip(resumed, ref))
    assert [h["loss"] for h in hs] == [h["loss"] for h in href]
    assert load_result(ck)["epoch"] == 3  # the finished run is checkpointed too
    # finished: reused without training; damaged: warned about and trained from scratch
    again = [tiny_net(i) for i in range(3)]
    assert T.train_many(again, x, y, sigmas=sig, epochs=3, checkpoint=ck, **HPM)[0]["resumed_from_epoch"] == 3
    assert all(same_state(a, b) for a, b in zip(again, ref))
    data = ck.read_bytes()
    ck.write_bytes(data[: len(data) // 2])
    fresh = [tiny_net(i) for i in range(3)]
    with pytest.warns(UserWarning, match="stack.pt"):
        hs = T.train_many(fresh, x, y, sigmas=sig, epochs=3, checkpoint=ck, **HPM)
    assert hs[0]["resumed_from_epoch"] == 0 and all(same_state(a, b) for a, b in zip(fresh, ref))


def test_batch_loop_does_not_synchronise(monkeypatch):
    """Host reads of device values (.item(), .tolist(), float(t), …) happen per epoch, not per batch."""
    counts = {"n": 0}
    for name in ("item", "tolist", "__float__", "__int__", "__bool__", "cpu", "numpy"):
        real = getattr(torch.Tensor, name)

        def counted(self, *a, _real=real, **k):
            counts["n"] += 1
            return _real(self, *a, **k)

        monkeypatch.setattr(torch.Tensor, name, counted)
    per_run = []
    for n in (64, 128):  # 2 and 4 batches per epoch
        x, y = separable(n)
        models = [tiny_net(i) for i in range(2)]
        counts["n"] = 0
        T.train_many(models, x, y, kind="blur", sigmas=[0.0, 0.7], epochs=2, augment=True,
                     **{k: v for k, v in HPM.items() if k != "kind"})
        per_run.append(counts["n"])
    assert per_run[0] == per_run[1] and per_run[0] > 0, per_run


def test_train_many_bad_input():
    x, y = separable(32)
    with pytest.raises(ParameterError, match="one σ per model"):
        T.train_many([tiny_net(), tiny_net()], x, y, sigmas=[0.1], epochs=1, **HPM)
    with pytest.raises(ParameterError, match="one σ per model"):
        T.train_many([], x, y, sigmas=[], epochs=1, **HPM)
    with pytest.raises(ParameterError):
        T.train_many([tiny_net(), tiny_net()], x, y, sigmas=[0.1, -1.0], epochs=1, **HPM)
    with pytest.raises(ParameterError, match="architecture"):
        T.train_many([tiny_net(), build("inception", width=1 / 16)], x, y, sigmas=[0.1, 0.2], epochs=1, **HPM)
    with pytest.raises(ParameterError, match="uint8"):
        T.train_many([tiny_net(), tiny_net()], x.astype(np.float32), y, sigmas=[0.1, 0.2], epochs=1, **HPM)


@pytest.mark.parametrize("kind", ["noise", "blur"])
def test_evaluate_many_equals_evaluate(kind):
    x, y = separable(90)
    models = [tiny_net(i) for i in range(3)]
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
