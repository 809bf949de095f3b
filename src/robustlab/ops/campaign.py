"""The campaign: all the computation behind a profile's pages, as a resumable queue of units.

::

    python -m robustlab.campaign --profile paper --dry-run          # the units, their status and FLOPs
    python -m robustlab.campaign --profile paper --until 540        # run until 540 s have passed
    python -m robustlab.campaign --profile paper --only paper-a --until 540 --pack out/
    python -m robustlab.campaign --profile paper --unpack out/*     # merge what a GPU machine sent back
    python -m robustlab.campaign --profile paper --publish          # records → published/paper/
    python -m robustlab.campaign --profile paper --executor ray --address auto   # units as Ray tasks

A **unit** is one piece of work with a name (``a-train-resnet-noise``, ``a-eval-resnet-blur``,
``a-attack-inception-noise-0.1``, ``b-exp2`` …; paper-A units of replicate r ≥ 1 — training seed
``seed + r`` when ``n_seeds`` > 1 — end in ``-s<r>``), the units it needs first, a check of whether its
results are all stored, and an estimate of its FLOPs. Units are declared as data by :func:`units`
from a profile; they call the same library functions the notebooks call, so every result lands in
the same results store under the same keys, and the book then only reads them.

``--until SECONDS`` sets a wall-clock deadline (:mod:`robustlab.core.budget`): training checkpoints at it
in the middle of an epoch, evaluations and pixel runs stop between stored pieces, and the process
exits 0 printing what is left; the next call resumes. Every call makes progress (the deadline is
checked only after the first step). One line per finished unit gives its wall time, model-images/s
and achieved TFLOP/s (from the FLOP estimate); the same figures are kept in
``<results>/campaign/log.json`` with the device, versions and date, and travel with the records.

``--executor ray`` runs the same units as Ray tasks on a cluster, independent ones at once
(:mod:`robustlab.ops.campaign_ray`; ray is an optional extra, imported only then).

Nothing here imports papermill or Jupyter: it runs where only torch is installed (a lent GPU).
"""
from __future__ import annotations

import argparse
import datetime as _dt
import fnmatch
import json
import platform
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import torch
import torchvision
from torch.utils.flop_counter import FlopCounterMode

from robustlab import paper_b as paperb
from robustlab.beyond import cifar as xc
from robustlab.beyond import imagenet as xi
from robustlab.beyond.registry import IMAGENET_TRADITIONAL, cifar_variants
from robustlab.core import budget
from robustlab.core.device import describe_device, resolve_device, resolve_precision
from robustlab.core.errors import ComputeRefused, DeadlineReached, ParameterError, RobustlabError
from robustlab.core.kinds import describe_result, unit_for
from robustlab.core.params import parse_param, resolve
from robustlab.core.results import ResultStore
from robustlab.core.versions import git_commit
from robustlab.ops.log import LOG, log_call, read_log, write_log
from robustlab.ops.pack import pack, unpack
from robustlab.ops.publish import publish
from robustlab.paper_a import delta, grid
from robustlab.paper_a.kinds import attack_unit_name, cross_unit_name, eval_unit_name, sigma_text, train_unit_name
from robustlab.paper_a.nets import build
from robustlab.paper_b.classifiers import label, model_names, preferred

__all__ = ["Unit", "units", "select_units", "unit_for", "describe_result", "status", "run", "read_log", "log_call",
           "main", "PARTS", "LOG", "train_unit_name", "eval_unit_name", "attack_unit_name"]

PARTS = ("paper-a", "paper-b", "beyond")


@dataclass(frozen=True)
class Unit:
    """One unit of a campaign. ``run(cfg)`` computes and stores its results (checkpointing at the
    deadline); ``done(cfg)`` says whether they are all stored, computing nothing; ``work(cfg)``
    estimates (model-images, FLOPs) of the whole unit.

    ``deps``: units whose results it needs (trained models, the image selection); it is not started
    before they are done. ``after``: units that compute results it would otherwise compute too (a
    shared grid cell, a shared selection); it needs none of them, but a parallel executor starts it
    only after those of them that run in the same call, so nothing is computed twice (the priority
    order of :func:`units` already puts them first)."""

    name: str
    part: str
    what: str
    run: Callable[[Any], Any] = field(repr=False)
    done: Callable[[Any], bool] = field(repr=False)
    work: Callable[[Any], tuple[float, float]] = field(repr=False)
    deps: tuple[str, ...] = ()
    after: tuple[str, ...] = ()


