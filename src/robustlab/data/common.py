"""Shared by every data source: the :class:`ImageSet` container, class-balanced draws, file
fingerprints and MD5s, the decoded-image cache, and walking folders and tar archives.

Decoding happens once: the arrays are written to one ``.npy`` cache file per split (see
:func:`robustlab.core.paths.cache_root`) and memory-mapped on every later load.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from robustlab.core.errors import DataError, EmptySelectionError

__all__ = ["IMAGE_EXTS", "CACHE_VERSION", "ImageSet", "balanced_indices", "file_md5"]

IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".bmp", ".ppm", ".webp")
CACHE_VERSION = 1


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

    def subset(self, index: Iterable[int] | np.ndarray) -> ImageSet:
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
# decoding and walking folders / archives
# --------------------------------------------------------------------------------------
def _decode(data: bytes, where: str, size: tuple[int, int] | None = None):
    """Decode image bytes to an RGB PIL image; DataError naming ``where`` when it fails."""
    from PIL import Image, UnidentifiedImageError  # deferred: PIL is slow to import; only decoding needs it

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
