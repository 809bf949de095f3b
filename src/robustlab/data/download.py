"""The public downloads the book falls back to when its data folder holds no copy: torchvision's own
sources, URLs and checksums, fetched so that a repeated or interrupted run never uses half a file.

* ``cifar10``: ``https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz`` (≈ 163 MB, md5
  ``c58f30108f718f92721af3b95e74349a``), extracted to ``<data>/cifar-10-batches-py/``;
* ``imagenette``: ``https://s3.amazonaws.com/fast-ai-imageclas/imagenette2-320.tgz`` (≈ 326 MB, md5
  ``3df6f0d01a2c9592104656642f5e78a3``), extracted to ``<data>/imagenette2-320/{train,val}/<wnid>/``;
* weights: each classifier's torchvision ``IMAGENET1K_V1`` file (SHA-256 prefix in its name, checked as
  ``torch.hub`` does), into torch's hub cache (``$TORCH_HOME/hub/checkpoints``), where torchvision reads it.

The folders are torchvision's own layout, so ``torchvision.datasets.CIFAR10(root=<data>)`` and
``Imagenette(root=<data>, size="320px")`` read them too, and the data folder's own copies (see
:mod:`robustlab.data.cifar10`, :mod:`robustlab.data.imagenet`) are always looked for first.

**Safe to repeat.** A file is downloaded to ``.<name>.part`` beside its destination: a run that is
interrupted leaves only that file, which no loader looks at; the next run resumes it (an HTTP
``Range`` request; a server that ignores it sends the whole file again) and checks the whole file's
checksum before anything reads it (a resumed file that fails the check is downloaded once more from
the start). An archive is extracted into a temporary folder that is renamed into place only when
complete, with ``robustlab-source.json`` (URL, checksum) in it: the decoded-image cache is keyed by
that checksum and the page's provenance names that URL. torchvision's ``download=True`` is not used
as such because it writes under the final name while downloading, ``Imagenette`` then accepts any
existing ``imagenette2-320`` folder, even one whose extraction was interrupted, and its progress bar
would land in the book's pages (ours goes to :func:`robustlab.core.progress.tqdm`).

Environment:

* ``ROBUSTLAB_OFFLINE=1``: never download (the error then says what to copy where).
* ``ROBUSTLAB_URL_CIFAR10`` / ``ROBUSTLAB_URL_IMAGENETTE`` = ``<url>#md5=<32 hex digits>``: take that
  archive from a mirror (same layout as the original; its checksum must be given).
* ``ROBUSTLAB_URL_<MODEL>`` (e.g. ``ROBUSTLAB_URL_MOBILENET_V2``) = ``<url>`` of a weights file named
  ``<anything>-<sha256 prefix>.pth`` (``torch.hub``'s convention, checked): a mirror of that
  classifier's torchvision weights, stored in the hub cache under torchvision's file name.

The mirrors exist for institutional copies and for the tests, which serve archives from a loopback
server (``tests/test_download.py``).
"""
from __future__ import annotations

import hashlib
import http.client
import json
import os
import re
import shutil
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch.hub
from torch.hub import HASH_REGEX

from robustlab.core.errors import DataError
from robustlab.core.progress import tqdm

__all__ = ["OFFLINE_ENV", "SOURCE_FILE", "Source", "offline", "source", "fetch", "source_info", "describe",
           "weights_url", "weights_cache_path", "fetch_weights", "download"]

OFFLINE_ENV = "ROBUSTLAB_OFFLINE"
#: written into an extracted download when it is complete: {name, url, md5, archive, bytes, date}.
SOURCE_FILE = "robustlab-source.json"
_URL_ENV = "ROBUSTLAB_URL_{}"
_CHUNK = 1 << 16
_TIMEOUT_S = 60


@dataclass(frozen=True)
class Source:
    """A public archive: ``url`` with its ``md5``, holding the folder ``folder`` at its top."""

    name: str
    what: str
    url: str
    md5: str
    folder: str

    @property
    def archive(self) -> str:
        return self.url.rsplit("/", 1)[-1].split("?")[0]


def offline() -> bool:
    """Whether downloads are switched off (``ROBUSTLAB_OFFLINE`` set to a true value)."""
    return os.environ.get(OFFLINE_ENV, "").strip().lower() in ("1", "true", "yes", "on")


def _torchvision_sources() -> dict[str, Source]:
    # torchvision.datasets is imported here, not at the top: it is slow to import and only a
    # download needs it (it holds the official URLs and checksums).
    from torchvision.datasets import CIFAR10, Imagenette

    url, md5 = Imagenette._ARCHIVES["320px"]
    return {
        "cifar10": Source("cifar10", "CIFAR-10 (python version)", CIFAR10.url, CIFAR10.tgz_md5, CIFAR10.base_folder),
        "imagenette": Source("imagenette", "Imagenette (320 px)", url, md5, Path(url.split("?")[0]).stem),
    }


