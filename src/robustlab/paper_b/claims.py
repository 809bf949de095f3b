"""Paper B in the book: the paper's claims with our numbers and
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

import dataclasses
from collections.abc import Callable, Mapping

import numpy as np
import pandas as pd

from robustlab.core.claims import NOT_TESTABLE, Claim, at_most_partly, below, combine, exceeds, within
from robustlab.core.stats import Estimate, bootstrap, spearman
from robustlab.paper_b.augment import CONTROL
from robustlab.paper_b.classifiers import (
    LABELS,
    label,
    published_top1,
)
from robustlab.paper_b.selection import PAPER_MODELS

__all__ = ["claims_exp1", "claims_exp2", "claims_exp3", "claims_exp4", "claims_augmentation",
           "eps_sentence", "exp4_eps_verdicts", "augmentation_eps_verdicts", "per_model_verdicts", "judge_per_model",
           "PER_MODEL_IDS",
           "claims_pixel_index", "claims_models", "merge_claims", "PAPER_64PX_RANGE", "ABOUT_4PX", "ABOUT_64PX",
           "SAME", "SAME_REL", "CONSIDERABLE", "PAPER_MODELS", "ABOUT_REL", "ONE_RUN"]

#: The paper's range of 64-pixel wrong-rates over its five models (§1, Table 6).
PAPER_64PX_RANGE = (0.035, 0.14)
#: "About 1 %" at 4 px (§6.1.1): ±0.5 points (half the value).
ABOUT_4PX = 0.005
#: "About 5 %" (§6.1.1) and "about 10 %" (§4) at 64 px: ±2.5 points, half the distance between the
#: paper's two values, so that no number can support both.
ABOUT_64PX = 0.025
#: "Little effect", "nearly equal", "does not change the accuracy": within ±2 points of wrong-rate.
SAME = 0.02
#: "Little effect" / "nearly equal" of the windows (§6.1.3, Fig. 10): within ±25 % *of the whole-image
#: rate* — an absolute margin cannot fail where the rates themselves are below it.
SAME_REL = 0.25
#: "A considerable share" of FGSM examples restored: more than 20 %.
CONSIDERABLE = 0.20
#: "About 3.5 %" / "about 14 %" (§1): within ±half the paper's value (as "about 1 %" = ±0.5 points).
ABOUT_REL = 0.5
#: Why a fine-tuning comparison is at most "partly": one fine-tuning run per model.
ONE_RUN = ("one fine-tuning run per model: the interval covers the held-out images, not the run-to-run luck "
           "of fine-tuning, so yes is capped at partly")


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
def _name_of(model_label: str) -> str | None:
    """The model name behind a display label (``"ResNet-101"`` → ``"resnet101"``; None if unknown)."""
    return next((n for n, lab in LABELS.items() if lab == model_label), None)


def claims_exp1(e1: pd.DataFrame, model_label: str = "MobileNetV2") -> list[Claim]:
    """Claims of Table 6 / Fig. 8 and §4's "0.12 % of the pixels, about 10 % wrong", from an
    experiment-1 table (one row per pixel count, with ``per_image``) of the one model ``model_label``.
    Whether the model is one the paper tested (:data:`PAPER_MODELS`; §6.1.1 names ResNet-101) is read
    from the label, and every sentence about it is derived from that."""
    out = []
    t = e1.sort_values("n_pixels")
    n = int(t["images"].iloc[0])
    name = _name_of(model_label)
    of_five = name in PAPER_MODELS
    is_resnet = name == "resnet101"
    r4, r64 = _row(t, n_pixels=4), _row(t, n_pixels=64)
    w4 = _rate(r4["per_image"]) if r4 is not None else None
    w64 = _rate(r64["per_image"]) if r64 is not None else None
    sd64 = f"; sd over {int(r64.get('repeats', 1))} repeats {100 * float(r64.get('wrong_rate_std', 0)):.1f} pts" \
        if r64 is not None else ""
    if w64 is not None:
        lo, hi = PAPER_64PX_RANGE
        out.append(Claim("B-64px-range", f"{_pc(w64)} at 64 px ({model_label}, {n} images{sd64})", NOT_TESTABLE,
                         f"§1's best ≈ {100 * lo:g} % and worst ≈ {100 * hi:g} % are about two of the paper's five "
                         f"models; only {model_label} ran here"
                         + ("" if of_five else ", which is not one of the five")))
        v10 = within(_shift(w64, 0.10), ABOUT_64PX)
        out.append(Claim.of("B-64px-10pct", f"{_pc(w64)} at 64 px = 0.128 % of the pixels ({model_label}, {n} "
                                            f"images)", v10 if of_five else at_most_partly(v10),
                            f"'about 10 %' = within ±{100 * ABOUT_64PX:g} pts of 10 % (equivalence test); §4 names "
                            f"no model (§1 gives 3.5–14 % across the five), so the five-model mean or any one of "
                            f"them near 10 % supports it"
                            + ("" if of_five else f"; {model_label} is not one of the paper's five, so its "
                                                  f"agreement is partly at best"), w64, 100, "%"))
        parts = [within(_shift(w64, 0.05), ABOUT_64PX)]
        txt = f"64 px: {_pc(w64)}"
        if w4 is not None:
            parts.insert(0, within(_shift(w4, 0.01), ABOUT_4PX))
            txt = f"4 px: {_pc(w4)}; " + txt
        v = combine(parts)
        out.append(Claim.of("B-resnet-4-64", f"{txt} ({model_label})", v if is_resnet else at_most_partly(v),
                            f"'about 1 % / 5 %' = within ±{100 * ABOUT_4PX:g} / ±{100 * ABOUT_64PX:g} pts "
                            f"(equivalence tests{'' if w4 is not None else '; 4 px not run'})"
                            + ("; on ResNet-101, the model §6.1.1 names" if is_resnet else
                               f"; §6.1.1 is about {label('resnet101')} and this is {model_label}, so agreement "
                               f"is partly at best"), w64, 100, "%"))
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


def _largest_rel(x: np.ndarray) -> float:
    """(windows, images), row 0 the whole image: the largest |window rate / whole-image rate − 1|
    (NaN when the whole image has no wrong image, or there is no other window)."""
    r = x.mean(-1)
    if len(r) < 2 or r[0] <= 0:
        return float("nan")
    return float(np.max(np.abs(r[1:] / r[0] - 1)))


def _range_rel(x: np.ndarray) -> float:
    """(windows, images): (max − min) / mean of the windows' rates (NaN when every rate is 0)."""
    r = x.mean(-1)
    return float(np.ptp(r) / r.mean()) if r.mean() > 0 else float("nan")


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
        est = bootstrap(_largest_rel, m)
        verdicts.append(within(est, SAME_REL))
        parts.append(f"{p} px: {est.fmt(100, 0, ' %')} (whole image {100 * _mean(m[0]):.1f} % wrong)")
        if worst is None or (np.isfinite(est.value) and est.value > worst.value):
            worst = est
    if small and worst is not None:
        out.append(Claim.of("B-area", "largest |window / whole image − 1| of the wrong-rates: " + "; ".join(parts),
                            combine(verdicts),
                            f"'little effect' = every window's wrong-rate within ±{100 * SAME_REL:g} % of the whole "
                            f"image's (a margin relative to the rate: an absolute one cannot fail where the rates "
                            f"are below it; paired equivalence test over the images) at each count below 64 px run "
                            f"({_fmt_counts(small)}); not testable where the whole image has no wrong image; the "
                            f"headline is the largest", worst, 100, "%"))
    else:
        out.append(Claim("B-area", f"exp. 3 ran at {_fmt_counts(sorted(by_p))} px only", NOT_TESTABLE,
                         "the claim is about fewer than 64 changed pixels; set area_pixel_counts"))
    # B-area-fig10: at 8 and 32 px, the range of the curves over the windows
    fig = [p for p in (8, 32) if p in by_p]
    if fig:
        ests = {p: bootstrap(_range_rel, _stack(by_p[p])) for p in fig}
        head = max(ests.values(), key=lambda e: e.value if np.isfinite(e.value) else -1)
        txt = "; ".join(f"{p} px: " + ", ".join(f"{a}²: {100 * _mean(v):.1f}" for a, v in
                                                 zip(by_p[p]["area"], by_p[p]["per_image"]))
                        + f" % (range / mean {ests[p].fmt(100, 0, ' %')})" for p in fig)
        out.append(Claim.of("B-area-fig10", txt, combine(within(e, SAME_REL) for e in ests.values()),
                            f"'nearly equal' = the range (max − min over the windows) within {100 * SAME_REL:g} % "
                            f"of the windows' mean rate (relative, as for B-area), paired bootstrap over the "
                            f"images, at {' and '.join(map(str, fig))} px"
                            + ("" if len(fig) == 2 else " (the other count was not run)"), head, 100, "%"))
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
def _restore_claim(per_image, n_pixels: int, eps: float, counts_text: str = "") -> Claim:
    """B-fgsm-restore from the per-example wrong shares at the largest pixel count (restored = 1 − wrong)."""
    head = _rate(1 - _arr(per_image), "FGSM examples")
    n = len(_arr(per_image))
    return Claim.of("B-fgsm-restore",
                    (counts_text or f"{int(n_pixels)} px: {_pc(head)}") +
                    f" of {n} FGSM examples (ε = {float(eps):g}/255) back to the true class",
                    exceeds(head, CONSIDERABLE),
                    f"'considerable' = more than {100 * CONSIDERABLE:g} % restored at {int(n_pixels)} "
                    f"px (whole interval above: yes; only the value: partly); unchanged FGSM examples restore "
                    f"none", head, 100, "%")


