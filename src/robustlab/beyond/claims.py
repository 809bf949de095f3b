"""Our own claims (not the papers'): the questions the papers left open, each with a rule fixed
before any number was seen. Their text lives in :data:`robustlab.book.checklist.CHECKLIST` (paper
"ours"); every rule reads paired 95 % intervals (:mod:`robustlab.core.claims`).

* ``X-premise-B`` — paper B's premise, "traditional data augmentation has no (obvious) effect on minor
  pixel changes": *yes* when every traditional model's wrong-rate at the largest test pixel count is
  the control's within ±:data:`PREMISE_MARGIN` (whole interval of the paired difference inside) **and**
  the few-pixel model (k = the largest of ``aug_pixel_counts``, paper B's 64) has fewer errors than the
  control (whole interval above 0); *no* when a traditional model is clearly outside the margin (not
  even its value inside) or the few-pixel model does not beat the control even by its value; else *partly*.
* ``X-beats-noise-A`` — paper A's question: "some augmentation beats σ = 0.1 noise on both accuracy
  under noise and Δ": an augmentation beats it on an architecture when both paired differences to the
  σ = 0.1 model (mean accuracy over the noise levels σ > 0, and Δ on the images broken in both) are
  above 0 with their whole interval; *yes* when one augmentation does so on every architecture,
  *partly* when one is ahead on both by value (or beats it) on at least one architecture, *no*
  otherwise.
* ``X-pixels-A`` — paper B's augmentation carried to paper A's nets: "few-pixel training lowers the
  wrong-rate under random pixel changes": the 4×-share few-pixel model's wrong-rate at the largest
  pixel count is below the σ = 0 model's (whole paired interval of σ0 − model above 0) on every
  architecture (:func:`robustlab.core.claims.exceeds`, combined with :func:`~robustlab.core.claims.combine`).
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from robustlab.core.claims import NOT_TESTABLE, Claim, combine, exceeds, graded, within
from robustlab.core.stats import Estimate

__all__ = ["PREMISE_MARGIN", "premise_verdict", "beats_noise_verdict", "claim_premise", "claim_beats_noise",
           "claim_pixels_a"]

#: "No effect" means: within ±5 points of the control's wrong-rate (fixed in advance: a fifth of the
#: effect paper B reports for its few-pixel model at 64 pixels, and wider than the interval of a few
#: hundred images, so that "no effect" can be shown, not only failed to be refuted).
PREMISE_MARGIN = 0.05


def premise_verdict(traditional: Mapping[str, Estimate], few_pixel: Estimate,
                    margin: float = PREMISE_MARGIN) -> str:
    """The ``X-premise-B`` rule. ``traditional``: {name: effect vs the control}, ``few_pixel``: the
    few-pixel model's effect; effects are wrong-rate(control) − wrong-rate(model) as fractions."""
    if not traditional or not np.isfinite(few_pixel.value):
        return NOT_TESTABLE
    trad = [within(e, margin) for e in traditional.values()]
    few = exceeds(few_pixel, 0.0)
    if NOT_TESTABLE in trad or few == NOT_TESTABLE:
        return NOT_TESTABLE
    # one traditional model clearly outside the margin refutes "no effect", whatever the others do
    return graded(all(t == "yes" for t in trad) and few == "yes", partly="no" not in trad and few != "no")


def beats_noise_verdict(diffs: Mapping[str, Mapping[str, tuple[Estimate, Estimate]]]) -> tuple[str, str]:
    """The ``X-beats-noise-A`` rule. ``diffs``: {augmentation: {arch: (noise-accuracy difference,
    Δ difference)}}, both "augmentation − σ = 0.1 model". Returns (verdict, the best augmentation)."""
    best, best_rank = "", -1
    rank = {"no": 0, "partly": 1, "yes": 2}
    for aug, per_arch in diffs.items():
        per = []
        for dn, dd in per_arch.values():
            if not (np.isfinite(dn.value) and np.isfinite(dd.value)):
                continue
            both_yes = exceeds(dn) == "yes" and exceeds(dd) == "yes"
            per.append(graded(both_yes, dn.value > 0 and dd.value > 0))
        if not per:
            continue
        v = combine(per)
        if rank[v] > best_rank:
            best, best_rank = aug, rank[v]
    if best_rank < 0:
        return NOT_TESTABLE, ""
    return {0: "no", 1: "partly", 2: "yes"}[best_rank], best


