"""Throughput benchmark: ``python -m robustlab.bench [--device cuda] [--full]``.

Prints figures for the current device, never pass/fail:

* paper-A training images/s and achieved TFLOP/s per architecture at paper width, for
  - **fast**: :func:`robustlab.train.train` (uint8 data on the device, normalise/corrupt/shuffle
    there, bf16 autocast + channels_last on CUDA),
  - **stacked**: :func:`robustlab.train.train_many`, all σ levels of one architecture trained at once
    on shared image batches (one vmapped model),
  - **baseline**: fp32, NCHW, one model at a time, a CPU ``DataLoader`` (corruption on the CPU)
    feeding the device — and the ratio fast/baseline;
* the projected wall time of the whole 39-model paper grid (90 epochs × 50,000 images, plus the
  evaluation on 7 σ levels), and with ``--full`` the measured one;
* attack images/s (:func:`robustlab.attacks.minimal_change`) and paper-B images/s (forward passes
  of an ImageNet classifier on 224×224 images, and FGSM).

FLOPs are counted with :class:`torch.utils.flop_counter.FlopCounterMode` on one forward pass of the
model (multiply-add = 2 FLOPs; convolutions and the dense layer; BatchNorm, ReLU and pooling are not
counted), and a training step is taken as 3× the forward FLOPs (forward + two backward products).
"""
from __future__ import annotations

import argparse
import time
from typing import Callable

import numpy as np
import torch
from torch import nn

from .device import describe_device, resolve_device

PAPER_EPOCHS = 90
PAPER_TRAIN = 50_000
PAPER_TEST = 10_000
SIGMAS = (0.0, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0)