# --------------------------------------------------------------------------------------
# FLOP estimates
# --------------------------------------------------------------------------------------
@lru_cache(maxsize=16)
def cifar_forward_flops(arch: str, width: float) -> float:
    """FLOPs of one forward pass of a paper-A net on one 32×32 image (multiply-add = 2)."""
    with torch.device("meta"):
        m = build(arch, width=width).eval()
        x = torch.zeros(1, 3, 32, 32)
    with torch.no_grad(), FlopCounterMode(display=False) as fc:
        m(x)
    return float(fc.get_total_flops())


@lru_cache(maxsize=8)
def imagenet_forward_flops(name: str) -> float:
    """FLOPs of one forward pass of a torchvision ImageNet classifier on one 224×224 image."""
    with torch.device("meta"):
        m = getattr(torchvision.models, name)().eval()
        x = torch.zeros(1, 3, 224, 224)
    with torch.no_grad(), FlopCounterMode(display=False) as fc:
        m(x)
    return float(fc.get_total_flops())


def _n_train(cfg) -> int:
    return int(cfg.train_subset or 50_000)


# --------------------------------------------------------------------------------------
# paper A
# --------------------------------------------------------------------------------------
def _paper_a(cfg) -> list[Unit]:
    """Paper A's units: for replicate 0, then for each further replicate r (``n_seeds`` > 1, names
    ``…-s<r>``): the σ = 0 models, the noise models, the blur models, the evaluations, the attacks.
    So everything of replicate 0 comes first."""
    out: list[Unit] = []
    fwd = {a: cifar_forward_flops(a, float(cfg.width)) for a in cfg.archs}
    ep = int(cfg.epochs)
    n_test = grid.n_test(cfg)
    n_att = int(cfg.n_attack_images)
    steps = int(cfg.attack_steps)

    def train_unit(arch: str, kind: str, sigmas: list[float], r: int) -> Unit:
        k = "noise" if kind == "clean" else kind
        n_img = len(sigmas) * ep * _n_train(cfg)
        seed = f", training seed {int(cfg.seed) + r} (replicate {r})" if r else ""
        return Unit(
            train_unit_name(arch, kind, r), "paper-a",
            f"train {arch} on {kind} images"
            + ("" if kind == "clean" else f" at σ {', '.join(map(sigma_text, sigmas))}")
            + f" ({len(sigmas)} model{'s' * (len(sigmas) > 1)}, {ep} epochs × {_n_train(cfg):,} images{seed})",
            run=lambda c: grid.train_models(c, arch, k, sigmas, progress=True, replicate=r),
            done=lambda c: all(grid.has_model(c, arch, k, s, replicate=r) for s in sigmas),
            work=lambda c: (n_img, 3 * fwd[arch] * n_img))

    for r in range(grid.n_seeds(cfg)):
        rs = f" (replicate {r})" if r else ""
        for arch in cfg.archs:
            out.append(train_unit(arch, "clean", [0.0], r))
        for kind in ("noise", "blur"):
            for arch in cfg.archs:
                ss = grid.distinct_sigmas(cfg, kind)
                if ss:
                    out.append(train_unit(arch, kind, ss, r))
        names = {u.name for u in out}
        for kind in ("noise", "blur"):
            for arch in cfg.archs:
                n_models = 1 + len(grid.distinct_sigmas(cfg, kind))
                n_levels = len({grid.level(kind, s) for s in cfg.sigmas})
                n_img = n_models * n_levels * n_test
                deps = tuple(n for n in (train_unit_name(arch, "clean", r), train_unit_name(arch, kind, r))
                             if n in names)
                # the σ = 0 model on clean images and the identity blurs (σ < 0.125 px) are noise cells too
                after = (eval_unit_name(arch, "noise", r),) if kind == "blur" else ()
                out.append(Unit(
                    eval_unit_name(arch, kind, r), "paper-a",
                    f"evaluate the {n_models} {arch} {kind} models{rs} on {n_levels} {kind} levels × "
                    f"{n_test:,} test images",
                    run=lambda c, arch=arch, kind=kind, r=r: grid.accuracy_matrix(c, arch, kind, progress=True,
                                                                                  replicate=r),
                    done=lambda c, arch=arch, kind=kind, r=r: _probe(
                        lambda: grid.accuracy_matrix(c, arch, kind, progress=False, replicate=r)),
                    work=lambda c, n_img=n_img, arch=arch: (n_img, fwd[arch] * n_img),
                    deps=deps, after=after))
        if r == 0:  # Fig. 6's full cross matrix (chapter 04): only evaluation, of replicate 0's models
            for arch in cfg.archs:
                n_img = sum(len(grid.distinct_sigmas(cfg, k)) * len({grid.level(e, s) for s in cfg.sigmas})
                            for k, e in (("blur", "noise"), ("noise", "blur"))) * n_test
                deps = tuple(n for n in (train_unit_name(arch, k) for k in ("clean", "noise", "blur")) if n in names)
                out.append(Unit(
                    cross_unit_name(arch), "paper-a",
                    f"evaluate the {arch} blur models on the noise levels and the noise models on the blur levels "
                    f"(Fig. 6's caption), {n_test:,} test images",
                    run=lambda c, arch=arch: [grid.cross_cells(c, arch, k, e, progress=True)
                                              for k, e in (("blur", "noise"), ("noise", "blur"))],
                    done=lambda c, arch=arch: all(grid.has_cross_cells(c, arch, k, e)
                                                  for k, e in (("blur", "noise"), ("noise", "blur"))),
                    work=lambda c, n_img=n_img, arch=arch: (n_img, fwd[arch] * n_img),
                    deps=deps, after=(eval_unit_name(arch, "noise"), eval_unit_name(arch, "blur"))))
        for kind in ("clean", "noise", "blur"):
            for arch in cfg.archs:
                for s in ([0.0] if kind == "clean" else grid.distinct_sigmas(cfg, kind)):
                    k = "noise" if kind == "clean" else kind
                    name = attack_unit_name(arch, kind, s, r)
                    # steps + 8 gradients per image and norm (robustlab.attacks.minimal.minimal_change); the
                    # claims read both the L∞- and the L2-minimal change (robustlab.paper_a.delta.NORMS)
                    grads = len(delta.NORMS) * n_att * (steps + 8)
                    dep = train_unit_name(arch, kind, r)
                    out.append(Unit(
                        name, "paper-a",
                        f"minimal adversarial change (L∞ and L2) of the {arch} {kind} σ={sigma_text(s)} model{rs} "
                        f"on {n_att} test images",
                        run=lambda c, arch=arch, k=k, s=s, r=r: [
                            delta.run_model(delta.with_norm(c, n), arch, k, s, progress=True, replicate=r)
                            for n in delta.NORMS],
                        done=lambda c, arch=arch, k=k, s=s, r=r: all(_store(c).has(
                            delta.KIND, delta.attack_config(delta.with_norm(c, n), arch, k, s, replicate=r))
                            for n in delta.NORMS),
                        work=lambda c, grads=grads, arch=arch: (grads, 3 * fwd[arch] * grads),
                        deps=(dep,) if dep in names else ()))
    return out


