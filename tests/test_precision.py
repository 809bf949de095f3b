"""Precision: the parameter, bf16 detection, one autocast path on every device, the frozen TrainConfig
as the cache key, and tiny bf16 / fp32 trainings (bf16 only where this CPU has bf16 units)."""
from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pytest
import torch

from helpers import HP, same_state, separable, tiny_net
from robustlab.core import device as D
from robustlab.core.errors import ParameterError
from robustlab.core.params import resolve
from robustlab.paper_a import grid
from robustlab.paper_a import training as T
from robustlab.paper_a.nets import build

pytestmark = pytest.mark.usefixtures("one_thread")

HAS_BF16 = D.fast_bf16("cpu")
needs_bf16 = pytest.mark.skipif(not HAS_BF16, reason="this CPU has no AMX-BF16 / AVX512-BF16 units")


def test_resolve_precision(monkeypatch):
    assert D.resolve_precision("fp32", "cpu") == "fp32" and D.resolve_precision("bf16", "cpu") == "bf16"
    assert D.resolve_precision("auto", "cpu") == ("bf16" if HAS_BF16 else "fp32")
    monkeypatch.setattr(D, "fast_bf16", lambda dev: False)
    assert D.resolve_precision("auto", "cpu") == "fp32" and D.resolve_precision(None, "cpu") == "fp32"
    with pytest.raises(ParameterError, match="precision='fp16'.*auto"):
        D.resolve_precision("fp16", "cpu")
    with pytest.raises(ParameterError, match="resolve it first"):
        D.autocast("cpu", "auto")


def test_cpu_bf16_detection_reads_the_flags(monkeypatch):
    """Without torch's probes, the /proc/cpuinfo flags decide; neither flag → no bf16 units."""
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False, raising=False)
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False, raising=False)
    monkeypatch.setattr(D, "_cpu_flags", lambda: {"avx2", "avx512f"})
    assert not D.fast_bf16("cpu")
    monkeypatch.setattr(D, "_cpu_flags", lambda: {"avx512f", "avx512_bf16"})
    assert D.fast_bf16("cpu")
    monkeypatch.setattr(D, "_cpu_flags", lambda: {"amx_bf16"})
    assert D.fast_bf16("cpu")


def test_precision_parameter_checked():
    assert resolve("t", {"profile": "tiny"})["precision"] == "auto"
    with pytest.raises(ParameterError, match="precision"):
        resolve("t", {"profile": "tiny", "precision": "half"})


def test_first_convolution_stays_fp32_under_cpu_autocast():
    net = tiny_net().train().to(memory_format=torch.channels_last)
    convs = [m for m in net.modules() if isinstance(m, torch.nn.Conv2d)]
    seen = {}
    for name, mod in (("first", convs[0]), ("second", convs[1])):
        mod.register_forward_hook(lambda _m, _i, out, name=name: seen.__setitem__(name, out.dtype))
    with D.autocast("cpu", "bf16"):
        net(torch.randn(4, 3, 32, 32).contiguous(memory_format=torch.channels_last))
    assert seen == {"first": torch.float32, "second": torch.bfloat16}
    with D.autocast("cpu", "fp32"):
        net(torch.randn(4, 3, 32, 32))
    assert seen == {"first": torch.float32, "second": torch.float32}


def test_train_config_is_frozen_and_checked_once():
    hp = T.TrainConfig(arch="resnet", width=1 / 16, sigma=0.1, epochs=2)
    with pytest.raises(dataclasses.FrozenInstanceError):
        hp.sigma = 0.2
    for bad, match in (({"sigma": -0.1}, "sigma"), ({"sigma": float("nan")}, "sigma"), ({"kind": "fog"}, "kind"),
                       ({"kind": "clean", "sigma": 0.1}, "clean"), ({"precision": "auto"}, "precision"),
                       ({"arch": "vgg"}, "arch"), ({"lr_schedule": "linear"}, "lr_schedule"),
                       ({"epochs": 0}, "epochs")):
        with pytest.raises(ParameterError, match=match):
            T.TrainConfig(**bad)
    with pytest.raises(ParameterError, match="unknown training setting"):
        T.train(tiny_net(), *separable(32), epochs=1, sigmaa=0.1)


