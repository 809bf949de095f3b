"""Part 1 of the cross-paper chapter: paper A's open question ("other augmentations like rotations
and other transformations", §4) on paper A's CIFAR-10 nets, measured with both papers' yardsticks.

For every architecture of ``cfg.beyond_archs`` and every variant of
:data:`robustlab.beyond.registry.CIFAR_VARIANTS`:

* the **model** — the σ = 0 and σ = 0.1 noise models are paper A's grid models
  (:func:`robustlab.paper_a.grid.get_model`, reused); an augmented model is trained exactly as the
  σ = 0 model (the same data, epochs, batches, learning rate, initial weights and seed:
  :func:`robustlab.paper_a.grid` 's training arguments) with the registered augmentation on every
  batch, stored under kind ``beyond_model`` (weights; never published) and ``beyond_train`` (record);
* the **noise and blur grids** — accuracy on the test subset at every distinct noise and blur level
  of ``cfg.sigmas``, with the seeded corruption draws of chapters 03/04
  (:func:`robustlab.paper_a.training.evaluate_many`, seed ``cfg.seed``, batch ``grid.EVAL_BATCH``);
  grid cells already stored by chapters 03/04 are read, not recomputed;
* **Δ** — the minimal adversarial change on chapter 05's images with chapter 05's attack and settings
  (:func:`robustlab.paper_a.delta.run_model` for the grid models, the same call of
  :func:`robustlab.attacks.minimal.minimal_change` for the augmented ones);
* **paper B's pixel-count experiment and Pi** on CIFAR (as chapter 11): wrong-rate after
  ``cfg.pixel_counts`` random pixels (any value, anywhere; ``cfg.n_repeats`` draws) on the test images
  that *every* variant of the architecture classifies correctly (among the first 3 · ``cfg.n_images``
  of chapter 11's seeded order, at most ``cfg.n_images``), and Pi at 64 pixels.

Every measure is compared with the σ = 0 model (and, for the claims, with the σ = 0.1 model) by a
paired bootstrap over the shared images (:func:`robustlab.core.stats.bootstrap`).
"""
from __future__ import annotations

import dataclasses
import multiprocessing as mp
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from robustlab.attacks.minimal import minimal_change
from robustlab.beyond.imagenet import pixel_counts as imagenet_counts
from robustlab.beyond.kinds import CKPT_KIND, DELTA_KIND, EVAL_KIND, MODEL_KIND, RECORD_KIND, SEL_KIND
from robustlab.beyond.registry import CIFAR_VARIANTS, NOISE_REFERENCE, REFERENCE, Variant, cifar_variants, variant
from robustlab.core import budget
from robustlab.core.params import Config
from robustlab.core.progress import tqdm
from robustlab.core.results import ResultStore
from robustlab.core.stats import Estimate, bootstrap
from robustlab.data.cifar10 import load_cifar10
from robustlab.data.scale import to_tensor_pm1
from robustlab.paper_a import delta, grid
from robustlab.paper_a.augmentations import few_pixel_k
from robustlab.paper_a.nets import build
from robustlab.paper_a.training import evaluate_many, train
from robustlab.paper_b.classifiers import LazyModel, predict
from robustlab.paper_b.experiments import pixel_rows
from robustlab.paper_b.pixel_index import pixel_index, pixel_index_curve

__all__ = ["MODEL_KIND", "RECORD_KIND", "EVAL_KIND", "DELTA_KIND", "MEASURES", "model_key", "has_model",
           "train_models", "get_model", "levels", "correct", "delta_result", "pixel_images", "pixel_result",
           "measures", "run", "compare", "table", "describe"]

_VERSION = 1

#: The robustness measures (columns of the table): key → (label, unit, scale for display).
MEASURES: dict[str, tuple[str, str, float]] = {
    "clean": ("clean accuracy", "%", 100.0),
    "noise": ("accuracy under noise (mean over σ > 0)", "%", 100.0),
    "blur": ("accuracy under blur (mean over σ > 0)", "%", 100.0),
    "delta": ("Δ, minimal change (8-bit)", "8-bit", 1.0),
    "pixels": ("wrong-rate, 64 random pixels", "%", 100.0),
    "pi": ("Pi (64 pixels)", "", 1.0),
}


