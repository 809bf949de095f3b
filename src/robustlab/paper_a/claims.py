"""Paper A's claims with *our* numbers and verdicts: the data (§2.1), the modules' parameters
(Fig. 2), the noise and blur grids (Figs. 4, 6) and the minimal adversarial change (Figs. 5, 7).

Every function returns :class:`robustlab.core.claims.Claim` records (id, ours, verdict, why, and the
headline number with its 95 % interval); the paper's statements are in
:data:`robustlab.book.checklist.CHECKLIST`. The rules (stated in each ``why``, their constants below)
are fixed in advance, not tuned to the result, and every one can say yes, partly or no:

* accuracies come as per-image correctness (paired: every model sees the same test images and
  corruption draws); a difference between cells is read with its interval from
  :func:`robustlab.core.stats.estimate` (t over seed replicates when there are ≥ 2, else a paired
  bootstrap over the images): "same" = :func:`~robustlab.core.claims.within` ±:data:`MARGIN`,
  "higher"/"drop" = :func:`~robustlab.core.claims.exceeds`/:func:`~robustlab.core.claims.below`;
* identity blurs (σ < 0.125 px) are the σ = 0 model and level: never counted, and the σ = 0 model,
  which appears under both kinds, counts once;
* the attack (Δ) claims use only models clearly above chance (:data:`CHANCE_FLOOR`) with enough
  successful attacks (:data:`MIN_SUCCESS`), and means over architectures use the same (kind, σ) for
  every architecture; each claim's ``why`` names the models left out.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np

from robustlab.core.claims import (
    BY_CONSTRUCTION,
    NOT_TESTABLE,
    Claim,
    at_most_partly,
    below,
    combine,
    exceeds,
    graded,
    within,
)
from robustlab.core.stats import LEVEL, Estimate, estimate, over_seeds, spearman, wilson
from robustlab.core.stats import N_BOOT as _N_BOOT
from robustlab.paper_a.grid import is_duplicate
from robustlab.paper_a.nets import module_counts

__all__ = ["MARGIN", "CHANCE", "CHANCE_FLOOR", "MIN_SUCCESS", "DELTA_MARGIN", "ARCH_SPREAD", "SMALL_PCT",
           "COMPARES_MODELS", "one_seed_cap", "NORM_METRICS", "with_rms", "both_norms",
           "data_claims", "module_claims", "fig4_claims", "fig6_claims", "delta_claims", "clean_correctness",
           "conclusion_claims", "readings_sentence"]


# ------------------------------------------------------------------------------ §2.1 and Fig. 2
def data_claims(train, test, jpeg_mae_pm1: float | None = None) -> list[Claim]:
    """§2.1: CIFAR-10's sizes and class balance, counted from the loaded ``train`` / ``test`` sets
    (``.images`` N×32×32×3, ``.labels``). ``jpeg_mae_pm1``: the pixels' mean abs error on [-1, 1]
    when the source is JPEG-recompressed (None when it is not)."""
    tr = np.bincount(train.labels, minlength=10)[:10].tolist()
    te = np.bincount(test.labels, minlength=10)[:10].tolist()
    ok = (len(train) == 50000 and len(test) == 10000 and set(tr) == {5000} and set(te) == {1000}
          and list(train.images.shape[1:]) == [32, 32, 3])
    jpeg = jpeg_mae_pm1 is not None
    why = (("counts, size and classes match; the pixels are JPEG-recompressed (mean abs error ≈ "
            f"{jpeg_mae_pm1:.3f} on [-1, 1])" if jpeg else "counted from the files") if ok
           else "the counts differ from the paper's")
    return [Claim("A-data", f"{len(train):,} / {len(test):,}; per class {sorted(set(tr))} / {sorted(set(te))}; "
                            f"images {tuple(train.images.shape[1:])}",
                  graded(ok and not jpeg, ok), why)]


def module_claims(rows: Iterable[Mapping] | None = None) -> list[Claim]:
    """Fig. 2: conv weights of one module at 256 feature maps, ours vs the paper, per architecture
    (``rows`` as :func:`robustlab.paper_a.nets.module_counts` gives them; computed when None)."""
    if rows is None:

        rows = module_counts()
    return [Claim(f"A-params-{r['arch']}", f"{r['ours']:,}", _params_verdict(r),
                  "conv weights counted from the built module"
                  + ("; the paper does not give the branch widths: ours were chosen so that the count is the "
                     "paper's, so the match holds by construction and is no evidence" if r["arch"] == "inception"
                     else ""))
            for r in rows]


#: Modules whose free widths were fitted to the paper's count (a match is "by construction").
FITTED_MODULES = ("inception",)


def _params_verdict(r: Mapping) -> str:
    if r["ours"] - r["paper"] != 0:
        return "no"
    return BY_CONSTRUCTION if r["arch"] in FITTED_MODULES else "yes"


# ------------------------------------------------------------------------------ rules fixed in advance
#: "The same accuracy": the difference's 95 % interval lies inside ±3 accuracy points (equivalence).
MARGIN = 0.03
#: CIFAR-10's chance accuracy, and the floor the lower end of every replicate's clean-accuracy Wilson
#: 95 % interval must clear for a model to enter the attack (Δ) claims.
CHANCE, CHANCE_FLOOR = 0.10, 0.15
#: Fewest successful attacks (per replicate) for a model's mean Δ to count.
MIN_SUCCESS = 10
#: "The same Δ": the relative difference's interval inside ±10 % of the reference model's Δ.
DELTA_MARGIN = 0.10
#: "Similar Δ across architectures": largest / smallest architecture mean − 1 below 25 %.
ARCH_SPREAD = 0.25
#: "Even a change of 2.5 of the pixel value is only a change of 1 %": the mean Δ below the paper's own
#: figure, 2.5 of 255 (≈ 0.98 % of the 8-bit range).
SMALL_PCT = 100 * 2.5 / 255
#: Claims that compare trained models (σ_train levels, architectures): with one training seed their
#: interval covers the test images but not training luck, so they are at most "partly".
COMPARES_MODELS = ("A-noise-001", "A-noise-drop", "A-noise-small-helps", "A-noise-archs", "A-noise-at-least",
                   "A-blur-05", "A-blur-inception", "A-blur-archs", "A-adv-noise", "A-adv-noise-high", "A-adv-blur",
                   "A-adv-archs", "A-conclusion-01", "A-adv-low-acc", "A-conclusion-01-both", "A-conclusion-archs")
ONE_SEED = ("one training seed: the interval covers the test images, not the seed-to-seed luck of training "
            "(which can be as large as the margin), so yes is capped at partly")
#: Fewest models for a correlation across models.
MIN_MODELS = 4
#: Bootstrap resamples of every interval here (tests lower it).
N_BOOT = _N_BOOT

_SAME = (f"'same' = the difference's 95 % interval inside ±{100 * MARGIN:g} accuracy points (margin fixed in "
         "advance); ")
_CI = ("intervals: t over the seed replicates when there are ≥ 2, else a paired bootstrap over the test images "
       "(every model sees the same images and corruption draws)")


def one_seed_cap(claims: list[Claim], n_seeds: int) -> list[Claim]:
    """``claims`` with every claim of :data:`COMPARES_MODELS` at most "partly" and its ``why`` saying
    so when the models were trained with one seed (``n_seeds`` < 2)."""
    if n_seeds >= 2:
        return claims
    return [dataclasses.replace(c, verdict=at_most_partly(c.verdict), why=f"{ONE_SEED}; {c.why}")
            if c.id in COMPARES_MODELS and c.verdict != NOT_TESTABLE else c for c in claims]


def _est(stat, *arrays, what: str = "images") -> Estimate:
    return estimate(stat, *arrays, n_boot=int(N_BOOT), what=what)


def _mean(x) -> float:
    return float(np.mean(x))


def _pts(e: Estimate) -> str:
    return e.fmt(100, 1, " pts", sign=True)


def _rel(e: Estimate) -> str:
    return e.fmt(100, 1, " %", sign=True)


# A check: (label, estimate, verdict, slack) — slack = how far the value lies on the claim's side of its
# threshold (the smallest slack is the check that decides, shown as the claim's headline).
def _exceeds(label, e, m=0.0):
    return label, e, exceeds(e, m), e.value - m


def _below(label, e, m=0.0):
    return label, e, below(e, m), m - e.value


def _within(label, e, m):
    return label, e, within(e, m), m - abs(e.value)


def _halves(*verdicts: str) -> str:
    """A claim of several parts: as :func:`combine`, but "yes" only when every part could be tested."""
    t = [v for v in verdicts if v != NOT_TESTABLE]
    if not t:
        return NOT_TESTABLE
    c = combine(t)
    return "partly" if c == "yes" and len(t) < len(verdicts) else c


def _claim(id_: str, checks, why: str, fmt=_pts, prefix: str = "", verdict_: str | None = None,
           scale: float = 100, unit: str = "pts", empty: str = "not in this run", suffix: str = "") -> Claim:
    """A claim from its checks: ours lists every check's number with its interval, the verdict is
    :func:`combine` of theirs (or ``verdict_``), the headline is the deciding check (least slack)."""
    live = [c for c in checks if c[2] != NOT_TESTABLE and np.isfinite(c[3])]
    v = verdict_ if verdict_ is not None else combine(c[2] for c in checks)
    if not live:
        return Claim(id_, prefix + empty, NOT_TESTABLE if verdict_ is None else v, why)
    ours = prefix + "; ".join(f"{lab} {fmt(e)} ({vv})" for lab, e, vv, _ in checks) + suffix
    head = min(live, key=lambda c: c[3])[1]
    return Claim.of(id_, ours, v, why, head, scale, unit)


# ------------------------------------------------------------------------------ Figs. 4 and 6
def _levels(kind: str, sigmas) -> list[int]:
    """Indices of the distinct levels, by increasing σ: each σ once, identity blurs (the σ = 0 model
    and level, :func:`robustlab.paper_a.grid.is_duplicate`) never."""

    first: dict[float, int] = {}
    for i, s in enumerate(sigmas):
        if not is_duplicate(kind, float(s)):
            first.setdefault(float(s), i)
    return [first[s] for s in sorted(first)]


def _at(sig, levels, s):
    return next((i for i in levels if abs(sig[i] - s) < 1e-12), None)


def _n_seeds(C: Mapping) -> int:
    """Training seeds behind a grid ``{arch: (n_seeds, S, S, n_test)}`` (the fewest over the architectures)."""
    return min(int(c.shape[0]) for c in C.values()) if C else 0


def _grid(correct, archs, n_sig: int) -> dict[str, np.ndarray]:
    out = {}
    for a in archs:
        c = np.asarray(correct[a]).astype(bool, copy=False)
        if c.ndim != 4 or c.shape[1:3] != (n_sig, n_sig):
            raise ValueError(f"correct[{a!r}]: shape {c.shape}, expected (n_seeds, {n_sig}, {n_sig}, n_test)")
        out[a] = c
    if len({c.shape[-1] for c in out.values()}) > 1:
        raise ValueError("correct: the architectures were evaluated on different numbers of test images")
    return out


def _cells(c, cells) -> np.ndarray:
    """(n_seeds, len(cells), n_test) correctness of the given (row, column) cells."""
    return c[:, [i for i, _ in cells], [j for _, j in cells], :]


def _avg(c, cells) -> np.ndarray:
    """(n_seeds, n_test): per test image, the mean correctness over ``cells``."""
    return _cells(c, cells).mean(axis=1, dtype=np.float64)


def _diff(c, cells_a, cells_b) -> np.ndarray:
    return _avg(c, cells_a) - _avg(c, cells_b)


def _frac(x, axis=None):
    """Mean of a correctness array (fast for bool)."""
    if x.dtype == bool:
        n = x.size if axis is None else x.shape[axis]
        return np.count_nonzero(x, axis=axis) / n
    return np.mean(x, axis=axis)


def _best_minus_max(d, o) -> float:
    """Accuracy of cell ``d`` minus the best of the cells ``o`` (…, k, n_test)."""
    return float(_frac(d) - np.max(_frac(o, -1)))


def _arch_claim(id_: str, C: dict, cells, what: str) -> Claim:
    archs = list(C)
    why = (f"{_SAME}each pair of architectures: mean accuracy over the {what} (every distinct cell) of one "
           f"minus the other's; yes when every pair is the same, no when none is; {_CI}")
    if len(archs) < 2:
        return Claim(id_, "only one architecture in this run", NOT_TESTABLE, why)
    checks = [_within(f"{a} − {b}", _est(_mean, _avg(C[a], cells) - _avg(C[b], cells)), MARGIN)
              for x, a in enumerate(archs) for b in archs[x + 1:]]
    return _claim(id_, checks, why, prefix=f"mean accuracy over the {what}: ")


def fig4_claims(correct: Mapping, sigmas, archs) -> list[Claim]:
    """Paper A's Fig. 4 statements (and §3's "train with at least the expected noise") from the noise
    grid. ``correct``: {arch: bool array (n_seeds, S, S, n_test)}, [r, i, j, t] = replicate r of the
    model trained at ``sigmas[i]`` classifies test image t, noised at ``sigmas[j]``, correctly."""
    sig = [float(s) for s in sigmas]
    C = _grid(correct, archs, len(sig))
    L = _levels("noise", sig)
    i0, i001, i01 = (_at(sig, L, s) for s in (0.0, 0.01, 0.1))
    out = []

    # 1. σ = 0.01 behaves like no noise, for training and for evaluation
    checks = []
    if i0 is not None and i001 is not None:
        for a, c in C.items():
            tr = _est(_mean, _diff(c, [(i001, j) for j in L], [(i0, j) for j in L]))
            ev = _est(_mean, _diff(c, [(i, i001) for i in L], [(i, i0) for i in L]))
            checks += [_within(f"{a} training", tr, MARGIN), _within(f"{a} evaluation", ev, MARGIN)]
    out.append(_claim("A-noise-001", checks, _SAME + "training: the σ_train 0.01 model minus the σ_train 0 model, "
                      "mean over every σ_eval; evaluation: σ_eval 0.01 minus σ_eval 0, mean over every model; "
                      "yes when both are the same for every architecture; " + _CI,
                      prefix="accuracy with σ 0.01 minus with σ 0: ", empty="σ 0 or 0.01 not in this run"))

    # 2. from σ_train = 0.1 on, the evaluation set with the training σ is the best
    checks = []
    for a, c in C.items():
        for i in (i for i in L if sig[i] >= 0.1 - 1e-12):
            e = _est(_best_minus_max, _cells(c, [(i, i)])[:, 0], _cells(c, [(i, j) for j in L if j != i]))
            checks.append(_exceeds(f"{a} σ_train {sig[i]:g}", e, -MARGIN))
    out.append(_claim("A-noise-diagonal", checks,
                      f"per row σ_train ≥ 0.1: accuracy at σ_eval = σ_train minus the best other σ_eval of the row; "
                      f"a row is yes when the interval lies above −{100 * MARGIN:g} pts (not worse than the row's "
                      f"best by more than the margin), no when the value is below it; {_CI}",
                      prefix="diagonal minus the row's best other cell: ", empty="no σ_train ≥ 0.1 in this run"))

    # 3. "Starting with a model trained on σ = 0.1 ... the overall accuracy of the model starts to drop":
    # the model's overall accuracy (mean over every σ_eval) is flat below σ_train 0.1 and lower than
    # σ_train 0's from 0.1 on; the clean accuracy (σ_eval 0) is the other reading, shown beside
    checks, per_arch, per_arch_clean = [], [], []
    if i0 is not None and i01 is not None:
        for a, c in C.items():
            for reading, cols in (("overall", list(L)), ("clean", [i0])):
                flat = [_within(f"{a} {reading} σ_train {sig[i]:g} − 0",
                                _est(_mean, _diff(c, [(i, j) for j in cols], [(i0, j) for j in cols])), MARGIN)
                        for i in L if 0 < sig[i] < 0.1 - 1e-12]
                drop = [_exceeds(f"{a} {reading} σ_train 0 − {sig[i]:g}",
                                 _est(_mean, _diff(c, [(i0, j) for j in cols], [(i, j) for j in cols])))
                        for i in L if sig[i] >= 0.1 - 1e-12]
                start = drop[0][2]  # σ_train 0.1: where the drop starts
                v = ("no" if start in ("no", NOT_TESTABLE) else
                     _halves(combine(f[2] for f in flat) if flat else NOT_TESTABLE, combine(d[2] for d in drop)))
                (per_arch if reading == "overall" else per_arch_clean).append(v)
                checks += flat + drop
    v_all = combine(per_arch) if per_arch else None
    v_clean = combine(per_arch_clean) if per_arch_clean else None
    out.append(_claim("A-noise-drop", checks,
                      _SAME + "'the overall accuracy of the model starts to drop' from σ_train 0.1 on, read two "
                      "ways: the model's overall accuracy = its mean over every σ_eval (its whole row of the "
                      f"matrix; verdict {v_all}) and its clean accuracy (σ_eval 0; verdict {v_clean}); per "
                      "reading and architecture: flat = every σ_train in (0, 0.1) the same as σ_train 0 (before "
                      "the start); drop = σ_train 0 minus every σ_train ≥ 0.1 above 0 (interval), starting at "
                      "0.1; no when there is no drop at σ_train 0.1, yes when flat and every drop, else partly; "
                      "the verdict combines both readings (yes only when both say yes, no when both say no): "
                      "the paper's wording does not settle which is meant; " + _CI,
                      prefix="accuracy differences: ",
                      verdict_=combine([v_all, v_clean]) if per_arch else None,
                      empty="σ 0 or 0.1 not in this run"))

    # 4. small noise (σ_train 0.1): no harm on clean data, gain on slightly noisy data (0 < σ_eval ≤ 0.5)
    checks, per_arch = [], []
    small = [j for j in L if 0 < sig[j] <= 0.5 + 1e-12]
    if i0 is not None and i01 is not None and small:
        for a, c in C.items():
            harm = _within(f"{a} clean", _est(_mean, _diff(c, [(i01, i0)], [(i0, i0)])), MARGIN)
            gain = _exceeds(f"{a} 0 < σ_eval ≤ 0.5",
                            _est(_mean, _diff(c, [(i01, j) for j in small], [(i0, j) for j in small])))
            checks += [harm, gain]
            per_arch.append(combine([harm[2], gain[2]]))
    out.append(_claim("A-noise-small-helps", checks,
                      _SAME + "σ_train 0.1 minus σ_train 0: no harm = the clean accuracies the same; gain = the "
                      "mean over 0 < σ_eval ≤ 0.5 (the paper calls σ 1 and 5 'very high') above 0; per "
                      "architecture yes when both, no when neither; " + _CI,
                      prefix="σ_train 0.1 minus σ_train 0: ", verdict_=combine(per_arch) if per_arch else None,
                      empty="σ 0 or 0.1 not in this run"))

    # 5. architectures alike
    cells = [(i, j) for i in L for j in L]
    out.append(_arch_claim("A-noise-archs", C, cells, "noise matrix"))

    # 6. §3: train with at least the noise expected in the application (the lower triangle)
    checks = []
    for a, c in C.items():
        for j in (j for j in L if sig[j] > 0):
            under = [(i, j) for i in L if sig[i] < sig[j]]
            e = _est(_best_minus_max, _cells(c, [(j, j)])[:, 0], _cells(c, under))
            checks.append(_exceeds(f"{a} σ_eval {sig[j]:g}", e, 0.0 if sig[j] >= 0.1 - 1e-12 else -MARGIN))
    out.append(_claim("A-noise-at-least", checks,
                      "per σ_eval > 0: accuracy of the model trained with σ_train = σ_eval minus the best model "
                      "trained with less noise (σ_train < σ_eval); for σ_eval ≥ 0.1 it must be higher (interval "
                      f"above 0), for σ_eval < 0.1 (where the paper finds noise behaves like none) not lower by "
                      f"more than {100 * MARGIN:g} pts; yes when every column holds for every architecture; "
                      + _CI, prefix="matched model minus the best less-noisy model: ",
                      empty="no σ_eval > 0 in this run"))
    return one_seed_cap(out, _n_seeds(C))


def fig6_claims(correct: Mapping, sigmas, archs, eval_kind: str = "blur") -> list[Claim]:
    """Paper A's Fig. 6 statements from the blur grid (``correct`` as in :func:`fig4_claims`). Identity
    blurs (σ < 0.125 px) are the σ = 0 model and level: their rows and columns are never counted, so no
    duplicate counts as a model of its own or makes "flat" automatic.

    ``eval_kind``: the corruption of the test images (the columns). "blur" is the text's reading (§3:
    the blur-trained models on blurred images); "noise" is Fig. 6's caption's (the blur-trained models
    on noisy images: ``correct`` from :func:`robustlab.paper_a.grid.cross_cells`), where every noise
    level is a column of its own."""
    sig = [float(s) for s in sigmas]
    C = _grid(correct, archs, len(sig))
    L = _levels("blur", sig)
    LE = _levels(eval_kind, sig)
    i0 = _at(sig, L, 0.0)
    dup = sorted({sig[i] for i in range(len(sig)) if i not in L and sig[i] > 0})
    dup_txt = (f"identity blurs σ {', '.join(f'{s:g}' for s in dup)} (the σ 0 model) are left out; " if dup else "")
    out = []

    checks, per_arch = [], []
    if i0 is not None:
        for a, c in C.items():
            flat = [_within(f"{a} σ_train {sig[i]:g} − 0", _est(_mean, _diff(c, [(i, i0)], [(i0, i0)])), MARGIN)
                    for i in L if 0 < sig[i] <= 0.5 + 1e-12]
            drop = [_exceeds(f"{a} 0 − σ_train {sig[i]:g}", _est(_mean, _diff(c, [(i0, i0)], [(i, i0)])))
                    for i in L if sig[i] > 0.5 + 1e-12]
            checks += flat + drop
            per_arch.append(_halves(combine(f[2] for f in flat), combine(d[2] for d in drop)))
    out.append(_claim("A-blur-05", checks,
                      _SAME + dup_txt + "clean accuracy (σ_eval 0): flat = every distinct σ_train in (0, 0.5] the "
                      "same as σ_train 0; drop = every σ_train above 0.5 below σ_train 0 (interval above 0); "
                      "yes when both hold for every architecture, partly when one does (or one cannot be "
                      "tested); " + _CI, prefix="clean accuracy differences: ",
                      verdict_=combine(per_arch) if per_arch else None, empty="σ 0 not in this run"))

    cells = [(i, j) for i in L for j in LE]
    mat = "blur matrix" if eval_kind == "blur" else f"matrix of the blur models on {eval_kind} levels"
    why = (dup_txt + f"mean accuracy over the distinct {mat}: Inception minus each other architecture must be "
           f"above 0 (best) and ResNet minus ResNeXt the same (±{100 * MARGIN:g} pts); yes when both, partly when "
           "one; " + _CI)
    if "inception" in C and len(C) > 1:
        best = [_exceeds(f"inception − {b}", _est(_mean, _avg(C["inception"], cells) - _avg(C[b], cells)))
                for b in C if b != "inception"]
        alike = ([_within("resnet − resnext", _est(_mean, _avg(C["resnet"], cells) - _avg(C["resnext"], cells)),
                          MARGIN)] if "resnet" in C and "resnext" in C else [])
        out.append(_claim("A-blur-inception", best + alike, why, prefix=f"mean accuracy over the {mat}: ",
                          verdict_=_halves(combine(b[2] for b in best),
                                           combine(x[2] for x in alike) if alike else NOT_TESTABLE)))
    else:
        out.append(Claim("A-blur-inception", "Inception and another architecture are not both in this run",
                         NOT_TESTABLE, why))
    out.append(_arch_claim("A-blur-archs", C, cells, f"{mat} (identity blurs left out)"))
    return one_seed_cap(out, _n_seeds(C))


def readings_sentence(text: list[Claim], caption: list[Claim]) -> str:
    """One sentence setting Fig. 6's claims under the caption's reading (``caption``: the blur models on
    noise levels) beside the text's (``text``: on blur levels, the verdicts that count)."""
    cap = {c.id: c.verdict for c in caption}
    same = [c.id for c in text if cap.get(c.id) == c.verdict]
    moved = [f"{c.id} {c.verdict} → {cap[c.id]}" for c in text if c.id in cap and cap[c.id] != c.verdict]
    if not moved:
        return (f"Read as the caption says (the blur-trained models on noise levels), every Fig. 6 verdict is the "
                f"same as on blur levels ({', '.join(same)})")
    return (f"Read as the caption says (the blur-trained models on noise levels), the verdicts move: "
            f"{'; '.join(moved)} (text's reading → caption's)" + (f"; the same: {', '.join(same)}" if same else "")
            + ". The text's reading (blur levels) decides: its setup for blurry images is \"similar to the setup "
              "with noise\", whose models are tested on their own kind")


