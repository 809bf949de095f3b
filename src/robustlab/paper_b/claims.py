"""Paper B in the book: what produced a page's numbers, and the paper's claims with our numbers and
verdicts (:class:`robustlab.core.claims.Claim` records; the statements are in
:data:`robustlab.book.checklist.CHECKLIST`)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from robustlab.core.claims import NOT_TESTABLE, Claim, graded
from robustlab.paper_b.classifiers import weights_arg
from robustlab.paper_b.selection import stored_selection

__all__ = ["describe_run", "claims_exp1", "claims_exp2", "claims_exp3", "claims_exp4", "claims_augmentation",
           "claims_pixel_index"]


def describe_run(cfg) -> str:
    """Markdown: which model, images, sizes and hardware produced this page's numbers."""
    w = weights_arg(cfg)
    sel = stored_selection(cfg)
    if sel and "device" in sel:
        ran = f"computed on {sel['device']}" + (f" ({sel['date']})" if sel.get("date") else "")
    else:
        ran = "not computed yet"
    real = cfg.model_name == "mobilenet_v2" and cfg.weights is None
    model = ("the **real ImageNet-pretrained MobileNetV2** (torchvision's quantized model, dequantized; "
             f"`{Path(w).name}`)" if real else f"`{cfg.model_name}` with weights `{w}`")
    return (f"**What produced these numbers.** Model: {model}. Images: the first {cfg.n_images} real ImageNet "
            f"images (one-per-class sample, then Imagenette val/train, seeded order) that this model classifies "
            f"correctly; {cfg.n_repeats} seeded repeats per setting, every image changed independently. Profile "
            f"`{cfg.profile}`, {ran}. The paper's five models (ResNet-101, "
            f"DenseNet-121, VGG-16, AlexNet, SqueezeNet 1.1) need torchvision's downloaded weights, which cannot "
            f"be had here: they are exercised in the tests with random weights only, and their rows below are the "
            f"paper's numbers, not ours.")


def _pct(x: float) -> str:
    return f"{100 * x:.1f} %"


def _rate_at(table: pd.DataFrame, n: int) -> float | None:
    r = table[table["n_pixels"] == n]
    return None if r.empty else float(r["wrong_rate"].iloc[0])


def claims_exp1(e1: pd.DataFrame, model_label: str = "MobileNetV2") -> list[Claim]:
    """Claims of Table 6 / Fig. 8 with verdicts computed from an experiment-1 table."""
    out = []
    w4, w64 = _rate_at(e1, 4), _rate_at(e1, 64)
    t = e1.sort_values("n_pixels")
    rates = t["wrong_rate"].to_numpy()
    n = int(t["images"].iloc[0])
    if w64 is not None:
        inside = 0.035 <= w64 <= 0.14
        out.append(Claim("B-64px-range", f"{_pct(w64)} ({model_label}, {n} images)", graded(inside, w64 > 0.01),
                         "same order of magnitude as the paper's range" if inside else
                         "outside the paper's range (a different model; small sample)"))
    if w4 is not None and w64 is not None:
        close = abs(w4 - 0.01) <= 0.02 and abs(w64 - 0.05) <= 0.04
        out.append(Claim("B-resnet-4-64", f"{_pct(w4)} / {_pct(w64)} ({model_label})", graded(False, close),
                         "ResNet-101 weights cannot be had here; MobileNetV2's rates are "
                         + ("similar" if close else "different") + " — a comparison across models, not a replication"))
    mono = bool(np.all(np.diff(rates) >= -1.5 / n)) and rates[-1] > rates[0]
    out.append(Claim("B-more-pixels", " → ".join(_pct(r) for r in rates) + " for " +
                     ", ".join(str(int(p)) for p in t["n_pixels"]) + " px",
                     graded(mono, rates[-1] > rates[0]),
                     "increase up to one image of noise between neighbours" if mono else "not monotone here"))
    out.append(Claim("B-model-ranking", "only MobileNetV2 has real weights here", NOT_TESTABLE,
                     "the five models' ImageNet weights cannot be downloaded on this machine"))
    return out


def claims_exp2(e2: pd.DataFrame) -> list[Claim]:
    """Table 7's claim: larger magnitudes misclassify more (per pixel count)."""
    parts, ok, incr = [], True, True
    for p, t in e2.groupby("n_pixels"):
        t = t.assign(m=t["magnitude"].astype(int)).sort_values("m")
        r = t["wrong_rate"].to_numpy()
        parts.append(f"{p} px: " + " → ".join(_pct(v) for v in r) + f" for ±{', ±'.join(map(str, t['m']))}")
        n = int(t["images"].iloc[0])
        ok &= bool(np.all(np.diff(r) >= -1.5 / n))
        incr &= bool(r[-1] > r[0])
    return [Claim("B-magnitude", "; ".join(parts), graded(ok and incr, incr),
                  "wrong-rate grows with the magnitude" if ok and incr else "no clear growth at this sample size")]


