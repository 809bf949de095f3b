"""Paper A's claims with *our* numbers and verdicts: the data (§2.1), the modules' parameters
(Fig. 2), the noise and blur grids (Figs. 4, 6) and the minimal adversarial change (Figs. 5, 7).

Every function returns :class:`robustlab.core.claims.Claim` records (id, ours, verdict, why); the
paper's statements are in :data:`robustlab.book.checklist.CHECKLIST`. The rules (stated in each
``why``) are fixed in advance, not tuned to the result.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np

from robustlab.core.claims import NOT_TESTABLE, Claim, graded, verdict

__all__ = ["tolerance", "data_claims", "module_claims", "fig4_claims", "fig6_claims", "delta_claims"]


def _pct(v: float) -> str:
    return f"{100 * v:.1f} %"


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
        from robustlab.paper_a.nets import module_counts

        rows = module_counts()
    return [Claim(f"A-params-{r['arch']}", f"{r['ours']:,}", graded(r["ours"] - r["paper"] == 0),
                  "conv weights counted from the built module"
                  + ("; the branch widths are our choice (the paper does not give them)" if r["arch"] == "inception"
                     else ""))
            for r in rows]


# ------------------------------------------------------------------------------ Figs. 4 and 6
def tolerance(n_test: int) -> float:
    """Accuracy difference (fraction) we call "no change": twice the standard error of the difference
    of two accuracies near 50 % on ``n_test`` images, 2·√2·√(0.25/n) (4.5 points at n = 1,000)."""
    return float(2 * np.sqrt(2) * np.sqrt(0.25 / max(1, int(n_test))))


def _idx(sigmas, s):
    for i, v in enumerate(sigmas):
        if abs(float(v) - s) < 1e-12:
            return i
    return None


def fig4_claims(matrices: dict, sigmas, archs, n_test: int) -> list[Claim]:
    """Paper A's Fig. 4 statements, each with our numbers and a verdict computed from them
    (``matrices``: {(arch, "noise") or arch: accuracy matrix σ_train × σ_eval})."""
    sig = [float(s) for s in sigmas]
    tol = tolerance(n_test)
    i0, i001, i01 = _idx(sig, 0.0), _idx(sig, 0.01), _idx(sig, 0.1)
    M = {a: np.asarray(matrices[(a, "noise")] if (a, "noise") in matrices else matrices[a]) for a in archs}
    why_tol = f"'same' = within {_pct(tol)} (2·√2 standard errors on {n_test} test images)"
    out = []
    # 1. σ = 0.01 behaves like no noise
    ok, parts = [], []
    if i0 is not None and i001 is not None:
        for a, m in M.items():
            d = float(np.max(np.abs(m[i001] - m[i0])))
            ok.append(d <= tol)
            parts.append(f"{a}: max |Δacc| {_pct(d)}")
    out.append(Claim("A-noise-001", "; ".join(parts) or "σ 0.01 not in this run", verdict(ok),
                     why_tol + "; compared over every σ_eval"))
    # 2. diagonal: from σ_train = 0.1 on, the eval set with the training σ is best
    ok, parts = [], []
    for a, m in M.items():
        for i, s in enumerate(sig):
            if s >= 0.1 - 1e-12:
                best = int(np.argmax(m[i]))
                good = m[i, i] >= m[i].max() - tol
                ok.append(bool(good))
                parts.append(f"{a} σ={s:g}: best σ_eval {sig[best]:g}")
    out.append(Claim("A-noise-diagonal", f"{sum(ok)} of {len(ok)} rows: " + "; ".join(parts) if ok else "no σ ≥ 0.1",
                     verdict(ok),
                     "a row counts when its diagonal cell is within the tolerance of the row's best; " + why_tol))
    # 3. clean accuracy drops for σ_train ≥ 0.1
    ok, parts = [], []
    if i0 is not None:
        hi = [i for i, s in enumerate(sig) if s >= 0.5 - 1e-12]
        for a, m in M.items():
            if hi:
                drop = float(m[i0, i0] - m[hi[-1], i0])
                ok.append(drop > tol)
                parts.append(f"{a}: clean {_pct(m[i0, i0])} (σ_train 0) → {_pct(m[hi[-1], i0])} "
                             f"(σ_train {sig[hi[-1]]:g})")
    out.append(Claim("A-noise-drop", "; ".join(parts) or "not in this run", verdict(ok),
                     "drop of the clean accuracy from σ_train 0 to the largest σ_train, larger than the tolerance"))
    # 4. small noise: no harm on clean, gain on slightly noisy data
    ok, parts = [], []
    if i0 is not None and i01 is not None:
        small = [j for j, s in enumerate(sig) if 0 < s <= 0.5 + 1e-12]
        for a, m in M.items():
            harm = float(m[i0, i0] - m[i01, i0])
            gain = float(np.mean(m[i01, small] - m[i0, small])) if small else float("nan")
            ok.append(harm <= tol and gain > 0)
            parts.append(f"{a}: clean Δ {-100 * harm:+.1f} pts, mean gain on σ_eval ≤ 0.5 {100 * gain:+.1f} pts")
    out.append(Claim("A-noise-small-helps",
                     "σ_train 0.1 vs 0: " + "; ".join(parts) if parts else "σ 0 or 0.1 not in this run", verdict(ok),
                     "no harm = clean loss within the tolerance; gain = mean difference over 0 < σ_eval ≤ 0.5 > 0"))
    # 5. architectures similar
    out.append(_arch_claim("A-noise-archs", M, tol))
    out.append(_arch_claim("A-conclusion-archs", M, tol))
    return out


def _arch_claim(id_: str, M: dict, tol: float) -> Claim:
    archs = list(M)
    if len(archs) < 2:
        return Claim(id_, "only one architecture in this run", NOT_TESTABLE, "")
    diffs = {(a, b): float(np.mean(np.abs(M[a] - M[b]))) for i, a in enumerate(archs) for b in archs[i + 1:]}
    worst = max(diffs.values())
    ours = "mean |Δacc| over the matrix: " + "; ".join(f"{a}–{b} {_pct(d)}" for (a, b), d in diffs.items())
    return Claim(id_, ours, graded(worst <= tol, worst <= 2 * tol),
                 f"yes when every pair differs by ≤ {_pct(tol)} on average, partly ≤ {_pct(2 * tol)}")


def fig6_claims(matrices: dict, sigmas, archs, n_test: int) -> list[Claim]:
    """Paper A's Fig. 6 statements, each with our numbers and a verdict computed from them. Identity
    blurs (σ < 0.125 px) are the σ = 0 model and level: their rows and columns are left out, so no
    duplicate counts as a model of its own (or makes "flat" automatic)."""
    from robustlab.paper_a.grid import is_duplicate

    keep = [i for i, s in enumerate(sigmas) if not is_duplicate("blur", s)]  # distinct models and levels only
    sig = [float(sigmas[i]) for i in keep]
    tol = tolerance(n_test)
    i0 = _idx(sig, 0.0)
    M = {a: np.asarray(matrices[(a, "blur")] if (a, "blur") in matrices else matrices[a])[np.ix_(keep, keep)]
         for a in archs}
    ok, parts = [], []
    if i0 is not None:
        # identity blurs (σ < 0.125 px) are the σ = 0 model: comparing them with it would be automatic
        low = [i for i, s in enumerate(sig) if 0 < s <= 0.5 + 1e-12]
        high = [i for i, s in enumerate(sig) if s > 0.5 + 1e-12]
        for a, m in M.items():
            diag = np.diag(m)
            flat = bool(low) and all(abs(diag[i] - diag[i0]) <= tol for i in low)
            drop = bool(high) and diag[high[-1]] < diag[i0] - tol
            ok.append(bool(flat and drop))
            parts.append(f"{a}: acc at σ_train = σ_eval "
                         + ", ".join(f"{sig[i]:g}: {100 * diag[i]:.0f}" for i in range(len(sig))) + " %")
    claims = [Claim("A-blur-05", "; ".join(parts) or "not in this run", verdict(ok),
                    f"flat = every distinct σ_train ≤ 0.5 (identity blurs σ < 0.125 are the σ 0 model and "
                    f"are left out) within {_pct(tol)} of σ 0 (evaluated at its own σ); drop = the "
                    "largest σ_train below σ 0 by more than that")]
    if "inception" in M and len(M) > 1:
        mean = {a: float(np.mean(m)) for a, m in M.items()}
        best = max(mean, key=mean.get)
        claims.append(Claim("A-blur-inception",
                            "mean accuracy over the blur matrix: "
                            + ", ".join(f"{a} {_pct(v_)}" for a, v_ in mean.items()),
                            graded(best == "inception", mean["inception"] >= mean[best] - tol),
                            f"partly when Inception is within {_pct(tol)} of the best"))
    claims.append(_arch_claim("A-blur-archs", M, tol))
    return claims


# ------------------------------------------------------------------------------ Figs. 5 and 7
def _fmt(v: float) -> str:
    return "n/a" if not np.isfinite(v) else f"{v:.2f}"


def delta_claims(df, metric: str = "mean_abs_8bit") -> list[Claim]:
    """Paper A's claims on Figs. 5/7 computed from ``df`` (the table of
    :func:`robustlab.paper_a.delta.run_all`). Changes: mean |δ| per pixel in 8-bit units, averaged
    over images, then over architectures."""
    from robustlab.paper_a.delta import model_means

    mm = model_means(df, metric)

    def M(kind, sigmas, arch=None):
        vals = []
        for (a, k, s), v in mm.items():
            if k == kind and s in sigmas and (arch is None or a == arch):
                vals.append(v)
        return float(np.mean(vals)) if vals else float("nan")

    archs = list(dict.fromkeys(df["arch"]))
    sig = sorted(set(df["sigma_train"]))
    out = []

    # noise: small sigma helps
    small = [s for s in sig if 0 < s <= 0.1]
    base, sm = M("noise", [0.0]), M("noise", small)
    n_up = sum(M("noise", small, a) > M("noise", [0.0], a) for a in archs)
    rel = sm / base - 1 if np.isfinite(base) and np.isfinite(sm) and base > 0 else float("nan")
    out.append(Claim("A-adv-noise", f"Δ(σ=0) = {_fmt(base)}, Δ(σ in {small}) = {_fmt(sm)} ({rel:+.0%}); "
                                    f"higher in {n_up}/{len(archs)} architectures",
                     graded(rel > 0.02 and n_up >= 2 * len(archs) / 3, rel > 0 or n_up > 0, np.isfinite(rel)),
                     "yes: > +2 % on average and higher for ≥ 2/3 of the architectures; partly: higher on "
                     "average or for some; mean |δ| (8-bit) of successful attacks, averaged over archs"))
    # noise: sigma >= 1 drops
    high = [s for s in sig if s >= 1]
    low = [s for s in sig if s < 1]
    peak = max([M("noise", [s]) for s in low], default=float("nan"))
    hv = [M("noise", [s]) for s in high]
    testable = bool(hv) and np.isfinite(peak) and np.all(np.isfinite(hv))
    out.append(Claim("A-adv-noise-high",
                     f"Δ at σ {high}: {', '.join(_fmt(h) for h in hv)}; highest Δ at σ < 1: {_fmt(peak)}",
                     graded(testable and max(hv) < peak, testable and min(hv) < peak, testable),
                     "yes: every σ ≥ 1 below the highest Δ at σ < 1; partly: some"))
    # blur: no effect for small blur, drop for large
    bsmall = [s for s in sig if 0 < s <= 0.5]
    bbase, bsm = M("blur", [0.0]), M("blur", bsmall)
    bhigh = [M("blur", [s]) for s in high]
    brel = bsm / bbase - 1 if np.isfinite(bbase) and np.isfinite(bsm) and bbase > 0 else float("nan")
    flat = abs(brel) < 0.10
    drop = bool(bhigh) and np.all(np.isfinite(bhigh)) and max(bhigh) < bbase
    out.append(Claim("A-adv-blur", f"Δ(σ=0) = {_fmt(bbase)}, Δ(σ in {bsmall}) = {_fmt(bsm)} ({brel:+.0%}); "
                                   f"Δ at σ {high}: {', '.join(_fmt(h) for h in bhigh)}",
                     graded(flat and drop, flat or drop, np.isfinite(brel)),
                     "flat: small-blur Δ within ±10 % of σ = 0; drop: every σ ≥ 1 below σ = 0; yes: both, partly: one"))
    # architectures alike
    # each model once: the σ = 0 model appears under both kinds
    uniq = mm[[i for i in mm.index if not (i[1] == "blur" and i[2] == 0)]]
    am = {a: float(uniq[[i for i in uniq.index if i[0] == a]].mean()) if any(i[0] == a for i in uniq.index)
          else float("nan") for a in archs}
    vals = [v_ for v_ in am.values() if np.isfinite(v_)]
    spread = max(vals) / min(vals) - 1 if len(vals) >= 2 and min(vals) > 0 else float("nan")
    out.append(Claim("A-adv-archs",
                     ", ".join(f"{a} {_fmt(x)}" for a, x in am.items()) + f" (max/min − 1 = {spread:.0%})",
                     graded(spread < 0.25, spread < 0.5, np.isfinite(spread)),
                     "mean over all models of an architecture; yes: spread < 25 %, partly: < 50 %"))
    # about 1 % of the 8-bit range
    med = float(np.median(uniq.to_numpy())) if len(uniq) else float("nan")
    pct = med / 255 * 100
    out.append(Claim("A-adv-small", f"median over models of the mean Δ: {_fmt(med)} / 255 ({pct:.2f} %); "
                                    f"success rate {df.loc[df['correct'], 'success'].mean():.0%} of correctly "
                                    "classified images",
                     graded(pct <= 2, pct <= 4, np.isfinite(med)), "yes: ≤ 2 % of the range, partly: ≤ 4 %"))
    # sigma = 0.1 is beneficial (adversarial part)
    noise_s = {s: M("noise", [s]) for s in sig}
    fin = {s: x for s, x in noise_s.items() if np.isfinite(x)}
    testable = 0.1 in fin and 0.0 in fin
    best = max(fin, key=fin.get) if testable else float("nan")
    out.append(Claim("A-conclusion-01", f"largest noise-model Δ at σ = {best:g}; "
                     f"Δ(0.1) = {_fmt(fin.get(0.1, float('nan')))} vs Δ(0) = {_fmt(fin.get(0.0, float('nan')))}",
                     graded(testable and best == 0.1, testable and fin[0.1] > fin[0.0], testable),
                     "yes: σ = 0.1 has the largest Δ; partly: larger than σ = 0"))
    return out
