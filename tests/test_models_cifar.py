"""Paper A's modules and networks: parameter counts, shapes, errors."""
from __future__ import annotations

import pytest
import torch

from robustlab.errors import ParameterError
from robustlab.models import cifar


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
