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

from helpers import HP, same_state, separable, tiny_net
from robustlab.core.errors import ParameterError
from robustlab.core.results import load_result
from robustlab.paper_a.training import evaluate, lr_factor, train


def test_learns_separable_task():
    x, y = separable()
    net = tiny_net()
    before = evaluate(net, x, y, kind="noise", sigma=0.0, seed=0, batch_size=64)
    h = train(net, x, y, epochs=4, **HP)
    assert h["loss"][-1] < h["loss"][0]
    acc = evaluate(net, x, y, kind="noise", sigma=0.0, seed=0, batch_size=64)
    assert acc > 0.6 > 0.25  # chance is 0.25
    assert acc > before
    assert len(h["loss"]) == 4 and h["resumed_from_epoch"] == 0


def test_same_seed_identical_different_seed_not():
    x, y = separable(96)
    a, b, c = tiny_net(), tiny_net(), tiny_net()
    ha = train(a, x, y, epochs=1, **HP)
    hb = train(b, x, y, epochs=1, **HP)
    train(c, x, y, epochs=1, **{**HP, "seed": 4})
    assert same_state(a, b) and ha["loss"] == hb["loss"]
    assert not same_state(a, c)
    ea = evaluate(a, x, y, kind="noise", sigma=0.3, seed=1, batch_size=40)
    eb = evaluate(b, x, y, kind="noise", sigma=0.3, seed=1, batch_size=40)
    assert ea == eb


def test_resume_in_process_equals_uninterrupted(tmp_path):
    x, y = separable(96)
    ref = tiny_net()
    href = train(ref, x, y, epochs=3, **{**HP, "kind": "blur", "sigma": 0.7})
    ck = tmp_path / "ck.pt"
    part = tiny_net()
    train(part, x, y, epochs=3, checkpoint=ck, **{**HP, "kind": "blur", "sigma": 0.7})
    assert load_result(ck)["epoch"] == 3  # the end of training is checkpointed
    ck2 = tmp_path / "ck2.pt"
    first = tiny_net()
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
    resumed = tiny_net()
    h = train(resumed, x, y, epochs=3, checkpoint=ck2, **hp1)
    assert h["resumed_from_epoch"] == 1 and h["resumed_from_batch"] == 1
    assert same_state(resumed, ref) and same_state(part, ref)
    assert h["loss"] == href["loss"]
    # a finished checkpoint is reused without training
    again = tiny_net()
    assert train(again, x, y, epochs=3, checkpoint=ck2, **hp1)["resumed_from_epoch"] == 3
    assert same_state(again, ref)


def test_corrupt_or_foreign_checkpoint_restarts(tmp_path):
    x, y = separable(64)
    ck = tmp_path / "ck.pt"
    train(tiny_net(), x, y, epochs=1, checkpoint=ck, **HP)
    ref = tiny_net()
    train(ref, x, y, epochs=1, **{**HP, "lr": 0.02})
    net = tiny_net()
    with pytest.warns(UserWarning, match=str(ck)):
        h = train(net, x, y, epochs=1, checkpoint=ck, **{**HP, "lr": 0.02})  # other config
    assert h["resumed_from_epoch"] == 0 and same_state(net, ref)
    data = ck.read_bytes()
    ck.write_bytes(data[: len(data) // 2])  # truncated
    net = tiny_net()
    with pytest.warns(UserWarning, match="ck.pt"):
        train(net, x, y, epochs=1, checkpoint=ck, **{**HP, "lr": 0.02})
    assert same_state(net, ref)


SCRIPT = textwrap.dedent("""
    import os, signal, sys, torch
    torch.set_num_threads(1)
    sys.path.insert(0, {tests!r})
    from helpers import HP, separable, tiny_net
    from robustlab.paper_a.training import train
    x, y = separable(128)
    net = tiny_net()
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
            train(tiny_net(), x, y, **{**HP, "epochs": 1, **bad})
    with pytest.raises(ParameterError, match="uint8"):
        train(tiny_net(), x.astype(np.float32), y, epochs=1, **HP)


def test_lr_schedules():
    assert lr_factor("onecycle", 0, 100) == pytest.approx(0.1)
    assert lr_factor("onecycle", 20, 100) == pytest.approx(1.0)
    assert lr_factor("onecycle", 100, 100) == pytest.approx(0.0)
    assert lr_factor("cosine", 100, 100) == pytest.approx(0.0)
    assert lr_factor("step", 80, 100) == pytest.approx(0.01)


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.mark.parametrize("sigma", [0.3, 0.7, 5.0])
def test_one_blur_for_training_and_evaluation(sigma):
    """Training blurs with corruptions.GaussianBlur (kernel built once), the one blur that gaussian_blur
    also applies; a blur built for one image size refuses another."""
    from robustlab.paper_a.corruptions import GaussianBlur, gaussian_blur
    from robustlab.paper_a.training import _Corrupter

    x = torch.rand(4, 3, 16, 16, generator=torch.Generator().manual_seed(0)) * 2 - 1
    c = _Corrupter("blur", [sigma], torch.device("cpu"), (16, 16))
    assert isinstance(c.blurs[0], GaussianBlur)
    assert torch.equal(c(x, None), gaussian_blur(x, sigma)) and not torch.equal(c(x, None), x)
    with pytest.raises(ParameterError, match="image size"):
        c.blurs[0](torch.zeros(1, 3, 8, 8))