def eps_sentence(claim_id: str, verdicts: pd.DataFrame, col: str | None = None) -> str:
    """How a verdict moves with the FGSM step: ``verdicts`` has one row per ε (``eps`` in 8-bit units,
    ``decides``) and the verdict in column ``col`` (default ``claim_id``, else ``"verdict"``). One sentence
    naming the verdict at each ε and whether it is the same at every ε."""
    col = col or (claim_id if claim_id in verdicts.columns else "verdict")
    if not len(verdicts) or col not in verdicts.columns:
        return f"{claim_id}: no ε of the sweep was run"
    steps = [(float(r["eps"]), str(r[col]), bool(r["decides"])) for _, r in verdicts.sort_values("eps").iterrows()]
    parts = ", ".join(f"{e:g}/255 {v}" + (" (decides)" if d else "") for e, v, d in steps)
    vs = {v for _, v, _ in steps if v != NOT_TESTABLE}
    tail = ("the same verdict at every ε" if len(vs) <= 1 else
            "the verdict depends on ε (it is decided at the profile's ε; the paper gives none)")
    return f"{claim_id} over the FGSM step: {parts} — {tail}"


def exp4_eps_verdicts(sweep: pd.DataFrame) -> pd.DataFrame:
    """B-fgsm-restore's rule at each ε of :func:`robustlab.paper_b.experiments.experiment4_eps_sweep`:
    one row per ε with ``eps``, ``decides``, ``fooled``, ``restored`` (% with its interval) and ``verdict``
    (not testable where no FGSM example fooled the model)."""
    rows = []
    for r in sweep.sort_values("eps").itertuples():
        if int(r.fooled) == 0 or not len(_arr(r.per_image)):
            rows.append({"eps": float(r.eps), "decides": bool(r.decides), "fooled": int(r.fooled),
                         "restored": "—", "verdict": NOT_TESTABLE})
            continue
        c = _restore_claim(r.per_image, r.n_pixels, r.eps)
        rows.append({"eps": float(r.eps), "decides": bool(r.decides), "fooled": int(r.fooled),
                     "restored": _pc(_rate(1 - _arr(r.per_image), "FGSM examples")), "verdict": c.verdict})
    return pd.DataFrame(rows)


