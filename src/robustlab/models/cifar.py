"""Paper A's three small CIFAR-10 networks (ResNet-, Inception- and ResNeXt-style modules).

Paper A, Sec. 2 (Fig. 2): every network is

* **pre-processing**: two convolution modules,
* three stacked modules of one architecture, each with a residual connection and each
  followed by 2×2 max pooling (32 → 16 → 8 → 4 pixels),
* **post-processing**: one convolution module, then (our choice, the paper is silent)
  *global average pooling* and a dense layer with 10 outputs (the softmax is in the loss).

A *convolution module* is conv → ReLU → BatchNorm, in the paper's order (convolution without
bias, since BatchNorm follows). Where the paper is silent we chose (and the notebook says so):
pre-processing = 3×3 conv 3 → C/4 then 3×3 conv C/4 → C (C = 256·width channels), post-processing
= 3×3 conv C → C; the Inception branch widths 64 | 96→112 | 32→48 | pool→32, which give exactly the
paper's 192,512 convolution weights for C = 256 (the paper does not give its widths).

Convolution-weight counts of one module at the paper's width (no biases, no BatchNorm):
ResNet 69,632, ResNeXt 70,144, Inception 192,512 (see :func:`conv_weight_count`).

``width`` scales every channel count (``width=1.0`` is the paper's). The ResNeXt module keeps
its per-path width 4 and scales the cardinality (32·width paths, at least 1).
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from ..errors import ParameterError

__all__ = ["ARCHS", "ConvModule", "ResNetModule", "ResNeXtModule", "InceptionModule",
           "CifarNet", "build", "conv_weight_count", "module_for", "INCEPTION_WIDTHS",
           "PAPER_CONV_WEIGHTS", "module_counts", "layer_table", "parameter_count"]

#: Architectures of paper A.
ARCHS = ("resnet", "inception", "resnext")

#: Inception branch widths at 256 channels: (1×1, 3×3-reduce, 3×3, 5×5-reduce, 5×5, pool-proj).
INCEPTION_WIDTHS = (64, 96, 112, 32, 48, 32)

#: Convolution weights of one module as printed in paper A (Sec. 2).
PAPER_CONV_WEIGHTS = {"resnet": 69_632, "inception": 192_512, "resnext": 70_144}


class ConvModule(nn.Sequential):
    """conv (no bias, 'same' padding) → ReLU → BatchNorm: paper A's convolution module."""

    def __init__(self, in_ch: int, out_ch: int, kernel_size: int = 3, groups: int = 1):
        super().__init__(
            nn.Conv2d(in_ch, out_ch, kernel_size, padding=kernel_size // 2, groups=groups, bias=False),
            nn.ReLU(inplace=True),
            nn.BatchNorm2d(out_ch),
        )


class ResNetModule(nn.Module):
    """Bottleneck: 1×1 C→b, 3×3 b→b, 1×1 b→C conv modules, plus the identity (residual)."""

    def __init__(self, channels: int = 256, bottleneck: int = 64):
        super().__init__()
        self.body = nn.Sequential(ConvModule(channels, bottleneck, 1),
                                  ConvModule(bottleneck, bottleneck, 3),
                                  ConvModule(bottleneck, channels, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class ResNeXtModule(nn.Module):
    """``cardinality`` parallel bottlenecks of width ``width`` (as grouped convolutions) + identity.

    Equivalent to 32 paths of 1×1 C→4, 3×3 4→4, 1×1 4→C whose outputs are summed.
    """

    def __init__(self, channels: int = 256, cardinality: int = 32, width: int = 4):
        super().__init__()
        inner = cardinality * width
        self.body = nn.Sequential(ConvModule(channels, inner, 1),
                                  ConvModule(inner, inner, 3, groups=cardinality),
                                  ConvModule(inner, channels, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class InceptionModule(nn.Module):
    """Four paths on the whole input, concatenated to ``channels`` maps, plus the identity.

    Paths: 1×1 (``b1``); 1×1 (``b3_reduce``) → 3×3 (``b3``); 1×1 (``b5_reduce``) → 5×5 (``b5``);
    3×3 max-pool (stride 1) → 1×1 (``pool_proj``). ``b1 + b3 + b5 + pool_proj`` must equal
    ``channels``. Default widths scale :data:`INCEPTION_WIDTHS` to ``channels``.
    """

    def __init__(self, channels: int = 256, b1: int | None = None, b3_reduce: int | None = None,
                 b3: int | None = None, b5_reduce: int | None = None, b5: int | None = None,
                 pool_proj: int | None = None):
        super().__init__()
        d = _scaled_inception(channels)
        b1, b3_reduce, b3, b5_reduce, b5, pool_proj = (
            v if v is not None else dv
            for v, dv in zip((b1, b3_reduce, b3, b5_reduce, b5, pool_proj), d))
        if b1 + b3 + b5 + pool_proj != channels:
            raise ParameterError(
                f"Inception widths b1+b3+b5+pool_proj = {b1 + b3 + b5 + pool_proj} must equal "
                f"channels={channels} (the residual connection adds the input)")
        self.p1 = ConvModule(channels, b1, 1)
        self.p3 = nn.Sequential(ConvModule(channels, b3_reduce, 1), ConvModule(b3_reduce, b3, 3))
        self.p5 = nn.Sequential(ConvModule(channels, b5_reduce, 1), ConvModule(b5_reduce, b5, 5))
        self.pp = nn.Sequential(nn.MaxPool2d(3, stride=1, padding=1), ConvModule(channels, pool_proj, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + torch.cat([self.p1(x), self.p3(x), self.p5(x), self.pp(x)], dim=1)


def _scaled_inception(channels: int) -> tuple[int, ...]:
    f = channels / 256
    w = [max(1, round(v * f)) for v in INCEPTION_WIDTHS]
    w[5] = channels - w[0] - w[2] - w[4]  # pool branch takes the rounding remainder
    if w[5] < 1:
        w[0] -= 1 - w[5]
        w[5] = 1
    return tuple(w)


def _channels(width: float) -> int:
    if not isinstance(width, (int, float)) or not (0 < width <= 4):
        raise ParameterError(f"width={width!r} must be a number in (0, 4] (1.0 = the paper's 256 channels)")
    return max(4, int(round(256 * width)))


def module_for(arch: str, channels: int) -> nn.Module:
    """One module of ``arch`` at ``channels`` maps (paper proportions, scaled)."""
    f = channels / 256
    if arch == "resnet":
        return ResNetModule(channels, bottleneck=max(1, round(64 * f)))
    if arch == "resnext":
        return ResNeXtModule(channels, cardinality=max(1, round(32 * f)), width=4)
    if arch == "inception":
        return InceptionModule(channels)
    raise ParameterError(f"arch={arch!r} is unknown; choose one of {list(ARCHS)}")


class CifarNet(nn.Module):
    """pre (2 conv modules) → 3 × (module + 2×2 max-pool) → post (conv module, GAP, dense)."""

    def __init__(self, arch: str, num_classes: int = 10, width: float = 1.0):
        super().__init__()
        if arch not in ARCHS:
            raise ParameterError(f"arch={arch!r} is unknown; choose one of {list(ARCHS)}")
        c = _channels(width)
        self.arch, self.width, self.channels = arch, float(width), c
        self.pre = nn.Sequential(ConvModule(3, max(1, c // 4), 3), ConvModule(max(1, c // 4), c, 3))
        self.stages = nn.Sequential(*[nn.Sequential(module_for(arch, c), nn.MaxPool2d(2))
                                      for _ in range(3)])
        self.post = ConvModule(c, c, 3)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(c, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x``: float (N, 3, H, W) on [-1, 1] → logits (N, num_classes)."""
        x = self.post(self.stages(self.pre(x)))
        return self.fc(torch.flatten(self.pool(x), 1))


def build(arch: str, num_classes: int = 10, width: float = 1.0) -> CifarNet:
    """Paper A's network for ``arch`` in ``('resnet', 'inception', 'resnext')``.

    ``width`` scales all channel counts (1.0 = 256 channels, the paper's).
    """
    if not isinstance(num_classes, int) or num_classes < 2:
        raise ParameterError(f"num_classes={num_classes!r} must be an int >= 2")
    return CifarNet(arch, num_classes=num_classes, width=width)


def conv_weight_count(module: nn.Module) -> int:
    """Number of convolution weights in ``module`` (no biases, no BatchNorm, no dense layers)."""
    return sum(m.weight.numel() for m in module.modules() if isinstance(m, nn.Conv2d))


def module_counts() -> list[dict]:
    """One row per architecture: conv weights of one module at 256 channels, ours vs the paper."""
    rows = []
    for arch in ARCHS:
        n = conv_weight_count(module_for(arch, 256))
        paper = PAPER_CONV_WEIGHTS[arch]
        rows.append({"arch": arch, "paper": paper, "ours": n, "difference": n - paper,
                     "ratio": n / paper})
    return rows


def layer_table(arch: str, width: float = 1.0, image_size: int = 32) -> list[dict]:
    """The network's stages for a ``(1, 3, image_size, image_size)`` input: output shape (C, H, W),
    convolution weights and all trainable parameters per stage."""
    net = build(arch, width=width).eval()
    parts = [("pre: conv module 3×3", net.pre[0]), ("pre: conv module 3×3", net.pre[1])]
    for i, st in enumerate(net.stages):
        parts += [(f"{arch} module {i + 1} (+ residual)", st[0]), ("max-pool 2×2", st[1])]
    parts += [("post: conv module 3×3", net.post), ("global average pooling", net.pool)]
    rows = []
    x = torch.zeros(1, 3, image_size, image_size)
    with torch.no_grad():
        for name, m in parts:
            x = m(x)
            rows.append({"stage": name, "output (C, H, W)": tuple(x.shape[1:]),
                         "conv weights": conv_weight_count(m),
                         "parameters": sum(p.numel() for p in m.parameters())})
        x = net.fc(torch.flatten(x, 1))
    rows.append({"stage": "dense → 10 (softmax in the loss)", "output (C, H, W)": tuple(x.shape[1:]),
                 "conv weights": 0, "parameters": sum(p.numel() for p in net.fc.parameters())})
    return rows


def parameter_count(model: nn.Module) -> int:
    """All trainable parameters of ``model``."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
