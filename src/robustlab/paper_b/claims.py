"""Paper B in the book: what produced a page's numbers, and the paper's claims with our numbers and
verdicts (:class:`robustlab.core.claims.Claim` records; the statements are in
:data:`robustlab.book.checklist.CHECKLIST`).

Every verdict is read from a number with its 95 % interval (:mod:`robustlab.core.stats`) by one of
the rules of :mod:`robustlab.core.claims`, so it can go either way:

* "more" / "better" / "larger": :func:`~robustlab.core.claims.exceeds` (or
  :func:`~robustlab.core.claims.below`) on a **paired** difference — both settings (or models) were
  run on the same images, so the images are resampled jointly (:func:`robustlab.core.stats.bootstrap`);
* "the same" / "nearly equal" / "does not change" / "about x": :func:`~robustlab.core.claims.within`,
  an equivalence test with a fixed margin declared below (yes only when the whole interval lies
  inside the margin);
* a statement about several settings or models combines their verdicts
  (:func:`~robustlab.core.claims.combine`).

The input tables are those of :mod:`robustlab.paper_b.experiments` and
:func:`robustlab.paper_b.augment.augmentation`: their ``per_image`` column holds, per setting, each
image's share of wrong repeats (the interval is over the images; the spread over the repeats is in
``wrong_rate_std``). The augmentation claims compare each fine-tuned model with the fine-tuned
**control** (k = 0, :data:`robustlab.paper_b.augment.CONTROL`), never with the base model alone.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from robustlab.core.claims import NOT_TESTABLE, Claim, below, combine, exceeds, within
from robustlab.core.stats import Estimate, bootstrap, spearman
from robustlab.paper_b.augment import CONTROL
from robustlab.paper_b.classifiers import SHARED_MOBILENET, available, for_model, label, weights_arg
from robustlab.paper_b.selection import stored_selection

__all__ = ["describe_run", "claims_exp1", "claims_exp2", "claims_exp3", "claims_exp4", "claims_augmentation",
           "claims_pixel_index", "claims_models", "merge_claims", "PAPER_64PX_RANGE", "ABOUT_4PX", "ABOUT_64PX",
           "SAME", "CONSIDERABLE"]

#: The paper's range of 64-pixel wrong-rates over its five models (§1, Table 6).
PAPER_64PX_RANGE = (0.035, 0.14)
#: "About 1 %" at 4 px (§6.1.1): ±0.5 points (half the value).
ABOUT_4PX = 0.005
#: "About 5 %" (§6.1.1) and "about 10 %" (§4) at 64 px: ±2.5 points, half the distance between the
#: paper's two values, so that no number can support both.
ABOUT_64PX = 0.025
#: "Little effect", "nearly equal", "does not change the accuracy": within ±2 points of wrong-rate.
SAME = 0.02
#: "A considerable share" of FGSM examples restored: more than 20 %.
CONSIDERABLE = 0.20


def describe_run(cfg) -> str:
    """Markdown: which models, images, sizes and hardware produced this page's numbers, and which of
    the requested models were left out for want of weights."""

    sel = stored_selection(cfg)
    if sel and "device" in sel:
        ran = f"computed on {sel['device']}" + (f" ({sel['date']})" if sel.get("date") else "")
    else:
        ran = "not computed yet"
    names, missing = available(cfg)

    def one(n: str) -> str:
        w = weights_arg(for_model(cfg, n))
        if n == "mobilenet_v2" and Path(w).name == Path(SHARED_MOBILENET).name:
            return ("the **real ImageNet-pretrained MobileNetV2** (torchvision's quantized model, dequantized; "
                    f"`{Path(w).name}`)")
        return f"{label(n)} (weights `{Path(w).name if Path(w).is_file() else w}`)"

    models = "; ".join(one(n) for n in names)
    left = (" **Left out for want of weights:** " + "; ".join(f"{label(k)} — {v}" for k, v in missing.items()) + "."
            if missing else "")
    grid_r = cfg.get("grid_repeats") or cfg.n_repeats
    every = "every one of these models classifies" if len(names) > 1 else "this model classifies"
    return (f"**What produced these numbers.** Model{'s' if len(names) > 1 else ''}: {models}.{left} Images: the "
            f"first {cfg.n_images} real ImageNet images (one-per-class sample, then Imagenette val/train, seeded "
            f"order) that {every} correctly; {cfg.n_repeats} seeded repeats per setting of experiments 1 and 4 and "
            f"of the augmentation test ({grid_r} in the exp. 2/3 grids), every image changed independently. Every "
            f"rate is shown with its **95 % interval over the images** (paired bootstrap; each image's value "
            f"is its mean over the repeats), and the spread over the repeats beside it. Profile "
            f"`{cfg.profile}`, {ran}.")


# --------------------------------------------------------------------------------------
# numbers with intervals
# --------------------------------------------------------------------------------------
def _arr(x) -> np.ndarray:
    return np.asarray(x, dtype=float)


def _mean(a) -> float:
    return float(np.mean(a))


def _rate(per_image, what: str = "images") -> Estimate:
    """Mean of per-image values with its paired-bootstrap interval over the images."""
    return bootstrap(np.mean, _arr(per_image), what=what)


def _paired(a, b, what: str = "images") -> Estimate:
    """mean(a) − mean(b), both measured on the same items (paired bootstrap)."""
    return bootstrap(lambda x, y: _mean(x) - _mean(y), _arr(a), _arr(b), what=what)


def _shift(est: Estimate, by: float) -> Estimate:
    return Estimate(est.value - by, est.lo - by, est.hi - by, est.method, est.n)


def _inside(est: Estimate, lo: float, hi: float) -> str:
    """Verdict of "``est`` lies in [lo, hi]" (an equivalence test around the range's middle)."""
    mid = (lo + hi) / 2
    return within(_shift(est, mid), (hi - lo) / 2)


def _pc(est: Estimate) -> str:
    return est.fmt(100, 1, " %")


def _pts(est: Estimate) -> str:
    return est.fmt(100, 1, " pts", sign=True)


def _row(table: pd.DataFrame, **where) -> pd.Series | None:
    t = table
    for k, v in where.items():
        t = t[t[k] == v]
    return None if t.empty else t.iloc[0]


def _stack(t: pd.DataFrame) -> np.ndarray:
    """(settings, images) matrix of a table's per-image values, in the table's order."""
    return np.stack([_arr(v) for v in t["per_image"]])


def _spread_est(m: np.ndarray) -> Estimate:
    """max − min over the settings (rows) of their rates, paired bootstrap over the images (columns)."""
    return bootstrap(lambda x: float(np.ptp(x.mean(-1))), m)


def _trend(t: pd.DataFrame, x: str) -> tuple[str, Estimate, list[Estimate]]:
    """"More ``x``, more wrong": the paired difference last − first (``exceeds``) and the paired
    differences of neighbours; a neighbour *significantly* lower (whole interval below 0) lowers a
    yes to partly."""
    t = t.sort_values(x)
    v = list(t["per_image"])
    total = _paired(v[-1], v[0])
    steps = [_paired(b, a) for a, b in zip(v[:-1], v[1:])]
    verdict = exceeds(total)
    if verdict == "yes" and any(below(s) == "yes" for s in steps):
        verdict = "partly"
    return verdict, total, steps


def _fmt_counts(ps) -> str:
    return ", ".join(str(int(p)) for p in ps)


# --------------------------------------------------------------------------------------
# experiment 1 (Table 6, Fig. 8) and the 0.12 % statements of §4 and §6.1.1
# --------------------------------------------------------------------------------------
def _which_64(est: Estimate) -> str:
    s5, s10 = within(_shift(est, 0.05), ABOUT_64PX), within(_shift(est, 0.10), ABOUT_64PX)
    if s5 == "yes":
        return "supports §6.1.1's ≈ 5 %, not §4's ≈ 10 %"
    if s10 == "yes":
        return "supports §4's ≈ 10 %, not §6.1.1's ≈ 5 %"
    if est.finite and est.hi < 0.075:
        return "nearer §6.1.1's ≈ 5 % than §4's ≈ 10 % (whole interval below 7.5 %)"
    if est.finite and est.lo > 0.075:
        return "nearer §4's ≈ 10 % than §6.1.1's ≈ 5 % (whole interval above 7.5 %)"
    return "cannot tell §4's ≈ 10 % from §6.1.1's ≈ 5 % (the interval spans 7.5 %)"


def claims_exp1(e1: pd.DataFrame, model_label: str = "MobileNetV2") -> list[Claim]:
    """Claims of Table 6 / Fig. 8 and §4's "0.12 % of the pixels, about 10 % wrong", from an
    experiment-1 table (one row per pixel count, with ``per_image``)."""
    out = []
    t = e1.sort_values("n_pixels")
    n = int(t["images"].iloc[0])
    r4, r64 = _row(t, n_pixels=4), _row(t, n_pixels=64)
    w4 = _rate(r4["per_image"]) if r4 is not None else None
    w64 = _rate(r64["per_image"]) if r64 is not None else None
    sd64 = f"; sd over {int(r64.get('repeats', 1))} repeats {100 * float(r64.get('wrong_rate_std', 0)):.1f} pts" \
        if r64 is not None else ""
    if w64 is not None:
        lo, hi = PAPER_64PX_RANGE
        out.append(Claim.of("B-64px-range", f"{_pc(w64)} at 64 px ({model_label}, {n} images{sd64})",
                            _inside(w64, lo, hi),
                            f"yes when the whole 95 % interval lies inside the paper's {100 * lo:g}–{100 * hi:g} %, "
                            f"partly when only the value does; a model the paper did not test", w64, 100, "%"))
        which = _which_64(w64)
        out.append(Claim.of("B-64px-10pct", f"{_pc(w64)} at 64 px = 0.128 % of the pixels ({model_label}): {which}",
                            within(_shift(w64, 0.10), ABOUT_64PX),
                            f"'about 10 %' = within ±{100 * ABOUT_64PX:g} pts of 10 % (equivalence test); the paper "
                            f"contradicts itself: §6.1.1 says ≈ 5 % for the same 64 px (ResNet, B-resnet-4-64)",
                            w64, 100, "%"))
        parts = [within(_shift(w64, 0.05), ABOUT_64PX)]
        txt = f"64 px: {_pc(w64)}"
        if w4 is not None:
            parts.insert(0, within(_shift(w4, 0.01), ABOUT_4PX))
            txt = f"4 px: {_pc(w4)}; " + txt
        v = combine(parts)
        out.append(Claim.of("B-resnet-4-64", f"{txt} ({model_label}): {which}", "partly" if v == "yes" else v,
                            f"'about 1 % / 5 %' = within ±{100 * ABOUT_4PX:g} / ±{100 * ABOUT_64PX:g} pts "
                            f"(equivalence tests{'' if w4 is not None else '; 4 px not run'}); ResNet-101 weights "
                            f"cannot be had here, so agreement of another model is partly at best; §4 says ≈ 10 % "
                            f"for the same 0.12 % (B-64px-10pct)", w64, 100, "%"))
    if len(t) >= 2:
        verdict, total, steps = _trend(t, "n_pixels")
        p0, p1 = int(t["n_pixels"].iloc[0]), int(t["n_pixels"].iloc[-1])
        rates = " → ".join(f"{100 * _mean(v):.1f}" for v in t["per_image"])
        out.append(Claim.of("B-more-pixels", f"{rates} % for {_fmt_counts(t['n_pixels'])} px; {p1} px − {p0} px: "
                                             f"{_pts(total)} (paired, {n} images)", verdict,
                            "yes when the paired difference largest − smallest count is above 0 with its whole "
                            "interval and no step to the next count is significantly negative", total, 100, "pts"))
    return out


# --------------------------------------------------------------------------------------
# experiment 2 (Table 7) and 3 (Table 8, Fig. 10)
# --------------------------------------------------------------------------------------
def claims_exp2(e2: pd.DataFrame) -> list[Claim]:
    """Table 7's claim: larger magnitudes misclassify more (per pixel count, paired over the images)."""
    parts, verdicts, head = [], [], None
    for p, t in e2.groupby("n_pixels"):
        t = t.assign(magnitude=t["magnitude"].astype(int)).sort_values("magnitude")
        v, total, _ = _trend(t, "magnitude")
        verdicts.append(v)
        head = total  # the largest pixel count (groupby sorts)
        parts.append(f"{p} px: " + " → ".join(f"{100 * _mean(x):.1f}" for x in t["per_image"])
                     + f" % for ±{', ±'.join(map(str, t['magnitude']))}; ±{t['magnitude'].iloc[-1]} − "
                       f"±{t['magnitude'].iloc[0]}: {_pts(total)}")
    return [Claim.of("B-magnitude", "; ".join(parts), combine(verdicts),
                     "per pixel count: yes when the paired difference largest − smallest magnitude is above 0 with "
                     "its whole interval and no step is significantly negative; combined over the pixel counts",
                     head, 100, "pts")]


def _windows(t: pd.DataFrame) -> pd.DataFrame:
    return t.assign(area=t["area"].astype(int)).sort_values("area", ascending=False)


def claims_exp3(e3: pd.DataFrame, e2: pd.DataFrame | None = None) -> list[Claim]:
    """Table 8 / Fig. 10 / §6.1.4: the window matters little below 64 pixels (judged at every count
    < 64 run), the curves at 8 and 32 px are nearly equal across windows, and the magnitude matters
    more than the position (at a pixel count both exp. 2 and 3 ran)."""
    out = []
    by_p = {int(p): _windows(t) for p, t in e3.groupby("n_pixels")}
    # B-area: at every count < 64, the largest paired difference of a window to the whole image
    small = [p for p in sorted(by_p) if p < 64]
    parts, verdicts, worst = [], [], None
    for p in small:
        t = by_p[p]
        m = _stack(t)  # row 0: the largest window (the whole image)
        est = bootstrap(lambda x: float(np.max(np.abs(x[1:].mean(-1) - x[0].mean())))
                        if len(x) > 1 else float("nan"), m)
        verdicts.append(within(est, SAME))
        parts.append(f"{p} px: {est.fmt(100, 1, ' pts')}")
        if worst is None or (np.isfinite(est.value) and est.value > worst.value):
            worst = est
    if small and worst is not None:
        out.append(Claim.of("B-area", "largest |window − whole image| difference of wrong-rates: " + "; ".join(parts),
                            combine(verdicts),
                            f"'little effect' = every window within ±{100 * SAME:g} pts of the whole image (paired "
                            f"equivalence test over the images) at each count below 64 px run "
                            f"({_fmt_counts(small)}); the headline is the largest", worst, 100, "pts"))
    else:
        out.append(Claim("B-area", f"exp. 3 ran at {_fmt_counts(sorted(by_p))} px only", NOT_TESTABLE,
                         "the claim is about fewer than 64 changed pixels; set area_pixel_counts"))
    # B-area-fig10: at 8 and 32 px, the range of the curves over the windows
    fig = [p for p in (8, 32) if p in by_p]
    if fig:
        ests = {p: _spread_est(_stack(by_p[p])) for p in fig}
        head = max(ests.values(), key=lambda e: e.value if np.isfinite(e.value) else -1)
        txt = "; ".join(f"{p} px: " + ", ".join(f"{a}²: {100 * _mean(v):.1f}" for a, v in
                                                 zip(by_p[p]["area"], by_p[p]["per_image"]))
                        + f" % (range {ests[p].fmt(100, 1, ' pts')})" for p in fig)
        out.append(Claim.of("B-area-fig10", txt, combine(within(e, SAME) for e in ests.values()),
                            f"'nearly equal' = the range (max − min over the windows) within {100 * SAME:g} pts, "
                            f"paired bootstrap over the images, at {' and '.join(map(str, fig))} px"
                            + ("" if len(fig) == 2 else " (the other count was not run)"), head, 100, "pts"))
    else:
        out.append(Claim("B-area-fig10", f"exp. 3 ran at {_fmt_counts(sorted(by_p))} px only", NOT_TESTABLE,
                         "Fig. 10 is read at 8 and 32 px; set area_pixel_counts to include them"))
    if e2 is not None and not e2.empty:
        common = sorted(set(by_p) & {int(p) for p in e2["n_pixels"]})
        if common:
            p = common[-1]
            mags = e2[e2["n_pixels"] == p].assign(magnitude=lambda d: d["magnitude"].astype(int)) \
                .sort_values("magnitude")
            wins = by_p[p]
            mm, mw = _stack(mags), _stack(wins)
            est = bootstrap(lambda a, b: float(np.ptp(a.mean(-1)) - np.ptp(b.mean(-1))), mm, mw)
            out.append(Claim.of("B-magnitude-vs-area",
                                f"{p} px: range over magnitudes {_spread_est(mm).fmt(100, 1, ' pts')} vs over "
                                f"windows {_spread_est(mw).fmt(100, 1, ' pts')}; difference {_pts(est)}",
                                exceeds(est),
                                "paired difference of the two ranges (exp. 2's magnitudes, exp. 3's windows, same "
                                "images) above 0 with its whole interval", est, 100, "pts"))
    return out


# --------------------------------------------------------------------------------------
# experiment 4 (Table 9)
# --------------------------------------------------------------------------------------
def claims_exp4(e4: pd.DataFrame, summary: dict) -> list[Claim]:
    """Table 9's claim: a few pixel changes return a considerable share (> 20 %) of FGSM examples,
    judged at the largest pixel count run (the paper's 64)."""
    if e4.empty:
        return [Claim("B-fgsm-restore", "no FGSM example fooled the model", NOT_TESTABLE, f"ε = {summary['eps']}")]
    t = e4.sort_values("n_pixels")
    ests = [_rate(1 - _arr(v), "FGSM examples") for v in t["per_image"]]
    head = ests[-1]
    n = int(t["images"].iloc[0])
    return [Claim.of("B-fgsm-restore",
                     ", ".join(f"{int(p)} px: {_pc(e)}" for p, e in zip(t["n_pixels"], ests)) +
                     f" of {n} FGSM examples (ε = {float(summary['eps']):g}/255) back to the true class",
                     exceeds(head, CONSIDERABLE),
                     f"'considerable' = more than {100 * CONSIDERABLE:g} % restored at {int(t['n_pixels'].iloc[-1])} "
                     f"px (whole interval above: yes; only the value: partly); unchanged FGSM examples restore "
                     f"none", head, 100, "%")]


# --------------------------------------------------------------------------------------
# §6.2 augmentation (Tables 10, 11), against the fine-tuned control
# --------------------------------------------------------------------------------------
def _k_of(name: str) -> int | None:
    if name.startswith("k=") and "control" not in name:
        try:
            return int(name[2:])
        except ValueError:
            return None
    return None


def claims_augmentation(res: dict) -> list[Claim]:
    """Tables 10–11 / §6.2 claims from :func:`robustlab.paper_b.augment.augmentation`: each k model
    against the fine-tuned control (k = 0), paired over the held-out images / FGSM examples."""

    e, f = res["exp1"], res["fgsm"]
    out = []
    models = list(dict.fromkeys(e["model"]))
    ks = sorted((k, m) for m in models if (k := _k_of(m)) is not None)
    n = int(e["images"].iloc[0])
    if CONTROL not in models or not ks:
        why = "no fine-tuned control (k = 0) in this result" if CONTROL not in models else "no k model"
        return [Claim(i, "—", NOT_TESTABLE, why) for i in ("B-aug-random", "B-aug-small-k", "B-aug-clean",
                                                           "B-aug-fgsm")]

    def per(m, p):
        r = _row(e, model=m, n_pixels=p)
        return None if r is None else _arr(r["per_image"])

    counts = sorted(int(p) for p in e["n_pixels"].unique() if p > 0)
    # B-aug-random: every k model has fewer errors than the control under every test pixel count
    effects, parts = [], []
    for k, m in ks:
        for p in counts:
            est = _paired(per(CONTROL, p), per(m, p))
            effects.append(((k, p), est))
            parts.append(f"{m} at {p} px: {_pts(est)}")
    base_eff = [f"{p} px: {_pts(_paired(per(CONTROL, p), per('base', p)))}" for p in counts
                if per("base", p) is not None]
    head = next(est for (k, p), est in effects if k == ks[0][0] and p == counts[-1]) if counts else None
    if head is None:
        out.append(Claim("B-aug-random", "no test pixel count run", NOT_TESTABLE, "grid_pixel_counts is empty"))
    else:
        out.append(Claim.of("B-aug-random",
                            "fewer wrong images than the fine-tuned control (k = 0), points: " + "; ".join(parts)
                            + (f" (fine-tuning alone, control − base: {'; '.join(base_eff)})" if base_eff else ""),
                            combine(exceeds(est) for _, est in effects),
                            f"each k model vs the control fine-tuned the same way without changed pixels, paired "
                            f"over {n} held-out images: yes when every difference is above 0 with its whole "
                            f"interval; {res['train_images']} training images", head, 100, "pts"))
    # B-aug-small-k: the improvement over the control is larger for k = 4 than for k = 64
    kk = [k for k, _ in ks]
    if len(kk) >= 2 and counts:
        ka, kb = (4, 64) if {4, 64} <= set(kk) else (kk[0], kk[-1])
        ests = []
        for p in counts:  # (control − k_a) − (control − k_b) = k_b − k_a, on the same images
            c = per(CONTROL, p)
            ests.append(bootstrap(lambda x, a, b: (_mean(x) - _mean(a)) - (_mean(x) - _mean(b)),
                                  c, per(f"k={ka}", p), per(f"k={kb}", p)))
        out.append(Claim.of("B-aug-small-k",
                            f"improvement over the control, k={ka} minus k={kb}: " +
                            "; ".join(f"{p} px: {_pts(x)}" for p, x in zip(counts, ests)),
                            combine(exceeds(x) for x in ests),
                            f"paired over the held-out images: yes when k={ka}'s improvement over the control "
                            f"exceeds k={kb}'s with its whole interval at every test count"
                            + ("" if (ka, kb) == (4, 64) else " (k = 4 and 64 were not both run)"),
                            ests[-1], 100, "pts"))
    else:
        out.append(Claim("B-aug-small-k", f"k = {_fmt_counts(kk)} only", NOT_TESTABLE,
                         "needs two k models (the paper compares small and large k; set aug_pixel_counts)"))
    # B-aug-clean: clean accuracy unchanged (every k model vs the base model; equivalence)
    cl = [(m, _paired(per(m, 0), per("base", 0))) for _, m in ks]
    ctl_clean = _rate(per(CONTROL, 0))
    worst = max(cl, key=lambda x: abs(x[1].value) if np.isfinite(x[1].value) else -1)[1]
    out.append(Claim.of("B-aug-clean", "clean wrong-rate minus the base model's: " +
                        "; ".join(f"{m}: {_pts(x)}" for m, x in cl) + f" (control: {_pc(ctl_clean)} wrong; the base "
                        f"model gets all {n} held-out images right by selection)",
                        combine(within(x, SAME) for _, x in cl),
                        f"'does not change' = within ±{100 * SAME:g} pts of the base model (equivalence test, paired "
                        f"over the held-out images), every k model; the headline is the largest", worst, 100, "pts"))
    # B-aug-fgsm: fewer FGSM examples still fool k = 4 than the control
    if len(f) and CONTROL in set(f["model"]):
        fm = f.set_index("model")
        k4 = "k=4" if "k=4" in fm.index else ks[0][1]
        est = _paired(fm.loc[k4, "per_example"], fm.loc[CONTROL, "per_example"], "FGSM examples")
        s4 = _rate(fm.loc[k4, "per_example"], "FGSM examples")
        sc = _rate(fm.loc[CONTROL, "per_example"], "FGSM examples")
        out.append(Claim.of("B-aug-fgsm", f"{k4}: {_pc(s4)} still fool vs the control {_pc(sc)} (base: "
                                          f"{100 * float(fm.loc['base', 'still_fooling_rate']):.0f} %) of "
                                          f"{int(f['fgsm_examples'].iloc[0])} FGSM examples; difference {_pts(est)}",
                            below(est),
                            "examples made on the base model, transferred; paired over the examples: yes when "
                            f"{k4} − control is below 0 with its whole interval" +
                            ("" if k4 == "k=4" else " (k = 4 was not run: the smallest k)") +
                            "; MobileNetV2, not ResNet-101, so the paper's 24.9 % is not compared", est, 100, "pts"))
    else:
        out.append(Claim("B-aug-fgsm", "no FGSM example fooled the base model", NOT_TESTABLE, "nothing to transfer"))
    return out


# --------------------------------------------------------------------------------------
# §5 Pixel-index (Table 5)
# --------------------------------------------------------------------------------------
def claims_pixel_index(pi_row: pd.DataFrame, example: float, fgsm: tuple[pd.DataFrame, Estimate] | None = None
                       ) -> list[Claim]:
    """§5 worked example, Table 5 and "Pi also suits adversarial examples" (``fgsm``: the result of
    :func:`robustlab.paper_b.pixel_index.fgsm_pixel_index`)."""
    out = [Claim.of("B-pi-example", f"{example:.2f} (with the paper's rounding of p and a)",
                    "yes" if abs(example - 98.30) < 0.005 else "no",
                    "exact arithmetic; the exact formula gives 98.34: the paper rounded p to 0.1276 % and a to 79.72 %",
                    Estimate(example, float("nan"), float("nan"), "exact"))]
    if fgsm is not None:
        table, diff = fgsm
        f, rnd = table.iloc[0], table.iloc[1]
        fe = Estimate(float(f["Pi"]), float(f["Pi_lo"]), float(f["Pi_hi"]))
        re = Estimate(float(rnd["Pi"]), float(rnd["Pi_lo"]), float(rnd["Pi_hi"]))
        out.append(Claim.of("B-pi-adversarial",
                            f"{f['change']}: Pi = {fe.fmt(1, 1)} (w = {100 * f['w']:.1f} %, p = {100 * f['p']:.1f} %, "
                            f"r = {100 * f['r']:.2f} %) vs {rnd['change']}: Pi = {re.fmt(1, 1)}; difference "
                            f"{diff.fmt(1, 1, sign=True)} ({int(f['images'])} images)",
                            exceeds(diff),
                            "'suits' read as: with the same formula, Pi rates FGSM's change — built to fool, and "
                            "known to fool far more images than random noise of its size — as more harmful per unit "
                            "of change than random pixel changes on the same images (paired difference above 0 "
                            "with its whole interval)", diff))
    return out


# --------------------------------------------------------------------------------------
# several models: §1's range, Table 6's ranking, Table 5's Pi against accuracy
# --------------------------------------------------------------------------------------
def claims_models(e1: pd.DataFrame, top1: dict[str, float], missing: dict[str, str] | None = None,
                  n_pixels: int = 64) -> list[Claim]:
    """§1 (3.5 % to 14 % wrong at 0.12 % of the pixels, best to worst model), Table 6's ranking
    (DenseNet the most robust, SqueezeNet the least) and Table 5's "Pi goes with accuracy", from the
    experiment-1 table of every model (:func:`robustlab.paper_b.experiments.per_model`: a ``model_name``
    column, one row per model and pixel count, ``per_image`` on the same images for every model) and
    each model's own top-1 on the images checked (``top1``). ``missing``: models left out, and why.

    Every model sees the same images, so the per-model rates are compared by a paired bootstrap over
    the images. Not testable only when fewer than two models ran (the page names the missing weights).
    """

    missing = missing or {}
    gone = "; ".join(f"{label(k)} ({v.split(';')[0]})" for k, v in missing.items()) or "none"
    t = e1[e1["n_pixels"] == (n_pixels if n_pixels in set(e1["n_pixels"]) else int(e1["n_pixels"].max()))]
    names = list(dict.fromkeys(t["model_name"]))
    px = int(t["n_pixels"].iloc[0]) if len(t) else n_pixels
    ids = ("B-64px-range", "B-model-ranking", "B-pi-ranking")
    if len(names) < 2:
        why = f"needs two or more models; ran: {', '.join(label(n) for n in names) or 'none'}; missing weights: {gone}"
        return [Claim(i, f"{len(names)} model ran", NOT_TESTABLE, why) for i in ids[1:]]
    W = np.stack([_arr(t[t["model_name"] == n]["per_image"].iloc[0]) for n in names])  # (models, images)
    rates = {n: _rate(W[k]) for k, n in enumerate(names)}
    listing = ", ".join(f"{label(n)} {_pc(rates[n])}" for n in names)
    out = []
    # §1: best and worst model both inside the paper's 3.5-14 % span
    lo, hi = PAPER_64PX_RANGE
    best = min(names, key=lambda n: rates[n].value)
    worst = max(reversed(names), key=lambda n: rates[n].value)  # on a tie, two different models
    v = combine([_inside(rates[best], lo, hi), _inside(rates[worst], lo, hi)])
    out.append(Claim.of("B-64px-range", f"{px} px: best {label(best)} {_pc(rates[best])}, worst {label(worst)} "
                                        f"{_pc(rates[worst])} ({len(names)} models, {W.shape[1]} images)", v,
                        f"yes when the best and the worst model's 95 % intervals lie inside the paper's "
                        f"{100 * lo:g}–{100 * hi:g} %, partly when their values do; missing weights: {gone}",
                        rates[worst], 100, "%"))
    # Table 6: DenseNet lowest wrong-rate, SqueezeNet highest (paired differences to every other model)
    parts, txt, head = [], [], None
    for who, rule, word in (("densenet121", below, "most"), ("squeezenet1_1", exceeds, "least")):
        if who not in names:
            continue
        k = names.index(who)
        others = [j for j in range(len(names)) if j != k]
        if word == "most":
            d = bootstrap(lambda w, k=k, o=others: float(w[k].mean() - w[o].mean(-1).min()), W)
        else:
            d = bootstrap(lambda w, k=k, o=others: float(w[k].mean() - w[o].mean(-1).max()), W)
        parts.append(rule(d))
        head = head or d
        txt.append(f"{label(who)} minus the {'best' if word == 'most' else 'worst'} other: {_pts(d)}")
    if parts:
        out.append(Claim.of("B-model-ranking", f"{px} px: {listing}; " + "; ".join(txt), combine(parts),
                            "yes when DenseNet's wrong-rate is below every other model's and SqueezeNet's above "
                            "(paired bootstrap over the images, whole interval); each part is judged where its "
                            f"model ran; missing weights: {gone}", head, 100, "pts"))
    else:
        out.append(Claim("B-model-ranking", f"{px} px: {listing}", NOT_TESTABLE,
                         f"DenseNet and SqueezeNet did not run; missing weights: {gone}"))
    # Table 5: Pi = w / (p r a) with p, r, a the same for every model, so Pi ranks like w: a smaller Pi
    # should go with a higher accuracy, i.e. a negative rank correlation of Pi and top-1
    acc = np.asarray([top1.get(n, np.nan) for n in names], dtype=float)
    if np.isfinite(acc).sum() >= 2 and len(names) >= 3:
        rho = bootstrap(lambda w: spearman(w.mean(-1), acc, nan_policy="propagate"), W)
        out.append(Claim.of("B-pi-ranking", f"Spearman ρ(Pi, top-1) = {rho.fmt(1, 2, sign=True)} over {len(names)} "
                                            f"models (top-1 on the images checked: "
                                            f"{', '.join(f'{label(n)} {100 * a:.1f} %' for n, a in zip(names, acc))})",
                            below(rho),
                            "Pi at 64 px (any value, whole image) differs between models only by w; yes when the "
                            "rank correlation with the models' top-1 is below 0 with its whole interval "
                            f"(bootstrap over the images); missing weights: {gone}", rho))
    else:
        out.append(Claim("B-pi-ranking", listing, NOT_TESTABLE, "a rank correlation needs three models or more"
                                                                 f"; missing weights: {gone}"))
    return out


def merge_claims(base: list[Claim], override: list[Claim]) -> list[Claim]:
    """``base`` with every claim whose id ``override`` also has replaced by override's, then the rest
    of ``override`` (each id once: e.g. the several-model B-64px-range replaces the one-model one)."""
    new = {c.id: c for c in override}
    out = [new.pop(c.id, c) for c in base]
    return out + list(new.values())
