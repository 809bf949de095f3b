"""Paper A's training grids (Figs. 4 and 6): one model per (architecture, kind, σ_train), each
evaluated on the test set corrupted at every σ_eval of the same kind.

Everything is cached in ``ResultStore(cfg.results)``:

* ``cifar_model/<hash>.pt`` — a trained model (state dict, history, timings), keyed by
  :func:`model_config` (σ = 0 is one model shared by noise and blur). While it trains, a
  per-epoch checkpoint lives in ``cifar_model_ckpt/`` so an interrupted training resumes.
* ``cifar_eval/<hash>.pt`` — one accuracy (one cell of a matrix), keyed by the model's
  configuration plus the evaluation's (kind, σ_eval, test subset, seed).

So a re-run reuses everything, a changed parameter recomputes only the cells it changes, and
an interrupted grid keeps every finished cell and model.

Determinism: on CPU the same configuration gives bit-identical models for the same torch thread
count (``num_threads``); a different thread count changes float summation order and, after an
epoch of SGD, the weights (on the quick profile the clean accuracy moved by ~3 points between 1
and 2 threads). The device and thread count are stored with each model (not in its key, so GPU-
trained paper models can be reused on a CPU machine).

Stacking (parameter ``stack_models``): the missing σ_train models of one (architecture, kind) can
be trained at once as one vectorised model (:func:`robustlab.train.train_many`), sharing every
image batch, each corrupted at its own σ with the same noise draws a lone training makes. The
stored model and its key are the same either way (``stacked_with`` in the record says which path
trained it): stacked and lone training agree up to float rounding (``tests/test_fastpath.py``), the
same kind of difference a changed thread count makes. ``auto`` = on for CUDA (one small net cannot
fill a GPU) and off on CPU, where it measured slower (2-core box, width 1/16, batch 64, per model:
see :data:`CPU_STACK_PAYS`). A stacked training checkpoints all its models together per epoch
(``cifar_stack_ckpt/``); the evaluation runs one σ_eval column at a time for all rows, so an
interrupted grid keeps every finished model and column.
"""
from __future__ import annotations

import time
from functools import lru_cache
from typing import Any, Iterable

import numpy as np
import torch

from .corruptions import check_kind, check_sigma
from .data import balanced_indices, load_cifar10
from .errors import ParameterError
from .models.cifar import ARCHS, build
from .results import ResultStore
from .train import evaluate, evaluate_many, train, train_many

__all__ = ["EVAL_BATCH", "CPU_STACK_PAYS", "use_stacking", "model_config", "eval_config", "get_model", "model_record", "accuracy_matrix",
           "tolerance", "fig4_claims", "fig6_claims", "timings", "describe_run",
           "run_grid", "train_data", "test_data"]

#: Evaluation batch size (fixed: the seeded evaluation noise is drawn per batch of this size).
EVAL_BATCH = 500
_VERSION = 1


def _check_arch(arch: str) -> str:
    if arch not in ARCHS:
        raise ParameterError(f"arch={arch!r} is unknown; choose one of {list(ARCHS)}")
    return arch


def _train_kwargs(cfg) -> dict:
    """The training hyper-parameters of a profile, as keyword arguments of ``train``/``train_many``."""
    return dict(epochs=cfg.epochs, batch_size=cfg.batch_size, lr=cfg.lr, momentum=cfg.momentum,
                weight_decay=cfg.weight_decay, lr_schedule=cfg.lr_schedule, seed=int(cfg.seed),
                augment=bool(cfg.get("augment", False)), compile=bool(cfg.get("compile", False)))


def model_config(cfg, arch: str, kind: str, sigma: float) -> dict:
    """Everything that determines a trained model. σ = 0 does not depend on ``kind`` (shared)."""
    _check_arch(arch)
    check_kind(kind)
    s = check_sigma(sigma, "sigma_train")
    return {"what": "paper A CIFAR-10 model", "version": _VERSION, "data": "cifar10",
            "arch": arch, "width": float(cfg.width), "kind": kind if s > 0 else "clean", "sigma": s,
            "epochs": int(cfg.epochs), "batch_size": int(cfg.batch_size), "lr": float(cfg.lr),
            "momentum": float(cfg.momentum), "weight_decay": float(cfg.weight_decay),
            "lr_schedule": cfg.lr_schedule, "train_subset": cfg.train_subset, "seed": int(cfg.seed),
            "augment": bool(cfg.get("augment", False))}


