"""Paper A's modules and networks: parameter counts, shapes, errors."""
from __future__ import annotations

import pytest
import torch

from robustlab.core.errors import ParameterError
from robustlab.paper_a import nets as cifar


def test_paper_conv_weight_counts():
    assert cifar.conv_weight_count(cifar.ResNetModule(256, 64)) == 69_632
    assert cifar.conv_weight_count(cifar.ResNeXtModule(256, 32, 4)) == 70_144
    # the paper gives 192,512 but not the widths; ours (64|96→112|32→48|pool→32) hit it exactly
    assert cifar.conv_weight_count(cifar.InceptionModule(256)) == 192_512
    for arch, n in cifar.PAPER_CONV_WEIGHTS.items():
        assert cifar.conv_weight_count(cifar.module_for(arch, 256)) == n


def test_conv_module_order_and_no_bias():
    m = cifar.ConvModule(3, 8, 3)
    assert [type(x) for x in m] == [torch.nn.Conv2d, torch.nn.ReLU, torch.nn.BatchNorm2d]
    assert m[0].bias is None


@pytest.mark.parametrize("arch", cifar.ARCHS)
@pytest.mark.parametrize("width", [1 / 16, 0.125])
def test_build_shapes_and_residual(arch, width):
    torch.manual_seed(0)
    net = cifar.build(arch, width=width)
    y = net(torch.randn(2, 3, 32, 32))
    assert y.shape == (2, 10)
    mod = net.stages[0][0]
    x = torch.randn(1, net.channels, 8, 8)
    assert mod(x).shape == x.shape


def test_width_scales_channels():
    assert cifar.build("resnet", width=1.0).channels == 256
    assert cifar.build("resnet", width=0.125).channels == 32


def test_unknown_arch_lists_choices():
    with pytest.raises(ParameterError, match="resnext"):
        cifar.build("vgg")
    with pytest.raises(ParameterError, match="width"):
        cifar.build("resnet", width=0)


def test_inception_widths_must_sum():
    with pytest.raises(ParameterError, match="channels"):
        cifar.InceptionModule(256, b1=10)


# --------------------------------------------------------------------------------------
# wide (stacked) networks
# --------------------------------------------------------------------------------------
import hashlib  # noqa: E402

import torch.nn.functional as F  # noqa: E402

#: (state-dict entries, numbers, sha256 of the (key, shape) list) of the plain nets at width 1,
#: as they were before ``stack`` existed: cached models must keep loading.
PLAIN_LAYOUT = {"resnet": (74, 957_398, "2a4405d8429f545f"), "inception": (128, 1_326_047, "d57faaee7974678e"),
                "resnext": (74, 960_470, "deee45dae71b93dd")}


@pytest.mark.parametrize("arch", cifar.ARCHS)
def test_stack_one_keeps_the_plain_layout(arch):
    sd = cifar.build(arch, width=1.0, stack=1).state_dict()
    h = hashlib.sha256(repr([(k, tuple(v.shape)) for k, v in sd.items()]).encode()).hexdigest()[:16]
    assert (len(sd), sum(v.numel() for v in sd.values()), h) == PLAIN_LAYOUT[arch]
    net = cifar.build(arch, width=1 / 16)
    assert isinstance(net.fc, torch.nn.Linear) and isinstance(net.pre[0][0], torch.nn.Conv2d)


def _pair(arch, m=3, dtype=torch.float64):
    torch.manual_seed(0)
    models = [cifar.build(arch, width=1 / 16).to(dtype) for _ in range(m)]
    for net in models:  # non-trivial BatchNorm affine parameters and running statistics
        for mod in net.modules():
            if isinstance(mod, torch.nn.BatchNorm2d):
                for t in (mod.weight, mod.bias, mod.running_mean):
                    t.data.uniform_(-0.5, 0.5)
                mod.running_var.data.uniform_(0.5, 2.0)
    return models, cifar.stack_models(models)