def _store(cfg) -> ResultStore:
    return ResultStore.for_cfg(cfg)


# --------------------------------------------------------------------------------------
# models
# --------------------------------------------------------------------------------------
def model_key(cfg, arch: str, v: Variant | str) -> dict:
    """The configuration of a variant's model: a grid model's :func:`grid.model_config`, or the σ = 0
    model's plus the augmentation's name and parameters (same budget, same seed)."""
    v = variant(v) if isinstance(v, str) else v
    if v.source == "grid":
        return grid.model_config(cfg, arch, v.params["kind"], v.params["sigma"])
    return {**grid.model_config(cfg, arch, "noise", 0.0), "what": "beyond: paper A model with augmentation",
            "beyond_version": _VERSION, "augmentation": dict(v.params)}


def has_model(cfg, arch: str, v: Variant | str) -> bool:
    v = variant(v) if isinstance(v, str) else v
    if v.source == "grid":
        return grid.has_model(cfg, arch, v.params["kind"], v.params["sigma"])
    key = model_key(cfg, arch, v)
    return _store(cfg).has(MODEL_KIND, key) and _store(cfg).has(RECORD_KIND, key)


def _train_one(cfg, arch: str, name: str, progress: bool) -> float:
    v = variant(name)
    store = _store(cfg)
    key = model_key(cfg, arch, v)
    x, y = grid.train_data(cfg)
    # the σ = 0 model's TrainConfig (same budget, seed and initial weights: the comparison is paired) with
    # the augmentation on every batch
    hp = dataclasses.replace(grid.train_config(cfg, arch, "noise", 0.0), augmentation=v.params["augmentation"])
    model = hp.build_model()
    ckpt = store.path(CKPT_KIND, key)
    ckpt.parent.mkdir(parents=True, exist_ok=True)
    dev = cfg.torch_device
    t0 = time.perf_counter()
    with grid.one_cpu_thread(dev):  # as paper A's grid trains: CPU results depend on the thread count
        hist = train(model, x, y, hp, device=dev, checkpoint=ckpt, progress=progress)
    secs = time.perf_counter() - t0
    with store.lock(MODEL_KIND, key):
        store.put(MODEL_KIND, key, {"state_dict": {k: t.detach().cpu() for k, t in model.state_dict().items()}})
        store.put(RECORD_KIND, key, {"history": hist, "train_time_s": secs, "device": str(dev), "n_train": len(y),
                                     "torch": str(torch.__version__), "num_threads": 1})
    ckpt.unlink(missing_ok=True)
    return secs


def _worker(cfg_items: dict, arch: str, name: str) -> tuple[str, str, float]:
    return arch, name, _train_one(Config(cfg_items), arch, name, False)


def train_models(cfg, archs=None, progress: bool = True) -> list[tuple[str, str]]:
    """Train every augmented model of ``archs`` (default ``cfg.beyond_archs``) the store lacks; on a
    CPU in :func:`robustlab.paper_a.grid.cpu_workers` single-threaded processes at once (as paper A's
    grid), else one after another. Returns the (arch, name) trained now; what finished is kept."""
    archs = list(archs if archs is not None else cfg.beyond_archs)
    todo = [(a, v.name) for a in archs for v in cifar_variants(cfg) if v.source == "augmentation"
            and not has_model(cfg, a, v)]
    if not todo:
        return []
    for a, n in todo:
        _store(cfg).guard(MODEL_KIND, model_key(cfg, a, n))
    n_proc = grid.cpu_workers(cfg, len(todo))
    if n_proc > 1:
        bar = tqdm(total=len(todo), desc=f"training {len(todo)} augmented models in {n_proc} processes",
                   unit="model", disable=not progress)
        try:
            with ProcessPoolExecutor(n_proc, mp_context=mp.get_context("spawn")) as ex:
                for f in as_completed([ex.submit(_worker, dict(cfg), a, n) for a, n in todo]):
                    a, n, secs = f.result()
                    bar.set_postfix_str(f"{a} {n} {secs:.0f} s")
                    bar.update(1)
        finally:
            bar.close()
    else:
        for i, (a, n) in enumerate(todo):
            if i:
                budget.check("the training of the augmented models")
            _train_one(cfg, a, n, progress)
    return todo