def eval_config(cfg, arch: str, kind: str, sigma_train: float, sigma_eval: float) -> dict:
    """Configuration of one grid cell: the model's plus the evaluation's."""
    return {"model": model_config(cfg, arch, kind, sigma_train), "eval_kind": check_kind(kind),
            "eval_sigma": check_sigma(sigma_eval, "sigma_eval"), "test_subset": cfg.test_subset,
            "eval_seed": int(cfg.seed), "eval_batch": EVAL_BATCH}


@lru_cache(maxsize=4)
def _split(data_dir, cache_dir, split: str, n, seed: int):
    s = load_cifar10(data_dir, split, cache_dir=cache_dir, progress=False)
    idx = balanced_indices(s.labels, n, seed=seed)
    return np.ascontiguousarray(s.images[idx]), s.labels[idx].copy()


def train_data(cfg) -> tuple[np.ndarray, np.ndarray]:
    """The (class-balanced, seeded) CIFAR-10 training subset: uint8 (N, 32, 32, 3), labels."""
    return _split(_s(cfg.get("data_dir")), _s(cfg.get("cache_dir")), "train", cfg.train_subset, int(cfg.seed))


def test_data(cfg) -> tuple[np.ndarray, np.ndarray]:
    """The (class-balanced, seeded) CIFAR-10 test subset used by every grid cell."""
    return _split(_s(cfg.get("data_dir")), _s(cfg.get("cache_dir")), "test", cfg.test_subset, int(cfg.seed))


def _s(p):
    return None if p is None else str(p)


def _train_payload(cfg, arch: str, kind: str, sigma: float, progress: bool) -> dict:
    store = ResultStore(cfg.results)
    conf = model_config(cfg, arch, kind, sigma)
    x, y = train_data(cfg)
    torch.manual_seed(int(cfg.seed))
    model = build(arch, width=cfg.width)
    ckpt = store.path("cifar_model_ckpt", conf)
    ckpt.parent.mkdir(parents=True, exist_ok=True)
    dev = cfg.torch_device
    t0 = time.perf_counter()
    hist = train(model, x, y, kind=kind, sigma=sigma, device=dev, checkpoint=ckpt, progress=progress,
                 **_train_kwargs(cfg))
    payload = {"state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
               "history": hist, "train_time_s": time.perf_counter() - t0, "device": str(dev),
               "n_train": len(y), "torch": torch.__version__,
               "num_threads": torch.get_num_threads()}
    return payload


def _payload(cfg, arch: str, kind: str, sigma: float, progress: bool = True) -> dict:
    store = ResultStore(cfg.results)
    conf = model_config(cfg, arch, kind, sigma)
    payload = store.get_or_compute("cifar_model", conf, lambda: _train_payload(cfg, arch, kind, sigma, progress))
    ckpt = store.path("cifar_model_ckpt", conf)
    if ckpt.exists():  # the finished model is stored; the epoch checkpoint is no longer needed
        ckpt.unlink(missing_ok=True)
    return payload


def get_model(cfg, arch: str, kind: str, sigma: float, progress: bool = True) -> torch.nn.Module:
    """Paper A's ``arch`` trained on ``kind`` at σ (from the cache, else trained now), eval mode, CPU."""
    payload = _payload(cfg, arch, kind, sigma, progress)
    model = build(arch, width=cfg.width)
    model.load_state_dict(payload["state_dict"])
    return model.eval()


def model_record(cfg, arch: str, kind: str, sigma: float) -> dict:
    """A trained model's metadata (history, train_time_s, device, n_train), training it if needed."""
    p = _payload(cfg, arch, kind, sigma, progress=False)
    return {k: v for k, v in p.items() if k != "state_dict"}


