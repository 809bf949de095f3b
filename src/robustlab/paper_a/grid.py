"""Paper A's training grids (Figs. 4 and 6): one model per (architecture, kind, σ_train), each
evaluated on the test set corrupted at every σ_eval of the same kind.

Everything is cached in the profile's results store (:meth:`robustlab.core.results.ResultStore.for_cfg`):

* ``cifar_model/<hash>.pt`` — a trained model's weights (state dict), keyed by :func:`model_config`;
  ``cifar_train/<hash>.pt`` — its training record (history, timings, device), same key, no weights
  (so published records carry no weights). While it trains, a checkpoint lives in
  ``cifar_model_ckpt/`` (``cifar_stack_ckpt/`` when stacked) so an interrupted training resumes.
* ``cifar_eval/<hash>.pt`` — one cell of a matrix: its ``accuracy`` and ``correct``, a bool array
  (n_test,) saying which test image (in test-subset order) the model classifies correctly — keyed by
  the model's configuration plus the evaluation's (kind, σ_eval, test subset, seed, ``per_image``).

**Replicates (training seeds).** ``cfg.n_seeds`` (:func:`n_seeds`) models are trained per grid row:
replicate r uses the training seed ``cfg.seed + r`` (initial weights, batch order, training noise),
while the training subset, the test subset and the evaluation's corruption draws stay those of
``cfg.seed`` for every replicate — every replicate and every model sees the same test items, so
comparisons are paired. Replicate 0's :func:`model_config` is the configuration a model had before
replicates existed (its cache stays valid); replicate r > 0 adds ``"seed": cfg.seed + r`` and
``"data_seed": cfg.seed``. The public functions take ``replicate=0``; :func:`correct_cells` and
:func:`accuracy_matrices` return all replicates at once.

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

import multiprocessing as mp
import os
import time
import warnings
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from functools import lru_cache

import numpy as np
import torch

from robustlab.core import budget
from robustlab.core.checks import check_choice, check_int
from robustlab.core.params import Config
from robustlab.core.progress import PROGRESS_ENV, tqdm
from robustlab.core.results import ResultStore, config_hash
from robustlab.data.cifar10 import load_cifar10
from robustlab.data.common import balanced_indices
from robustlab.paper_a.corruptions import check_kind, check_sigma, level

# store kinds (weights, training records, evaluation cells, checkpoints) and the one replicate helper
from robustlab.paper_a.kinds import CKPT_KIND, EVAL_KIND, MODEL_KIND, RECORD_KIND, STACK_CKPT_KIND, replicate_of
from robustlab.paper_a.nets import ARCHS, build
from robustlab.paper_a.training import MODEL_KEY_VERSION, TrainConfig, evaluate_many, train, train_many

__all__ = ["EVAL_BATCH", "one_cpu_thread", "cross_cells", "has_cross_cells",
           "train_config", "CPU_STACK_PAYS", "STACK_MODES", "use_stacking", "level", "is_duplicate",
           "distinct_sigmas", "n_seeds", "replicate_of", "cpu_workers", "train_grid", "model_config", "eval_config",
           "get_model", "model_record", "has_model", "train_models", "accuracy_matrix", "accuracy_matrices",
           "correct_cells",
           "n_test", "timings", "stored_timings", "run_grid", "train_data", "test_data", "distinct_view", "cross_view"]

#: Evaluation batch size (fixed: the seeded evaluation noise is drawn per batch of this size).
EVAL_BATCH = 500
_VERSION = MODEL_KEY_VERSION


def _check_arch(arch: str) -> str:
    return check_choice("arch", arch, ARCHS)


def is_duplicate(kind: str, sigma: float) -> bool:
    """True for a σ > 0 that is the clean model (an identity blur): not a model of its own."""
    return check_sigma(sigma) > 0 and level(kind, sigma)[0] == "clean"


def distinct_sigmas(cfg, kind: str) -> list[float]:
    """The σ_train > 0 of ``cfg.sigmas`` that give a model of their own for ``kind`` (no identity blur)."""
    return [float(s) for s in dict.fromkeys(cfg.sigmas) if float(s) > 0 and not is_duplicate(kind, s)]


def n_seeds(cfg) -> int:
    """Replicates (training seeds) per model: ``cfg.n_seeds`` (1 when the profile has none)."""
    return max(1, int(cfg.get("n_seeds", 1) or 1))


def _check_replicate(replicate) -> int:
    return check_int("replicate", replicate, 0)


def train_config(cfg, arch: str, kind: str, sigma: float, replicate: int = 0) -> TrainConfig:
    """The one :class:`~robustlab.paper_a.training.TrainConfig` of a grid model (see
    :meth:`TrainConfig.from_cfg`): replicate r trains with seed ``cfg.seed + r`` on the data of
    ``cfg.seed``; σ = 0 and identity blurs are one "clean" model; ``precision`` resolved for the device."""
    _check_arch(arch)
    return TrainConfig.from_cfg(cfg, arch, kind, sigma, _check_replicate(replicate))


def model_config(cfg, arch: str, kind: str, sigma: float, replicate: int = 0) -> dict:
    """Everything that determines a trained model: :meth:`TrainConfig.key` of :func:`train_config`.
    σ = 0 and identity blurs are one "clean" model.

    ``replicate`` r (0 ≤ r, normally < :func:`n_seeds`): r = 0 is the configuration models always had;
    r > 0 trains with seed ``cfg.seed + r`` on the same data (``"seed": cfg.seed + r``,
    ``"data_seed": cfg.seed``). In bf16 (parameter ``precision``) the key adds ``"precision": "bf16"``;
    fp32 keys are those models always had."""
    return train_config(cfg, arch, kind, sigma, replicate).key()


def eval_config(cfg, arch: str, kind: str, sigma_train: float, sigma_eval: float, replicate: int = 0,
                eval_kind: str | None = None) -> dict:
    """Configuration of one grid cell: the model's (replicate ``replicate``) plus the evaluation's
    (identity blurs = clean). The test subset and the corruption draws are ``cfg.seed``'s for every
    replicate; ``per_image`` marks cells that store the per-image ``correct`` array. ``eval_kind``
    (default ``kind``): the corruption of the test images, another kind for the cross matrix
    (:func:`cross_matrix`); a cell it shares with a grid (the σ = 0 model, the clean level) has the
    grid's key."""
    ek, es = level(eval_kind or kind, check_sigma(sigma_eval, "sigma_eval"))
    return {"model": model_config(cfg, arch, kind, sigma_train, replicate), "eval_kind": ek,
            "eval_sigma": es, "test_subset": cfg.test_subset,
            "eval_seed": int(cfg.seed), "eval_batch": EVAL_BATCH, "per_image": True}


