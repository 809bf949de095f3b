"""Paper B's experiments (Zhang & Cai 2021) on a real ImageNet-pretrained classifier.

Everything works on 8-bit NHWC images (see :mod:`robustlab.paper_b.pixels`) and a model that takes
float NCHW RGB on [0, 1] (:func:`robustlab.paper_b.classifiers.pretrained`). All results are
cached in ``ResultStore(cfg.results)`` keyed by the settings that produce them, so re-running
a notebook computes nothing.

* :func:`load_model` — the classifier of ``cfg.model_name`` (weights: ``cfg.weights``; None →
  the shared real MobileNetV2 state_dict).
* :func:`select_correct` — the first N images (seeded order over the ``sample``, ``val`` and
  ``train`` splits) the model classifies correctly, evaluated lazily.
* :func:`pixel_runs` — wrong-rate of the selected images after ``n`` random pixel changes,
  for one setting (count, magnitude, area) and ``cfg.n_repeats`` seeded draws; every image
  is changed independently. Experiments 1–3 are grids of these (:func:`experiment1` …).
* :func:`fgsm_examples` / :func:`experiment4` — FGSM examples (8-bit, ``cfg.fgsm_eps``) and the
  share that the pixel changes return to the correct class.
* :func:`pixel_index_table` — Pi from experiment 1.
* :func:`augmentation` — §6.2: fine-tune on few-pixel-changed training images, then exp. 1 on
  held-out images and the surviving rate of the base model's FGSM examples.
* :func:`cifar_pixel_experiments` — experiments 1–3 and Pi on paper A's CIFAR-10 models.
"""
from __future__ import annotations

import copy
import math
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd
import torch
from torch import nn

from robustlab.core.errors import DataError, EmptySelectionError
from robustlab.paper_b.pixel_index import pixel_index, spread
from robustlab.paper_b.classifiers import to_unit
from robustlab.paper_b.pixels import change_pixels, make_generator

__all__ = ["load_model", "model_key", "predict", "select_correct", "selected_images", "pixel_runs",
           "experiment1", "experiment2", "experiment3", "fgsm_examples", "experiment4",
           "pixel_index_table", "pixel_index_curve", "augmentation", "augmentation_tables",
           "cifar_pixel_experiments", "finetune_lr_check", "throughput", "class_names", "CHUNK", "SELECTION_SPLITS"]

#: images changed together with one seeded generator: results do not depend on the batch size.
CHUNK = 256
#: where correctly classified images are drawn from, in this order.
SELECTION_SPLITS = ("sample", "val", "train")
#: side of the classifiers' input after Resize(256) + CenterCrop(224), pixels.
IMAGE_SIZE = 224


# --------------------------------------------------------------------------------------
# model and data
# --------------------------------------------------------------------------------------
def _weights_arg(cfg) -> str | None:
    if cfg.weights is not None:
        return cfg.weights
    if cfg.model_name != "mobilenet_v2":
        return "DEFAULT"
    from robustlab.paper_b.classifiers import shared_mobilenet_path

    return str(shared_mobilenet_path(cfg.data_dir))


_SHA_CACHE: dict[tuple[str, int, int], str] = {}


def _file_sha256(path: Path) -> str:
    import hashlib

    st = path.stat()
    k = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    if k not in _SHA_CACHE:
        h = hashlib.sha256()
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        _SHA_CACHE[k] = h.hexdigest()[:16]
    return _SHA_CACHE[k]


def model_key(cfg) -> dict[str, Any]:
    """Identity of the model used, for cache keys: its name and its weights — a torchvision enum by
    name, or a weights file by its name and SHA-256 (never its path, so results computed on another
    machine, with the file elsewhere, are found)."""
    w = _weights_arg(cfg)
    key: dict[str, Any] = {"model": cfg.model_name, "weights": w}
    if w is not None and Path(w).is_file():
        key["weights"] = Path(w).name
        key["weights_sha256"] = _file_sha256(Path(w))
    return key


class LazyModel:
    """A model that is built only when something must be computed with it (``.get()``), so pages
    rendered from stored or published results never load fine-tuned or paper-A weights."""

    def __init__(self, make):
        self._make, self._m = make, None

    def get(self) -> nn.Module:
        if self._m is None:
            self._m = self._make()
        return self._m


def _resolve(model):
    return model.get() if isinstance(model, LazyModel) else model


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


def load_model(cfg) -> nn.Module:
    """``cfg.model_name`` with its weights on ``cfg.torch_device`` (channels_last, eval mode)."""
    from robustlab.paper_b.classifiers import pretrained

    m = pretrained(cfg.model_name, _weights_arg(cfg))
    return m.to(cfg.torch_device, memory_format=torch.channels_last).eval()


def class_names(cfg) -> list[str]:
    """The 1,000 ImageNet class names (wnids.txt beside the data; falls back to the wnids)."""
    from robustlab.data.sources import find_imagenet, read_wnids

    _, wn = find_imagenet("sample", cfg.data_dir)
    if wn is None:
        raise DataError("no wnids.txt found beside the ImageNet data: class names unknown")
    return read_wnids(wn)[1]


def _to_input(images_uint8: Any, device) -> torch.Tensor:
    """uint8 NHWC → the classifiers' float NCHW [0, 1] input on ``device``, channels_last."""
    return to_unit(images_uint8, device).contiguous(memory_format=torch.channels_last)