#: On CPU, does training the σ levels of one architecture stacked beat training them one by one?
#: No. Measured on the 2-core box, quiet, quick profile's width 1/16 and batch 64 (640 images, second
#: epoch), model-images/s single / 7 stacked / 13 stacked — 1 thread: resnet 1084 / 712 / 475,
#: inception 487 / 429 / 314, resnext 901 / 424 / 372; 2 threads: inception 713 / 585 / 532,
#: resnext 1534 / 124 / 78 (2-thread figures are noisy on the shared box). The vmapped model runs
#: grouped convolutions, which the CPU kernels handle worse than M small dense ones.
#: CUDA: stacking is on by design (one small net cannot fill a GPU) — not measured here.
CPU_STACK_PAYS = False


def use_stacking(cfg) -> bool:
    """Resolve ``cfg.stack_models`` ('auto' | 'on' | 'off') for ``cfg.torch_device``."""
    mode = cfg.get("stack_models", "auto") or "auto"
    if mode not in ("auto", "on", "off"):
        raise ParameterError(f"stack_models={mode!r} must be one of ['auto', 'on', 'off']")
    if mode != "auto":
        return mode == "on"
    return torch.device(cfg.torch_device).type == "cuda" or CPU_STACK_PAYS


def _train_stacked(cfg, arch: str, kind: str, sigmas: list[float], progress: bool) -> None:
    """Train the not-yet-cached models of ``sigmas`` (one arch, kind) at once and store each one
    under its own :func:`model_config` key — the same key a model trained alone gets."""
    store = ResultStore(cfg.results)
    todo = []
    for s in dict.fromkeys(sigmas):  # unique, in order
        if not store.has("cifar_model", model_config(cfg, arch, kind, s)):
            todo.append(s)
    if len(todo) < 2:
        return  # nothing to share: the per-model path trains it
    x, y = train_data(cfg)
    models = []
    for s in todo:  # each model's initial weights exactly as the per-model path draws them
        torch.manual_seed(int(cfg.seed))
        models.append(build(arch, width=cfg.width))
    confs = [model_config(cfg, arch, kind, s) for s in todo]
    ckpt = store.path("cifar_stack_ckpt", {"models": confs})
    ckpt.parent.mkdir(parents=True, exist_ok=True)
    dev = cfg.torch_device
    t0 = time.perf_counter()
    hists = train_many(models, x, y, kind=kind, sigmas=todo, device=dev, checkpoint=ckpt, progress=progress,
                       **_train_kwargs(cfg))
    dt = time.perf_counter() - t0
    for m, h, conf in zip(models, hists, confs):
        payload = {"state_dict": {k: v.detach().cpu() for k, v in m.state_dict().items()},
                   "history": h, "train_time_s": dt / len(models), "device": str(dev),
                   "n_train": len(y), "torch": torch.__version__, "num_threads": torch.get_num_threads(),
                   "stacked_with": len(models)}
        store.get_or_compute("cifar_model", conf, lambda p=payload: p)
    ckpt.unlink(missing_ok=True)