# ------------------------------------------------------------------------------ Figs. 5 and 7
@dataclass
class _Deltas:
    """The attacked models, each once: ``keys`` (arch, kind, σ) with kind "" for the shared σ = 0
    model; ``D`` (n_seeds, models, images) the change per attacked image, NaN where the image is
    misclassified or the attack failed; ``Z`` the same with 0 for a misclassified image;
    ``clean`` (n_seeds, models, n_test) clean correctness on the grid's test images (NaN: none);
    ``kept``: passed the chance and success rules; ``left_out`` {key: reason}; ``common`` the (kind, σ)
    kept for every architecture."""

    keys: list
    D: np.ndarray
    clean: np.ndarray | None
    n_success: np.ndarray
    n_correct: np.ndarray
    archs: list
    kept: list
    left_out: dict
    common: list
    #: (n_seeds, models, images): as ``D``, but 0 where the model already misclassifies the image (no
    #: change needed); NaN only where an attack on a correctly classified image failed.
    Z: np.ndarray | None = None

    def idx(self, key) -> int:
        return self.keys.index(key)

    def sel(self, kind: str, pred) -> list:
        """The common (kind, σ) of ``kind`` with ``pred(σ)`` (σ = 0: the shared model)."""
        return [(k, s) for k, s in self.common if pred(s) and (s == 0 or k == kind)]

    def models(self, sel, arch: str | None = None) -> list[int]:
        return [self.idx((a, k, s)) for a in self.archs if arch in (None, a) for k, s in sel]