# --------------------------------------------------------------------------------------
# paper B
# --------------------------------------------------------------------------------------
def _paper_b(cfg) -> list[Unit]:
    names = model_names(cfg)  # requested; those without weights are left out when the units run
    f_all = sum(imagenet_forward_flops(m) for m in names)  # exp. 1 and the selection run every model
    f = imagenet_forward_flops(cfg.model_name or preferred(names))  # the one fine-tuned model
    n = int(cfg.n_images)
    R = int(cfg.n_repeats)
    Rg = int(cfg.get("grid_repeats") or cfg.n_repeats)  # draws per setting of the exp. 2/3 grids
    n_grid = len(cfg.grid_pixel_counts)
    n_area = len(cfg.area_pixel_counts)

    def fw(n_img: float) -> tuple[float, float]:
        return n_img, f * n_img

    def every(n_img: float) -> tuple[float, float]:  # the same images through every requested model
        return n_img * len(names), f_all * n_img

    aug_k = len(cfg.aug_pixel_counts) + 1  # + the k = 0 control
    aug_train = aug_k * int(cfg.aug_epochs) * int(cfg.aug_train_images)
    aug_eval = (aug_k + 1) * int(cfg.aug_test_images) * (1 + R * n_grid + 1)
    n_sweep = len(paperb.fgsm_eps_values(cfg)) - 1  # the FGSM steps besides fgsm_eps (its results are exp. 4's)
    heads = 2 if cfg.aug_n_class_head else 1  # the 1,000-class head, and the N-class one
    aug_sweep = n_sweep * int(cfg.aug_test_images) * (4 + aug_k + 1)  # FGSM on the base model, every model's answer
    out = [
        Unit("b-select", "paper-b", f"find {n:,} ImageNet images that {', '.join(label(m) for m in names)} "
                                    f"all classify correctly",
             run=lambda c: paperb.select_correct(c),
             done=lambda c: paperb.stored_selection(c) is not None,
             work=lambda c: (1.4 * n * len(names), f_all * 1.4 * n)),
        Unit("b-exp1", "paper-b", f"exp. 1, every model: {len(cfg.pixel_counts)} pixel counts × {R} draws × "
                                  f"{n:,} images",
             run=lambda c: paperb.per_model(c, paperb.experiment1),
             done=lambda c: _probe(lambda: paperb.per_model(c, paperb.experiment1)),
             work=lambda c: (len(cfg.pixel_counts) * R * n * len(names), f_all * len(cfg.pixel_counts) * R * n),
             deps=("b-select",)),
        Unit("b-exp2", "paper-b", f"exp. 2, every model: {n_grid} pixel counts × {len(cfg.magnitudes)} magnitudes × "
                                  f"{Rg} draws",
             run=lambda c: paperb.per_model(c, paperb.experiment2),
             done=lambda c: _probe(lambda: paperb.per_model(c, paperb.experiment2)),
             work=lambda c: every(n_grid * len(cfg.magnitudes) * Rg * n), deps=("b-select",)),
        Unit("b-exp3", "paper-b", f"exp. 3, every model: {n_area} pixel counts × {len(cfg.areas)} windows × {Rg} draws",
             run=lambda c: paperb.per_model(c, paperb.experiment3),
             done=lambda c: _probe(lambda: paperb.per_model(c, paperb.experiment3)),
             work=lambda c: every(n_area * len(cfg.areas) * Rg * n), deps=("b-select",),
             after=("b-exp1",)),  # its whole-image window (224) repeats cells of exp. 1
        Unit("b-exp4", "paper-b", f"exp. 4, every model: FGSM (ε = {cfg.fgsm_eps:g}/255) then "
                                  f"{len(cfg.pixel_counts)} pixel counts; the primary model at ε = "
                                  f"{', '.join(f'{e:g}' for e in paperb.fgsm_eps_values(cfg))}/255 and "
                                  f"{max(cfg.pixel_counts)} px (the ε sweep)",
             run=lambda c: (paperb.per_model(c, paperb.experiment4), _eps_sweep(c)),
             done=lambda c: _probe(lambda: (paperb.per_model(c, paperb.experiment4), _eps_sweep(c))),
             work=lambda c: (n * (4 + len(cfg.pixel_counts) * R) * len(names) + n_sweep * n * (4 + R),
                             f_all * n * (4 + len(cfg.pixel_counts) * R) + f * n_sweep * n * (4 + R)),
             deps=("b-select",)),
        Unit("b-aug-bases", "paper-b", "§6.2: every model's base run on the held-out images",
             run=lambda c: paperb.augmentation_bases(c), done=lambda c: _probe(lambda: paperb.augmentation_bases(c)),
             work=lambda c: every(int(cfg.aug_test_images) * (2 + R * n_grid))),
        Unit("b-aug", "paper-b", f"§6.2: fine-tune {aug_k} models on {cfg.aug_train_images:,} images with k changed "
             f"pixels, then test them (FGSM at {n_sweep + 1} steps)"
             + (", and with the N-class head" if cfg.aug_n_class_head else ""),
             run=lambda c: (paperb.augmentation(c), paperb.augmentation_fgsm_sweep(c), _n_class(c, True)),
             done=lambda c: _probe(lambda: (paperb.augmentation(c, progress=False),
                                            paperb.augmentation_fgsm_sweep(c, progress=False), _n_class(c, False))),
             work=lambda c: (heads * (aug_train + aug_eval) + aug_sweep,
                             f * (heads * (3 * aug_train + aug_eval) + aug_sweep)),
             after=("b-aug-bases",)),  # with one model its base rows are b-aug-bases' rows
        Unit("b-aug-lr", "paper-b", "§6.2: the fine-tuning learning rate checked (paper's 0.001 vs the profile's)",
             run=lambda c: paperb.finetune_lr_check(c, sorted({0.001, c.aug_lr}), k=4),
             done=lambda c: _probe(lambda: paperb.finetune_lr_check(c, sorted({0.001, c.aug_lr}), k=4)),
             work=lambda c: (2 * int(cfg.aug_epochs) * int(cfg.aug_train_images),
                             f * 6 * int(cfg.aug_epochs) * int(cfg.aug_train_images)),
             after=("b-aug-bases",)),  # with one model its held-out selection is b-aug-bases' selection
    ]
    if cfg.cifar_models_pixels:
        n_set = len(cfg.pixel_counts) + n_grid * (len(cfg.magnitudes) + len(cfg.areas))
        c_img = len(cfg.archs) * n * (3 + n_set * R)
        fa = sum(cifar_forward_flops(a, float(cfg.width)) for a in cfg.archs) / max(1, len(cfg.archs))
        out.append(Unit("b-cifar", "paper-b", "exp. 1–3 and Pi on paper A's σ = 0 CIFAR-10 models",
                        run=lambda c: paperb.cifar_pixel_experiments(c, progress=True),
                        done=lambda c: _probe(lambda: paperb.cifar_pixel_experiments(c, progress=False)),
                        work=lambda c: (c_img, fa * c_img),
                        deps=tuple(train_unit_name(a, "clean") for a in cfg.archs)))
    return out


