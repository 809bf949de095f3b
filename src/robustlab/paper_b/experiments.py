"""Paper B's experiments 1–4 (§6.1): wrong-rates after random few-pixel changes of the selected
images (count, magnitude, window), and few-pixel changes of FGSM examples. Every setting's
``cfg.n_repeats`` seeded draws are cached, keyed by the model, the images and the setting."""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from robustlab.core.seeds import derive_seed
from robustlab.paper_b.classifiers import (
    describe,
    load_model,
    model_key,
    predict,
    resolve_model,
    to_input,
)
from robustlab.paper_b.pixel_index import spread
from robustlab.paper_b.pixels import change_pixels, make_generator
from robustlab.paper_b.selection import LazyImages, select_correct, selected_images

__all__ = ["CHUNK", "N_FGSM_EXAMPLES", "changed_predictions", "pixel_runs", "pixel_rows",
           "model_and_data", "experiment1", "experiment2", "experiment3", "fgsm_images", "fgsm_examples",
           "experiment4"]

#: images changed together with one seeded generator: results do not depend on the batch size.
CHUNK = 256


def changed_predictions(model: nn.Module, images: np.ndarray, n_pixels: int, magnitude: int | None,
                        area: int | None, seed: int, batch_size: int, device=None) -> np.ndarray:
    """Predictions after changing every image independently (seeded per CHUNK of images)."""
    model = resolve_model(model)
    preds = []
    for c0 in range(0, len(images), CHUNK):
        g = make_generator(derive_seed(seed, c0))
        x = change_pixels(torch.from_numpy(np.ascontiguousarray(images[c0:c0 + CHUNK])), n_pixels, magnitude,
                          area, g)
        preds.append(predict(model, x, batch_size, device).numpy())
    return np.concatenate(preds) if preds else np.zeros(0, dtype=np.int64)


def pixel_runs(cfg, model: nn.Module, images: np.ndarray, labels: np.ndarray, *, n_pixels: int,
               magnitude: int | None = None, area: int | None = None, data_key: dict | None = None,
               tag: str = "clean", targets: np.ndarray | None = None) -> dict[str, Any]:
    """``cfg.n_repeats`` seeded runs of one setting; cached under ``data_key``.

    Returns ``{"wrong": bool (R, N)`` (prediction != label) ``, "rate": spread of wrong-rates,
    "setting": ...}``. With ``targets`` (exp. 4: the adversarial classes) also ``"still": bool
    (R, N)`` = prediction still equals the target.
    """
    from robustlab.core.results import ResultStore

    h = images.shape[1]
    area_eff = None if area is None or area >= h else int(area)
    setting = {"n_pixels": int(n_pixels), "magnitude": magnitude, "area": area_eff}
    key = {"what": "paperb-pixels", "tag": tag, **(data_key or {}), **setting, "repeats": cfg.n_repeats,
           "seed": cfg.seed, "chunk": CHUNK}

    def compute():
        wrong, still = [], []
        for r in range(cfg.n_repeats):
            pred = changed_predictions(model, images, n_pixels, magnitude, area_eff,
                                       derive_seed(cfg.seed, tag, n_pixels, magnitude, area_eff, r),
                                       cfg.eval_batch_size)
            wrong.append(pred != labels)
            if targets is not None:
                still.append(pred == targets)
        out = {"wrong": np.stack(wrong), "setting": setting}
        if targets is not None:
            out["still"] = np.stack(still)
        return out

    res = ResultStore.for_cfg(cfg).get_or_compute("paperb-pixels", key, compute)
    res["rate"] = spread(res["wrong"].mean(1))
    return res


class _Data:
    """The N selected images of a config, loaded once per process."""

    _cache: dict[str, tuple] = {}

    @classmethod
    def get(cls, cfg, model=None):
        from robustlab.core.results import config_hash

        sel = select_correct(cfg, model=model)
        k = config_hash({"items": sel["items"]})
        if k not in cls._cache:
            cls._cache[k] = selected_images(cfg, sel) + (sel, {**model_key(cfg), "selection": k})
        return cls._cache[k]


def pixel_rows(cfg, model, images, labels, dkey, settings, tag="clean", targets=None, progress=True):
    from robustlab.core import budget
    from robustlab.core.progress import tqdm

    rows = []
    for j, s in enumerate(tqdm(settings, desc=f"paper B {tag}", disable=not progress, leave=False)):
        if j:
            budget.check(f"paper B {tag} pixel runs")  # every finished setting is stored
        res = pixel_runs(cfg, model, images, labels, data_key=dkey, tag=tag, targets=targets, **s)
        n = images.shape[0]
        row = {"n_pixels": s["n_pixels"], "magnitude": "any" if s.get("magnitude") is None else s["magnitude"],
               "area": images.shape[1] if s.get("area") is None else s["area"], "images": n,
               "wrong_mean": res["rate"]["mean"] * n, "wrong_rate": res["rate"]["mean"],
               "wrong_rate_std": res["rate"]["std"], "wrong_rate_min": res["rate"]["min"],
               "wrong_rate_max": res["rate"]["max"], "accuracy": 1 - res["rate"]["mean"], "repeats": res["rate"]["n"]}
        if targets is not None:
            st = spread(res["still"].mean(1))
            row.update(restored_rate=row["accuracy"], still_fooling_rate=st["mean"], still_fooling_std=st["std"])
        rows.append(row)
    return pd.DataFrame(rows)