def claim_premise(effects, few_pixel_name: str, margin: float = PREMISE_MARGIN) -> Claim:
    """``X-premise-B`` from part 2's :func:`robustlab.beyond.imagenet.effects` table (at its largest
    pixel count)."""
    top = int(effects["n_pixels"].max())
    at = effects[effects["n_pixels"] == top]
    trad = {r.model: r.estimate for r in at.itertuples() if r.kind == "transform"}
    few = at[at["model"] == few_pixel_name]
    fe = few.iloc[0]["estimate"] if len(few) else Estimate(float("nan"), float("nan"), float("nan"))
    v = premise_verdict(trad, fe, margin)
    ours = (f"at {top} px, wrong-rate vs the control (pts, + = fewer errors): "
            + "; ".join(f"{k} {e.fmt(100, 1, sign=True)}" for k, e in trad.items())
            + f"; few-pixel {few_pixel_name} {fe.fmt(100, 1, sign=True)}")
    why = (f"rule fixed in advance: yes when every traditional model is within ±{100 * margin:g} pts of the "
           f"k = 0 control with its whole paired 95 % interval and the few-pixel model ({few_pixel_name}) beats "
           f"the control with its whole interval; no when a traditional model is outside ±{100 * margin:g} pts "
           f"even by its value, or the few-pixel model does not beat the control by its value; else partly. "
           f"±{100 * margin:g} pts = a fifth of paper B's reported few-pixel effect")
    return Claim.of("X-premise-B", ours, v, why, fe, 100, "pts") if np.isfinite(fe.value) else Claim(
        "X-premise-B", ours, v, why)


def claim_beats_noise(diffs: Mapping[str, Mapping[str, tuple[Estimate, Estimate]]]) -> Claim:
    """``X-beats-noise-A`` (see :func:`beats_noise_verdict`); the headline number is the best
    augmentation's noise-accuracy difference on the first architecture, in points."""
    v, best = beats_noise_verdict(diffs)
    parts = []
    for aug, per in diffs.items():
        parts.append(f"{aug}: " + ", ".join(f"{a} noise acc {dn.fmt(100, 1, sign=True)} pts, Δ "
                                              f"{dd.fmt(1, 2, sign=True)}" for a, (dn, dd) in per.items()))
    ours = (f"best: {best}. " if best else "") + "; ".join(parts)
    why = ("rule fixed in advance: an augmentation beats σ = 0.1 noise on an architecture when both paired "
           "differences (mean accuracy over the noise levels σ > 0, bootstrap over the test images; Δ on the "
           "images broken in both, bootstrap over them) are above 0 with their whole 95 % interval; yes when "
           "one augmentation does so on every architecture, partly when one is ahead on both by value (or beats "
           "it) on at least one architecture, no otherwise")
    if best:
        dn = next(iter(diffs[best].values()))[0]
        if np.isfinite(dn.value):
            return Claim.of("X-beats-noise-A", ours, v, why, dn, 100, "pts")
    return Claim("X-beats-noise-A", ours, v, why)


def claim_pixels_a(effects: Mapping[str, Estimate], model: str, n_pixels: int) -> Claim:
    """``X-pixels-A``: ``effects`` = {arch: wrong-rate(σ = 0) − wrong-rate(few-pixel model)} at
    ``n_pixels`` pixels (fractions; positive = fewer errors with the augmentation)."""
    per = {a: exceeds(e, 0.0) for a, e in effects.items()}
    v = combine(per.values()) if per else NOT_TESTABLE
    ours = "; ".join(f"{a}: {e.fmt(100, 1, sign=True)} pts fewer wrong ({per[a]})" for a, e in effects.items())
    why = (f"rule fixed in advance: per architecture, the {model} model's wrong-rate at {n_pixels} random pixels "
           "is below the σ = 0 model's with the whole paired 95 % interval (yes), by value only (partly) or not "
           "(no); all architectures yes → yes, none yes or partly → no, else partly")
    first = next(iter(effects.values()), None)
    if first is not None and np.isfinite(first.value):
        return Claim.of("X-pixels-A", f"{model} vs σ = 0 — " + ours, v, why, first, 100, "pts")
    return Claim("X-pixels-A", f"{model} vs σ = 0 — " + ours, v, why)
