"""CUDA (skipped without a GPU), through the same functions as the CPU path (precision bf16: the one
autocast path): the wide net against single nets, autocast dtypes (the first convolution in float32),
BatchNorm statistics, one short epoch per architecture at paper width, the fused optimiser and
torch.compile."""
from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from helpers import HP, separable
from robustlab.paper_a import training as T
from robustlab.paper_a.nets import build, stack_inputs, stack_models, unstack_state_dict

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")

CUDA = dict(HP, device="cuda", precision="bf16")  # the one autocast path, as on a CPU with bf16 units
CUDA_M = {k: v for k, v in CUDA.items() if k != "sigma"}


def _net(seed=0, arch="resnet", width=1 / 16):
    torch.manual_seed(seed)
    return build(arch, width=width)


def test_wide_training_matches_single_on_cuda():
    x, y = separable(256)
    sig = [0.0, 0.1, 0.5]
    models = [_net(i) for i in range(3)]
    refs = [copy.deepcopy(m) for m in models]
    hs = T.train_many(models, x, y, sigmas=sig, epochs=6, **CUDA_M)
    assert all(h["device"].startswith("cuda") and "bf16" in h["precision"] for h in hs)
    for m, r, s, h in zip(models, refs, sig, hs):
        hr = T.train(r, x, y, sigma=s, epochs=6, **CUDA_M)
        assert abs(h["train_acc"][-1] - hr["train_acc"][-1]) <= 0.15
        ea = T.evaluate(m, x, y, kind="noise", sigma=s, seed=1, device="cuda")
        eb = T.evaluate(r, x, y, kind="noise", sigma=s, seed=1, device="cuda")
        assert abs(ea - eb) <= 0.15, (s, ea, eb)


@pytest.mark.parametrize("stack", [1, 3])
def test_autocast_dtypes(stack):
    net = stack_models([_net(i) for i in range(3)]) if stack > 1 else _net()
    net = net.cuda().to(memory_format=torch.channels_last).train()
    seen = {}
    convs = [m for m in net.modules() if isinstance(m, torch.nn.Conv2d)]
    for name, mod in (("first", convs[0]), ("second", convs[1])):
        mod.register_forward_hook(lambda _m, _i, out, name=name: seen.__setitem__(name, out.dtype))
    x = torch.randn(8, 3 * stack, 32, 32, device="cuda").contiguous(memory_format=torch.channels_last)
    with torch.autocast("cuda", dtype=torch.bfloat16):
        out = net(x)
    assert seen == {"first": torch.float32, "second": torch.bfloat16}
    assert out.shape == (8, 10 * stack)  # (the wide dense layer adds its fp32 bias after a bf16 bmm)
    assert all(p.dtype == torch.float32 for p in net.parameters())
    out.float().sum().backward()
    assert all(p.grad is not None and p.grad.dtype == torch.float32 for p in net.parameters())


@pytest.mark.parametrize("arch", ["resnet", "inception", "resnext"])
def test_batchnorm_statistics_wide_equal_single(arch):
    models = [_net(i, arch).cuda().train() for i in range(3)]
    wide = stack_models(models).train()
    x = torch.randn(3, 16, 3, 32, 32, device="cuda")
    tf32 = torch.backends.cudnn.allow_tf32
    torch.backends.cudnn.allow_tf32 = False
    try:
        with torch.no_grad():
            wide(stack_inputs(x))
            for i, m in enumerate(models):
                m(x[i])
    finally:
        torch.backends.cudnn.allow_tf32 = tf32
    for sd, m in zip(unstack_state_dict(wide.state_dict(), 3), models):
        for k, v in m.state_dict().items():
            if "running" in k:
                torch.testing.assert_close(sd[k], v, rtol=1e-4, atol=1e-5, msg=k)
            elif "num_batches" in k:
                assert torch.equal(sd[k], v)
    # under bf16 autocast: equal up to bf16 rounding
    models2 = [_net(i, arch).cuda().train() for i in range(2)]
    wide2 = stack_models(models2).train()
    with torch.no_grad(), torch.autocast("cuda", dtype=torch.bfloat16):
        wide2(stack_inputs(x[:2]))
        for i, m in enumerate(models2):
            m(x[i])
    for sd, m in zip(unstack_state_dict(wide2.state_dict(), 2), models2):
        for k, v in m.state_dict().items():
            if "running" in k:
                torch.testing.assert_close(sd[k].float(), v.float(), rtol=5e-2, atol=5e-2, msg=k)


@pytest.mark.parametrize("arch", ["resnet", "inception", "resnext"])
def test_short_epoch_at_paper_width(arch):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (512, 32, 32, 3), dtype=np.uint8)
    y = rng.integers(0, 10, 512).astype(np.int64)
    hp = dict(CUDA_M, batch_size=128, augment=True)
    h = T.train(_net(0, arch, 1.0), x, y, sigma=0.1, epochs=1, **hp)
    assert np.isfinite(h["loss"][0]) and h["images_per_s"][0] > 0
    hs = T.train_many([_net(i, arch, 1.0) for i in range(3)], x, y, sigmas=[0.0, 0.1, 0.5], epochs=1, **hp)
    assert all(np.isfinite(hh["loss"][0]) for hh in hs)
    hb = T.train_many([_net(i, arch, 1.0) for i in range(2)], x, y, sigmas=[0.0, 1.0],
                      epochs=1, **{**hp, "kind": "blur"})
    assert all(np.isfinite(hh["loss"][0]) for hh in hb)


def test_fused_or_foreach_sgd():
    x, y = separable(64)
    net = _net().cuda()
    st, _, _ = T._setup(T.TrainConfig(sigma=0.1, epochs=1, batch_size=32, lr=0.05), [0.1], x, y, "cuda", None)
    opt, _ = T._optimizer(net, st)
    assert opt.defaults.get("fused") or opt.defaults.get("foreach")


@pytest.mark.slow
def test_compile_runs(monkeypatch):
    # COMPILE_PAYS lists no CUDA entry until a GPU benchmark decides; the path itself is exercised here
    monkeypatch.setitem(T.COMPILE_PAYS, ("cuda", "resnet"), True)
    x, y = separable(128)
    h = T.train(_net(), x, y, epochs=1, compile=True, **CUDA)
    assert "torch.compile" in h["precision"] and np.isfinite(h["loss"][0])
    hs = T.train_many([_net(i) for i in range(3)], x, y, sigmas=[0.0, 0.1, 0.5], epochs=1, compile=True, **CUDA_M)
    assert all("torch.compile" in hh["precision"] and np.isfinite(hh["loss"][0]) for hh in hs)


def test_predict_many_stacked_on_cuda():
    x, y = separable(90)
    models = [_net(i) for i in range(3)]
    sig = [0.0, 0.5]
    ref = T.evaluate_many(models, x, y, kind="noise", sigmas=sig, device="cuda", batch_size=40, precision="bf16")
    st = T.evaluate_many(models, x, y, kind="noise", sigmas=sig, device="cuda", batch_size=40, stacked=True,
                         precision="bf16")
    assert np.abs(st - ref).max() <= 5 / 90