def get_model(cfg, arch: str, v: Variant | str, progress: bool = True) -> nn.Module:
    """A variant's trained model (eval mode, CPU): from the store, else trained now."""
    v = variant(v) if isinstance(v, str) else v
    if v.source == "grid":
        return grid.get_model(cfg, arch, v.params["kind"], v.params["sigma"], progress=progress)
    key = model_key(cfg, arch, v)
    if not has_model(cfg, arch, v):
        _train_one(cfg, arch, v.name, progress)
    model = build(arch, width=cfg.width)
    model.load_state_dict(_store(cfg).get(MODEL_KIND, key)["state_dict"])
    return model.eval()


def train_record(cfg, arch: str, v: Variant | str) -> dict | None:
    """A variant's stored training record (history, train_time_s, ...), or None."""
    v = variant(v) if isinstance(v, str) else v
    if v.source == "grid":
        return _store(cfg).get(grid.RECORD_KIND, model_key(cfg, arch, v))
    return _store(cfg).get(RECORD_KIND, model_key(cfg, arch, v))


# --------------------------------------------------------------------------------------
# the noise and blur grids
# --------------------------------------------------------------------------------------
def levels(cfg, kind: str) -> list[float]:
    """The distinct evaluation levels of ``kind`` in ``cfg.sigmas``: 0 (clean) first, identity blurs
    (σ < 0.125 px) left out (they are the clean level)."""
    out = [0.0]
    for s in cfg.sigmas:
        k, lv = grid.level(kind, float(s))
        if k != "clean" and lv not in out:
            out.append(lv)
    return out


def _eval_key(cfg, arch: str, v: Variant, kind: str, s: float) -> dict:
    return {"what": "beyond: accuracy of a paper-A model", "model": model_key(cfg, arch, v), "eval_kind": kind,
            "eval_sigma": float(s), "test_subset": cfg.test_subset, "eval_seed": int(cfg.seed),
            "eval_batch": grid.EVAL_BATCH}


def _grid_cell(cfg, arch: str, v: Variant, kind: str, s: float) -> dict | None:
    """The stored grid cell of chapters 03/04 that is this evaluation, if there is one."""
    if v.source != "grid":
        return None
    mk, ms = grid.level(v.params["kind"], v.params["sigma"])
    if mk == "clean":
        return _store(cfg).get(grid.EVAL_KIND, grid.eval_config(cfg, arch, kind, 0.0, s))
    if mk == kind:
        return _store(cfg).get(grid.EVAL_KIND, grid.eval_config(cfg, arch, kind, ms, s))
    return None


def correct(cfg, arch: str, v: Variant | str, kind: str, progress: bool = False) -> np.ndarray:
    """Per-image correctness of a variant's model at every level of :func:`levels` (``kind``): bool
    ``(L, n_test)`` in :func:`robustlab.paper_a.grid.test_data` order, the same images and corruption
    draws as chapters 03/04. Cached per level (grid cells already stored are read)."""
    v = variant(v) if isinstance(v, str) else v
    store = _store(cfg)
    lv = levels(cfg, kind)
    out: list[np.ndarray | None] = []
    for s in lv:
        hit = _grid_cell(cfg, arch, v, kind, s) or store.get(EVAL_KIND, _eval_key(cfg, arch, v, kind, s))
        out.append(None if hit is None else np.asarray(hit["correct"], dtype=bool))
    missing = [i for i, c in enumerate(out) if c is None]
    if missing:
        for i in missing:
            store.guard(EVAL_KIND, _eval_key(cfg, arch, v, kind, lv[i]))
        model = get_model(cfg, arch, v, progress)
        tx, ty = grid.test_data(cfg)
        for i in missing:
            c = evaluate_many([model], tx, ty, kind=kind, sigmas=[lv[i]], seed=int(cfg.seed), device=cfg.torch_device,
                              batch_size=grid.EVAL_BATCH, per_image=True)[0, 0]
            hit = store.get_or_compute(EVAL_KIND, _eval_key(cfg, arch, v, kind, lv[i]), lambda c=c: {
                "accuracy": float(c.mean()), "correct": np.asarray(c, dtype=bool), "n_test": len(ty)})
            out[i] = np.asarray(hit["correct"], dtype=bool)
    return np.stack(out)