def claims_exp4(e4: pd.DataFrame, summary: dict, sweep: pd.DataFrame | None = None) -> list[Claim]:
    """Table 9's claim: a few pixel changes return a considerable share (> 20 %) of FGSM examples,
    judged at the largest pixel count run (the paper's 64). ``sweep`` (optional,
    :func:`robustlab.paper_b.experiments.experiment4_eps_sweep`): the same rule at other FGSM steps,
    named in the reasons beside the verdict, which stays the one at ``summary['eps']``."""
    if e4.empty:
        return [Claim("B-fgsm-restore", "no FGSM example fooled the model", NOT_TESTABLE, f"ε = {summary['eps']}")]
    t = e4.sort_values("n_pixels")
    ests = [_rate(1 - _arr(v), "FGSM examples") for v in t["per_image"]]
    c = _restore_claim(t["per_image"].iloc[-1], int(t["n_pixels"].iloc[-1]), summary["eps"],
                       ", ".join(f"{int(p)} px: {_pc(e)}" for p, e in zip(t["n_pixels"], ests)))
    if sweep is not None and len(sweep):
        v = exp4_eps_verdicts(sweep)
        c = dataclasses.replace(c, why=f"{c.why}; {eps_sentence('B-fgsm-restore', v)}")
    return [c]


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


