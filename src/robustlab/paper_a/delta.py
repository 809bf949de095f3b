"""Paper A, Figs. 5 and 7: the minimal adversarial change of every model of the grid.

For each model (architecture × kind × σ_train, from :mod:`robustlab.paper_a.grid`) the same
``cfg.n_attack_images`` CIFAR-10 test images (a seeded, class-balanced draw) are attacked with
:func:`robustlab.attacks.minimal.minimal_change` (norm ``cfg.attack_norm``, ``cfg.attack_steps`` steps) on
the models' input scale [-1, 1]. The paper's number is the *average change per pixel* in 8-bit
units (mean |δ| over pixels and channels, ``mean_abs_8bit``; 2.55 = 1 % of the 8-bit range).

Results are cached per model in ``ResultStore(cfg.results)`` under kind ``"delta"``, keyed by the
model's configuration (:func:`robustlab.paper_a.grid.model_config`) plus the attack's settings, so a
re-run only loads them, and σ = 0 (one model shared by noise and blur) is attacked once.

Replicates (``cfg.n_seeds`` training seeds, see :mod:`robustlab.paper_a.grid`): every replicate of a
model is attacked on the same images with the same attack seed (``cfg.seed``); replicate 0's key is
the key a model's attack always had. :func:`run_all` returns all replicates, column ``seed``.
"""
from __future__ import annotations

import time
from collections.abc import Iterable

import numpy as np
import torch

from robustlab.attacks.minimal import minimal_change
from robustlab.core.errors import ParameterError
from robustlab.core.progress import tqdm
from robustlab.core.results import ResultStore
from robustlab.data.cifar10 import CIFAR10_CLASSES, load_cifar10
from robustlab.data.common import balanced_indices
from robustlab.data.scale import to_tensor_pm1
from robustlab.paper_a.corruptions import check_kind, check_sigma
from robustlab.paper_a.grid import get_model, is_duplicate, model_config, n_seeds
from robustlab.paper_a.kinds import DELTA_KIND

__all__ = ["KIND", "BOUNDS", "N_EXAMPLES", "attack_images", "attack_config", "run_model", "run_all",
           "NORMS", "with_norm", "run_both_norms", "summarize", "examples", "model_means", "model_means_by_seed"]

#: ResultStore kind of the per-model results (declared in robustlab.paper_a.kinds).
KIND = DELTA_KIND
#: Input scale of the paper-A models (robustlab.data.scale.to_tensor_pm1).
BOUNDS = (-1.0, 1.0)
#: Adversarial images kept per model (the first ones of the draw), for the example figure.
N_EXAMPLES = 8
#: Fixed attack settings beyond the profile's (see robustlab.attacks.minimal.minimal_change).
ATTACK_DEFAULTS = {"gamma": 0.05, "alpha": 1.0, "overshoot": 0.02, "search_steps": 12, "candidates": 10}
_VERSION = 2


def _s(p):
    return None if p is None else str(p)


def _test_set(cfg):
    return load_cifar10(_s(cfg.get("data_dir")), "test", cache_dir=_s(cfg.get("cache_dir")), progress=False)


def attack_images(cfg) -> np.ndarray:
    """Indices into the CIFAR-10 test split of the attacked images: a class-balanced draw of
    ``cfg.n_attack_images`` seeded by ``cfg.seed`` (the same for every model and replicate)."""
    n = int(cfg.n_attack_images)
    if n < 1:
        raise ParameterError(f"n_attack_images={n!r} must be >= 1 (paper: 128)")
    return balanced_indices(_test_set(cfg).labels, n, seed=int(cfg.seed))


def attack_config(cfg, arch: str, kind: str, sigma: float, replicate: int = 0) -> dict:
    """Everything that determines one model's attack result (the model's config, of replicate
    ``replicate``, + the attack's; images and attack seed are ``cfg.seed``'s for every replicate)."""

    return {"what": "paper A minimal adversarial change", "version": _VERSION,
            "model": model_config(cfg, arch, kind, sigma, replicate), "n_attack_images": int(cfg.n_attack_images),
            "image_seed": int(cfg.seed), "split": "test", "norm": str(cfg.attack_norm),
            "steps": int(cfg.attack_steps), "bounds": list(BOUNDS), "seed": int(cfg.seed),
            **ATTACK_DEFAULTS}


def _compute(cfg, arch: str, kind: str, sigma: float, progress: bool, replicate: int = 0) -> dict:
    model = get_model(cfg, arch, kind, sigma, progress=progress, replicate=replicate)
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


def run_model(cfg, arch: str, kind: str, sigma: float, progress: bool = False, replicate: int = 0) -> dict:
    """One model's attack result (cached; replicate ``replicate`` of the model): per-image arrays
    ``indices`` (into the test split), ``labels``, ``correct``, ``success``, ``mean_abs_8bit`` /
    ``linf_8bit`` (8-bit units), ``l2`` (on [-1, 1]), ``grad_evals``, ``pred_clean``/``pred_adv``;
    ``examples_clean``/``examples_adv`` (the first images, float NCHW on [-1, 1]); ``summary`` (see
    AttackResult.summary), ``seconds``."""
    check_kind(kind)
    check_sigma(sigma, "sigma_train")
    conf = attack_config(cfg, arch, kind, sigma, replicate)
    return ResultStore.for_cfg(cfg).get_or_compute(
        KIND, conf, lambda: _compute(cfg, arch, kind, sigma, progress, replicate))