# --------------------------------------------------------------------------------------
# Δ (chapter 05's attack)
# --------------------------------------------------------------------------------------
def delta_result(cfg, arch: str, v: Variant | str, progress: bool = False) -> dict:
    """Chapter 05's minimal-change attack on a variant's model: per attacked image ``success``,
    ``correct`` and ``mean_abs_8bit`` (mean |δ| per pixel and channel, 8-bit units), on
    :func:`robustlab.paper_a.delta.attack_images` (the same images for every model). Cached."""
    v = variant(v) if isinstance(v, str) else v
    if v.source == "grid":
        return delta.run_model(cfg, arch, v.params["kind"], v.params["sigma"], progress=progress)
    key = {**delta.attack_config(cfg, arch, "noise", 0.0), "model": model_key(cfg, arch, v)}

    def compute():
        model = get_model(cfg, arch, v, progress)
        idx = delta.attack_images(cfg)
        ts = delta._test_set(cfg)  # chapter 05's test split (loaded there)
        x = to_tensor_pm1(ts.images[idx])
        y = torch.as_tensor(ts.labels[idx]).long()
        r = minimal_change(model, x, y, norm=cfg.attack_norm, steps=int(cfg.attack_steps), bounds=delta.BOUNDS,
                           seed=int(cfg.seed), device=cfg.torch_device, progress=progress, **delta.ATTACK_DEFAULTS)
        return {"indices": idx, "labels": r.labels, "correct": r.correct, "success": r.success,
                "mean_abs_8bit": r.mean_abs_8bit, "summary": r.summary()}

    return _store(cfg).get_or_compute(DELTA_KIND, key, compute)


# --------------------------------------------------------------------------------------
# paper B's pixel-count experiment and Pi on CIFAR (chapter 11)
# --------------------------------------------------------------------------------------
def pixel_counts(cfg) -> list[int]:
    """Part 1's random-pixel counts: ``cfg.beyond_pixel_counts`` when set, else chapter 11's
    ``cfg.pixel_counts``."""
    return [int(p) for p in (cfg.get("beyond_pixel_counts") or cfg.pixel_counts)]


class _OnUnit(nn.Module):
    """paper B's [0, 1] input → paper A's [-1, 1] net."""

    def __init__(self, m: nn.Module):
        super().__init__()
        self.m = m

    def forward(self, x):
        return self.m(x * 2.0 - 1.0)


def _lazy(cfg, arch, v):
    return LazyModel(lambda: _OnUnit(get_model(cfg, arch, v, progress=False).to(cfg.torch_device).eval()))


#: Candidate images scanned for the pixel experiment: at most this many times 3 · ``cfg.n_images``.
MAX_SCAN = 10


def pixel_images(cfg, arch: str) -> np.ndarray:
    """Test indices the pixel experiment uses for ``arch``: chapter 11's seeded order, scanned in
    blocks of 3 · ``cfg.n_images`` (at most :data:`MAX_SCAN` blocks) for images that *every* variant's
    model classifies correctly, until ``cfg.n_images`` are found (sorted; fewer when the models are
    weak, none at worst). Cached."""
    test = load_cifar10(cfg.data_dir, "test", cache_dir=cfg.cache_dir, progress=False)
    order = np.random.default_rng([cfg.seed, 32]).permutation(len(test))
    key = {"what": "beyond: images every variant classifies correctly", "arch": arch, "n": int(cfg.n_images),
           "seed": int(cfg.seed), "models": [model_key(cfg, arch, v) for v in cifar_variants(cfg)]}

    def compute():
        n, block, found = int(cfg.n_images), 3 * int(cfg.n_images), []
        models = [_lazy(cfg, arch, v) for v in cifar_variants(cfg)]
        for b in range(MAX_SCAN):
            cand = order[b * block:(b + 1) * block]
            if len(cand) == 0 or len(found) >= n:
                break
            ok = np.ones(len(cand), dtype=bool)
            for m in models:
                ok &= predict(m, test.images[cand], 256).numpy() == test.labels[cand]
            found += cand[ok].tolist()
        return np.sort(np.asarray(found[:n], dtype=np.int64))

    return np.asarray(_store(cfg).get_or_compute(SEL_KIND, key, compute))