def _n_class(cfg, progress: bool):
    """§6.2 with the N-class head (``aug_n_class_head``), else nothing."""
    return paperb.augmentation(cfg, progress=progress, head="N-class") if cfg.aug_n_class_head else None


def _eps_sweep(cfg):
    """Exp. 4's FGSM ε sweep on the run's primary model (the one its claims are judged on)."""
    return paperb.experiment4_eps_sweep(cfg, model_name=paperb.primary(cfg))


# --------------------------------------------------------------------------------------
# beyond the papers (chapter 12)
# --------------------------------------------------------------------------------------
def _beyond(cfg) -> list[Unit]:
    """Chapter 12's units: per architecture of ``beyond_archs`` the augmented models' training
    (``x-train-<arch>``) and every measure of every variant (``x-measure-<arch>``), then the ImageNet
    fine-tuning with traditional augmentations (``x-imagenet``)."""
    variants = cifar_variants(cfg)
    augs = [v for v in variants if v.source == "augmentation"]
    ep, n_tr, n_test = int(cfg.epochs), _n_train(cfg), grid.n_test(cfg)
    noise_trained = 0.1 in grid.distinct_sigmas(cfg, "noise")  # else x-measure trains the σ = 0.1 model itself
    out: list[Unit] = []
    for arch in cfg.beyond_archs:
        fwd = cifar_forward_flops(arch, float(cfg.width))
        n_img = len(augs) * ep * n_tr
        out.append(Unit(
            f"x-train-{arch}", "beyond", f"train {arch} with each of {len(augs)} augmentations "
            f"({', '.join(v.name for v in augs)}; {ep} epochs × {n_tr:,} images each)",
            run=lambda c, arch=arch: xc.train_models(c, [arch], progress=True),
            done=lambda c, arch=arch: all(xc.has_model(c, arch, v) for v in augs),
            work=lambda c, n_img=n_img, fwd=fwd: (n_img, 3 * fwd * n_img)))
        n_lv = len(xc.levels(cfg, "noise")) + len(xc.levels(cfg, "blur"))
        n_eval = len(variants) * (n_lv * n_test + int(cfg.n_attack_images) * (int(cfg.attack_steps) + 8) * 3
                                  + int(cfg.n_images) * (3 + len(xc.pixel_counts(cfg)) * int(cfg.n_repeats)))
        deps = (f"x-train-{arch}", train_unit_name(arch, "clean")) + (
            (train_unit_name(arch, "noise"),) if noise_trained else ())
        after = (eval_unit_name(arch, "noise"), eval_unit_name(arch, "blur"), attack_unit_name(arch, "clean", 0.0)) + (
            (attack_unit_name(arch, "noise", 0.1),) if noise_trained else ())
        out.append(Unit(
            f"x-measure-{arch}", "beyond", f"noise/blur grids, Δ and pixel counts of the {len(variants)} "
            f"{arch} variants (σ = 0, σ = 0.1 noise and the augmented models)",
            run=lambda c, arch=arch: xc.run(c, [arch], progress=True),
            done=lambda c, arch=arch: _probe(lambda: xc.run(c, [arch], progress=False)),
            work=lambda c, n_eval=n_eval, fwd=fwd: (n_eval, fwd * n_eval), deps=deps, after=after))
    f = imagenet_forward_flops(cfg.model_name or preferred(model_names(cfg)))
    n_ft = len(IMAGENET_TRADITIONAL) * int(cfg.aug_epochs) * int(cfg.aug_train_images)
    n_ev = (len(cfg.aug_pixel_counts) + 1 + len(IMAGENET_TRADITIONAL)) * int(cfg.aug_test_images) * (
        2 + len(xi.pixel_counts(cfg)) * int(cfg.n_repeats))
    out.append(Unit(
        "x-imagenet", "beyond", f"fine-tune the ImageNet classifier with {len(IMAGENET_TRADITIONAL)} traditional "
        f"augmentations as in §6.2, then test every fine-tuned model at {xi.pixel_counts(cfg)} px and on FGSM",
        run=lambda c: xi.run(c, progress=True), done=lambda c: _probe(lambda: xi.run(c, progress=False)),
        work=lambda c: (n_ft + n_ev, f * (3 * n_ft + n_ev)), after=("b-aug",)))
    return out


