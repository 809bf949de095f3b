"""Throughput benchmark: ``python -m robustlab.bench [--device cuda] [--quick] [--json PATH] [--full]``,
and ``python -m robustlab.bench --cpu [--compile] [--json PATH]``, the CPU mode (:func:`cpu_main`).

Prints figures for the current device, never pass/fail, and writes them all to a JSON file
(``--json``, default ``bench.json`` in the current folder):

* paper-A training throughput per architecture at paper width (1.0), for
  - **baseline**: fp32, NCHW, one model at a time, a CPU ``DataLoader`` (corruption on the CPU)
    feeding the device;
  - **single** eager / compiled: :func:`robustlab.paper_a.training.train` (uint8 data on the device,
    normalise/corrupt/shuffle there; on CUDA bf16 autocast with the first convolution in fp32,
    channels_last, fused SGD, no host-device synchronisation per batch);
  - **wide** eager / compiled: :func:`robustlab.paper_a.training.train_many`, the 7 σ levels of one
    architecture as one wide network (grouped convolutions), in model-images/s;
  compiled variants (``torch.compile``) only on CUDA ("n/a" elsewhere). For each: images/s,
  achieved TFLOP/s, % of the device's dense bf16 peak (:data:`PEAK_BF16_TFLOPS`) and the ratio
  to the baseline;
* evaluation model-images/s (:func:`robustlab.paper_a.training.predict_many`: 7 models on the same corrupted
  batches; wide on CUDA);
* the projected wall time of the paper-A campaign: 30 distinct models (per architecture σ = 0,
  6 noise σ, 3 blur σ — blur σ < 0.125 px is the identity, those models equal σ = 0) × 90 epochs ×
  50,000 images on the fastest measured path, plus the evaluation of every model on 7 σ levels ×
  10,000 test images and the minimal-change attack on 128 images × 200 steps per model; with
  ``--full`` also the measured grid;
* attack images/s (:func:`robustlab.attacks.minimal.minimal_change`) and paper-B images/s (forward passes
  of an ImageNet classifier on 224×224 images, and FGSM).

FLOPs are counted with :class:`torch.utils.flop_counter.FlopCounterMode` on one forward pass of the
plain model (multiply-add = 2 FLOPs; convolutions and the dense layer; BatchNorm, ReLU and pooling
are not counted), and a training step is taken as 3× the forward FLOPs (forward + two backward
products). Achieved TFLOP/s = 3 × forward FLOPs per image × training (model-)images/s.
Rates are from the second of two epochs (the first warms up: cuDNN autotuning, allocator, compile).

``--quick`` runs tiny sizes (width 1/16, 128 images, small attack and paper-B batches, no
DataLoader workers) as a smoke test of every code path; its numbers are not meaningful.
``main()`` returns every figure in a dict (used by ``tests/test_bench.py``).

**CPU mode** (``--cpu``): in one run, today's fp32 path beside the new path (``precision: auto``:
bf16 autocast where this CPU has bf16 units; with ``--compile`` also compiled where
:data:`robustlab.paper_a.training.COMPILE_PAYS` says), with their ratio — paper-A training img/s per
architecture at the quick width (1/16, batch 64, 1 thread) and at width 1/4 (batch 128, 2 threads),
evaluation model-img/s (7 models, quick width, 1 thread), and paper B's MobileNetV2 inference img/s
(224×224, channels_last, 2 threads, the shared weights on Imagenette images where present): the old loop
(batch 32) beside :func:`robustlab.paper_b.classifiers.predict` (subnormals flushed, the measured fastest
forward batch), and bf16 (not used: chapter 06's precision check). Same functions as the book; paper A
on random data and weights; the second of two epochs.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import time
from functools import partial
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from robustlab.attacks.fgsm import fgsm
from robustlab.attacks.minimal import minimal_change
from robustlab.core.device import autocast, describe_device, fast_bf16, resolve_device, resolve_precision
from robustlab.core.params import profile_values, resolve
from robustlab.core.results import atomic_write_text
from robustlab.data.imagenet import load_imagenet
from robustlab.paper_a import grid
from robustlab.paper_a.nets import build
from robustlab.paper_a.training import predict_many, train, train_many
from robustlab.paper_b.classifiers import forward_batch, predict, pretrained, shared_mobilenet_path, to_input

PAPER_EPOCHS = 90
PAPER_TRAIN = 50_000
PAPER_TEST = 10_000
SIGMAS = (0.0, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0)
ARCH_ALL = ("resnet", "inception", "resnext")
#: Distinct paper-A models per architecture: σ = 0, the 6 noise σ > 0, the 3 blur σ ≥ 0.125 px.
MODELS_PER_ARCH = 1 + 6 + 3
ATTACK_IMAGES, ATTACK_STEPS = 128, 200  # the paper profile's minimal-change attack per model

#: Dense (no sparsity) bf16 tensor-core peak in TFLOP/s, by GPU name (first match wins).
PEAK_BF16_TFLOPS = (("H100 PCIe", 756.0), ("H100 NVL", 835.0), ("H100", 989.0), ("H200", 989.0),
                    ("A100", 312.0), ("L40S", 362.0))

PATHS = ("baseline", "single", "single_compiled", "wide", "wide_compiled")
LABELS = {"baseline": "baseline fp32", "single": "single eager", "single_compiled": "single compiled",
          "wide": f"wide eager ({len(SIGMAS)})", "wide_compiled": f"wide compiled ({len(SIGMAS)})"}


def peak_bf16_tflops(dev: torch.device) -> float | None:
    """The device's dense bf16 peak (TFLOP/s) from :data:`PEAK_BF16_TFLOPS`, None if unknown."""
    if dev.type != "cuda":
        return None
    name = torch.cuda.get_device_name(dev)
    return next((v for k, v in PEAK_BF16_TFLOPS if k in name), None)