def _key(arch, kind, s) -> tuple:
    s = float(s)
    return str(arch), ("" if s == 0 else str(kind)), s


def _ks(kind, s) -> str:
    return f"{kind} σ {s:g}".strip()


def _label(key) -> str:
    a, k, s = key
    return f"{a} {_ks(k, s)}"


def _sig_list(sel) -> str:
    return ", ".join(f"{s:g}" for _, s in sel)


def _deltas(df, clean_correct: Mapping, metric: str) -> _Deltas:
    d = df if "seed" in df.columns else df.assign(seed=0)
    seeds = sorted(set(int(x) for x in d["seed"]))
    images = sorted(set(d["image"].tolist()))
    pos = {im: n for n, im in enumerate(images)}
    groups: dict = {}
    for (a, k, s, r), g in d.groupby(["arch", "kind", "sigma_train", "seed"], sort=False):
        if is_duplicate(k, float(s)):
            continue  # an identity blur is the σ = 0 model
        groups.setdefault((_key(a, k, s), seeds.index(int(r))), g)  # σ = 0 under both kinds: once
    keys = list(dict.fromkeys(k for k, _ in groups))
    R, M = len(seeds), len(keys)
    D = np.full((R, M, len(images)), np.nan)
    Z = np.full((R, M, len(images)), np.nan)
    n_succ = np.full((R, M), np.nan)
    n_corr = np.full((R, M), np.nan)
    for (key, r), g in groups.items():
        m = keys.index(key)
        ok = g["success"].to_numpy(bool)
        D[r, m, [pos[i] for i in g["image"][ok]]] = g[metric].to_numpy(float)[ok]
        right = g["correct"].to_numpy(bool)
        Z[r, m, [pos[i] for i in g["image"]]] = np.where(ok, g[metric].to_numpy(float), np.where(right, np.nan, 0.0))
        n_succ[r, m], n_corr[r, m] = ok.sum(), right.sum()
    cc: dict = {}
    for (a, k, s), v in clean_correct.items():
        if not is_duplicate(k, float(s)):
            v = np.asarray(v, bool)
            cc.setdefault(_key(a, k, s), v[None] if v.ndim == 1 else v)
    T = {v.shape[-1] for key, v in cc.items() if key in keys}
    clean = None
    if len(T) == 1:
        clean = np.full((R, M, T.pop()), np.nan, dtype=np.float32)
        for m, key in enumerate(keys):
            if key in cc:
                n = min(R, len(cc[key]))
                clean[:n, m] = cc[key][:n]
    kept, left = [], {}
    for m, key in enumerate(keys):
        why = None
        if key not in cc:
            why = "no clean accuracy given"
        else:
            v = cc[key]
            lows = [wilson(int(x.sum()), x.size).lo for x in v]
            if min(lows) <= CHANCE_FLOOR:
                acc = (over_seeds(v.mean(axis=1)) if len(v) >= 2 else wilson(int(v.sum()), v.size))
                why = f"clean accuracy {acc.fmt(100, 1, ' %')} not clearly above chance"
        ns = n_succ[:, m][np.isfinite(n_succ[:, m])]
        if why is None and (len(ns) == 0 or ns.min() < MIN_SUCCESS):
            why = f"{int(ns.min()) if len(ns) else 0} successful attacks (< {MIN_SUCCESS})"
        kept.append(why is None)
        if why:
            left[key] = why
    archs = list(dict.fromkeys(str(a) for a in d["arch"]))
    ks = {(k, s) for (a, k, s), ok in zip(keys, kept) if ok}
    common = sorted((ks_ for ks_ in ks if all((a, *ks_) in keys and kept[keys.index((a, *ks_))] for a in archs)),
                    key=lambda x: (x[0], x[1]))
    return _Deltas(keys, D, clean, n_succ, n_corr, archs, kept, left, common, Z)


