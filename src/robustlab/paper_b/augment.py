"""Paper B §6.2: few-pixel augmentation by fine-tuning, tested with experiment 1 on held-out images
and with the base model's FGSM examples; and the check of the fine-tuning learning rate.

Besides the base model and one model per k in ``cfg.aug_pixel_counts``, :func:`augmentation` always
fine-tunes a **control**, ``"k=0 (control)"``: the same training images, epochs, learning rate and
batches, with no pixel changed. Fine-tuning on ten ImageNet classes alone can change a model's
errors on those classes; comparing each k model with the control (not with the base model)
separates the effect of the changed pixels from the effect of fine-tuning. All rates carry their
95 % interval over the held-out images (or FGSM examples), and the comparisons are paired: every
model is tested on the same images (:func:`augmentation_effects`).
"""
from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from robustlab.core import budget
from robustlab.core.progress import tqdm
from robustlab.core.results import ResultStore, config_hash
from robustlab.core.seeds import derive_seed, numpy_rng, torch_generator
from robustlab.core.stats import bootstrap
from robustlab.data.common import balanced_indices
from robustlab.data.imagenet import source_key
from robustlab.paper_b.classifiers import (
    LazyModel,
    available,
    label,
    load_model,
    model_key,
    predict,
    primary,
    resolve_model,
    to_input,
)
from robustlab.paper_b.experiments import fgsm_eps_values, fgsm_examples, pixel_rows, rate_estimate
from robustlab.paper_b.kinds import AUG_CLEAN_KIND, AUG_FGSM_KIND, AUG_LR_KIND, AUG_MODEL_KIND
from robustlab.paper_b.pixels import change_pixels
from robustlab.paper_b.selection import (
    load_split,
    select_correct,
    selected_images,
    split_per_class,
    unselected,
)

__all__ = ["CONTROL", "HEADS", "ClassSubsetHead", "finetune",
           "finetuned_model", "finetune_lr_check", "augmentation", "augmentation_bases",
           "augmentation_fgsm_sweep", "augmentation_sweep_table",
           "augmentation_tables", "augmentation_effects"]

#: The name of the fine-tuned control model (k = 0: fine-tuned, no pixel changed).
CONTROL = "k=0 (control)"


def _train_set(cfg) -> tuple[np.ndarray, np.ndarray]:
    s = load_split(cfg, "train", split_per_class("train", cfg.aug_train_images))
    idx = balanced_indices(s.labels, cfg.aug_train_images, cfg.seed)
    return np.ascontiguousarray(s.images[idx]), s.labels[idx].copy()


#: The heads of the §6.2 fine-tuning: the pretrained 1,000-class head kept (the results' keys as they always
#: were) and the paper's head "changed to the number of image categories participating in the training".
HEADS = ("1000-class", "N-class")


class ClassSubsetHead(nn.Module):
    """Paper B §6.2's N-class head on a pretrained 1,000-class classifier: only the logits of the N
    training classes (``class_ids``, ImageNet indices) are kept; the others are set to −10⁹, so the
    softmax, the cross-entropy, the top-1 class and every gradient are those of an N-way layer whose rows
    are the pretrained final layer's rows of those classes (the other rows get no gradient and never
    win). Done by masking rather than by cutting the final layer, so that it works on every torchvision
    architecture (SqueezeNet's head is a convolution) and predictions stay ImageNet indices for the
    rest of the code. Input: float NCHW on [0, 1], as the wrapped model; output: its logits (B, C), the
    C − N outside ``class_ids`` at −10⁹. ``class_ids`` is stored with the weights (buffer ``class_ids``)."""

    def __init__(self, model: nn.Module, class_ids: Sequence[int]):
        super().__init__()
        ids = sorted({int(c) for c in class_ids})
        if not ids:
            raise ValueError("ClassSubsetHead: no class to keep (class_ids is empty)")
        self.model = model
        self.register_buffer("class_ids", torch.as_tensor(ids, dtype=torch.long))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.model(x)
        drop = torch.ones(z.shape[1], dtype=torch.bool, device=z.device)
        drop[self.class_ids.to(z.device)] = False
        return z.masked_fill(drop, -1e9)


