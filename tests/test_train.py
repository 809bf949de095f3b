"""Training: it learns, it is deterministic, and it resumes exactly after an interruption."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

from robustlab.core.errors import ParameterError
from robustlab.paper_a.nets import build
from robustlab.core.results import load_result
from robustlab.paper_a.training import evaluate, lr_factor, train

HP = dict(kind="noise", sigma=0.05, batch_size=32, lr=0.05, momentum=0.9, weight_decay=5e-4,
          lr_schedule="onecycle", seed=3, device="cpu", progress=False)


def separable(n=192, seed=0, size=16):
    """4 classes, each a distinct colour in a distinct quadrant, plus pixel noise: uint8 NHWC."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 4
    x = rng.normal(128, 30, size=(n, size, size, 3))
    h = size // 2
    for c in range(4):
        r, q = divmod(c, 2)
        x[y == c, r * h:(r + 1) * h, q * h:(q + 1) * h, c % 3] += 90
    return np.clip(x, 0, 255).astype(np.uint8), y.astype(np.int64)


def _net(seed=0):
    torch.manual_seed(seed)
    return build("resnet", width=1 / 16)


def _same(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_learns_separable_task():
    x, y = separable()
    net = _net()
    before = evaluate(net, x, y, kind="noise", sigma=0.0, seed=0, batch_size=64)
    h = train(net, x, y, epochs=4, **HP)
    assert h["loss"][-1] < h["loss"][0]
    acc = evaluate(net, x, y, kind="noise", sigma=0.0, seed=0, batch_size=64)
    assert acc > 0.6 > 0.25  # chance is 0.25
    assert acc > before
    assert len(h["loss"]) == 4 and h["resumed_from_epoch"] == 0


def test_same_seed_identical_different_seed_not():
    x, y = separable(96)
    a, b, c = _net(), _net(), _net()
    ha = train(a, x, y, epochs=1, **HP)
    hb = train(b, x, y, epochs=1, **HP)
    train(c, x, y, epochs=1, **{**HP, "seed": 4})
    assert _same(a, b) and ha["loss"] == hb["loss"]
    assert not _same(a, c)
    ea = evaluate(a, x, y, kind="noise", sigma=0.3, seed=1, batch_size=40)
    eb = evaluate(b, x, y, kind="noise", sigma=0.3, seed=1, batch_size=40)
    assert ea == eb


def test_resume_in_process_equals_uninterrupted(tmp_path):
    x, y = separable(96)
    ref = _net()
    href = train(ref, x, y, epochs=3, **{**HP, "kind": "blur", "sigma": 0.7})
    ck = tmp_path / "ck.pt"
    part = _net()
    train(part, x, y, epochs=3, checkpoint=ck, **{**HP, "kind": "blur", "sigma": 0.7})
    assert load_result(ck)["epoch"] == 3  # the end of training is checkpointed
    ck2 = tmp_path / "ck2.pt"
    first = _net()
    hp1 = {**HP, "kind": "blur", "sigma": 0.7}
    # interrupt after epoch 1: raise inside the second epoch
    calls = {"n": 0}
    steps = len(y) // HP["batch_size"]

    def boom(*_):
        calls["n"] += 1
        if calls["n"] == steps + 2:
            raise KeyboardInterrupt

    handle = first.register_forward_pre_hook(boom)
    with pytest.raises(KeyboardInterrupt):
        train(first, x, y, epochs=3, checkpoint=ck2, checkpoint_every_s=0, **hp1)  # after every batch
    handle.remove()
    state = load_result(ck2)
    assert (state["epoch"], state["batch"]) == (1, 1)  # inside epoch 2, after its first batch
    resumed = _net()
    h = train(resumed, x, y, epochs=3, checkpoint=ck2, **hp1)
    assert h["resumed_from_epoch"] == 1 and h["resumed_from_batch"] == 1
    assert _same(resumed, ref) and _same(part, ref)
    assert h["loss"] == href["loss"]
    # a finished checkpoint is reused without training
    again = _net()
    assert train(again, x, y, epochs=3, checkpoint=ck2, **hp1)["resumed_from_epoch"] == 3
    assert _same(again, ref)


def test_corrupt_or_foreign_checkpoint_restarts(tmp_path):
    x, y = separable(64)
    ck = tmp_path / "ck.pt"
    train(_net(), x, y, epochs=1, checkpoint=ck, **HP)
    ref = _net()
    train(ref, x, y, epochs=1, **{**HP, "lr": 0.02})
    net = _net()
    with pytest.warns(UserWarning, match=str(ck)):
        h = train(net, x, y, epochs=1, checkpoint=ck, **{**HP, "lr": 0.02})  # other config
    assert h["resumed_from_epoch"] == 0 and _same(net, ref)
    data = ck.read_bytes()
    ck.write_bytes(data[: len(data) // 2])  # truncated
    net = _net()
    with pytest.warns(UserWarning, match="ck.pt"):
        train(net, x, y, epochs=1, checkpoint=ck, **{**HP, "lr": 0.02})
    assert _same(net, ref)


SCRIPT = textwrap.dedent("""
    import os, signal, sys, torch
    torch.set_num_threads(1)
    sys.path.insert(0, {tests!r})
    from test_train import separable, _net, HP
    from robustlab.paper_a.training import train
    x, y = separable(128)
    net = _net()
    kill_at = int(os.environ.get("KILL_AT", "0"))
    calls = [0]
    def hook(*_):
        calls[0] += 1
        if calls[0] == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
    net.register_forward_pre_hook(hook)
    ck = sys.argv[1] if sys.argv[1] != "-" else None
    h = train(net, x, y, epochs=3, checkpoint=ck, checkpoint_every_s=0, **HP)
    torch.save({{"state": net.state_dict(), "resumed": h["resumed_from_epoch"]}}, sys.argv[2])
""")


@pytest.mark.slow
def test_resume_after_sigkill_subprocess(tmp_path):
    script = tmp_path / "run.py"
    script.write_text(SCRIPT.format(tests=str(Path(__file__).parent)))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    py = sys.executable
    subprocess.run([py, str(script), "-", str(tmp_path / "ref.pt")], check=True, env=env, timeout=120)
    ck = tmp_path / "ck.pt"
    steps = 128 // HP["batch_size"]
    killed = subprocess.run([py, str(script), str(ck), str(tmp_path / "x.pt")],
                            env={**env, "KILL_AT": str(steps + steps // 2)}, timeout=120)
    assert killed.returncode == -signal.SIGKILL
    assert not (tmp_path / "x.pt").exists()
    state = load_result(ck)
    assert (state["epoch"], state["batch"]) == (1, steps // 2 - 1)  # killed in the middle of epoch 2
    subprocess.run([py, str(script), str(ck), str(tmp_path / "resumed.pt")], check=True, env=env, timeout=120)
    ref = torch.load(tmp_path / "ref.pt")
    res = torch.load(tmp_path / "resumed.pt")
    assert res["resumed"] == 1
    assert ref["state"].keys() == res["state"].keys()
    assert all(torch.equal(ref["state"][k], res["state"][k]) for k in ref["state"])


def test_bad_arguments():
    x, y = separable(32)
    for bad in ({"epochs": 0}, {"sigma": -1.0}, {"kind": "fog"}, {"lr_schedule": "warm"}, {"lr": 0.0}):
        with pytest.raises(ParameterError):
            train(_net(), x, y, **{**HP, "epochs": 1, **bad})
    with pytest.raises(ParameterError, match="uint8"):
        train(_net(), x.astype(np.float32), y, epochs=1, **HP)


def test_lr_schedules():
    assert lr_factor("onecycle", 0, 100) == pytest.approx(0.1)
    assert lr_factor("onecycle", 20, 100) == pytest.approx(1.0)
    assert lr_factor("onecycle", 100, 100) == pytest.approx(0.0)
    assert lr_factor("cosine", 100, 100) == pytest.approx(0.0)
    assert lr_factor("step", 80, 100) == pytest.approx(0.01)


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.mark.parametrize("sigma", [0.1, 0.7, 5.0])
def test_training_blur_equals_gaussian_blur(sigma):
    """Training builds each σ's blur kernel once; the values are gaussian_blur's, bit for bit."""
    from robustlab.paper_a.corruptions import gaussian_blur
    from robustlab.paper_a.training import _Blur

    x = torch.rand(4, 3, 16, 16, generator=torch.Generator().manual_seed(0)) * 2 - 1
    assert torch.equal(_Blur(sigma, (16, 16), torch.device("cpu"))(x), gaussian_blur(x, sigma))