# --------------------------------------------------------------------------------------
# units, names of results, status
# --------------------------------------------------------------------------------------
def _store(cfg):
    return ResultStore.for_cfg(cfg)


def _probe(fn: Callable[[], Any]) -> bool:
    """True when ``fn`` runs to the end from stored results alone (nothing may be computed)."""
    try:
        with budget.forbid_compute():
            fn()
        return True
    except ComputeRefused:
        return False


def units(cfg, parts: Sequence[str] = PARTS) -> list[Unit]:
    """Every unit of ``cfg``'s campaign in priority order: paper A's σ = 0 models, the noise models,
    the blur models, the evaluations, the attacks (replicate 0, then the same for every further
    replicate when ``n_seeds`` > 1); then paper B; then chapter 12 (beyond the papers)."""
    out: list[Unit] = []
    if "paper-a" in parts:
        out += _paper_a(cfg)
    if "paper-b" in parts:
        out += _paper_b(cfg)
    if "beyond" in parts:
        out += _beyond(cfg)
    return out


def select_units(all_units: list[Unit], only: str | None) -> list[Unit]:
    """``only``: comma-separated ``paper-a``, ``paper-b`` or globs of unit names (``a-train-*``).
    A pattern that matches nothing is a ParameterError listing the units."""
    if not only:
        return list(all_units)
    pats = [p.strip() for p in only.split(",") if p.strip()]
    keep: set[str] = set()
    for p in pats:
        hit = [u.name for u in all_units if (u.part == p) or fnmatch.fnmatchcase(u.name, p)]
        if not hit:
            raise ParameterError(f"--only {p!r} matches no unit; units: {[u.name for u in all_units]} "
                                 f"(or {list(PARTS)})")
        keep.update(hit)
    return [u for u in all_units if u.name in keep]