def forward_flops(model: nn.Module, shape=(1, 3, 32, 32)) -> int:
    """FLOPs of one forward pass per image (conv + linear, 2 per multiply-add)."""
    from torch.utils.flop_counter import FlopCounterMode

    model = model.eval()
    x = torch.zeros(shape, device=next(model.parameters()).device)
    with torch.no_grad(), FlopCounterMode(display=False) as fc:
        model(x)
    return int(fc.get_total_flops() // shape[0])


def _sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def _fake_cifar(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8), rng.integers(0, 10, n).astype(np.int64)


def bench_fast(arch: str, width: float, dev: torch.device, n: int, batch_size: int) -> float:
    """Training images/s of :func:`robustlab.train.train` (second epoch; the first warms up)."""
    from .models import build
    from .train import train

    x, y = _fake_cifar(n)
    torch.manual_seed(0)
    model = build(arch, width=width)
    hist = train(model, x, y, kind="noise", sigma=0.1, epochs=2, batch_size=batch_size, lr=0.05,
                 seed=0, device=dev, progress=False)
    return float(hist["images_per_s"][-1])


def bench_stacked(arch: str, width: float, dev: torch.device, n: int, batch_size: int,
                  sigmas=SIGMAS) -> float | None:
    """Model-images/s of :func:`robustlab.train.train_many` for all ``sigmas`` of one architecture."""
    from . import train as T
    from .models import build

    if not hasattr(T, "train_many"):
        return None
    x, y = _fake_cifar(n)
    torch.manual_seed(0)
    models = [build(arch, width=width) for _ in sigmas]
    hist = T.train_many(models, x, y, kind="noise", sigmas=list(sigmas), epochs=2, batch_size=batch_size,
                        lr=0.05, seed=0, device=dev, progress=False)
    return float(hist["images_per_s"][-1]) * len(sigmas)


def bench_baseline(arch: str, width: float, dev: torch.device, n: int, batch_size: int) -> float:
    """Plain loop: fp32, NCHW, one model, a CPU DataLoader (noise added on the CPU) feeding ``dev``."""
    from torch.utils.data import DataLoader, TensorDataset

    from .models import build

    x, y = _fake_cifar(n)
    ds = TensorDataset(torch.from_numpy(x).permute(0, 3, 1, 2).contiguous(), torch.from_numpy(y))

    def collate(batch):
        xb = torch.stack([b[0] for b in batch]).float().div_(127.5).sub_(1)
        return xb + 0.1 * torch.randn_like(xb), torch.stack([b[1] for b in batch])

    dl = DataLoader(ds, batch_size=batch_size, shuffle=True, drop_last=True, collate_fn=collate,
                    num_workers=2, pin_memory=dev.type == "cuda")
    torch.manual_seed(0)
    model = build(arch, width=width).to(dev)
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)
    loss_fn = nn.CrossEntropyLoss()
    rate = 0.0
    for epoch in range(2):
        _sync(dev)
        t0, seen = time.perf_counter(), 0
        for xb, yb in dl:
            xb, yb = xb.to(dev, non_blocking=True), yb.to(dev, non_blocking=True)
            loss = loss_fn(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            seen += len(yb)
        _sync(dev)
        rate = seen / (time.perf_counter() - t0)
    return rate


def bench_eval(arch: str, width: float, dev: torch.device, n: int) -> float:
    """Evaluation images/s of :func:`robustlab.train.predict` (noise σ=0.1)."""
    from .models import build
    from .train import predict

    x, _ = _fake_cifar(n)
    model = build(arch, width=width)
    predict(model, x[: min(n, 256)], kind="noise", sigma=0.1, device=dev)  # warm-up
    _sync(dev)
    t0 = time.perf_counter()
    predict(model, x, kind="noise", sigma=0.1, device=dev)
    _sync(dev)
    return n / (time.perf_counter() - t0)


def bench_attack(width: float, dev: torch.device, n: int, steps: int) -> float:
    """Images/s of :func:`robustlab.attacks.minimal_change` (L∞) on a paper-A net (random weights)."""
    from .attacks import minimal_change
    from .models import build

    torch.manual_seed(0)
    model = build("resnet", width=width).to(dev).eval()
    x = torch.rand(n, 3, 32, 32, device=dev) * 2 - 1
    with torch.no_grad():
        y = model(x).argmax(1)  # every image "correct", so every image is attacked
    _sync(dev)
    t0 = time.perf_counter()
    minimal_change(model, x, y, norm="linf", steps=steps, bounds=(-1.0, 1.0))
    _sync(dev)
    return n / (time.perf_counter() - t0)


def bench_paperb(dev: torch.device, n: int, batch_size: int, name: str = "mobilenet_v2") -> tuple[float, float]:
    """(forward images/s, FGSM images/s) of an ImageNet classifier (random weights) on 224×224 inputs."""
    from .attacks import fgsm
    from .models import pretrained

    model = pretrained(name, weights=None).to(dev).eval()
    if dev.type == "cuda":
        model = model.to(memory_format=torch.channels_last)
    x = torch.rand(batch_size, 3, 224, 224, device=dev)
    amp = torch.autocast("cuda", dtype=torch.bfloat16) if dev.type == "cuda" else torch.autocast("cpu", enabled=False)
    with torch.inference_mode(), amp:
        model(x)
        _sync(dev)
        t0 = time.perf_counter()
        for _ in range(max(1, n // batch_size)):
            model(x)
        _sync(dev)
    fwd = max(1, n // batch_size) * batch_size / (time.perf_counter() - t0)
    y = torch.zeros(batch_size, dtype=torch.long, device=dev)
    _sync(dev)
    t0 = time.perf_counter()
    fgsm(model, x, y, 2.0, bounds=(0.0, 1.0))
    _sync(dev)
    return fwd, batch_size / (time.perf_counter() - t0)


def _fmt_time(s: float) -> str:
    return f"{s / 60:.1f} min" if s < 7200 else f"{s / 3600:.1f} h"


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(prog="python -m robustlab.bench", description=__doc__.split("\n\n")[0])
    ap.add_argument("--device", default="auto")
    ap.add_argument("--width", type=float, default=1.0, help="channel multiplier (1.0 = paper)")
    ap.add_argument("--images", type=int, default=None, help="images per timed epoch")
    ap.add_argument("--batch-size", type=int, default=None)
    ap.add_argument("--archs", default="resnet,inception,resnext")
    ap.add_argument("--quick", action="store_true", help="tiny sizes, for a CPU smoke run")
    ap.add_argument("--no-baseline", action="store_true")
    ap.add_argument("--full", action="store_true", help="also run and time the whole paper-profile grid")
    args = ap.parse_args(argv)

    dev = resolve_device(args.device)
    cuda = dev.type == "cuda"
    if args.quick:
        width, n, bs = min(args.width, 0.125), args.images or 256, args.batch_size or 64
    else:
        width = args.width
        n = args.images or (25_600 if cuda else 512)
        bs = args.batch_size or (512 if cuda else 64)
    archs = [a for a in args.archs.split(",") if a]
    print(f"device: {describe_device(dev)}; torch {torch.__version__}")
    print(f"paper-A nets at width {width} ({round(256 * width)} channels); {n} images per timed epoch, "
          f"batch {bs}")
    from .models import build

    out: dict = {"device": describe_device(dev), "archs": {}}
    grid_s = 0.0
    print(f"{'arch':10s} {'GFLOP/img':>9s} {'fast img/s':>11s} {'TFLOP/s':>8s} {'stacked':>11s} {'TFLOP/s':>8s} "
          f"{'baseline':>9s} {'ratio':>6s} {'eval img/s':>11s}")
    for arch in archs:
        f = forward_flops(build(arch, width=width))
        fast = bench_fast(arch, width, dev, n, bs)
        stacked = bench_stacked(arch, width, dev, n, bs)
        base = None if args.no_baseline else bench_baseline(arch, width, dev, n, bs)
        ev = bench_eval(arch, width, dev, min(n, PAPER_TEST))
        best = max(fast, stacked or 0.0)
        tf = lambda r: 3 * f * r / 1e12  # noqa: E731
        print(f"{arch:10s} {f / 1e9:9.3f} {fast:11.0f} {tf(fast):8.2f} "
              f"{(f'{stacked:11.0f}' if stacked else '        n/a')} {(f'{tf(stacked):8.2f}' if stacked else '     n/a')} "
              f"{(f'{base:9.0f}' if base else '      n/a')} {(f'{best / base:6.1f}' if base else '   n/a')} {ev:11.0f}")
        models = 1 + 2 * (len(SIGMAS) - 1)
        grid_s += models * (PAPER_EPOCHS * PAPER_TRAIN / best + len(SIGMAS) * PAPER_TEST / ev)
        out["archs"][arch] = dict(gflop_per_image=f / 1e9, fast=fast, stacked=stacked, baseline=base, eval=ev)
    print(f"projected paper grid (39 models x {PAPER_EPOCHS} epochs x {PAPER_TRAIN} images + eval), "
          f"best path per arch: {_fmt_time(grid_s * 3 / len(archs))}")
    out["projected_grid_s"] = grid_s * 3 / len(archs)

    att = bench_attack(width, dev, 128 if cuda else 16, 50 if not args.quick else 10)
    fwd, fg = bench_paperb(dev, 2048 if cuda else 16, 256 if cuda else 8)
    print(f"attack (minimal_change L∞, resnet width {width}): {att:.0f} images/s")
    print(f"paper B (mobilenet_v2, 224x224): forward {fwd:.0f} images/s, FGSM {fg:.0f} images/s")
    out.update(attack=att, paperb_forward=fwd, paperb_fgsm=fg)

    if args.full:
        from . import grid, params

        cfg = params.resolve("bench", {"profile": "paper", "device": str(dev)})
        t0 = time.perf_counter()
        grid.run_grid(cfg)
        out["measured_grid_s"] = time.perf_counter() - t0
        print(f"measured paper grid: {_fmt_time(out['measured_grid_s'])}")
    return out


if __name__ == "__main__":  # pragma: no cover
    main()
