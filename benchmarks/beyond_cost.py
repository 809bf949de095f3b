"""Chapter 12's compute at a profile, piece by piece, in CPU-seconds — with and without the profile's
cost cuts (``beyond_augmentations``, ``beyond_pixel_counts``).

Each piece (a paper-A net's forward pass and training step, chapter 05's attack, MobileNetV2's forward
pass and fine-tuning step) is timed on a small sample of random images with random weights, on one
thread, and scaled to the counts the profile asks for. CPU-seconds are this process's user + system
time (``resource.getrusage``): on a loaded machine they count the work, not the wait, so a measurement
on a busy box still gives the idle cost. One thread's CPU-seconds are about its wall time on an idle core;
on the 2-core box the chapter's work runs on both cores (training in 2 processes, inference on 2
threads), so its idle wall time is between CPU-s / 2 and CPU-s.

Not counted: what chapters 03/05/10 computed and the chapter reuses (the σ = 0 and σ = 0.1 models, their
grids and Δ, chapter 10's fine-tuned models), data loading, the figures.

Usage::

    PYTHONPATH=src ROBUSTLAB_DATA=/work/shared/data python benchmarks/beyond_cost.py --profile quick
"""
from __future__ import annotations

import argparse
import dataclasses
import resource
import time

import numpy as np
import torch

from robustlab.attacks.minimal import minimal_change
from robustlab.beyond import cifar as xc
from robustlab.beyond import imagenet as xi
from robustlab.beyond.registry import CIFAR_VARIANTS, IMAGENET_TRADITIONAL, cifar_variants
from robustlab.core.params import resolve
from robustlab.paper_a import delta, grid
from robustlab.paper_a.training import train
from robustlab.paper_b.classifiers import predict, pretrained


def cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def per_item(fn, n: int) -> float:
    """CPU-s per item of ``fn()`` working on ``n`` items (after one warm-up call)."""
    fn()
    t = cpu_s()
    fn()
    return (cpu_s() - t) / n


def _rng_images(n: int, size: int) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (n, size, size, 3), dtype=np.uint8)


def measure(cfg, arch: str, n_a: int, n_b: int) -> dict[str, float]:
    """CPU-s per image of each piece (one thread)."""
    out: dict[str, float] = {}
    hp0 = grid.train_config(cfg, arch, "noise", 0.0)
    net = hp0.build_model().eval()
    xa = _rng_images(n_a, 32)
    with torch.inference_mode():
        net(torch.zeros(2, 3, 32, 32))
    from robustlab.beyond.cifar import _OnUnit  # (the chapter's own wrapper: paper B's [0, 1] input)

    out["cifar_forward"] = per_item(lambda: predict(_OnUnit(net), xa, 256), n_a)
    ya = np.random.default_rng(1).integers(0, 10, n_a)
    train(hp0.build_model(), xa[:128], ya[:128], dataclasses.replace(hp0, epochs=1), progress=False,
          checkpoint_every_s=None)  # warm-up: the first training pays one-time costs
    for name in ("crop-flip", "rotation", "pixels-1", "pixels-5"):
        hp = dataclasses.replace(hp0, augmentation=name, epochs=1)
        m = hp.build_model()
        t = cpu_s()
        train(m, xa, ya, hp, progress=False, checkpoint_every_s=None)
        out[f"train_{name}"] = (cpu_s() - t) / n_a
    k = 16
    x = torch.as_tensor(xa[:k]).permute(0, 3, 1, 2).float() / 127.5 - 1.0
    with torch.inference_mode():
        y = net(x).argmax(1)  # the net's own answers: every image counts as correct and is attacked
    t = cpu_s()
    minimal_change(net, x, y, norm=cfg.attack_norm, steps=int(cfg.attack_steps), bounds=delta.BOUNDS,
                   seed=0, **delta.ATTACK_DEFAULTS)
    out["delta"] = (cpu_s() - t) / k
    mb = pretrained("mobilenet_v2", None)
    xb = _rng_images(n_b, 224)
    out["imagenet_forward"] = per_item(lambda: predict(mb, xb, int(cfg.eval_batch_size)), n_b)
    bs = max(1, min(int(cfg.batch_size), 32))
    opt = torch.optim.SGD(mb.parameters(), lr=1e-4, momentum=0.9)
    xt = torch.rand(bs, 3, 224, 224)
    yt = torch.randint(0, 1000, (bs,))
    mb.train()

    def step():
        opt.zero_grad()
        torch.nn.functional.cross_entropy(mb(xt), yt).backward()
        opt.step()

    out["imagenet_finetune"] = per_item(step, bs)
    return out