def test_train_config_key_keeps_the_fp32_keys_and_separates_bf16():
    """Replicate 0 in fp32 has exactly the key models always had (stored results stay valid); bf16 and
    replicates add their own fields, so fp32 and bf16 results are never mixed."""
    cfg = resolve("t", {"profile": "tiny", "precision": "fp32"})
    old = {"what": "paper A CIFAR-10 model", "version": 1, "data": "cifar10", "arch": "resnet",
           "width": float(cfg.width), "kind": "noise", "sigma": 0.1, "epochs": int(cfg.epochs),
           "batch_size": int(cfg.batch_size), "lr": float(cfg.lr), "momentum": float(cfg.momentum),
           "weight_decay": float(cfg.weight_decay), "lr_schedule": cfg.lr_schedule,
           "train_subset": cfg.train_subset, "seed": int(cfg.seed), "augment": False}
    assert grid.model_config(cfg, "resnet", "noise", 0.1) == old
    assert grid.model_config(cfg, "resnet", "noise", 0.1, replicate=1) == {**old, "seed": 1, "data_seed": 0}
    bf = resolve("t", {"profile": "tiny", "precision": "bf16"})
    assert grid.model_config(bf, "resnet", "noise", 0.1) == {**old, "precision": "bf16"}
    # σ = 0 and identity blurs are one clean model, in either precision
    assert grid.model_config(bf, "resnet", "blur", 0.1) == grid.model_config(bf, "resnet", "noise", 0.0)
    assert grid.train_config(bf, "resnet", "blur", 0.01).kind == "clean"
    auto = resolve("t", {"profile": "tiny", "precision": "auto"})
    assert grid.train_config(auto, "resnet", "noise", 0.1).precision == ("bf16" if HAS_BF16 else "fp32")


def _trained(precision, seed=3, epochs=4, net=None):
    x, y = separable()
    net = tiny_net() if net is None else net
    h = T.train(net, x, y, epochs=epochs, precision=precision, **{**HP, "seed": seed})
    return net, h, x, y


def test_fp32_training_and_evaluation_everywhere():
    net, h, x, y = _trained("fp32")
    assert h["precision"] == "fp32" and np.isfinite(h["loss"]).all()
    assert T.evaluate(net, x, y, kind="noise", sigma=0.0, precision="fp32") > 0.6


@needs_bf16
def test_bf16_training_learns_is_deterministic_and_really_bf16():
    a, ha, x, y = _trained("bf16")
    b, hb, _, _ = _trained("bf16")
    f, hf, _, _ = _trained("fp32")
    assert ha["precision"] == "bf16 autocast" and ha["loss"][-1] < ha["loss"][0]
    assert same_state(a, b) and ha["loss"] == hb["loss"]  # deterministic on the CPU
    assert not same_state(a, f)  # autocast really changed the arithmetic
    assert all(p.dtype == torch.float32 for p in a.parameters())  # weights stay fp32
    acc_b = T.evaluate(a, x, y, kind="noise", sigma=0.0, precision="bf16")
    acc_f = T.evaluate(f, x, y, kind="noise", sigma=0.0, precision="fp32")
    assert acc_b > 0.6 and abs(acc_b - acc_f) < 0.2
    # bf16 inference on the fp32 model agrees with fp32 inference on nearly every image
    pf = T.predict(f, x, precision="fp32")
    pb = T.predict(f, x, precision="bf16")
    assert (pf == pb).mean() >= 0.9


@needs_bf16
def test_float64_nets_stay_exact_under_bf16():
    """Autocast leaves float64 alone: a float64 net trains bit-identically with precision bf16 and fp32
    (the exactness tests keep working whatever the precision)."""
    torch.manual_seed(0)
    a = build("resnet", width=1 / 16).double()
    b = build("resnet", width=1 / 16).double()
    b.load_state_dict(a.state_dict())
    _trained("bf16", epochs=1, net=a)
    _trained("fp32", epochs=1, net=b)
    assert same_state(a, b)


def test_compile_failure_falls_back_to_eager_with_one_warning(monkeypatch):
    def broken(fn):
        def call(*a, **k):
            raise RuntimeError("no compiler here")
        return call

    monkeypatch.setattr(torch, "compile", broken)
    monkeypatch.setitem(T.COMPILE_PAYS, ("cpu", "resnet"), True)
    monkeypatch.setattr(T, "_COMPILED", {})
    ref, href, x, y = _trained("fp32", epochs=1)
    net = tiny_net()
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        h = T.train(net, x, y, epochs=1, precision="fp32", compile=True, **HP)
    msgs = [str(m.message) for m in w if "torch.compile failed" in str(m.message)]
    assert len(msgs) == 1 and "no compiler here" in msgs[0]
    assert same_state(net, ref) and h["loss"] == href["loss"]