def claims_augmentation(res: dict, sweep: pd.DataFrame | None = None) -> list[Claim]:
    """Tables 10–11 / §6.2 claims from :func:`robustlab.paper_b.augment.augmentation`: each k model
    against the fine-tuned control (k = 0), paired over the held-out images / FGSM examples. One
    fine-tuning run per model: every comparison is at most "partly" (:data:`ONE_RUN`). ``sweep``
    (optional, :func:`robustlab.paper_b.augment.augmentation_fgsm_sweep`): B-aug-fgsm and B-aug-fgsm-most
    at other FGSM steps, named in their reasons; the verdicts stay the ones at the profile's ε."""

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
    # B-aug-small-k: "when the changed pixels are small, the retrained model will have a better effect",
    # read two ways: (a) the training k (k = 4's improvement over the control above k = 64's) — decides,
    # as Table 10's rows are the models by training k and §6.2 goes on with ResNet101-4; (b) the test
    # pixel count (each k model's improvement, relative to the control's errors, larger at the smallest
    # test count than at the largest) — shown beside
    kk = [k for k, _ in ks]
    read_b, txt_b = _small_test_count_reading(ks, counts, per)
    if len(kk) >= 2 and counts:
        ka, kb = (4, 64) if {4, 64} <= set(kk) else (kk[0], kk[-1])
        ests = []
        for p in counts:  # (control − k_a) − (control − k_b) = k_b − k_a, on the same images
            c = per(CONTROL, p)
            ests.append(bootstrap(lambda x, a, b: (_mean(x) - _mean(a)) - (_mean(x) - _mean(b)),
                                  c, per(f"k={ka}", p), per(f"k={kb}", p)))
        out.append(Claim.of("B-aug-small-k",
                            f"(a) training k: improvement over the control, k={ka} minus k={kb}: " +
                            "; ".join(f"{p} px: {_pts(x)}" for p, x in zip(counts, ests))
                            + f"; (b) test pixel count: {txt_b} (reading b: {read_b})",
                            combine(exceeds(x) for x in ests),
                            f"'the changed pixels are small' read as (a) the training k — this decides, as Table "
                            f"10's rows are the models by training k and §6.2 goes on with the k = 4 model — or "
                            f"(b) the test pixel count (shown beside, not deciding); (a) paired over the held-out "
                            f"images: yes when k={ka}'s improvement over the control exceeds k={kb}'s with its "
                            f"whole interval at every test count"
                            + ("" if (ka, kb) == (4, 64) else " (k = 4 and 64 were not both run)"),
                            ests[-1], 100, "pts"))
    else:
        out.append(Claim("B-aug-small-k", f"k = {_fmt_counts(kk)} only; (b) test pixel count: {txt_b} "
                                          f"(reading b: {read_b})", NOT_TESTABLE,
                         "reading (a), the training k, decides and needs two k models (the paper compares small "
                         "and large k; set aug_pixel_counts)"))
    # B-aug-clean: clean accuracy unchanged, on held-out images that no model selected (the selected
    # ones are right for the base model by construction), every k model against the control
    cu = res.get("clean_unselected")
    if cu is None or not len(cu) or CONTROL not in set(cu["model"]):
        out.append(Claim("B-aug-clean", "clean accuracy on held-out images chosen without any model not measured "
                                        "in this result", NOT_TESTABLE,
                         "the images selected because the base model gets them right cannot show a loss of "
                         "clean accuracy fairly (the base model is 0 % wrong on them by construction)"))
    else:
        cm = cu.set_index("model")
        ctl = _arr(cm.loc[CONTROL, "per_image"])
        cl = [(m, _paired(cm.loc[m, "per_image"], ctl)) for _, m in ks if m in cm.index]
        rates = "; ".join(f"{m} {_pc(_rate(cm.loc[m, 'per_image']))}" for m in cm.index)
        nu = len(ctl)
        worst = max(cl, key=lambda x: abs(x[1].value) if np.isfinite(x[1].value) else -1)[1]
        out.append(Claim.of("B-aug-clean", "clean wrong-rate minus the control's, on "
                            f"{nu} held-out images no model selected: "
                            + "; ".join(f"{m}: {_pts(x)}" for m, x in cl) + f" (wrong: {rates})",
                            combine(within(x, SAME) for _, x in cl),
                            f"'does not change the original accuracy' = within ±{100 * SAME:g} pts of the control "
                            f"fine-tuned the same way without changed pixels (equivalence test, paired over {nu} "
                            f"held-out images drawn in a seeded order without regard to any model's answer, so no "
                            f"model is right on them by construction), every k model; the headline is the largest",
                            worst, 100, "pts"))
    # B-aug-fgsm: fewer FGSM examples still fool k = 4 than the control
    mname = res.get("model")
    mlabel = label(mname) if mname else "the base model"
    out.append(_aug_fgsm(f, ks, mname, mlabel))
    out = [_one_run(c) for c in out]
    out.append(_most_restored(f, ks, mlabel))
    if sweep is not None and len(sweep):
        v = augmentation_eps_verdicts(sweep, mname)
        out = [dataclasses.replace(c, why=f"{c.why}; {eps_sentence(c.id, v)}")
               if c.id in ("B-aug-fgsm", "B-aug-fgsm-most") and c.id in v.columns else c for c in out]
    return out


