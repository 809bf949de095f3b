"""Helpers shared by several test modules (not a test module; importable because pytest puts tests/ on
``sys.path``): a call counter for monkeypatched functions, and a tiny separable task with a tiny
paper-A net and its training settings, and a context manager that sets environment variables."""
from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch

from robustlab.paper_a.nets import build

#: training settings of the tiny task (CPU, one-cycle, seeded).
HP = dict(kind="noise", sigma=0.05, batch_size=32, lr=0.05, momentum=0.9, weight_decay=5e-4,
          lr_schedule="onecycle", seed=3, device="cpu", progress=False)


def count_calls(monkeypatch, module, *names: str) -> dict[str, int]:
    """Wrap ``module.<name>`` for each name so that calls are counted; returns the live counts."""
    calls = {n: 0 for n in names}
    for n in names:
        real = getattr(module, n)

        def wrapper(*a, _real=real, _n=n, **k):
            calls[_n] += 1
            return _real(*a, **k)

        monkeypatch.setattr(module, n, wrapper)
    return calls


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


def tiny_net(seed=0):
    """Paper A's ResNet at width 1/16, seeded."""
    torch.manual_seed(seed)
    return build("resnet", width=1 / 16)


def same_state(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    """Both modules have bit-identical state dicts."""
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def save_tench_squeezenet(folder) -> None:
    """``<folder>/squeezenet1_1.pth``: a randomly initialised SqueezeNet 1.1 whose last layer answers
    class 0 (tench, an Imagenette class) for every image, so that some real images are classified
    correctly by it and by the real MobileNetV2 (paper B's several-model path with local weights)."""
    from pathlib import Path

    import torch
    import torchvision
    from torch import nn

    sq = torchvision.models.squeezenet1_1(weights=None)
    final = sq.classifier[1]
    nn.init.zeros_(final.weight)
    nn.init.zeros_(final.bias)
    final.bias.data[0] = 1.0
    Path(folder).mkdir(parents=True, exist_ok=True)
    torch.save(sq.state_dict(), Path(folder) / "squeezenet1_1.pth")


@contextmanager
def environ(**values: str | None) -> Iterator[None]:
    """Set environment variables for the ``with`` block (``None`` removes one); every variable named
    gets its old value (or absence) back afterwards."""
    old = {k: os.environ.get(k) for k in values}
    for k, v in values.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def shutil_copy_book(dest) -> None:
    """A copy of the book's sources (notebooks, config, toc, book/) at ``dest``, to render into."""
    import shutil  # used by two tests only
    from pathlib import Path

    repo, dest = Path(__file__).resolve().parents[1], Path(dest)
    dest.mkdir(parents=True)
    for name in ("notebooks", "book"):
        shutil.copytree(repo / name, dest / name, ignore=shutil.ignore_patterns("executed"))
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy(repo / name, dest / name)
