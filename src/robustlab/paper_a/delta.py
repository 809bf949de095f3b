"""Paper A, Figs. 5 and 7: the minimal adversarial change of every model of the grid.

For each model (architecture × kind × σ_train, from :mod:`robustlab.paper_a.grid`) the same
``cfg.n_attack_images`` CIFAR-10 test images (a seeded, class-balanced draw) are attacked with
:func:`robustlab.attacks.methods.minimal_change` (norm ``cfg.attack_norm``, ``cfg.attack_steps`` steps) on
the models' input scale [-1, 1]. The paper's number is the *average change per pixel* in 8-bit
units (mean |δ| over pixels and channels, ``mean_abs_8bit``; 2.55 = 1 % of the 8-bit range).

Results are cached per model in ``ResultStore(cfg.results)`` under kind ``"delta"``, keyed by the
model's configuration (:func:`robustlab.paper_a.grid.model_config`) plus the attack's settings, so a
re-run only loads them, and σ = 0 (one model shared by noise and blur) is attacked once.
"""
from __future__ import annotations

import time
from typing import Iterable

import numpy as np
import torch

from robustlab.attacks.methods import minimal_change
from robustlab.paper_a.corruptions import check_kind, check_sigma
from robustlab.data.sources import CIFAR10_CLASSES, balanced_indices, load_cifar10, to_tensor_pm1
from robustlab.core.errors import ParameterError
from robustlab.core.results import ResultStore

__all__ = ["KIND", "BOUNDS", "N_EXAMPLES", "attack_images", "attack_config", "run_model", "run_all",
           "summarize", "examples", "model_means", "claims"]

#: ResultStore kind of the per-model results.
KIND = "delta"
#: Input scale of the paper-A models (robustlab.data.sources.to_tensor_pm1).
BOUNDS = (-1.0, 1.0)
#: Adversarial images kept per model (the first ones of the draw), for the example figure.
N_EXAMPLES = 8
#: Fixed attack settings beyond the profile's (see robustlab.attacks.methods.minimal_change).
ATTACK_DEFAULTS = {"gamma": 0.05, "alpha": 1.0, "overshoot": 0.02, "search_steps": 12, "candidates": 10}
_VERSION = 2


def _s(p):
    return None if p is None else str(p)


def _test_set(cfg):
    return load_cifar10(_s(cfg.get("data_dir")), "test", cache_dir=_s(cfg.get("cache_dir")), progress=False)


def attack_images(cfg) -> np.ndarray:
    """Indices into the CIFAR-10 test split of the attacked images: a class-balanced draw of
    ``cfg.n_attack_images`` seeded by ``cfg.seed`` (the same for every model)."""
    n = int(cfg.n_attack_images)
    if n < 1:
        raise ParameterError(f"n_attack_images={n!r} must be >= 1 (paper: 128)")
    return balanced_indices(_test_set(cfg).labels, n, seed=int(cfg.seed))


def attack_config(cfg, arch: str, kind: str, sigma: float) -> dict:
    """Everything that determines one model's attack result (the model's config + the attack's)."""
    from robustlab.paper_a.grid import model_config

    return {"what": "paper A minimal adversarial change", "version": _VERSION,
            "model": model_config(cfg, arch, kind, sigma), "n_attack_images": int(cfg.n_attack_images),
            "image_seed": int(cfg.seed), "split": "test", "norm": str(cfg.attack_norm),
            "steps": int(cfg.attack_steps), "bounds": list(BOUNDS), "seed": int(cfg.seed),
            **ATTACK_DEFAULTS}