def test_one_compiled_function_per_architecture(monkeypatch):
    made = []

    def fake(fn):
        made.append(fn)
        return fn

    monkeypatch.setattr(torch, "compile", fake)
    monkeypatch.setitem(T.COMPILE_PAYS, ("cpu", "resnet"), True)
    monkeypatch.setitem(T.COMPILE_PAYS, ("cpu", "inception"), False)
    monkeypatch.setattr(T, "_COMPILED", {})
    x, y = separable(64)
    for seed in (0, 1):
        h = T.train(tiny_net(seed), x, y, epochs=1, compile=True, **HP)
        assert h["precision"] == "fp32 + torch.compile"
    torch.manual_seed(0)
    h = T.train(build("inception", width=1 / 16), x, y, epochs=1, compile=True, **HP)
    assert h["precision"] == "fp32"  # the table says inception is not faster compiled
    assert len(made) == 1


def test_paper_b_stays_fp32_under_auto_and_keys_separate_bf16():
    from robustlab.paper_b import classifiers as C

    one = {"profile": "tiny", "model_name": "mobilenet_v2", "weights": "IMAGENET1K_V1"}  # (no file, no download)
    auto = resolve("t", {**one, "precision": "auto"})
    forced = resolve("t", {**one, "precision": "bf16"})
    assert not C.PAPER_B_BF16_OK and C.inference_precision(auto) == "fp32"
    assert "precision" not in C.model_key(auto)  # fp32 keys are those results always had
    assert C.inference_precision(forced) == "bf16" and C.model_key(forced)["precision"] == "bf16"


@needs_bf16
def test_paper_b_autocast_wrapper():
    from robustlab.paper_b.classifiers import Autocast, predict

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(),
                              torch.nn.Linear(8, 5)).eval()
    wrapped = Autocast(net, "bf16").eval()
    x = torch.rand(4, 3, 16, 16)
    with torch.inference_mode():
        out = wrapped(x)
        ref = net(x)
    assert out.dtype == torch.float32 and not torch.equal(out, ref) and torch.allclose(out, ref, atol=0.05)
    imgs = np.random.default_rng(0).integers(0, 256, (6, 16, 16, 3), dtype=np.uint8)
    assert predict(wrapped, imgs, 3).shape == (6,)


def test_paper_b_forward_batch_and_flushed_subnormals_change_no_logit(monkeypatch):
    """predict's speed-ups leave the predictions as they were: flushed subnormals change no logit, and
    every forward batch size it may choose changes logits at most in float32's last bits (at 224 px on
    2 threads with the real weights they are bit-identical: benchmarks/forward_batch.py). MobileNetV2
    at random weights (BatchNorm fitted to the images), 64 × 64 input, one thread."""
    import torchvision

    from robustlab.paper_b import classifiers as C

    torch.manual_seed(0)
    m = torchvision.models.mobilenet_v2(num_classes=10).to(memory_format=torch.channels_last)
    x = np.random.default_rng(0).integers(0, 256, (32, 64, 64, 3), dtype=np.uint8)
    with torch.no_grad():  # BatchNorm statistics of these images: activations of a trained net's scale
        m(C.to_input(x, "cpu"))
    m.eval()

    def logits(bs):
        with torch.inference_mode():
            return torch.cat([m(C.to_input(x[i:i + bs], "cpu")) for i in range(0, len(x), bs)])

    base = logits(32)
    for bs in C.FORWARD_TRIES:
        got = logits(bs)
        assert torch.equal(got.argmax(1), base.argmax(1)), f"forward batch {bs} changes a prediction"
        assert (got - base).abs().max() <= 1e-5 * base.abs().max(), f"forward batch {bs} moves the logits"
    with D.flush_denormals():
        assert torch.equal(logits(32), base)
    state = torch.get_rng_state()
    fb = C.forward_batch(m, (3, 64, 64), "cpu", 32)
    assert fb in C.FORWARD_TRIES and torch.equal(torch.get_rng_state(), state)  # the probe draws nothing
    pred, conf = C.predict(m, x, 32, return_conf=True)
    assert torch.equal(pred, base.argmax(1))
    assert torch.allclose(conf, base.softmax(1).max(1).values, rtol=1e-5, atol=0)
    monkeypatch.setenv("ROBUSTLAB_FORWARD_BATCH", "3")
    assert C.forward_batch(m, (3, 64, 64), "cpu", 32) == 3 and C.forward_batch(m, (3, 64, 64), "cpu", 2) == 2
    monkeypatch.setenv("ROBUSTLAB_FORWARD_BATCH", "lots")
    with pytest.raises(ParameterError, match="ROBUSTLAB_FORWARD_BATCH='lots'"):
        C.predict(m, x, 32)
    assert len(C.predict(m, x[:0], 32)) == 0