@pytest.mark.parametrize("arch", cifar.ARCHS)
def test_wide_forward_equals_separate(arch):
    models, wide = _pair(arch)
    assert wide.stack == 3 and wide.pre[0][0].groups == 3
    x = torch.randn(3, 4, 3, 16, 16, dtype=torch.float64)
    for train in (False, True):
        wide.train(train)
        for m in models:
            m.train(train)
        out = wide.forward_models(cifar.stack_inputs(x))
        ref = torch.stack([m(x[i]) for i, m in enumerate(models)])
        assert out.shape == (3, 4, 10)
        torch.testing.assert_close(out, ref, rtol=1e-9, atol=1e-10)
    # BatchNorm running statistics after the training forward: per model
    for sd, m in zip(cifar.unstack_state_dict(wide.state_dict(), 3), models):
        for k, v in m.state_dict().items():
            torch.testing.assert_close(sd[k], v, rtol=1e-9, atol=1e-12, msg=k)


@pytest.mark.parametrize("arch", cifar.ARCHS)
def test_wide_gradients_equal_separate(arch):
    models, wide = _pair(arch, m=2)
    x = torch.randn(2, 4, 3, 16, 16, dtype=torch.float64)
    y = torch.randint(0, 10, (4,))
    out = wide.train().forward_models(cifar.stack_inputs(x))
    (F.cross_entropy(out[0], y) + F.cross_entropy(out[1], y)).backward()
    grads = cifar.unstack_state_dict({k: p.grad for k, p in wide.named_parameters()}, 2)
    for i, m in enumerate(models):
        F.cross_entropy(m.train()(x[i]), y).backward()
        for k, p in m.named_parameters():
            torch.testing.assert_close(grads[i][k], p.grad, rtol=1e-8, atol=1e-12, msg=k)


def test_wide_float32_close_to_separate():
    models, wide = _pair("inception", m=2, dtype=torch.float32)
    x = torch.randn(2, 4, 3, 32, 32)
    with torch.no_grad():
        out = wide.eval().forward_models(cifar.stack_inputs(x))
        ref = torch.stack([m.eval()(x[i]) for i, m in enumerate(models)])
    torch.testing.assert_close(out, ref, rtol=1e-4, atol=1e-4)


def test_state_dict_stack_unstack_round_trip():
    torch.manual_seed(1)
    models = [cifar.build("resnext", width=1 / 16) for _ in range(4)]
    sds = [m.state_dict() for m in models]
    wide_sd = cifar.stack_state_dicts(sds)
    wide = cifar.build("resnext", width=1 / 16, stack=4)
    wide.load_state_dict(wide_sd)  # keys and shapes fit the wide net
    assert wide_sd["fc.weight"].shape == (40, models[0].channels)
    back = cifar.unstack_state_dict(wide.state_dict(), 4)
    for a, b in zip(back, sds):
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    fresh = [cifar.build("resnext", width=1 / 16) for _ in range(4)]
    cifar.unstack_into(cifar.stack_models(models), fresh)
    assert all(torch.equal(f.state_dict()[k], m.state_dict()[k]) for f, m in zip(fresh, models) for k in sds[0])


def test_stack_errors():
    a, b = cifar.build("resnet", width=1 / 16), cifar.build("inception", width=1 / 16)
    with pytest.raises(ParameterError, match="architecture"):
        cifar.stack_models([a, b])
    with pytest.raises(ParameterError, match="architecture"):
        cifar.stack_state_dicts([a.state_dict(), b.state_dict()])
    with pytest.raises(ParameterError, match="plain CifarNet"):
        cifar.stack_models([a, torch.nn.Linear(2, 2)])
    with pytest.raises(ParameterError, match="stack"):
        cifar.build("resnet", stack=0)
    with pytest.raises(ParameterError, match="split"):
        cifar.unstack_state_dict(cifar.build("resnet", width=1 / 16, stack=2).state_dict(), 3)


def test_first_conv_is_plain_on_cpu():
    net = cifar.build("resnet", width=1 / 16)
    conv = net.pre[0][0]
    assert isinstance(conv, cifar.FP32Conv2d) and conv.fp32
    x = torch.randn(2, 3, 8, 8)
    torch.testing.assert_close(conv(x), F.conv2d(x, conv.weight, padding=1), rtol=0, atol=0)
    assert not isinstance(cifar.build("resnet", width=1 / 16, first_conv_fp32=False).pre[0][0], cifar.FP32Conv2d)


pytestmark = pytest.mark.usefixtures("one_thread")