def _compute(cfg, arch: str, kind: str, sigma: float, progress: bool) -> dict:
    from robustlab.paper_a.grid import get_model

    model = get_model(cfg, arch, kind, sigma, progress=progress)
    idx = attack_images(cfg)
    ts = _test_set(cfg)
    x = to_tensor_pm1(ts.images[idx])
    y = torch.as_tensor(ts.labels[idx]).long()
    dev = cfg.torch_device
    t0 = time.perf_counter()
    r = minimal_change(model, x, y, norm=cfg.attack_norm, steps=int(cfg.attack_steps), bounds=BOUNDS,
                       seed=int(cfg.seed), device=dev, progress=progress, **ATTACK_DEFAULTS)
    secs = time.perf_counter() - t0
    # examples: successfully attacked images first (in draw order), then the others
    order = np.concatenate([np.flatnonzero(r.success), np.flatnonzero(~r.success)])
    ex = torch.as_tensor(order[:min(N_EXAMPLES, len(idx))])
    return {"indices": idx, "labels": r.labels, "correct": r.correct, "success": r.success,
            "pred_clean": r.pred_clean, "pred_adv": r.pred_adv, "mean_abs_8bit": r.mean_abs_8bit,
            "linf_8bit": r.linf_8bit, "l2": r.l2, "grad_evals": r.grad_evals,
            "example_pos": ex.numpy(), "examples_clean": x[ex].clone(),
            "examples_adv": r.adv[ex].detach().cpu().clone(),
            "summary": r.summary(), "seconds": secs, "device": str(dev), "torch": str(torch.__version__)}


def run_model(cfg, arch: str, kind: str, sigma: float, progress: bool = False) -> dict:
    """One model's attack result (cached): per-image arrays ``indices`` (into the test split),
    ``labels``, ``correct``, ``success``, ``mean_abs_8bit`` / ``linf_8bit`` (8-bit units), ``l2``
    (on [-1, 1]), ``grad_evals``, ``pred_clean``/``pred_adv``; ``examples_clean``/``examples_adv``
    (the first images, float NCHW on [-1, 1]); ``summary`` (see AttackResult.summary), ``seconds``."""
    check_kind(kind)
    check_sigma(sigma, "sigma_train")
    conf = attack_config(cfg, arch, kind, sigma)
    return ResultStore.for_cfg(cfg).get_or_compute(KIND, conf, lambda: _compute(cfg, arch, kind, sigma, progress))


def _models(cfg, kinds, archs):
    """(arch, kind, σ) of every distinct model: identity blurs (σ < 0.125 px) are the σ = 0 model and
    are left out; σ = 0 itself stays under each kind (the baseline of both curves, one model)."""
    from robustlab.paper_a.grid import is_duplicate

    for arch in archs:
        for kind in kinds:
            for s in dict.fromkeys(float(x) for x in cfg.sigmas):
                if not is_duplicate(kind, s):
                    yield arch, kind, s


def run_all(cfg, kinds: Iterable[str] = ("noise", "blur"), archs: Iterable[str] | None = None,
            progress: bool = True):
    """Attack every model (``archs`` × ``kinds`` × ``cfg.sigmas``); a tidy pandas DataFrame with one
    row per (model, image): arch, kind, sigma_train, image (test index), label, correct, success,
    mean_abs_8bit, linf_8bit, l2, grad_evals. σ = 0 rows appear under both kinds (one shared model,
    attacked once); identity blurs (σ < 0.125 px, the σ = 0 model) do not appear at all."""
    import pandas as pd

    kinds = [check_kind(k) for k in kinds]
    archs = list(archs if archs is not None else cfg.archs)
    todo = list(_models(cfg, kinds, archs))
    it = todo
    if progress:
        from robustlab.core.progress import tqdm

        it = tqdm(todo, desc="minimal change", unit="model")
    frames = []
    for arch, kind, s in it:
        p = run_model(cfg, arch, kind, s, progress=False)
        frames.append(pd.DataFrame({
            "arch": arch, "kind": kind, "sigma_train": s, "image": p["indices"], "label": p["labels"],
            "correct": p["correct"], "success": p["success"], "mean_abs_8bit": p["mean_abs_8bit"],
            "linf_8bit": p["linf_8bit"], "l2": p["l2"], "grad_evals": p["grad_evals"]}))
    return pd.concat(frames, ignore_index=True)


def summarize(df):
    """Per model (arch, kind, sigma_train): images, correct, successes, success rate, mean and median
    of ``mean_abs_8bit`` and ``linf_8bit`` over the successfully attacked images."""
    g = df.groupby(["arch", "kind", "sigma_train"], sort=False)
    out = g.agg(n_images=("image", "size"), n_correct=("correct", "sum"), n_success=("success", "sum"),
                mean_change_8bit=("mean_abs_8bit", "mean"), median_change_8bit=("mean_abs_8bit", "median"),
                mean_linf_8bit=("linf_8bit", "mean"), median_linf_8bit=("linf_8bit", "median"))
    out["success_rate"] = out["n_success"] / out["n_correct"].where(out["n_correct"] > 0)
    return out.reset_index()


