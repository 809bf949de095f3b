"""ImageNet-style images (paper B): ``wnids.txt``, finding and loading ``<split>/<wnid>/*`` folders or
tars, and the standard Resize(256) / CenterCrop(224).

Labels come from a ``wnids.txt`` (line *i* = ImageNet class *i*, torchvision's order) when one is
found, else from the sorted folder names.
"""
from __future__ import annotations

import hashlib
import os
import warnings
from pathlib import Path

import numpy as np

from robustlab.core.errors import DataError
from robustlab.core.paths import DATA_ENV, cache_root, data_root
from robustlab.core.progress import tqdm
from robustlab.data.common import (
    CACHE_VERSION,
    ImageSet,
    _cache_load,
    _cache_save,
    _decode,
    _is_image,
    _source_fingerprint,
    _walk_folder,
    _walk_tar,
)

__all__ = ["read_wnids", "find_imagenet", "center_crop_224", "load_imagenet"]


def read_wnids(path: str | os.PathLike) -> tuple[list[str], list[str]]:
    """Read a ``wnids.txt``: line *i* is ``<wnid> [name]`` of class *i*. Returns (wnids, names)."""
    wnids, names = [], []
    for line in Path(path).read_text().splitlines():
        if line.strip():
            parts = line.split(None, 1)
            wnids.append(parts[0])
            names.append(parts[1].strip() if len(parts) > 1 else parts[0])
    if len(set(wnids)) != len(wnids):
        raise DataError(f"{path} lists a wnid twice")
    return wnids, names


def find_imagenet(split: str, root: str | os.PathLike | None = None) -> tuple[Path, Path | None]:
    """Locate ``<split>/<wnid>/*`` (folder or a tar whose name contains ``split``) and a wnids.txt."""
    base = data_root(root)
    looked = [base, base / "imagenet"]
    wnids = next((d / "wnids.txt" for d in looked if (d / "wnids.txt").is_file()), None)
    for d in looked:
        if d.is_file() and d.name.endswith((".tar", ".tar.gz", ".tgz")):
            return d, wnids
        if not d.is_dir():
            continue
        if (d / split).is_dir():
            return d / split, wnids
        tars = sorted(p for p in d.iterdir() if p.is_file() and split in p.name
                      and p.name.endswith((".tar", ".tar.gz", ".tgz")))
        if tars:
            return tars[0], wnids
    raise DataError(
        f"ImageNet split '{split}' not found. Looked in: {', '.join(map(str, looked))}. Accepted: a folder "
        f"'{split}/<wnid>/*.JPEG', or a .tar/.tar.gz whose name contains '{split}' holding that layout "
        f"(e.g. imagenette-val.tar.gz), with an optional wnids.txt beside it. Set the folder with the "
        f"root/data_dir argument or {DATA_ENV}.")


def center_crop_224(img, resize: int = 256, crop: int = 224) -> np.ndarray:
    """torchvision's Resize(resize) + CenterCrop(crop) on a PIL image; returns uint8 HWC."""
    import torchvision.transforms.functional as TF
    from torchvision.transforms import InterpolationMode

    img = TF.resize(img, resize, interpolation=InterpolationMode.BILINEAR, antialias=True)
    img = TF.center_crop(img, [crop, crop])
    return np.asarray(img, dtype=np.uint8)


def load_imagenet(split: str = "val", root: str | os.PathLike | None = None, *,
                  wnids: str | os.PathLike | None = None, per_class: int | None = None,
                  resize: int = 256, crop: int = 224, cache_dir: str | os.PathLike | None = None,
                  progress: bool = True) -> ImageSet:
    """Load ImageNet-style images ``<split>/<wnid>/*`` as Resize(256)/CenterCrop(224) crops.

    Args:
        split: folder name inside the source (``val``, ``train``, ``sample`` for the shared tars).
        root: data folder, the split folder's parent, or a tar (default ``$ROBUSTLAB_DATA``;
            ``<root>/imagenet`` is searched too).
        wnids: a ``wnids.txt`` giving ImageNet-1k class indices (found beside the data if None);
            without one, labels are the sorted folder names' ranks.
        per_class: keep only the first ``per_class`` images (sorted by name) of each class.

    Returns:
        :class:`ImageSet`: ``images`` ``uint8 (N, crop, crop, 3)``; ``labels`` the class indices;
        ``classes`` the wnids (1,000 of them when a wnids.txt is used).
    """
    src, found_wnids = find_imagenet(split, root)
    wnids_path = Path(wnids) if wnids is not None else found_wnids
    cache = cache_root(cache_dir)
    key = hashlib.sha256(f"{_source_fingerprint(src)}|{wnids_path and _source_fingerprint(wnids_path)}|"
                         f"{split}|{per_class}|{resize}|{crop}".encode()).hexdigest()[:16]
    stem = f"imagenet-{split}-{key}-v{CACHE_VERSION}"
    hit = _cache_load(cache, stem)
    if hit is not None:
        return hit
    entries = _walk_folder(src) if src.is_dir() else _walk_tar(src)
    by_class: dict[str, list[tuple[str, bytes]]] = {}
    for name, data in entries:
        parts = name.split("/")
        if src.is_dir():
            parts = [split] + parts
        if len(parts) >= 3 and parts[-3] == split and _is_image(parts[-1]):
            by_class.setdefault(parts[-2], []).append((name, data))
    if not by_class:
        raise DataError(f"{src} holds no images under '{split}/<wnid>/'.")
    if wnids_path is not None:
        classes, _ = read_wnids(wnids_path)
        index = {w: i for i, w in enumerate(classes)}
        unknown = sorted(set(by_class) - set(index))
        if unknown:
            raise DataError(f"{src}: class folders {unknown[:5]} are not in {wnids_path}")
    else:
        classes = sorted(by_class)
        index = {w: i for i, w in enumerate(classes)}
        warnings.warn(f"no wnids.txt found: labels are ranks of the {len(classes)} sorted folder names, "
                      f"not ImageNet-1k indices", stacklevel=2)
    selected = []
    for w in sorted(by_class):
        items = sorted(by_class[w])
        selected += [(w, n, d) for n, d in (items[:per_class] if per_class else items)]

    imgs = np.empty((len(selected), crop, crop, 3), dtype=np.uint8)
    labels = np.empty(len(selected), dtype=np.int64)
    names = []
    for i, (w, n, d) in enumerate(tqdm(selected, desc=f"decode {split}", disable=not progress)):
        imgs[i] = center_crop_224(_decode(d, f"{src}:{n}"), resize, crop)
        labels[i] = index[w]
        names.append(n)
    return _cache_save(cache, stem, ImageSet(imgs, labels, list(classes), str(src), names))