def _aug_fgsm(f: pd.DataFrame, ks, mname, mlabel: str) -> Claim:
    """B-aug-fgsm from Table 11's rows ``f`` (before the one-run cap)."""
    if len(f) and CONTROL in set(f["model"]):
        fm = f.set_index("model")
        k4 = "k=4" if "k=4" in fm.index else ks[0][1]
        est = _paired(fm.loc[k4, "per_example"], fm.loc[CONTROL, "per_example"], "FGSM examples")
        s4 = _rate(fm.loc[k4, "per_example"], "FGSM examples")
        sc = _rate(fm.loc[CONTROL, "per_example"], "FGSM examples")
        paper = (f"; on ResNet-101, the paper's model: its 24.9 % still fooling stands beside our {_pc(s4)}"
                 if mname == "resnet101" else
                 f"; {mlabel}, not ResNet-101, so the paper's 24.9 % is not compared")
        base = (f"{100 * float(fm.loc['base', 'still_fooling_rate']):.0f} %" if "base" in fm.index else "not run")
        return Claim.of("B-aug-fgsm", f"{k4}: {_pc(s4)} still fool vs the control {_pc(sc)} (base: {base}) of "
                                      f"{int(f['fgsm_examples'].iloc[0])} FGSM examples; difference {_pts(est)}",
                        below(est),
                        "examples made on the base model, transferred; paired over the examples: yes when "
                        f"{k4} − control is below 0 with its whole interval" +
                        ("" if k4 == "k=4" else " (k = 4 was not run: the smallest k)") + paper, est, 100, "pts")
    return Claim("B-aug-fgsm", "no FGSM example fooled the base model", NOT_TESTABLE, "nothing to transfer")


def augmentation_eps_verdicts(sweep: pd.DataFrame, model: str | None = None) -> pd.DataFrame:
    """B-aug-fgsm (with the one-run cap) and B-aug-fgsm-most at each ε of
    :func:`robustlab.paper_b.augment.augmentation_fgsm_sweep`: one row per ε with ``eps``, ``decides``,
    ``fgsm_examples``, the k model's and the control's % still fooling, and one column per claim id with
    its verdict there."""
    rows = []
    mlabel = label(model) if model else "the base model"
    for eps, f in sweep.groupby("eps", sort=True):
        f = f.reset_index(drop=True)
        ks = sorted((k, m) for m in f["model"] if (k := _k_of(m)) is not None)
        row = {"eps": float(eps), "decides": bool(f["decides"].iloc[0]),
               "fgsm_examples": int(f["fgsm_examples"].iloc[0])}
        if not ks or CONTROL not in set(f["model"]):
            row.update({"B-aug-fgsm": NOT_TESTABLE, "B-aug-fgsm-most": NOT_TESTABLE})
        else:
            fm = f.set_index("model")
            k4 = "k=4" if "k=4" in fm.index else ks[0][1]
            row.update({"k model": k4, "k still fooling (%)": _pc(_rate(fm.loc[k4, "per_example"], "FGSM examples")),
                        "control still fooling (%)": _pc(_rate(fm.loc[CONTROL, "per_example"], "FGSM examples")),
                        "B-aug-fgsm": _one_run(_aug_fgsm(f, ks, model, mlabel)).verdict,
                        "B-aug-fgsm-most": _most_restored(f, ks, mlabel).verdict})
        rows.append(row)
    return pd.DataFrame(rows)


def _most_restored(f: pd.DataFrame, ks, mlabel: str) -> Claim:
    """§6.2: "most of the images are restored to the correct classification" by the k = 4 model (the
    smallest k run): the share of the base model's FGSM examples it classifies correctly above 50 %.
    A level of one model, not a comparison: not capped for the single fine-tuning run."""
    if not len(f) or "per_example_restored" not in f.columns:
        return Claim("B-aug-fgsm-most", "no FGSM example to restore (or not recorded)", NOT_TESTABLE,
                     "needs FGSM examples that fooled the base model")
    fm = f.set_index("model")
    k4 = "k=4" if "k=4" in fm.index else ks[0][1]
    r = _rate(fm.loc[k4, "per_example_restored"], "FGSM examples")
    ctl = ("" if "k=0 (control)" not in fm.index else
           f"; the control: {_pc(_rate(fm.loc['k=0 (control)', 'per_example_restored'], 'FGSM examples'))}")
    n = len(fm.loc[k4, "per_example_restored"])
    return Claim.of("B-aug-fgsm-most", f"{k4} ({mlabel}) restores {_pc(r)} of {n} FGSM examples to the true class{ctl}",
                    exceeds(r, 0.5),
                    "'most' = more than 50 % of the base model's FGSM examples classified correctly by the "
                    f"fine-tuned {k4} model (whole interval above: yes; only the value: partly); an example that "
                    "no longer fools but lands on a third class is not restored" +
                    ("" if k4 == "k=4" else " (k = 4 was not run: the smallest k)"), r, 100, "%")