def _model_means(D) -> np.ndarray:
    """(…, models, images) → (…, models): mean over each model's successfully attacked images (NaN: none)."""
    ok = np.isfinite(D)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(ok, D, 0).sum(-1) / ok.sum(-1)


def _paired_means(D, idx: list[int]) -> np.ndarray:
    """(models, images) → the means of the models ``idx`` over the images where *every* one of them
    has a value (``D``: each classifies the image correctly and its attack moved it; ``Z``: no attack
    failed); NaN when fewer than :data:`MIN_SUCCESS` such images."""
    sub = D[idx]
    ok = np.isfinite(sub).all(0)
    if ok.sum() < MIN_SUCCESS:
        return np.full(len(idx), np.nan)
    return sub[:, ok].mean(-1)


def _ratio(a: list[int], b: list[int]):
    """Statistic: mean Δ over the models ``a`` / mean Δ over the models ``b`` − 1, every model's Δ
    taken over the same images (those where all of ``a`` and ``b`` have a value: paired)."""
    def stat(D):
        m = _paired_means(D, list(a) + list(b))
        with np.errstate(invalid="ignore", divide="ignore"):
            return float(np.mean(m[:len(a)]) / np.mean(m[len(a):]) - 1)
    return stat


def _dest(dd: _Deltas, stat) -> Estimate:
    """``stat`` on the changes of the correctly classified, moved images (:attr:`_Deltas.D`): decides."""
    return _est(stat, dd.D, what="attacked images")