def accuracy_matrix(cfg, arch: str, kind: str, progress: bool = True) -> np.ndarray:
    """Accuracies (fractions in [0, 1]), shape ``(len(cfg.sigmas), len(cfg.sigmas))``:
    rows σ_train, columns σ_eval, both in the order of ``cfg.sigmas``. Cached per cell.

    With stacking on (:func:`use_stacking`) the missing models of the matrix are trained at once
    (:func:`robustlab.train.train_many`) and the missing cells are evaluated one σ_eval column at a
    time for all models on the same corrupted batches (:func:`robustlab.train.evaluate_many`,
    bit-identical to :func:`~robustlab.train.evaluate`). Models trained stacked or alone share one
    cache key: they agree up to float rounding (tested), so either may serve a later run.
    """
    _check_arch(arch)
    check_kind(kind)
    sigmas = [check_sigma(s, "sigmas") for s in cfg.sigmas]
    store = ResultStore(cfg.results)
    out = np.full((len(sigmas), len(sigmas)), np.nan)
    missing = []
    for i, st in enumerate(sigmas):
        for j, se in enumerate(sigmas):
            hit = store.get("cifar_eval", eval_config(cfg, arch, kind, st, se))
            if hit is None:
                missing.append((i, j))
            else:
                out[i, j] = hit["accuracy"]
    if not missing:
        return out
    rows = sorted({i for i, _ in missing})
    if use_stacking(cfg) and len(rows) > 1:
        _train_stacked(cfg, arch, kind, [sigmas[i] for i in rows], progress)
        models = {i: get_model(cfg, arch, kind, sigmas[i], progress=progress) for i in rows}
        tx, ty = test_data(cfg)
        for j in sorted({j for _, j in missing}):  # one column at a time: finished cells are kept
            need = [i for i in rows if (i, j) in missing]
            acc = evaluate_many([models[i] for i in need], tx, ty, kind=kind, sigmas=[sigmas[j]],
                                seed=int(cfg.seed), device=cfg.torch_device, batch_size=EVAL_BATCH)[0]
            for i, a in zip(need, acc):
                hit = store.get_or_compute("cifar_eval", eval_config(cfg, arch, kind, sigmas[i], sigmas[j]),
                                           lambda a=a: {"accuracy": float(a), "n_test": len(ty)})
                out[i, j] = hit["accuracy"]
        return out
    tx, ty = None, None
    for i in rows:
        model = None
        for j, se in enumerate(sigmas):
            if (i, j) not in missing:
                continue
            if model is None:
                model = get_model(cfg, arch, kind, sigmas[i], progress=progress)
                tx, ty = test_data(cfg)
            hit = store.get_or_compute("cifar_eval", eval_config(cfg, arch, kind, sigmas[i], se), lambda: {
                "accuracy": evaluate(model, tx, ty, kind=kind, sigma=se, seed=int(cfg.seed),
                                     device=cfg.torch_device, batch_size=EVAL_BATCH),
                "n_test": len(ty)})
            out[i, j] = hit["accuracy"]
    return out


def run_grid(cfg, kinds: Iterable[str] = ("noise", "blur"), archs: Iterable[str] | None = None,
             progress: bool = True) -> dict[tuple[str, str], np.ndarray]:
    """All accuracy matrices ``{(arch, kind): matrix}`` for ``cfg.archs`` × ``kinds``, with an overall
    progress bar (one step per σ_train row). Finished models and cells are kept if interrupted."""
    kinds = [check_kind(k) for k in kinds]
    archs = [_check_arch(a) for a in (archs if archs is not None else cfg.archs)]
    out = {}
    bar = None
    if progress:
        from .progress import tqdm

        bar = tqdm(total=len(archs) * len(kinds), desc="paper-A grid", unit="matrix")
    try:
        for arch in archs:
            for kind in kinds:
                if bar is not None:
                    bar.set_postfix(arch=arch, kind=kind)
                out[(arch, kind)] = accuracy_matrix(cfg, arch, kind, progress=progress)
                if bar is not None:
                    bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    return out


# --------------------------------------------------------------------------------------
# the paper's claims, checked against a run's matrices
# --------------------------------------------------------------------------------------
def tolerance(n_test: int) -> float:
    """Accuracy difference (fraction) we call "no change": twice the standard error of the difference
    of two accuracies near 50 % on ``n_test`` images, 2·√2·√(0.25/n) (4.5 points at n = 1,000)."""
    return float(2 * np.sqrt(2) * np.sqrt(0.25 / max(1, int(n_test))))


def _idx(sigmas, s):
    for i, v in enumerate(sigmas):
        if abs(float(v) - s) < 1e-12:
            return i
    return None


def _verdict(ok: list[bool]) -> str:
    if not ok:
        return "not testable here"
    return "yes" if all(ok) else ("partly" if any(ok) else "no")


