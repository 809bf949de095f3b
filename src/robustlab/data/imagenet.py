"""ImageNet-style images (paper B): ``wnids.txt``, finding and loading ``<split>/<wnid>/*`` folders or
tars, and the standard Resize(256) / CenterCrop(224).

A split is read from, in this order: the data folder's ``<split>/<wnid>/*`` folder or a tar whose name
contains the split (e.g. ``imagenette-val.tar.gz``), torchvision's Imagenette layout
``imagenette2-320/<split>/<wnid>/*`` (or ``imagenette2/``), else, for ``val`` and ``train``, the public
Imagenette download (:mod:`robustlab.data.download`) into ``<data>/imagenette2-320``.

Labels come from a ``wnids.txt`` (line *i* = ImageNet class *i*, torchvision's order) beside the data
when there is one, else from the package's own copy of the 1,000 ImageNet-1k wnids
(:func:`imagenet_wnids_path`) when every class folder is an ImageNet-1k wnid, else from the sorted
folder names.
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
from robustlab.data.download import fetch, source_info

__all__ = ["source_key", "read_wnids", "imagenet_wnids_path", "find_wnids", "find_imagenet", "image_sources",
           "center_crop_224", "load_imagenet", "DOWNLOADABLE_SPLITS"]

#: the splits the public Imagenette download provides.
DOWNLOADABLE_SPLITS = ("val", "train")
#: torchvision's Imagenette folders (``Imagenette(root, size=...)``) that hold ImageNet-size images.
_TORCHVISION_FOLDERS = ("imagenette2-320", "imagenette2")


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


def imagenet_wnids_path() -> Path:
    """The package's ``wnids.txt``: the 1,000 ImageNet-1k WordNet ids in torchvision's class order
    (line *i* = class *i*, with a short name), so that no data folder needs to supply one."""
    return Path(__file__).with_name("imagenet_wnids.txt")


def find_wnids(root: str | os.PathLike | None = None) -> Path:
    """The ``wnids.txt`` beside the data (``<root>`` or ``<root>/imagenet``), else the package's own."""
    base = data_root(root)
    return next((d / "wnids.txt" for d in (base, base / "imagenet") if (d / "wnids.txt").is_file()),
                imagenet_wnids_path())


def _find_local(split: str, looked: list[Path]) -> Path | None:
    for d in looked:
        if d.is_file() and d.name.endswith((".tar", ".tar.gz", ".tgz")):
            return d
        if not d.is_dir():
            continue
        if (d / split).is_dir():
            return d / split
        tars = sorted(p for p in d.iterdir() if p.is_file() and split in p.name
                      and p.name.endswith((".tar", ".tar.gz", ".tgz")))
        if tars:
            return tars[0]
    for d in looked:
        for folder in _TORCHVISION_FOLDERS:
            if d.is_dir() and (d / folder / split).is_dir():
                return d / folder / split
    return None


def find_imagenet(split: str, root: str | os.PathLike | None = None, download: bool | None = None
                  ) -> tuple[Path, Path | None]:
    """Locate ``<split>/<wnid>/*`` (see the module docstring) and a ``wnids.txt`` beside the data (None
    if there is none). When the data folder has no such split and ``split`` is ``val`` or ``train``,
    Imagenette is downloaded into it, unless ``download`` is False (None: unless ``ROBUSTLAB_OFFLINE=1``).

    Raises DataError naming the folders searched, the download tried and how to give a local copy."""
    base = data_root(root)
    looked = [base, base / "imagenet"]
    wnids = next((d / "wnids.txt" for d in looked if (d / "wnids.txt").is_file()), None)
    found = _find_local(split, looked)
    if found is not None:
        return found, wnids
    if split not in DOWNLOADABLE_SPLITS:
        tried = f"none: no public source has a '{split}' split (Imagenette's are {list(DOWNLOADABLE_SPLITS)})"
    elif download is False:
        tried = "not tried (download=False)"
    else:
        try:
            return fetch("imagenette", base) / split, wnids
        except DataError as e:
            tried = str(e)
    raise DataError(
        f"ImageNet split '{split}' not found. Looked in: {', '.join(map(str, looked))}. Accepted: a folder "
        f"'{split}/<wnid>/*.JPEG', a .tar/.tar.gz whose name contains '{split}' holding that layout "
        f"(e.g. imagenette-val.tar.gz), or torchvision's imagenette2-320/{split}/<wnid>/, with an optional "
        f"wnids.txt beside it. Download: {tried}. To use a local copy, put it in {base} or point the book at "
        f"its folder: the root/data_dir argument or the {DATA_ENV} environment variable "
        f"(e.g. {DATA_ENV}=/path/to/data make book).")