def predict(model: nn.Module, images_uint8: Any, batch_size: int = 64, device=None,
            return_conf: bool = False):
    """Top-1 classes (int64 CPU tensor) of uint8 NHWC images; batched, ``torch.inference_mode``."""
    model = _resolve(model)
    device = device or next(model.parameters()).device
    preds, confs = [], []
    with torch.inference_mode():
        for i in range(0, len(images_uint8), batch_size):
            logits = model(_to_input(images_uint8[i:i + batch_size], device))
            if return_conf:
                p = logits.float().softmax(1)
                c, k = p.max(1)
                preds.append(k.cpu()), confs.append(c.cpu())
            else:
                preds.append(logits.argmax(1).cpu())
    pred = torch.cat(preds) if preds else torch.zeros(0, dtype=torch.int64)
    return (pred, torch.cat(confs)) if return_conf else pred


def _describe(device) -> str:
    from robustlab.core.device import describe_device

    return describe_device(torch.device(device))


def throughput(model: nn.Module, batch_size: int = 16, device=None, backward: bool = False) -> float:
    """Images/s of one forward (or forward+backward to the input) pass on random 224×224 input."""
    model = _resolve(model)
    device = device or next(model.parameters()).device
    x = torch.rand(batch_size, 3, 224, 224, device=device).contiguous(memory_format=torch.channels_last)
    if backward:
        x.requires_grad_(True)
        model(x[:2]).sum().backward()
        t = time.perf_counter()
        torch.autograd.grad(model(x).sum(), x)
    else:
        with torch.inference_mode():
            model(x[:2])
            t = time.perf_counter()
            model(x)
    return batch_size / (time.perf_counter() - t)


def _split_per_class(split: str, needed: int) -> int | None:
    """Images per class to decode from a split: the whole split when many are needed."""
    if split == "sample":
        return None  # one per class already
    return None if needed > 400 else max(2, math.ceil(needed / 10 * 1.6) + 2)


def _load_split(cfg, split: str, per_class: int | None):
    from robustlab.data.sources import load_imagenet

    return load_imagenet(split, cfg.data_dir, per_class=per_class, cache_dir=cfg.cache_dir, progress=False)


def select_correct(cfg, n: int | None = None, splits: Sequence[str] = SELECTION_SPLITS, model: nn.Module | None = None,
                   exclude: dict | None = None) -> dict[str, Any]:
    """The first ``n`` images (default ``cfg.n_images``) the model classifies correctly.

    The candidates of each split in ``splits`` are visited in a seeded random order (split by
    split) and evaluated in batches until ``n`` are found; splits are decoded only as far as
    needed. Cached. Returns ``{"items": [(split, per_class, index)], "labels", "checked",
    "correct_rate"}``; :func:`selected_images` turns it into the images.
    """
    from robustlab.core.results import ResultStore

    n = int(n or cfg.n_images)
    key = _selection_key(cfg, n, splits)

    def compute():
        nonlocal model
        model = _resolve(model) or load_model(cfg)
        items, labels, checked, right = [], [], 0, 0
        seen: set[tuple[str, str]] = set()
        for split in splits:
            first = _split_per_class(split, n - len(items))
            # a per-class subset first; the whole split only if that was not enough
            for per_class in ([first, None] if first is not None else [None]):
                if len(items) >= n:
                    break
                try:
                    s = _load_split(cfg, split, per_class)
                except DataError:
                    break
                names = s.names or [str(i) for i in range(len(s))]
                order = np.random.default_rng([cfg.seed, len(split)]).permutation(len(s))
                order = np.asarray([i for i in order if (split, names[i]) not in seen], dtype=np.int64)
                bs = cfg.eval_batch_size
                for i in range(0, len(order), bs):
                    idx = np.sort(order[i:i + bs])
                    seen.update((split, names[j]) for j in idx)
                    pred = predict(model, s.images[idx], bs).numpy()
                    ok = pred == s.labels[idx]
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
        if len(items) < n:
            raise EmptySelectionError(
                f"n_images={n}: only {len(items)} of {checked} images in splits {list(splits)} are classified "
                f"correctly by {cfg.model_name}; lower n_images or add data")
        return {"items": items, "labels": np.asarray(labels, dtype=np.int64), "checked": checked,
                "correct_rate": right / max(checked, 1), "device": _describe(cfg.torch_device),
                "forward_img_s": throughput(model, batch_size=min(int(cfg.eval_batch_size), 64)),
                "date": time.strftime("%Y-%m-%d")}

    return ResultStore.for_cfg(cfg).get_or_compute("paperb-selection", key, compute)


def _selection_key(cfg, n: int, splits: Sequence[str] = SELECTION_SPLITS) -> dict[str, Any]:
    return {"what": "paperb-selection", **model_key(cfg), "n": int(n), "splits": list(splits), "seed": cfg.seed}


def stored_selection(cfg) -> dict[str, Any] | None:
    """The stored selection of ``cfg.n_images`` images (None if not computed yet; computes nothing)."""
    from robustlab.core.results import ResultStore

    return ResultStore.for_cfg(cfg).get("paperb-selection", _selection_key(cfg, cfg.n_images))


