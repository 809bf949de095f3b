"""Real data sources: CIFAR-10 (paper A) and ImageNet-style image folders (paper B).

Everything returns an :class:`ImageSet` of 8-bit RGB images in NHWC layout
(``uint8``, values 0-255) with int64 labels. Decoding happens once: the arrays are written
to one ``.npy`` cache file per split (see :func:`robustlab.core.paths.cache_root`) and
memory-mapped on every later load.

CIFAR-10 is read from, in this order of preference,

a. an official ``cifar-10-batches-py`` folder (the pickle batches),
b. an image-folder layout ``train/<class>/*`` and ``test/<class>/*`` (PNG or JPEG; the sorted
   class folder names give the label order),
c. a ``.tar``/``.tar.gz`` holding either of the two (e.g. ``cifar10-jpeg.tar.gz``),
d. torchvision's download (``download=True``; needs internet).

ImageNet-style data is ``<split>/<wnid>/*.JPEG`` as a folder or inside a tar; labels come from
a ``wnids.txt`` (line *i* = ImageNet class *i*, torchvision's order) when one is found, else from
the sorted folder names. Images go through the standard Resize(256) / CenterCrop(224).
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from robustlab.core.errors import DataError, EmptySelectionError
from robustlab.core.paths import DATA_ENV, cache_root, data_root

IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".bmp", ".ppm", ".webp")
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
CACHE_VERSION = 1

#: ImageNet statistics used by every torchvision classifier (on the [0, 1] scale).
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass
class ImageSet:
    """Images with labels.

    Attributes:
        images: ``uint8`` array ``(N, H, W, 3)``, RGB, 0-255 (may be memory-mapped, read-only).
        labels: ``int64`` array ``(N,)``.
        classes: class names; ``labels`` index into it.
        source: where the data was read from (path or URL).
        names: per-image file names inside the source (optional).
    """

    images: np.ndarray
    labels: np.ndarray
    classes: list[str]
    source: str = ""
    names: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, index: Iterable[int] | np.ndarray) -> "ImageSet":
        """A new ImageSet with the rows ``index`` (loaded into memory)."""
        idx = np.asarray(list(index) if not isinstance(index, np.ndarray) else index, dtype=np.int64)
        return ImageSet(np.ascontiguousarray(self.images[idx]), self.labels[idx].copy(), list(self.classes),
                        self.source, [self.names[i] for i in idx] if self.names else [])


def balanced_indices(labels: np.ndarray, n: int | None, seed: int = 0) -> np.ndarray:
    """A seeded, class-balanced draw of ``n`` indices (all indices when ``n`` is None or ≥ len).

    Classes get ``n // C`` each, the first ``n % C`` classes (in a seeded order) one more.
    The result is sorted, so it does not depend on the order in which classes are visited.
    """
    labels = np.asarray(labels)
    if n is None or n >= len(labels):
        return np.arange(len(labels))
    if n < 1:
        raise EmptySelectionError(f"asked for {n} images: the selection would be empty")
    rng = np.random.default_rng(seed)
    classes = np.unique(labels)
    per, extra = divmod(n, len(classes))
    order = rng.permutation(len(classes))
    out = []
    for rank, ci in enumerate(order):
        pool = np.flatnonzero(labels == classes[ci])
        k = min(len(pool), per + (1 if rank < extra else 0))
        out.append(rng.choice(pool, size=k, replace=False))
    return np.sort(np.concatenate(out))


# --------------------------------------------------------------------------------------
# cache
# --------------------------------------------------------------------------------------
def _source_fingerprint(path: Path) -> str:
    """Cheap identity of a file or folder: path, size and mtime (of the folder's files)."""
    path = path.resolve()
    h = hashlib.sha256(str(path).encode())
    if path.is_file():
        st = path.stat()
        h.update(f"{st.st_size}:{st.st_mtime_ns}".encode())
    else:
        for p in sorted(path.rglob("*")):
            if p.is_file():
                st = p.stat()
                h.update(f"{p.relative_to(path)}:{st.st_size}:{st.st_mtime_ns}".encode())
    return h.hexdigest()[:16]


def file_md5(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """MD5 of a file (for provenance; the shared data README lists these)."""
    h = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def _cache_paths(cache: Path, stem: str) -> tuple[Path, Path, Path]:
    return cache / f"{stem}.images.npy", cache / f"{stem}.labels.npy", cache / f"{stem}.json"


def _cache_load(cache: Path, stem: str) -> ImageSet | None:
    ip, lp, mp = _cache_paths(cache, stem)
    if not (ip.exists() and lp.exists() and mp.exists()):
        return None
    try:
        meta = json.loads(mp.read_text())
        images = np.load(ip, mmap_mode="r")
        labels = np.load(lp)
        if images.shape[0] != labels.shape[0] or images.shape[0] != meta["n"] or images.dtype != np.uint8:
            raise ValueError("shape mismatch")
    except Exception as e:  # noqa: BLE001 - a damaged cache is rebuilt, never used
        warnings.warn(f"decoded-image cache {ip} is unusable ({e}); decoding again", stacklevel=3)
        return None
    return ImageSet(images, labels, meta["classes"], meta["source"], meta.get("names", []))


def _cache_save(cache: Path, stem: str, s: ImageSet) -> ImageSet:
    ip, lp, mp = _cache_paths(cache, stem)
    cache.mkdir(parents=True, exist_ok=True)
    for path, arr in ((ip, s.images), (lp, s.labels)):
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        with open(tmp, "wb") as f:
            np.save(f, arr)
        os.replace(tmp, path)
    tmp = mp.with_name(f".{mp.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps({"n": len(s.labels), "classes": list(s.classes), "source": s.source,
                               "names": list(s.names), "version": CACHE_VERSION}))
    os.replace(tmp, mp)  # the metadata goes last: it marks the cache complete
    return _cache_load(cache, stem) or s