def _one_run(c: Claim) -> Claim:
    """A fine-tuning comparison at most "partly" (:data:`ONE_RUN`)."""
    if c.verdict == NOT_TESTABLE:
        return c
    return dataclasses.replace(c, verdict=at_most_partly(c.verdict), why=f"{ONE_RUN}; {c.why}")


def _small_test_count_reading(ks, counts, per) -> tuple[str, str]:
    """Reading (b) of B-aug-small-k: per k model, its improvement over the control relative to the
    control's wrong-rate, at the smallest test count minus at the largest (paired over the images);
    yes when above 0 with its whole interval for every k model. Returns (verdict, text)."""
    if len(counts) < 2 or not ks:
        return NOT_TESTABLE, "needs two test pixel counts"
    ps, pl = counts[0], counts[-1]

    def rel(c, m):
        return (_mean(c) - _mean(m)) / _mean(c) if _mean(c) > 0 else float("nan")

    ests = [(m, bootstrap(lambda c1, m1, c2, m2: rel(c1, m1) - rel(c2, m2), per(CONTROL, ps), per(m, ps),
                          per(CONTROL, pl), per(m, pl))) for _, m in ks]
    txt = (f"share of the control's errors removed at {ps} px minus at {pl} px: "
           + "; ".join(f"{m} {x.fmt(100, 0, ' %', sign=True)}" for m, x in ests))
    return combine(exceeds(x) for _, x in ests), txt


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
        ours_reading = exceeds(diff)
        out.append(Claim.of("B-pi-adversarial",
                            f"{f['change']}: Pi = {fe.fmt(1, 1)} (w = {100 * f['w']:.1f} %, p = {100 * f['p']:.1f} %, "
                            f"r = {100 * f['r']:.2f} %) vs {rnd['change']}: Pi = {re.fmt(1, 1)}; difference "
                            f"{diff.fmt(1, 1, sign=True)} ({int(f['images'])} images); our interpretation "
                            f"(Pi(FGSM) > Pi(random)) would say: {ours_reading}",
                            NOT_TESTABLE,
                            "the paper states no test of 'Pi is also suitable for adversarial examples'; shown is "
                            "OUR interpretation, not the paper's claim: with the same formula, Pi rates FGSM's change "
                            "as more harmful per unit of change than random pixel changes on the same images "
                            "(paired difference above 0 with its whole interval); it does not decide the verdict",
                            diff))
    return out


