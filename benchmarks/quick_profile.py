"""Cost and clean accuracy of candidate settings for paper A's ``quick`` profile (CPU, 1 thread).

What it measures
----------------
For every candidate point ``W:N:E:B:LR`` (width, class-balanced training images, epochs, batch
size, peak learning rate; the rest — momentum, weight decay, onecycle schedule, seed, augment — is
taken from ``src/robustlab/core/profiles/quick.yaml``), and every architecture of ``--archs``, it
does exactly what ``robustlab.paper_a.grid._train_one`` does for the σ = 0 model:
``torch.manual_seed(seed)``, ``nets.build(arch, width=W)``, ``training.train(..., kind="noise",
sigma=0)`` on the seeded class-balanced draw of N CIFAR-10 training images (``balanced_indices``,
as ``grid.train_data``), on the CPU with ``torch.set_num_threads(1)``. It then evaluates clean test
accuracy on the profile's class-balanced test draw (``test_subset`` images, same seed: the draw of
``grid.test_data``), as every grid cell does.

Columns
-------
``acc%``      clean test accuracy of the σ = 0 model (on the profile's 1,000 test images: ±1.5 %
              binomial standard error, plus seed-to-seed spread of a short training run).
``trainCPU``  CPU seconds of the ``train`` call (``time.process_time``, 1 thread): the cost figure.
              On a shared machine this is far less noisy than wall time (``trainWall``), which is
              shown too.
``img/CPUs``  training images processed per CPU second (N × E / trainCPU).
``evalCPU``   CPU seconds to evaluate the test draw once (one grid cell).
``loss``      mean training cross-entropy of the last epoch.
Each timed run follows two untimed warm-up batches of a throwaway model (one-off set-up costs).
Per point, a summary line ``grid`` projects the paper-A grid of the profile (per arch σ = 0 +
6 noise + 3 blur = 10 distinct models; noise/blur models cost what the σ = 0 one costs plus the
corruption, check with ``--corrupt``):

* ``train`` = Σ over archs of 10 × trainCPU / 2 cores / 60 — minutes of wall time with the
  book's two threads if both cores were free (the book's 2-thread runs share work imperfectly,
  so treat it as a lower bound);
* ``eval`` = Σ over archs of (evaluated cells per arch) × evalCPU / 2 / 60, the cells being
  7 × 7 noise + 4 × 4 distinct blur − 1 shared clean cell;
* ``min acc`` = the lowest of the archs' clean accuracies (the goal is ≥ 55 % for every arch).

``--corrupt`` additionally trains the noise σ = 0.1 and the blur σ = 5 px models (the widest
blur kernel, the dearest corruption) of the first arch at every point and prints their CPU
seconds, to check that the ×10 projection holds.

No pass/fail: a table to choose the profile's numbers from.

Usage::

    ROBUSTLAB_DATA=/work/shared/data ROBUSTLAB_CACHE=/tmp/rlcache .venv/bin/python benchmarks/quick_profile.py \\
        --points 1/16:20000:2:64:0.1 1/16:20000:2:128:0.2 [--archs resnet inception resnext] \\
        [--corrupt] [--train-seed 1] [--json out.json] [--table out.txt]

Width may be written as a fraction (1/16 = 16 channels, 3/32 = 24, 1/8 = 32). ``--table`` appends
the printed lines to a file as they are produced (the run can take a while).

Measured (2026-11-24, the shared 2-core CPU box, torch 2.14.1, load 0.7-6 from other work, so CPU-s
carry ~±10 %; the run that chose the quick profile's point ``1/16:20000:2:64:0.1``)::

    # 2026-11-24 19:08, load avg 0.67
    point                          arch         acc%  trainCPU trainWall  img/CPUs  evalCPU   loss
    1/16:20000:2:64:0.1            resnet       57.3      30.3      30.3      1322     0.37  1.345
    1/16:20000:2:64:0.1            inception    57.0      52.8      52.9       757     0.67  1.304
    1/16:20000:2:64:0.1            resnext      54.8      28.1      28.6      1421     0.39  1.342
    1/16:20000:2:64:0.1            grid         54.8   train 9.3 min + eval 0.8 min
    1/16:40000:1:128:0.2           resnet       56.5      27.1      37.1      1475     0.27  1.499
    1/16:40000:1:128:0.2           inception    55.3      55.7      78.9       718     0.67  1.474
    1/16:40000:1:128:0.2           resnext      54.1      29.0      46.1      1377     0.42  1.521
    1/16:40000:1:128:0.2           grid         54.1   train 9.3 min + eval 0.7 min
    1/16:20000:2:128:0.2           resnet       54.5      26.2      39.1      1528     0.36  1.369
    1/16:20000:2:128:0.2           inception    55.8      53.6      79.7       747     0.62  1.293
    1/16:20000:2:128:0.2           resnext      53.3      26.7      39.9      1501     0.38  1.343
    1/16:20000:2:128:0.2           grid         53.3   train 8.9 min + eval 0.7 min
    # 2026-11-24 19:15, load avg 4.67
    point                          arch         acc%  trainCPU trainWall  img/CPUs  evalCPU   loss
    1/16:20000:2:64:0.2            resnet       52.8      36.8      60.5      1086     0.40  1.369
    1/16:20000:2:64:0.2            inception    57.7      63.8     108.0       627     0.71  1.310
    1/16:20000:2:64:0.2            resnext      57.3      30.5      59.2      1312     0.38  1.343
    1/16:20000:2:64:0.2            grid         52.8   train 10.9 min + eval 0.8 min
    1/16:30000:1:64:0.1            resnet       50.1      24.5      44.6      1225     0.32  1.577
    1/16:30000:1:64:0.1            inception    51.0      44.0      79.2       682     0.64  1.554
    1/16:30000:1:64:0.1            resnext      51.2      22.3      43.2      1348     0.32  1.585
    1/16:30000:1:64:0.1            grid         50.1   train 7.6 min + eval 0.7 min
    3/32:24000:1:64:0.1            resnet       53.3      22.7      45.4      1056     0.52  1.566
    3/32:24000:1:64:0.1            inception    57.8      45.9      80.7       522     0.96  1.486
    3/32:24000:1:64:0.1            resnext      54.5      27.7      51.5       867     0.57  1.556
    3/32:24000:1:64:0.1            grid         53.3   train 8.0 min + eval 1.1 min
    # 2026-11-24 19:26, load avg 5.88
    point                          arch         acc%  trainCPU trainWall  img/CPUs  evalCPU   loss
    1/16:24000:1:32:0.05           resnet       48.9      23.1      37.1      1039     0.45  1.633
    1/16:24000:1:32:0.05           inception    51.1      39.2      39.8       613     0.68  1.577
    1/16:24000:1:32:0.05           resnext      48.5      19.6      33.2      1227     0.37  1.630
    1/16:24000:1:32:0.05           grid         48.5   train 6.8 min + eval 0.8 min
    1/16:15000:2:32:0.05           resnet       50.8      27.2      39.1      1101     0.43  1.427
    1/16:15000:2:32:0.05           inception    53.6      46.5      46.8       645     0.73  1.411
    1/16:15000:2:32:0.05           resnext      50.2      24.9      25.2      1207     0.38  1.430
    1/16:15000:2:32:0.05           grid         50.2   train 8.2 min + eval 0.8 min
    3/32:12000:2:64:0.1            resnet       53.0      24.5      34.6       979     0.60  1.366
    3/32:12000:2:64:0.1            inception    54.8      47.5      53.0       505     1.01  1.330
    3/32:12000:2:64:0.1            resnext      53.1      27.0      29.9       887     0.71  1.381
    3/32:12000:2:64:0.1            grid         53.0   train 8.3 min + eval 1.2 min
    # 2026-11-24 19:32, load avg 3.19
    point                          arch         acc%  trainCPU trainWall  img/CPUs  evalCPU   loss
    1/16:20000:2:64:0.15           resnet       57.2      34.5      51.7      1160     0.39  1.330
    1/16:20000:2:64:0.15           inception    57.5      59.9      89.6       668     0.80  1.282
    1/16:20000:2:64:0.15           resnext      53.0      33.3      49.8      1203     0.53  1.370
    1/16:20000:2:64:0.15           grid         53.0   train 10.6 min + eval 0.9 min
    1/16:16000:2:64:0.15           resnet       51.3      27.0      40.5      1185     0.43  1.389
    1/16:16000:2:64:0.15           inception    54.8      43.1      45.6       742     0.66  1.341
    1/16:16000:2:64:0.15           resnext      54.1      21.8      22.0      1468     0.40  1.347
    1/16:16000:2:64:0.15           grid         51.3   train 7.7 min + eval 0.8 min
    # 2026-11-24 19:37, load avg 3.28
    point                          arch         acc%  trainCPU trainWall  img/CPUs  evalCPU   loss
    1/16:20000:2:64:0.1            resnet       51.7      32.4      32.8      1234     0.35  1.380
    1/16:20000:2:64:0.1            inception    58.8      51.6      52.2       775     0.57  1.248
    1/16:20000:2:64:0.1            resnext      56.8      27.4      32.1      1460     0.40  1.322
    1/16:20000:2:64:0.1            resnet n0.1             29.0      41.4      1382           1.368  (×0.89 of σ=0)
    1/16:20000:2:64:0.1            resnet b5              35.7      51.8      1119           1.818  (×1.10 of σ=0)
    1/16:20000:2:64:0.1            grid         51.7   train 9.3 min + eval 0.7 min

Measured 2026-12-06 (the same box, shared with four other sessions: load 15-18 on 2 cores, so wall times
are meaningless and CPU-s carry more noise than above; bf16 autocast, ``--precision bf16``, the quick
profile's new point, two training seeds)::

    point                          arch         acc%  trainCPU trainWall  img/CPUs  evalCPU   loss
    1/8:20000:2:64:0.1             resnet bf16   60.6      34.1     483.4      1172     0.36  1.192   (seed 0)
    1/8:20000:2:64:0.1             inception bf16   63.1      64.4    1346.7       621     0.72  1.118
    1/8:20000:2:64:0.1             resnext bf16   64.0      32.1     538.5      1245     0.37  1.148
    1/8:20000:2:64:0.1             resnet bf16   61.7      32.8     463.6      1218     0.35  1.180   (seed 1)
    1/8:20000:2:64:0.1             inception bf16   65.2      65.3    1360.0       612     0.73  1.122
    1/8:20000:2:64:0.1             resnext bf16   61.9      32.2     542.1      1242     0.35  1.161
    1/8:15000:2:64:0.1             resnet bf16   57.2      25.5     444.3      1176     0.33  1.290   (seed 0)
    1/8:15000:2:64:0.1             resnet bf16   57.4      24.9     435.9      1204     0.36  1.285   (seed 1)
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from fractions import Fraction

import numpy as np
import torch

from robustlab.core.device import resolve_precision
from robustlab.core.params import profile_values
from robustlab.data.cifar10 import load_cifar10
from robustlab.data.common import balanced_indices
from robustlab.paper_a.grid import is_duplicate
from robustlab.paper_a.nets import ARCHS, build
from robustlab.paper_a.training import TrainConfig, evaluate, train

DEFAULT_POINTS = ["1/16:20000:2:64:0.1"]
HEADER = (f"{'point':<30} {'arch':<10} {'acc%':>6} {'trainCPU':>9} {'trainWall':>9} {'img/CPUs':>9} "
          f"{'evalCPU':>8} {'loss':>6}")


def parse_point(s: str) -> dict:
    """``W:N:E:B:LR`` → dict (W may be a fraction such as 1/16)."""
    parts = s.split(":")
    if len(parts) != 5:
        raise SystemExit(f"point {s!r}: expected W:N:E:B:LR, e.g. 1/16:20000:2:64:0.1")
    w, n, e, b, lr = parts
    return {"label": s, "width": float(Fraction(w)), "n": int(n), "epochs": int(e), "batch": int(b),
            "lr": float(lr)}


def grid_shape(prof: dict) -> tuple[int, int]:
    """(distinct models per arch, evaluated cells per arch) of the profile's σ list."""
    sig = [float(s) for s in dict.fromkeys(prof["sigmas"])]
    noise = len(sig)
    blur = len([s for s in sig if not is_duplicate("blur", s)])
    models = noise + blur - 1  # σ = 0 shared
    cells = noise * noise + blur * blur - 1  # the clean/clean cell is shared
    return models, cells