def status(cfg, chosen: list[Unit]) -> dict[str, bool]:
    """{unit name: done} for ``chosen`` (computes nothing)."""
    return {u.name: u.done(cfg) for u in chosen}


def _machine() -> dict:
    dev = resolve_device("auto")
    return {"device": describe_device(dev), "torch": str(torch.__version__), "cuda": torch.version.cuda,
            "python": platform.python_version(), "git": git_commit()}


def _precision(cfg) -> str:
    """The arithmetic of this call's units, for the log and the published manifest: paper A's training
    and evaluation precision (``precision``, resolved on this device) and paper B's inference precision."""
    dev = resolve_device(cfg.device)
    return (f"paper A {resolve_precision(cfg.precision, dev)}, "
            f"paper B {paperb.classifiers.inference_precision(cfg)}")


def _fmt_rate(n: float, flops: float, secs: float) -> str:
    if secs <= 0:
        return ""
    return f"{n / secs:,.0f} img/s, {flops / secs / 1e12:.2f} TFLOP/s"


# --------------------------------------------------------------------------------------
# running
# --------------------------------------------------------------------------------------
def run(cfg, chosen: list[Unit], until: float | None = None, out=print) -> dict:
    """Run the units of ``chosen`` that are not done, in order, until ``until`` seconds have passed.

    Returns ``{"done": [...], "partial": name | None, "left": [...], "failed": {...}}``. A unit
    whose dependencies are not done is skipped with a message (run them first, or choose them too).
    """
    t_start = time.time()
    results = Path(cfg.results)
    log = read_log(results)
    machine = {**_machine(), "precision": _precision(cfg)}
    run_rec = {"started": _dt.datetime.now().isoformat(timespec="seconds"), "until_s": until,
               "units": [], **machine}
    log["runs"].append(run_rec)
    every = {u.name: u for u in units(cfg)}
    state: dict[str, bool] = {}

    def is_done(name: str) -> bool:  # asked lazily: only up to the units this call reaches
        if name not in state:
            state[name] = every[name].done(cfg)
        return state[name]

    report: dict[str, Any] = {"done": [], "partial": None, "left": [], "skipped": []}
    done_now = 0
    with budget.deadline_at(t_start + until if until is not None else None):
        for u in chosen:
            if (done_now or budget.progressed()) and budget.expired():
                break
            if is_done(u.name):
                continue
            missing = [d for d in u.deps if d in every and not is_done(d)]
            if missing:
                out(f"skip  {u.name}: needs {', '.join(missing)} first")
                report["skipped"].append(u.name)
                continue
            out(f"start {u.name}: {u.what}")
            t0 = time.time()
            try:
                u.run(cfg)
            except DeadlineReached:
                dt = time.time() - t0
                log_call(log, run_rec, u.name, "partial", dt, machine)
                write_log(results, log)
                out(f"pause {u.name}: deadline reached after {dt:.1f} s; checkpointed, the next call resumes it")
                report["partial"] = u.name
                break
            dt = time.time() - t0
            n_img, flops = u.work(cfg)
            wall = log_call(log, run_rec, u.name, "done", dt, machine, (n_img, flops))
            write_log(results, log)
            state[u.name] = True
            done_now += 1
            report["done"].append(u.name)
            out(f"done  {u.name}  {wall:8.1f} s  {_fmt_rate(n_img, flops, wall)}")
    run_rec["ended"] = _dt.datetime.now().isoformat(timespec="seconds")
    run_rec["wall_s"] = round(time.time() - t_start, 2)
    write_log(results, log)
    report["left"] = [u.name for u in chosen if not is_done(u.name)]
    return report