def _zest(dd: _Deltas, stat) -> Estimate:
    """``stat`` with Δ = 0 for images a model already misclassifies (:attr:`_Deltas.Z`): shown beside."""
    return _est(stat, dd.Z, what="attacked images")


def _n_common(A: np.ndarray, idx: list[int]) -> int:
    """Images where every model ``idx`` has a value in every replicate of ``A`` (n_seeds, models, images)."""
    return int(np.isfinite(A[:, idx]).all(axis=(0, 1)).sum()) if idx else 0


def _variant(dd: _Deltas, checks: list, pairs: list) -> str:
    """The Δ = 0 variant of ratio checks: "; with Δ = 0 for …: label value, …" (``pairs``: the (a, b)
    model lists of each check, in order)."""
    if not checks:
        return ""
    idx = sorted({m for a, b in pairs for m in (*a, *b)})
    parts = [f"{lab} {_rel(_zest(dd, _ratio(a, b)))}" for (lab, *_), (a, b) in zip(checks, pairs)]
    return (f"; the same with Δ = 0 for an image a model already misclassifies (over {_n_common(dd.Z, idx)} of "
            f"{dd.D.shape[-1]} images): " + ", ".join(parts))


def _span(A: np.ndarray, levels: list[list[int]]) -> str:
    """"n" or "n–m": the number of common images of each group of models in ``levels``."""
    n = [_n_common(A, lv) for lv in levels]
    return (f"{min(n)}" if min(n) == max(n) else f"{min(n)}–{max(n)}") if n else "0"


def _on(dd: _Deltas, idx: list[int]) -> str:
    return f"on the {_n_common(dd.D, idx)} images every compared model classifies correctly and moves"


def _point(dd: _Deltas, stat) -> float:
    v = [stat(dd.D[r]) for r in range(len(dd.D))]
    v = [x for x in v if np.isfinite(x)]
    return float(np.mean(v)) if v else float("nan")


def _left_text(dd: _Deltas) -> str:
    rule = ("models kept: every replicate's clean accuracy has its Wilson 95 % interval above "
            f"{100 * CHANCE_FLOOR:g} % (chance {100 * CHANCE:g} %) and ≥ {MIN_SUCCESS} successful attacks; the σ 0 "
            "model counted once; means "
            "over architectures use only the (kind, σ) kept for every architecture. Paired Δ: a comparison of "
            "models takes every model's mean change over the same images — those that all the models compared "
            f"classify correctly and whose attacks all moved them (at least {MIN_SUCCESS}); this decides, as the "
            "paper's Δ is the change needed to alter a correct classification and a model's errors would otherwise "
            "enter its Δ. Beside it, the variant with Δ = 0 for an image a model already misclassifies, over every "
            "attacked image (less those where an attack on a correct image failed). Intervals: t over the seed "
            "replicates when there are ≥ 2, else a bootstrap over the attacked images, resampled jointly for every "
            "model. ")
    left = "; ".join(f"{_label(k)} ({w})" for k, w in dd.left_out.items())
    notall = [_label(k) for k, ok in zip(dd.keys, dd.kept) if ok and (k[1], k[2]) not in dd.common]
    return (rule + (f"Left out: {left}." if left else "No model left out.")
            + (f" Kept but not for every architecture (out of the means): {', '.join(notall)}." if notall else ""))


def _per_arch(dd: _Deltas, a_sel, b_sel) -> str:
    vals = [f"{a} {100 * _point(dd, _ratio(dd.models(a_sel, a), dd.models(b_sel, a))):+.0f} %" for a in dd.archs]
    return "per architecture " + ", ".join(vals)


def _acc_delta_rho(D, clean) -> float:
    """Spearman ρ of the models' clean accuracy and their Δ, every Δ over the same images (paired)."""
    with np.errstate(invalid="ignore"):
        return spearman(clean.mean(axis=-1), _paired_means(D, list(range(D.shape[0]))), min_n=MIN_MODELS)


def _bootstrap_two(stat, X, Y, what: str) -> Estimate:
    """``stat(X, Y)`` with a percentile bootstrap resampling the last axes of ``X`` (attacked images)
    and ``Y`` (test images) independently (two different sets of items); as :func:`stats.bootstrap`."""
    value = float(stat(X, Y))
    rng = np.random.default_rng(0)
    n, t = X.shape[-1], Y.shape[-1]
    draws = np.array([stat(X[..., rng.integers(0, n, n)], Y[..., rng.integers(0, t, t)]) for _ in range(int(N_BOOT))])
    ok = draws[np.isfinite(draws)]
    if len(ok) < len(draws) / 2 or not np.isfinite(value):
        return Estimate(value, float("nan"), float("nan"), what, n)
    lo, hi = np.quantile(ok, [(1 - LEVEL) / 2, (1 + LEVEL) / 2])
    return Estimate(value, float(lo), float(hi), what, n)