# --------------------------------------------------------------------------------------
# several models: §1's range, Table 6's ranking, Table 5's Pi against accuracy
# --------------------------------------------------------------------------------------
def claims_models(e1: pd.DataFrame, top1: dict[str, float] | None = None, missing: dict[str, str] | None = None,
                  n_pixels: int = 64) -> list[Claim]:
    """§1 (about 3.5 % wrong in the best model and 14 % in the worst at 0.12 % of the pixels), §4's
    "about 10 %", Table 6's ranking (DenseNet the most robust, SqueezeNet the least) and Table 5's "Pi
    goes with accuracy", from the experiment-1 table of every model
    (:func:`robustlab.paper_b.experiments.per_model`: a ``model_name`` column, one row per model and
    pixel count, ``per_image`` on the same images for every model). ``top1``: each model's top-1 on
    the images checked (shown; the ranking uses torchvision's published top-1 of the weights,
    :func:`robustlab.paper_b.classifiers.published_top1`, as the paper used published accuracies).
    ``missing``: models left out, and why.

    Only the paper's five models (:data:`PAPER_MODELS`) decide; any other (MobileNetV2) is listed as
    an extra. Every model sees the same images, so the per-model rates are compared by a paired
    bootstrap over the images.
    """

    missing = missing or {}
    top1 = top1 or {}
    gone = "; ".join(f"{label(k)} ({v.split(';')[0]})" for k, v in missing.items()) or "none"
    t = e1[e1["n_pixels"] == (n_pixels if n_pixels in set(e1["n_pixels"]) else int(e1["n_pixels"].max()))]
    ran = list(dict.fromkeys(t["model_name"]))
    names = [n for n in ran if n in PAPER_MODELS]
    extra = [n for n in ran if n not in PAPER_MODELS]
    px = int(t["n_pixels"].iloc[0]) if len(t) else n_pixels
    extra_txt = ("; extra, not one of the paper's five (decides nothing): "
                 + ", ".join(f"{label(n)} {_pc(_rate(_arr(t[t['model_name'] == n]['per_image'].iloc[0])))}"
                             for n in extra)) if extra else ""
    five_txt = f"of the paper's five ran: {', '.join(label(n) for n in names) or 'none'}; missing weights: {gone}"
    out = []
    if not names:
        why = f"needs the paper's models; {five_txt}"
        return [Claim(i, f"{len(ran)} model(s) ran, none of the paper's five{extra_txt}", NOT_TESTABLE, why)
                for i in ("B-64px-range", "B-model-ranking", "B-pi-ranking")]
    W = np.stack([_arr(t[t["model_name"] == n]["per_image"].iloc[0]) for n in names])  # (models, images)
    rates = {n: _rate(W[k]) for k, n in enumerate(names)}
    listing = ", ".join(f"{label(n)} {_pc(rates[n])}" for n in names)
    lo, hi = PAPER_64PX_RANGE
    # §4: about 10 % — the five-model mean, or some model (§4 names none)
    mean = bootstrap(lambda w: float(w.mean()), W)
    cand = [("the mean of the five" if len(names) == 5 else f"the mean of {len(names)} of the five", mean)]
    cand += [(label(n), rates[n]) for n in names]
    vs = [(who, within(_shift(e, 0.10), ABOUT_64PX)) for who, e in cand]
    order = {"yes": 0, "partly": 1, "no": 2, NOT_TESTABLE: 3}
    who, v10 = min(vs, key=lambda x: order[x[1]])
    out.append(Claim.of("B-64px-10pct", f"{px} px: mean {_pc(mean)} over {len(names)} models ({listing}); nearest "
                                        f"verdict: {who}{extra_txt}", v10,
                        f"'about 10 %' = within ±{100 * ABOUT_64PX:g} pts of 10 % (equivalence test); §4 names no "
                        f"model (§1 gives 3.5–14 % across the five), so it holds when the five-model mean or some "
                        f"model is near 10 %; {five_txt}", dict(cand)[who], 100, "%"))
    # §1: the best model about 3.5 %, the worst about 14 %
    why = (f"equivalence tests: the best model within ±{100 * ABOUT_REL:g} % of 3.5 % and the worst within "
           f"±{100 * ABOUT_REL:g} % of 14 % (as 'about 1 %' = ±0.5 pts); needs two of the five; {five_txt}")
    if len(names) < 2:
        out.append(Claim("B-64px-range", f"{px} px: {listing}{extra_txt}", NOT_TESTABLE, why))
    else:
        best = min(names, key=lambda n: rates[n].value)
        worst = max(reversed(names), key=lambda n: rates[n].value)  # on a tie, two different models
        vb = within(_shift(rates[best], lo), ABOUT_REL * lo)
        vw = within(_shift(rates[worst], hi), ABOUT_REL * hi)
        out.append(Claim.of("B-64px-range", f"{px} px: best {label(best)} {_pc(rates[best])} ({vb}), worst "
                                            f"{label(worst)} {_pc(rates[worst])} ({vw}) ({len(names)} of the five, "
                                            f"{W.shape[1]} images){extra_txt}", combine([vb, vw]), why,
                            rates[worst], 100, "%"))
    # Table 6: DenseNet lowest wrong-rate, SqueezeNet highest (paired differences to every other model)
    parts, txt, head = [], [], None
    if len(names) >= 2:
        for who_, rule, word in (("densenet121", below, "most"), ("squeezenet1_1", exceeds, "least")):
            if who_ not in names:
                continue
            k = names.index(who_)
            others = [j for j in range(len(names)) if j != k]
            if word == "most":
                d = bootstrap(lambda w, k=k, o=others: float(w[k].mean() - w[o].mean(-1).min()), W)
            else:
                d = bootstrap(lambda w, k=k, o=others: float(w[k].mean() - w[o].mean(-1).max()), W)
            parts.append(rule(d))
            head = head or d
            txt.append(f"{label(who_)} minus the {'best' if word == 'most' else 'worst'} other: {_pts(d)}")
    if parts:
        out.append(Claim.of("B-model-ranking", f"{px} px: {listing}; " + "; ".join(txt) + extra_txt, combine(parts),
                            "yes when DenseNet's wrong-rate is below every other of the five and SqueezeNet's above "
                            "(paired bootstrap over the images, whole interval); each part is judged where its "
                            f"model ran; {five_txt}", head, 100, "pts"))
    else:
        out.append(Claim("B-model-ranking", f"{px} px: {listing}{extra_txt}", NOT_TESTABLE,
                         f"needs DenseNet or SqueezeNet and another of the five; {five_txt}"))
    # Table 5: Pi = w / (p r a) with p, r, a the same for every model, so Pi ranks like w: a smaller Pi
    # should go with a higher (published) accuracy, i.e. a negative rank correlation of Pi and top-1
    acc = np.asarray([(published_top1(n) or (None, np.nan))[1] for n in names], dtype=float)
    checked = "; top-1 on the images checked: " + ", ".join(f"{label(n)} {100 * top1[n]:.1f} %" for n in ran
                                                             if n in top1) if top1 else ""
    if np.isfinite(acc).sum() >= 3:
        rho = bootstrap(lambda w: spearman(w.mean(-1), acc, nan_policy="propagate"), W)
        out.append(Claim.of("B-pi-ranking", f"Spearman ρ(Pi, published top-1) = {rho.fmt(1, 2, sign=True)} over "
                                            f"{len(names)} of the five (torchvision's published top-1: "
                                            f"{', '.join(f'{label(n)} {a:.1f} %' for n, a in zip(names, acc))}"
                                            f"{checked}){extra_txt}",
                            below(rho),
                            "Pi at 64 px (any value, whole image) differs between models only by w; yes when the "
                            "rank correlation with the models' published top-1 (the paper's note 1) is below 0 with "
                            f"its whole interval (bootstrap over the images); {five_txt}", rho))
    else:
        out.append(Claim("B-pi-ranking", listing + extra_txt, NOT_TESTABLE,
                         f"a rank correlation needs three of the five or more; {five_txt}"))
    return out


