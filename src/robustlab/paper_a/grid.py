"""Paper A's training grids (Figs. 4 and 6): one model per (architecture, kind, σ_train), each
evaluated on the test set corrupted at every σ_eval of the same kind.

Everything is cached in the profile's results store (:meth:`robustlab.core.results.ResultStore.for_cfg`):

* ``cifar_model/<hash>.pt`` — a trained model's weights (state dict), keyed by :func:`model_config`;
  ``cifar_train/<hash>.pt`` — its training record (history, timings, device), same key, no weights
  (so published records carry no weights). While it trains, a checkpoint lives in
  ``cifar_model_ckpt/`` (``cifar_stack_ckpt/`` when stacked) so an interrupted training resumes.
* ``cifar_eval/<hash>.pt`` — one accuracy (one cell of a matrix), keyed by the model's
  configuration plus the evaluation's (kind, σ_eval, test subset, seed).

**Identical models are computed once.** σ = 0 is one model shared by noise and blur, and a blur
whose kernel is the identity (σ < 0.125 px: scipy's truncation radius ``int(4σ + 0.5)`` is 0) leaves
every image unchanged, so a "blur σ = 0.01" model *is* the clean model: :func:`level` maps it to
``("clean", 0)`` for training and for every evaluation cell, in the single and the stacked path.
Paper A's 3 × (1 + 6 noise + 6 blur) = 39 grid rows are therefore 30 distinct models.

A re-run reuses everything, a changed parameter recomputes only the cells it changes, and an
interrupted grid keeps every finished cell and model. Long work checks the campaign deadline
(:mod:`robustlab.core.budget`) between evaluation columns; training checkpoints at it.

Determinism: on CPU the same configuration gives bit-identical models for the same torch thread
count; a different thread count changes float summation order and, after an epoch of SGD, the
weights. The device and thread count are stored with each model (not in its key, so GPU-trained
paper models are reused on a CPU machine).

Stacking (parameter ``stack_models``): the missing σ_train models of one (architecture, kind) are
trained at once as one wide network (:func:`robustlab.paper_a.training.train_many`), sharing every image batch,
each corrupted at its own σ with the same noise draws a lone training makes. The stored model and
its key are the same either way (``stacked_with`` in the record says which path trained it).
``auto`` = on for CUDA (one small net cannot fill a GPU) and off on CPU (see :data:`CPU_STACK_PAYS`).
"""
from __future__ import annotations

import time
from collections.abc import Iterable
from functools import lru_cache

import numpy as np
import torch

from robustlab.core import budget
from robustlab.core.checks import check_choice
from robustlab.core.results import ResultStore
from robustlab.data.cifar10 import load_cifar10
from robustlab.data.common import balanced_indices
from robustlab.paper_a.corruptions import check_kind, check_sigma
from robustlab.paper_a.nets import ARCHS, build
from robustlab.paper_a.training import evaluate_many, train, train_many

__all__ = ["EVAL_BATCH", "CPU_STACK_PAYS", "STACK_MODES", "use_stacking", "level", "is_duplicate", "distinct_sigmas",
           "model_config", "eval_config", "get_model", "model_record", "has_model", "train_models",
           "accuracy_matrix", "n_test", "timings",
           "describe_run", "run_grid", "train_data", "test_data", "distinct_view"]

#: Evaluation batch size (fixed: the seeded evaluation noise is drawn per batch of this size).
EVAL_BATCH = 500
_VERSION = 1
#: Store kinds: weights (never published), training records, evaluation cells, checkpoints.
MODEL_KIND, RECORD_KIND, EVAL_KIND = "cifar_model", "cifar_train", "cifar_eval"
CKPT_KIND, STACK_CKPT_KIND = "cifar_model_ckpt", "cifar_stack_ckpt"


def _check_arch(arch: str) -> str:
    return check_choice("arch", arch, ARCHS)


def level(kind: str, sigma: float) -> tuple[str, float]:
    """The corruption a (kind, σ) really applies: ``("clean", 0.0)`` for σ = 0 and for a blur whose
    kernel is the identity (σ < 0.125 px: radius ``int(4σ + 0.5)`` = 0), else ``(kind, σ)``."""
    check_kind(kind)
    s = check_sigma(sigma)
    if s == 0 or (kind == "blur" and int(4.0 * s + 0.5) == 0):
        return "clean", 0.0
    return kind, s


