"""Paper B §6.2: few-pixel augmentation by fine-tuning, tested with experiment 1 on held-out images
and with the base model's FGSM examples; and the check of the fine-tuning learning rate."""
from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from robustlab.core.seeds import derive_seed, numpy_rng
from robustlab.paper_b.classifiers import (
    LazyModel,
    load_model,
    model_key,
    predict,
    resolve_model,
    to_input,
)
from robustlab.paper_b.experiments import fgsm_examples, pixel_rows
from robustlab.paper_b.pixels import change_pixels
from robustlab.paper_b.selection import (
    load_split,
    select_correct,
    selected_images,
    split_per_class,
)

__all__ = ["finetune", "finetune_lr_check", "augmentation", "augmentation_tables"]


def _train_set(cfg) -> tuple[np.ndarray, np.ndarray]:
    from robustlab.data.common import balanced_indices

    s = load_split(cfg, "train", split_per_class("train", cfg.aug_train_images))
    idx = balanced_indices(s.labels, cfg.aug_train_images, cfg.seed)
    return np.ascontiguousarray(s.images[idx]), s.labels[idx].copy()


def finetune(cfg, base: nn.Module, images: np.ndarray, labels: np.ndarray, k: int,
             progress: bool = True) -> nn.Module:
    """Fine-tune a copy of ``base`` on ``images`` with ``k`` random pixels changed (any value,
    anywhere; fresh draws every epoch): ``cfg.aug_epochs`` epochs of SGD (lr ``cfg.aug_lr``,
    momentum 0.9, batch ``min(cfg.batch_size, 32)``), all layers trainable, the 1,000-class head
    kept, BatchNorm statistics frozen (eval mode)."""
    from robustlab.core.progress import tqdm

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
    from robustlab.core.results import ResultStore

    base = base or load_model(cfg)
    store = ResultStore.for_cfg(cfg)
    sel = select_correct(cfg, n=cfg.aug_test_images, splits=("val",), model=base)
    test_x, test_y = selected_images(cfg, sel)
    train = {}
    rows = []
    for lr in lrs:
        c = type(cfg)({**cfg, "aug_lr": float(lr)})
        key = {"what": "paperb-aug-lr-check", **model_key(cfg), "k": k, "lr": float(lr),
               "train_images": cfg.aug_train_images, "epochs": cfg.aug_epochs,
               "bs": max(1, min(cfg.batch_size, 32)), "seed": cfg.seed, "test": sel["items"]}

        def compute(c=c):
            if not train:
                train["xy"] = _train_set(cfg)
            m = finetune(c, base, *train["xy"], k, progress)
            return float((predict(m, test_x, cfg.eval_batch_size).numpy() == test_y).mean())

        rows.append({"lr": float(lr), "k": k, "train_images": cfg.aug_train_images, "epochs": cfg.aug_epochs,
                     "test_images": len(test_y),
                     "clean_accuracy": store.get_or_compute("paperb-aug-lr-check", key, compute)})
    return pd.DataFrame(rows)