def chapter_cost(cfg, per: dict[str, float], arch: str) -> dict[str, float]:
    """CPU-s of chapter 12 at ``cfg`` (what the chapter itself computes), by part and piece."""
    variants = cifar_variants(cfg)
    augs = [v for v in variants if v.source == "augmentation"]
    n_tr, n_te, ep = int(cfg.train_subset or 50_000), grid.n_test(cfg), int(cfg.epochs)
    n_lv = len(xc.levels(cfg, "noise")) + len(xc.levels(cfg, "blur"))
    n_px = int(cfg.n_images)
    c = {"1 train": sum(per[f"train_{v.name}"] for v in augs) * ep * n_tr,
         "1 grids": len(augs) * n_lv * n_te * per["cifar_forward"],
         "1 delta": len(augs) * int(cfg.n_attack_images) * per["delta"],
         "1 pixels": len(variants) * (3 * n_px + len(xc.pixel_counts(cfg)) * int(cfg.n_repeats) * n_px)
         * per["cifar_forward"]}
    counts = xi.pixel_counts(cfg)
    reused = len(cfg.aug_pixel_counts) + 1  # chapter 10's control and few-pixel models
    new_counts = [p for p in counts if p not in {int(q) for q in cfg.grid_pixel_counts}]
    n_b = int(cfg.aug_test_images)
    c["2 fine-tune"] = len(IMAGENET_TRADITIONAL) * int(cfg.aug_epochs) * int(cfg.aug_train_images) * \
        per["imagenet_finetune"]
    c["2 tests"] = (len(IMAGENET_TRADITIONAL) * (2 + len(counts) * int(cfg.n_repeats))
                    + reused * len(new_counts) * int(cfg.n_repeats)) * n_b * per["imagenet_forward"]
    return {k: v * len(cfg.beyond_archs) if k.startswith("1") else v for k, v in c.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--profile", default="quick")
    ap.add_argument("--n-cifar", type=int, default=512, help="CIFAR images per timed piece")
    ap.add_argument("--n-imagenet", type=int, default=32, help="224-px images per timed forward piece")
    a = ap.parse_args()
    torch.set_num_threads(1)
    cfg = resolve("beyond_cost", {"profile": a.profile})
    full = type(cfg)({**cfg, "beyond_augmentations": None, "beyond_pixel_counts": None})
    arch = cfg.beyond_archs[0]
    w = time.perf_counter()
    per = measure(cfg, arch, a.n_cifar, a.n_imagenet)
    print(f"profile {a.profile}, {arch} width {cfg.width:g}; CPU-s per image, one thread "
          f"(measured in {time.perf_counter() - w:.0f} s wall):")
    for k, v in per.items():
        print(f"  {k:22s} {1000 * v:9.2f} ms")
    now, before = chapter_cost(cfg, per, arch), chapter_cost(full, per, arch)
    print(f"\nchapter 12 at {a.profile} (CPU-s)      everything   with the profile's cuts")
    for k in before:
        print(f"  {k:30s} {before[k]:10.0f} {now[k]:12.0f}")
    tb, tn = sum(before.values()), sum(now.values())
    print(f"  {'total':30s} {tb:10.0f} {tn:12.0f}   ({100 * (1 - tn / tb):.0f} % less)")
    print(f"idle 2-core wall time: {tb / 2 / 60:.1f}-{tb / 60:.1f} min everything, {tn / 2 / 60:.1f}-{tn / 60:.1f} min "
          f"with the cuts ({len(CIFAR_VARIANTS)} part-1 variants registered, {len(cifar_variants(cfg))} run)")


if __name__ == "__main__":
    main()