def _arch_spread(dd: _Deltas) -> tuple[Estimate, dict[str, float]]:
    """Largest / smallest architecture mean Δ − 1 over the common models (with its interval), each
    architecture's mean Δ, the Δ = 0 variant and the models compared. Paired per (kind, σ): the
    architectures' models of one level are compared on the images all of them classify correctly and
    move; an architecture's Δ is the mean over the levels."""
    levels = [dd.models([ks]) for ks in dd.common]  # per (kind, σ): its model of every architecture

    def arch_means(D):
        # each level's architectures compared on the images all of them classify correctly and move;
        # a level with too few such images is left out for every architecture alike
        m = np.array([_paired_means(D, lv) for lv in levels])  # (levels, archs)
        m = m[np.isfinite(m).all(1)]
        return m.mean(0) if len(m) else np.full(len(dd.archs), np.nan)

    def spread(D):
        v = arch_means(D)
        return float(v.max() / v.min() - 1)

    am = {a: _point(dd, lambda D, k=k: float(arch_means(D)[k])) for k, a in enumerate(dd.archs)}
    return _dest(dd, spread), am, _zest(dd, spread), levels


#: The Δ of each norm: the L∞ of the L∞-minimal change, and the per-pixel RMS of the L2-minimal change
#: (both in 8-bit units; "on average every pixel of an image has to be modified by the given delta").
NORM_METRICS = {"linf": "linf_8bit", "l2": "rms_8bit"}
NORM_NAMES = {"linf": "L∞ of the L∞-minimal change", "l2": "per-pixel RMS of the L2-minimal change"}
#: Values per CIFAR-10 image (32 × 32 × 3): the RMS per pixel and channel is L2 / √D.
D_IN = 32 * 32 * 3


def with_rms(df):
    """``df`` (a :func:`robustlab.paper_a.delta.run_all` table; ``l2`` on the [-1, 1] input scale) with
    ``rms_8bit``: the root mean square change per pixel and channel, in 8-bit units."""
    return df.assign(rms_8bit=df["l2"] * (255.0 / 2.0) / np.sqrt(D_IN))


def both_norms(by_norm: Mapping[str, list[Claim]]) -> list[Claim]:
    """One claim per id from the claims decided on each norm (``{"linf": [...], "l2": [...]}``): the
    verdict is each norm's when they agree; a verdict that depends on the norm is at most "partly"
    (yes only when both say yes; not testable on one norm: at most partly); *ours* gives both."""
    norms = [n for n in ("linf", "l2") if n in by_norm]
    if len(norms) == 1:
        return list(by_norm[norms[0]])
    first, second = ({c.id: c for c in by_norm[n]} for n in norms)
    out = []
    for c in by_norm[norms[0]]:
        d = second.get(c.id)
        if d is None:
            out.append(c)
            continue
        v = c.verdict if c.verdict == d.verdict else _halves(c.verdict, d.verdict)
        ours = (c.ours if c.ours == d.ours else
                f"{NORM_NAMES[norms[0]]}: {c.ours} ‖ {NORM_NAMES[norms[1]]}: {d.ours}")
        why = (f"decided on both norms ({norms[0]}: {c.verdict}; {norms[1]}: {d.verdict}); a verdict that depends "
               f"on the norm is at most partly; the headline is the {NORM_NAMES[norms[0]]}; " + c.why)
        out.append(dataclasses.replace(c, ours=ours, verdict=v, why=why))
    return out


def delta_claims(df, clean_correct: Mapping, metric: str = "linf_8bit", df_l2=None) -> list[Claim]:
    """Paper A's claims on Figs. 5/7, decided on the L∞ of the L∞-minimal change (``df``, ``metric``)
    and, when ``df_l2`` (the L2 attack's table) is given, also on the per-pixel RMS of the L2-minimal
    change; the two are merged by :func:`both_norms`. Arguments otherwise as :func:`_delta_claims`."""
    out = {"linf": _delta_claims(df, clean_correct, metric)}
    if df_l2 is not None:
        out["l2"] = _delta_claims(with_rms(df_l2), clean_correct, NORM_METRICS["l2"])
    return both_norms(out)