# --------------------------------------------------------------------------------------
# decoding helpers
# --------------------------------------------------------------------------------------
def _decode(data: bytes, where: str, size: tuple[int, int] | None = None):
    """Decode image bytes to an RGB PIL image; DataError naming ``where`` when it fails."""
    from PIL import Image, UnidentifiedImageError

    try:
        img = Image.open(io.BytesIO(data))
        img.load()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
        raise DataError(f"cannot decode image {where}: {e}. Replace or delete this file.") from None
    if img.mode != "RGB":
        img = img.convert("RGB")
    if size is not None and img.size != size:
        raise DataError(f"image {where} is {img.size[0]}x{img.size[1]} pixels, expected {size[0]}x{size[1]}.")
    return img


def _walk_tar(path: Path) -> Iterator[tuple[str, bytes]]:
    """Yield (member name, bytes) of the regular files in a tar; DataError if it is damaged."""
    try:
        with tarfile.open(path, "r:*") as tf:
            for m in tf:
                if m.isfile():
                    f = tf.extractfile(m)
                    yield m.name.lstrip("./"), f.read() if f else b""
    except (tarfile.TarError, EOFError, OSError, ValueError) as e:
        raise DataError(f"archive {path} is damaged or ends early ({type(e).__name__}: {e}). "
                        f"Download it again or point to an unpacked copy.") from None


def _walk_folder(path: Path) -> Iterator[tuple[str, bytes]]:
    for p in sorted(path.rglob("*")):
        if p.is_file():
            try:
                yield str(p.relative_to(path)).replace(os.sep, "/"), p.read_bytes()
            except OSError as e:
                raise DataError(f"cannot read {p}: {e}") from None


def _is_image(name: str) -> bool:
    return name.lower().endswith(IMAGE_EXTS)


# --------------------------------------------------------------------------------------
# CIFAR-10
# --------------------------------------------------------------------------------------
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


def _image_folder_splits(entries: Iterable[tuple[str, bytes]], where: str, splits: tuple[str, ...],
                         size: tuple[int, int] | None) -> dict[str, ImageSet]:
    """Decode ``<prefix>/<split>/<class>/<file>`` entries into one ImageSet per split."""
    found: dict[str, dict[str, list[tuple[str, bytes]]]] = {s: {} for s in splits}
    skipped = 0
    for name, data in entries:
        parts = name.split("/")
        for i, p in enumerate(parts[:-2]):
            if p in splits and len(parts) - i == 3:
                if _is_image(parts[-1]):
                    found[p].setdefault(parts[-2], []).append((name, data))
                else:
                    skipped += 1
                break
    if skipped:
        warnings.warn(f"{where}: skipped {skipped} non-image files", stacklevel=3)
    out = {}
    all_classes = sorted(set().union(*[set(v) for v in found.values()]))
    for split in splits:
        by_class = found[split]
        if not by_class:
            raise DataError(f"{where} has no images under '{split}/<class>/'.")
        missing = sorted(set(all_classes) - set(by_class))
        if missing:
            raise DataError(f"{where}: split '{split}' lacks class folder(s) {missing} that other splits have.")
        imgs, labels, names = [], [], []
        for ci, c in enumerate(all_classes):
            for name, data in sorted(by_class[c]):
                imgs.append(np.asarray(_decode(data, f"{where}:{name}", size), dtype=np.uint8))
                labels.append(ci)
                names.append(name)
        out[split] = ImageSet(np.stack(imgs), np.asarray(labels, dtype=np.int64), all_classes, where, names)
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
        from robustlab.core.errors import ParameterError

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


# --------------------------------------------------------------------------------------
# ImageNet-style folders (paper B)
# --------------------------------------------------------------------------------------
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
    from robustlab.core.progress import tqdm

    imgs = np.empty((len(selected), crop, crop, 3), dtype=np.uint8)
    labels = np.empty(len(selected), dtype=np.int64)
    names = []
    for i, (w, n, d) in enumerate(tqdm(selected, desc=f"decode {split}", disable=not progress)):
        imgs[i] = center_crop_224(_decode(d, f"{src}:{n}"), resize, crop)
        labels[i] = index[w]
        names.append(n)
    return _cache_save(cache, stem, ImageSet(imgs, labels, list(classes), str(src), names))


# --------------------------------------------------------------------------------------
# tensors
# --------------------------------------------------------------------------------------
def to_tensor_pm1(images: np.ndarray, device=None):
    """uint8 NHWC (0-255) → float32 NCHW on [-1, 1] (paper A's scale: x / 127.5 - 1)."""
    import torch

    return uint8_to_pm1(torch.as_tensor(np.asarray(images), device=device).permute(0, 3, 1, 2))


def uint8_to_pm1(x_u8):
    """uint8 tensor (any layout, 0-255) → float32 on [-1, 1]: ``x / 127.5 - 1`` (paper A's scale)."""
    return x_u8.float().div_(127.5).sub_(1.0)


def pm1_to_uint8(x) -> np.ndarray:
    """float NCHW on [-1, 1] → uint8 NHWC (rounded, clipped)."""
    import torch

    y = ((x.detach().float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return y.permute(0, 2, 3, 1).cpu().numpy()