def pixel_result(cfg, arch: str, v: Variant | str) -> pd.DataFrame:
    """Experiment 1 (:func:`pixel_counts`, any value, whole image) of a variant's model on
    :func:`pixel_images`: :func:`robustlab.paper_b.experiments.pixel_rows`' table (``per_image`` for
    paired comparisons) with Pi per row (:func:`robustlab.paper_b.pixel_index.pixel_index_curve`, 32 × 32)."""
    v = variant(v) if isinstance(v, str) else v
    idx = pixel_images(cfg, arch)
    if len(idx) == 0:
        return pd.DataFrame()
    test = load_cifar10(cfg.data_dir, "test", cache_dir=cfg.cache_dir, progress=False)
    x, y = np.ascontiguousarray(test.images[idx]), test.labels[idx]
    dkey = {"what": "beyond-cifar", "model": model_key(cfg, arch, v), "images": [int(i) for i in idx]}
    rows = pixel_rows(cfg, _lazy(cfg, arch, v), x, y, dkey, [{"n_pixels": int(p)} for p in pixel_counts(cfg)],
                      tag="beyond", progress=False)
    return pixel_index_curve(rows, 32)


# --------------------------------------------------------------------------------------
# the measures and their paired comparisons
# --------------------------------------------------------------------------------------
def measures(cfg, arch: str, v: Variant | str, progress: bool = False) -> dict[str, Any]:
    """Per-item arrays of every measure of one variant's model (items shared by every variant):
    ``clean``, ``noise``, ``blur`` (float (n_test,): each test image's accuracy at level 0 / averaged
    over the σ > 0 levels), ``delta`` (float (n_attack,): mean |δ| in 8-bit, NaN where the attack
    failed or the image was misclassified), ``pixels`` (float (n_images,): each image's share of wrong
    repeats at the largest pixel count), ``pi_scale`` (Pi per unit wrong-rate at that count), and
    ``pixel_table`` (the whole experiment-1 table)."""
    v = variant(v) if isinstance(v, str) else v
    cn = correct(cfg, arch, v, "noise", progress)
    cb = correct(cfg, arch, v, "blur", progress)
    d = delta_result(cfg, arch, v, progress)
    ok = np.asarray(d["success"], dtype=bool) & np.asarray(d["correct"], dtype=bool)
    dv = np.where(ok, np.asarray(d["mean_abs_8bit"], dtype=float), np.nan)
    pt = pixel_result(cfg, arch, v)
    top = pt[pt["n_pixels"] == pt["n_pixels"].max()].iloc[0] if len(pt) else None
    n_px = int(max(pixel_counts(cfg))) if top is None else int(top["n_pixels"])
    return {"clean": cn[0].astype(float),
            "noise": cn[1:].mean(0) if len(cn) > 1 else np.full(cn.shape[1], np.nan),
            "blur": cb[1:].mean(0) if len(cb) > 1 else np.full(cb.shape[1], np.nan),
            "delta": dv, "pixels": np.zeros(0) if top is None else np.asarray(top["per_image"], dtype=float),
            "pi_scale": pixel_index(1, 1, n_px, 32),  # Pi = wrong-rate × this (any value, whole image)
            "pixel_n": n_px, "pixel_table": pt}


def _nanmean(a: np.ndarray) -> float:
    a = np.asarray(a, dtype=float)
    return float(np.nanmean(a)) if np.isfinite(a).any() else float("nan")