def augmentation(cfg, base: nn.Module | None = None, progress: bool = True) -> dict[str, Any]:
    """§6.2: for each k in ``cfg.aug_pixel_counts`` fine-tune (:func:`finetune`) on
    ``cfg.aug_train_images`` Imagenette *train* images, then on ``cfg.aug_test_images`` held-out
    *val* images the base model classifies correctly: exp. 1 for ``cfg.grid_pixel_counts``
    (+ the clean accuracy), and the share of the base model's FGSM examples (those that fool it)
    that still fool the fine-tuned model. Fine-tuned weights are cached; all numbers too.

    Returns ``{"exp1": DataFrame, "fgsm": DataFrame, "train_images", "test_images"}``.
    """
    from robustlab.core import budget
    from robustlab.core.results import ResultStore, config_hash

    base = base or load_model(cfg)
    store = ResultStore.for_cfg(cfg)
    sel = select_correct(cfg, n=cfg.aug_test_images, splits=("val",), model=base)
    test_x, test_y = selected_images(cfg, sel)
    tkey = {**model_key(cfg), "aug_test": config_hash({"items": sel["items"]})}
    fg = fgsm_examples(cfg, base, test_x, test_y, tkey)
    fooled = fg["pred"] != test_y
    train_xy: dict[str, tuple] = {}

    def tuned(k: int) -> nn.Module:  # built only when a number of this variant must be computed
        key = {"what": "paperb-aug-model", **model_key(cfg), "k": k, "train_images": cfg.aug_train_images,
               "epochs": cfg.aug_epochs, "lr": cfg.aug_lr, "bs": max(1, min(cfg.batch_size, 32)), "seed": cfg.seed}

        def compute():
            if not train_xy:
                train_xy["xy"] = _train_set(cfg)
            m = finetune(cfg, resolve_model(base), *train_xy["xy"], k, progress)
            return {n: t.detach().cpu() for n, t in m.state_dict().items()}

        sd = store.get_or_compute("paperb-aug-model", key, compute)
        m = copy.deepcopy(resolve_model(base))
        m.load_state_dict(sd)
        return m.to(cfg.torch_device).eval()

    models: dict[str, Any] = {"base": base}
    for k in cfg.aug_pixel_counts:
        models[f"k={k}"] = LazyModel(lambda k=k: tuned(k))
    rows, frows = [], []
    for v, (name, m) in enumerate(models.items()):
        if v:
            budget.check("the few-pixel augmentation")  # every finished variant is stored
        mk = {**tkey, "variant": name, "aug": None if name == "base" else
              {"train_images": cfg.aug_train_images, "epochs": cfg.aug_epochs, "lr": cfg.aug_lr}}
        ck = {"what": "paperb-aug-clean", **mk}
        clean = store.get_or_compute("paperb-aug-clean", ck,
                                     lambda m=m: predict(m, test_x, cfg.eval_batch_size).numpy())
        rows.append({"model": name, "n_pixels": 0, "images": len(test_y), "wrong_rate": float((clean != test_y).mean()),
                     "wrong_rate_std": 0.0, "accuracy": float((clean == test_y).mean())})
        t = pixel_rows(cfg, m, test_x, test_y, mk, [{"n_pixels": p} for p in cfg.grid_pixel_counts], tag="aug",
                  progress=False)
        for r in t.itertuples():
            rows.append({"model": name, "n_pixels": r.n_pixels, "images": r.images, "wrong_rate": r.wrong_rate,
                         "wrong_rate_std": r.wrong_rate_std, "accuracy": r.accuracy})
        if fooled.any():
            fk = {"what": "paperb-aug-fgsm", **mk, "eps": cfg.fgsm_eps}
            p = store.get_or_compute("paperb-aug-fgsm", fk,
                                     lambda m=m: predict(m, fg["adv"]()[fooled], cfg.eval_batch_size).numpy())
            frows.append({"model": name, "fgsm_examples": int(fooled.sum()),
                          "still_fooling_rate": float((p != test_y[fooled]).mean()),
                          "restored_rate": float((p == test_y[fooled]).mean())})
    return {"exp1": pd.DataFrame(rows), "fgsm": pd.DataFrame(frows), "train_images": cfg.aug_train_images,
            "test_images": int(len(test_y)), "fgsm_fooled_base": int(fooled.sum())}


def augmentation_tables(result: dict[str, Any]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Table 10 (wrong-rate per model × pixel count) and Table 11 (FGSM survival per model)."""
    t10 = result["exp1"].pivot_table(index="model", columns="n_pixels", values="wrong_rate", sort=False)
    t10.columns = [("clean" if c == 0 else f"{c} px") for c in t10.columns]
    return t10, result["fgsm"].set_index("model") if len(result["fgsm"]) else result["fgsm"]
