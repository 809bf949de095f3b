"""Strength of robustlab's minimal-change attack against the public references.

One trained CIFAR-10 model and the same 128 class-balanced CIFAR-10 test images for every attack.
Prints, per attack: images attacked, success rate, median change (the norm it minimises; failures
count as infinite), median mean |δ| per pixel (8-bit units), gradient evaluations per image
(counted by a hook on the input tensor, see benchmarks/references.py) and wall time.

Usage:
    ROBUSTLAB_DATA=/work/shared/data ROBUSTLAB_CACHE=/tmp/rlcache \
        .venv/bin/python benchmarks/attack_strength.py [--model small_cnn|resnet] [--threads 1]

``--model small_cnn`` (default) is the test suite's model (benchmarks/references.py); ``--model resnet``
uses paper A's ResNet (robustlab.paper_a.nets.build, width 1/16, trained with robustlab.paper_a.training.train for
--epochs on --n-train images). foolbox 3.3.4 and torchattacks 3.5.1 must be installed
(benchmark-only dependencies).
"""
from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

import numpy as np
import torch

from references import attack_set, cached_small_cnn, run_ours, run_reference  # benchmarks/references.py


def _resnet(data, cache, n_train, epochs, seed=0):
    from robustlab.data import balanced_indices, load_cifar10
    from robustlab.paper_a.nets import build
    from robustlab.paper_a.training import train

    tr = load_cifar10(data, "train", cache_dir=cache, progress=False)
    idx = balanced_indices(tr.labels, n_train, seed)
    torch.manual_seed(seed)
    m = build("resnet", width=1 / 16)
    train(m, tr.images[idx], tr.labels[idx], kind="noise", sigma=0.0, epochs=epochs, batch_size=64, lr=0.05,
          seed=seed, progress=False)
    m.eval()
    for p in m.parameters():
        p.requires_grad_(False)
    return m


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", choices=("small_cnn", "resnet"), default="small_cnn")
    ap.add_argument("--n-images", type=int, default=128)
    ap.add_argument("--n-train", type=int, default=4000)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--steps", type=int, nargs="+", default=[20, 92],
                    help="our steps to run (grad evals = steps + 8 with 10 classes)")
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    data = os.environ.get("ROBUSTLAB_DATA", str(Path(__file__).resolve().parents[2] / "shared" / "data"))
    cache = os.environ.get("ROBUSTLAB_CACHE", "/tmp/rlcache")
    t0 = time.time()
    if a.model == "small_cnn":
        model, _ = cached_small_cnn(data, cache, n_train=a.n_train, epochs=a.epochs)
    else:
        model = _resnet(data, cache, a.n_train, a.epochs)
    x, y = attack_set(data, cache, n=a.n_images, seed=0)
    with torch.no_grad():
        acc = float((model(x).argmax(1) == y).float().mean())
    print(f"model {a.model} (trained on {a.n_train} CIFAR-10 images, {a.epochs} epochs, "
          f"{time.time() - t0:.0f} s incl. cache), accuracy on the {len(y)} images {acc:.3f}")
    print(f"machine: {platform.processor() or platform.machine()}, torch {torch.__version__}, "
          f"{torch.get_num_threads()} thread(s), CPU")
    rows = []
    for name in ("foolbox_linf_deepfool", "foolbox_linf_fmn"):
        rows.append(("linf", run_reference(name, model, x, y)))
    for s in a.steps:
        rows.append(("linf", run_ours(model, x, y, norm="linf", steps=s)))
    for name in ("torchattacks_deepfool", "foolbox_l2_deepfool", "foolbox_l2_fmn"):
        rows.append(("l2", run_reference(name, model, x, y)))
    for s in a.steps:
        rows.append(("l2", run_ours(model, x, y, norm="l2", steps=s)))
    hdr = (f"{'attack':30s} {'norm':5s} {'n':>4s} {'success':>8s} {'median':>10s} {'med mean|d|':>12s} "
           f"{'grads/img':>10s} {'time s':>7s}")
    print(hdr)
    print("-" * len(hdr))
    for norm, r in rows:
        key = "linf_8bit" if norm == "linf" else "l2"
        label = r["name"] + (f" (steps={r['result'].steps})" if "result" in r else "")
        unit = "8-bit" if norm == "linf" else "[-1,1]"
        print(f"{label:30s} {norm:5s} {r['n_attacked']:4d} {r['success'].mean():8.3f} "
              f"{np.median(r[key]):10.4f} {np.median(r['mean_abs_8bit']):12.4f} "
              f"{r['grad_evals_per_image']:10.1f} {r['seconds']:7.1f}   ({unit})")
    print("median: L-inf in 8-bit units (linf rows) or L2 on the [-1, 1] input scale (l2 rows); "
          "failures count as infinite. med mean|d|: mean |delta| per pixel and channel, 8-bit units.")


if __name__ == "__main__":
    main()