def compare(a: dict, b: dict, measure: str) -> tuple[float, Estimate]:
    """``measure`` of variant ``a`` and its paired difference ``a − b`` (:class:`Estimate`, bootstrap
    over the shared items; Δ over the images the attack broke in both)."""
    if measure == "pi":
        va, vb = a["pixels"] * a["pi_scale"], b["pixels"] * b["pi_scale"]
    else:
        va, vb = np.asarray(a[measure], dtype=float), np.asarray(b[measure], dtype=float)
    what = {"delta": "attacked images", "pixels": "images", "pi": "images"}.get(measure, "test images")
    if measure == "delta":
        both = np.isfinite(va) & np.isfinite(vb)

        def stat(x, y, m):
            m = m.astype(bool)
            return float(np.mean(x[m]) - np.mean(y[m])) if m.any() else float("nan")

        est = bootstrap(stat, np.nan_to_num(va), np.nan_to_num(vb), both.astype(float), what=what)
        return _nanmean(va), est
    if va.size == 0 or not (np.isfinite(va).all() and np.isfinite(vb).all()):
        return _nanmean(va), Estimate(float("nan"), float("nan"), float("nan"), "none", 0)
    est = bootstrap(lambda x, y: float(np.mean(x) - np.mean(y)), va, vb, what=what)
    return float(np.mean(va)), est


def run(cfg, archs=None, progress: bool = True) -> dict[str, dict[str, dict]]:
    """Every measure of every variant of ``archs`` (default ``cfg.beyond_archs``): ``{arch: {variant:
    measures(...)}}``. Trains the augmented models first (in parallel on a CPU); every piece is cached."""
    archs = list(archs if archs is not None else cfg.beyond_archs)
    train_models(cfg, archs, progress)
    out: dict[str, dict[str, dict]] = {}
    for arch in archs:
        out[arch] = {}
        for i, v in enumerate(cifar_variants(cfg)):
            if i:
                budget.check("the measures of the augmented models")
            out[arch][v.name] = measures(cfg, arch, v, progress)
    return out


def table(results: dict[str, dict[str, dict]], against: str = REFERENCE) -> pd.DataFrame:
    """Tidy table, one row per (arch, variant, measure): ``value`` (display units), ``diff`` against
    ``against`` (default the σ = 0 model) with its paired 95 % interval ``lo``/``hi`` and ``method``."""
    rows = []
    for arch, per in results.items():
        ref = per[against]
        for name, m in per.items():
            for key, (label, unit, scale) in MEASURES.items():
                value, est = compare(m, ref, key)
                rows.append({"arch": arch, "variant": name, "measure": key, "label": label, "unit": unit,
                             "value": value * scale, "diff": est.value * scale, "lo": est.lo * scale,
                             "hi": est.hi * scale, "method": est.method, "estimate": est.scaled(scale)})
    return pd.DataFrame(rows)


def display_table(tidy: pd.DataFrame) -> pd.DataFrame:
    """Rows = (arch, variant), columns = measures; each cell "value (diff [lo, hi])" against the σ = 0
    model (the reference row shows its value only)."""
    def cell(r) -> str:
        digits = 2 if r.measure == "delta" else 1
        v = f"{r.value:.{digits}f}" if np.isfinite(r.value) else "n/a"
        if r.variant == REFERENCE:
            return v
        if not np.isfinite(r.diff):
            return f"{v} (n/a)"
        iv = f" [{r.lo:+.{digits}f}, {r.hi:+.{digits}f}]" if np.isfinite(r.lo) and np.isfinite(r.hi) else ""
        return f"{v} ({r.diff:+.{digits}f}{iv})"

    t = tidy.assign(cell=[cell(r) for r in tidy.itertuples()])
    out = t.pivot_table(index=["arch", "variant"], columns="measure", values="cell", aggfunc="first", sort=False)
    out = out[[m for m in MEASURES if m in out.columns]]
    out.columns = [f"{MEASURES[m][0]}" + (f" ({MEASURES[m][1]})" if MEASURES[m][1] else "") for m in out.columns]
    order = {v.name: i for i, v in enumerate(CIFAR_VARIANTS)}
    return out.sort_index(level=1, key=lambda s: s.map(order), sort_remaining=False).sort_index(
        level=0, sort_remaining=False)