def selected_images(cfg, selection: dict[str, Any]) -> tuple[LazyImages, np.ndarray]:
    """(uint8 NHWC images (N, 224, 224, 3), labels) of a selection from :func:`select_correct`.

    The images are a :class:`LazyImages`: nothing is decoded until pixels are needed (a page whose
    results are all stored reads none), and one indexed image decodes only its own split."""
    items = [tuple(it) for it in selection["items"]]

    def load() -> np.ndarray:
        groups: dict[tuple, list[int]] = {}
        for k, (split, pc, i) in enumerate(items):
            groups.setdefault((split, pc), []).append(k)
        out = np.empty((len(items), IMAGE_SIZE, IMAGE_SIZE, 3), dtype=np.uint8)
        for (split, pc), ks in groups.items():
            s = _load_split(cfg, split, pc)
            idx = np.asarray([items[k][2] for k in ks])
            out[np.asarray(ks)] = s.images[idx]
        return out

    def load_one(k: int) -> np.ndarray:
        split, pc, i = items[k]
        return np.asarray(_load_split(cfg, split, pc).images[i])

    return LazyImages(load, (len(items), IMAGE_SIZE, IMAGE_SIZE, 3), load_one), np.asarray(selection["labels"])


# --------------------------------------------------------------------------------------
# pixel-change runs
# --------------------------------------------------------------------------------------
def _seed(*parts: Any) -> int:
    """A stable 63-bit seed from parts (ints/strings)."""
    import hashlib

    h = hashlib.sha256("|".join(map(str, parts)).encode()).digest()
    return int.from_bytes(h[:8], "little") & (2**63 - 1)


def changed_predictions(model: nn.Module, images: np.ndarray, n_pixels: int, magnitude: int | None,
                        area: int | None, seed: int, batch_size: int, device=None) -> np.ndarray:
    """Predictions after changing every image independently (seeded per CHUNK of images)."""
    model = _resolve(model)
    preds = []
    for c0 in range(0, len(images), CHUNK):
        g = make_generator(_seed(seed, c0))
        x = change_pixels(torch.from_numpy(np.ascontiguousarray(images[c0:c0 + CHUNK])), n_pixels, magnitude,
                          area, g)
        preds.append(predict(model, x, batch_size, device).numpy())
    return np.concatenate(preds) if preds else np.zeros(0, dtype=np.int64)


def pixel_runs(cfg, model: nn.Module, images: np.ndarray, labels: np.ndarray, *, n_pixels: int,
               magnitude: int | None = None, area: int | None = None, data_key: dict | None = None,
               tag: str = "clean", targets: np.ndarray | None = None) -> dict[str, Any]:
    """``cfg.n_repeats`` seeded runs of one setting; cached under ``data_key``.

    Returns ``{"wrong": bool (R, N)`` (prediction != label) ``, "rate": spread of wrong-rates,
    "setting": ...}``. With ``targets`` (exp. 4: the adversarial classes) also ``"still": bool
    (R, N)`` = prediction still equals the target.
    """
    from robustlab.core.results import ResultStore

    h = images.shape[1]
    area_eff = None if area is None or area >= h else int(area)
    setting = {"n_pixels": int(n_pixels), "magnitude": magnitude, "area": area_eff}
    key = {"what": "paperb-pixels", "tag": tag, **(data_key or {}), **setting, "repeats": cfg.n_repeats,
           "seed": cfg.seed, "chunk": CHUNK}

    def compute():
        wrong, still = [], []
        for r in range(cfg.n_repeats):
            pred = changed_predictions(model, images, n_pixels, magnitude, area_eff,
                                       _seed(cfg.seed, tag, n_pixels, magnitude, area_eff, r),
                                       cfg.eval_batch_size)
            wrong.append(pred != labels)
            if targets is not None:
                still.append(pred == targets)
        out = {"wrong": np.stack(wrong), "setting": setting}
        if targets is not None:
            out["still"] = np.stack(still)
        return out

    res = ResultStore.for_cfg(cfg).get_or_compute("paperb-pixels", key, compute)
    res["rate"] = spread(res["wrong"].mean(1))
    return res


class _Data:
    """The N selected images of a config, loaded once per process."""

    _cache: dict[str, tuple] = {}

    @classmethod
    def get(cls, cfg, model=None):
        from robustlab.core.results import config_hash

        sel = select_correct(cfg, model=model)
        k = config_hash({"items": sel["items"]})
        if k not in cls._cache:
            cls._cache[k] = selected_images(cfg, sel) + (sel, {**model_key(cfg), "selection": k})
        return cls._cache[k]