def is_duplicate(kind: str, sigma: float) -> bool:
    """True for a σ > 0 that is the clean model (an identity blur): not a model of its own."""
    return check_sigma(sigma) > 0 and level(kind, sigma)[0] == "clean"


def distinct_sigmas(cfg, kind: str) -> list[float]:
    """The σ_train > 0 of ``cfg.sigmas`` that give a model of their own for ``kind`` (no identity blur)."""
    return [float(s) for s in dict.fromkeys(cfg.sigmas) if float(s) > 0 and not is_duplicate(kind, s)]


def _train_kwargs(cfg) -> dict:
    """The training hyper-parameters of a profile, as keyword arguments of ``train``/``train_many``."""
    return dict(epochs=cfg.epochs, batch_size=cfg.batch_size, lr=cfg.lr, momentum=cfg.momentum,
                weight_decay=cfg.weight_decay, lr_schedule=cfg.lr_schedule, seed=int(cfg.seed),
                augment=bool(cfg.get("augment", False)), compile=bool(cfg.get("compile", False)))


def model_config(cfg, arch: str, kind: str, sigma: float) -> dict:
    """Everything that determines a trained model. σ = 0 and identity blurs are one "clean" model."""
    _check_arch(arch)
    k, s = level(kind, check_sigma(sigma, "sigma_train"))
    return {"what": "paper A CIFAR-10 model", "version": _VERSION, "data": "cifar10",
            "arch": arch, "width": float(cfg.width), "kind": k, "sigma": s,
            "epochs": int(cfg.epochs), "batch_size": int(cfg.batch_size), "lr": float(cfg.lr),
            "momentum": float(cfg.momentum), "weight_decay": float(cfg.weight_decay),
            "lr_schedule": cfg.lr_schedule, "train_subset": cfg.train_subset, "seed": int(cfg.seed),
            "augment": bool(cfg.get("augment", False))}