def source(name: str) -> Source:
    """The source ``name`` (``cifar10`` or ``imagenette``), from a mirror when ``ROBUSTLAB_URL_<NAME>`` is set."""
    src = _torchvision_sources()[name]
    env = _URL_ENV.format(name.upper())
    value = os.environ.get(env, "").strip()
    if not value:
        return src
    url, _, frag = value.partition("#")
    m = re.fullmatch(r"md5=([0-9a-fA-F]{32})", frag)
    if not url or not m:
        raise DataError(f"{env}={value!r}: expected '<url>#md5=<32 hex digits>' (the mirror's archive and "
                        f"its checksum); unset it to download from {src.url}.")
    return Source(src.name, src.what, url, m.group(1).lower(), src.folder)


def source_info(path: str | os.PathLike) -> dict | None:
    """What :func:`fetch` recorded about the download that ``path`` (its folder, or a folder inside
    it) came from: ``{"name", "url", "md5", "archive", "bytes", "date"}``; None for any other source."""
    p = Path(path)
    for d in (p, p.parent):
        f = d / SOURCE_FILE
        if d.is_dir() and f.is_file():
            try:
                info = json.loads(f.read_text())
            except (OSError, ValueError):
                return None
            return info if isinstance(info, dict) and "url" in info and "md5" in info else None
    return None


def describe(path: str | os.PathLike) -> str | None:
    """``"<url> (md5 …)"`` for a folder :func:`fetch` made, else None."""
    info = source_info(path)
    return f"{info['url']} (md5 {info['md5']})" if info else None


@contextmanager
def _lock(folder: Path):
    """An exclusive lock on ``folder`` itself (no lock file is left behind): two kernels downloading
    into the same folder wait for each other."""
    import fcntl  # POSIX only: imported here so that Windows can still import this module

    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def _hash(path: Path, algo: str) -> str:
    h = hashlib.new(algo)
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def _checksum_ok(path: Path, md5: str | None, sha256_prefix: str | None) -> tuple[bool, str]:
    if md5:
        got = _hash(path, "md5")
        return got == md5, f"md5 {got}, expected {md5}"
    got = _hash(path, "sha256")
    return got.startswith(sha256_prefix or ""), f"sha256 {got[:16]}…, expected {sha256_prefix}…"


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB"


def _get(url: str, part: Path, what: str) -> None:
    """Download ``url`` into ``part``, resuming what is there; DataError (``part`` kept) if cut off."""
    have = part.stat().st_size if part.exists() else 0
    headers = {"User-Agent": "robustlab (torchvision sources)"}
    if have:
        headers["Range"] = f"bytes={have}-"
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=_TIMEOUT_S) as r:
            resumed = have > 0 and r.status == 206
            start = have if resumed else 0
            total = (start + r.length) if r.length is not None else None
            with open(part, "ab" if resumed else "wb") as f, tqdm(
                    total=total, initial=start, unit="B", unit_scale=True, unit_divisor=1024,
                    desc=f"download {what}") as bar:
                while chunk := r.read(_CHUNK):
                    f.write(chunk)
                    bar.update(len(chunk))
    except urllib.error.HTTPError as e:
        if e.code == 416 and have:  # nothing left to send: the part is already whole (checked next)
            return
        raise DataError(f"{url} answered HTTP {e.code} ({e.reason})") from None
    except (urllib.error.URLError, OSError, http.client.HTTPException) as e:
        got = part.stat().st_size if part.exists() else 0
        kept = f"; the {_mb(got)} received are kept in {part.name} and resumed next time" if got else ""
        reason = getattr(e, "reason", None) or e
        raise DataError(f"downloading {url} failed ({type(e).__name__}: {reason}){kept}") from None
    got = part.stat().st_size
    if total is not None and got < total:
        raise DataError(f"downloading {url} stopped after {_mb(got)} of {_mb(total)} (the connection closed); "
                        f"the part is kept in {part.name} and resumed next time; nothing was extracted")