def _delta_claims(df, clean_correct: Mapping, metric: str = "linf_8bit") -> list[Claim]:
    """Paper A's claims on Figs. 5/7 from ``df`` (the per-(model, image) table of
    :func:`robustlab.paper_a.delta.run_all`, with an optional ``seed`` column) and ``clean_correct``
    {(arch, kind, σ_train): bool (n_seeds, n_test)}, each model's correctness on the clean test images
    (:func:`clean_correctness`), for the chance rule. Changes: ``metric`` in 8-bit units."""
    dd = _deltas(df, clean_correct, metric)
    left = _left_text(dd)
    out = []
    base = dd.sel("noise", lambda s: s == 0)
    small = dd.sel("noise", lambda s: 0 < s <= 0.1 + 1e-12)

    # noise: small σ needs a slightly larger change than σ = 0
    why = ("Δ(σ_train 0.01–0.1 noise models) / Δ(σ 0) − 1, mean over architectures; yes when the interval lies "
           "above 0, no when the value is not; " + left)
    if base and small:
        a_, b_ = dd.models(small), dd.models(base)
        e = _dest(dd, _ratio(a_, b_))
        out.append(Claim.of("A-adv-noise", f"Δ(noise σ {_sig_list(small)}) / Δ(σ 0) − 1 = {_rel(e)} "
                                           f"({_on(dd, a_ + b_)}; {_per_arch(dd, small, base)})"
                                           + _variant(dd, [("small-noise / σ 0",)], [(a_, b_)]),
                            exceeds(e), why, e, 100, "%"))
    else:
        out.append(Claim("A-adv-noise", "σ 0 or no small-noise model kept for every architecture", NOT_TESTABLE, why))

    # noise: σ ≥ 1 needs less than the small-noise models
    high = dd.sel("noise", lambda s: s >= 1)
    pairs = [(dd.models([(k, s)]), dd.models(small)) for k, s in high] if small else []
    checks = [_below(f"σ {s:g}", _dest(dd, _ratio(a_, b_))) for (k, s), (a_, b_) in zip(high, pairs)]
    out.append(_claim("A-adv-noise-high", checks,
                      "per σ_train ≥ 1 (kept for every architecture): Δ / Δ(σ_train 0.01–0.1) − 1, mean over "
                      "architectures; yes when every interval lies below 0, no when no value does; " + left,
                      fmt=_rel, unit="%", prefix="Δ relative to the small-noise models, each σ on the images it "
                      "and the small-noise models all classify correctly and move: ",
                      empty="no σ ≥ 1 noise model (or no small-noise model) kept for every architecture",
                      suffix=_variant(dd, checks, pairs)))

    # blur: no effect up to 0.5, a drop at σ ≥ 1
    fsel = dd.sel("blur", lambda s: 0 < s <= 0.5 + 1e-12) if base else []
    dsel = dd.sel("blur", lambda s: s >= 1) if base else []
    fpairs = [(dd.models([(k, s)]), dd.models(base)) for k, s in fsel]
    dpairs = [(dd.models([(k, s)]), dd.models(base)) for k, s in dsel]
    flat = [_within(f"σ {s:g}", _dest(dd, _ratio(a_, b_)), DELTA_MARGIN) for (k, s), (a_, b_) in zip(fsel, fpairs)]
    drop = [_below(f"σ {s:g}", _dest(dd, _ratio(a_, b_))) for (k, s), (a_, b_) in zip(dsel, dpairs)]
    fv = combine(c[2] for c in flat) if flat else NOT_TESTABLE
    dv = combine(c[2] for c in drop) if drop else NOT_TESTABLE
    out.append(_claim("A-adv-blur", flat + drop,
                      "Δ(blur model) / Δ(σ 0) − 1, mean over architectures; flat = every distinct σ_train in (0, 0.5] "
                      f"within ±{100 * DELTA_MARGIN:g} % (interval inside; identity blurs are the σ 0 model and never "
                      "counted); drop = every σ_train ≥ 1 below 0; yes when both, partly when one (or only one "
                      "testable), no when neither; " + left, fmt=_rel, unit="%",
                      prefix="Δ relative to σ 0, each σ on the images it and σ 0 both classify correctly and move: ",
                      verdict_=_halves(fv, dv), empty="no distinct blur model kept for every architecture",
                      suffix=_variant(dd, flat + drop, fpairs + dpairs)))

    # architectures alike (over the same models for every architecture)
    why = (f"mean Δ of each architecture over the same (kind, σ) models; largest / smallest − 1; yes when the "
           f"interval lies below {100 * ARCH_SPREAD:g} %, no when the value does not; " + left)
    if len(dd.archs) >= 2 and dd.common:
        e, am, z, idx = _arch_spread(dd)
        out.append(Claim.of("A-adv-archs", ", ".join(f"{a} {v:.2f}" for a, v in am.items())
                            + f" (8-bit, over the models {', '.join(_ks(k, s) for k, s in dd.common)}, "
                              f"each level's architectures on the {_span(dd.D, idx)} images all of them classify "
                              f"correctly and move); largest / smallest − 1 = {_rel(e)}; the same with Δ = 0 for an "
                              f"image a model already misclassifies (over {_span(dd.Z, idx)} images per level): "
                              f"{_rel(z)}", below(e, ARCH_SPREAD), why, e, 100, "%"))
    else:
        out.append(Claim("A-adv-archs", "fewer than two architectures with a common kept model", NOT_TESTABLE, why))

    # about 1 % of the 8-bit range suffices
    why = (f"mean Δ over the common models of every architecture (each model over its own correctly classified, "
           f"moved images: a level, not a comparison), in % of 255; yes when the interval lies below "
           f"{SMALL_PCT:.2f} % (the paper's own figure: 2.5 of 255), no when the value does not; " + left)
    allm = dd.models(dd.common)
    if allm:
        e = _dest(dd, lambda D: float(np.mean(_model_means(D)[allm])) / 255 * 100)
        rate = np.nansum(dd.n_success[:, allm]) / max(1.0, np.nansum(dd.n_correct[:, allm]))
        out.append(Claim.of("A-adv-small", f"mean Δ {e.fmt(2.55, 2, ' / 255')} = {e.fmt(1, 2, ' %')} of the range; "
                                           f"success rate {rate:.0%} of the correctly classified attacked images",
                            below(e, SMALL_PCT), why, e, 1, "% of 255"))
    else:
        out.append(Claim("A-adv-small", "no model kept", NOT_TESTABLE, why))

    # σ = 0.1 is beneficial (adversarial part): Δ(0.1) above Δ(0) and not below any other σ
    s01 = dd.sel("noise", lambda s: abs(s - 0.1) < 1e-12)
    why = ("Δ(σ 0.1) / Δ(σ 0) − 1 above 0 (interval), and Δ(σ 0.1) / Δ(σ) − 1 for every other kept noise σ above "
           f"−{100 * DELTA_MARGIN:g} % (not lower beyond the margin); mean over architectures; yes when both, no "
           "when Δ(0.1) is not above Δ(0), else partly; " + left)
    if base and s01:
        osel = dd.sel("noise", lambda s: s > 0 and abs(s - 0.1) > 1e-12)
        pairs = [(dd.models(s01), dd.models(base))] + [(dd.models(s01), dd.models([(k, s)])) for k, s in osel]
        first = _exceeds("vs σ 0", _dest(dd, _ratio(*pairs[0])))
        rest = [_exceeds(f"vs σ {s:g}", _dest(dd, _ratio(*p_)), -DELTA_MARGIN) for (k, s), p_ in zip(osel, pairs[1:])]
        rv = combine(c[2] for c in rest) if rest else NOT_TESTABLE
        v = (first[2] if first[2] in ("no", NOT_TESTABLE)
             else "yes" if first[2] == "yes" and rv in ("yes", NOT_TESTABLE) else "partly")
        out.append(Claim.of("A-conclusion-01", "Δ(σ 0.1) / Δ(σ) − 1, each pair on the images both models classify "
                            "correctly and move: " + "; ".join(f"{lab} {_rel(e_)}" for lab, e_, _, _ in [first, *rest])
                            + _variant(dd, [first, *rest], pairs), v, why, first[1], 100, "%"))
    else:
        out.append(Claim("A-conclusion-01", "σ 0 or 0.1 not kept for every architecture", NOT_TESTABLE, why))

    # Fig. 7: models with low accuracy are more easily tricked (Spearman ρ of clean accuracy and Δ)
    why = (f"Spearman ρ between clean accuracy and Δ over every kept model (each architecture, kind and σ once; ≥ "
           f"{MIN_MODELS} models); yes when the interval lies above 0, no when the value does not; interval: t over "
           "the seed replicates (ρ per replicate) when there are ≥ 2, else a bootstrap resampling the attacked and "
           "the test images; " + left)
    km = [m for m, ok in enumerate(dd.kept) if ok]
    if dd.clean is not None and len(km) >= MIN_MODELS:
        D, Cc = dd.D[:, km], dd.clean[:, km]
        per_seed = [_acc_delta_rho(D[r], Cc[r]) for r in range(len(D))]
        if sum(np.isfinite(per_seed)) >= 2:
            e = over_seeds(per_seed)
        else:
            e = _bootstrap_two(_acc_delta_rho, D[0], Cc[0],
                               f"bootstrap over {D.shape[-1]} attacked and {Cc.shape[-1]} test images")
        Zk = dd.Z[:, km]
        zs = [_acc_delta_rho(Zk[r], Cc[r]) for r in range(len(Zk))]
        z = (over_seeds(zs) if sum(np.isfinite(zs)) >= 2 else
             _bootstrap_two(_acc_delta_rho, Zk[0], Cc[0], "bootstrap"))
        acc = np.nanmean(Cc.mean(axis=-1), axis=0)
        lo = int(np.nanargmin(acc))
        out.append(Claim.of("A-adv-low-acc", f"ρ = {e.fmt(1, 2)} over {len(km)} models, every Δ {_on(dd, km)} "
                                             f"(clean accuracy {100 * np.nanmin(acc):.0f}–{100 * np.nanmax(acc):.0f} "
                                             f"%, lowest: {_label(dd.keys[km[lo]])}); the same with Δ = 0 for an "
                                             f"image a model already misclassifies (over {_n_common(dd.Z, km)} "
                                             f"images; accuracy then enters Δ itself): ρ = {z.fmt(1, 2)}",
                            exceeds(e), why, e, 1, "ρ"))
    else:
        out.append(Claim("A-adv-low-acc", f"{len(km)} kept models with clean accuracies", NOT_TESTABLE, why))
    return one_seed_cap(out, dd.D.shape[0])


