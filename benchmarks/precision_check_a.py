"""Paper A's bf16 precision check: does bf16 autocast change the accuracy paper A's nets reach?

Trains the σ = 0 and σ = 0.1 (noise) models of each architecture at the quick profile's sizes in fp32
and in bf16 autocast, with two training seeds each (replicates 0 and 1: the quick profile's own seeding),
and prints each model's clean test accuracy (the quick profile's test images, evaluated in the precision
it was trained in). The check passes for an (architecture, σ) when the difference of the two precisions'
mean accuracies lies within the seed spread: ``|mean_bf16 − mean_fp32| ≤ max(range_fp32, range_bf16)``,
the range being max − min over the seeds. Trains in a scratch results folder (nothing is cached for the
book) with the quick profile's parallel workers. Writes JSON with ``--json``.

Usage::

    ROBUSTLAB_DATA=/work/shared/data .venv/bin/python benchmarks/precision_check_a.py [--archs resnet] [--json out.json]
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time

import numpy as np

from robustlab.core.device import fast_bf16
from robustlab.core.params import resolve
from robustlab.paper_a import grid
from robustlab.paper_a.training import predict_many


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--archs", default="resnet,inception,resnext")
    ap.add_argument("--sigmas", default="0,0.1")
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--results", default=None, help="scratch results folder (default: a temporary one)")
    ap.add_argument("--json")
    a = ap.parse_args(argv)
    archs = [x for x in a.archs.split(",") if x]
    sigmas = [float(x) for x in a.sigmas.split(",")]
    out: dict = {"cpu_bf16_units": fast_bf16("cpu"), "rows": []}
    with tempfile.TemporaryDirectory() as tmp:
        acc: dict[tuple, list[float]] = {}
        for prec in ("fp32", "bf16"):
            cfg = resolve("precision_check_a", {"profile": "quick", "results_dir": a.results or tmp,
                                                "precision": prec, "n_seeds": a.seeds, "device": "cpu"})
            t0 = time.perf_counter()
            jobs = [(arch, "noise", s, r) for arch in archs for s in sigmas for r in range(a.seeds)]
            grid._train_in_processes(cfg, [j for j in jobs if not grid.has_model(cfg, *j)], progress=False)
            train_s = time.perf_counter() - t0
            tx, ty = grid.test_data(cfg)
            for arch, kind, s, r in jobs:
                m = grid.get_model(cfg, arch, kind, s, progress=False, replicate=r)
                pred = predict_many([m], tx, kind=kind, sigmas=[0.0], precision=prec)[0, 0]
                acc.setdefault((arch, s, prec), []).append(float((pred == ty).mean()))
            out.setdefault("train_s", {})[prec] = round(train_s, 1)
        print(f"{'arch':10s} {'σ':>5s} {'fp32 (seeds)':>22s} {'bf16 (seeds)':>22s} {'Δ mean':>8s} {'spread':>7s}  ok")
        for arch in archs:
            for s in sigmas:
                f, b = acc[(arch, s, "fp32")], acc[(arch, s, "bf16")]
                d = float(np.mean(b) - np.mean(f))
                spread = max(max(f) - min(f), max(b) - min(b))
                ok = abs(d) <= spread
                out["rows"].append({"arch": arch, "sigma": s, "fp32": f, "bf16": b, "delta": d, "spread": spread,
                                    "within_spread": ok})
                print(f"{arch:10s} {s:5g} {' / '.join(f'{x:.3f}' for x in f):>22s} "
                      f"{' / '.join(f'{x:.3f}' for x in b):>22s} {d:+8.3f} {spread:7.3f}  {'yes' if ok else 'NO'}")
        out["passed"] = all(r["within_spread"] for r in out["rows"])
        print(f"within the seed spread everywhere: {'yes' if out['passed'] else 'no'}; training wall time "
              f"fp32 {out['train_s']['fp32']} s, bf16 {out['train_s']['bf16']} s")
    if a.json:
        with open(a.json, "w") as fh:
            json.dump(out, fh, indent=1)
    return out


if __name__ == "__main__":
    main()