@lru_cache(maxsize=4)
def _split(data_dir, cache_dir, split: str, n, seed: int):
    s = load_cifar10(data_dir, split, cache_dir=cache_dir, progress=False)
    idx = balanced_indices(s.labels, n, seed=seed)
    return np.ascontiguousarray(s.images[idx]), s.labels[idx].copy()


def train_data(cfg) -> tuple[np.ndarray, np.ndarray]:
    """The (class-balanced, seeded) CIFAR-10 training subset: uint8 (N, 32, 32, 3), labels (the same
    for every replicate: drawn with ``cfg.seed``)."""
    return _split(_s(cfg.get("data_dir")), _s(cfg.get("cache_dir")), "train", cfg.train_subset, int(cfg.seed))


def test_data(cfg) -> tuple[np.ndarray, np.ndarray]:
    """The (class-balanced, seeded) CIFAR-10 test subset used by every grid cell (of every replicate):
    uint8 (n_test, 32, 32, 3), labels; the order of every cell's ``correct`` array."""
    return _split(_s(cfg.get("data_dir")), _s(cfg.get("cache_dir")), "test", cfg.test_subset, int(cfg.seed))


def _s(p):
    return None if p is None else str(p)


def _store(cfg) -> ResultStore:
    return ResultStore.for_cfg(cfg)


def has_model(cfg, arch: str, kind: str, sigma: float, replicate: int = 0) -> bool:
    """Whether the trained model (weights and record) of replicate ``replicate`` is stored."""
    conf = model_config(cfg, arch, kind, sigma, replicate)
    st = _store(cfg)
    return st.has(MODEL_KIND, conf) and st.has(RECORD_KIND, conf)