def examples(cfg, arch: str, kind: str, sigma: float) -> dict:
    """The stored example images of one model: ``clean``/``adv`` float NCHW on [-1, 1], ``labels``,
    ``pred_clean``, ``pred_adv``, ``success``, ``mean_abs_8bit``, ``image`` (test index): up to
    ``N_EXAMPLES`` images, the successfully attacked ones first."""
    p = run_model(cfg, arch, kind, sigma)
    k = p["example_pos"]
    return {"clean": p["examples_clean"], "adv": p["examples_adv"], "labels": p["labels"][k],
            "pred_clean": p["pred_clean"][k], "pred_adv": p["pred_adv"][k], "success": p["success"][k],
            "mean_abs_8bit": p["mean_abs_8bit"][k], "image": p["indices"][k],
            "classes": list(CIFAR10_CLASSES)}


# ------------------------------------------------------------------------------------ paper's claims
def model_means(df, metric: str = "mean_abs_8bit"):
    """Mean change per model over its successfully attacked images: DataFrame indexed by
    (arch, kind, sigma_train) with column ``metric``."""
    d = df[df["success"]]
    return d.groupby(["arch", "kind", "sigma_train"])[metric].mean()


def _fmt(v: float) -> str:
    return "n/a" if not np.isfinite(v) else f"{v:.2f}"


