"""Paper B's experiments 1–4 (§6.1): wrong-rates after random few-pixel changes of the selected
images (count, magnitude, window), and few-pixel changes of FGSM examples. Every setting's
``cfg.n_repeats`` seeded draws are cached, keyed by the model, the images and the setting.

Every rate comes with two numbers of its uncertainty (:func:`pixel_rows`):

* a 95 % interval over the **images** (``wrong_rate_lo`` / ``wrong_rate_hi``): each image's value is
  its mean over the repeats (``per_image``), and the images are resampled by the paired bootstrap of
  :func:`robustlab.core.stats.bootstrap` — the sampling error that matters when the claims generalise
  from these images to others;
* the spread over the **repeats** (``wrong_rate_std``, ``_min``, ``_max``): how much one draw of the
  random changes differs from another on the same images.

Every setting of a model runs on the *same* images, so differences between settings are paired: the
claims resample the images jointly for both ``per_image`` arrays (:mod:`robustlab.paper_b.claims`).
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from robustlab.attacks.fgsm import fgsm
from robustlab.core import budget
from robustlab.core.progress import tqdm
from robustlab.core.results import ResultStore, config_hash
from robustlab.core.seeds import derive_seed
from robustlab.core.stats import bootstrap
from robustlab.data.imagenet import source_key
from robustlab.paper_b.classifiers import (
    available,
    describe,
    label,
    load_model,
    model_key,
    predict,
    resolve_model,
    to_input,
)
from robustlab.paper_b.kinds import FGSM_KIND, PIXELS_KIND
from robustlab.paper_b.pixel_index import spread
from robustlab.paper_b.pixels import change_pixels, make_generator
from robustlab.paper_b.selection import LazyImages, select_correct, selected_images

__all__ = ["CHUNK", "N_FGSM_EXAMPLES", "per_model", "model_rows", "changed_predictions", "pixel_runs", "rate_estimate",
           "pixel_rows", "model_and_data", "experiment1", "experiment2", "experiment3", "fgsm_images", "fgsm_examples",
           "fgsm_changed_share", "experiment4", "fgsm_eps_values", "experiment4_eps_sweep"]

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
               tag: str = "clean", targets: np.ndarray | None = None, repeats: int | None = None) -> dict[str, Any]:
    """``repeats`` (default ``cfg.n_repeats``) seeded runs of one setting; cached under ``data_key``.
    Repeat r draws the same changes whatever the number of repeats, so fewer repeats than a stored
    ``cfg.n_repeats`` run of the same setting are taken from it (exp. 3's whole-image window is
    exp. 1's setting).

    Returns ``{"wrong": bool (R, N)`` (prediction != label) ``, "rate": spread of wrong-rates,
    "setting": ...}``. With ``targets`` (exp. 4: the adversarial classes) also ``"still": bool
    (R, N)`` = prediction still equals the target.
    """

    h = images.shape[1]
    area_eff = None if area is None or area >= h else int(area)
    setting = {"n_pixels": int(n_pixels), "magnitude": magnitude, "area": area_eff}
    repeats = int(cfg.n_repeats if repeats is None else repeats)
    key = {"what": PIXELS_KIND, "tag": tag, **(data_key or {}), **setting, "repeats": repeats,
           "seed": cfg.seed, "chunk": CHUNK}

    def compute():
        wrong, still = [], []
        for r in range(repeats):
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

    store = ResultStore.for_cfg(cfg)
    res = None
    if repeats < cfg.n_repeats and not store.has(PIXELS_KIND, key):
        # the first draws of a stored run with more repeats are these draws (same seeds): take them
        more = store.get(PIXELS_KIND, {**key, "repeats": int(cfg.n_repeats)})
        if more is not None:
            res = {k: (v[:repeats] if k in ("wrong", "still") else v) for k, v in more.items()}
    if res is None:
        res = store.get_or_compute(PIXELS_KIND, key, compute)
    res["rate"] = spread(res["wrong"].mean(1))
    return res


class _Data:
    """The N selected images of a config, loaded once per process."""

    _cache: dict[str, tuple] = {}

    @classmethod
    def get(cls, cfg, model=None, model_name: str | None = None):
        """(images, labels, selection, data key) for model ``model_name`` (default ``cfg.model_name``, else
        the primary model). The images are loaded once per selection; the data key names the model, so
        every model of a per-model run gets its own key on the shared images."""
        sel = select_correct(cfg, model=model, model_name=model_name)
        k = config_hash({"items": sel["items"]})
        if k not in cls._cache:
            cls._cache[k] = selected_images(cfg, sel) + (sel,)
        # (the images' source joins the key: the same items of another copy differ)
        return cls._cache[k] + ({**model_key(cfg, model_name), "selection": k, **source_key(cfg.get("data_dir"))},)


def rate_estimate(per_image: np.ndarray, what: str = "images"):
    """The mean of per-item values (each image's mean over the repeats) with its paired-bootstrap 95 %
    interval over the items (:func:`robustlab.core.stats.bootstrap`)."""
    return bootstrap(np.mean, np.asarray(per_image, dtype=float), what=what)


def pixel_rows(cfg, model, images, labels, dkey, settings, tag="clean", targets=None, progress=True,
               repeats: int | None = None):
    """One row per setting: the wrong-rate with its 95 % interval over the images (``wrong_rate_lo``,
    ``wrong_rate_hi``), its spread over the repeats (``wrong_rate_std``, ``_min``, ``_max``) and the
    per-image values (``per_image``: each image's share of wrong repeats, for paired comparisons).
    With ``targets`` (exp. 4) also the restored and still-fooling rates with their intervals
    (``restored_lo``/``_hi``, ``still_fooling_lo``/``_hi``, ``still_per_image``). ``repeats``: draws
    per setting (default ``cfg.n_repeats``)."""

    rows = []
    for j, s in enumerate(tqdm(settings, desc=f"paper B {tag}", disable=not progress, leave=False)):
        if j:
            budget.check(f"paper B {tag} pixel runs")  # every finished setting is stored
        res = pixel_runs(cfg, model, images, labels, data_key=dkey, tag=tag, targets=targets, repeats=repeats, **s)
        n = images.shape[0]
        per_image = res["wrong"].mean(0)
        est = rate_estimate(per_image)
        row = {"n_pixels": s["n_pixels"], "magnitude": "any" if s.get("magnitude") is None else s["magnitude"],
               "area": images.shape[1] if s.get("area") is None else s["area"], "images": n,
               "wrong_mean": res["rate"]["mean"] * n, "wrong_rate": res["rate"]["mean"],
               "wrong_rate_lo": est.lo, "wrong_rate_hi": est.hi,
               "wrong_rate_std": res["rate"]["std"], "wrong_rate_min": res["rate"]["min"],
               "wrong_rate_max": res["rate"]["max"], "accuracy": 1 - res["rate"]["mean"], "repeats": res["rate"]["n"],
               "per_image": per_image}
        if targets is not None:
            st = spread(res["still"].mean(1))
            still = res["still"].mean(0)
            se = rate_estimate(still, "FGSM examples")
            row.update(restored_rate=row["accuracy"], restored_lo=1 - est.hi, restored_hi=1 - est.lo,
                       still_fooling_rate=st["mean"], still_fooling_lo=se.lo, still_fooling_hi=se.hi,
                       still_fooling_std=st["std"], still_per_image=still)
        rows.append(row)
    return pd.DataFrame(rows)


def model_and_data(cfg, model=None, model_name: str | None = None):
    """(model, images, labels, selection, data key) of model ``model_name`` (default ``cfg.model_name``,
    else the primary model; ``model``: that model already loaded)."""
    model = model or load_model(cfg, model_name)
    images, labels, sel, dkey = _Data.get(cfg, model, model_name)
    return model, images, labels, sel, dkey


def experiment1(cfg, model: nn.Module | None = None, *, model_name: str | None = None) -> pd.DataFrame:
    """Exp. 1 (Table 6, Fig. 8): wrong-rate per pixel count, any value, anywhere. ``model_name``: the
    model it runs on (default ``cfg.model_name``, else the primary model); so for experiments 2–4."""
    model, images, labels, _, dkey = model_and_data(cfg, model, model_name)
    return pixel_rows(cfg, model, images, labels, dkey, [{"n_pixels": p} for p in cfg.pixel_counts])


def experiment2(cfg, model: nn.Module | None = None, *, model_name: str | None = None) -> pd.DataFrame:
    """Exp. 2 (Table 7, Fig. 9): wrong-rate per magnitude (± m per channel) and pixel count
    (``cfg.grid_pixel_counts``; ``cfg.grid_repeats`` draws per setting)."""
    model, images, labels, _, dkey = model_and_data(cfg, model, model_name)
    settings = [{"n_pixels": p, "magnitude": m} for p in cfg.grid_pixel_counts for m in cfg.magnitudes]
    return pixel_rows(cfg, model, images, labels, dkey, settings, repeats=cfg.grid_repeats)


def experiment3(cfg, model: nn.Module | None = None, *, model_name: str | None = None) -> pd.DataFrame:
    """Exp. 3 (Table 8, Fig. 10): wrong-rate per centred window side and pixel count
    (``cfg.area_pixel_counts``: the paper's Fig. 10 is read at 8 and 32 pixels; ``cfg.grid_repeats``
    draws per setting)."""
    model, images, labels, _, dkey = model_and_data(cfg, model, model_name)
    settings = [{"n_pixels": p, "area": a} for p in cfg.area_pixel_counts for a in cfg.areas]
    return pixel_rows(cfg, model, images, labels, dkey, settings, repeats=cfg.grid_repeats)


#: FGSM examples kept in the stored record (for figures); the rest are recomputed when needed.
N_FGSM_EXAMPLES = 2
_FGSM_IMAGES: dict[str, np.ndarray] = {}


def fgsm_images(cfg, model: nn.Module, images: Any, labels: np.ndarray, eps: float | None = None) -> np.ndarray:
    """8-bit FGSM examples (``robustlab.attacks.fgsm.fgsm``, ε in 8-bit units, rounded to the 8-bit grid)
    of ``images`` (uint8 NHWC) against ``model``: uint8 NHWC. Deterministic, one gradient per image,
    so they are recomputed where needed rather than stored (10,000 of them are 1.5 GB)."""

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

    eps = float(cfg.fgsm_eps if eps is None else eps)
    key = {"what": FGSM_KIND, **data_key, "eps": eps}
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

    out = dict(ResultStore.for_cfg(cfg).get_or_compute(FGSM_KIND, key, compute))
    out["adv"] = adv
    return out


def fgsm_changed_share(cfg, fg: dict[str, Any], images: Any, data_key: dict, eps: float | None = None) -> np.ndarray:
    """Per image, the share of its pixels that FGSM changed (a pixel counts when any of its channels
    differs in 8 bits from the original) — Pi's ``p`` for the FGSM examples of :func:`fgsm_examples`
    (``fg``). Cached beside them; computing it needs the adversarial images."""

    eps = float(cfg.fgsm_eps if eps is None else eps)
    key = {"what": "paperb-fgsm-changed-share", **data_key, "eps": eps}

    def compute():
        adv = fg["adv"]()
        out = np.empty(len(adv), dtype=np.float64)
        for i in range(0, len(adv), CHUNK):
            a, x = adv[i:i + CHUNK], np.asarray(images[i:i + CHUNK])
            out[i:i + len(a)] = (a != x).any(-1).mean((1, 2))
        return out

    return np.asarray(ResultStore.for_cfg(cfg).get_or_compute(FGSM_KIND, key, compute), dtype=np.float64)


def experiment4(cfg, model: nn.Module | None = None, *, model_name: str | None = None
                ) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Exp. 4 (Table 9): FGSM examples that fool the model, then n-pixel changes (any value,
    anywhere): the share returned to the correct class (``restored_rate``) and the share still
    classified as the adversarial class. Returns (table, summary); the summary also holds, per
    selected image, whether FGSM fooled the model (``fooled_per_image``) and the share of its pixels
    FGSM changed (``changed_share_per_image``) — what Pi of the FGSM change needs
    (:func:`robustlab.paper_b.pixel_index.fgsm_pixel_index`)."""
    model, images, labels, _, dkey = model_and_data(cfg, model, model_name)
    fg = fgsm_examples(cfg, model, images, labels, dkey)
    fooled = fg["pred"] != labels
    summary = {"eps": cfg.fgsm_eps, "images": int(len(labels)), "fooled": int(fooled.sum()),
               "fgsm_success_rate": float(fooled.mean()), "fgsm_success": rate_estimate(fooled.astype(float)),
               "fooled_per_image": fooled, "changed_share_per_image": fgsm_changed_share(cfg, fg, images, dkey)}
    if not fooled.any():
        return pd.DataFrame(), summary
    table = _pixels_on_fooled(cfg, model, images, labels, dkey, fg, cfg.fgsm_eps,
                              [{"n_pixels": p} for p in cfg.pixel_counts])
    return table, summary


def _pixels_on_fooled(cfg, model, images, labels, dkey: dict, fg: dict, eps: float, settings: list[dict],
                      progress: bool = True) -> pd.DataFrame:
    """Exp. 4's second step: the pixel runs of ``settings`` on the FGSM examples of ``fg`` (made at
    ``eps``) that fool the model, with the adversarial class as the target (:func:`pixel_rows`)."""
    fooled = fg["pred"] != labels
    adv = LazyImages(lambda: fg["adv"]()[fooled], (int(fooled.sum()),) + tuple(images.shape[1:]))
    return pixel_rows(cfg, model, adv, labels[fooled], {**dkey, "fgsm_eps": eps}, settings, tag="fgsm",
                      targets=fg["pred"][fooled], progress=progress)


def fgsm_eps_values(cfg) -> list[float]:
    """The FGSM steps (8-bit units) of the ε sweep, ascending: ``cfg.fgsm_eps_sweep`` and ``cfg.fgsm_eps``
    (the step the verdicts are decided at, always shown with its neighbours)."""
    return sorted({float(e) for e in cfg.fgsm_eps_sweep} | {float(cfg.fgsm_eps)})


def experiment4_eps_sweep(cfg, model: nn.Module | None = None, *, model_name: str | None = None) -> pd.DataFrame:
    """Exp. 4 at every FGSM step of :func:`fgsm_eps_values` (the paper gives no ε), at the largest pixel
    count of ``cfg.pixel_counts`` only — the count B-fgsm-restore is judged at. One row per ε (8-bit
    units): ``eps``, ``decides`` (ε = ``cfg.fgsm_eps``), ``images``, ``fooled`` (FGSM examples that fool
    the model), ``fgsm_success_rate``, ``n_pixels``, ``restored_rate`` with its interval over the FGSM
    examples (``restored_lo``/``_hi``), ``still_fooling_rate`` and ``per_image`` (each example's share of
    wrong draws; ``restored = 1 − per_image``); NaN rates when no example fooled the model. The row at
    ``cfg.fgsm_eps`` is exp. 4's own cached result (the same keys). ``model_name``: as in :func:`experiment4`."""
    model, images, labels, _, dkey = model_and_data(cfg, model, model_name)
    p = int(max(cfg.pixel_counts))
    rows = []
    for j, eps in enumerate(fgsm_eps_values(cfg)):
        if j:
            budget.check("the FGSM ε sweep")  # every finished step is stored
        fg = fgsm_examples(cfg, model, images, labels, dkey, eps)
        fooled = fg["pred"] != labels
        row = {"eps": eps, "decides": eps == float(cfg.fgsm_eps), "images": int(len(labels)),
               "fooled": int(fooled.sum()), "fgsm_success_rate": float(fooled.mean()), "n_pixels": p,
               "restored_rate": np.nan, "restored_lo": np.nan, "restored_hi": np.nan, "still_fooling_rate": np.nan,
               "per_image": np.zeros(0)}
        if fooled.any():
            r = _pixels_on_fooled(cfg, model, images, labels, dkey, fg, eps, [{"n_pixels": p}], progress=False).iloc[0]
            row.update(restored_rate=r["restored_rate"], restored_lo=r["restored_lo"], restored_hi=r["restored_hi"],
                       still_fooling_rate=r["still_fooling_rate"], per_image=r["per_image"])
        rows.append(row)
    return pd.DataFrame(rows)


def per_model(cfg, experiment, *args, **kwargs):
    """``experiment(cfg, ..., model_name=m)`` for every model m of the run whose weights can be had
    (:func:`~robustlab.paper_b.classifiers.available`), on the same images (those every one of them
    classifies correctly), as one table with ``model`` (display name) and ``model_name`` columns first.
    An experiment that returns (table, summary) gives (table, {model_name: summary})."""

    tables, extra = [], {}
    for name in available(cfg)[0]:
        res = experiment(cfg, *args, model_name=name, **kwargs)
        t = res[0] if isinstance(res, tuple) else res
        t = t.copy()
        t.insert(0, "model_name", name)
        t.insert(0, "model", label(name))
        tables.append(t)
        if isinstance(res, tuple):
            extra[name] = res[1]
    table = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()
    return (table, extra) if extra else table


def model_rows(table: pd.DataFrame, name: str) -> pd.DataFrame:
    """The rows of one model (``model_name``) of a :func:`per_model` table, without the model columns:
    the one-model table the single-model claims read."""
    return table[table["model_name"] == name].drop(columns=["model", "model_name"]).reset_index(drop=True)