def forward_flops(model: nn.Module, shape=(1, 3, 32, 32)) -> int:
    """FLOPs of one forward pass per image (conv + linear, 2 per multiply-add)."""
    from torch.utils.flop_counter import FlopCounterMode  # deferred: slow to import; the --cpu mode counts no FLOPs

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


def bench_single(arch: str, width: float, dev: torch.device, n: int, batch_size: int,
                 compile: bool = False) -> float:
    """Training images/s of :func:`robustlab.paper_a.training.train` (second epoch; the first warms up)."""
    x, y = _fake_cifar(n)
    torch.manual_seed(0)
    model = build(arch, width=width)
    hist = train(model, x, y, kind="noise", sigma=0.1, epochs=2, batch_size=batch_size, lr=0.05,
                 seed=0, device=dev, progress=False, compile=compile, precision=resolve_precision("auto", dev))
    return float(hist["images_per_s"][-1])


def bench_wide(arch: str, width: float, dev: torch.device, n: int, batch_size: int,
               sigmas=SIGMAS, compile: bool = False) -> float:
    """Model-images/s of :func:`robustlab.paper_a.training.train_many` (one wide net) for ``sigmas``."""
    x, y = _fake_cifar(n)
    torch.manual_seed(0)
    models = [build(arch, width=width) for _ in sigmas]
    hists = train_many(models, x, y, kind="noise", sigmas=list(sigmas), epochs=2, batch_size=batch_size,
                       lr=0.05, seed=0, device=dev, progress=False, compile=compile,
                       precision=resolve_precision("auto", dev))
    return float(hists[0]["images_per_s"][-1]) * len(sigmas)


def bench_baseline(arch: str, width: float, dev: torch.device, n: int, batch_size: int,
                   num_workers: int = 2) -> float:
    """Plain loop: fp32, NCHW, one model, a CPU DataLoader (noise added on the CPU) feeding ``dev``."""
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
    for _epoch in range(2):
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
    """Evaluation model-images/s of :func:`robustlab.paper_a.training.predict_many`: ``n_models`` nets on the
    same noisy batches (σ = 0.1), as one wide net on CUDA, one after another on CPU."""
    x, _ = _fake_cifar(n)
    models = [build(arch, width=width) for _ in range(n_models)]
    stacked = dev.type == "cuda"
    prec = resolve_precision("auto", dev)
    predict_many(models, x[: min(n, 256)], kind="noise", sigmas=[0.1], device=dev, stacked=stacked,
                 precision=prec)  # warm-up
    _sync(dev)
    t0 = time.perf_counter()
    predict_many(models, x, kind="noise", sigmas=[0.1], device=dev, stacked=stacked, precision=prec)
    _sync(dev)
    return n * n_models / (time.perf_counter() - t0)