#: Experiment-1–4 claims whose rule names no model: judged on every model that ran (§6.1: "the other 4
#: models also showed sensitivity"); the ones that name a model (B-resnet-4-64) or compare the models
#: (:func:`claims_models`) are not.
PER_MODEL_IDS = ("B-more-pixels", "B-magnitude", "B-area", "B-area-fig10", "B-magnitude-vs-area", "B-fgsm-restore")


def per_model_verdicts(by_model: Mapping[str, list[Claim]], primary: str) -> list[Claim]:
    """The claims of the ``primary`` model (its headline: value, interval, text) with, for every claim of
    :data:`PER_MODEL_IDS`, the same rule's verdict on every model of ``by_model`` ({model name: its
    claims}) named in the reasons. When the models' verdicts disagree (not testable left out) the
    verdict is at most partly; with one model the claims are returned unchanged."""
    out = []
    for c in by_model[primary]:
        if c.id not in PER_MODEL_IDS or len(by_model) < 2:
            out.append(c)
            continue
        per = {m: x for m, cs in by_model.items() for x in cs if x.id == c.id}
        vs = {x.verdict for x in per.values() if x.verdict != NOT_TESTABLE}
        agree = len(vs) <= 1
        txt = "; ".join(f"{label(m)} {x.verdict}" + ("" if x.value is None else f" ({x.value:.1f} {x.unit})")
                        for m, x in per.items())
        out.append(dataclasses.replace(
            c, verdict=c.verdict if agree else at_most_partly(c.verdict),
            why=f"{c.why}; per model (the headline is {label(primary)}): {txt} — "
                + ("the models agree" if agree else "the models disagree, so at most partly")))
    return out


def judge_per_model(rule: Callable[..., list[Claim]], args: Mapping[str, tuple], primary: str) -> list[Claim]:
    """``rule(*args[m])`` for every model m (e.g. ``claims_exp2`` on each model's rows of the
    :func:`~robustlab.paper_b.experiments.per_model` table), combined by :func:`per_model_verdicts` with
    the ``primary`` model as the headline."""
    return per_model_verdicts({m: rule(*a) for m, a in args.items()}, primary)


def merge_claims(base: list[Claim], override: list[Claim]) -> list[Claim]:
    """``base`` with every claim whose id ``override`` also has replaced by override's, then the rest
    of ``override`` (each id once: e.g. the several-model B-64px-range replaces the one-model one)."""
    new = {c.id: c for c in override}
    out = [new.pop(c.id, c) for c in base]
    return out + list(new.values())