def _rows(cfg, model, images, labels, dkey, settings, tag="clean", targets=None, progress=True):
    from robustlab.core.progress import tqdm

    from robustlab.core import budget

    rows = []
    for j, s in enumerate(tqdm(settings, desc=f"paper B {tag}", disable=not progress, leave=False)):
        if j:
            budget.check(f"paper B {tag} pixel runs")  # every finished setting is stored
        res = pixel_runs(cfg, model, images, labels, data_key=dkey, tag=tag, targets=targets, **s)
        n = images.shape[0]
        row = {"n_pixels": s["n_pixels"], "magnitude": "any" if s.get("magnitude") is None else s["magnitude"],
               "area": images.shape[1] if s.get("area") is None else s["area"], "images": n,
               "wrong_mean": res["rate"]["mean"] * n, "wrong_rate": res["rate"]["mean"],
               "wrong_rate_std": res["rate"]["std"], "wrong_rate_min": res["rate"]["min"],
               "wrong_rate_max": res["rate"]["max"], "accuracy": 1 - res["rate"]["mean"], "repeats": res["rate"]["n"]}
        if targets is not None:
            st = spread(res["still"].mean(1))
            row.update(restored_rate=row["accuracy"], still_fooling_rate=st["mean"], still_fooling_std=st["std"])
        rows.append(row)
    return pd.DataFrame(rows)


def _model_and_data(cfg, model=None):
    model = model or load_model(cfg)
    images, labels, sel, dkey = _Data.get(cfg, model)
    return model, images, labels, sel, dkey


def experiment1(cfg, model: nn.Module | None = None) -> pd.DataFrame:
    """Exp. 1 (Table 6, Fig. 8): wrong-rate per pixel count, any value, anywhere."""
    model, images, labels, _, dkey = _model_and_data(cfg, model)
    return _rows(cfg, model, images, labels, dkey, [{"n_pixels": p} for p in cfg.pixel_counts])


def experiment2(cfg, model: nn.Module | None = None) -> pd.DataFrame:
    """Exp. 2 (Table 7, Fig. 9): wrong-rate per magnitude (± m per channel) and pixel count."""
    model, images, labels, _, dkey = _model_and_data(cfg, model)
    settings = [{"n_pixels": p, "magnitude": m} for p in cfg.grid_pixel_counts for m in cfg.magnitudes]
    return _rows(cfg, model, images, labels, dkey, settings)


def experiment3(cfg, model: nn.Module | None = None) -> pd.DataFrame:
    """Exp. 3 (Table 8, Fig. 10): wrong-rate per centred window side and pixel count."""
    model, images, labels, _, dkey = _model_and_data(cfg, model)
    settings = [{"n_pixels": p, "area": a} for p in cfg.grid_pixel_counts for a in cfg.areas]
    return _rows(cfg, model, images, labels, dkey, settings)


#: FGSM examples kept in the stored record (for figures); the rest are recomputed when needed.
N_FGSM_EXAMPLES = 2
_FGSM_IMAGES: dict[str, np.ndarray] = {}


def fgsm_images(cfg, model: nn.Module, images: Any, labels: np.ndarray, eps: float | None = None) -> np.ndarray:
    """8-bit FGSM examples (``robustlab.attacks.methods.fgsm``, ε in 8-bit units, rounded to the 8-bit grid)
    of ``images`` (uint8 NHWC) against ``model``: uint8 NHWC. Deterministic, one gradient per image,
    so they are recomputed where needed rather than stored (10,000 of them are 1.5 GB)."""
    from robustlab.attacks.methods import fgsm

    model = _resolve(model)
    eps = float(cfg.fgsm_eps if eps is None else eps)
    advs = []
    for i in range(0, len(images), cfg.eval_batch_size):
        x = _to_input(images[i:i + cfg.eval_batch_size], cfg.torch_device)
        y = torch.as_tensor(labels[i:i + cfg.eval_batch_size], device=cfg.torch_device)
        a = fgsm(model, x, y, eps, bounds=(0.0, 1.0), round_to_8bit=True)
        advs.append((a * 255).round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).cpu())
    return torch.cat(advs).numpy() if advs else np.zeros((0,) + tuple(images.shape[1:]), np.uint8)


def fgsm_examples(cfg, model: nn.Module, images: Any, labels: np.ndarray, data_key: dict,
                  eps: float | None = None) -> dict[str, Any]:
    """The model's predictions on the FGSM examples of ``images`` (:func:`fgsm_images`) and the first
    few examples (clean and adversarial, uint8 NHWC) — cached; the record holds predictions, never all
    the adversarial images. ``adv()`` (a function in the returned dict) gives all of them, recomputed
    once per process when something must be computed on them."""
    from robustlab.core.results import ResultStore, config_hash

    eps = float(cfg.fgsm_eps if eps is None else eps)
    key = {"what": "paperb-fgsm", **data_key, "eps": eps}
    memo = config_hash(key)

    def adv() -> np.ndarray:
        if memo not in _FGSM_IMAGES:
            _FGSM_IMAGES.clear()  # one set at a time: they are large
            _FGSM_IMAGES[memo] = fgsm_images(cfg, model, images, labels, eps)
        return _FGSM_IMAGES[memo]

    def compute():
        a = adv()
        k = min(N_FGSM_EXAMPLES, len(a))
        return {"pred": predict(model, a, cfg.eval_batch_size).numpy(), "examples_adv": a[:k].copy(),
                "examples_clean": np.asarray(images[:k]).copy(), "device": _describe(cfg.torch_device)}

    out = dict(ResultStore.for_cfg(cfg).get_or_compute("paperb-fgsm", key, compute))
    out["adv"] = adv
    return out