def _dry_run(cfg, chosen: list[Unit], out=print) -> dict[str, bool]:
    st = status(cfg, chosen)
    total = 0.0
    out(f"{'unit':34s} {'status':8s} {'PFLOP':>9s}  what")
    for u in chosen:
        n_img, flops = u.work(cfg)
        total += 0 if st[u.name] else flops
        out(f"{u.name:34s} {'done' if st[u.name] else 'todo':8s} {flops / 1e15:9.3f}  {u.what}"
            + (f"  [after {', '.join(u.deps)}]" if u.deps else ""))
    out(f"{sum(st.values())} of {len(chosen)} units done; {total / 1e15:.3f} PFLOP left "
        f"(at 100 TFLOP/s: {total / 1e14 / 60:.1f} min)")
    return st


# --------------------------------------------------------------------------------------
# command line
# --------------------------------------------------------------------------------------
def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m robustlab.campaign", description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profile", default="quick", help="tiny | quick (default) | paper")
    ap.add_argument("--only", default=None, help="paper-a, paper-b or unit-name globs, comma-separated")
    ap.add_argument("--until", type=float, default=None, metavar="SECONDS",
                    help="wall-clock deadline: checkpoint the unit in progress and exit 0 after SECONDS")
    ap.add_argument("--dry-run", action="store_true", help="list the units, their status and FLOPs; run nothing")
    ap.add_argument("--pack", metavar="DIR", help="after running, pack the new results into DIR (≤ 8 files ≤ 15 MiB)")
    ap.add_argument("--pack-all", action="store_true", help="with --pack: pack everything, not only what is new")
    ap.add_argument("--unpack", nargs="+", metavar="FILE",
                    help="merge packed files into the results folder; run nothing")
    ap.add_argument("--publish", action="store_true", help="copy the records (no weights) to published/<profile>/")
    ap.add_argument("--no-run", action="store_true", help="run no unit (with --pack or --publish)")
    ap.add_argument("--executor", choices=("serial", "ray"), default="serial",
                    help="serial (default): the units one after another here; ray: as Ray tasks, independent "
                         'ones at once (robustlab.ops.campaign_ray; needs pip install "robustlab[ray]")')
    ray_opts = ap.add_argument_group("with --executor ray")
    ray_opts.add_argument("--address", default=None, help="the Ray cluster: HOST:PORT (what `ray start --head` "
                          "printed) or auto; without it a local Ray instance is started")
    ray_opts.add_argument("--gpus-per-unit", type=float, default=None, metavar="G",
                          help="GPUs per unit (default 1 when the cluster has GPUs, else 0; 0.5 = two per GPU)")
    ray_opts.add_argument("--cpus-per-unit", type=float, default=None, metavar="N", help="CPUs per unit (default 1)")
    ray_opts.add_argument("--no-shared-fs", action="store_true", help="the nodes share no results folder: "
                          "workers return their results and this process writes them")
    ray_opts.add_argument("--max-retries", type=int, default=None, metavar="N",
                          help="retries of a unit whose worker died (default 3)")
    ap.add_argument("-p", "--param", action="append", default=[], metavar="KEY=VALUE",
                    help="a profile parameter (YAML value), repeatable: --param epochs=5")
    for name in ("device", "data-dir", "results-dir", "cache-dir"):
        ap.add_argument(f"--{name}", default=None)
    args = ap.parse_args(argv)
    try:
        params = dict(parse_param(p) for p in args.param)
        for k in ("device", "data_dir", "results_dir", "cache_dir"):
            v = getattr(args, k)
            if v is not None:
                params[k] = v
        if "profile" in params:
            raise ParameterError("give the profile with --profile, not --param profile=...")
        ray_given = [f"--{k.replace('_', '-')}" for k in ("address", "gpus_per_unit", "cpus_per_unit", "max_retries")
                     if getattr(args, k) is not None] + (["--no-shared-fs"] if args.no_shared_fs else [])
        if ray_given and args.executor != "ray":
            raise ParameterError(f"{', '.join(ray_given)} only go with --executor ray")
        cfg = resolve("campaign", {**params, "profile": args.profile})
        if args.unpack:
            rep = unpack([Path(f) for f in args.unpack], cfg.results)
            print(f"unpacked into {cfg.results}: " + json.dumps({k: (len(v) if isinstance(v, list) else v)
                                                                 for k, v in rep.items()}, default=str))
            return 0
        chosen = select_units(units(cfg), args.only)
        if args.dry_run:
            st = _dry_run(cfg, chosen)
            if args.executor == "ray":
                from robustlab.ops.campaign_ray import print_projection  # cycle: campaign_ray imports this module

                print_projection(cfg, chosen, st)
            return 0
        failed: dict[str, str] = {}
        if not args.no_run and args.executor == "ray":
            # --executor ray only: campaign_ray builds on this module (units, the machine record)
            from robustlab.ops.campaign_ray import DEFAULT_MAX_RETRIES, run_ray

            rep = run_ray(cfg, chosen, until=args.until, address=args.address, gpus_per_unit=args.gpus_per_unit,
                          cpus_per_unit=args.cpus_per_unit, shared_fs=not args.no_shared_fs,
                          max_retries=DEFAULT_MAX_RETRIES if args.max_retries is None else args.max_retries)
            left, failed = rep["left"], rep["failed"]
            print(f"{len(rep['done'])} unit(s) finished in this call; "
                  + (f"{len(left)} left: {', '.join(left)}" if left else "nothing left")
                  + (" (resume: the same command)" if rep["partial"] or left else ""))
            for name, why in failed.items():
                print(f"error: unit {name} failed: {why}", file=sys.stderr)
        elif not args.no_run:
            if not budget.compute_allowed(cfg.profile, cfg.torch_device):
                print(f"warning: computing is refused here ({budget.NO_COMPUTE_ENV} or the paper profile on a "
                      f"machine without CUDA); set {budget.NO_COMPUTE_ENV}=0 to compute anyway", file=sys.stderr)
                return 1
            rep = run(cfg, chosen, until=args.until)
            left = rep["left"]
            print(f"{len(rep['done'])} unit(s) finished in this call; "
                  + (f"{len(left)} left: {', '.join(left)}" if left else "nothing left")
                  + (" (resume: the same command)" if rep["partial"] else ""))
        if args.pack:
            man = pack(cfg.results, Path(args.pack), only_new=not args.pack_all)
            print(f"packed into {args.pack}: {len(man.get('members', []))} files in {len(man.get('parts', []))} "
                  f"part(s)" + (f"; {len(man['left'])} left for the next --pack" if man.get("left") else ""))
        if args.publish:
            left = [u.name for u in units(cfg) if not u.done(cfg)]
            dest = publish(cfg, left=left)
            print(f"published the records to {dest}" + (f"; {len(left)} unit(s) not yet done" if left else
                                                         "; the profile's campaign is complete"))
    except (ParameterError, RobustlabError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2 if isinstance(e, ParameterError) else 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
