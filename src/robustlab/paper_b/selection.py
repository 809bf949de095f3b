"""Paper B's images: the correctly classified ImageNet images an experiment uses (§6), found in a
seeded order over the ``sample``, ``val`` and ``train`` splits and read lazily."""
from __future__ import annotations

import math
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from torch import nn

from robustlab.core.errors import DataError, EmptySelectionError
from robustlab.core.results import ResultStore
from robustlab.data.imagenet import load_imagenet, source_key
from robustlab.paper_b.classifiers import (
    SHARED_MOBILENET,
    LazyModel,
    _name,
    available,
    describe,
    forward_batch,
    label,
    load_model,
    model_key,
    model_names,
    predict,
    published_top1,
    resolve_model,
    throughput,
    weights_arg,
)
from robustlab.paper_b.kinds import SELECTION_KIND

__all__ = ["models_table", "SELECTION_SPLITS", "IMAGE_SIZE", "LazyImages", "select_correct", "stored_selection",
           "selected_images", "load_split", "split_per_class", "PAPER_MODELS", "unselected"]

#: The paper's five models (Table 1). When any of them runs, the joint image selection is made for
#: them alone: another model (MobileNetV2, our addition) must not restrict the paper's images.
PAPER_MODELS = ("resnet101", "densenet121", "vgg16", "alexnet", "squeezenet1_1")

#: where correctly classified images are drawn from, in this order.
SELECTION_SPLITS = ("sample", "val", "train")
#: side of the classifiers' input after Resize(256) + CenterCrop(224), pixels.
IMAGE_SIZE = 224


class LazyImages:
    """uint8 NHWC images whose pixels are read only when indexed (``shape`` is known up front)."""

    def __init__(self, load, shape: tuple[int, ...], load_one=None):
        self._load, self._load_one, self.shape, self._arr = load, load_one, tuple(shape), None

    def _all(self) -> np.ndarray:
        if self._arr is None:
            self._arr = self._load()
        return self._arr

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, k):
        if self._arr is None and self._load_one is not None and isinstance(k, (int, np.integer)):
            return self._load_one(int(k))
        return self._all()[k]

    def __array__(self, dtype=None, copy=None):
        a = self._all()
        return a if dtype is None else a.astype(dtype)


def split_per_class(split: str, needed: int) -> int | None:
    """Images per class to decode from a split: the whole split when many are needed."""
    if split == "sample":
        return None  # one per class already
    return None if needed > 400 else max(2, math.ceil(needed / 10 * 1.6) + 2)


def load_split(cfg, split: str, per_class: int | None):
    return load_imagenet(split, cfg.data_dir, per_class=per_class, cache_dir=cfg.cache_dir, progress=False)


def select_correct(cfg, n: int | None = None, splits: Sequence[str] = SELECTION_SPLITS, model: nn.Module | None = None,
                   exclude: dict | None = None, joint: bool = True, model_name: str | None = None) -> dict[str, Any]:
    """The first ``n`` images (default ``cfg.n_images``) that *every* model of the run classifies
    correctly (§6; ``joint=False``: only model ``model_name``, default ``cfg.model_name``, else the
    primary model, e.g. the base of a fine-tuning).

    The run's models are those of :func:`~robustlab.paper_b.classifiers.available` (a model whose
    weights cannot be had is left out and reported); ``model``, when given, is model ``model_name``
    (default ``cfg.model_name``, else the primary model) already loaded, used if the selection is made
    for it. The candidates of each split in ``splits`` are visited in a
    seeded random order (split by split) and evaluated in batches until ``n`` are found; splits are
    decoded only as far as needed. Cached. Returns ``{"items": [(split, per_class, index)], "labels",
    "checked", "correct_rate"`` (all models right), ``"models"``, ``"top1_checked"`` ({model: its own
    top-1 on the images checked})``}``; :func:`selected_images` turns it into the images.
    """

    n = int(n or cfg.n_images)
    names = _run_models(cfg, joint, model_name)
    key = _selection_key(cfg, n, splits, names)

    def compute():
        own = _name(cfg, model_name) if model is not None else None  # the model ``model`` is
        models = {m: (resolve_model(model) if m == own else LazyModel(lambda m=m: load_model(cfg, m)))
                  for m in names}
        items, labels, checked, right = [], [], 0, 0
        right_by = dict.fromkeys(names, 0)
        seen: set[tuple[str, str]] = set()
        unreadable: list[DataError] = []  # splits that could not be had (raised if no split could)
        for split in splits:
            first = split_per_class(split, n - len(items))
            # a per-class subset first; the whole split only if that was not enough
            for per_class in ([first, None] if first is not None else [None]):
                if len(items) >= n:
                    break
                try:
                    s = load_split(cfg, split, per_class)
                except DataError as e:
                    unreadable.append(e)
                    break
                names_ = s.names or [str(i) for i in range(len(s))]
                order = np.random.default_rng([cfg.seed, len(split)]).permutation(len(s))
                order = np.asarray([i for i in order if (split, names_[i]) not in seen], dtype=np.int64)
                bs = cfg.eval_batch_size
                for i in range(0, len(order), bs):
                    idx = np.sort(order[i:i + bs])
                    seen.update((split, names_[j]) for j in idx)
                    x = s.images[idx]
                    ok = np.ones(len(idx), dtype=bool)
                    for m, net in models.items():
                        hit = predict(net, x, bs).numpy() == s.labels[idx]
                        right_by[m] += int(hit.sum())
                        ok &= hit
                    checked += len(idx)
                    right += int(ok.sum())
                    for j in idx[ok]:
                        if len(items) < n:
                            items.append((split, per_class, int(j)))
                            labels.append(int(s.labels[j]))
                    if len(items) >= n:
                        break
            if len(items) >= n:
                break
        if checked == 0 and unreadable:
            raise unreadable[-1]  # no image at all: why the last split could not be had (found, downloaded)
        if len(items) < n:
            raise EmptySelectionError(
                f"n_images={n}: only {len(items)} of {checked} images in splits {list(splits)} are classified "
                f"correctly by {' and '.join(names)}; lower n_images or add data")
        first_model = models[names[0]]
        return {"items": items, "labels": np.asarray(labels, dtype=np.int64), "checked": checked,
                "correct_rate": right / max(checked, 1), "models": names,
                "top1_checked": {m: r / max(checked, 1) for m, r in right_by.items()},
                "device": describe(cfg.torch_device),
                "forward_batch": (fb := forward_batch(resolve_model(first_model), (3, 224, 224), cfg.torch_device,
                                                       min(int(cfg.eval_batch_size), 64))),
                "forward_img_s": throughput(first_model, batch_size=fb),
                "date": time.strftime("%Y-%m-%d")}

    return ResultStore.for_cfg(cfg).get_or_compute(SELECTION_KIND, key, compute)