def warm_up(arch: str, pt: dict, data: tuple, precision: str) -> None:
    """Two untimed batches of a throwaway model: the one-off kernel/allocator set-up a whole book run
    pays once is kept out of the timed run."""
    xtr, ytr = data[0][: 2 * pt["batch"]], data[1][: 2 * pt["batch"]]
    train(build(arch, width=pt["width"]), xtr, ytr, kind="noise", sigma=0.0, epochs=1, batch_size=pt["batch"],
          lr=pt["lr"], precision=precision, device="cpu", checkpoint=None, progress=False, checkpoint_every_s=None)


def run_one(arch: str, pt: dict, prof: dict, data: tuple, kind: str = "noise", sigma: float = 0.0,
            train_seed: int | None = None, precision: str = "fp32") -> dict:
    xtr, ytr, xte, yte = data
    seed = int(prof["seed"]) if train_seed is None else int(train_seed)
    warm_up(arch, pt, data, precision)
    # the TrainConfig grid._train_one builds from the profile, at this point
    hp = TrainConfig(arch=arch, width=pt["width"], kind=kind, sigma=sigma, seed=seed, data_seed=int(prof["seed"]),
                     epochs=pt["epochs"], batch_size=pt["batch"], lr=pt["lr"], momentum=prof["momentum"],
                     weight_decay=prof["weight_decay"], lr_schedule=prof["lr_schedule"], train_subset=pt["n"],
                     augment=bool(prof.get("augment", False)), precision=precision)
    model = hp.build_model()
    c0, w0 = time.process_time(), time.perf_counter()
    hist = train(model, xtr, ytr, hp, device="cpu", checkpoint=None, progress=False, checkpoint_every_s=None)
    c1, w1 = time.process_time(), time.perf_counter()
    acc = evaluate(model, xte, yte, kind="noise", sigma=0.0, seed=int(prof["seed"]), device="cpu",
                   precision=precision)
    c2 = time.process_time()
    return {"point": pt["label"], "arch": arch, "kind": kind, "sigma": sigma, "train_seed": seed, "width": pt["width"],
            "precision": precision,
            "channels": model.channels if hasattr(model, "channels") else None,
            "n_train": len(ytr), "epochs": pt["epochs"], "batch_size": pt["batch"], "lr": pt["lr"],
            "acc": acc, "train_cpu_s": c1 - c0, "train_wall_s": w1 - w0,
            "img_per_cpu_s": len(ytr) * pt["epochs"] / (c1 - c0), "eval_cpu_s": c2 - c1,
            "n_test": len(yte), "final_loss": float(hist["loss"][-1]), "train_acc": float(hist["train_acc"][-1])}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", nargs="+", default=DEFAULT_POINTS, help="W:N:E:B:LR, e.g. 1/16:20000:2:64:0.1")
    ap.add_argument("--archs", nargs="+", default=list(ARCHS), choices=ARCHS)
    ap.add_argument("--corrupt", action="store_true",
                    help="also train noise σ=0.1 and blur σ=5 models of the first arch at each point")
    ap.add_argument("--train-seed", type=int, default=None,
                    help="seed of the initial weights and the training shuffle (default: the profile's; the "
                         "train/test draws always use the profile's; seed + r is the grid's replicate r) — to see the "
                         "seed-to-seed spread")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (default 1: CPU-seconds are the cost)")
    ap.add_argument("--precision", nargs="+", default=["auto"], choices=["auto", "fp32", "bf16"],
                    help="training and evaluation precision(s) (default auto: bf16 where this CPU has bf16 units)")
    ap.add_argument("--sigma", nargs="+", type=float, default=[0.0],
                    help="noise σ of the trained models (default 0; the summary's min acc is over σ = 0)")
    ap.add_argument("--json", help="write all rows to this JSON file")
    ap.add_argument("--table", help="append the printed table to this text file")
    a = ap.parse_args(argv)

    torch.set_num_threads(a.threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass
    prof = profile_values("quick")
    seed = int(prof["seed"])
    n_models, n_cells = grid_shape(prof)
    points = [parse_point(p) for p in a.points]
    out = open(a.table, "a") if a.table else None

    def say(line: str = "") -> None:
        print(line, flush=True)
        if out is not None:
            out.write(line + "\n")
            out.flush()

    tr = load_cifar10(None, "train", progress=False)
    te = load_cifar10(None, "test", progress=False)
    ti = balanced_indices(te.labels, prof["test_subset"], seed=seed)
    xte, yte = np.ascontiguousarray(te.images[ti]), te.labels[ti].copy()
    say(f"# {time.strftime('%Y-%m-%d %H:%M')} {platform.machine()} torch {torch.__version__}, "
        f"{torch.get_num_threads()} thread(s), load avg {os.getloadavg()[0]:.2f}; quick profile: momentum "
        f"{prof['momentum']}, wd {prof['weight_decay']}, {prof['lr_schedule']}, augment {prof.get('augment')}, "
        f"seed {seed} (training seed {seed if a.train_seed is None else a.train_seed}), {len(yte)} test images; "
        f"grid = {n_models} models & {n_cells} eval cells per arch")
    say(HEADER)
    rows = []
    for pt in points:
        idx = balanced_indices(tr.labels, pt["n"], seed=seed)
        data = (np.ascontiguousarray(tr.images[idx]), tr.labels[idx].copy(), xte, yte)
        prows = []
        for prec in dict.fromkeys(resolve_precision(p, "cpu") for p in a.precision):
            for sigma in a.sigma:
                for arch in a.archs:
                    r = run_one(arch, pt, prof, data, sigma=sigma, train_seed=a.train_seed, precision=prec)
                    prows.append(r)
                    tag = f"{arch[:9]} {prec}" + (f" σ{sigma:g}" if sigma else "")
                    say(f"{pt['label']:<30} {tag:<10} {100 * r['acc']:6.1f} {r['train_cpu_s']:9.1f} "
                        f"{r['train_wall_s']:9.1f} {r['img_per_cpu_s']:9.0f} {r['eval_cpu_s']:8.2f} "
                        f"{r['final_loss']:6.3f}")
        if a.corrupt:
            base = prows[0]
            for kind, sigma in (("noise", 0.1), ("blur", 5.0)):
                r = run_one(a.archs[0], pt, prof, data, kind=kind, sigma=sigma, train_seed=a.train_seed,
                            precision=resolve_precision(a.precision[0], "cpu"))
                prows.append(r)
                say(f"{pt['label']:<30} {a.archs[0] + ' ' + kind[0] + f'{sigma:g}':<10} {'':>6} "
                    f"{r['train_cpu_s']:9.1f} {r['train_wall_s']:9.1f} {r['img_per_cpu_s']:9.0f} {'':>8} "
                    f"{r['final_loss']:6.3f}  (×{r['train_cpu_s'] / base['train_cpu_s']:.2f} of σ=0)")
        last = resolve_precision(a.precision[-1], "cpu")
        clean = [r for r in prows if r["kind"] == "noise" and r["sigma"] == 0.0 and r["precision"] == last]
        train_min = sum(n_models * r["train_cpu_s"] for r in clean) / 2 / 60
        eval_min = sum(n_cells * r["eval_cpu_s"] for r in clean) / 2 / 60
        summary = {"point": pt["label"], "archs": [r["arch"] for r in clean],
                   "grid_train_min": train_min, "grid_eval_min": eval_min,
                   "min_acc": min(r["acc"] for r in clean)}
        say(f"{pt['label']:<30} {'grid':<10} {100 * summary['min_acc']:6.1f} "
            f"  projected on 2 cores: train {train_min:.1f} min + eval {eval_min:.1f} min "
            f"({'+'.join(r['arch'][:3] for r in clean)}; min acc)")
        rows.extend(prows)
        rows.append({"summary": summary})
    if out is not None:
        out.close()
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"argv": sys.argv[1:], "profile": "quick", "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