def download(url: str, dest: str | os.PathLike, *, md5: str | None = None, sha256_prefix: str | None = None,
             what: str = "") -> Path:
    """Download ``url`` to ``dest`` through ``.<dest name>.part``, renamed only after its checksum
    (``md5``, or the first hex digits of its SHA-256) matched. Returns ``dest``.

    A part left by an interrupted run is resumed; a part that fails the check is deleted and the
    file downloaded once more from the start. DataError when the download fails or is cut off
    (the part is kept for the next run) or the checksum does not match (nothing is kept)."""
    if not (md5 or sha256_prefix):
        raise ValueError("download() needs a checksum: md5= or sha256_prefix=")
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(f".{dest.name}.part")
    for attempt in range(2):
        resumed = part.exists() and part.stat().st_size > 0
        ok = resumed and _checksum_ok(part, md5, sha256_prefix)[0]  # whole already (cut before the rename)
        if not ok:
            _get(url, part, what or dest.name)
            ok, why = _checksum_ok(part, md5, sha256_prefix)
        if ok:
            os.replace(part, dest)
            return dest
        part.unlink(missing_ok=True)
        if not resumed or attempt:
            raise DataError(f"the file downloaded from {url} does not match its checksum ({why}); it was deleted. "
                            f"Run again to download it again; if this repeats, the server sends a different file.")
    raise AssertionError("unreachable")


def _extract(archive: Path, into: Path) -> None:
    try:
        with tarfile.open(archive, "r:*") as tf:
            # the "data" filter refuses absolute paths, links out of the folder and devices (Python ≥ 3.10.12)
            tf.extractall(into, **({"filter": "data"} if hasattr(tarfile, "data_filter") else {}))
    except (tarfile.TarError, EOFError, OSError) as e:
        raise DataError(f"cannot extract {archive.name} ({type(e).__name__}: {e})") from None


def fetch(name: str, root: str | os.PathLike) -> Path:
    """Download and extract the source ``name`` into the data folder ``root``; its folder.

    Nothing is downloaded when the folder is already there, complete (an earlier download). Raises
    DataError, naming the URL and what went wrong, when offline (:func:`offline`), when the folder
    cannot be written, or when the download fails (see :func:`download`)."""
    src = source(name)
    root = Path(root)
    final = root / src.folder
    if (final / SOURCE_FILE).is_file():
        return final
    if offline():
        raise DataError(f"not downloaded from {src.url}: downloads are off ({OFFLINE_ENV}=1)")
    if final.exists():
        raise DataError(f"{final} exists but is not a complete {src.what} (no {SOURCE_FILE}); delete it to "
                        f"download {src.url} again")
    try:
        root.mkdir(parents=True, exist_ok=True)
        with _lock(root):
            if (final / SOURCE_FILE).is_file():  # another process finished it while we waited
                return final
            archive = download(src.url, root / src.archive, md5=src.md5, what=src.what)
            tmp = Path(tempfile.mkdtemp(prefix=f".{src.folder}.", dir=root))
            try:
                _extract(archive, tmp)
                got = tmp / src.folder
                if not got.is_dir():
                    raise DataError(f"{src.url} does not hold the folder {src.folder}/ at its top")
                info = {"name": src.name, "url": src.url, "md5": src.md5, "archive": src.archive,
                        "bytes": archive.stat().st_size, "date": time.strftime("%Y-%m-%d")}
                (got / SOURCE_FILE).write_text(json.dumps(info, indent=1))
                os.replace(got, final)  # the folder appears complete, or not at all
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
            archive.unlink()  # extracted and recorded: the archive is no longer needed
    except PermissionError as e:
        raise DataError(f"cannot write the download of {src.url} into {root} ({e}); give a writable data "
                        f"folder") from None
    return final


# --------------------------------------------------------------------------------------
# classifier weights (torchvision's files, in torch's hub cache)
# --------------------------------------------------------------------------------------
def weights_url(arch: str, enum) -> str:
    """The URL of ``enum``'s file for ``arch``: a mirror's when ``ROBUSTLAB_URL_<ARCH>`` is set."""
    return os.environ.get(_URL_ENV.format(arch.upper()), "").strip() or enum.url


def weights_cache_path(enum) -> Path:
    """Where torchvision reads ``enum``'s file from: ``<torch hub dir>/checkpoints/<its file name>``."""
    return Path(torch.hub.get_dir()) / "checkpoints" / enum.url.rsplit("/", 1)[-1]


def fetch_weights(arch: str, enum) -> Path:
    """The file of torchvision weights ``enum`` for ``arch`` in torch's hub cache, downloaded (with
    progress and ``torch.hub``'s SHA-256-prefix check) when it is not there yet. DataError when it
    cannot be had (offline, no internet, checksum)."""
    dest = weights_cache_path(enum)
    if dest.is_file():
        return dest
    url = weights_url(arch, enum)
    if offline():
        raise DataError(f"not downloaded from {url}: downloads are off ({OFFLINE_ENV}=1)")
    m = HASH_REGEX.search(url.rsplit("/", 1)[-1])
    if not m:
        raise DataError(f"{_URL_ENV.format(arch.upper())}={url!r}: the file name must end in "
                        f"'-<sha256 prefix>.pth' (torch.hub's convention), so that it can be checked")
    with _lock(dest.parent):
        if not dest.is_file():
            download(url, dest, sha256_prefix=m.group(1), what=f"{arch} weights")
    return dest
