"""CIFAR-10 (paper A): find it and load it as 8-bit images.

CIFAR-10 is read from, in this order of preference,

a. an official ``cifar-10-batches-py`` folder (the pickle batches),
b. an image-folder layout ``train/<class>/*`` and ``test/<class>/*`` (PNG or JPEG; the sorted
   class folder names give the label order),
c. a ``.tar``/``.tar.gz`` holding either of the two (e.g. ``cifar10-jpeg.tar.gz``),
d. else the public download (torchvision's URL and md5, see :mod:`robustlab.data.download`) into
   ``<data>/cifar-10-batches-py``, unless ``download=False`` or ``ROBUSTLAB_OFFLINE=1``.

Everything returns an :class:`~robustlab.data.common.ImageSet` of ``uint8`` NHWC RGB images with
int64 labels, decoded once and cached.
"""
from __future__ import annotations

import os
import pickle
import time
from pathlib import Path

import numpy as np

from robustlab.core.errors import DataError, ParameterError
from robustlab.core.paths import DATA_ENV, cache_root, data_root
from robustlab.data.common import (
    CACHE_VERSION,
    ImageSet,
    _cache_load,
    _cache_save,
    _image_folder_splits,
    _source_fingerprint,
    _walk_folder,
    _walk_tar,
)
from robustlab.data.download import fetch, source_info

__all__ = ["CIFAR10_CLASSES", "find_cifar10", "load_cifar10"]

CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


def _cifar_missing(looked: list[Path], tried: str) -> DataError:
    where = ", ".join(str(p) for p in looked)
    return DataError(
        f"CIFAR-10 not found. Looked in: {where}. Accepted sources: an official 'cifar-10-batches-py' "
        f"folder, an image folder with train/<class>/ and test/<class>/, or a .tar/.tar.gz of either "
        f"(e.g. cifar-10-python.tar.gz, cifar10-jpeg.tar.gz). Download: {tried}. To use a local copy, put "
        f"it in {looked[0]} or point the book at its folder: the root/data_dir argument or the {DATA_ENV} "
        f"environment variable (e.g. {DATA_ENV}=/path/to/data make book)."
    )


def _find_local(base: Path) -> Path | None:
    for d in (base, base / "cifar10"):
        if d.is_file() and d.name.endswith((".tar", ".tar.gz", ".tgz")):
            return d
        if not d.is_dir():
            continue
        if (d / "data_batch_1").exists():
            return d
        if (d / "cifar-10-batches-py" / "data_batch_1").exists():
            return d / "cifar-10-batches-py"
        if (d / "train").is_dir() and (d / "test").is_dir():
            return d
        tars = sorted(p for p in d.iterdir() if p.is_file() and "cifar" in p.name.lower()
                      and p.name.endswith((".tar", ".tar.gz", ".tgz")))
        if tars:
            return tars[0]
    return None


def find_cifar10(root: str | os.PathLike | None = None, download: bool | None = None) -> Path:
    """Locate a CIFAR-10 source under ``root`` (see module docstring), downloading it into ``root``
    when there is none and ``download`` is not False (None: unless ``ROBUSTLAB_OFFLINE=1``).

    Raises DataError naming the folders searched, the download tried and how to give a local copy."""
    base = data_root(root)
    found = _find_local(base)
    if found is not None:
        return found
    looked = [base, base / "cifar10"]
    if download is False:
        raise _cifar_missing(looked, "not tried (download=False)")
    try:
        return fetch("cifar10", base)
    except DataError as e:
        raise _cifar_missing(looked, str(e)) from None


def _unpickle(data: bytes, where: str) -> dict:
    try:
        d = pickle.loads(data, encoding="bytes")
    except Exception as e:  # noqa: BLE001
        raise DataError(f"cannot read CIFAR-10 batch {where}: {e}") from None
    return {k.decode() if isinstance(k, bytes) else k: v for k, v in d.items()}