# ------------------------------------------------------------------------------ §3 / §4 conclusion
def clean_correctness(grids: Mapping, sigmas) -> dict:
    """{(arch, kind, σ_train): bool (n_seeds, n_test)}: every model's correctness on the clean test
    images (σ_eval = 0 column) from the grids ``{kind: {arch: (n_seeds, S, S, n_test)}}``; identity
    blurs are left out (they are the σ = 0 model)."""
    sig = [float(s) for s in sigmas]
    out = {}
    for kind, correct in grids.items():
        L = _levels(kind, sig)
        j0 = _at(sig, L, 0.0)
        if j0 is None:
            raise ValueError("clean_correctness: σ = 0 is not among the sigmas")
        for a, c in correct.items():
            c = np.asarray(c, bool)
            for i in L:
                out[(a, kind, sig[i])] = c[:, i, j0, :]
    return out


def conclusion_claims(noise_correct: Mapping, sigmas, archs, df, clean_correct: Mapping,
                      metric: str = "linf_8bit", blur_correct: Mapping | None = None, df_l2=None) -> list[Claim]:
    """:func:`_conclusion_claims` on the L∞ change (``df``, ``metric``) and, with ``df_l2``, also on
    the per-pixel RMS of the L2-minimal change, merged by :func:`both_norms`."""
    out = {"linf": _conclusion_claims(noise_correct, sigmas, archs, df, clean_correct, metric, blur_correct)}
    if df_l2 is not None:
        out["l2"] = _conclusion_claims(noise_correct, sigmas, archs, with_rms(df_l2), clean_correct,
                                       NORM_METRICS["l2"], blur_correct)
    return both_norms(out)


def _conclusion_claims(noise_correct: Mapping, sigmas, archs, df, clean_correct: Mapping,
                       metric: str = "linf_8bit", blur_correct: Mapping | None = None) -> list[Claim]:
    """§3/§4: "training with σ = 0.1 is beneficial" on both measures, against σ = 0: the accuracy on
    noisy data (mean over every σ_eval > 0 of the noise grid ``noise_correct``, as in
    :func:`fig4_claims`) and the adversarial change (``df`` / ``clean_correct`` as in :func:`delta_claims`);
    and §4's "no significant performance difference" of the modules, over everything the conclusion
    covers: the noise matrix, the blur matrix (``blur_correct``, as in :func:`fig6_claims`) and Δ."""
    sig = [float(s) for s in sigmas]
    C = _grid(noise_correct, archs, len(sig))
    L = _levels("noise", sig)
    i0, i01 = _at(sig, L, 0.0), _at(sig, L, 0.1)
    ev = [j for j in L if sig[j] > 0]
    dd = _deltas(df, clean_correct, metric)
    why = ("accuracy: σ_train 0.1 minus σ_train 0, mean over every σ_eval > 0 and the architectures, above 0 "
           "(interval; t over seeds, else a paired bootstrap over the test images); Δ: Δ(σ 0.1) / Δ(σ 0) − 1, mean "
           "over architectures, above 0; yes when both, no when neither, partly when one (or one cannot be "
           "tested); " + _left_text(dd))
    out = [_archs_conclusion(C, sig, dd, blur_correct)]
    if i0 is None or i01 is None or not ev:
        out.insert(0, Claim("A-conclusion-01-both", "σ 0 or 0.1 not in this run", NOT_TESTABLE, why))
        return one_seed_cap(out, min(_n_seeds(C), dd.D.shape[0]))
    x = np.mean([_diff(c, [(i01, j) for j in ev], [(i0, j) for j in ev]) for c in C.values()], axis=0)
    acc = _est(_mean, x)
    base = dd.sel("noise", lambda s: s == 0)
    s01 = dd.sel("noise", lambda s: abs(s - 0.1) < 1e-12)
    de = _dest(dd, _ratio(dd.models(s01), dd.models(base))) if base and s01 else None
    ours = (f"accuracy on noisy data {_pts(acc)}; Δ {_rel(de) if de is not None else 'n/a (σ 0 or 0.1 not kept)'} "
            "(σ_train 0.1 vs 0)")
    v = _halves(exceeds(acc), exceeds(de) if de is not None else NOT_TESTABLE)
    out.insert(0, Claim.of("A-conclusion-01-both", ours, v, why, acc, 100, "pts"))
    return one_seed_cap(out, min(_n_seeds(C), dd.D.shape[0]))


def _archs_conclusion(C: Mapping, sig: list[float], dd: _Deltas, blur_correct: Mapping | None) -> Claim:
    """§4's "no significant performance difference" of the modules: every pair of architectures the
    same (±:data:`MARGIN`) on the noise matrix and on the blur matrix, and the architectures' Δ within
    :data:`ARCH_SPREAD` of each other."""
    why = (f"{_SAME}three parts, as the conclusion covers noise, blur and the adversarial change: each pair of "
           "architectures the same on the mean accuracy over the noise matrix and over the blur matrix (every "
           f"distinct cell), and the architectures' mean Δ within {100 * ARCH_SPREAD:g} % (largest / smallest − "
           "1, interval below); yes when all three parts hold, no when none does, else partly (also when a part "
           "cannot be tested); " + _CI)
    archs = list(C)
    if len(archs) < 2:
        return Claim("A-conclusion-archs", "only one architecture in this run", NOT_TESTABLE, why)
    parts, txt, head = [], [], None
    for kind, grid in (("noise", C), ("blur", blur_correct)):
        if grid is None:
            parts.append(NOT_TESTABLE)
            txt.append(f"{kind} matrix: not given")
            continue
        G = _grid(grid, archs, len(sig)) if grid is not C else C
        cells = [(i, j) for i in _levels(kind, sig) for j in _levels(kind, sig)]
        checks = [_within(f"{a} − {b}", _est(_mean, _avg(G[a], cells) - _avg(G[b], cells)), MARGIN)
                  for x, a in enumerate(archs) for b in archs[x + 1:]]
        parts.append(combine(c[2] for c in checks))
        txt.append(f"{kind} matrix: " + "; ".join(f"{lab} {_pts(e)} ({vv})" for lab, e, vv, _ in checks))
        h = min(checks, key=lambda c: c[3] if np.isfinite(c[3]) else np.inf)
        head = h if head is None or (np.isfinite(h[3]) and h[3] < head[3]) else head
    if len(dd.archs) >= 2 and dd.common:
        e, _am, _z, _idx = _arch_spread(dd)
        parts.append(below(e, ARCH_SPREAD))
        txt.append(f"Δ largest / smallest − 1 = {_rel(e)} ({parts[-1]})")
    else:
        parts.append(NOT_TESTABLE)
        txt.append("Δ: fewer than two architectures with a common kept model")
    v = _halves(*parts)
    if head is None:
        return Claim("A-conclusion-archs", "; ".join(txt), v, why)
    return Claim.of("A-conclusion-archs", "; ".join(txt), v, why, head[1], 100, "pts")