def image_sources(root: str | os.PathLike | None = None, splits=("sample", "val", "train")) -> list[Path]:
    """For provenance: the sources of ``splits`` that the data folder holds now (a downloaded Imagenette
    once, by its folder; nothing is downloaded) and the ``wnids.txt`` that labels them."""
    base = data_root(root)
    out: list[Path] = []
    for split in splits:
        p = _find_local(split, [base, base / "imagenet"])
        if p is not None and source_info(p) is not None and source_info(p.parent) is not None:
            p = p.parent  # imagenette2-320/<split> of a download: the download, named once
        if p is not None and p not in out:
            out.append(p)
    return out + [find_wnids(root)]


def source_key(root: str | os.PathLike | None = None, splits=("sample", "val", "train")) -> dict:
    """What a cache key must hold about the images of ``splits`` so that results computed on one copy
    of them are never read for another: ``{}`` for local sources (the keys results always had), else
    ``{"image_sources": {split: "md5…"}}`` for the splits that come from a public download (torchvision's
    320-px Imagenette differs pixel for pixel from the shared 224-px copy). Downloads nothing."""
    base = data_root(root)
    out = {}
    for split in splits:
        p = _find_local(split, [base, base / "imagenet"])
        info = source_info(p) if p is not None else None
        if info:
            out[split] = f"md5{info['md5']}"
    return {"image_sources": out} if out else {}


def _identity(path: Path) -> str:
    """The cache-key identity of a source: a download's checksum, else path, size and mtime."""
    info = source_info(path)
    return f"md5{info['md5']}" if info else _source_fingerprint(path)


def center_crop_224(img, resize: int = 256, crop: int = 224) -> np.ndarray:
    """torchvision's Resize(resize) + CenterCrop(crop) on a PIL image; returns uint8 HWC."""
    import torchvision.transforms.functional as TF  # deferred: torchvision is slow to import
    from torchvision.transforms import InterpolationMode  # deferred: torchvision is slow to import

    img = TF.resize(img, resize, interpolation=InterpolationMode.BILINEAR, antialias=True)
    img = TF.center_crop(img, [crop, crop])
    return np.asarray(img, dtype=np.uint8)


def load_imagenet(split: str = "val", root: str | os.PathLike | None = None, *,
                  wnids: str | os.PathLike | None = None, per_class: int | None = None,
                  resize: int = 256, crop: int = 224, cache_dir: str | os.PathLike | None = None,
                  progress: bool = True, download: bool | None = None) -> ImageSet:
    """Load ImageNet-style images ``<split>/<wnid>/*`` as Resize(256)/CenterCrop(224) crops.

    Args:
        split: folder name inside the source (``val``, ``train``, ``sample`` for the shared tars).
        root: data folder, the split folder's parent, or a tar (default ``$ROBUSTLAB_DATA``;
            ``<root>/imagenet`` is searched too).
        wnids: a ``wnids.txt`` giving ImageNet-1k class indices (None: the one beside the data, else the
            package's when every class folder is an ImageNet-1k wnid, else the sorted folder names' ranks).
        per_class: keep only the first ``per_class`` images (sorted by name) of each class.
        download: ``val``/``train`` missing from the data folder: download Imagenette into it (None, the
            default: unless ``ROBUSTLAB_OFFLINE=1``; False: never).

    Returns:
        :class:`ImageSet`: ``images`` ``uint8 (N, crop, crop, 3)``; ``labels`` the class indices;
        ``classes`` the wnids (1,000 of them when a wnids.txt is used).
    """
    src, found_wnids = find_imagenet(split, root, download)
    wnids_path = Path(wnids) if wnids is not None else found_wnids
    cache = cache_root(cache_dir)
    wnids_id = (wnids_path and _source_fingerprint(wnids_path)) or \
        "pkg" + hashlib.sha256(imagenet_wnids_path().read_bytes()).hexdigest()[:16]
    key = hashlib.sha256(f"{_identity(src)}|{wnids_id}|{split}|{per_class}|{resize}|{crop}".encode()
                         ).hexdigest()[:16]
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
    packaged = read_wnids(imagenet_wnids_path())[0]
    if wnids_path is not None:
        classes, _ = read_wnids(wnids_path)
        index = {w: i for i, w in enumerate(classes)}
        unknown = sorted(set(by_class) - set(index))
        if unknown:
            raise DataError(f"{src}: class folders {unknown[:5]} are not in {wnids_path}")
    elif set(by_class) <= set(packaged):
        classes = packaged
        index = {w: i for i, w in enumerate(classes)}
    else:
        classes = sorted(by_class)
        index = {w: i for i, w in enumerate(classes)}
        warnings.warn(f"no wnids.txt found and the class folders are not ImageNet-1k wnids: labels are ranks "
                      f"of the {len(classes)} sorted folder names, not ImageNet-1k indices", stacklevel=2)
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
