"""Checksummed, configuration-keyed, atomically written result files.

Every result (a trained model, an accuracy matrix, an attack run) is stored as one file::

    ROBUSTLAB2\\n
    {"config": {...}, "sha256": "...", "nbytes": N}\\n
    <N bytes: robustlab.core.safeio.dumps(payload)>

so a truncated or altered file (checksum or length mismatch) or one written for another
configuration (config mismatch) is detected, reported with its path and never used.
The payload is plain data (:mod:`robustlab.core.safeio`: containers, numbers, strings, tensors, numpy
arrays), read with ``torch.load(weights_only=True)``: a file whose pickle holds code or other
types is refused (:class:`~robustlab.core.errors.CheckpointError`) without running anything, so
result files may come from another machine. Files of the old ``ROBUSTLAB1`` format (a full
pickle, which could run code when loaded) are refused as well and recomputed.
Files are written to a temporary file in the same folder and renamed into place, so a
reader never sees half a file; a per-key lock lets two processes share one results folder.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch
from filelock import FileLock

from robustlab.core import safeio
from robustlab.core.budget import compute_allowed, guard, mark_progress
from robustlab.core.errors import CheckpointError
from robustlab.core.kinds import describe_result, unit_for
from robustlab.core.paths import published_root

MAGIC = b"ROBUSTLAB2\n"
OLD_MAGICS = (b"ROBUSTLAB1\n",)  # full pickles (could run code when loaded): refused, recomputed


def _bad_magic(path: Path, head: bytes) -> CheckpointError:
    if any(head.startswith(m) for m in OLD_MAGICS):
        return CheckpointError(
            f"{path} has the old, unsafe result format {head.strip().decode()!s} (a full pickle that could run code "
            f"when loaded); it is not read. Delete it to recompute.")
    return CheckpointError(f"{path} is not a robustlab result file (bad magic); delete it to recompute.")


def _canonical(obj: Any) -> Any:
    """Turn a configuration into plain JSON types (tuples → lists, paths → str)."""
    if isinstance(obj, Mapping):
        return {str(k): _canonical(v) for k, v in sorted(obj.items(), key=lambda kv: str(kv[0]))}
    if isinstance(obj, (list, tuple)):
        return [_canonical(v) for v in obj]
    if isinstance(obj, float):
        obj = float(obj)  # numpy.float64 is a float subclass whose repr() is 'np.float64(...)'
        if not math.isfinite(obj):
            return repr(obj)
        return float(repr(obj)) if obj != int(obj) else obj
    if isinstance(obj, (str, int, bool)) or obj is None:
        return obj
    if isinstance(obj, Path):
        return str(obj)
    if hasattr(obj, "item") and getattr(obj, "ndim", 1) == 0:  # numpy / torch scalar
        return _canonical(obj.item())
    return str(obj)


def canonical_json(config: Mapping[str, Any]) -> str:
    """Deterministic JSON text of a configuration (sorted keys, no spaces)."""
    return json.dumps(_canonical(config), sort_keys=True, separators=(",", ":"))


def config_hash(config: Mapping[str, Any], length: int = 16) -> str:
    """Hex digest (first ``length`` characters of SHA-256) of a configuration."""
    return hashlib.sha256(canonical_json(config).encode()).hexdigest()[:length]


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temporary file in the same folder and a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)  # mkstemp makes 0600 files; results are ordinary files
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Text version of :func:`atomic_write_bytes` (UTF-8)."""
    atomic_write_bytes(path, text.encode("utf-8"))


def save_result(path: str | os.PathLike, payload: Any, config: Mapping[str, Any]) -> Path:
    """Atomically write ``payload`` (plain data, see :mod:`robustlab.core.safeio`) with its config and checksum.

    Raises ``TypeError`` naming the place in ``payload`` of a value that is not plain data
    (e.g. a pandas DataFrame); nothing is written then.
    """
    blob = safeio.dumps(payload)
    header = {"config": _canonical(config), "sha256": hashlib.sha256(blob).hexdigest(), "nbytes": len(blob)}
    atomic_write_bytes(path, MAGIC + json.dumps(header, sort_keys=True).encode() + b"\n" + blob)
    return Path(path)


def read_header(path: str | os.PathLike) -> dict:
    """Return the JSON header (config, sha256, nbytes) of a result file without the payload."""
    path = Path(path)
    with open(path, "rb") as f:
        head = f.read(len(MAGIC))
        if head != MAGIC:
            raise _bad_magic(path, head)
        line = f.readline()
    try:
        return json.loads(line)
    except json.JSONDecodeError:
        raise CheckpointError(f"{path} has a damaged header (truncated?); delete it to recompute.") from None