def describe(cfg) -> str:
    """A Markdown paragraph: what part 1 trained and measured in this run."""
    return (f"**This run** (profile `{cfg.profile}`): architectures {', '.join(cfg.beyond_archs)}; every model "
            f"is trained as paper A's σ = 0 model of chapter 03 ({cfg.epochs} epoch(s) × "
            f"{int(cfg.train_subset or 50_000):,} images, batch {cfg.batch_size}, lr {cfg.lr:g}, width "
            f"{cfg.width:g}, the same initial weights and seed) with one augmentation on every batch. The few-pixel "
            f"change keeps paper B's image share: 64 of 224² pixels is 1.31 of 32² → k = {few_pixel_k(1)}, and "
            f"4 × that share (5.22) → k = {few_pixel_k(4)}. Accuracies on {grid.n_test(cfg):,} test images at "
            f"noise σ {', '.join(f'{s:g}' for s in levels(cfg, 'noise')[1:])} and blur σ "
            f"{', '.join(f'{s:g}' for s in levels(cfg, 'blur')[1:])} px (chapters 03/04's draws); Δ on "
            f"{int(cfg.n_attack_images)} test images ({cfg.attack_norm}, {cfg.attack_steps} steps, chapter 05); "
            f"random pixels {', '.join(map(str, pixel_counts(cfg)))} × {cfg.n_repeats} draw(s) on up to "
            f"{int(cfg.n_images)} test images every model classifies correctly (chapter 11)."
            + _left_out(cfg))


def _left_out(cfg) -> str:
    """What this profile leaves out of the chapter to save time (``beyond_augmentations``,
    ``beyond_pixel_counts``), as a Markdown sentence ("" when nothing is)."""
    out = []
    gone = [v.name for v in CIFAR_VARIANTS if v.source == "augmentation" and v not in cifar_variants(cfg)]
    if gone:
        out.append(f"the augmentation{'s' if len(gone) > 1 else ''} {', '.join(gone)} (not trained, not compared)")
    if cfg.get("beyond_pixel_counts"):
        full = type(cfg)({**cfg, "beyond_pixel_counts": None})

        def fewer(a, b) -> str:
            return ", ".join(map(str, sorted(set(a) - set(b)))) or "none"

        out.append(f"the random-pixel tests at {fewer(pixel_counts(full), pixel_counts(cfg))} px in part 1 and at "
                   f"{fewer(imagenet_counts(full), imagenet_counts(cfg))} px in part 2 (the table and the claims "
                   f"read only the largest count)")
    if not out:
        return ""
    return (" **Left out by this profile, to keep the chapter short:** " + "; ".join(out)
            + ". The paper profile runs all of it.")



def versus_noise(results: dict[str, dict[str, dict]]) -> dict[str, dict[str, tuple[Estimate, Estimate]]]:
    """For every registered augmentation and architecture: (accuracy under noise, Δ) of its model
    minus the σ = 0.1 model's, paired (the input of :func:`robustlab.beyond.claims.claim_beats_noise`)."""

    out: dict[str, dict[str, tuple[Estimate, Estimate]]] = {}
    for v in CIFAR_VARIANTS:
        if v.source != "augmentation" or not all(v.name in per for per in results.values()):
            continue  # (an augmentation the profile leaves out: beyond_augmentations)
        for arch, per in results.items():
            ref = per[NOISE_REFERENCE]
            out.setdefault(v.name, {})[arch] = (compare(per[v.name], ref, "noise")[1],
                                                compare(per[v.name], ref, "delta")[1])
    return out


def pixel_effects(results: dict[str, dict[str, dict]], name: str) -> dict[str, Estimate]:
    """{arch: wrong-rate(σ = 0) − wrong-rate(``name``)} at the largest pixel count (fractions, paired;
    positive = fewer errors with the augmentation)."""
    return {arch: compare(per[REFERENCE], per[name], "pixels")[1] for arch, per in results.items()}
