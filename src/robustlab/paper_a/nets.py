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

**Wide ("stacked") networks.** ``build(arch, stack=M)`` is M independent copies of the network as
*one* network: every convolution is grouped with one group per model (``groups=g`` becomes
``groups=g·M``, channels ×M; ResNeXt's cardinality-c convolution gets c·M groups), BatchNorm runs
over M·C channels (BatchNorm is per channel, so this is per-model BatchNorm, running statistics
included), ReLU, pooling and the residual additions are unchanged, the Inception concatenation is
done per model, and the dense layer is a per-model (block-diagonal) linear map. Channels are
model-major: model m owns channels ``m·C … (m+1)·C - 1`` of every layer. The input is
``(B, 3·M, H, W)`` (model m's image in channels 3m … 3m+2, see :func:`stack_inputs`), the output
``(B, 10·M)`` (see :func:`unstack_logits`, which gives ``(M, B, 10)``). Model m's slice computes
exactly what model m alone computes (up to the summation order of the grouped kernels);
:func:`stack_state_dicts` / :func:`unstack_state_dict` move weights between M nets and one wide
net. ``stack=1`` is the plain network (same modules, state-dict keys and shapes).

The first convolution (:class:`FP32Conv2d`) runs in float32 under bf16 autocast on every device (the
3-channel input gains nothing from bf16, and its rounding would be the largest relative one of the net).
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from robustlab.core.errors import ParameterError

__all__ = ["ARCHS", "ConvModule", "ResNetModule", "ResNeXtModule", "InceptionModule",
           "CifarNet", "build", "conv_weight_count", "module_for", "INCEPTION_WIDTHS",
           "PAPER_CONV_WEIGHTS", "module_counts", "layer_table", "parameter_count", "FP32Conv2d",
           "StackedLinear", "stack_state_dicts", "unstack_state_dict", "stack_models", "unstack_into",
           "stack_inputs", "unstack_logits"]

#: Architectures of paper A.
ARCHS = ("resnet", "inception", "resnext")

#: Inception branch widths at 256 channels: (1×1, 3×3-reduce, 3×3, 5×5-reduce, 5×5, pool-proj).
INCEPTION_WIDTHS = (64, 96, 112, 32, 48, 32)

#: Convolution weights of one module as printed in paper A (Sec. 2).
PAPER_CONV_WEIGHTS = {"resnet": 69_632, "inception": 192_512, "resnext": 70_144}


#: devices with an autocast (others, e.g. "meta" for shape inference, have none to switch off)
_AUTOCAST_DEVICES = ("cpu", "cuda", "mps", "xpu")


class FP32Conv2d(nn.Conv2d):
    """A :class:`~torch.nn.Conv2d` that runs in float32 even inside a bf16 autocast region, on any
    device (``fp32=False`` makes it an ordinary convolution). Same parameters and state-dict keys."""

    fp32: bool = True

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.fp32 and x.device.type in _AUTOCAST_DEVICES and torch.is_autocast_enabled(x.device.type):
            with torch.autocast(x.device.type, enabled=False):
                return self._conv_forward(x.to(self.weight.dtype), self.weight, self.bias)
        return self._conv_forward(x, self.weight, self.bias)


class ConvModule(nn.Sequential):
    """conv (no bias, 'same' padding) → ReLU → BatchNorm: paper A's convolution module.

    ``stack=M``: M such modules side by side (channels ×M, one convolution group set per model).
    ``fp32=True`` makes the convolution a :class:`FP32Conv2d`.
    """

    def __init__(self, in_ch: int, out_ch: int, kernel_size: int = 3, groups: int = 1, stack: int = 1,
                 fp32: bool = False):
        conv = FP32Conv2d if fp32 else nn.Conv2d
        super().__init__(
            conv(in_ch * stack, out_ch * stack, kernel_size, padding=kernel_size // 2, groups=groups * stack,
                 bias=False),
            nn.ReLU(inplace=True),
            nn.BatchNorm2d(out_ch * stack),
        )


class ResNetModule(nn.Module):
    """Bottleneck: 1×1 C→b, 3×3 b→b, 1×1 b→C conv modules, plus the identity (residual)."""

    def __init__(self, channels: int = 256, bottleneck: int = 64, stack: int = 1):
        super().__init__()
        self.body = nn.Sequential(ConvModule(channels, bottleneck, 1, stack=stack),
                                  ConvModule(bottleneck, bottleneck, 3, stack=stack),
                                  ConvModule(bottleneck, channels, 1, stack=stack))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class ResNeXtModule(nn.Module):
    """``cardinality`` parallel bottlenecks of width ``width`` (as grouped convolutions) + identity.

    Equivalent to 32 paths of 1×1 C→4, 3×3 4→4, 1×1 4→C whose outputs are summed.
    """

    def __init__(self, channels: int = 256, cardinality: int = 32, width: int = 4, stack: int = 1):
        super().__init__()
        inner = cardinality * width
        self.body = nn.Sequential(ConvModule(channels, inner, 1, stack=stack),
                                  ConvModule(inner, inner, 3, groups=cardinality, stack=stack),
                                  ConvModule(inner, channels, 1, stack=stack))

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
                 pool_proj: int | None = None, stack: int = 1):
        super().__init__()
        d = _scaled_inception(channels)
        b1, b3_reduce, b3, b5_reduce, b5, pool_proj = (
            v if v is not None else dv
            for v, dv in zip((b1, b3_reduce, b3, b5_reduce, b5, pool_proj), d))
        if b1 + b3 + b5 + pool_proj != channels:
            raise ParameterError(
                f"Inception widths b1+b3+b5+pool_proj = {b1 + b3 + b5 + pool_proj} must equal "
                f"channels={channels} (the residual connection adds the input)")
        m = stack
        self.stack = stack
        self.p1 = ConvModule(channels, b1, 1, stack=m)
        self.p3 = nn.Sequential(ConvModule(channels, b3_reduce, 1, stack=m), ConvModule(b3_reduce, b3, 3, stack=m))
        self.p5 = nn.Sequential(ConvModule(channels, b5_reduce, 1, stack=m), ConvModule(b5_reduce, b5, 5, stack=m))
        self.pp = nn.Sequential(nn.MaxPool2d(3, stride=1, padding=1), ConvModule(channels, pool_proj, 1, stack=m))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        parts = [self.p1(x), self.p3(x), self.p5(x), self.pp(x)]
        if self.stack == 1:
            return x + torch.cat(parts, dim=1)
        n, _, h, w = x.shape  # concatenate per model, so that channels stay model-major
        cat = torch.cat([p.reshape(n, self.stack, -1, h, w) for p in parts], dim=2)
        return x + cat.reshape(x.shape)


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


def module_for(arch: str, channels: int, stack: int = 1) -> nn.Module:
    """One module of ``arch`` at ``channels`` maps (paper proportions, scaled); ``stack`` copies wide."""
    f = channels / 256
    if arch == "resnet":
        return ResNetModule(channels, bottleneck=max(1, round(64 * f)), stack=stack)
    if arch == "resnext":
        return ResNeXtModule(channels, cardinality=max(1, round(32 * f)), width=4, stack=stack)
    if arch == "inception":
        return InceptionModule(channels, stack=stack)
    raise ParameterError(f"arch={arch!r} is unknown; choose one of {list(ARCHS)}")


class StackedLinear(nn.Module):
    """M independent dense layers ``in_features → out_features`` as one block-diagonal map:
    ``(B, M·in) → (B, M·out)``. ``weight`` is ``(M·out, in)`` (the M weights one after another)."""

    def __init__(self, in_features: int, out_features: int, stack: int):
        super().__init__()
        self.in_features, self.out_features, self.stack = in_features, out_features, stack
        ref = [nn.Linear(in_features, out_features) for _ in range(stack)]  # nn.Linear's initialisation
        self.weight = nn.Parameter(torch.cat([r.weight.detach() for r in ref]))
        self.bias = nn.Parameter(torch.cat([r.bias.detach() for r in ref]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        m, o = self.stack, self.out_features
        w = self.weight.view(m, o, self.in_features)
        y = torch.bmm(x.reshape(-1, m, self.in_features).transpose(0, 1), w.transpose(1, 2))  # (M, B, out)
        return (y + self.bias.view(m, 1, o)).transpose(0, 1).reshape(-1, m * o)


class CifarNet(nn.Module):
    """pre (2 conv modules) → 3 × (module + 2×2 max-pool) → post (conv module, GAP, dense).

    ``stack=M`` builds M independent nets as one wide net (see the module docstring); the first
    convolution runs in float32 under bf16 autocast unless ``first_conv_fp32=False``.
    """

    def __init__(self, arch: str, num_classes: int = 10, width: float = 1.0, stack: int = 1,
                 first_conv_fp32: bool = True):
        super().__init__()
        if arch not in ARCHS:
            raise ParameterError(f"arch={arch!r} is unknown; choose one of {list(ARCHS)}")
        if isinstance(stack, bool) or not isinstance(stack, int) or stack < 1:
            raise ParameterError(f"stack={stack!r} must be an int >= 1 (the number of models side by side)")
        c = _channels(width)
        self.arch, self.width, self.channels, self.stack = arch, float(width), c, stack
        self.num_classes = num_classes
        m = stack
        self.pre = nn.Sequential(ConvModule(3, max(1, c // 4), 3, stack=m, fp32=first_conv_fp32),
                                 ConvModule(max(1, c // 4), c, 3, stack=m))
        self.stages = nn.Sequential(*[nn.Sequential(module_for(arch, c, stack=m), nn.MaxPool2d(2))
                                      for _ in range(3)])
        self.post = ConvModule(c, c, 3, stack=m)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(c, num_classes) if m == 1 else StackedLinear(c, num_classes, m)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x``: float (N, 3·stack, H, W) on [-1, 1] → logits (N, num_classes·stack)."""
        x = self.post(self.stages(self.pre(x)))
        return self.fc(torch.flatten(self.pool(x), 1))

    def forward_models(self, x: torch.Tensor) -> torch.Tensor:
        """Logits per model: ``(stack, N, num_classes)``."""
        return unstack_logits(self(x), self.stack)


def build(arch: str, num_classes: int = 10, width: float = 1.0, stack: int = 1,
          first_conv_fp32: bool = True) -> CifarNet:
    """Paper A's network for ``arch`` in ``('resnet', 'inception', 'resnext')``.

    ``width`` scales all channel counts (1.0 = 256 channels, the paper's). ``stack=M`` builds M
    independent copies as one wide network (see the module docstring).
    """
    if not isinstance(num_classes, int) or num_classes < 2:
        raise ParameterError(f"num_classes={num_classes!r} must be an int >= 2")
    return CifarNet(arch, num_classes=num_classes, width=width, stack=stack, first_conv_fp32=first_conv_fp32)


def stack_inputs(x: torch.Tensor) -> torch.Tensor:
    """``(M, B, C, H, W)`` (one batch per model) → ``(B, M·C, H, W)``, the wide net's input."""
    m, b, c, h, w = x.shape
    return x.transpose(0, 1).reshape(b, m * c, h, w)


def unstack_logits(logits: torch.Tensor, stack: int) -> torch.Tensor:
    """The wide net's ``(B, M·K)`` logits → ``(M, B, K)``."""
    b = logits.shape[0]
    return logits.view(b, stack, -1).transpose(0, 1)


def _is_counter(key: str) -> bool:
    return key.endswith("num_batches_tracked")


def stack_state_dicts(state_dicts: Sequence[dict]) -> dict:
    """M state dicts of one plain :class:`CifarNet` structure → the state dict of the wide net
    (``stack=M``): every tensor concatenated model-major along dim 0; BatchNorm's
    ``num_batches_tracked`` counters are shared (all M must be equal)."""
    sds = list(state_dicts)
    if not sds:
        raise ParameterError("stack_state_dicts: need at least one state dict")
    keys = list(sds[0])
    out = {}
    for sd in sds[1:]:
        if list(sd) != keys or any(sd[k].shape != sds[0][k].shape for k in keys):
            raise ParameterError("stack_state_dicts: the models do not share one architecture and width")
    for k in keys:
        if _is_counter(k):
            if any(not torch.equal(sd[k], sds[0][k]) for sd in sds):
                raise ParameterError(f"stack_state_dicts: {k} differs between the models")
            out[k] = sds[0][k].clone()
        else:
            out[k] = torch.cat([sd[k] for sd in sds], dim=0)
    return out


def unstack_state_dict(wide: dict, stack: int) -> list[dict]:
    """Inverse of :func:`stack_state_dicts`: the wide net's state dict → ``stack`` plain ones."""
    out: list[dict] = [{} for _ in range(stack)]
    for k, v in wide.items():
        if _is_counter(k):
            parts = [v] * stack
        elif v.ndim == 0 or v.shape[0] % stack:
            raise ParameterError(f"unstack_state_dict: {k} of shape {tuple(v.shape)} does not split into {stack}")
        else:
            parts = list(v.chunk(stack, dim=0))
        for sd, p in zip(out, parts):
            sd[k] = p.clone()
    return out


def stack_models(models: Sequence[nn.Module]) -> CifarNet:
    """M plain :class:`CifarNet` of one architecture and width → one wide net (``stack=M``, on
    the first model's device, in its train/eval mode) holding their weights and buffers."""
    models = list(models)
    if not models or any(not isinstance(m, CifarNet) or m.stack != 1 for m in models):
        raise ParameterError("stack_models: every model must be a plain CifarNet (stack=1) of one architecture")
    m0 = models[0]
    sig = [(m.arch, m.channels, m.num_classes) for m in models]
    if any(s != sig[0] for s in sig):
        raise ParameterError(f"stack_models: the models differ in architecture/width/classes: {sorted(set(sig))}")
    fp32 = isinstance(m0.pre[0][0], FP32Conv2d) and m0.pre[0][0].fp32
    p = next(m0.parameters())
    wide = build(m0.arch, num_classes=m0.num_classes, width=m0.width, stack=len(models), first_conv_fp32=fp32)
    wide = wide.to(device=p.device, dtype=p.dtype)
    wide.load_state_dict(stack_state_dicts([m.state_dict() for m in models]))
    return wide.train(m0.training)


@torch.no_grad()
def unstack_into(wide: CifarNet, models: Sequence[nn.Module]) -> None:
    """Copy the wide net's per-model slices back into ``models`` (on their own devices)."""
    for m, sd in zip(models, unstack_state_dict(wide.state_dict(), wide.stack)):
        m.load_state_dict(sd)


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