def eval_config(cfg, arch: str, kind: str, sigma_train: float, sigma_eval: float) -> dict:
    """Configuration of one grid cell: the model's plus the evaluation's (identity blurs = clean)."""
    ek, es = level(kind, check_sigma(sigma_eval, "sigma_eval"))
    return {"model": model_config(cfg, arch, kind, sigma_train), "eval_kind": ek,
            "eval_sigma": es, "test_subset": cfg.test_subset,
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


def _store(cfg) -> ResultStore:
    return ResultStore.for_cfg(cfg)


def has_model(cfg, arch: str, kind: str, sigma: float) -> bool:
    """Whether the trained model (weights and record) is stored."""
    conf = model_config(cfg, arch, kind, sigma)
    st = _store(cfg)
    return st.has(MODEL_KIND, conf) and st.has(RECORD_KIND, conf)


def _store_trained(store: ResultStore, model: torch.nn.Module, conf: dict, record: dict) -> None:
    """Weights first, then the record: a record means the weights are complete."""
    store.put(MODEL_KIND, conf, {"state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()}})
    store.put(RECORD_KIND, conf, record)


def _record(hist: dict, secs: float, dev, n: int, **extra) -> dict:
    return {"history": hist, "train_time_s": secs, "device": str(dev), "n_train": n,
            "torch": str(torch.__version__), "num_threads": torch.get_num_threads(), **extra}


def train_models(cfg, arch: str, kind: str, sigmas: Iterable[float], progress: bool = True) -> list[float]:
    """Train and store every not-yet-stored model of ``sigmas`` (one arch and kind; duplicates and
    σ = 0 of another kind resolve to the clean model). Stacked when :func:`use_stacking` and more
    than one is missing; else one by one. Returns the σ levels that were trained now."""
    store = _store(cfg)
    todo: dict[str, float] = {}
    for s in sigmas:
        conf = model_config(cfg, arch, kind, s)
        key = conf["kind"] + repr(conf["sigma"])
        if key not in todo and not has_model(cfg, arch, kind, s):
            todo[key] = conf["sigma"]
    levels = list(todo.values())
    if not levels:
        return []
    for s in levels:
        store.guard(MODEL_KIND, model_config(cfg, arch, kind, s))
    kinds = {level(kind, s)[0] for s in levels} - {"clean"}  # a σ = 0 member trains clean in any stack
    if use_stacking(cfg) and len(levels) > 1 and len(kinds) <= 1:
        _train_stacked(cfg, arch, kinds.pop() if kinds else kind, levels, progress)
    else:
        for s in levels:
            _train_one(cfg, arch, kind, s, progress)
    return levels


def _train_one(cfg, arch: str, kind: str, sigma: float, progress: bool) -> None:
    store = _store(cfg)
    conf = model_config(cfg, arch, kind, sigma)
    x, y = train_data(cfg)
    torch.manual_seed(int(cfg.seed))
    model = build(arch, width=cfg.width)
    ckpt = store.path(CKPT_KIND, conf)
    ckpt.parent.mkdir(parents=True, exist_ok=True)
    dev = cfg.torch_device
    t0 = time.perf_counter()
    k = "noise" if conf["kind"] == "clean" else conf["kind"]
    hist = train(model, x, y, kind=k, sigma=conf["sigma"], device=dev, checkpoint=ckpt, progress=progress,
                 **_train_kwargs(cfg))
    with store.lock(MODEL_KIND, conf):
        _store_trained(store, model, conf, _record(hist, time.perf_counter() - t0, dev, len(y)))
    ckpt.unlink(missing_ok=True)


def _train_stacked(cfg, arch: str, kind: str, sigmas: list[float], progress: bool) -> None:
    """Train the models of ``sigmas`` (one arch, kind; none stored yet) at once and store each one
    under its own :func:`model_config` key — the same key a model trained alone gets."""
    store = _store(cfg)
    x, y = train_data(cfg)
    models = []
    for _ in sigmas:  # each model's initial weights exactly as the per-model path draws them
        torch.manual_seed(int(cfg.seed))
        models.append(build(arch, width=cfg.width))
    confs = [model_config(cfg, arch, kind, s) for s in sigmas]
    ckpt = store.path(STACK_CKPT_KIND, {"models": confs})
    ckpt.parent.mkdir(parents=True, exist_ok=True)
    dev = cfg.torch_device
    t0 = time.perf_counter()
    hists = train_many(models, x, y, kind=kind, sigmas=list(sigmas), device=dev, checkpoint=ckpt,
                       progress=progress, **_train_kwargs(cfg))
    dt = time.perf_counter() - t0
    for m, h, conf in zip(models, hists, confs):
        with store.lock(MODEL_KIND, conf):
            if not (store.has(MODEL_KIND, conf) and store.has(RECORD_KIND, conf)):
                _store_trained(store, m, conf, _record(h, dt / len(models), dev, len(y),
                                                            stacked_with=len(models)))
    ckpt.unlink(missing_ok=True)


def get_model(cfg, arch: str, kind: str, sigma: float, progress: bool = True) -> torch.nn.Module:
    """Paper A's ``arch`` trained on ``kind`` at σ (from the cache, else trained now), eval mode, CPU."""
    conf = model_config(cfg, arch, kind, sigma)
    store = _store(cfg)
    payload = store.get(MODEL_KIND, conf) if store.has(RECORD_KIND, conf) else None
    if payload is None:
        train_models(cfg, arch, kind, [sigma], progress)
        payload = store.get(MODEL_KIND, conf)
    model = build(arch, width=cfg.width)
    model.load_state_dict(payload["state_dict"])
    return model.eval()


def model_record(cfg, arch: str, kind: str, sigma: float) -> dict:
    """A trained model's record (history, train_time_s, device, n_train), training it if needed."""
    conf = model_config(cfg, arch, kind, sigma)
    rec = _store(cfg).get(RECORD_KIND, conf)
    if rec is None:
        train_models(cfg, arch, kind, [sigma], progress=False)
        rec = _store(cfg).get(RECORD_KIND, conf)
    return rec


#: On CPU, does training the σ levels of one architecture as one wide network beat training them one
#: by one? Not clearly. Measured on the shared 2-core box (width 1/16, batch 64, 7 models, 1 thread,
#: model-images/s): per SGD step the wide net beats 7 separate steps for resnet (1763 vs 1522) and is
#: close for inception (788 vs 753) and resnext (1361 vs 1492), but over whole 640-image epochs the
#: two were within the noise (resnet 1394–1433 vs 1335–1376, resnext 1019–1108 vs 1241–1386). So the
#: CPU keeps the simpler per-model path. CUDA: stacking is on by design (one small net cannot fill a GPU).
CPU_STACK_PAYS = False
#: values of the parameter ``stack_models``
STACK_MODES = ("auto", "on", "off")


def use_stacking(cfg) -> bool:
    """Resolve ``cfg.stack_models`` ('auto' | 'on' | 'off') for ``cfg.torch_device``."""
    mode = check_choice("stack_models", cfg.get("stack_models", "auto") or "auto", STACK_MODES)
    if mode != "auto":
        return mode == "on"
    return torch.device(cfg.torch_device).type == "cuda" or CPU_STACK_PAYS


def n_test(cfg) -> int:
    """Test images behind every accuracy cell (``cfg.test_subset``, else all 10,000)."""
    return int(cfg.test_subset or 10_000)


def _cells(cfg, arch: str, kind: str, sigmas: list[float]):
    """Unique cell keys of the matrix: {canonical key: (eval config, [(i, j), ...])}."""
    from robustlab.core.results import config_hash

    cells: dict[str, tuple[dict, list[tuple[int, int]]]] = {}
    for i, st in enumerate(sigmas):
        for j, se in enumerate(sigmas):
            conf = eval_config(cfg, arch, kind, st, se)
            cells.setdefault(config_hash(conf), (conf, []))[1].append((i, j))
    return cells


def accuracy_matrix(cfg, arch: str, kind: str, progress: bool = True) -> np.ndarray:
    """Accuracies (fractions in [0, 1]), shape ``(len(cfg.sigmas), len(cfg.sigmas))``:
    rows σ_train, columns σ_eval, both in the order of ``cfg.sigmas``. Cached per distinct cell
    (an identity blur row or column *is* the σ = 0 one: the same cell, computed once).

    Missing models are trained first (:func:`train_models`, stacked where that is on); missing cells
    are evaluated one σ_eval column at a time for all models on the same corrupted batches
    (:func:`robustlab.paper_a.training.evaluate_many`, bit-identical to
    :func:`~robustlab.paper_a.training.evaluate`), so an interrupted run keeps every finished column; the
    campaign deadline is checked between columns.
    """
    _check_arch(arch)
    check_kind(kind)
    sigmas = [check_sigma(s, "sigmas") for s in cfg.sigmas]
    store = _store(cfg)
    out = np.full((len(sigmas), len(sigmas)), np.nan)
    # eval level → model level → (cell config, matrix positions it fills)
    missing: dict[tuple[str, float], dict[tuple[str, float], tuple[dict, list]]] = {}
    for conf, where in _cells(cfg, arch, kind, sigmas).values():
        hit = store.get(EVAL_KIND, conf)
        if hit is None:
            ev = (conf["eval_kind"], conf["eval_sigma"])
            mdl = (conf["model"]["kind"], conf["model"]["sigma"])
            missing.setdefault(ev, {})[mdl] = (conf, where)
        else:
            for i, j in where:
                out[i, j] = hit["accuracy"]
    if not missing:
        return out
    for cols in missing.values():
        for conf, _ in cols.values():
            store.guard(EVAL_KIND, conf)
    model_levels = sorted({m for cols in missing.values() for m in cols})
    train_models(cfg, arch, kind, [s for _, s in model_levels], progress)
    models = {m: get_model(cfg, arch, kind, m[1], progress=progress) for m in model_levels}
    tx, ty = test_data(cfg)
    for n_done, (ev, cols) in enumerate(sorted(missing.items())):
        if n_done:
            budget.check(f"the evaluation of {arch}/{kind}")
        need = sorted(cols)
        ek = "noise" if ev[0] == "clean" else ev[0]
        acc = evaluate_many([models[m] for m in need], tx, ty, kind=ek, sigmas=[ev[1]], seed=int(cfg.seed),
                            device=cfg.torch_device, batch_size=EVAL_BATCH,
                            stacked=use_stacking(cfg) and len(need) > 1)[0]
        for m, a in zip(need, acc):
            conf, where = cols[m]
            hit = store.get_or_compute(EVAL_KIND, conf, lambda a=a: {"accuracy": float(a), "n_test": len(ty),
                                                                       "device": str(cfg.torch_device)})
            for i, j in where:
                out[i, j] = hit["accuracy"]
    return out


def run_grid(cfg, kinds: Iterable[str] = ("noise", "blur"), archs: Iterable[str] | None = None,
             progress: bool = True) -> dict[tuple[str, str], np.ndarray]:
    """All accuracy matrices ``{(arch, kind): matrix}`` for ``cfg.archs`` × ``kinds``, with an overall
    progress bar (one step per matrix). Finished models and cells are kept if interrupted."""
    kinds = [check_kind(k) for k in kinds]
    archs = [_check_arch(a) for a in (archs if archs is not None else cfg.archs)]
    out = {}
    bar = None
    if progress:
        from robustlab.core.progress import tqdm

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


def timings(cfg, arch: str, kind: str) -> dict:
    """Training time (s), throughput (images/s) and device of each distinct model of one matrix's rows,
    read from the stored training records (the run that trained them, on its device). Identity
    blurs are the σ = 0 model and are not listed again."""
    out = {}
    for s in cfg.sigmas:
        if is_duplicate(kind, s):
            continue
        r = model_record(cfg, arch, kind, s)
        h = r["history"]
        out[f"{float(s):g}"] = {"train_time_s": round(float(r["train_time_s"]), 2),
                                "images_per_s": round(float(np.mean(h["images_per_s"])), 1),
                                "device": r["device"], "resumed_from_epoch": h.get("resumed_from_epoch", 0),
                                "stacked_with": r.get("stacked_with", 1)}
    return out


def describe_run(cfg) -> str:
    """A Markdown paragraph saying which models and data this page's numbers come from."""
    n_train = cfg.train_subset or 50_000
    n_test = cfg.test_subset or 10_000
    from robustlab.paper_a.nets import build as _b

    ch = _b("resnet", width=cfg.width).channels
    paper = (cfg.width == 1.0 and cfg.train_subset is None and cfg.epochs == 90)
    dups = [f"{float(s):g}" for s in cfg.sigmas if is_duplicate("blur", s)]
    devices = sorted({t["device"] for a in cfg.archs for k in ("noise", "blur") for t in _stored_timings(cfg, a, k)})
    return (f"**This run** (profile `{cfg.profile}`, models trained on {', '.join(devices) or 'not yet'}): "
            f"width {cfg.width:g} "
            f"({ch} channels; paper: 256), {n_train:,} class-balanced training images (paper: 50,000), "
            f"{cfg.epochs} epoch(s) (paper: 90), batch {cfg.batch_size}, SGD lr {cfg.lr:g} ({cfg.lr_schedule}, "
            f"momentum {cfg.momentum:g}, weight decay {cfg.weight_decay:g}; the paper gives none of these), "
            f"evaluated on {n_test:,} class-balanced test images (paper: 10,000) with seeded corruption "
            f"identical for every model. σ levels: {', '.join(f'{s:g}' for s in cfg.sigmas)}. "
            + (f"Blur σ {', '.join(dups)} px is the identity (the truncated kernel has radius 0), so those "
               f"rows are the σ = 0 model itself, trained and evaluated once and not counted again. " if dups else "")
            + ("These are the paper's settings." if paper else
               "These are reduced settings, so absolute accuracies are far below the paper's; the shape "
               "of the curves is what can be compared."))


def _stored_timings(cfg, arch: str, kind: str) -> list[dict]:
    """The stored training records of one (arch, kind) (nothing is computed)."""
    out = []
    store = _store(cfg)
    for s in cfg.sigmas:
        rec = store.get(RECORD_KIND, model_config(cfg, arch, kind, s))
        if rec is not None:
            out.append(rec)
    return out


def distinct_view(matrices: dict, sigmas, kind: str) -> tuple[dict, list[float]]:
    """The matrices without the rows and columns of identity blurs (σ < 0.125 px, which are the σ = 0
    model and level), and the σ levels that remain: what tables and figures show, so that no
    duplicate appears as a model of its own. Noise matrices are returned unchanged."""
    keep = [i for i, s in enumerate(sigmas) if not is_duplicate(kind, s)]
    out = {k: np.asarray(m)[np.ix_(keep, keep)] for k, m in matrices.items()}
    return out, [float(sigmas[i]) for i in keep]
