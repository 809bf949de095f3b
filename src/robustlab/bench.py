"""Throughput benchmark: ``python -m robustlab.bench [--device cuda] [--full] [--compile] [--quick]``.

Prints figures for the current device, never pass/fail:

* paper-A training images/s and achieved TFLOP/s per architecture at paper width, for
  - **fast**: :func:`robustlab.train.train` (uint8 data on the device, normalise/corrupt/shuffle
    there, bf16 autocast + channels_last on CUDA),
  - **stacked**: :func:`robustlab.train.train_many`, all σ levels of one architecture trained at once
    on shared image batches (one vmapped model),
  - **baseline**: fp32, NCHW, one model at a time, a CPU ``DataLoader`` (corruption on the CPU)
    feeding the device — and the ratio fast/baseline;
* evaluation model-images/s (:func:`robustlab.train.predict_many`: 7 models on the same corrupted
  batches; stacked on CUDA);
* the projected wall time of the whole 39-model paper grid (90 epochs × 50,000 images, plus the
  evaluation on 7 σ levels), and with ``--full`` the measured one;
* attack images/s (:func:`robustlab.attacks.minimal_change`) and paper-B images/s (forward passes
  of an ImageNet classifier on 224×224 images, and FGSM).

FLOPs are counted with :class:`torch.utils.flop_counter.FlopCounterMode` on one forward pass of the
model (multiply-add = 2 FLOPs; convolutions and the dense layer; BatchNorm, ReLU and pooling are not
counted), and a training step is taken as 3× the forward FLOPs (forward + two backward products).
Achieved TFLOP/s = 3 × forward FLOPs per image × training images/s (model-images/s when stacked).
Rates are from the second of two epochs (the first warms up: cuDNN autotuning, allocator, compile).

``--quick`` runs tiny sizes (width 1/16, 128 images, small attack and paper-B batches, no
DataLoader workers) as a smoke test of every code path; its numbers are not meaningful.
``main()`` returns every figure in a dict (used by ``tests/test_bench.py``).
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
ARCH_ALL = ("resnet", "inception", "resnext")


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


def bench_fast(arch: str, width: float, dev: torch.device, n: int, batch_size: int,
               compile: bool = False) -> float:
    """Training images/s of :func:`robustlab.train.train` (second epoch; the first warms up)."""
    from .models import build
    from .train import train

    x, y = _fake_cifar(n)
    torch.manual_seed(0)
    model = build(arch, width=width)
    hist = train(model, x, y, kind="noise", sigma=0.1, epochs=2, batch_size=batch_size, lr=0.05,
                 seed=0, device=dev, progress=False, compile=compile)
    return float(hist["images_per_s"][-1])


def bench_stacked(arch: str, width: float, dev: torch.device, n: int, batch_size: int,
                  sigmas=SIGMAS, compile: bool = False) -> float | None:
    """Model-images/s of :func:`robustlab.train.train_many` for all ``sigmas`` of one architecture."""
    from . import train as T
    from .models import build

    if not hasattr(T, "train_many"):
        return None
    x, y = _fake_cifar(n)
    torch.manual_seed(0)
    models = [build(arch, width=width) for _ in sigmas]
    hists = T.train_many(models, x, y, kind="noise", sigmas=list(sigmas), epochs=2, batch_size=batch_size,
                         lr=0.05, seed=0, device=dev, progress=False, compile=compile)
    return float(hists[0]["images_per_s"][-1]) * len(sigmas)


def bench_baseline(arch: str, width: float, dev: torch.device, n: int, batch_size: int,
                   num_workers: int = 2) -> float:
    """Plain loop: fp32, NCHW, one model, a CPU DataLoader (noise added on the CPU) feeding ``dev``."""
    from torch.utils.data import DataLoader, TensorDataset

    from .models import build

    x, y = _fake_cifar(n)
    ds = TensorDataset(torch.from_numpy(x).permute(0, 3, 1, 2).contiguous(), torch.from_numpy(y))

    def collate(batch):
        xb = torch.stack([b[0] for b in batch]).float().div_(127.5).sub_(1)
        return xb + 0.1 * torch.randn_like(xb), torch.stack([b[1] for b in batch])

    dl = DataLoader(ds, batch_size=batch_size, shuffle=True, drop_last=True, collate_fn=collate,
                    num_workers=num_workers, pin_memory=dev.type == "cuda")
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


def bench_eval(arch: str, width: float, dev: torch.device, n: int, n_models: int = len(SIGMAS)) -> float:
    """Evaluation model-images/s of :func:`robustlab.train.predict_many`: ``n_models`` nets on the
    same noisy batches (σ = 0.1), stacked on CUDA, one after another on CPU (as the grid does)."""
    from .models import build
    from .train import predict_many

    x, _ = _fake_cifar(n)
    models = [build(arch, width=width) for _ in range(n_models)]
    stacked = dev.type == "cuda"
    predict_many(models, x[: min(n, 256)], kind="noise", sigmas=[0.1], device=dev, stacked=stacked)  # warm-up
    _sync(dev)
    t0 = time.perf_counter()
    predict_many(models, x, kind="noise", sigmas=[0.1], device=dev, stacked=stacked)
    _sync(dev)
    return n * n_models / (time.perf_counter() - t0)


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
    return f"{s / 60:.1f} min" if s < 7200 else f"{s / 3600:.1f} h ({s / 60:.0f} min)"


def main(argv: list[str] | None = None) -> dict:
    """Run the benchmark, print the figures and return them as a dict (rates in images/s)."""
    ap = argparse.ArgumentParser(prog="python -m robustlab.bench", description=__doc__.split("\n\n")[0])
    ap.add_argument("--device", default="auto")
    ap.add_argument("--width", type=float, default=None, help="channel multiplier (default 1.0 = paper)")
    ap.add_argument("--images", type=int, default=None, help="images per timed epoch")
    ap.add_argument("--batch-size", type=int, default=None)
    ap.add_argument("--archs", default="resnet,inception,resnext")
    ap.add_argument("--quick", action="store_true", help="tiny sizes, for a CPU smoke run (numbers not meaningful)")
    ap.add_argument("--no-baseline", action="store_true")
    ap.add_argument("--compile", action="store_true", help="torch.compile the fast and stacked paths (CUDA only)")
    ap.add_argument("--full", action="store_true", help="also run and time the whole paper-profile grid")
    args = ap.parse_args(argv)

    dev = resolve_device(args.device)
    cuda = dev.type == "cuda"
    if args.quick:
        width = args.width or 1 / 16
        n, bs = args.images or 128, args.batch_size or 32
        att_n, att_steps, pb_n, pb_bs, workers = 4, 5, 2, 2, 0
    else:
        width = args.width or 1.0
        n = args.images or (25_600 if cuda else 512)
        bs = args.batch_size or (512 if cuda else 64)
        att_n, att_steps = (128, 50) if cuda else (16, 50)
        pb_n, pb_bs, workers = (2048, 256, 2) if cuda else (16, 8, 2)
    archs = [a for a in args.archs.split(",") if a]
    from .models import build

    out: dict = {"device": describe_device(dev), "torch": torch.__version__, "width": width, "images": n,
                 "batch_size": bs, "archs": {}}
    print(f"device: {out['device']}; torch {torch.__version__}; {torch.get_num_threads()} CPU threads")
    print(f"paper-A nets at width {width:g} ({round(256 * width)} channels); {n} images per timed epoch, "
          f"batch {bs}; stacked = {len(SIGMAS)} models; rates in (model-)images/s, TFLOP/s achieved")
    print(f"{'arch':10s} {'GFLOP/img':>9s} {'fast':>9s} {'TFLOP/s':>8s} {'stacked':>9s} {'TFLOP/s':>8s} "
          f"{'baseline':>9s} {'TFLOP/s':>8s} {'best/base':>9s} {'eval':>9s}")
    grid_s = 0.0
    models_per_arch = 1 + 2 * (len(SIGMAS) - 1)
    tf = lambda f, r: 3 * f * r / 1e12 if r else None  # noqa: E731  training step = 3x forward FLOPs
    num = lambda v, w, p: (f"{v:{w}.3g}" if p == "g" else f"{v:{w}.{p}f}") if v is not None else f"{'n/a':>{w}s}"  # noqa: E731
    for arch in archs:
        f = forward_flops(build(arch, width=width))
        fast = bench_fast(arch, width, dev, n, bs, compile=args.compile)
        stacked = bench_stacked(arch, width, dev, n, bs, compile=args.compile)
        base = None if args.no_baseline else bench_baseline(arch, width, dev, n, bs, num_workers=workers)
        ev = bench_eval(arch, width, dev, min(n, PAPER_TEST))
        best = max(fast, stacked or 0.0)
        ratio = best / base if base else None
        print(f"{arch:10s} {f / 1e9:9.4f} {fast:9.0f} {num(tf(f, fast), 8, 'g')} {num(stacked, 9, 0)} "
              f"{num(tf(f, stacked), 8, 'g')} {num(base, 9, 0)} {num(tf(f, base), 8, 'g')} {num(ratio, 9, 2)} {ev:9.0f}")
        arch_s = models_per_arch * (PAPER_EPOCHS * PAPER_TRAIN / best + len(SIGMAS) * PAPER_TEST / ev)
        grid_s += arch_s
        out["archs"][arch] = dict(gflop_per_image=f / 1e9, fast=fast, stacked=stacked, baseline=base, eval=ev,
                                  tflops_fast=tf(f, fast), tflops_stacked=tf(f, stacked),
                                  tflops_baseline=tf(f, base), ratio=ratio, projected_grid_s=arch_s)
    out["projected_grid_s"] = grid_s * len(ARCH_ALL) / len(archs)
    print(f"projected paper grid (39 models x {PAPER_EPOCHS} epochs x {PAPER_TRAIN:,} images + eval on "
          f"{len(SIGMAS)} σ x {PAPER_TEST:,}), best path per arch, at width {width:g}: "
          f"{_fmt_time(out['projected_grid_s'])}")

    att = bench_attack(width, dev, att_n, att_steps)
    fwd, fg = bench_paperb(dev, pb_n, pb_bs)
    print(f"attack (minimal_change L∞, {att_steps} steps, resnet width {width:g}): {att:.1f} images/s")
    print(f"paper B (mobilenet_v2, 224x224, random weights): forward {fwd:.1f} images/s, FGSM {fg:.1f} images/s")
    out.update(attack=att, paperb_forward=fwd, paperb_fgsm=fg)

    if args.full:
        from . import grid, params

        cfg = params.resolve("bench", {"profile": "paper", "device": str(dev), "compile": bool(args.compile)})
        t0 = time.perf_counter()
        grid.run_grid(cfg)
        out["measured_grid_s"] = time.perf_counter() - t0
        print(f"measured paper grid: {_fmt_time(out['measured_grid_s'])}")
    return out


if __name__ == "__main__":  # pragma: no cover
    main()