def claims_exp3(e3: pd.DataFrame, e2: pd.DataFrame | None = None) -> list[Claim]:
    """Table 8's claims: the area matters little; magnitude matters more than position."""
    out = []
    spans = []
    for p, t in e3.groupby("n_pixels"):
        spans.append((p, float(t["wrong_rate"].max() - t["wrong_rate"].min()), t))
    p, span, t = max(spans, key=lambda s: s[0])
    mean = float(t["wrong_rate"].mean())
    n = int(t["images"].iloc[0])
    small = span <= max(0.5 * mean, 3.0 / n)
    out.append(Claim("B-area", f"{p} px: " + ", ".join(f"{a}²: {_pct(r)}" for a, r in zip(t['area'], t['wrong_rate'])),
                     graded(small), f"range over windows {_pct(span)} (mean {_pct(mean)})"))
    if e2 is not None and not e2.empty:
        m = e2[e2["n_pixels"] == p]
        if not m.empty:
            mspan = float(m["wrong_rate"].max() - m["wrong_rate"].min())
            out.append(Claim("B-magnitude-vs-area", f"{p} px: spread over magnitudes {_pct(mspan)} vs over "
                             f"windows {_pct(span)}", graded(mspan > span),
                             "compares the range of wrong-rates across exp. 2's magnitudes and exp. 3's windows"))
    return out


def claims_exp4(e4: pd.DataFrame, summary: dict) -> list[Claim]:
    """Table 9's claim: a few pixel changes return a considerable share of FGSM examples."""
    if e4.empty:
        return [Claim("B-fgsm-restore", "no FGSM example fooled the model", NOT_TESTABLE, f"ε = {summary['eps']}")]
    t = e4.sort_values("n_pixels")
    best = float(t["restored_rate"].max())
    return [Claim("B-fgsm-restore",
                  ", ".join(f"{int(r.n_pixels)} px: {_pct(r.restored_rate)}" for r in t.itertuples()) +
                  f" of {int(t['images'].iloc[0])} FGSM examples (ε = {summary['eps']:g}/255)",
                  graded(best >= 0.2, best >= 0.05),
                  "'considerable' read as ≥ 20 % restored at some pixel count (≥ 5 %: partly)")]


def claims_augmentation(res: dict) -> list[Claim]:
    """Tables 10–11 / §6.2 claims from :func:`robustlab.paper_b.augment.augmentation`."""
    e, f = res["exp1"], res["fgsm"]
    base = e[e["model"] == "base"].set_index("n_pixels")["wrong_rate"]
    out = []
    diffs, cleans = [], []
    for m in e["model"].unique():
        if m == "base":
            continue
        t = e[e["model"] == m].set_index("n_pixels")["wrong_rate"]
        d = (base - t).drop(0, errors="ignore")
        diffs.append((m, d))
        cleans.append((m, float(t.get(0, np.nan)), float(base.get(0, np.nan))))
    n = int(e["images"].iloc[0])
    better = [m for m, d in diffs if (d > 1.0 / n).all()]
    out.append(Claim("B-aug-random",
                     "; ".join(f"{m}: " + ", ".join(f"{int(p)} px {_pct(base[p])} → {_pct(base[p] - v)}"
                                                   for p, v in d.items()) for m, d in diffs),
                     graded(better and len(better) == len(diffs), better),
                     f"{res['train_images']} training images; held-out {n} images"))
    out.append(Claim("B-aug-clean", "; ".join(f"{m}: {_pct(1 - c)} (base {_pct(1 - b)})" for m, c, b in cleans),
                     graded(all(abs(c - b) <= 2.0 / n for _, c, b in cleans)),
                     "clean wrong-rate on held-out images the base model classifies correctly"))
    if len(f):
        fb = f.set_index("model")["still_fooling_rate"]
        k4 = next((m for m in fb.index if m == "k=4"), fb.index[-1])
        ok = fb[k4] < fb["base"]
        out.append(Claim("B-aug-fgsm", f"{k4}: {_pct(fb[k4])} still fool (base: {_pct(fb['base'])}) of "
                                       f"{int(f['fgsm_examples'].iloc[0])} FGSM examples", graded(False, ok),
                         "examples made on the base model, transferred to the fine-tuned one; "
                         "MobileNetV2, not ResNet-101"))
    return out


def claims_pixel_index(pi_row: pd.DataFrame, example: float) -> list[Claim]:
    """§5 worked example and Table 5."""
    return [Claim("B-pi-example", f"{example:.2f} (with the paper's rounding of p and a)",
                  graded(abs(example - 98.30) < 0.005),
                  "the exact formula gives 98.34: the paper rounded p to 0.1276 % and a to 79.72 %"),
            Claim("B-pi-ranking", f"MobileNetV2: Pi = {float(pi_row['Pi'].iloc[0]):.1f} at "
                                  f"{int(pi_row['n_pixels'].iloc[0])} px", NOT_TESTABLE,
                  "needs several models with real weights; only MobileNetV2 has them here")]
