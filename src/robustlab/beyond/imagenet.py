"""Part 2 of the cross-paper chapter: paper B's premise — "traditional data augmentation methods have
no obvious effect on minor pixel changes" (abstract, §1) — measured on the ImageNet classifier.

Chapter 10 fine-tunes the primary model (:func:`robustlab.paper_b.load_model`) with k random pixels
changed per image and a k = 0 control. Here the same fine-tuning (same training images, epochs,
learning rate, batches and batch order: :func:`robustlab.paper_b.augment.finetuned_model` with k = 0)
is run with each traditional augmentation of :data:`robustlab.beyond.registry.IMAGENET_TRADITIONAL`
applied to every batch, and every model — the control, chapter 10's few-pixel models (reused) and the
new ones — is tested on chapter 10's held-out images: the wrong-rate after random pixel changes (1 …
64 pixels: :func:`pixel_counts`) and the share of the base model's FGSM examples each restores to
the correct class. Everything is compared with the control, paired over the same images.

The Gaussian noise is matched to the few-pixel change by its **mean absolute change**: 64 pixels set
to uniform 0–255 values change, averaged over all values of a 224 × 224 × 3 image, about
64/224² · 85 ≈ 0.11 8-bit steps; noise with the same mean |change| has σ = that / √(2/π). It is
measured on the fine-tuning images (:func:`matched_sigma`), not assumed.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import torch

from robustlab.beyond.kinds import MATCH_KIND
from robustlab.beyond.registry import IMAGENET_TRADITIONAL, Variant, imagenet_variants
from robustlab.core import budget
from robustlab.core.results import ResultStore, config_hash
from robustlab.core.stats import Estimate, bootstrap
from robustlab.data import augment_ops
from robustlab.paper_b.augment import CONTROL, _train_set, finetuned_model
from robustlab.paper_b.classifiers import LazyModel, load_model, model_key, predict
from robustlab.paper_b.experiments import fgsm_examples, pixel_rows
from robustlab.paper_b.kinds import AUG_CLEAN_KIND, AUG_FGSM_KIND
from robustlab.paper_b.pixels import change_pixels
from robustlab.paper_b.selection import select_correct, selected_images

__all__ = ["pixel_counts", "matched_sigma", "transform", "run", "effects", "restore_effects", "table"]


def pixel_counts(cfg) -> list[int]:
    """Test pixel counts: ``cfg.beyond_pixel_counts`` when set, else chapter 10's (``cfg.grid_pixel_counts``)
    plus the smallest and largest of ``cfg.pixel_counts`` (1 and 64 in every profile), sorted."""
    if cfg.get("beyond_pixel_counts"):
        return sorted({int(p) for p in cfg.beyond_pixel_counts})
    return sorted({int(p) for p in cfg.grid_pixel_counts} | {int(min(cfg.pixel_counts)), int(max(cfg.pixel_counts))})


def matched_sigma(cfg, n_pixels: int = 64) -> dict[str, float]:
    """σ (on [0, 1]) of Gaussian noise whose mean |change| equals that of ``n_pixels`` random pixels
    (any value) on chapter 10's fine-tuning images: ``{"mean_abs_pixels_8bit", "sigma_unit",
    "mean_abs_noise_8bit"}`` (the last measured on the same images after clipping). Cached."""
    key = {"what": "beyond: noise matched to the pixel change", "n_pixels": int(n_pixels), "seed": int(cfg.seed),
           "train_images": int(cfg.aug_train_images)}

    def compute():
        x, _ = _train_set(cfg)
        xt = torch.from_numpy(np.ascontiguousarray(x))
        changed = change_pixels(xt, int(n_pixels), None, None, 12345 + int(cfg.seed))
        m_px = float((changed.float() - xt.float()).abs().mean())
        sigma = m_px / 255.0 / math.sqrt(2 / math.pi)
        xu = xt.permute(0, 3, 1, 2).float() / 255.0
        g = torch.Generator().manual_seed(int(cfg.seed))
        m_noise = float((augment_ops.gaussian_noise(xu, sigma, g) - xu).abs().mean() * 255.0)
        return {"mean_abs_pixels_8bit": m_px, "sigma_unit": sigma, "mean_abs_noise_8bit": m_noise}

    return ResultStore.for_cfg(cfg).get_or_compute(MATCH_KIND, key, compute)


def transform(cfg, v: Variant):
    """The fine-tuning transform of a traditional variant: ``(x_unit, generator) → x_unit``, and its
    cache-key data (the variant's parameters, plus the matched σ for the noise)."""
    p = dict(v.params)
    kind = p["kind"]
    if kind == "gaussian":
        sigma = float(matched_sigma(cfg, int(p["match_pixels"]))["sigma_unit"])
        p["sigma_unit"] = sigma
        return (lambda x, g: augment_ops.gaussian_noise(x, sigma, g, 0.0, 1.0)), p
    if kind == "erasing":
        return (lambda x, g: augment_ops.random_erasing(x, g, p["p"], tuple(p["area"]), tuple(p["ratio"]))), p
    if kind == "crop-flip":
        return (lambda x, g: augment_ops.crop_flip(x, int(p["pad"]), g)), p
    raise KeyError(f"transform kind {kind!r} is not known (variant {v.name})")


def _rate(w: np.ndarray) -> Estimate:
    return bootstrap(np.mean, np.asarray(w, dtype=float))


def run(cfg, progress: bool = True) -> dict[str, Any]:
    """Fine-tune (or load) every model of :func:`robustlab.beyond.registry.imagenet_variants` and test
    it on chapter 10's held-out images. Returns ``{"exp1": DataFrame (model, kind, n_pixels — 0 = clean —,
    images, wrong_rate, lo, hi, per_image), "fgsm": DataFrame (model, kind, fgsm_examples,
    restored_rate, lo, hi, per_example), "test_images", "fgsm_fooled_base", "match": matched_sigma}``.
    Every model and number is cached; chapter 10's models and numbers are reused."""
    base = load_model(cfg)
    store = ResultStore.for_cfg(cfg)
    sel = select_correct(cfg, n=cfg.aug_test_images, splits=("val",), model=base, joint=False)
    test_x, test_y = selected_images(cfg, sel)
    tkey = {**model_key(cfg), "aug_test": config_hash({"items": sel["items"]})}
    fg = fgsm_examples(cfg, base, test_x, test_y, tkey)
    fooled = fg["pred"] != test_y
    train_xy: dict = {}
    counts = pixel_counts(cfg)
    aug = {"train_images": cfg.aug_train_images, "epochs": cfg.aug_epochs, "lr": cfg.aug_lr}
    rows, frows = [], []
    for i, v in enumerate(imagenet_variants(cfg)):
        if i:
            budget.check("the traditional-augmentation models")  # every finished variant is stored
        if v.source == "pixels":
            m = LazyModel(lambda k=v.params["k"]: finetuned_model(cfg, base, k, progress=progress, train_xy=train_xy))
            mk = {**tkey, "variant": v.name, "aug": aug}  # chapter 10's keys: its numbers are reused
        else:
            fn, tk = transform(cfg, v)
            tkd = {"name": v.name, **tk}
            m = LazyModel(lambda fn=fn, tkd=tkd: finetuned_model(cfg, base, 0, transform=fn, transform_key=tkd,
                                                                 progress=progress, train_xy=train_xy))
            mk = {**tkey, "variant": v.name, "aug": {**aug, "transform": tkd}}
        clean = store.get_or_compute(AUG_CLEAN_KIND, {"what": AUG_CLEAN_KIND, **mk},
                                     lambda m=m: predict(m, test_x, cfg.eval_batch_size).numpy())
        w = (np.asarray(clean) != test_y).astype(float)
        e = _rate(w)
        rows.append({"model": v.name, "kind": v.source, "n_pixels": 0, "images": len(test_y), "wrong_rate": e.value,
                     "lo": e.lo, "hi": e.hi, "per_image": w})
        t = pixel_rows(cfg, m, test_x, test_y, mk, [{"n_pixels": p} for p in counts], tag="aug", progress=False)
        for r in t.itertuples():
            rows.append({"model": v.name, "kind": v.source, "n_pixels": int(r.n_pixels), "images": int(r.images),
                         "wrong_rate": r.wrong_rate, "lo": r.wrong_rate_lo, "hi": r.wrong_rate_hi,
                         "per_image": np.asarray(r.per_image, dtype=float)})
        if fooled.any():
            p = store.get_or_compute(AUG_FGSM_KIND, {"what": AUG_FGSM_KIND, **mk, "eps": cfg.fgsm_eps},
                                     lambda m=m: predict(m, fg["adv"]()[fooled], cfg.eval_batch_size).numpy())
            rest = (np.asarray(p) == test_y[fooled]).astype(float)
            e = bootstrap(np.mean, rest, what="FGSM examples")
            frows.append({"model": v.name, "kind": v.source, "fgsm_examples": int(fooled.sum()),
                          "restored_rate": e.value, "lo": e.lo, "hi": e.hi, "per_example": rest})
    return {"exp1": pd.DataFrame(rows), "fgsm": pd.DataFrame(frows), "test_images": int(len(test_y)),
            "fgsm_fooled_base": int(fooled.sum()), "match": matched_sigma(cfg), "pixel_counts": counts}


def _diff(a, b, what: str = "images") -> Estimate:
    return bootstrap(lambda x, y: float(np.mean(x) - np.mean(y)), np.asarray(a, float), np.asarray(b, float),
                     what=what)


def effects(result: dict[str, Any]) -> pd.DataFrame:
    """Per model but the control and per test pixel count (0 = clean): ``effect`` = wrong-rate(control)
    − wrong-rate(model) (positive = fewer errors than the control), paired 95 % interval over the
    held-out images (``lo``/``hi``, :class:`Estimate` in ``estimate``)."""
    e = result["exp1"]
    ctl = e[e["model"] == CONTROL].set_index("n_pixels")
    rows = []
    for r in e[e["model"] != CONTROL].itertuples():
        est = _diff(ctl.loc[r.n_pixels, "per_image"], r.per_image)
        rows.append({"model": r.model, "kind": r.kind, "n_pixels": int(r.n_pixels), "wrong_rate": r.wrong_rate,
                     "control_wrong_rate": float(ctl.loc[r.n_pixels, "wrong_rate"]), "effect": est.value,
                     "lo": est.lo, "hi": est.hi, "estimate": est})
    return pd.DataFrame(rows)


def restore_effects(result: dict[str, Any]) -> pd.DataFrame:
    """Per model but the control: FGSM restore rate minus the control's (paired over the FGSM examples)."""
    f = result["fgsm"]
    if not len(f):
        return pd.DataFrame(columns=["model", "kind", "restored_rate", "effect", "lo", "hi", "estimate"])
    c = f[f["model"] == CONTROL]["per_example"].iloc[0]
    rows = []
    for r in f[f["model"] != CONTROL].itertuples():
        est = _diff(r.per_example, c, "FGSM examples")
        rows.append({"model": r.model, "kind": r.kind, "restored_rate": r.restored_rate, "effect": est.value,
                     "lo": est.lo, "hi": est.hi, "estimate": est})
    return pd.DataFrame(rows)


def table(result: dict[str, Any]) -> pd.DataFrame:
    """Rows = models (control, few-pixel, traditional), columns = the wrong-rate (%) clean and at each
    pixel count and the FGSM restore rate (%), each "value (effect vs control [95 % interval])"; the
    effect is in points, positive = better than the control (fewer errors / more restored)."""
    e, eff = result["exp1"], effects(result)
    cells: dict[str, dict[str, str]] = {}
    for r in e.itertuples():
        col = "clean wrong (%)" if r.n_pixels == 0 else f"{r.n_pixels} px wrong (%)"
        v = f"{100 * r.wrong_rate:.1f}"
        if r.model != CONTROL:
            d = eff[(eff["model"] == r.model) & (eff["n_pixels"] == r.n_pixels)].iloc[0]["estimate"]
            v += f" ({d.fmt(100, 1, sign=True)})"
        cells.setdefault(r.model, {})[col] = v
    f, rf = result["fgsm"], restore_effects(result)
    for r in f.itertuples():
        v = f"{100 * r.restored_rate:.1f}"
        if r.model != CONTROL:
            v += f" ({rf[rf['model'] == r.model].iloc[0]['estimate'].fmt(100, 1, sign=True)})"
        cells[r.model]["FGSM restored (%)"] = v
    out = pd.DataFrame.from_dict(cells, orient="index")
    out.index.name = "model"
    return out


def traditional_names() -> list[str]:
    """The traditional augmentations' names (part 2's new models)."""
    return [v.name for v in IMAGENET_TRADITIONAL]