def bench_attack(width: float, dev: torch.device, n: int, steps: int) -> float:
    """Images/s of :func:`robustlab.attacks.minimal.minimal_change` (L∞) on a paper-A net (random weights)."""
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
    model = pretrained(name, weights=None).to(dev, memory_format=torch.channels_last).eval()
    x = torch.rand(batch_size, 3, 224, 224, device=dev).contiguous(memory_format=torch.channels_last)
    with torch.inference_mode(), autocast(dev, resolve_precision("auto", dev)):
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


def _row(rate: float | None, flops: int, base: float | None, peak: float | None) -> dict:
    tflops = 3 * flops * rate / 1e12 if rate else None
    return {"images_per_s": rate, "tflops": tflops,
            "pct_peak": 100 * tflops / peak if tflops is not None and peak else None,
            "ratio_to_baseline": rate / base if rate and base else None}


def _num(v: float | None, w: int, fmt: str) -> str:
    return f"{v:{w}{fmt}}" if v is not None else f"{'n/a':>{w}s}"


def bench_arch(arch: str, width: float, dev: torch.device, n: int, bs: int, workers: int,
               baseline: bool, compile: bool, peak: float | None) -> dict:
    """Every training path of one architecture, the evaluation rate, and their figures."""
    cuda = dev.type == "cuda"
    f = forward_flops(build(arch, width=width))
    rates = {
        "baseline": bench_baseline(arch, width, dev, n, bs, num_workers=workers) if baseline else None,
        "single": bench_single(arch, width, dev, n, bs),
        "single_compiled": bench_single(arch, width, dev, n, bs, compile=True) if cuda and compile else None,
        "wide": bench_wide(arch, width, dev, n, bs),
        "wide_compiled": bench_wide(arch, width, dev, n, bs, compile=True) if cuda and compile else None,
    }
    out = {"gflop_per_image": f / 1e9, "eval": bench_eval(arch, width, dev, min(n, PAPER_TEST)),
           "paths": {p: _row(rates[p], f, rates["baseline"], peak) for p in PATHS}}
    best = max(PATHS[1:], key=lambda p: rates[p] or 0.0)
    out.update(best_path=best, best=rates[best])
    return out


def project_campaign(archs: dict, attack_rate: float, attack_steps: int) -> dict:
    """Projected paper-A campaign time (s) from the measured rates (see the module docstring)."""
    per_arch = {}
    attack_s = MODELS_PER_ARCH * ATTACK_IMAGES / attack_rate * (ATTACK_STEPS + 8) / (attack_steps + 8)
    for arch, r in archs.items():
        train_s = MODELS_PER_ARCH * PAPER_EPOCHS * PAPER_TRAIN / r["best"]
        eval_s = MODELS_PER_ARCH * len(SIGMAS) * PAPER_TEST / r["eval"]
        per_arch[arch] = {"train_s": train_s, "eval_s": eval_s, "attack_s": attack_s,
                          "total_s": train_s + eval_s + attack_s}
    mean = sum(v["total_s"] for v in per_arch.values()) / max(1, len(per_arch))
    return {"per_arch": per_arch, "total_s": mean * len(ARCH_ALL), "models": MODELS_PER_ARCH * len(ARCH_ALL)}


def _print_arch(arch: str, r: dict) -> None:
    for p in PATHS:
        row = r["paths"][p]
        print(f"{arch:10s} {LABELS[p]:20s} {r['gflop_per_image']:9.4f} {_num(row['images_per_s'], 10, '.0f')} "
              f"{_num(row['tflops'], 8, '.3g')} {_num(row['pct_peak'], 6, '.1f')} "
              f"{_num(row['ratio_to_baseline'], 7, '.2f')}")
    print(f"{arch:10s} {'eval (7 models)':20s} {'':9s} {r['eval']:10.0f}")