def experiment4(cfg, model: nn.Module | None = None) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Exp. 4 (Table 9): FGSM examples that fool the model, then n-pixel changes (any value,
    anywhere): the share returned to the correct class (``restored_rate``) and the share still
    classified as the adversarial class. Returns (table, summary)."""
    model, images, labels, _, dkey = _model_and_data(cfg, model)
    fg = fgsm_examples(cfg, model, images, labels, dkey)
    fooled = fg["pred"] != labels
    summary = {"eps": cfg.fgsm_eps, "images": int(len(labels)), "fooled": int(fooled.sum()),
               "fgsm_success_rate": float(fooled.mean())}
    if not fooled.any():
        return pd.DataFrame(), summary
    lab, tgt = labels[fooled], fg["pred"][fooled]
    adv = LazyImages(lambda: fg["adv"]()[fooled], (int(fooled.sum()),) + tuple(images.shape[1:]))
    table = _rows(cfg, model, adv, lab, {**dkey, "fgsm_eps": cfg.fgsm_eps}, [{"n_pixels": p} for p in cfg.pixel_counts],
                  tag="fgsm", targets=tgt)
    return table, summary


# --------------------------------------------------------------------------------------
# Pixel-index
# --------------------------------------------------------------------------------------
def pixel_index_curve(table: pd.DataFrame, image_size: int = 224) -> pd.DataFrame:
    """Pi per row of an experiment-1/3 table (value range 255; area from the table)."""
    out = table.copy()
    out["Pi"] = [pixel_index(r.wrong_mean, r.images, r.n_pixels, image_size,
                             255 if r.magnitude == "any" else min(255, 2 * int(r.magnitude)),
                             None if int(r.area) >= image_size else int(r.area)) for r in table.itertuples()]
    lo = out["wrong_rate_min"] * out["images"]
    hi = out["wrong_rate_max"] * out["images"]
    out["Pi_min"] = out["Pi"] * np.where(out["wrong_mean"] > 0, lo / out["wrong_mean"].where(out["wrong_mean"] > 0, 1), 0)
    out["Pi_max"] = out["Pi"] * np.where(out["wrong_mean"] > 0, hi / out["wrong_mean"].where(out["wrong_mean"] > 0, 1), 0)
    return out


def pixel_index_table(cfg, exp1: pd.DataFrame, model_label: str | None = None, n_pixels: int = 64,
                      image_size: int = 224) -> pd.DataFrame:
    """Table 5: Pi of the model at the paper's setting (``n_pixels`` = 64, any value, whole image;
    the largest pixel count run if 64 was not)."""
    curve = pixel_index_curve(exp1, image_size)
    p = n_pixels if n_pixels in set(curve["n_pixels"]) else int(curve["n_pixels"].max())
    r = curve[curve["n_pixels"] == p].iloc[0]
    return pd.DataFrame([{"model": model_label or cfg.model_name, "images": int(r.images), "n_pixels": p,
                          "value_range": 255, "area": f"{image_size}x{image_size}", "wrong_mean": r.wrong_mean,
                          "wrong_rate": r.wrong_rate, "Pi": r.Pi, "Pi_min": r.Pi_min, "Pi_max": r.Pi_max}])


# --------------------------------------------------------------------------------------
# augmentation (§6.2)
# --------------------------------------------------------------------------------------
def _train_set(cfg) -> tuple[np.ndarray, np.ndarray]:
    from robustlab.data.sources import balanced_indices

    s = _load_split(cfg, "train", _split_per_class("train", cfg.aug_train_images))
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
    rng = np.random.default_rng(_seed(cfg.seed, "aug-order", k))
    steps = cfg.aug_epochs * math.ceil(len(images) / bs)
    bar = tqdm(total=steps, desc=f"fine-tune k={k}", disable=not progress, leave=False)
    for ep in range(cfg.aug_epochs):
        order = rng.permutation(len(images))
        for b, i in enumerate(range(0, len(order), bs)):
            idx = np.sort(order[i:i + bs])
            x = change_pixels(torch.from_numpy(images[idx]), k, None, None, _seed(cfg.seed, "aug", k, ep, b))
            xb = _to_input(x, cfg.torch_device)
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
                     "test_images": len(test_y), "clean_accuracy": store.get_or_compute("paperb-aug-lr-check", key, compute)})
    return pd.DataFrame(rows)


def augmentation(cfg, base: nn.Module | None = None, progress: bool = True) -> dict[str, Any]:
    """§6.2: for each k in ``cfg.aug_pixel_counts`` fine-tune (:func:`finetune`) on
    ``cfg.aug_train_images`` Imagenette *train* images, then on ``cfg.aug_test_images`` held-out
    *val* images the base model classifies correctly: exp. 1 for ``cfg.grid_pixel_counts``
    (+ the clean accuracy), and the share of the base model's FGSM examples (those that fool it)
    that still fool the fine-tuned model. Fine-tuned weights are cached; all numbers too.

    Returns ``{"exp1": DataFrame, "fgsm": DataFrame, "train_images", "test_images"}``.
    """
    from robustlab.core.results import ResultStore, config_hash

    from robustlab.core import budget

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
            m = finetune(cfg, _resolve(base), *train_xy["xy"], k, progress)
            return {n: t.detach().cpu() for n, t in m.state_dict().items()}

        sd = store.get_or_compute("paperb-aug-model", key, compute)
        m = copy.deepcopy(_resolve(base))
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
        clean = store.get_or_compute("paperb-aug-clean", ck, lambda m=m: predict(m, test_x, cfg.eval_batch_size).numpy())
        rows.append({"model": name, "n_pixels": 0, "images": len(test_y), "wrong_rate": float((clean != test_y).mean()),
                     "wrong_rate_std": 0.0, "accuracy": float((clean == test_y).mean())})
        t = _rows(cfg, m, test_x, test_y, mk, [{"n_pixels": p} for p in cfg.grid_pixel_counts], tag="aug",
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


# --------------------------------------------------------------------------------------
# paper A's CIFAR-10 models
# --------------------------------------------------------------------------------------
def cifar_scale(n_pixels: int | None = None, area: int | None = None, size: int = 32, ref: int = 224) -> dict:
    """Scale an ImageNet setting to ``size``×``size``: the pixel *share* p and area *share* a are
    kept, i.e. ``n' = max(1, round(n · size²/ref²))`` and ``area' = round(area · size/ref)``."""
    out = {}
    if n_pixels is not None:
        out["n_pixels"] = max(1, round(n_pixels * size * size / (ref * ref)))
    if area is not None:
        out["area"] = max(1, round(area * size / ref))
    return out


def cifar_pixel_experiments(cfg, progress: bool = True) -> dict[str, Any]:
    """Experiments 1–3 and Pi on paper A's σ=0 CIFAR-10 models (``robustlab.paper_a.grid.get_model``).

    CIFAR images are 32×32, so *the same pixel counts* as on ImageNet are used (1…64 of 1,024
    pixels is a 49× larger share; Pi normalises by the share) and areas are scaled by 32/224
    (224 → 32, 200 → 29, 160 → 23, 112 → 16, 56 → 8). The models take [-1, 1] input; pixels are
    changed in 8-bit before the conversion. Selection: the test images each model classifies
    correctly among the first ``3 · cfg.n_images`` of a seeded order, at most ``cfg.n_images`` (fewer
    for a weak model; the tables give the count).
    """
    from robustlab.paper_a import grid
    from robustlab.data.sources import load_cifar10, to_tensor_pm1
    from robustlab.core.results import ResultStore

    test = load_cifar10(cfg.data_dir, "test", cache_dir=cfg.cache_dir, progress=False)
    order = np.random.default_rng([cfg.seed, 32]).permutation(len(test))
    out = {}
    class _Wrap(nn.Module):  # uint8→[0,1] input of predict() → the net's [-1, 1]
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, x):
            return self.m(x * 2.0 - 1.0)

    for arch in cfg.archs:
        m = LazyModel(lambda arch=arch: _Wrap(grid.get_model(cfg, arch, "noise", 0.0).to(cfg.torch_device).eval()))
        key = {"what": "paperb-cifar-selection", "model": grid.model_config(cfg, arch, "noise", 0.0),
               "n": cfg.n_images, "seed": cfg.seed}

        def sel(m=m):
            pred = predict(m, test.images[order[: min(len(order), cfg.n_images * 3)]], 256).numpy()
            ok = order[: len(pred)][pred == test.labels[order[: len(pred)]]]
            return np.sort(ok[: cfg.n_images])

        idx = ResultStore.for_cfg(cfg).get_or_compute("paperb-cifar-selection", key, sel)
        if len(idx) == 0:
            print(f"{arch}: no correctly classified test image among the first {cfg.n_images * 3}; skipped")
            continue
        x, y = np.ascontiguousarray(test.images[idx]), test.labels[idx]
        dkey = {**key, "what": "cifar"}
        e1 = _rows(cfg, m, x, y, dkey, [{"n_pixels": p} for p in cfg.pixel_counts], progress=False)
        e2 = _rows(cfg, m, x, y, dkey, [{"n_pixels": p, "magnitude": mg} for p in cfg.grid_pixel_counts
                                        for mg in cfg.magnitudes], progress=False)
        areas = sorted({cifar_scale(area=a)["area"] for a in cfg.areas}, reverse=True)
        e3 = _rows(cfg, m, x, y, dkey, [{"n_pixels": p, "area": a} for p in cfg.grid_pixel_counts for a in areas
                                        if p <= a * a], progress=False)
        out[arch] = {"exp1": e1, "exp2": e2, "exp3": e3, "images": len(idx),
                     "pi": pixel_index_table(cfg, e1, f"{arch} (CIFAR-10, σ=0)", image_size=32)}
    return out


# --------------------------------------------------------------------------------------
# text for the book: what ran, and the paper's claims beside our numbers
# --------------------------------------------------------------------------------------
def describe_run(cfg) -> str:
    """Markdown: which model, images, sizes and hardware produced this page's numbers."""

    w = _weights_arg(cfg)
    sel = stored_selection(cfg)
    ran = (f"computed on {sel['device']}" + (f" ({sel['date']})" if sel.get("date") else "")) if sel and "device" in sel \
        else "not computed yet"
    real = cfg.model_name == "mobilenet_v2" and cfg.weights is None
    model = ("the **real ImageNet-pretrained MobileNetV2** (torchvision's quantized model, dequantized; "
             f"`{Path(w).name}`)" if real else f"`{cfg.model_name}` with weights `{w}`")
    return (f"**What produced these numbers.** Model: {model}. Images: the first {cfg.n_images} real ImageNet "
            f"images (one-per-class sample, then Imagenette val/train, seeded order) that this model classifies "
            f"correctly; {cfg.n_repeats} seeded repeats per setting, every image changed independently. Profile "
            f"`{cfg.profile}`, {ran}. The paper's five models (ResNet-101, "
            f"DenseNet-121, VGG-16, AlexNet, SqueezeNet 1.1) need torchvision's downloaded weights, which cannot "
            f"be had here: they are exercised in the tests with random weights only, and their rows below are the "
            f"paper's numbers, not ours.")


