"""Paper B's experiments 1–3 and Pi on paper A's σ = 0 CIFAR-10 models (32 × 32 images)."""
from __future__ import annotations

from typing import Any

import numpy as np
from torch import nn

from robustlab.core.results import ResultStore
from robustlab.data.cifar10 import load_cifar10
from robustlab.paper_a import grid
from robustlab.paper_b.classifiers import LazyModel, predict
from robustlab.paper_b.experiments import pixel_rows
from robustlab.paper_b.kinds import CIFAR_SELECTION_KIND
from robustlab.paper_b.pixel_index import pixel_index_table

__all__ = ["cifar_scale", "cifar_pixel_experiments"]


def cifar_scale(n_pixels: int | None = None, area: int | None = None, size: int = 32, ref: int = 224) -> dict:
    """Scale an ImageNet setting to ``size``×``size``: the pixel *share* p and area *share* a are
    kept, i.e. ``n' = max(1, round(n · size²/ref²))`` and ``area' = round(area · size/ref)``."""
    out = {}
    if n_pixels is not None:
        out["n_pixels"] = max(1, round(n_pixels * size * size / (ref * ref)))
    if area is not None:
        out["area"] = max(1, round(area * size / ref))
    return out


def cifar_pixel_experiments(cfg, progress: bool = True) -> dict[str, Any]:
    """Experiments 1–3 and Pi on paper A's σ=0 CIFAR-10 models (``robustlab.paper_a.grid.get_model``).

    CIFAR images are 32×32, so *the same pixel counts* as on ImageNet are used (1…64 of 1,024
    pixels is a 49× larger share; Pi normalises by the share) and areas are scaled by 32/224
    (224 → 32, 200 → 29, 160 → 23, 112 → 16, 56 → 8). The models take [-1, 1] input; pixels are
    changed in 8-bit before the conversion. Selection: the test images each model classifies
    correctly among the first ``3 · cfg.n_images`` of a seeded order, at most ``cfg.n_images`` (fewer
    for a weak model; the tables give the count). Experiments 2 and 3 run at ``cfg.grid_pixel_counts``
    with ``cfg.n_repeats`` draws (no claim is judged on them).
    """

    test = load_cifar10(cfg.data_dir, "test", cache_dir=cfg.cache_dir, progress=False)
    order = np.random.default_rng([cfg.seed, 32]).permutation(len(test))
    out = {}
    class _Wrap(nn.Module):  # uint8→[0,1] input of predict() → the net's [-1, 1]
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, x):
            return self.m(x * 2.0 - 1.0)

    for arch in cfg.archs:
        m = LazyModel(lambda arch=arch: _Wrap(grid.get_model(cfg, arch, "noise", 0.0).to(cfg.torch_device).eval()))
        key = {"what": CIFAR_SELECTION_KIND, "model": grid.model_config(cfg, arch, "noise", 0.0),
               "n": cfg.n_images, "seed": cfg.seed}

        def sel(m=m):
            pred = predict(m, test.images[order[: min(len(order), cfg.n_images * 3)]], 256).numpy()
            ok = order[: len(pred)][pred == test.labels[order[: len(pred)]]]
            return np.sort(ok[: cfg.n_images])

        idx = ResultStore.for_cfg(cfg).get_or_compute(CIFAR_SELECTION_KIND, key, sel)
        if len(idx) == 0:
            print(f"{arch}: no correctly classified test image among the first {cfg.n_images * 3}; skipped")
            continue
        x, y = np.ascontiguousarray(test.images[idx]), test.labels[idx]
        dkey = {**key, "what": "cifar"}
        e1 = pixel_rows(cfg, m, x, y, dkey, [{"n_pixels": p} for p in cfg.pixel_counts], progress=False)
        e2 = pixel_rows(cfg, m, x, y, dkey, [{"n_pixels": p, "magnitude": mg} for p in cfg.grid_pixel_counts
                                        for mg in cfg.magnitudes], progress=False)
        areas = sorted({cifar_scale(area=a)["area"] for a in cfg.areas}, reverse=True)
        e3 = pixel_rows(cfg, m, x, y, dkey, [{"n_pixels": p, "area": a} for p in cfg.grid_pixel_counts for a in areas
                                        if p <= a * a], progress=False)
        out[arch] = {"exp1": e1, "exp2": e2, "exp3": e3, "images": len(idx),
                     "pi": pixel_index_table(cfg, e1, f"{arch} (CIFAR-10, σ=0)", image_size=32)}
    return out