def claims(df, metric: str = "mean_abs_8bit") -> list[dict]:
    """Paper A's claims on Figs. 5/7 with *our* numbers and verdicts computed from ``df`` (the table of
    :func:`run_all`). Changes: mean |δ| per pixel in 8-bit units, averaged over images, then over
    architectures. Rules (stated in each ``why``) are fixed in advance, not tuned to the result."""
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
    nt = "not testable here"

    # noise: small sigma helps
    small = [s for s in sig if 0 < s <= 0.1]
    base, sm = M("noise", [0.0]), M("noise", small)
    n_up = sum(M("noise", small, a) > M("noise", [0.0], a) for a in archs)
    rel = sm / base - 1 if np.isfinite(base) and np.isfinite(sm) and base > 0 else float("nan")
    v = nt if not np.isfinite(rel) else ("yes" if rel > 0.02 and n_up >= 2 * len(archs) / 3 else
                                         "partly" if rel > 0 or n_up > 0 else "no")
    out.append({"id": "A-adv-noise", "paper": "A", "section": "Fig. 5",
                "claim": "models trained with small noise need a slightly larger adversarial change",
                "paper_value": "slightly higher Δ for σ_train 0.01–0.1 than for σ = 0",
                "ours": f"Δ(σ=0) = {_fmt(base)}, Δ(σ in {small}) = {_fmt(sm)} ({rel:+.0%}); higher in {n_up}/{len(archs)} architectures",
                "verdict": v, "why": "yes: > +2 % on average and higher for ≥ 2/3 of the architectures; partly: higher on "
                                    "average or for some; mean |δ| (8-bit) of successful attacks, averaged over archs"})
    # noise: sigma >= 1 drops
    high = [s for s in sig if s >= 1]
    low = [s for s in sig if s < 1]
    peak = max([M("noise", [s]) for s in low], default=float("nan"))
    hv = [M("noise", [s]) for s in high]
    if not hv or not np.isfinite(peak) or not np.all(np.isfinite(hv)):
        v = nt
    else:
        v = "yes" if max(hv) < peak else ("partly" if min(hv) < peak else "no")
    out.append({"id": "A-adv-noise-high", "paper": "A", "section": "Fig. 5",
                "claim": "for σ_train = 1 and 5 the required change drops again",
                "paper_value": "lower Δ at σ 1, 5 than at small σ",
                "ours": f"Δ at σ {high}: {', '.join(_fmt(h) for h in hv)}; highest Δ at σ < 1: {_fmt(peak)}",
                "verdict": v, "why": "yes: every σ ≥ 1 below the highest Δ at σ < 1; partly: some"})
    # blur: no effect for small blur, drop for large
    bsmall = [s for s in sig if 0 < s <= 0.5]
    bbase, bsm = M("blur", [0.0]), M("blur", bsmall)
    bhigh = [M("blur", [s]) for s in high]
    brel = bsm / bbase - 1 if np.isfinite(bbase) and np.isfinite(bsm) and bbase > 0 else float("nan")
    if not np.isfinite(brel):
        v = nt
    else:
        flat = abs(brel) < 0.10
        drop = bool(bhigh) and np.all(np.isfinite(bhigh)) and max(bhigh) < bbase
        v = "yes" if flat and drop else ("partly" if flat or drop else "no")
    out.append({"id": "A-adv-blur", "paper": "A", "section": "Fig. 7",
                "claim": "blur training has no effect on the required change; it drops for σ = 1 and 5",
                "paper_value": "flat up to σ 0.5, lower at σ 1, 5",
                "ours": f"Δ(σ=0) = {_fmt(bbase)}, Δ(σ in {bsmall}) = {_fmt(bsm)} ({brel:+.0%}); "
                        f"Δ at σ {high}: {', '.join(_fmt(h) for h in bhigh)}",
                "verdict": v, "why": "flat: small-blur Δ within ±10 % of σ = 0; drop: every σ ≥ 1 below σ = 0; "
                                    "yes: both, partly: one"})
    # architectures alike
    # each model once: the σ = 0 model appears under both kinds
    uniq = mm[[i for i in mm.index if not (i[1] == "blur" and i[2] == 0)]]
    am = {a: float(uniq[[i for i in uniq.index if i[0] == a]].mean()) if any(i[0] == a for i in uniq.index)
          else float("nan") for a in archs}
    vals = [v_ for v_ in am.values() if np.isfinite(v_)]
    spread = max(vals) / min(vals) - 1 if len(vals) >= 2 and min(vals) > 0 else float("nan")
    v = nt if not np.isfinite(spread) else ("yes" if spread < 0.25 else "partly" if spread < 0.5 else "no")
    out.append({"id": "A-adv-archs", "paper": "A", "section": "Fig. 5",
                "claim": "all architectures are fooled by a similar change in pixel values",
                "paper_value": "similar Δ for ResNet, Inception, ResNeXt",
                "ours": ", ".join(f"{a} {_fmt(x)}" for a, x in am.items()) + f" (max/min − 1 = {spread:.0%})",
                "verdict": v, "why": "mean over all models of an architecture; yes: spread < 25 %, partly: < 50 %"})
    # about 1 % of the 8-bit range
    med = float(np.median(uniq.to_numpy())) if len(uniq) else float("nan")
    pct = med / 255 * 100
    v = nt if not np.isfinite(med) else ("yes" if pct <= 2 else "partly" if pct <= 4 else "no")
    out.append({"id": "A-adv-small", "paper": "A", "section": "§3",
                "claim": "a change of about 2.5 of 255 per pixel (1 % of the range) fools every model",
                "paper_value": "≈ 2.5 / 255 (1 %)",
                "ours": f"median over models of the mean Δ: {_fmt(med)} / 255 ({pct:.2f} %); "
                        f"success rate {df.loc[df['correct'], 'success'].mean():.0%} of correctly classified images",
                "verdict": v, "why": "yes: ≤ 2 % of the range, partly: ≤ 4 %"})
    # sigma = 0.1 is beneficial (adversarial part)
    noise_s = {s: M("noise", [s]) for s in sig}
    fin = {s: x for s, x in noise_s.items() if np.isfinite(x)}
    if 0.1 not in fin or 0.0 not in fin:
        v, best = nt, float("nan")
    else:
        best = max(fin, key=fin.get)
        v = "yes" if best == 0.1 else ("partly" if fin[0.1] > fin[0.0] else "no")
    out.append({"id": "A-conclusion-01", "paper": "A", "section": "§4",
                "claim": "training with σ = 0.1 is beneficial (here: the adversarial change)",
                "paper_value": "σ = 0.1 best", "ours": f"largest noise-model Δ at σ = {best:g}; "
                f"Δ(0.1) = {_fmt(fin.get(0.1, float('nan')))} vs Δ(0) = {_fmt(fin.get(0.0, float('nan')))}",
                "verdict": v, "why": "yes: σ = 0.1 has the largest Δ; partly: larger than σ = 0"})
    return out