def model_and_data(cfg, model=None):
    model = model or load_model(cfg)
    images, labels, sel, dkey = _Data.get(cfg, model)
    return model, images, labels, sel, dkey


def experiment1(cfg, model: nn.Module | None = None) -> pd.DataFrame:
    """Exp. 1 (Table 6, Fig. 8): wrong-rate per pixel count, any value, anywhere."""
    model, images, labels, _, dkey = model_and_data(cfg, model)
    return pixel_rows(cfg, model, images, labels, dkey, [{"n_pixels": p} for p in cfg.pixel_counts])


def experiment2(cfg, model: nn.Module | None = None) -> pd.DataFrame:
    """Exp. 2 (Table 7, Fig. 9): wrong-rate per magnitude (± m per channel) and pixel count."""
    model, images, labels, _, dkey = model_and_data(cfg, model)
    settings = [{"n_pixels": p, "magnitude": m} for p in cfg.grid_pixel_counts for m in cfg.magnitudes]
    return pixel_rows(cfg, model, images, labels, dkey, settings)


def experiment3(cfg, model: nn.Module | None = None) -> pd.DataFrame:
    """Exp. 3 (Table 8, Fig. 10): wrong-rate per centred window side and pixel count."""
    model, images, labels, _, dkey = model_and_data(cfg, model)
    settings = [{"n_pixels": p, "area": a} for p in cfg.grid_pixel_counts for a in cfg.areas]
    return pixel_rows(cfg, model, images, labels, dkey, settings)


#: FGSM examples kept in the stored record (for figures); the rest are recomputed when needed.
N_FGSM_EXAMPLES = 2
_FGSM_IMAGES: dict[str, np.ndarray] = {}


def fgsm_images(cfg, model: nn.Module, images: Any, labels: np.ndarray, eps: float | None = None) -> np.ndarray:
    """8-bit FGSM examples (``robustlab.attacks.fgsm.fgsm``, ε in 8-bit units, rounded to the 8-bit grid)
    of ``images`` (uint8 NHWC) against ``model``: uint8 NHWC. Deterministic, one gradient per image,
    so they are recomputed where needed rather than stored (10,000 of them are 1.5 GB)."""
    from robustlab.attacks.fgsm import fgsm

    model = resolve_model(model)
    eps = float(cfg.fgsm_eps if eps is None else eps)
    advs = []
    for i in range(0, len(images), cfg.eval_batch_size):
        x = to_input(images[i:i + cfg.eval_batch_size], cfg.torch_device)
        y = torch.as_tensor(labels[i:i + cfg.eval_batch_size], device=cfg.torch_device)
        a = fgsm(model, x, y, eps, bounds=(0.0, 1.0), round_to_8bit=True)
        advs.append((a * 255).round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).cpu())
    return torch.cat(advs).numpy() if advs else np.zeros((0,) + tuple(images.shape[1:]), np.uint8)


def fgsm_examples(cfg, model: nn.Module, images: Any, labels: np.ndarray, data_key: dict,
                  eps: float | None = None) -> dict[str, Any]:
    """The model's predictions on the FGSM examples of ``images`` (:func:`fgsm_images`) and the first
    few examples (clean and adversarial, uint8 NHWC) — cached; the record holds predictions, never all
    the adversarial images. ``adv()`` (a function in the returned dict) gives all of them, recomputed
    once per process when something must be computed on them."""
    from robustlab.core.results import ResultStore, config_hash

    eps = float(cfg.fgsm_eps if eps is None else eps)
    key = {"what": "paperb-fgsm", **data_key, "eps": eps}
    memo = config_hash(key)

    def adv() -> np.ndarray:
        if memo not in _FGSM_IMAGES:
            _FGSM_IMAGES.clear()  # one set at a time: they are large
            _FGSM_IMAGES[memo] = fgsm_images(cfg, model, images, labels, eps)
        return _FGSM_IMAGES[memo]

    def compute():
        a = adv()
        k = min(N_FGSM_EXAMPLES, len(a))
        return {"pred": predict(model, a, cfg.eval_batch_size).numpy(), "examples_adv": a[:k].copy(),
                "examples_clean": np.asarray(images[:k]).copy(), "device": describe(cfg.torch_device)}

    out = dict(ResultStore.for_cfg(cfg).get_or_compute("paperb-fgsm", key, compute))
    out["adv"] = adv
    return out


def experiment4(cfg, model: nn.Module | None = None) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Exp. 4 (Table 9): FGSM examples that fool the model, then n-pixel changes (any value,
    anywhere): the share returned to the correct class (``restored_rate``) and the share still
    classified as the adversarial class. Returns (table, summary)."""
    model, images, labels, _, dkey = model_and_data(cfg, model)
    fg = fgsm_examples(cfg, model, images, labels, dkey)
    fooled = fg["pred"] != labels
    summary = {"eps": cfg.fgsm_eps, "images": int(len(labels)), "fooled": int(fooled.sum()),
               "fgsm_success_rate": float(fooled.mean())}
    if not fooled.any():
        return pd.DataFrame(), summary
    lab, tgt = labels[fooled], fg["pred"][fooled]
    adv = LazyImages(lambda: fg["adv"]()[fooled], (int(fooled.sum()),) + tuple(images.shape[1:]))
    table = pixel_rows(cfg, model, adv, lab, {**dkey, "fgsm_eps": cfg.fgsm_eps},
                       [{"n_pixels": p} for p in cfg.pixel_counts], tag="fgsm", targets=tgt)
    return table, summary