def _cifar_from_batches(files: dict[str, bytes], where: str) -> dict[str, ImageSet]:
    """Build both splits from the official pickle files {basename: bytes}."""
    meta = files.get("batches.meta")
    classes = list(CIFAR10_CLASSES)
    if meta is not None:
        names = _unpickle(meta, f"{where}/batches.meta").get("label_names")
        if names:
            classes = [n.decode() if isinstance(n, bytes) else n for n in names]
    out = {}
    for split, names in (("train", [f"data_batch_{i}" for i in range(1, 6)]), ("test", ["test_batch"])):
        xs, ys = [], []
        for n in names:
            if n not in files:
                raise DataError(f"CIFAR-10 batch file {where}/{n} is missing; the folder is incomplete.")
            d = _unpickle(files[n], f"{where}/{n}")
            x = np.asarray(d["data"], dtype=np.uint8)
            if x.ndim != 2 or x.shape[1] != 3072:
                raise DataError(f"CIFAR-10 batch {where}/{n} has data of shape {x.shape}, expected (N, 3072)")
            xs.append(x.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
            ys.append(np.asarray(d["labels"], dtype=np.int64))
        out[split] = ImageSet(np.ascontiguousarray(np.concatenate(xs)), np.concatenate(ys), classes, where)
    return out


def _decode_cifar_source(src: Path) -> dict[str, ImageSet]:
    where = str(src)
    if src.is_dir() and (src / "data_batch_1").exists():
        files = {p.name: p.read_bytes() for p in src.iterdir() if p.is_file()}
        return _cifar_from_batches(files, where)
    if src.is_dir():
        return _image_folder_splits(_walk_folder(src), where, ("train", "test"), (32, 32))
    # a tar: official batches or an image folder
    entries = list(_walk_tar(src))
    batch_files = {n.rsplit("/", 1)[-1]: d for n, d in entries if "cifar-10-batches-py/" in n or
                   n.rsplit("/", 1)[-1].startswith(("data_batch_", "test_batch", "batches.meta"))}
    if "data_batch_1" in batch_files:
        return _cifar_from_batches(batch_files, where)
    if not entries:
        raise DataError(f"archive {src} is empty.")
    return _image_folder_splits(iter(entries), where, ("train", "test"), (32, 32))


def load_cifar10(root: str | os.PathLike | None = None, split: str = "train", *,
                 cache_dir: str | os.PathLike | None = None, download: bool | None = None,
                 progress: bool = True) -> ImageSet:
    """Load a CIFAR-10 split as 8-bit images.

    Args:
        root: a data folder, a ``cifar-10-batches-py`` folder, an image folder or a tar
            (default: ``$ROBUSTLAB_DATA`` or ``./data``; ``<root>/cifar10`` is searched too).
        split: ``"train"`` (50,000 images) or ``"test"`` (10,000).
        cache_dir: where the decoded arrays are cached (default :func:`robustlab.core.paths.cache_root`).
        download: when no local source exists, download torchvision's archive into ``root``
            (None, the default: unless ``ROBUSTLAB_OFFLINE=1``; False: never).

    Returns:
        :class:`ImageSet` with ``images`` ``uint8 (N, 32, 32, 3)``, ``labels`` ``int64 (N,)``
        and the 10 ``classes`` (airplane … truck).
    """
    if split not in ("train", "test"):

        raise ParameterError(f"split={split!r}: must be 'train' or 'test'")
    src = find_cifar10(root, download)
    cache = cache_root(cache_dir)
    info = source_info(src)  # a download: keyed by its archive's checksum
    stem = f"cifar10-{'md5' + info['md5'] if info else _source_fingerprint(src)}-v{CACHE_VERSION}"
    hit = _cache_load(cache, f"{stem}-{split}")
    if hit is not None:
        return hit
    t0 = time.time()
    if progress:
        print(f"Decoding CIFAR-10 from {src} (once; cached in {cache}) ...", flush=True)
    splits = _decode_cifar_source(src)
    for s, v in splits.items():
        if len(v.classes) != 10:
            raise DataError(f"{src}: found {len(v.classes)} classes {v.classes}, CIFAR-10 has 10.")
        v.source = str(src)
        splits[s] = _cache_save(cache, f"{stem}-{s}", v)
    if progress:
        print(f"Decoded {sum(len(v) for v in splits.values())} images in {time.time() - t0:.1f} s", flush=True)
    return splits[split]