def _pct(x: float) -> str:
    return f"{100 * x:.1f} %"


def _rate_at(table: pd.DataFrame, n: int) -> float | None:
    r = table[table["n_pixels"] == n]
    return None if r.empty else float(r["wrong_rate"].iloc[0])


def _claim(cid, section, claim, paper_value, ours, verdict, why):
    return {"id": cid, "paper": "B", "section": section, "claim": claim, "paper_value": paper_value,
            "ours": ours, "verdict": verdict, "why": why}


def claims_exp1(e1: pd.DataFrame, model_label: str = "MobileNetV2") -> list[dict]:
    """Claims of Table 6 / Fig. 8 with verdicts computed from an experiment-1 table."""
    out = []
    w4, w64 = _rate_at(e1, 4), _rate_at(e1, 64)
    t = e1.sort_values("n_pixels")
    rates = t["wrong_rate"].to_numpy()
    n = int(t["images"].iloc[0])
    if w64 is not None:
        inside = 0.035 <= w64 <= 0.14
        out.append(_claim("B-64px-range", "§1, Table 6", "64 changed pixels (0.12 %) misclassify 3.5 %–14 % of "
                          "correctly classified images", "3.5 %–14 % (five models)", f"{_pct(w64)} ({model_label}, "
                          f"{n} images)", "yes" if inside else ("partly" if w64 > 0.01 else "no"),
                          "same order of magnitude as the paper's range" if inside else
                          "outside the paper's range (a different model; small sample)"))
    if w4 is not None and w64 is not None:
        close = abs(w4 - 0.01) <= 0.02 and abs(w64 - 0.05) <= 0.04
        out.append(_claim("B-resnet-4-64", "Table 6", "ResNet: about 1 % wrong after 4 pixels and 5 % after 64",
                          "≈ 1 % / ≈ 5 % (ResNet-101)", f"{_pct(w4)} / {_pct(w64)} ({model_label})",
                          "partly" if close else "no",
                          "ResNet-101 weights cannot be had here; MobileNetV2's rates are "
                          + ("similar" if close else "different") + " — a comparison across models, not a replication"))
    mono = bool(np.all(np.diff(rates) >= -1.5 / n)) and rates[-1] > rates[0]
    out.append(_claim("B-more-pixels", "Fig. 8", "the more pixels are changed, the more images are misclassified",
                      "monotone increase", " → ".join(_pct(r) for r in rates) + " for " +
                      ", ".join(str(int(p)) for p in t["n_pixels"]) + " px",
                      "yes" if mono else ("partly" if rates[-1] > rates[0] else "no"),
                      "increase up to one image of noise between neighbours" if mono else "not monotone here"))
    out.append(_claim("B-model-ranking", "Table 6", "DenseNet is the most robust model, SqueezeNet the least",
                      "DenseNet best, SqueezeNet worst", "only MobileNetV2 has real weights here",
                      "not testable here", "the five models' ImageNet weights cannot be downloaded on this machine"))
    return out