# --------------------------------------------------------------------------------------
# CPU mode: today's fp32 path beside the new one, in one run
# --------------------------------------------------------------------------------------
def _train_rate(arch: str, width: float, n: int, bs: int, precision: str, compile: bool = False) -> float:
    x, y = _fake_cifar(n)
    torch.manual_seed(0)
    hist = train(build(arch, width=width), x, y, kind="noise", sigma=0.1, epochs=2, batch_size=bs, lr=0.05,
                 precision=precision, progress=False, compile=compile)
    return float(hist["images_per_s"][-1])


def _eval_rate(arch: str, width: float, n: int, precision: str, n_models: int = len(SIGMAS)) -> float:
    x, _ = _fake_cifar(n)
    torch.manual_seed(0)
    models = [build(arch, width=width) for _ in range(n_models)]
    predict_many(models, x[:128], sigmas=[0.1], precision=precision)  # warm-up
    t0 = time.perf_counter()
    predict_many(models, x, sigmas=[0.1], precision=precision)
    return n * n_models / (time.perf_counter() - t0)


def _mobilenet_rate(batch_size: int, precision: str, n: int) -> float:
    torch.manual_seed(0)
    model = pretrained("mobilenet_v2", weights=None).to(memory_format=torch.channels_last).eval()
    x = torch.rand(batch_size, 3, 224, 224).contiguous(memory_format=torch.channels_last)
    reps = max(2, n // batch_size)
    with torch.inference_mode(), autocast("cpu", precision):
        model(x)
        t0 = time.perf_counter()
        for _ in range(reps):
            model(x).argmax(1)
    return reps * batch_size / (time.perf_counter() - t0)


#: paper B's forward batch size before the CPU mode chose one (the quick profile's ``eval_batch_size`` then)
TODAY_PAPERB_BATCH = 32


def _paperb_inputs(n: int) -> tuple[nn.Module, np.ndarray, str]:
    """Paper B's classifier and images as the book has them: the shared ImageNet MobileNetV2 and the first
    ``n`` Imagenette validation crops (uint8 NHWC) where the data folder has them, else random weights
    and images (subnormals, the flush's target, depend on both: the note says which was measured)."""
    torch.manual_seed(0)
    try:
        w = shared_mobilenet_path()
        model = pretrained("mobilenet_v2", weights=str(w)) if w.is_file() else None
        images = load_imagenet("val", per_class=max(1, n // 10 + 1), progress=False, download=False).images[:n]
        what = "shared MobileNetV2 weights, Imagenette images"
    except Exception:  # no data folder: the same code on random weights and images
        model, images = None, None
    if model is None or images is None or len(images) < n:
        model = pretrained("mobilenet_v2", weights=None)
        images = np.random.default_rng(0).integers(0, 256, (n, 224, 224, 3), dtype=np.uint8)
        what = "random weights and images"
    return model.to(memory_format=torch.channels_last).eval(), np.ascontiguousarray(images), what


def _paperb_today(model: nn.Module, images: np.ndarray) -> float:
    """Paper B's inference before the CPU mode: forward passes of ``TODAY_PAPERB_BATCH`` images,
    subnormals not flushed (img/s)."""
    torch.set_flush_denormal(False)
    t0 = time.perf_counter()
    with torch.inference_mode():
        for i in range(0, len(images), TODAY_PAPERB_BATCH):
            model(to_input(images[i:i + TODAY_PAPERB_BATCH], "cpu")).argmax(1)
    return len(images) / (time.perf_counter() - t0)


def _paperb_new(model: nn.Module, images: np.ndarray) -> float:
    """Paper B's inference now: :func:`robustlab.paper_b.classifiers.predict` (subnormals flushed, the
    measured fastest forward batch; the measurement is made once, before the timing) (img/s)."""
    t0 = time.perf_counter()
    predict(model, images, TODAY_PAPERB_BATCH)
    return len(images) / (time.perf_counter() - t0)


class _threads:
    def __init__(self, n: int):
        self.n = n

    def __enter__(self):
        self.old = torch.get_num_threads()
        torch.set_num_threads(self.n)

    def __exit__(self, *exc):
        torch.set_num_threads(self.old)


def cpu_main(args: argparse.Namespace) -> dict:
    """The CPU mode (see the module docstring): prints a table and returns the figures."""
    dev = torch.device("cpu")
    new = resolve_precision("auto", dev)
    archs = [a for a in args.archs.split(",") if a]
    small = args.quick
    q = profile_values("quick")
    rows: list[dict] = []
    rounds = 1 if small else max(1, int(args.rounds))

    def best(fn_today, fn_new) -> tuple[float, float]:
        """Both paths measured alternately ``rounds`` times; the best rate of each (a shared machine's
        load only ever slows a run down, so the best is the least disturbed)."""
        t, n = [], []
        for _ in range(rounds):
            t.append(fn_today())
            n.append(fn_new())
        return max(t), max(n)

    def add(what: str, today: float, new_rate: float, **extra) -> None:
        rows.append({"what": what, "today": today, "new": new_rate, "ratio": new_rate / today, **extra})
        print(f"{what:58s} {today:9.0f} {new_rate:9.0f} {new_rate / today:6.2f}", flush=True)

    print(f"CPU: {_cpu_model()}; torch {torch.__version__}; bf16 units: {fast_bf16(dev)}; new path: {new}"
          + (" + compile where COMPILE_PAYS" if args.compile else ""))
    print(f"{'workload (img/s; best of ' + str(rounds) + ' alternating rounds)':58s} {'fp32':>9s} {'new':>9s} "
          f"{'ratio':>6s}")
    n_q, n_w, n_e, n_m = (64, 64, 64, 4) if small else (1024, 384, 2000, 96)
    for width, bs, threads, n in ((float(q["width"]), int(q["batch_size"]), 1, n_q), (0.25, 128, 2, n_w)):
        if small:
            width, bs = 1 / 16, 32
        with _threads(threads):
            for arch in archs:
                add(f"train {arch} width {width:g} batch {bs}, {threads} thread(s)",
                    *best(partial(_train_rate, arch, width, n, bs, "fp32"),
                          partial(_train_rate, arch, width, n, bs, new, args.compile)),
                    kind="train", arch=arch, width=width, batch_size=bs, threads=threads)
    with _threads(1):
        for arch in archs:
            add(f"evaluate {arch} width {q['width']:g}, 7 models, 1 thread",
                *best(partial(_eval_rate, arch, q["width"], n_e, "fp32"),
                      partial(_eval_rate, arch, q["width"], n_e, new)),
                kind="eval", arch=arch, threads=1)
    with _threads(min(2, os.cpu_count() or 1)):
        model, images, what = _paperb_inputs(n_m * 4)
        predict(model, images[:8], TODAY_PAPERB_BATCH)  # warm-up, and forward_batch's one measurement
        chosen = forward_batch(model, (3, 224, 224), "cpu", TODAY_PAPERB_BATCH)
        _paperb_today(model, images[:8])
        add(f"MobileNetV2 fp32 batch {TODAY_PAPERB_BATCH} → predict (flushed, batch {chosen})",
            *best(partial(_paperb_today, model, images), partial(_paperb_new, model, images)),
            kind="mobilenet", batch_size=chosen, precision="fp32", inputs=what)
        scan16: dict[int, float] = {}
        for _ in range(rounds):
            for bs in (2,) if small else (4, 8, 16, 32):
                scan16[bs] = max(scan16.get(bs, 0.0), _mobilenet_rate(bs, "bf16", n_m))
        best16 = max(scan16, key=scan16.get)
        add(f"MobileNetV2 fp32 batch {TODAY_PAPERB_BATCH} → bf16 batch {best16} (not used)", rows[-1]["today"],
            scan16[best16], kind="mobilenet_bf16", batch_size=best16, precision="bf16", scan_bf16=scan16,
            inputs="random weights and images")
    return {"mode": "cpu", "cpu": _cpu_model(), "device": describe_device(dev), "torch": torch.__version__,
            "bf16_units": fast_bf16(dev), "new_precision": new, "compile": bool(args.compile), "rows": rows}


def _cpu_model() -> str:
    """lscpu's "Model name" (from /proc/cpuinfo), else the platform's processor string."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip() + f", {os.cpu_count()} cores"
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _parse(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m robustlab.bench", description=__doc__.split("\n\n")[0])
    ap.add_argument("--device", default="auto")
    ap.add_argument("--width", type=float, default=None, help="channel multiplier (default 1.0 = paper)")
    ap.add_argument("--images", type=int, default=None, help="images per timed epoch")
    ap.add_argument("--batch-size", type=int, default=None)
    ap.add_argument("--archs", default="resnet,inception,resnext")
    ap.add_argument("--quick", action="store_true", help="tiny sizes, for a CPU smoke run (numbers not meaningful)")
    ap.add_argument("--no-baseline", action="store_true")
    ap.add_argument("--no-compile", action="store_true", help="skip the torch.compile variants (CUDA)")
    ap.add_argument("--json", default="bench.json", help="where to write the figures (default ./bench.json)")
    ap.add_argument("--full", action="store_true", help="also run and time the whole paper-profile grid")
    ap.add_argument("--cpu", action="store_true", help="CPU mode: today's fp32 path beside the new path, with ratios")
    ap.add_argument("--compile", action="store_true", help="CPU mode: compile where COMPILE_PAYS says")
    ap.add_argument("--rounds", type=int, default=2, help="CPU mode: alternating rounds per figure (best of)")
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> dict:
    """Run the benchmark, print the figures, write them to ``--json`` and return them as a dict."""
    args = _parse(argv)
    if args.cpu:
        out = cpu_main(args)
        if args.json:
            atomic_write_text(Path(args.json), json.dumps(out, indent=1, default=str))
            print(f"figures written to {args.json}")
        return out
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
    peak = peak_bf16_tflops(dev)
    out: dict = {"device": describe_device(dev), "torch": torch.__version__, "width": width, "images": n,
                 "batch_size": bs, "peak_bf16_tflops": peak, "archs": {}}
    print(f"device: {out['device']}; torch {torch.__version__}; "
          f"dense bf16 peak {_num(peak, 0, '.0f').strip()} TFLOP/s")
    print(f"paper-A nets at width {width:g} ({round(256 * width)} channels); {n} images per timed epoch, "
          f"batch {bs}; wide = {len(SIGMAS)} models; rates in (model-)images/s")
    print(f"{'arch':10s} {'path':20s} {'GFLOP/img':>9s} {'img/s':>10s} {'TFLOP/s':>8s} {'%peak':>6s} {'x base':>7s}")
    for arch in archs:
        r = bench_arch(arch, width, dev, n, bs, workers, not args.no_baseline, not args.no_compile, peak)
        out["archs"][arch] = r
        _print_arch(arch, r)

    att = bench_attack(width, dev, att_n, att_steps)
    fwd, fg = bench_paperb(dev, pb_n, pb_bs)
    out.update(attack=att, attack_steps=att_steps, paperb_forward=fwd, paperb_fgsm=fg)
    out["campaign"] = project_campaign(out["archs"], att, att_steps)
    out["projected_campaign_s"] = out["campaign"]["total_s"]
    print(f"attack (minimal_change L∞, {att_steps} steps, resnet width {width:g}): {att:.1f} images/s")
    print(f"paper B (mobilenet_v2, 224x224, random weights): forward {fwd:.1f} images/s, FGSM {fg:.1f} images/s")
    print(f"projected paper-A campaign ({out['campaign']['models']} models x {PAPER_EPOCHS} epochs x "
          f"{PAPER_TRAIN:,} images on the fastest path, + eval on {len(SIGMAS)} σ x {PAPER_TEST:,} "
          f"+ attacks {ATTACK_IMAGES} images x {ATTACK_STEPS} steps), at width {width:g}: "
          f"{_fmt_time(out['projected_campaign_s'])}")
    if args.full:
        cfg = resolve("bench", {"profile": "paper", "device": str(dev)})
        t0 = time.perf_counter()
        grid.run_grid(cfg)
        out["measured_grid_s"] = time.perf_counter() - t0
        print(f"measured paper grid: {_fmt_time(out['measured_grid_s'])}")
    if args.json:
        atomic_write_text(Path(args.json), json.dumps(out, indent=1, default=str))
        print(f"figures written to {args.json}")
    return out


if __name__ == "__main__":  # pragma: no cover
    main()