def load_result(path: str | os.PathLike, config: Mapping[str, Any] | None = None,
                map_location: str | torch.device | None = "cpu") -> Any:
    """Read a result file, verifying length, checksum and (if given) configuration.

    Raises :class:`CheckpointError` naming the path and what is wrong, also when the payload
    holds code or types that are not plain data (it is refused unread, nothing in it runs).
    """
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"{path} does not exist")
    data = path.read_bytes()
    if not data.startswith(MAGIC):
        raise _bad_magic(path, data[:len(MAGIC)])
    rest = data[len(MAGIC):]
    nl = rest.find(b"\n")
    if nl < 0:
        raise CheckpointError(f"{path} is truncated inside its header; delete it to recompute.")
    try:
        header = json.loads(rest[:nl])
    except json.JSONDecodeError:
        raise CheckpointError(f"{path} has a damaged header; delete it to recompute.") from None
    blob = rest[nl + 1:]
    if len(blob) != header.get("nbytes"):
        raise CheckpointError(
            f"{path} is truncated or padded: {len(blob)} payload bytes, header says {header.get('nbytes')}.")
    if hashlib.sha256(blob).hexdigest() != header.get("sha256"):
        raise CheckpointError(f"{path} fails its SHA-256 checksum: the file was altered or damaged.")
    if config is not None and canonical_json(header["config"]) != canonical_json(config):
        raise CheckpointError(
            f"{path} was written for another configuration:\n  file: {canonical_json(header['config'])}\n"
            f"  want: {canonical_json(config)}")
    return safeio.loads(blob, map_location=map_location, name=str(path))


class ResultStore:
    """A folder of results keyed by ``kind`` and the hash of their configuration.

    ``store.path(kind, config)`` is ``root/kind/<hash>.pt``. :meth:`get` returns None when the
    result is absent *or* unusable (corrupt, other config): an unusable file is reported with a
    warning naming its path and moved aside to ``<name>.corrupt`` so it is recomputed, never used.

    ``fallback`` is a read-only folder of the same layout (``published/<profile>/``, the records of
    a finished campaign): a result missing from ``root`` is read from there; it is never written
    or moved, and a damaged file there is an error (it is tracked in git), not a recompute.
    ``profile``/``device`` decide whether a missing result may be computed here
    (:func:`robustlab.core.budget.guard`); a refusal names the campaign unit that computes it.
    """

    def __init__(self, root: str | os.PathLike, fallback: str | os.PathLike | None = None,
                 profile: str | None = None, device: Any = None):
        self.root = Path(root)
        self.fallback = Path(fallback) if fallback is not None else None
        self.profile, self.device = profile, device

    @classmethod
    def for_cfg(cls, cfg) -> ResultStore:
        """The store of a notebook/campaign configuration: ``cfg.results`` with ``published/<profile>``
        as its read-only fallback."""

        return cls(cfg.results, published_root(cfg["profile"]), cfg["profile"], cfg.get("device"))

    def path(self, kind: str, config: Mapping[str, Any]) -> Path:
        return self.root / kind / f"{config_hash(config)}.pt"

    def published_path(self, kind: str, config: Mapping[str, Any]) -> Path | None:
        return None if self.fallback is None else self.fallback / kind / f"{config_hash(config)}.pt"

    def lock(self, kind: str, config: Mapping[str, Any], timeout: float = -1) -> FileLock:
        p = self.path(kind, config)
        p.parent.mkdir(parents=True, exist_ok=True)
        return FileLock(str(p) + ".lock", timeout=timeout)

    def get(self, kind: str, config: Mapping[str, Any], map_location: str | torch.device | None = "cpu") -> Any | None:
        p = self.path(kind, config)
        if not p.exists():
            q = self.published_path(kind, config)
            if q is not None and q.exists():
                return load_result(q, config, map_location=map_location)  # damaged published file: an error
            return None
        try:
            return load_result(p, config, map_location=map_location)
        except Exception as e:  # noqa: BLE001 - any unreadable file is recomputed
            aside = p.with_suffix(p.suffix + ".corrupt")
            try:
                os.replace(p, aside)
            except OSError:
                pass
            warnings.warn(f"Ignoring unusable result {p} ({e}); moved to {aside.name} and recomputing.",
                          stacklevel=2)
            return None

    def has(self, kind: str, config: Mapping[str, Any]) -> bool:
        if self.path(kind, config).exists():
            return True
        q = self.published_path(kind, config)
        return q is not None and q.exists()

    def put(self, kind: str, config: Mapping[str, Any], payload: Any) -> Path:
        out = save_result(self.path(kind, config), payload, config)
        mark_progress()  # a campaign call that stored something may stop at its deadline
        return out

    def guard(self, kind: str, config: Mapping[str, Any]) -> None:
        """Raise :class:`~robustlab.core.errors.ComputeRefused` if computing this result is not allowed here."""

        if compute_allowed(self.profile, self.device):
            return
        guard(describe_result(kind, config), unit_for(kind, config), self.profile, self.device)

    def get_or_compute(self, kind: str, config: Mapping[str, Any], compute: Callable[[], Any]) -> Any:
        """Return the stored result, or compute, store and return it (under a per-key lock)."""
        hit = self.get(kind, config)
        if hit is not None:
            return hit
        self.guard(kind, config)
        with self.lock(kind, config):
            hit = self.get(kind, config)  # another process may have finished it meanwhile
            if hit is not None:
                return hit
            payload = compute()
            self.put(kind, config, payload)
            return payload