def claims_exp2(e2: pd.DataFrame) -> list[dict]:
    """Table 7's claim: larger magnitudes misclassify more (per pixel count)."""
    parts, ok, incr = [], True, True
    for p, t in e2.groupby("n_pixels"):
        t = t.assign(m=t["magnitude"].astype(int)).sort_values("m")
        r = t["wrong_rate"].to_numpy()
        parts.append(f"{p} px: " + " → ".join(_pct(v) for v in r) + f" for ±{', ±'.join(map(str, t['m']))}")
        n = int(t["images"].iloc[0])
        ok &= bool(np.all(np.diff(r) >= -1.5 / n))
        incr &= bool(r[-1] > r[0])
    return [_claim("B-magnitude", "Table 7", "larger change magnitudes misclassify more images",
                   "monotone increase", "; ".join(parts), "yes" if ok and incr else ("partly" if incr else "no"),
                   "wrong-rate grows with the magnitude" if ok and incr else "no clear growth at this sample size")]


def claims_exp3(e3: pd.DataFrame, e2: pd.DataFrame | None = None) -> list[dict]:
    """Table 8's claims: the area matters little; magnitude matters more than position."""
    out = []
    spans = []
    for p, t in e3.groupby("n_pixels"):
        spans.append((p, float(t["wrong_rate"].max() - t["wrong_rate"].min()), t))
    p, span, t = max(spans, key=lambda s: s[0])
    mean = float(t["wrong_rate"].mean())
    n = int(t["images"].iloc[0])
    small = span <= max(0.5 * mean, 3.0 / n)
    out.append(_claim("B-area", "Table 8", "the window the pixels are drawn from has little effect",
                      "similar counts for all areas", f"{p} px: " + ", ".join(f"{a}²: {_pct(r)}" for a, r in
                                                                           zip(t['area'], t['wrong_rate'])),
                      "yes" if small else "no", f"range over windows {_pct(span)} (mean {_pct(mean)})"))
    if e2 is not None and not e2.empty:
        m = e2[e2["n_pixels"] == p]
        if not m.empty:
            mspan = float(m["wrong_rate"].max() - m["wrong_rate"].min())
            out.append(_claim("B-magnitude-vs-area", "§6.1.4", "the magnitude of the change matters more than its "
                              "position", "qualitative", f"{p} px: spread over magnitudes {_pct(mspan)} vs over "
                              f"windows {_pct(span)}", "yes" if mspan > span else "no",
                              "compares the range of wrong-rates across exp. 2's magnitudes and exp. 3's windows"))
    return out