def _pct(v: float) -> str:
    return f"{100 * v:.1f} %"


def _claim(id_, section, claim, paper_value, ours, ok, why):
    return {"id": id_, "paper": "A", "section": section, "claim": claim, "paper_value": paper_value,
            "ours": ours, "verdict": _verdict(ok), "why": why}


def fig4_claims(matrices: dict, sigmas, archs, n_test: int) -> list[dict]:
    """Paper A's Fig. 4 statements, each with our numbers and a verdict computed from them."""
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
    out.append(_claim("A-noise-001", "Fig. 4", "training and evaluating with σ = 0.01 behaves like no noise",
                      "curves for σ 0 and 0.01 coincide", "; ".join(parts) or "σ 0.01 not in this run", ok,
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
    out.append(_claim("A-noise-diagonal", "Fig. 4", "from σ_train = 0.1 on, the evaluation set with the training σ "
                      "gives the best accuracy", "best eval σ = train σ for σ_train ≥ 0.1",
                      f"{sum(ok)} of {len(ok)} rows: " + "; ".join(parts) if ok else "no σ ≥ 0.1", ok,
                      "a row counts when its diagonal cell is within the tolerance of the row's best; " + why_tol))
    # 3. clean accuracy drops for σ_train ≥ 0.1
    ok, parts = [], []
    if i0 is not None:
        hi = [i for i, s in enumerate(sig) if s >= 0.5 - 1e-12]
        for a, m in M.items():
            if hi:
                drop = float(m[i0, i0] - m[hi[-1], i0])
                ok.append(drop > tol)
                parts.append(f"{a}: clean {_pct(m[i0, i0])} (σ_train 0) → {_pct(m[hi[-1], i0])} (σ_train {sig[hi[-1]]:g})")
    out.append(_claim("A-noise-drop", "Fig. 4", "the overall (clean) accuracy drops for models trained with σ ≥ 0.1",
                      "decreasing clean accuracy", "; ".join(parts) or "not in this run", ok,
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
    out.append(_claim("A-noise-small-helps", "Fig. 4", "a small training noise does not hurt noise-free accuracy "
                      "but raises accuracy on slightly noisy data", "qualitative",
                      "σ_train 0.1 vs 0: " + "; ".join(parts) if parts else "σ 0 or 0.1 not in this run", ok,
                      "no harm = clean loss within the tolerance; gain = mean difference over 0 < σ_eval ≤ 0.5 > 0"))
    # 5. architectures similar
    out.append(_arch_claim("A-noise-archs", "Fig. 4", "all three architectures behave similarly; none generalises "
                           "particularly well against noise", M, tol))
    out.append(_arch_claim("A-conclusion-archs", "§4", "no significant performance difference between the three "
                           "modules", M, tol))
    return out


def _arch_claim(id_, section, claim, M: dict, tol: float) -> dict:
    archs = list(M)
    if len(archs) < 2:
        return _claim(id_, section, claim, "qualitative", "only one architecture in this run", [], "")
    diffs = {(a, b): float(np.mean(np.abs(M[a] - M[b]))) for i, a in enumerate(archs) for b in archs[i + 1:]}
    worst = max(diffs.values())
    ours = "mean |Δacc| over the matrix: " + "; ".join(f"{a}–{b} {_pct(d)}" for (a, b), d in diffs.items())
    return {"id": id_, "paper": "A", "section": section, "claim": claim, "paper_value": "qualitative",
            "ours": ours, "verdict": "yes" if worst <= tol else ("partly" if worst <= 2 * tol else "no"),
            "why": f"yes when every pair differs by ≤ {_pct(tol)} on average, partly ≤ {_pct(2 * tol)}"}


def fig6_claims(matrices: dict, sigmas, archs, n_test: int) -> list[dict]:
    """Paper A's Fig. 6 statements, each with our numbers and a verdict computed from them."""
    sig = [float(s) for s in sigmas]
    tol = tolerance(n_test)
    i0 = _idx(sig, 0.0)
    M = {a: np.asarray(matrices[(a, "blur")] if (a, "blur") in matrices else matrices[a]) for a in archs}
    ok, parts = [], []
    if i0 is not None:
        low = [i for i, s in enumerate(sig) if 0 < s <= 0.5 + 1e-12]
        high = [i for i, s in enumerate(sig) if s > 0.5 + 1e-12]
        for a, m in M.items():
            diag = np.diag(m)
            flat = all(abs(diag[i] - diag[i0]) <= tol for i in low)
            drop = bool(high) and diag[high[-1]] < diag[i0] - tol
            ok.append(bool(flat and drop))
            parts.append(f"{a}: acc at σ_train = σ_eval " + ", ".join(f"{sig[i]:g}: {100 * diag[i]:.0f}" for i in range(len(sig))) + " %")
    claims = [_claim("A-blur-05", "Fig. 6", "with blur training, accuracy is unchanged up to σ = 0.5 and drops above",
                     "flat to 0.5, then falling", "; ".join(parts) or "not in this run", ok,
                     f"flat = every σ_train ≤ 0.5 within {_pct(tol)} of σ 0 (evaluated at its own σ); drop = the "
                     "largest σ_train below σ 0 by more than that")]
    if "inception" in M and len(M) > 1:
        mean = {a: float(np.mean(m)) for a, m in M.items()}
        best = max(mean, key=mean.get)
        v = "yes" if best == "inception" else ("partly" if mean["inception"] >= mean[best] - tol else "no")
        claims.append({"id": "A-blur-inception", "paper": "A", "section": "Fig. 6",
                       "claim": "Inception models perform best (blur); ResNet and ResNeXt similar",
                       "paper_value": "qualitative",
                       "ours": "mean accuracy over the blur matrix: " + ", ".join(f"{a} {_pct(v_)}" for a, v_ in mean.items()),
                       "verdict": v, "why": f"partly when Inception is within {_pct(tol)} of the best"})
    claims.append(_arch_claim("A-blur-archs", "Fig. 6", "the results for ResNet and ResNeXt are similar to "
                              "Inception's (blur)", M, tol))
    return claims


def timings(cfg, arch: str, kind: str) -> dict:
    """Training time (s) and training throughput (images/s) of each model of one row of matrices,
    read from the stored models (the time of the run that trained them, on its device)."""
    out = {}
    for s in cfg.sigmas:
        r = model_record(cfg, arch, kind, s)
        h = r["history"]
        out[f"{float(s):g}"] = {"train_time_s": round(float(r["train_time_s"]), 2),
                                "images_per_s": round(float(np.mean(h["images_per_s"])), 1),
                                "device": r["device"], "resumed_from_epoch": h.get("resumed_from_epoch", 0)}
    return out


def describe_run(cfg) -> str:
    """A Markdown paragraph saying which models and data this page's numbers come from."""
    n_train = cfg.train_subset or 50_000
    n_test = cfg.test_subset or 10_000
    from .models.cifar import build as _b

    ch = _b("resnet", width=cfg.width).channels
    paper = (cfg.width == 1.0 and cfg.train_subset is None and cfg.epochs == 90)
    return (f"**This run** (profile `{cfg.profile}`, device `{cfg.torch_device}`): width {cfg.width:g} "
            f"({ch} channels; paper: 256), {n_train:,} class-balanced training images (paper: 50,000), "
            f"{cfg.epochs} epoch(s) (paper: 90), batch {cfg.batch_size}, SGD lr {cfg.lr:g} ({cfg.lr_schedule}, "
            f"momentum {cfg.momentum:g}, weight decay {cfg.weight_decay:g}; the paper gives none of these), "
            f"evaluated on {n_test:,} class-balanced test images (paper: 10,000) with seeded corruption "
            f"identical for every model. σ levels: {', '.join(f'{s:g}' for s in cfg.sigmas)}. "
            + ("These are the paper's settings." if paper else
               "These are reduced settings, so absolute accuracies are far below the paper's; the shape "
               "of the curves is what can be compared."))