def _run_models(cfg, joint: bool = True, model_name: str | None = None) -> list[str]:
    """The models a selection is made for: every available one, or only the paper's five among them
    when any of the five runs (others are evaluated on the five's images as extras); ``joint=False``:
    ``[model_name]`` (default ``cfg.model_name``, else the primary model)."""
    if not joint:
        return [_name(cfg, model_name)]
    names = available(cfg)[0]
    five = [n for n in names if n in PAPER_MODELS]
    return five or names


def unselected(cfg, n: int, split: str = "val") -> dict[str, Any]:
    """The first ``n`` images of ``split`` in the same seeded order :func:`select_correct` visits,
    chosen **without consulting any model** (so no model is right on them by construction): a fair
    set for clean accuracy. Returns ``{"items", "labels"}`` for :func:`selected_images`."""
    per_class = split_per_class(split, n)
    s = load_split(cfg, split, per_class)
    if len(s) < n:
        raise EmptySelectionError(f"unselected: split {split!r} has {len(s)} images, {n} needed; lower "
                                  "aug_test_images or add data")
    order = np.random.default_rng([cfg.seed, len(split)]).permutation(len(s))[:n]
    return {"items": [(split, per_class, int(j)) for j in order],
            "labels": np.asarray(s.labels[order], dtype=np.int64)}


def _selection_key(cfg, n: int, splits: Sequence[str] = SELECTION_SPLITS, names: list[str] | None = None
                   ) -> dict[str, Any]:
    names = names if names is not None else _run_models(cfg)
    if len(names) == 1:  # one model: the key selections always had
        models: dict[str, Any] = model_key(cfg, names[0])
    else:
        models = {"models": [model_key(cfg, m) for m in names]}
    return {"what": SELECTION_KIND, **models, "n": int(n), "splits": list(splits), "seed": cfg.seed,
            **source_key(cfg.get("data_dir"), splits)}


def stored_selection(cfg) -> dict[str, Any] | None:
    """The stored selection of ``cfg.n_images`` images (None if not computed yet; computes nothing)."""

    return ResultStore.for_cfg(cfg).get(SELECTION_KIND, _selection_key(cfg, cfg.n_images))


def selected_images(cfg, selection: dict[str, Any]) -> tuple[LazyImages, np.ndarray]:
    """(uint8 NHWC images (N, 224, 224, 3), labels) of a selection from :func:`select_correct`.

    The images are a :class:`LazyImages`: nothing is decoded until pixels are needed (a page whose
    results are all stored reads none), and one indexed image decodes only its own split."""
    items = [tuple(it) for it in selection["items"]]

    def load() -> np.ndarray:
        groups: dict[tuple, list[int]] = {}
        for k, (split, pc, _i) in enumerate(items):
            groups.setdefault((split, pc), []).append(k)
        out = np.empty((len(items), IMAGE_SIZE, IMAGE_SIZE, 3), dtype=np.uint8)
        for (split, pc), ks in groups.items():
            s = load_split(cfg, split, pc)
            idx = np.asarray([items[k][2] for k in ks])
            out[np.asarray(ks)] = s.images[idx]
        return out

    def load_one(k: int) -> np.ndarray:
        split, pc, i = items[k]
        return np.asarray(load_split(cfg, split, pc).images[i])

    return LazyImages(load, (len(items), IMAGE_SIZE, IMAGE_SIZE, 3), load_one), np.asarray(selection["labels"])


def models_table(cfg, selection: dict[str, Any]):
    """One row per requested model: whether it ran (or why not), its own top-1 on the images checked
    by the selection (%, measured) and torchvision's published ImageNet-1k top-1 of the weights the
    model downloads (%, with the enum's name)."""
    # deferred: pandas is slow to import; only tables need it
    import pandas as pd


    names, missing = available(cfg)
    top1 = selection.get("top1_checked") or ({names[0]: selection["correct_rate"]} if len(names) == 1 else {})
    rows = []
    for n in model_names(cfg):
        pub = published_top1(n, shared=str(weights_arg(cfg, n)).endswith(Path(SHARED_MOBILENET).name))
        rows.append({"model": label(n), "ran": "yes" if n in names else f"no: {missing.get(n, '')}",
                     "top-1 on the images checked [%]": round(100 * top1[n], 1) if n in top1 else None,
                     "images checked": selection["checked"] if n in top1 else None,
                     "torchvision's published top-1 [%]": pub[1] if pub else None,
                     "of the weights": pub[0] if pub else None})
    return pd.DataFrame(rows)