def claims_exp4(e4: pd.DataFrame, summary: dict) -> list[dict]:
    """Table 9's claim: a few pixel changes return a considerable share of FGSM examples."""
    if e4.empty:
        return [_claim("B-fgsm-restore", "Table 9", "pixel changes undo many FGSM examples", "considerable share",
                       "no FGSM example fooled the model", "not testable here", f"ε = {summary['eps']}")]
    t = e4.sort_values("n_pixels")
    best = float(t["restored_rate"].max())
    return [_claim("B-fgsm-restore", "Table 9", "changing a few pixels of FGSM examples returns a considerable share "
                   "to the correct class", "considerable share",
                   ", ".join(f"{int(r.n_pixels)} px: {_pct(r.restored_rate)}" for r in t.itertuples()) +
                   f" of {int(t['images'].iloc[0])} FGSM examples (ε = {summary['eps']:g}/255)",
                   "yes" if best >= 0.2 else ("partly" if best >= 0.05 else "no"),
                   "'considerable' read as ≥ 20 % restored at some pixel count (≥ 5 %: partly)")]


def claims_augmentation(res: dict) -> list[dict]:
    """Tables 10–11 / §6.2 claims from :func:`augmentation`."""
    e, f = res["exp1"], res["fgsm"]
    base = e[e["model"] == "base"].set_index("n_pixels")["wrong_rate"]
    out = []
    diffs, cleans = [], []
    for m in e["model"].unique():
        if m == "base":
            continue
        t = e[e["model"] == m].set_index("n_pixels")["wrong_rate"]
        d = (base - t).drop(0, errors="ignore")
        diffs.append((m, d))
        cleans.append((m, float(t.get(0, np.nan)), float(base.get(0, np.nan))))
    n = int(e["images"].iloc[0])
    better = [m for m, d in diffs if (d > 1.0 / n).all()]
    out.append(_claim("B-aug-random", "Table 10", "fine-tuning on few-pixel-changed images lowers the wrong-rate "
                      "under random pixel changes", "higher accuracy",
                      "; ".join(f"{m}: " + ", ".join(f"{int(p)} px {_pct(base[p])} → {_pct(base[p] - v)}"
                                                    for p, v in d.items()) for m, d in diffs),
                      "yes" if better and len(better) == len(diffs) else ("partly" if better else "no"),
                      f"{res['train_images']} training images; held-out {n} images"))
    out.append(_claim("B-aug-clean", "§6.2", "the augmentation does not change the clean accuracy", "unchanged",
                      "; ".join(f"{m}: {_pct(1 - c)} (base {_pct(1 - b)})" for m, c, b in cleans),
                      "yes" if all(abs(c - b) <= 2.0 / n for _, c, b in cleans) else "no",
                      "clean wrong-rate on held-out images the base model classifies correctly"))
    if len(f):
        fb = f.set_index("model")["still_fooling_rate"]
        k4 = next((m for m in fb.index if m == "k=4"), fb.index[-1])
        ok = fb[k4] < fb["base"]
        out.append(_claim("B-aug-fgsm", "Table 11", "after the augmentation (ResNet101-4) only 24.9 % of FGSM "
                          "examples keep their attack ability", "24.9 %",
                          f"{k4}: {_pct(fb[k4])} still fool (base: {_pct(fb['base'])}) of "
                          f"{int(f['fgsm_examples'].iloc[0])} FGSM examples", "partly" if ok else "no",
                          "examples made on the base model, transferred to the fine-tuned one; MobileNetV2, not ResNet-101"))
    return out


def claims_pixel_index(pi_row: pd.DataFrame, example: float) -> list[dict]:
    """§5 worked example and Table 5."""
    return [_claim("B-pi-example", "§5, eq. 12", "worked example gives Pi = 98.30", "98.30",
                   f"{example:.2f} (with the paper's rounding of p and a)",
                   "yes" if abs(example - 98.30) < 0.005 else "no",
                   "the exact formula gives 98.34: the paper rounded p to 0.1276 % and a to 79.72 %"),
            _claim("B-pi-ranking", "Table 5", "a smaller Pi goes with better robustness and higher accuracy",
                   "qualitative", f"MobileNetV2: Pi = {float(pi_row['Pi'].iloc[0]):.1f} at "
                   f"{int(pi_row['n_pixels'].iloc[0])} px", "not testable here",
                   "needs several models with real weights; only MobileNetV2 has them here")]
