"""Metrics of paper B: accuracy, wrong-rates with their spread over repeats, and the Pixel-index.

Pixel-index (paper B, eq. 7): ``Pi = w / (p · r · a)`` with

* ``w = wrong / total`` — share of images misclassified after the change,
* ``p = n_pixels / (H · W)`` — share of pixels changed,
* ``r = value_range / 255`` — share of the 8-bit range a changed value may take,
* ``a = area² / (H · W)`` — share of the image the positions are drawn from.

Smaller Pi = more robust. The paper's worked example (10,000 images of 224×224, 64 pixels,
range 255, area 200×200, 1,000 wrong) prints Pi = 98.30; the exact formula gives 98.34: the
paper rounded the intermediate percentages (p = 0.1276 %, a = 79.72 %) and cut the result to
two decimals. ``paper_rounding=True`` reproduces that arithmetic.

Pi is linear in ``w``, so its 95 % interval over the images is ``w``'s (``Pi_lo`` / ``Pi_hi``, from
the paired bootstrap of :func:`robustlab.paper_b.experiments.pixel_rows`) divided by ``p · r · a``;
``Pi_min`` / ``Pi_max`` are its range over the repeats.

§5 says "Pi is also suitable for adversarial examples": :func:`fgsm_pixel_index` computes Pi of the
FGSM change with the same formula (``w`` = share of the images FGSM fools, ``p`` = share of pixels it
changed, ``r = 2ε/255``, ``a = 1``) beside Pi of random changes on the same images.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from robustlab.core.checks import check_float
from robustlab.core.errors import ParameterError
from robustlab.core.stats import bootstrap

__all__ = ["pixel_index", "accuracy", "wrong_rate", "spread", "pixel_index_curve", "pixel_index_table",
           "fgsm_pixel_index"]


def pixel_index(wrong: float, total: int, n_pixels: int, image_size: int | tuple[int, int] = 224,
                value_range: float = 255, area: int | None = None, *, paper_rounding: bool = False) -> float:
    """Paper B's Pixel-index ``Pi = w / (p · r · a)`` (see module docstring).

    Args:
        wrong: images misclassified after the change (a count; may be a mean over repeats).
        total: images tested (all classified correctly before the change).
        n_pixels: pixels changed per image.
        image_size: ``H`` (square) or ``(H, W)`` in pixels.
        value_range: width of the range a changed channel value may take, 8-bit units
            (255 for experiment 1's "any value"; ``2·m`` for magnitude ``m``, capped at 255).
        area: side of the centred window the positions were drawn from (None = whole image).
        paper_rounding: round ``p`` to 4 and ``w``, ``r``, ``a`` to 2 decimals in percent and cut
            the result to 2 decimals, as the paper's worked example does.
    """
    h, w_ = (image_size, image_size) if not isinstance(image_size, (tuple, list)) else image_size
    check_float("image_size", h, 1), check_float("image_size", w_, 1)
    hw = float(h) * float(w_)
    total = check_float("total", total, 0, lo_open=True)
    wrong = check_float("wrong", wrong, 0, hi=total)
    n_pixels = check_float("n_pixels", n_pixels, 0, lo_open=True, hi=hw)
    value_range = check_float("value_range", value_range, 0, lo_open=True, hi=255)
    side = min(h, w_) if area is None else check_float("area", area, 0, lo_open=True, hi=min(h, w_))
    w = wrong / total
    p = n_pixels / hw
    r = value_range / 255.0
    a = (h * w_ if area is None else side * side) / hw
    if paper_rounding:
        w, r, a = (round(100 * v, 2) / 100 for v in (w, r, a))
        p = round(100 * p, 4) / 100
        return math.floor(w / (p * r * a) * 100 + 1e-9) / 100
    return w / (p * r * a)


def accuracy(pred: Any, labels: Any) -> float:
    """Share of ``pred == labels`` (tensors or arrays of class indices), in [0, 1]."""
    pred, labels = np.asarray(_np(pred)), np.asarray(_np(labels))
    if pred.shape != labels.shape or pred.size == 0:
        raise ParameterError(f"pred {pred.shape} and labels {labels.shape} must have the same, non-empty shape")
    return float((pred == labels).mean())


def _np(x: Any) -> Any:
    return x.detach().cpu().numpy() if hasattr(x, "detach") else x


def spread(values: Sequence[float]) -> dict[str, float]:
    """Mean, sample standard deviation (0 for one value), min and max of repeated measurements."""
    v = np.asarray(list(values), dtype=float)
    if v.size == 0:
        raise ParameterError("spread: no values")
    return {"mean": float(v.mean()), "std": float(v.std(ddof=1)) if v.size > 1 else 0.0,
            "min": float(v.min()), "max": float(v.max()), "n": int(v.size)}


def wrong_rate(wrong_per_repeat: Sequence[Any], total: int | None = None) -> dict[str, float]:
    """Wrong-rate over repeats: ``wrong_per_repeat`` holds, per repeat, either a count (then give
    ``total``) or a boolean array (one entry per image). Returns :func:`spread` of the rates in
    [0, 1] plus the mean count ``wrong`` and ``total``."""
    rates, counts = [], []
    for x in wrong_per_repeat:
        x = _np(x)
        if np.ndim(x) == 0:
            if total is None:
                raise ParameterError("wrong_rate: counts need total=")
            counts.append(float(x)), rates.append(float(x) / total)
        else:
            x = np.asarray(x, dtype=bool)
            total = x.size if total is None else total
            counts.append(float(x.sum())), rates.append(float(x.sum()) / x.size)
    out = spread(rates)
    out.update(wrong=float(np.mean(counts)), total=int(total))
    return out


# --------------------------------------------------------------------------------------
# Pi of experiment tables (Table 5)
# --------------------------------------------------------------------------------------
def _range_of(r) -> float:
    return 255 if r.magnitude == "any" else min(255, 2 * int(r.magnitude))


def pixel_index_curve(table: pd.DataFrame, image_size: int = 224) -> pd.DataFrame:
    """Pi per row of an experiment-1/3 table (value range 255, or 2m for magnitude m; area from the
    table), with its 95 % interval over the images (``Pi_lo``, ``Pi_hi``: the wrong-rate's interval
    scaled by the same ``1 / (p · r · a)``) and its range over the repeats (``Pi_min``, ``Pi_max``)."""
    out = table.copy()
    out["Pi"] = [pixel_index(r.wrong_mean, r.images, r.n_pixels, image_size, _range_of(r),
                             None if int(r.area) >= image_size else int(r.area)) for r in table.itertuples()]
    # Pi = wrong_rate · scale; 0/0 (no wrong image) → scale from the formula with a one-image rate
    scale = np.asarray([pixel_index(1, 1, r.n_pixels, image_size, _range_of(r),
                                    None if int(r.area) >= image_size else int(r.area)) for r in table.itertuples()])
    if "wrong_rate_lo" in out:
        out["Pi_lo"] = out["wrong_rate_lo"] * scale
        out["Pi_hi"] = out["wrong_rate_hi"] * scale
    out["Pi_min"] = out["wrong_rate_min"] * scale
    out["Pi_max"] = out["wrong_rate_max"] * scale
    return out


def pixel_index_table(cfg, exp1: pd.DataFrame, model_label: str | None = None, n_pixels: int = 64,
                      image_size: int = 224) -> pd.DataFrame:
    """Table 5: Pi of the model at the paper's setting (``n_pixels`` = 64, any value, whole image;
    the largest pixel count run if 64 was not), with its 95 % interval over the images."""
    curve = pixel_index_curve(exp1, image_size)
    p = n_pixels if n_pixels in set(curve["n_pixels"]) else int(curve["n_pixels"].max())
    r = curve[curve["n_pixels"] == p].iloc[0]
    row = {"model": model_label or cfg.model_name, "images": int(r.images), "n_pixels": p,
           "value_range": 255, "area": f"{image_size}x{image_size}", "wrong_mean": r.wrong_mean,
           "wrong_rate": r.wrong_rate, "Pi": r.Pi}
    if "Pi_lo" in curve:
        row.update(Pi_lo=r.Pi_lo, Pi_hi=r.Pi_hi)
    row.update(Pi_min=r.Pi_min, Pi_max=r.Pi_max)
    return pd.DataFrame([row])


def fgsm_pixel_index(summary: dict, exp1: pd.DataFrame, n_pixels: int = 64,
                     image_size: int = 224) -> tuple[pd.DataFrame, Any]:
    """Pi of the FGSM change (exp. 4's ``summary``) beside Pi of ``n_pixels`` random changes (exp. 1,
    any value, whole image; the largest count run if ``n_pixels`` was not) on the same images, with
    the same formula ``Pi = w / (p · r · a)``:

    * FGSM: ``w`` = share of the images FGSM fools, ``p`` = mean share of pixels it changed
      (``changed_share_per_image``), ``r = min(255, 2ε) / 255`` (each channel moves by ±ε), ``a = 1``;
    * random: ``w`` = exp. 1's wrong-rate, ``p = n / (H · W)``, ``r = 1``, ``a = 1``.

    Returns (table with one row each: w, p, r, a, Pi and Pi's 95 % interval over the images;
    the :class:`~robustlab.core.stats.Estimate` of ``Pi_FGSM − Pi_random``, paired bootstrap over the
    images: both are measured on the same images).
    """

    fooled = np.asarray(summary["fooled_per_image"], dtype=float)
    share = np.asarray(summary["changed_share_per_image"], dtype=float)
    e1 = exp1[exp1["magnitude"].astype(str) == "any"] if "magnitude" in exp1 else exp1
    p_n = n_pixels if n_pixels in set(e1["n_pixels"]) else int(e1["n_pixels"].max())
    row = e1[e1["n_pixels"] == p_n].iloc[0]
    wrong = np.asarray(row["per_image"], dtype=float)
    if len(wrong) != len(fooled):
        raise ValueError(f"fgsm_pixel_index: exp. 1 has {len(wrong)} images, exp. 4 {len(fooled)}: not the same images")
    hw = float(image_size) ** 2
    r_f = min(255.0, 2.0 * float(summary["eps"])) / 255.0
    p_r = p_n / hw

    def pi_fgsm(f, s):
        ps = float(np.mean(s))
        return float(np.mean(f)) / (ps * r_f) if ps > 0 else float("nan")

    def pi_random(w):
        return float(np.mean(w)) / p_r

    e_f = bootstrap(pi_fgsm, fooled, share)
    e_r = bootstrap(pi_random, wrong)
    diff = bootstrap(lambda f, s, w: pi_fgsm(f, s) - pi_random(w), fooled, share, wrong)
    rows = [{"change": f"FGSM (ε = {float(summary['eps']):g}/255)", "images": len(fooled),
             "w": float(fooled.mean()), "p": float(share.mean()), "r": r_f, "a": 1.0,
             "Pi": e_f.value, "Pi_lo": e_f.lo, "Pi_hi": e_f.hi},
            {"change": f"random, {p_n} px (any value)", "images": len(wrong), "w": float(wrong.mean()), "p": p_r,
             "r": 1.0, "a": 1.0, "Pi": e_r.value, "Pi_lo": e_r.lo, "Pi_hi": e_r.hi}]
    return pd.DataFrame(rows), diff