def _store_trained(store: ResultStore, model: torch.nn.Module, conf: dict, record: dict) -> None:
    """Weights first, then the record: a record means the weights are complete."""
    store.put(MODEL_KIND, conf, {"state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()}})
    store.put(RECORD_KIND, conf, record)


def _record(hist: dict, secs: float, dev, n: int, **extra) -> dict:
    return {"history": hist, "train_time_s": secs, "device": str(dev), "n_train": n,
            "torch": str(torch.__version__), "num_threads": torch.get_num_threads(), **extra}


def train_models(cfg, arch: str, kind: str, sigmas: Iterable[float], progress: bool = True,
                 replicate: int = 0) -> list[float]:
    """Train and store every not-yet-stored model of ``sigmas`` (one arch and kind; duplicates and
    σ = 0 of another kind resolve to the clean model) for replicate ``replicate`` (training seed
    ``cfg.seed + replicate``). Stacked when :func:`use_stacking` and more than one is missing; else
    one by one (a stack holds models of one replicate: they share the training seed). Returns the σ
    levels that were trained now."""
    r = _check_replicate(replicate)
    store = _store(cfg)
    todo: dict[str, float] = {}
    for s in sigmas:
        conf = model_config(cfg, arch, kind, s, r)
        key = conf["kind"] + repr(conf["sigma"])
        if key not in todo and not has_model(cfg, arch, kind, s, r):
            todo[key] = conf["sigma"]
    levels = list(todo.values())
    if not levels:
        return []
    for s in levels:
        store.guard(MODEL_KIND, model_config(cfg, arch, kind, s, r))
    kinds = {level(kind, s)[0] for s in levels} - {"clean"}  # a σ = 0 member trains clean in any stack
    if use_stacking(cfg) and len(levels) > 1 and len(kinds) <= 1:
        _train_stacked(cfg, arch, kinds.pop() if kinds else kind, levels, progress, r)
    elif cpu_workers(cfg, len(levels)) > 1:
        _train_in_processes(cfg, [(arch, kind, s, r) for s in levels], progress)
    else:
        for s in levels:
            _train_one(cfg, arch, kind, s, progress, r)
    return levels


def cpu_workers(cfg, n_models: int) -> int:
    """How many processes train ``n_models`` missing models at once on the CPU: one per torch thread
    (``torch.get_num_threads()``, i.e. ``num_threads`` or the cores), each with a single thread.

    Small nets barely use a second intra-op thread: on the 2-core box one width-1/16 model trains about
    as fast with 2 threads as with 1, so two single-threaded processes train two models in the time
    of one. 1 (serial, in this process) on CUDA, with a campaign deadline set (checkpointing at the
    deadline is the campaign's), or when there is one model or one thread. Every CPU model trains on one
    thread (:func:`one_cpu_thread`), in a worker or not, so the schedule never changes a weight.
    """
    if torch.device(cfg.torch_device).type != "cpu" or n_models < 2 or budget.deadline() is not None:
        return 1
    return max(1, min(n_models, torch.get_num_threads(), os.cpu_count() or 1))


#: Relative CPU cost of training one model, per architecture (σ = 0, width 1/16, measured by
#: ``benchmarks/quick_profile.py``: 30 / 53 / 28 CPU-s), and the extra of the widest blur kernels.
#: Only the order of the work depends on it (dearest first, so the last job to finish is a cheap one).
_TRAIN_COST = {"resnet": 1.0, "inception": 1.8, "resnext": 0.95}


def _job_cost(job: tuple[str, str, float, int]) -> float:
    arch, kind, s, _ = job
    return _TRAIN_COST.get(arch, 1.0) * (1.0 + (0.1 * min(float(s), 5.0) / 5.0 if kind == "blur" else 0.0))


def train_grid(cfg, kinds: Iterable[str] = ("noise", "blur"), archs: Iterable[str] | None = None,
               replicates: Iterable[int] | None = None, progress: bool = True) -> list[tuple[str, str, float, int]]:
    """Train every model of ``archs`` (default ``cfg.archs``) × ``kinds`` × ``replicates`` (default all
    :func:`n_seeds`) that a missing grid cell needs and the store lacks, all at once: on a CPU in
    :func:`cpu_workers` single-threaded processes fed from one queue (dearest first: no process idles
    while another still has a whole architecture to train), else per architecture as
    :func:`train_models` does (stacked on CUDA). Returns the jobs ``(arch, kind, σ, replicate)``
    trained now. What finished is kept if interrupted."""
    kinds = [check_kind(k) for k in kinds]
    archs = [_check_arch(a) for a in (archs if archs is not None else cfg.archs)]
    reps = [_check_replicate(r) for r in (replicates if replicates is not None else range(n_seeds(cfg)))]
    store = _store(cfg)
    sigmas = [check_sigma(s, "sigmas") for s in cfg.sigmas]
    jobs: dict[str, tuple[str, str, float, int]] = {}
    cells: dict[str, dict] = {}  # a job → the first missing grid cell it is trained for
    for r in reps:
        for arch in archs:
            for kind in kinds:
                for conf, _ in _cells(cfg, arch, kind, sigmas, r).values():
                    m = conf["model"]
                    key = f"{arch}/{m['kind']}{m['sigma']!r}/{r}"
                    if (key not in jobs and not store.has(EVAL_KIND, conf)
                            and not has_model(cfg, arch, kind, m["sigma"], r)):
                        jobs[key], cells[key] = (arch, kind, m["sigma"], r), conf
    for conf in cells.values():  # where computing is refused, name what the page lacks: the grid cell's unit
        store.guard(EVAL_KIND, conf)  # (a finished training unit's weights are never published)
    todo = list(jobs.values())
    if cpu_workers(cfg, len(todo)) > 1:  # (computing was checked above, for every job's grid cell)
        _train_in_processes(cfg, todo, progress)
    else:
        for r in reps:
            for arch in archs:
                for kind in kinds:
                    train_models(cfg, arch, kind, [j[2] for j in todo if j[0] == arch and j[1] == kind
                                                   and j[3] == r], progress, replicate=r)
    return todo


def _train_worker(cfg_items: dict, arch: str, kind: str, sigma: float, replicate: int) -> tuple:
    t0 = time.perf_counter()
    # a worker's bar is shown only in a book run (the runner prints the progress file it goes to)
    _train_one(Config(cfg_items), arch, kind, sigma, bool(os.environ.get(PROGRESS_ENV)), replicate)
    return arch, kind, sigma, replicate, time.perf_counter() - t0


def _train_in_processes(cfg, jobs: list[tuple[str, str, float, int]], progress: bool) -> None:
    """Train the models ``jobs`` = [(arch, kind, σ, replicate)] in :func:`cpu_workers` single-threaded
    processes (spawned: safe in a Jupyter kernel) fed from one queue, dearest first (see
    :data:`_TRAIN_COST`); each stores its model itself (per-key locks). The progress bar counts
    models and names the last one finished and its seconds."""
    order = sorted(jobs, key=lambda j: -_job_cost(j))
    n = cpu_workers(cfg, len(order))
    bar = None
    if progress:
        bar = tqdm(total=len(order), desc=f"training {len(order)} models in {n} processes", unit="model")
    try:
        with ProcessPoolExecutor(n, mp_context=mp.get_context("spawn")) as ex:
            futs = [ex.submit(_train_worker, dict(cfg), *j) for j in order]
            for f in as_completed(futs):
                arch, kind, s, r, secs = f.result()
                if bar is not None:
                    bar.set_postfix_str(f"{arch} {kind} σ={s:g}" + (f" seed+{r}" if r else "") + f" {secs:.0f} s")
                    bar.update(1)
    except BrokenProcessPool:
        # a worker could not start (e.g. a script without an ``if __name__ == "__main__":`` guard) or
        # died: what the workers stored is kept, the rest is trained here, one by one
        warnings.warn("training in worker processes failed; training the remaining models in this process",
                      RuntimeWarning, stacklevel=2)
        for arch, kind, s, r in order:
            if not has_model(cfg, arch, kind, s, r):
                _train_one(cfg, arch, kind, s, False, r)
    finally:
        if bar is not None:
            bar.close()


def _train_one(cfg, arch: str, kind: str, sigma: float, progress: bool, replicate: int = 0) -> None:
    store = _store(cfg)
    hp = train_config(cfg, arch, kind, sigma, replicate)
    conf = hp.key()
    x, y = train_data(cfg)
    model = hp.build_model()
    ckpt = store.path(CKPT_KIND, conf)
    ckpt.parent.mkdir(parents=True, exist_ok=True)
    dev = cfg.torch_device
    with one_cpu_thread(dev):
        t0 = time.perf_counter()
        hist = train(model, x, y, hp, device=dev, checkpoint=ckpt, progress=progress,
                     compile=bool(cfg.get("compile", False)))
        with store.lock(MODEL_KIND, conf):
            _store_trained(store, model, conf, _record(hist, time.perf_counter() - t0, dev, len(y)))
    ckpt.unlink(missing_ok=True)


@contextmanager
def one_cpu_thread(device):
    """On the CPU, one model trains on one thread wherever it runs (a worker process, or this process
    when serial, e.g. under a campaign deadline): CPU results are bit-identical only for the same thread
    count, so this makes a model independent of how the work was scheduled (and of a resume in between).
    One thread costs these small nets little (see :func:`cpu_workers`); the cores go to parallel models."""
    if torch.device(device).type != "cpu":
        yield
        return
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(n)


def _train_stacked(cfg, arch: str, kind: str, sigmas: list[float], progress: bool, replicate: int = 0) -> None:
    """Train the models of ``sigmas`` (one arch, kind, replicate; none stored yet) at once and store
    each one under its own :func:`model_config` key — the same key a model trained alone gets."""
    store = _store(cfg)
    x, y = train_data(cfg)
    hps = [train_config(cfg, arch, kind, s, replicate) for s in sigmas]
    models = [hp.build_model() for hp in hps]  # each exactly as the per-model path draws it
    confs = [hp.key() for hp in hps]
    stack_hp = max(hps, key=lambda h: h.sigma)  # of the stack's kind (at most one member is clean)
    ckpt = store.path(STACK_CKPT_KIND, {"models": confs})
    ckpt.parent.mkdir(parents=True, exist_ok=True)
    dev = cfg.torch_device
    t0 = time.perf_counter()
    hists = train_many(models, x, y, stack_hp, sigmas=[h.sigma for h in hps], device=dev, checkpoint=ckpt,
                       progress=progress, compile=bool(cfg.get("compile", False)))
    dt = time.perf_counter() - t0
    for m, h, conf in zip(models, hists, confs):
        with store.lock(MODEL_KIND, conf):
            if not (store.has(MODEL_KIND, conf) and store.has(RECORD_KIND, conf)):
                _store_trained(store, m, conf, _record(h, dt / len(models), dev, len(y),
                                                            stacked_with=len(models)))
    ckpt.unlink(missing_ok=True)


def get_model(cfg, arch: str, kind: str, sigma: float, progress: bool = True, replicate: int = 0) -> torch.nn.Module:
    """Paper A's ``arch`` trained on ``kind`` at σ, replicate ``replicate`` (from the cache, else
    trained now), eval mode, CPU."""
    conf = model_config(cfg, arch, kind, sigma, replicate)
    store = _store(cfg)
    payload = store.get(MODEL_KIND, conf) if store.has(RECORD_KIND, conf) else None
    if payload is None:
        train_models(cfg, arch, kind, [sigma], progress, replicate=replicate)
        payload = store.get(MODEL_KIND, conf)
    model = build(arch, width=cfg.width)
    model.load_state_dict(payload["state_dict"])
    return model.eval()


def model_record(cfg, arch: str, kind: str, sigma: float, replicate: int = 0) -> dict:
    """A trained model's record (history, train_time_s, device, n_train), training it if needed."""
    conf = model_config(cfg, arch, kind, sigma, replicate)
    rec = _store(cfg).get(RECORD_KIND, conf)
    if rec is None:
        train_models(cfg, arch, kind, [sigma], progress=False, replicate=replicate)
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


def _cells(cfg, arch: str, kind: str, sigmas: list[float], replicate: int = 0):
    """Unique cell keys of one replicate's matrix: {canonical key: (eval config, [(i, j), ...])}."""
    cells: dict[str, tuple[dict, list[tuple[int, int]]]] = {}
    for i, st in enumerate(sigmas):
        for j, se in enumerate(sigmas):
            conf = eval_config(cfg, arch, kind, st, se, replicate)
            cells.setdefault(config_hash(conf), (conf, []))[1].append((i, j))
    return cells


def _evaluate(cfg, arch: str, kind: str, replicates: list[int], progress: bool) -> tuple[np.ndarray, np.ndarray]:
    """The cells of ``replicates``: accuracies float ``(R, S, S)`` and per-image correctness bool
    ``(R, S, S, n_test)`` (R = len(replicates), S = len(cfg.sigmas)), from the store or computed.

    Missing models are trained first (per replicate); missing cells are evaluated one replicate and
    one σ_eval column at a time for all of that replicate's models on the same corrupted batches,
    each stored as soon as its column is done (the campaign deadline is checked between calls)."""
    _check_arch(arch)
    check_kind(kind)
    reps = [_check_replicate(r) for r in replicates]
    sigmas = [check_sigma(s, "sigmas") for s in cfg.sigmas]
    store = _store(cfg)
    S = len(sigmas)
    acc = np.full((len(reps), S, S), np.nan)
    correct = np.zeros((len(reps), S, S, n_test(cfg)), dtype=bool)

    def fill(k: int, where: list, hit: dict) -> None:
        c = np.asarray(hit["correct"], dtype=bool)
        for i, j in where:
            acc[k, i, j] = hit["accuracy"]
            correct[k, i, j] = c

    # replicate → eval level → model level → (cell config, matrix positions it fills)
    missing: dict[int, dict[tuple[str, float], dict[tuple[str, float], tuple[dict, list]]]] = {}
    for k, r in enumerate(reps):
        for conf, where in _cells(cfg, arch, kind, sigmas, r).values():
            hit = store.get(EVAL_KIND, conf)
            if hit is None:
                ev = (conf["eval_kind"], conf["eval_sigma"])
                mdl = (conf["model"]["kind"], conf["model"]["sigma"])
                missing.setdefault(k, {}).setdefault(ev, {})[mdl] = (conf, where)
            else:
                fill(k, where, hit)
    if not missing:
        return acc, correct
    for per_ev in missing.values():
        for cols in per_ev.values():
            for conf, _ in cols.values():
                store.guard(EVAL_KIND, conf)
    models = {}
    for k, per_ev in sorted(missing.items()):
        levels = sorted({m for cols in per_ev.values() for m in cols})
        train_models(cfg, arch, kind, [s for _, s in levels], progress, replicate=reps[k])
        models[k] = {m: get_model(cfg, arch, kind, m[1], progress=progress, replicate=reps[k]) for m in levels}
    tx, ty = test_data(cfg)
    precision = train_config(cfg, arch, kind, 0.0).precision  # a model is evaluated at its own precision
    n_done = 0
    for k, per_ev in sorted(missing.items()):
        for ev, cols in sorted(per_ev.items()):
            if n_done:
                budget.check(f"the evaluation of {arch}/{kind}")
            n_done += 1
            for hit, where in _evaluate_level(cfg, models[k], ev, cols, tx, ty, precision):
                fill(k, where, hit)
    return acc, correct


def accuracy_matrix(cfg, arch: str, kind: str, progress: bool = True, replicate: int = 0) -> np.ndarray:
    """Accuracies (fractions in [0, 1]) of replicate ``replicate`` (0: the models trained with
    ``cfg.seed``), shape ``(len(cfg.sigmas), len(cfg.sigmas))``: rows σ_train, columns σ_eval, both
    in the order of ``cfg.sigmas``. Cached per distinct cell (an identity blur row or column *is*
    the σ = 0 one: the same cell, computed once).

    Missing models are trained first (:func:`train_models`, stacked where that is on); missing cells
    are evaluated one σ_eval column at a time for all models on the same corrupted batches
    (:func:`robustlab.paper_a.training.evaluate_many`, bit-identical to
    :func:`~robustlab.paper_a.training.evaluate`), so an interrupted run keeps every finished column; the
    campaign deadline is checked between columns. Every cell also stores its per-image correctness
    (see :func:`correct_cells`).
    """
    return _evaluate(cfg, arch, kind, [replicate], progress)[0][0]


def correct_cells(cfg, arch: str, kind: str, progress: bool = True) -> np.ndarray:
    """Per-image correctness of every cell of every replicate: bool, shape
    ``(n_seeds(cfg), S, S, n_test(cfg))`` with S = ``len(cfg.sigmas)``. Entry ``[r, i, j, t]`` says
    whether replicate r of the model trained at ``cfg.sigmas[i]`` classifies test image t
    (:func:`test_data` order, the same images and corruption draws for every model and replicate)
    corrupted at ``cfg.sigmas[j]`` correctly. Identity-blur rows and columns are present (they repeat
    the σ = 0 ones), as in :func:`accuracy_matrix`. Its mean over the last axis is
    :func:`accuracy_matrices`. Missing models and cells are computed (and stored) first."""
    return _evaluate(cfg, arch, kind, list(range(n_seeds(cfg))), progress)[1]


def accuracy_matrices(cfg, arch: str, kind: str, progress: bool = True) -> np.ndarray:
    """The accuracy matrices of every replicate: float fractions in [0, 1], shape
    ``(n_seeds(cfg), S, S)``; ``[r]`` is ``accuracy_matrix(cfg, arch, kind, replicate=r)`` and
    equals ``correct_cells(cfg, arch, kind).mean(-1)``."""
    return _evaluate(cfg, arch, kind, list(range(n_seeds(cfg))), progress)[0]


def cross_cells(cfg, arch: str, kind: str, eval_kind: str, progress: bool = True, replicate: int = 0) -> np.ndarray:
    """Fig. 6's full cross matrix: per-image correctness, bool ``(S, S, n_test)`` (S = ``len(cfg.sigmas)``),
    of the ``kind``-trained models of replicate ``replicate`` (rows: σ_train in the order of
    ``cfg.sigmas``) on the test images corrupted with ``eval_kind`` (columns: σ_eval, same order) —
    e.g. the blur-trained models on noise levels, as Fig. 6's caption reads. ``eval_kind == kind`` is the
    grid itself (:func:`correct_cells`). Only evaluation (a missing model is trained first, as by the
    grid); every cell is stored as a grid cell is (same kind, same key layout, the grids' own keys where
    they coincide: the σ = 0 model, the clean level), one σ_eval column at a time for all models on the
    same corrupted batches (:func:`robustlab.paper_a.training.evaluate_many`); the campaign deadline is
    checked between columns."""
    _check_arch(arch)
    check_kind(kind)
    check_kind(eval_kind, "eval_kind")
    r = _check_replicate(replicate)
    sigmas = [check_sigma(s, "sigmas") for s in cfg.sigmas]
    store = _store(cfg)
    S = len(sigmas)
    correct = np.zeros((S, S, n_test(cfg)), dtype=bool)
    # eval level → model level → (cell config, matrix positions it fills)
    missing: dict[tuple[str, float], dict[tuple[str, float], tuple[dict, list]]] = {}
    seen: dict[str, tuple[dict, list]] = {}
    for i, st in enumerate(sigmas):
        for j, se in enumerate(sigmas):
            conf = eval_config(cfg, arch, kind, st, se, r, eval_kind=eval_kind)
            seen.setdefault(config_hash(conf), (conf, []))[1].append((i, j))
    for conf, where in seen.values():
        hit = store.get(EVAL_KIND, conf)
        if hit is None:
            ev = (conf["eval_kind"], conf["eval_sigma"])
            missing.setdefault(ev, {})[(conf["model"]["kind"], conf["model"]["sigma"])] = (conf, where)
            continue
        for i, j in where:
            correct[i, j] = np.asarray(hit["correct"], dtype=bool)
    if not missing:
        return correct
    for cols in missing.values():
        for conf, _ in cols.values():
            store.guard(EVAL_KIND, conf)
    levels = sorted({m for cols in missing.values() for m in cols})
    train_models(cfg, arch, kind, [s for _, s in levels], progress, replicate=r)
    models = {m: get_model(cfg, arch, kind, m[1], progress=progress, replicate=r) for m in levels}
    tx, ty = test_data(cfg)
    precision = train_config(cfg, arch, kind, 0.0).precision
    for n_done, (ev, cols) in enumerate(sorted(missing.items())):
        if n_done:
            budget.check(f"the cross evaluation of {arch}/{kind} on {eval_kind}")
        for hit, where in _evaluate_level(cfg, models, ev, cols, tx, ty, precision):
            for i, j in where:
                correct[i, j] = np.asarray(hit["correct"], dtype=bool)
    return correct


def _evaluate_level(cfg, models: dict, ev: tuple[str, float], cols: dict, tx, ty, precision: str):
    """Evaluate the models ``cols`` names (model level → (cell config, matrix positions)) on one evaluation
    level ``ev`` = (kind, σ) at once, store each cell and yield (stored cell, its positions)."""
    need = sorted(cols)
    ek = "noise" if ev[0] == "clean" else ev[0]
    got = evaluate_many([models[m] for m in need], tx, ty, kind=ek, sigmas=[ev[1]], seed=int(cfg.seed),
                        device=cfg.torch_device, batch_size=EVAL_BATCH, precision=precision,
                        stacked=use_stacking(cfg) and len(need) > 1, per_image=True)[0]
    store = _store(cfg)
    for m, c in zip(need, got):
        conf, where = cols[m]
        yield store.get_or_compute(EVAL_KIND, conf, lambda c=c: {
            "accuracy": float(c.mean()), "correct": np.asarray(c, dtype=bool), "n_test": len(ty),
            "device": str(cfg.torch_device)}), where


def has_cross_cells(cfg, arch: str, kind: str, eval_kind: str, replicate: int = 0) -> bool:
    """Whether every cell of :func:`cross_cells` is stored."""
    st = _store(cfg)
    return all(st.has(EVAL_KIND, eval_config(cfg, arch, kind, a, b, replicate, eval_kind=eval_kind))
               for a in cfg.sigmas for b in cfg.sigmas)


def run_grid(cfg, kinds: Iterable[str] = ("noise", "blur"), archs: Iterable[str] | None = None,
             progress: bool = True) -> dict[tuple[str, str], np.ndarray]:
    """All accuracy matrices ``{(arch, kind): matrix}`` (replicate 0, see :func:`accuracy_matrix`) for
    ``cfg.archs`` × ``kinds``, with an overall progress bar (one step per matrix). Finished models and
    cells are kept if interrupted."""
    kinds = [check_kind(k) for k in kinds]
    archs = [_check_arch(a) for a in (archs if archs is not None else cfg.archs)]
    out = {}
    bar = None
    if progress:
        bar = tqdm(total=len(archs) * len(kinds), desc="paper-A grid", unit="matrix")
    try:
        train_grid(cfg, kinds, archs, [0], progress=progress)
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


def timings(cfg, arch: str, kind: str, replicate: int = 0) -> dict:
    """Training time (s), throughput (images/s) and device of each distinct model of one matrix's rows
    (replicate ``replicate``), read from the stored training records (the run that trained them, on
    its device). Identity blurs are the σ = 0 model and are not listed again."""
    out = {}
    for s in cfg.sigmas:
        if is_duplicate(kind, s):
            continue
        r = model_record(cfg, arch, kind, s, replicate)
        h = r["history"]
        out[f"{float(s):g}"] = {"train_time_s": round(float(r["train_time_s"]), 2),
                                "images_per_s": round(float(np.mean(h["images_per_s"])), 1),
                                "device": r["device"], "resumed_from_epoch": h.get("resumed_from_epoch", 0),
                                "stacked_with": r.get("stacked_with", 1)}
    return out


def cross_view(matrices: dict, sigmas, kind: str, eval_kind: str) -> tuple[dict, list[float], list[float]]:
    """:func:`distinct_view` of cross matrices (rows trained on ``kind``, columns tested on ``eval_kind``,
    :func:`cross_cells`): identity-blur rows and columns are cut on their own axis only. Accepts (S, S),
    (n_seeds, S, S) and (n_seeds, S, S, n_test); returns (matrices, row σ, column σ)."""
    rows = [i for i, s in enumerate(sigmas) if not is_duplicate(kind, s)]
    cols = [i for i, s in enumerate(sigmas) if not is_duplicate(eval_kind, s)]

    def cut(m):
        m = np.asarray(m)
        a = 1 if m.ndim == 4 else m.ndim - 2  # the σ_train axis
        return np.take(np.take(m, rows, axis=a), cols, axis=a + 1)

    return ({k: cut(m) for k, m in matrices.items()}, [float(sigmas[i]) for i in rows],
            [float(sigmas[i]) for i in cols])


def distinct_view(matrices: dict, sigmas, kind: str) -> tuple[dict, list[float]]:
    """The matrices without the rows and columns of identity blurs (σ < 0.125 px, which are the σ = 0
    model and level), and the σ levels that remain: what tables and figures show, so that no
    duplicate appears as a model of its own. Noise matrices are returned unchanged.

    Accepts (S, S) matrices, (n_seeds, S, S) stacks (:func:`accuracy_matrices`) and
    (n_seeds, S, S, n_test) arrays (:func:`correct_cells`); the σ axes are cut, the others kept."""
    keep = [i for i, s in enumerate(sigmas) if not is_duplicate(kind, s)]

    def cut(m):
        m = np.asarray(m)
        a = 1 if m.ndim == 4 else m.ndim - 2  # the σ_train axis
        return np.take(np.take(m, keep, axis=a), keep, axis=a + 1)

    out = {k: cut(m) for k, m in matrices.items()}
    return out, [float(sigmas[i]) for i in keep]


def stored_timings(cfg, arch: str, kind: str) -> list[dict]:
    """The stored training records of one (arch, kind), every replicate (nothing is computed)."""
    out = []
    store = _store(cfg)
    for r in range(n_seeds(cfg)):
        for s in cfg.sigmas:
            rec = store.get(RECORD_KIND, model_config(cfg, arch, kind, s, r))
            if rec is not None:
                out.append(rec)
    return out