def _models(cfg, kinds, archs):
    """(arch, kind, σ) of every distinct model: identity blurs (σ < 0.125 px) are the σ = 0 model and
    are left out; σ = 0 itself stays under each kind (the baseline of both curves, one model)."""

    for arch in archs:
        for kind in kinds:
            for s in dict.fromkeys(float(x) for x in cfg.sigmas):
                if not is_duplicate(kind, s):
                    yield arch, kind, s


def run_all(cfg, kinds: Iterable[str] = ("noise", "blur"), archs: Iterable[str] | None = None,
            progress: bool = True):
    """Attack every model (``archs`` × ``kinds`` × ``cfg.sigmas`` × replicates); a tidy pandas
    DataFrame with one row per (model, replicate, image): arch, kind, sigma_train, seed (the
    replicate index 0 … n_seeds − 1: training seed ``cfg.seed + seed``), image (test index), label,
    correct, success, mean_abs_8bit, linf_8bit, l2, grad_evals. Every replicate is attacked on the
    same images. σ = 0 rows appear under both kinds (one shared model, attacked once); identity
    blurs (σ < 0.125 px, the σ = 0 model) do not appear at all. Replicate 0's rows come first."""
    # deferred: pandas is slow to import; only tables need it
    import pandas as pd


    kinds = [check_kind(k) for k in kinds]
    archs = list(archs if archs is not None else cfg.archs)
    todo = [(r, *m) for r in range(n_seeds(cfg)) for m in _models(cfg, kinds, archs)]
    it = todo
    if progress:

        it = tqdm(todo, desc="minimal change", unit="model")
    frames = []
    for r, arch, kind, s in it:
        p = run_model(cfg, arch, kind, s, progress=False, replicate=r)
        frames.append(pd.DataFrame({
            "arch": arch, "kind": kind, "sigma_train": s, "seed": r, "image": p["indices"], "label": p["labels"],
            "correct": p["correct"], "success": p["success"], "mean_abs_8bit": p["mean_abs_8bit"],
            "linf_8bit": p["linf_8bit"], "l2": p["l2"], "grad_evals": p["grad_evals"]}))
    return pd.concat(frames, ignore_index=True)


#: The norms every model is attacked under for the claims (chapter 05): the change is read as the L∞
#: of the L∞-minimal change and as the per-pixel RMS of the L2-minimal change.
NORMS = ("linf", "l2")


def with_norm(cfg, norm: str):
    """``cfg`` with ``attack_norm`` = ``norm`` (the attack results of each norm are cached apart)."""
    return cfg.replace(attack_norm=norm)


def run_both_norms(cfg, progress: bool = True) -> dict:
    """{norm: :func:`run_all` table} for each of :data:`NORMS` (the profile's own norm is the
    cached run of the figures; the other is attacked once more, the same images and models)."""
    return {n: run_all(with_norm(cfg, n), progress=progress) for n in NORMS}


def _keys(df) -> list[str]:
    return ["arch", "kind", "sigma_train"] + (["seed"] if "seed" in df.columns else [])


def summarize(df):
    """Per model (arch, kind, sigma_train, and seed = replicate when ``df`` has that column): images,
    correct, successes, success rate, mean and median of ``mean_abs_8bit`` and ``linf_8bit`` over the
    successfully attacked images."""
    g = df.groupby(_keys(df), sort=False)
    out = g.agg(n_images=("image", "size"), n_correct=("correct", "sum"), n_success=("success", "sum"),
                mean_change_8bit=("mean_abs_8bit", "mean"), median_change_8bit=("mean_abs_8bit", "median"),
                mean_linf_8bit=("linf_8bit", "mean"), median_linf_8bit=("linf_8bit", "median"))
    out["success_rate"] = out["n_success"] / out["n_correct"].where(out["n_correct"] > 0)
    return out.reset_index()


def examples(cfg, arch: str, kind: str, sigma: float, replicate: int = 0) -> dict:
    """The stored example images of one model (replicate ``replicate``): ``clean``/``adv`` float NCHW
    on [-1, 1], ``labels``, ``pred_clean``, ``pred_adv``, ``success``, ``mean_abs_8bit``, ``image``
    (test index): up to ``N_EXAMPLES`` images, the successfully attacked ones first."""
    p = run_model(cfg, arch, kind, sigma, replicate=replicate)
    k = p["example_pos"]
    return {"clean": p["examples_clean"], "adv": p["examples_adv"], "labels": p["labels"][k],
            "pred_clean": p["pred_clean"][k], "pred_adv": p["pred_adv"][k], "success": p["success"][k],
            "mean_abs_8bit": p["mean_abs_8bit"][k], "image": p["indices"][k],
            "classes": list(CIFAR10_CLASSES)}


# ------------------------------------------------------------------ for the claims (robustlab.paper_a.claims)
def model_means(df, metric: str = "mean_abs_8bit"):
    """Mean change per model over its successfully attacked images: a Series indexed by
    (arch, kind, sigma_train) with values ``metric``. With several replicates (column ``seed``) the
    mean is over every successful (replicate, image) pair of the model, i.e. over replicates and
    images pooled (per replicate: :func:`model_means_by_seed`)."""
    d = df[df["success"]]
    return d.groupby(["arch", "kind", "sigma_train"])[metric].mean()


def model_means_by_seed(df, metric: str = "mean_abs_8bit"):
    """Mean change per model and replicate over its successfully attacked images: a Series indexed by
    (arch, kind, sigma_train, seed) with values ``metric`` (a table without a ``seed`` column is one
    replicate, seed 0)."""
    d = df[df["success"]]
    if "seed" not in d.columns:
        d = d.assign(seed=0)
    return d.groupby(["arch", "kind", "sigma_train", "seed"])[metric].mean()