def _check_head(head: str) -> str:
    if head not in HEADS:
        raise ValueError(f"head={head!r}: the §6.2 fine-tuning has the heads {HEADS} "
                         f"(1000-class: the pretrained head kept; N-class: the training classes only)")
    return head


def finetune(cfg, base: nn.Module, images: np.ndarray, labels: np.ndarray, k: int,
             progress: bool = True, transform=None) -> nn.Module:
    """Fine-tune a copy of ``base`` on ``images`` with ``k`` random pixels changed (any value,
    anywhere; fresh draws every epoch; ``k = 0``: the images unchanged, the control):
    ``cfg.aug_epochs`` epochs of SGD (lr ``cfg.aug_lr``, momentum 0.9, batch ``min(cfg.batch_size, 32)``),
    all layers trainable, the head as given (1,000 classes, or a :class:`ClassSubsetHead`), BatchNorm
    statistics frozen (eval mode).
    ``transform(x_unit, generator)`` (optional): another augmentation, applied to every batch (float
    NCHW on [0, 1]) after the pixel change, its draws from a CPU generator seeded per (k, epoch, batch)."""

    model = copy.deepcopy(base).to(cfg.torch_device)
    model.eval()  # BatchNorm running statistics stay the pretrained ones (tiny, few-class batches)
    for p in model.parameters():
        p.requires_grad_(True)
    opt = torch.optim.SGD(model.parameters(), lr=cfg.aug_lr, momentum=0.9)
    bs = max(1, min(cfg.batch_size, 32))
    rng = numpy_rng(cfg.seed, "aug-order", k)
    steps = cfg.aug_epochs * math.ceil(len(images) / bs)
    bar = tqdm(total=steps, desc=f"fine-tune k={k}", disable=not progress, leave=False)
    for ep in range(cfg.aug_epochs):
        order = rng.permutation(len(images))
        for b, i in enumerate(range(0, len(order), bs)):
            idx = np.sort(order[i:i + bs])
            x = change_pixels(torch.from_numpy(images[idx]), k, None, None, derive_seed(cfg.seed, "aug", k, ep, b))
            xb = to_input(x, cfg.torch_device)
            if transform is not None:
                xb = transform(xb, torch_generator(cfg.seed, "aug-transform", k, ep, b))
            yb = torch.as_tensor(labels[idx], device=cfg.torch_device)
            loss = nn.functional.cross_entropy(model(xb), yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            bar.update(1)
    bar.close()
    for p in model.parameters():
        p.requires_grad_(False)
    return model.eval()


def finetune_lr_check(cfg, lrs: Sequence[float], k: int, base: nn.Module | None = None,
                      progress: bool = False) -> pd.DataFrame:
    """Clean accuracy on the held-out augmentation test images after :func:`finetune` with each
    learning rate in ``lrs`` (k changed pixels; everything else from ``cfg``). Cached.

    Shows why the quick profile departs from the paper's lr 0.001 for the fused MobileNetV2.
    """

    base = base or load_model(cfg)
    store = ResultStore.for_cfg(cfg)
    sel = select_correct(cfg, n=cfg.aug_test_images, splits=("val",), model=base, joint=False)
    test_x, test_y = selected_images(cfg, sel)
    train = {}
    rows = []
    for lr in lrs:
        c = type(cfg)({**cfg, "aug_lr": float(lr)})
        key = {"what": AUG_LR_KIND, **model_key(cfg), **source_key(cfg.get("data_dir")), "k": k, "lr": float(lr),
               "train_images": cfg.aug_train_images, "epochs": cfg.aug_epochs,
               "bs": max(1, min(cfg.batch_size, 32)), "seed": cfg.seed, "test": sel["items"]}

        def compute(c=c):
            if not train:
                train["xy"] = _train_set(cfg)
            m = finetune(c, base, *train["xy"], k, progress)
            return float((predict(m, test_x, cfg.eval_batch_size).numpy() == test_y).mean())

        rows.append({"lr": float(lr), "k": k, "train_images": cfg.aug_train_images, "epochs": cfg.aug_epochs,
                     "test_images": len(test_y),
                     "clean_accuracy": store.get_or_compute(AUG_LR_KIND, key, compute)})
    return pd.DataFrame(rows)


def _variant_rows(cfg, name: str, m, test_x, test_y, mk: dict) -> list[dict]:
    """Rows of one model variant on the held-out images: clean (``n_pixels`` 0) and exp. 1 at
    ``cfg.grid_pixel_counts``, with intervals over the images and ``per_image``. Cached under ``mk``."""

    clean = ResultStore.for_cfg(cfg).get_or_compute(AUG_CLEAN_KIND, {"what": AUG_CLEAN_KIND, **mk},
                                                    lambda: predict(m, test_x, cfg.eval_batch_size).numpy())
    w = (clean != test_y).astype(float)
    est = rate_estimate(w)
    rows = [{"model": name, "n_pixels": 0, "images": len(test_y), "wrong_rate": float(w.mean()),
             "wrong_rate_lo": est.lo, "wrong_rate_hi": est.hi, "wrong_rate_std": 0.0,
             "accuracy": float(1 - w.mean()), "per_image": w}]
    t = pixel_rows(cfg, m, test_x, test_y, mk, [{"n_pixels": p} for p in cfg.grid_pixel_counts], tag="aug",
                   progress=False)
    for r in t.itertuples():
        rows.append({"model": name, "n_pixels": r.n_pixels, "images": r.images, "wrong_rate": r.wrong_rate,
                     "wrong_rate_lo": r.wrong_rate_lo, "wrong_rate_hi": r.wrong_rate_hi,
                     "wrong_rate_std": r.wrong_rate_std, "accuracy": r.accuracy, "per_image": r.per_image})
    return rows


def augmentation_bases(cfg) -> pd.DataFrame:
    """The augmentation test's base run for every model of the run (§6.2's "before" rows): on the
    ``cfg.aug_test_images`` held-out Imagenette *val* images that every model classifies correctly,
    the clean wrong-rate and exp. 1 at ``cfg.grid_pixel_counts``; one row per model × pixel count
    (``model`` = display name, ``model_name``). With one model these are the base rows of
    :func:`augmentation` (the same cached numbers)."""

    sel = select_correct(cfg, n=cfg.aug_test_images, splits=("val",))
    test_x, test_y = selected_images(cfg, sel)
    rows = []
    for name in available(cfg)[0]:
        m = LazyModel(lambda name=name: load_model(cfg, name))
        mk = {**model_key(cfg, name), "aug_test": config_hash({"items": sel["items"]}), "variant": "base", "aug": None}
        rows += [{**r, "model": label(name), "model_name": name}
                 for r in _variant_rows(cfg, "base", m, test_x, test_y, mk)]
    return pd.DataFrame(rows)


def finetuned_model(cfg, base, k: int, *, transform=None, transform_key: dict | None = None,
                    progress: bool = True, train_xy: dict | None = None, head: str = "1000-class") -> nn.Module:
    """The model :func:`finetune` makes from ``base`` with ``k`` changed pixels (and ``transform``,
    identified in the cache key by ``transform_key``), from the store or fine-tuned now; eval mode
    on ``cfg.torch_device``. ``train_xy``: a dict that keeps the loaded training images between calls.
    ``head`` (:data:`HEADS`): "N-class" fine-tunes and returns the model behind a
    :class:`ClassSubsetHead` of the training images' classes (its key adds ``"head"``; the 1,000-class
    keys are those they always were)."""
    key = {"what": AUG_MODEL_KIND, **model_key(cfg), **source_key(cfg.get("data_dir")), "k": k,
           "train_images": cfg.aug_train_images,
           "epochs": cfg.aug_epochs, "lr": cfg.aug_lr, "bs": max(1, min(cfg.batch_size, 32)), "seed": cfg.seed}
    if transform_key is not None:
        key["transform"] = transform_key
    if _check_head(head) != "1000-class":
        key["head"] = head
    train_xy = {} if train_xy is None else train_xy

    def load_train():
        if not train_xy:
            train_xy["xy"] = _train_set(cfg)
        return train_xy["xy"]

    def compute():
        m = resolve_model(base)
        if head == "N-class":
            m = ClassSubsetHead(m, np.unique(load_train()[1]))
        m = finetune(cfg, m, *load_train(), k, progress, transform=transform)  # (finetune works on a copy)
        return {n: t.detach().cpu() for n, t in m.state_dict().items()}

    sd = ResultStore.for_cfg(cfg).get_or_compute(AUG_MODEL_KIND, key, compute)
    m = copy.deepcopy(resolve_model(base))
    if head == "N-class":  # its classes are stored with the weights, not read from the images again
        m = ClassSubsetHead(m, sd["class_ids"].tolist())
    m.load_state_dict(sd)
    return m.to(cfg.torch_device).eval()


def augmentation(cfg, base: nn.Module | None = None, progress: bool = True,
                 head: str = "1000-class") -> dict[str, Any]:
    """§6.2: for k = 0 (the control, :data:`CONTROL`) and each k in ``cfg.aug_pixel_counts``
    fine-tune (:func:`finetune`) on ``cfg.aug_train_images`` Imagenette *train* images, then on
    ``cfg.aug_test_images`` held-out *val* images the base model classifies correctly: exp. 1 for
    ``cfg.grid_pixel_counts`` (+ the clean accuracy), and the share of the base model's FGSM
    examples (those that fool it) that still fool the fine-tuned model. Fine-tuned weights are
    cached; all numbers too.

    Returns ``{"exp1": DataFrame, "fgsm": DataFrame, "clean_unselected": DataFrame, "train_images",
    "test_images", "fgsm_fooled_base", "model"}``; ``exp1`` has one row per model × pixel count (0 = clean) with
    ``wrong_rate`` and its 95 % interval over the held-out images (``wrong_rate_lo``/``_hi``), the
    spread over the repeats (``wrong_rate_std``) and ``per_image``; ``fgsm`` one row per model with
    ``still_fooling_rate`` and its interval over the FGSM examples and ``per_example``;
    ``clean_unselected`` one row per model with ``wrong_rate`` and ``per_image`` (0/1) on
    ``cfg.aug_test_images`` held-out val images chosen without consulting any model
    (:func:`~robustlab.paper_b.selection.unselected`): the selected images are right for the base
    model by construction, so clean accuracy is compared there. ``model``: the base model's name;
    ``head``: the fine-tuned models' head (:data:`HEADS`; "N-class": the paper's, with its own k = 0
    control; the base model's rows are the same for both).
    """

    base, test_x, test_y, tkey, models = _aug_setup(cfg, base, progress, head)
    store = ResultStore.for_cfg(cfg)
    fg = fgsm_examples(cfg, base, test_x, test_y, tkey)
    fooled = fg["pred"] != test_y
    ux, uy = selected_images(cfg, unselected(cfg, cfg.aug_test_images))
    ukey = config_hash({"items": unselected(cfg, cfg.aug_test_images)["items"]})
    rows, frows, urows = [], [], []
    for v, (name, m) in enumerate(models.items()):
        if v:
            budget.check("the few-pixel augmentation")  # every finished variant is stored
        mk = _variant_key(cfg, tkey, name, head)
        rows += _variant_rows(cfg, name, m, test_x, test_y, mk)
        up = store.get_or_compute("paperb-aug-clean", {"what": "paperb-aug-clean-unselected", **mk, "aug_test": ukey},
                                  lambda m=m: predict(m, ux, cfg.eval_batch_size).numpy())
        uw = (up != uy).astype(float)
        urows.append({"model": name, "images": len(uy), "wrong_rate": float(uw.mean()), "per_image": uw})
        if fooled.any():
            frows.append(_fgsm_row(cfg, name, m, fg, fooled, test_y, mk, float(cfg.fgsm_eps)))
    return {"exp1": pd.DataFrame(rows), "fgsm": pd.DataFrame(frows), "clean_unselected": pd.DataFrame(urows),
            "train_images": cfg.aug_train_images, "test_images": int(len(test_y)),
            "fgsm_fooled_base": int(fooled.sum()), "model": primary(cfg), "head": head}


def _aug_setup(cfg, base, progress: bool, head: str = "1000-class"):
    """The §6.2 test set and models: (base model, held-out images uint8 NHWC, labels, their key, {name:
    model}) — the models (``base``, the control, ``k=…``, fine-tuned with ``head``) fine-tuned (or
    loaded) only when used."""
    base = base or load_model(cfg)
    sel = select_correct(cfg, n=cfg.aug_test_images, splits=("val",), model=base, joint=False)
    test_x, test_y = selected_images(cfg, sel)
    tkey = {**model_key(cfg), "aug_test": config_hash({"items": sel["items"]}), **source_key(cfg.get("data_dir"))}
    train_xy: dict[str, tuple] = {}

    def tuned(k: int) -> nn.Module:  # built only when a number of this variant must be computed
        return finetuned_model(cfg, base, k, progress=progress, train_xy=train_xy, head=head)

    models: dict[str, Any] = {"base": base, CONTROL: LazyModel(lambda: tuned(0))}
    for k in cfg.aug_pixel_counts:
        models[f"k={k}"] = LazyModel(lambda k=k: tuned(k))
    return base, test_x, test_y, tkey, models


def _variant_key(cfg, tkey: dict, name: str, head: str = "1000-class") -> dict:
    aug = None if name == "base" else {"train_images": cfg.aug_train_images, "epochs": cfg.aug_epochs,
                                       "lr": cfg.aug_lr}
    if aug is not None and _check_head(head) != "1000-class":  # the 1,000-class keys as they always were
        aug["head"] = head
    return {**tkey, "variant": name, "aug": aug}


def _fgsm_row(cfg, name: str, m, fg: dict, fooled: np.ndarray, test_y: np.ndarray, mk: dict, eps: float) -> dict:
    """Table 11's row of one model: its predictions on the base model's FGSM examples (step ``eps``,
    8-bit units) that fool the base model, cached."""
    fk = {"what": AUG_FGSM_KIND, **mk, "eps": eps}
    p = ResultStore.for_cfg(cfg).get_or_compute(
        AUG_FGSM_KIND, fk, lambda: predict(m, fg["adv"]()[fooled], cfg.eval_batch_size).numpy())
    still = (p != test_y[fooled]).astype(float)
    se = rate_estimate(still, "FGSM examples")
    return {"model": name, "fgsm_examples": int(fooled.sum()), "still_fooling_rate": float(still.mean()),
            "still_fooling_lo": se.lo, "still_fooling_hi": se.hi, "restored_rate": float((p == test_y[fooled]).mean()),
            "per_example": still, "per_example_restored": (p == test_y[fooled]).astype(float)}


def augmentation_fgsm_sweep(cfg, base: nn.Module | None = None, progress: bool = True) -> pd.DataFrame:
    """Table 11 at every FGSM step of :func:`~robustlab.paper_b.experiments.fgsm_eps_values` (8-bit
    units): the base model's FGSM examples of the held-out images at that step, transferred to every
    model of :func:`augmentation` (the fine-tuned models are :func:`augmentation`'s, cached). One row per
    ε × model with ``eps``, ``decides`` (ε = ``cfg.fgsm_eps``) and the columns of :func:`augmentation`'s
    ``fgsm`` table; a step whose examples fool nothing has no rows. The rows at ``cfg.fgsm_eps`` are
    :func:`augmentation`'s own (the same keys)."""
    base, test_x, test_y, tkey, models = _aug_setup(cfg, base, progress)
    rows = []
    for j, eps in enumerate(fgsm_eps_values(cfg)):
        if j:
            budget.check("the §6.2 FGSM ε sweep")  # every finished model × step is stored
        fg = fgsm_examples(cfg, base, test_x, test_y, tkey, eps)
        fooled = fg["pred"] != test_y
        if not fooled.any():
            continue
        for name, m in models.items():
            rows.append({"eps": eps, "decides": eps == float(cfg.fgsm_eps),
                         **_fgsm_row(cfg, name, m, fg, fooled, test_y, _variant_key(cfg, tkey, name), eps)})
    return pd.DataFrame(rows, columns=None if rows else ["eps", "decides", "model", "fgsm_examples",
                                                         "still_fooling_rate", "per_example"])


def augmentation_sweep_table(sweep: pd.DataFrame) -> pd.DataFrame:
    """The ε sweep of Table 11 as one table: rows ε (8-bit units; the deciding one marked), columns the
    FGSM examples and, per model, the % still fooling it."""
    if not len(sweep):
        return pd.DataFrame()
    t = sweep.assign(cell=lambda d: [_cell(r.still_fooling_rate, r.still_fooling_lo, r.still_fooling_hi)
                                     for r in d.itertuples()])
    out = t.pivot_table(index="eps", columns="model", values="cell", aggfunc="first", sort=False)
    out = out[list(dict.fromkeys(t["model"]))]
    out.columns = [f"{c}: still fooling (%)" for c in out.columns]
    n = t.groupby("eps")["fgsm_examples"].first()
    out.insert(0, "FGSM examples", n)
    dec = t.groupby("eps")["decides"].first()
    out.index = [f"{e:g}/255" + (" (decides)" if dec[e] else "") for e in out.index]
    out.index.name = "ε"
    return out


def _diff(a: np.ndarray, b: np.ndarray, what: str = "images"):
    """mean(a) − mean(b) with the paired bootstrap over the shared items."""

    return bootstrap(lambda x, y: float(np.mean(x) - np.mean(y)), np.asarray(a, float), np.asarray(b, float),
                     what=what)


def augmentation_effects(result: dict[str, Any], control: str = CONTROL) -> pd.DataFrame:
    """Each model's improvement over the ``control`` (default the k = 0 fine-tuned model), per test
    pixel count (0 = clean): ``effect = wrong-rate(control) − wrong-rate(model)`` (positive = fewer
    errors than the control) with its paired-bootstrap 95 % interval over the held-out images
    (``effect_lo``/``_hi``, as :class:`~robustlab.core.stats.Estimate` in ``estimate``). Rows for
    every model but the control (the base model's row shows what fine-tuning alone did, with the
    sign flipped: its effect is base vs control)."""
    e = result["exp1"]
    if control not in set(e["model"]):
        raise KeyError(f"augmentation_effects: no {control!r} model in the result "
                       f"(models: {list(e['model'].unique())})")
    ctl = e[e["model"] == control].set_index("n_pixels")
    rows = []
    for m in dict.fromkeys(e["model"]):
        if m == control:
            continue
        for r in e[e["model"] == m].itertuples():
            if r.n_pixels not in ctl.index:
                continue
            c = ctl.loc[r.n_pixels]
            est = _diff(c["per_image"], r.per_image)
            rows.append({"model": m, "n_pixels": int(r.n_pixels), "images": int(r.images),
                         "control_wrong_rate": float(c["wrong_rate"]), "wrong_rate": float(r.wrong_rate),
                         "effect": est.value, "effect_lo": est.lo, "effect_hi": est.hi, "estimate": est})
    return pd.DataFrame(rows)


def _cell(v: float, lo: float, hi: float) -> str:
    if not np.isfinite(v):
        return "n/a"
    if not (np.isfinite(lo) and np.isfinite(hi)):
        return f"{100 * v:.1f}"
    return f"{100 * v:.1f} [{100 * lo:.1f}, {100 * hi:.1f}]"


def augmentation_tables(result: dict[str, Any]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Table 10 (wrong-rate in % with its 95 % interval over the held-out images, per model × test
    pixel count; the control is the row ``k=0 (control)``) and Table 11 (FGSM examples still fooling
    each model, % with its interval over the examples, and the paired difference to the control in
    points)."""
    e = result["exp1"].assign(cell=lambda d: [_cell(r.wrong_rate, r.wrong_rate_lo, r.wrong_rate_hi)
                                              for r in d.itertuples()])
    t10 = e.pivot_table(index="model", columns="n_pixels", values="cell", aggfunc="first", sort=False)
    t10 = t10.reindex(list(dict.fromkeys(e["model"])))
    t10.columns = [("clean (%)" if c == 0 else f"{c} px (%)") for c in t10.columns]
    t10.columns.name = "wrong-rate [95 % interval]"
    f = result["fgsm"]
    if not len(f):
        return t10, f
    t11 = pd.DataFrame({"model": f["model"], "FGSM examples": f["fgsm_examples"],
                        "still fooling (%) [95 % interval]": [_cell(r.still_fooling_rate, r.still_fooling_lo,
                                                                    r.still_fooling_hi) for r in f.itertuples()]})
    ctl = f[f["model"] == CONTROL]
    if len(ctl):
        c = ctl["per_example"].iloc[0]
        t11["vs control (pts) [95 % interval]"] = [
            "—" if r.model == CONTROL else _diff(r.per_example, c, "FGSM examples").fmt(100, 1, sign=True)
            for r in f.itertuples()]
    return t10, t11.set_index("model")
