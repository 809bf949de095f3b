"""CIFAR-10 (paper A): find it and load it as 8-bit images.

CIFAR-10 is read from, in this order of preference,

a. an official ``cifar-10-batches-py`` folder (the pickle batches),
b. an image-folder layout ``train/<class>/*`` and ``test/<class>/*`` (PNG or JPEG; the sorted
   class folder names give the label order),
c. a ``.tar``/``.tar.gz`` holding either of the two (e.g. ``cifar10-jpeg.tar.gz``),
d. torchvision's download (``download=True``; needs internet).

Everything returns an :class:`~robustlab.data.common.ImageSet` of ``uint8`` NHWC RGB images with
int64 labels, decoded once and cached.
"""
from __future__ import annotations

import os
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

__all__ = ["CIFAR10_CLASSES", "find_cifar10", "load_cifar10"]

CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


def _cifar_missing(looked: list[Path]) -> DataError:
    where = ", ".join(str(p) for p in looked)
    return DataError(
        f"CIFAR-10 not found. Looked in: {where}. Accepted sources: an official 'cifar-10-batches-py' "
        f"folder, an image folder with train/<class>/ and test/<class>/, a .tar/.tar.gz of either "
        f"(e.g. cifar10-jpeg.tar.gz), or download=True (needs internet). Set the data folder with the "
        f"root/data_dir argument or the {DATA_ENV} environment variable (e.g. {DATA_ENV}=../shared/data)."
    )


def find_cifar10(root: str | os.PathLike | None = None) -> Path:
    """Locate a CIFAR-10 source under ``root`` (see module docstring); DataError if none."""
    base = data_root(root)
    looked = [base, base / "cifar10"]
    for d in looked:
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
    raise _cifar_missing(looked)


def _unpickle(data: bytes, where: str) -> dict:
    import pickle

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
                 cache_dir: str | os.PathLike | None = None, download: bool = False,
                 progress: bool = True) -> ImageSet:
    """Load a CIFAR-10 split as 8-bit images.

    Args:
        root: a data folder, a ``cifar-10-batches-py`` folder, an image folder or a tar
            (default: ``$ROBUSTLAB_DATA`` or ``./data``; ``<root>/cifar10`` is searched too).
        split: ``"train"`` (50,000 images) or ``"test"`` (10,000).
        cache_dir: where the decoded arrays are cached (default :func:`robustlab.core.paths.cache_root`).
        download: when no local source exists, fetch with torchvision into ``root`` (internet).

    Returns:
        :class:`ImageSet` with ``images`` ``uint8 (N, 32, 32, 3)``, ``labels`` ``int64 (N,)``
        and the 10 ``classes`` (airplane … truck).
    """
    if split not in ("train", "test"):

        raise ParameterError(f"split={split!r}: must be 'train' or 'test'")
    try:
        src = find_cifar10(root)
    except DataError:
        if not download:
            raise
        src = _torchvision_download(data_root(root))
    cache = cache_root(cache_dir)
    stem = f"cifar10-{_source_fingerprint(src)}-v{CACHE_VERSION}"
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


def _torchvision_download(root: Path) -> Path:
    """Download CIFAR-10 with torchvision (internet needed) and return its batches folder."""
    import torchvision

    root.mkdir(parents=True, exist_ok=True)
    try:
        torchvision.datasets.CIFAR10(str(root), train=True, download=True)
    except Exception as e:  # noqa: BLE001 - offline machines end up here
        raise DataError(f"downloading CIFAR-10 into {root} failed ({e}). Without internet, point "
                        f"{DATA_ENV} to a folder or tar that holds CIFAR-10.") from None
    return root / "cifar-10-batches-py"
