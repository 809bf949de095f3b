"""Paper B's bf16 precision check: does bf16 autocast change what paper B measures?

Paper B counts prediction flips under tiny input changes, so bf16 rounding that itself flips a
marginal prediction would be counted as the effect. On the quick profile's selected images (those
the fp32 model classifies correctly; the shared ImageNet MobileNetV2) this prints

* the **noise floor**: the share of *unchanged* selected images whose top-1 class differs between
  fp32 and bf16 autocast inference (channels_last, the same batches);
* experiments 1 (any value, ``pixel_counts`` × ``n_repeats`` draws) and 2 (``grid_pixel_counts`` ×
  ``magnitudes`` × ``grid_repeats`` draws) in both precisions **on the same draws** (the seeds of
  ``robustlab.paper_b.experiments.pixel_runs``): the share of (image, draw) pairs whose outcome
  (prediction wrong or not) agrees, and per setting each precision's wrong-rate with its 95 %
  bootstrap interval over the images (``experiments.rate_estimate``).

The check passes when the outcomes agree on ≥ 99.5 % of the pairs and every rate lies within the
other precision's interval. It decides ``robustlab.paper_b.classifiers.PAPER_B_BF16_OK``. Also times
both precisions (img/s, shared CPU: compare within one run only). Writes JSON with ``--json``.

Usage::

    ROBUSTLAB_DATA=/work/shared/data .venv/bin/python benchmarks/precision_check.py [--images 200] [--json out.json]
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time

import numpy as np
import torch

from robustlab.core.params import resolve
from robustlab.core.seeds import derive_seed
from robustlab.paper_b.classifiers import Autocast, predict
from robustlab.paper_b.experiments import changed_predictions, model_and_data, rate_estimate

AGREE_MIN = 0.995


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=None, help="selected images (default: the quick profile's)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json")
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    with tempfile.TemporaryDirectory() as tmp:
        over = {"profile": "quick", "results_dir": tmp, "precision": "fp32", "device": "cpu"}
        if a.images:
            over["n_images"] = a.images
        cfg = resolve("precision_check", over)
        model, images, labels, _, _ = model_and_data(cfg)
        images = np.asarray(images[:])
        bf = Autocast(model, "bf16").eval()
        bs = int(cfg.eval_batch_size)
        t0 = time.perf_counter()
        p32 = predict(model, images, bs).numpy()
        t1 = time.perf_counter()
        p16 = predict(bf, images, bs).numpy()
        t2 = time.perf_counter()
        floor = float((p32 != p16).mean())
        print(f"{len(images)} selected images (fp32-correct: {float((p32 == labels).mean()):.3f}); noise floor: "
              f"fp32 and bf16 top-1 differ on {100 * floor:.2f} % of unchanged images; "
              f"fp32 {len(images) / (t1 - t0):.0f} img/s, bf16 {len(images) / (t2 - t1):.0f} img/s (batch {bs})")
        settings = [("exp1", {"n_pixels": p}, int(cfg.n_repeats)) for p in cfg.pixel_counts]
        settings += [("exp2", {"n_pixels": p, "magnitude": m}, int(cfg.grid_repeats or cfg.n_repeats))
                     for p in cfg.grid_pixel_counts for m in cfg.magnitudes]
        rows, agree_n, total_n, all_within = [], 0, 0, True
        print(f"{'setting':28s} {'fp32 wrong-rate [95 %]':>26s} {'bf16 wrong-rate [95 %]':>26s} {'agree':>7s}")
        for exp, s, reps in settings:
            w32, w16 = [], []
            for r in range(reps):
                seed = derive_seed(cfg.seed, "clean", s["n_pixels"], s.get("magnitude"), None, r)
                w32.append(changed_predictions(model, images, s["n_pixels"], s.get("magnitude"), None, seed, bs)
                           != labels)
                w16.append(changed_predictions(bf, images, s["n_pixels"], s.get("magnitude"), None, seed, bs)
                           != labels)
            w32, w16 = np.stack(w32), np.stack(w16)
            e32, e16 = rate_estimate(w32.mean(0)), rate_estimate(w16.mean(0))
            agree = float((w32 == w16).mean())
            within = e16.lo <= e32.value <= e16.hi and e32.lo <= e16.value <= e32.hi
            all_within &= within
            agree_n += int((w32 == w16).sum())
            total_n += w32.size
            label = f"{exp} " + " ".join(f"{k}={v}" for k, v in s.items())
            print(f"{label:28s} {e32.value:8.3f} [{e32.lo:.3f}, {e32.hi:.3f}] {e16.value:8.3f} [{e16.lo:.3f}, "
                  f"{e16.hi:.3f}] {100 * agree:6.2f}%{'' if within else '  outside'}")
            rows.append({"exp": exp, **s, "repeats": reps, "fp32": [e32.value, e32.lo, e32.hi],
                         "bf16": [e16.value, e16.lo, e16.hi], "agree": agree, "within": within})
        overall = agree_n / total_n
        ok = overall >= AGREE_MIN and all_within
        print(f"(image, draw) outcomes agree on {100 * overall:.2f} % of {total_n} pairs (need ≥ {100 * AGREE_MIN} %); "
              f"every rate within the other's interval: {all_within}; noise floor {100 * floor:.2f} % → "
              f"{'PASS: bf16 may be used' if ok else 'FAIL: paper B stays fp32'}")
        out = {"images": len(images), "noise_floor": floor, "agree": overall, "pairs": total_n,
               "all_within": all_within, "pass": ok, "rows": rows, "batch_size": bs}
    if a.json:
        with open(a.json, "w") as f:
            json.dump(out, f, indent=1)
    return out


if __name__ == "__main__":
    main()
