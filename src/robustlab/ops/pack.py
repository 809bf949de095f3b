"""Move a results folder between machines as checked data, under hard limits on files and sizes.

A GPU machine returns at most a few files of limited size per call, so :func:`pack` writes the
results that are new since the last pack as a manifest plus at most ``max_files - 1`` part files
of at most ``max_bytes`` each, and :func:`unpack` verifies them and writes the results into
another results folder. Nothing is unpickled on the way: ``.pt`` members are checked with
:func:`robustlab.core.results.load_result`, which only reads plain data (:mod:`robustlab.core.safeio`).

Layout of a results folder (``<root>`` = ``results/<profile>``)::

    <root>/<kind>/<hash>.pt          results (plus *.lock, *.corrupt, *.tmp: never packed)
    <root>/records/<name>.json       plain JSON records
    <root>/campaign/<name>.json      plain JSON campaign state
    <root>/.packed.json              the ledger: {"members": {relative path: sha256}}

A kind holds **weights** when the kind registry says so (:func:`robustlab.core.kinds.holds_weights`;
an undeclared kind by its name: ``_model``, ``-model``, ``_ckpt`` or ``-ckpt``); everything else
(JSON included) is a **record**. Records travel in ``records-NN.tar.gz`` parts,
weights in ``weights-NN.tar`` parts. The parts of one group are one tar (gzip for records) byte
stream cut into pieces of ``max_bytes``, so a member may span parts; ``manifest.json`` describes
everything::

    {"format": "robustlab-pack", "version": 1,
     "created": "2025-01-01T12:00:00+00:00", "profile": "<root's folder name>",
     "limits": {"max_files": 8, "max_bytes": 15728640},
     "members": [{"path": "cifar_eval/0123abcd4567ef89.pt", "size": 1234,
                  "sha256": "...", "group": "records"}, ...],          # in stream order
     "parts": [{"name": "records-00.tar.gz", "group": "records", "size": 999,
                "sha256": "..."}, {"name": "weights-00.tar", ...}, ...],  # in stream order
     "left": [{"path": ..., "size": ..., "sha256": ..., "group": ..., "reason": ...}],
     "skipped": [{"path": ..., "reason": ...}]}

``left`` lists new members that did not fit in this pack (a later pack brings them);
``skipped`` lists files that are not packable (bad name, damaged or old-format result).
"""
from __future__ import annotations

import hashlib
import io
import json
import math
import os
import re
import shutil
import tarfile
import tempfile
import warnings
import zlib
from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path

from filelock import FileLock

from robustlab.core.errors import CheckpointError
from robustlab.core.kinds import holds_weights, is_checkpoint
from robustlab.core.results import MAGIC, OLD_MAGICS, atomic_write_text, load_result

__all__ = ["pack", "unpack", "group_of", "is_weights_kind", "member_name_ok", "FORMAT", "VERSION",
           "MANIFEST", "LEDGER"]

FORMAT = "robustlab-pack"
VERSION = 1
MANIFEST = "manifest.json"
LEDGER = ".packed.json"
MAX_MEMBER_BYTES = 512 * 2**20
_JSON_DIRS = ("records", "campaign")
_NEVER = (".lock", ".corrupt", ".tmp")
_KIND_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")
_HASH_RE = re.compile(r"[0-9a-f]{8,64}\.pt")
_JSON_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,150}\.json")
_PART_RE = {"records": re.compile(r"records-\d{2,4}\.tar\.gz"), "weights": re.compile(r"weights-\d{2,4}\.tar")}
_SHA_RE = re.compile(r"[0-9a-f]{64}")
_END = b"\0" * 1024  # tar end-of-archive marker
_CHUNK = 1 << 20


def is_weights_kind(kind: str) -> bool:
    """True for kinds holding model weights (:func:`robustlab.core.kinds.holds_weights`)."""
    return holds_weights(kind)


def member_name_ok(rel: str) -> bool:
    """True if ``rel`` is ``<kind>/<hash>.pt``, ``records/<name>.json`` or ``campaign/<name>.json``."""
    parts = rel.split("/")
    if len(parts) != 2 or not _KIND_RE.fullmatch(parts[0]):
        return False
    kind, name = parts
    if _HASH_RE.fullmatch(name):
        return True
    return kind in _JSON_DIRS and _JSON_RE.fullmatch(name) is not None


def group_of(rel: str) -> str:
    """``'weights'`` or ``'records'`` for a member path (see :func:`is_weights_kind`)."""
    kind = rel.split("/", 1)[0]
    return "weights" if rel.endswith(".pt") and is_weights_kind(kind) else "records"


def _order(rel: str) -> tuple:
    kind = rel.split("/", 1)[0]
    if group_of(rel) == "records":
        return (0, 0 if rel.endswith(".json") else 1, rel)
    return (1, 1 if is_checkpoint(kind) else 0, rel)


def _sha_file(path: Path) -> tuple[str, int]:
    h, n = hashlib.sha256(), 0
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
            n += len(chunk)
    return h.hexdigest(), n


def _result_problem(data: bytes) -> str | None:
    """Why ``data`` is not a valid result file (header checks only), or None."""
    if not data.startswith(MAGIC):
        if any(data.startswith(m) for m in OLD_MAGICS):
            return "old, unsafe result format (a full pickle); recompute it"
        return "not a robustlab result file (bad magic)"
    rest = data[len(MAGIC):]
    nl = rest.find(b"\n")
    try:
        header = json.loads(rest[:nl]) if nl >= 0 else None
    except (json.JSONDecodeError, UnicodeDecodeError):
        header = None
    if not isinstance(header, dict):
        return "damaged header"
    blob = memoryview(rest)[nl + 1:]
    if len(blob) != header.get("nbytes"):
        return f"truncated or padded ({len(blob)} payload bytes, header says {header.get('nbytes')})"
    if hashlib.sha256(blob).hexdigest() != header.get("sha256"):
        return "fails its SHA-256 checksum"
    return None


def _content_problem(rel: str, data: bytes) -> str | None:
    if rel.endswith(".json"):
        try:
            json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            return f"not valid JSON ({e})"
        return None
    return _result_problem(data)


# ------------------------------------------------------------------------------------------- ledger
def _ledger_lock(root: Path) -> FileLock:
    return FileLock(str(root / (LEDGER + ".lock")))


def _read_ledger(root: Path) -> dict[str, str]:
    p = root / LEDGER
    if not p.exists():
        return {}
    try:
        members = json.loads(p.read_text("utf-8")).get("members", {})
        return {str(k): str(v) for k, v in members.items()}
    except (OSError, ValueError, AttributeError) as e:
        warnings.warn(f"Ignoring unreadable pack ledger {p} ({e}); everything counts as new.", stacklevel=3)
        return {}


def _update_ledger(root: Path, entries: dict[str, str]) -> None:
    if not entries:
        return
    root.mkdir(parents=True, exist_ok=True)
    with _ledger_lock(root):
        members = _read_ledger(root)
        members.update(entries)
        atomic_write_text(root / LEDGER, json.dumps({"format": "robustlab-pack-ledger", "version": 1,
                                                    "members": dict(sorted(members.items()))}, indent=1))


# --------------------------------------------------------------------------------------------- pack
def _scan(root: Path, skip_dir: Path | None) -> tuple[list[str], list[dict]]:
    members, skipped = [], []
    if not root.is_dir():
        raise FileNotFoundError(f"results folder {root} does not exist")
    for kdir in sorted(root.iterdir()):
        if not _KIND_RE.fullmatch(kdir.name) or not kdir.is_dir():
            continue
        if kdir.is_symlink() or (skip_dir is not None and kdir.resolve() == skip_dir):
            continue
        for f in sorted(kdir.iterdir()):
            if f.name.startswith(".") or f.name.endswith(_NEVER):
                continue
            rel = f"{kdir.name}/{f.name}"
            if f.is_symlink() or not f.is_file():
                skipped.append({"path": rel, "reason": "not a regular file"})
            elif not member_name_ok(rel):
                skipped.append({"path": rel, "reason": "name is not <kind>/<hash>.pt, records/*.json "
                                                       "or campaign/*.json"})
            else:
                members.append(rel)
    members.sort(key=_order)
    return members, skipped


def _tar_header(rel: str, size: int, mtime: float) -> bytes:
    info = tarfile.TarInfo(rel)
    info.size, info.mtime, info.mode, info.type = size, int(mtime), 0o644, tarfile.REGTYPE
    return info.tobuf(tarfile.PAX_FORMAT, "utf-8", "strict")


def _pad(n: int) -> bytes:
    return b"\0" * (-n % 512)


class _PartWriter:
    """Writes one group's byte stream into ``<group>-NN<ext>`` files of at most ``max_bytes``."""

    def __init__(self, out: Path, group: str, ext: str, max_bytes: int):
        self.out, self.group, self.ext, self.max = out, group, ext, max_bytes
        self.parts: list[dict] = []
        self.tmps: list[Path] = []
        self.f = None
        self.n = 0

    def _finish(self) -> None:
        if self.f is not None:
            self.f.close()
            name = f"{self.group}-{len(self.parts):02d}{self.ext}"
            os.replace(self.tmp, self.out / name)
            self.parts.append({"name": name, "group": self.group, "size": self.n, "sha256": self.h.hexdigest()})
            self.f = None

    def write(self, data: bytes) -> None:
        mv = memoryview(data)
        while len(mv):
            if self.f is None or self.n == self.max:
                self._finish()
                self.tmp = self.out / f".{self.group}-{len(self.parts):02d}{self.ext}.tmp"
                self.tmps.append(self.tmp)
                self.f, self.h, self.n = open(self.tmp, "wb"), hashlib.sha256(), 0
            k = min(len(mv), self.max - self.n)
            self.f.write(mv[:k])
            self.h.update(mv[:k])
            self.n += k
            mv = mv[k:]

    def close(self) -> list[dict]:
        self._finish()
        return self.parts

    def abort(self) -> None:
        if self.f is not None:
            self.f.close()
        for p in self.tmps + [self.out / q["name"] for q in self.parts]:
            try:
                p.unlink()
            except FileNotFoundError:
                pass


def _remove_old_outputs(out: Path) -> None:
    for p in out.iterdir():
        if p.is_file() and (p.name == MANIFEST or any(r.fullmatch(p.name) for r in _PART_RE.values())):
            p.unlink()


def pack(root: str | os.PathLike, out_dir: str | os.PathLike, max_files: int = 8,
         max_bytes: int = 15 * 2**20, only_new: bool = True, *, level: int = 6, update_ledger: bool = True) -> dict:
    """Pack the results in ``root`` into ``out_dir`` as ``manifest.json`` + part files.

    Writes at most ``max_files`` files in all (the manifest included), each of at most
    ``max_bytes`` bytes: record parts ``records-00.tar.gz``, ``records-01.tar.gz``, … (records
    first: JSON, then result kinds that are not weights), then weight parts ``weights-00.tar``, …
    (``*_model``/``*-model`` kinds, then checkpoints ``*_ckpt``/``*-ckpt`` last). The parts of a
    group are one tar byte stream cut into ``max_bytes`` pieces, so a member larger than
    ``max_bytes`` spans consecutive parts. Members that do not fit are listed in the manifest's
    ``left`` (a member needing more than ``max_files - 1`` parts on its own can never be packed
    with these limits: its reason says so). Result files whose header checks fail (damaged,
    old ``ROBUSTLAB1`` format) and files with other names are listed in ``skipped``, never packed.

    With ``only_new`` (default), members already in the ledger ``root/.packed.json`` with the same
    sha256 are not packed again; the ledger is updated after the pack is written (so repeated packs
    on a GPU machine return only what is new; if a pack was lost on the way, pack again with
    ``only_new=False``). Old pack files (``manifest.json``, ``records-NN.tar.gz``,
    ``weights-NN.tar``) in ``out_dir`` are removed first; other files there are left alone and
    count against nothing. ``update_ledger=False`` leaves the ledger as it was (a copy made for another
    purpose, e.g. the Ray executor shipping results to its workers, is no trip home).

    Returns ``{"manifest": Path, "files": [manifest and parts], "parts": the manifest's part
    entries, "members": [paths packed],
    "bytes": total size of the files, "left": [...], "skipped": [...]}``; see the module
    docstring for the manifest format.
    """
    root, out = Path(root), Path(out_dir)
    if int(max_files) < 2:
        raise ValueError(f"max_files={max_files}: need at least 2 (the manifest and one part)")
    if int(max_bytes) < 4096:
        raise ValueError(f"max_bytes={max_bytes}: need at least 4096")
    max_files, max_bytes = int(max_files), int(max_bytes)
    out.mkdir(parents=True, exist_ok=True)
    if out.resolve() == root.resolve():
        raise ValueError(f"out_dir {out} is the results folder itself; pack into another folder")
    _remove_old_outputs(out)
    ledger = _read_ledger(root) if only_new else {}
    cands, skipped = _scan(root, out.resolve())
    budget = max_files - 1
    members: list[dict] = []
    left: list[dict] = []

    def load(rel: str) -> tuple[bytes, str, float] | None:
        """The member's bytes, SHA-256 and mtime; None (and noted in ``skipped``) if unreadable or bad."""
        p = root / rel
        try:
            data = p.read_bytes()
            mtime = p.stat().st_mtime
        except OSError as e:
            skipped.append({"path": rel, "reason": f"unreadable ({e})"})
            return None
        why = _content_problem(rel, data)
        if why:
            skipped.append({"path": rel, "reason": why})
            return None
        return data, hashlib.sha256(data).hexdigest(), mtime

    def new_candidates(group: str):
        for rel in cands:
            if group_of(rel) != group:
                continue
            try:
                sha, size = _sha_file(root / rel)
            except OSError as e:
                skipped.append({"path": rel, "reason": f"unreadable ({e})"})
                continue
            if only_new and ledger.get(rel) == sha:
                continue
            yield rel, sha, size

    def leave(rel: str, sha: str, size: int, group: str, need: int) -> None:
        reason = (f"needs {need} parts of {max_bytes} bytes on its own, more than max_files-1={max_files - 1}"
                  if need > max_files - 1 else "limits reached; pack again")
        left.append({"path": rel, "size": size, "sha256": sha, "group": group, "reason": reason})

    writers: list[_PartWriter] = []
    try:
        # ---- records: one gzip stream; the exact compressed size is measured before accepting a member
        rw = _PartWriter(out, "records", ".tar.gz", max_bytes)
        writers.append(rw)
        comp = zlib.compressobj(level, zlib.DEFLATED, 31)
        emitted = 0
        for rel, sha, _size in new_candidates("records"):
            got = load(rel)
            if got is None:
                continue
            data, sha, mtime = got
            snap = comp.copy()
            chunk = comp.compress(_tar_header(rel, len(data), mtime)) + comp.compress(data) + comp.compress(
                _pad(len(data)))
            probe = comp.copy()
            total = emitted + len(chunk) + len(probe.compress(_END)) + len(probe.flush())
            if math.ceil(total / max_bytes) > budget:
                comp = snap
                leave(rel, sha, len(data), "records", math.ceil(len(data) / max_bytes))
                continue
            rw.write(chunk)
            emitted += len(chunk)
            members.append({"path": rel, "size": len(data), "sha256": sha, "group": "records"})
        if members:
            rw.write(comp.compress(_END) + comp.flush())
        parts = rw.close()
        budget -= len(parts)

        # ---- weights: a plain tar stream, its size is known exactly
        ww = _PartWriter(out, "weights", ".tar", max_bytes)
        writers.append(ww)
        wsize = 0
        n_rec = len(members)
        for rel, sha, size in new_candidates("weights"):
            least = 512 + size + (-size % 512)  # one header + data: if even that does not fit, do not read it
            if math.ceil((wsize + least + len(_END)) / max_bytes) > budget:
                leave(rel, sha, size, "weights", math.ceil((least + len(_END)) / max_bytes))
                continue
            got = load(rel)
            if got is None:
                continue
            data, sha, mtime = got
            head = _tar_header(rel, len(data), mtime)
            contrib = len(head) + len(data) + (-len(data) % 512)
            if math.ceil((wsize + contrib + len(_END)) / max_bytes) > budget:
                leave(rel, sha, len(data), "weights", math.ceil((contrib + len(_END)) / max_bytes))
                continue
            ww.write(head)
            ww.write(data)
            ww.write(_pad(len(data)))
            wsize += contrib
            members.append({"path": rel, "size": len(data), "sha256": sha, "group": "weights"})
        if len(members) > n_rec:
            ww.write(_END)
        parts += ww.close()

        manifest = {"format": FORMAT, "version": VERSION,
                    "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                    "profile": root.resolve().name, "limits": {"max_files": max_files, "max_bytes": max_bytes},
                    "members": members, "parts": parts, "left": left, "skipped": skipped}
        text = json.dumps(manifest, indent=1)
        if len(text.encode()) > max_bytes:
            raise ValueError(f"the manifest would be {len(text.encode())} bytes, over max_bytes={max_bytes}")
        assert len(parts) + 1 <= max_files and all(p["size"] <= max_bytes for p in parts)
        atomic_write_text(out / MANIFEST, text)
    except BaseException:
        for w in writers:
            w.abort()
        raise
    if update_ledger:
        _update_ledger(root, {m["path"]: m["sha256"] for m in members})
    files = [out / MANIFEST] + [out / p["name"] for p in parts]
    return {"manifest": out / MANIFEST, "files": files, "parts": parts, "members": [m["path"] for m in members],
            "bytes": sum(f.stat().st_size for f in files), "left": left, "skipped": skipped}


# ------------------------------------------------------------------------------------------- unpack
class _Chain(io.RawIOBase):
    """The concatenation of several files, read sequentially."""

    def __init__(self, paths: list[Path]):
        self.paths, self.i, self.f = list(paths), 0, None

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        while self.i < len(self.paths):
            if self.f is None:
                self.f = open(self.paths[self.i], "rb")
            n = self.f.readinto(b)
            if n:
                return n
            self.f.close()
            self.f, self.i = None, self.i + 1
        return 0

    def close(self) -> None:
        if self.f is not None:
            self.f.close()
            self.f = None
        super().close()


def _refuse(msg: str) -> CheckpointError:
    return CheckpointError(f"{msg}; nothing was unpacked.")


def _read_manifest(path: Path, max_member_bytes: int) -> dict:
    try:
        if path.stat().st_size > 64 * 2**20:
            raise ValueError("over 64 MiB")
        man = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError) as e:
        raise _refuse(f"{path} is not a readable pack manifest ({e})") from None
    if not isinstance(man, dict) or man.get("format") != FORMAT:
        fmt = man.get("format") if isinstance(man, dict) else None
        raise _refuse(f"{path} is not a robustlab pack manifest (format {fmt!r})")
    if man.get("version") != VERSION:
        raise _refuse(f"{path} has pack format version {man.get('version')!r}; this robustlab reads {VERSION}")
    parts, members = man.get("parts"), man.get("members")
    if not isinstance(parts, list) or not isinstance(members, list):
        raise _refuse(f"{path}: manifest without 'parts'/'members' lists")
    seen: set[str] = set()
    for pt in parts:
        ok = (isinstance(pt, dict) and pt.get("group") in _PART_RE and isinstance(pt.get("name"), str)
              and _PART_RE[pt["group"]].fullmatch(pt["name"]) and type(pt.get("size")) is int
              and isinstance(pt.get("sha256"), str) and _SHA_RE.fullmatch(pt["sha256"]) and pt["name"] not in seen)
        if not ok:
            raise _refuse(f"{path}: invalid part entry {pt!r}")
        seen.add(pt["name"])
    seen = set()
    for m in members:
        ok = (isinstance(m, dict) and isinstance(m.get("path"), str) and member_name_ok(m["path"])
              and m.get("group") == group_of(m["path"]) and type(m.get("size")) is int and m["size"] >= 0
              and isinstance(m.get("sha256"), str) and _SHA_RE.fullmatch(m["sha256"]) and m["path"] not in seen)
        if not ok:
            raise _refuse(f"{path}: invalid or unsafe member entry {m!r}")
        if m["size"] > max_member_bytes:
            raise _refuse(f"{path}: member {m['path']} has {m['size']} bytes, over the limit of {max_member_bytes}")
        seen.add(m["path"])
    return man


def _check_tar_member(info: tarfile.TarInfo, where: str, group: str, expected: dict[str, dict],
                      seen: set[str], max_member_bytes: int) -> dict:
    name = info.name
    label = f"tar member {name!r} in {where}"
    comps = name.split("/")
    if name.startswith("/") or "\\" in name or (len(name) > 1 and name[1] == ":"):
        raise _refuse(f"{label}: absolute path refused")
    if ".." in comps:
        raise _refuse(f"{label}: '..' path component refused")
    if info.issym() or info.islnk():
        raise _refuse(f"{label}: {'symbolic' if info.issym() else 'hard'} link to {info.linkname!r} refused")
    if info.ischr() or info.isblk() or info.isfifo():
        raise _refuse(f"{label}: device or fifo refused")
    if info.type not in (tarfile.REGTYPE, tarfile.AREGTYPE):
        raise _refuse(f"{label}: not a regular file (tar type {info.type!r}) refused")
    if not member_name_ok(name):
        raise _refuse(f"{label}: name is not <kind>/<hash>.pt, records/*.json or campaign/*.json")
    if info.size > max_member_bytes:
        raise _refuse(f"{label}: {info.size} bytes, over the size limit of {max_member_bytes}")
    m = expected.get(name)
    if m is None or m["group"] != group:
        raise _refuse(f"{label}: not listed in the manifest's {group} members")
    if name in seen:
        raise _refuse(f"{label}: appears twice")
    if info.size != m["size"]:
        raise _refuse(f"{label}: {info.size} bytes, the manifest says {m['size']}")
    return m


def _stage_group(group: str, part_paths: list[Path], staging: Path, expected: dict[str, dict],
                 staged: dict[str, Path], max_member_bytes: int) -> None:
    where = " + ".join(p.name for p in part_paths)
    chain = io.BufferedReader(_Chain(part_paths), buffer_size=_CHUNK)
    try:
        with tarfile.open(fileobj=chain, mode="r|gz" if group == "records" else "r|") as tf:
            for info in tf:
                m = _check_tar_member(info, where, group, expected, set(staged), max_member_bytes)
                rel = info.name
                dest = staging / rel
                dest.parent.mkdir(parents=True, exist_ok=True)
                src = tf.extractfile(info)
                h, n = hashlib.sha256(), 0
                with open(dest, "wb") as f:
                    while n < info.size:
                        chunk = src.read(min(_CHUNK, info.size - n))
                        if not chunk:
                            break
                        h.update(chunk)
                        f.write(chunk)
                        n += len(chunk)
                    f.flush()
                    os.fsync(f.fileno())
                if n != m["size"] or h.hexdigest() != m["sha256"]:
                    raise _refuse(f"member {rel} in {where} fails its SHA-256 checksum after reassembly")
                staged[rel] = dest
                if rel.endswith(".json"):
                    why = _content_problem(rel, dest.read_bytes())
                    if why:
                        raise _refuse(f"member {rel} in {where}: {why}")
                else:
                    try:
                        load_result(dest)  # header, length, checksum and plain-data checks; nothing runs
                    except CheckpointError as e:
                        raise _refuse(f"member {rel} in {where} is refused: "
                                      f"{str(e).replace(str(dest), rel)}") from None
    except (tarfile.TarError, EOFError, zlib.error, OSError) as e:
        raise _refuse(f"the {group} parts {where} are not a readable {'tar.gz' if group == 'records' else 'tar'} "
                      f"stream ({type(e).__name__}: {e})") from None
    finally:
        chain.close()


def unpack(files: Iterable[str | os.PathLike], root: str | os.PathLike, *, overwrite: bool = False,
           max_member_bytes: int = MAX_MEMBER_BYTES, profile: str | None = None, update_ledger: bool = True) -> dict:
    """Verify a pack (``manifest.json`` and its parts, in any order) and write its members into ``root``.

    Everything is checked before anything is written into ``root``; any problem raises
    :class:`~robustlab.core.errors.CheckpointError` naming the offending file or member:

    * no ``manifest.json`` among ``files``, an invalid manifest, or (with ``profile``) a manifest
      of another profile;
    * a file that is not a part of this manifest (foreign), a part that is missing, a part whose
      size or sha256 differs from the manifest (corrupt);
    * a tar member with an absolute path or a ``..`` component, a symbolic or hard link, a device
      or fifo, a name that is not ``<kind>/<hash>.pt``, ``records/*.json`` or ``campaign/*.json``,
      one over ``max_member_bytes`` (default 512 MiB), one not listed in the manifest or listed
      members missing from the stream;
    * a member whose sha256 after reassembly differs from the manifest, a ``.pt`` member that fails
      :func:`robustlab.core.results.load_result` (bad magic, old format, length, internal checksum,
      code or non-data types in its payload: nothing is unpickled unsafely), invalid JSON.

    Members are read one by one from the tar streams (never ``extractall``) into a staging folder
    inside ``root`` and then renamed into place (atomic per file). A destination that already
    holds the same bytes is left alone (``identical``); one holding different bytes is kept and
    reported in ``conflicts`` unless ``overwrite=True`` (then ``overwritten``). Members written or
    identical are recorded in ``root/.packed.json`` so that they are not packed back (not with
    ``update_ledger=False``: results computed elsewhere for this folder, e.g. by a Ray worker, are new here
    and a later :func:`pack` brings them home).

    Returns ``{"profile", "created", "members": [paths in the pack], "written": [...],
    "identical": [...], "overwritten": [...], "conflicts": [{"path", "existing_sha256",
    "incoming_sha256"}], "left": manifest's left, "skipped": manifest's skipped}``.
    """
    root = Path(root)
    paths = [Path(f) for f in files]
    by_name: dict[str, Path] = {}
    for p in paths:
        if p.name in by_name and by_name[p.name].resolve() != p.resolve():
            raise _refuse(f"two files named {p.name}: {by_name[p.name]} and {p}")
        by_name[p.name] = p
    if MANIFEST not in by_name:
        raise _refuse(f"no {MANIFEST} among the files {[str(p) for p in paths]}")
    man_path = by_name[MANIFEST]
    man = _read_manifest(man_path, max_member_bytes)
    if profile is not None and man.get("profile") != profile:
        raise _refuse(f"{man_path} is a pack of profile {man.get('profile')!r}, not {profile!r}")
    parts = man["parts"]
    part_names = {pt["name"] for pt in parts}
    for name, p in by_name.items():
        if name != MANIFEST and name not in part_names:
            raise _refuse(f"{p} is not a part of the pack {man_path} (foreign file; its parts are "
                          f"{sorted(part_names)})")
    for pt in parts:
        if pt["name"] not in by_name:
            raise _refuse(f"part {pt['name']} of {man_path} is missing")
    for pt in parts:
        p = by_name[pt["name"]]
        sha, size = _sha_file(p)
        if size != pt["size"] or sha != pt["sha256"]:
            raise _refuse(f"part {p} is corrupt: {size} bytes, sha256 {sha[:16]}…; the manifest says "
                          f"{pt['size']} bytes, sha256 {pt['sha256'][:16]}…")
    expected = {m["path"]: m for m in man["members"]}
    for g in ("records", "weights"):
        if any(m["group"] == g for m in man["members"]) and not any(pt["group"] == g for pt in parts):
            raise _refuse(f"{man_path} lists {g} members but no {g} parts")

    created_root = not root.exists()
    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".unpack-", dir=root))
    written, identical, overwritten, conflicts = [], [], [], []
    try:
        staged: dict[str, Path] = {}
        for g in ("records", "weights"):
            gparts = [by_name[pt["name"]] for pt in parts if pt["group"] == g]
            if gparts:
                _stage_group(g, gparts, staging, expected, staged, max_member_bytes)
        missing = [rel for rel in expected if rel not in staged]
        if missing:
            raise _refuse(f"members listed in {man_path} are missing from its parts: {missing[:10]}")
        for m in man["members"]:
            rel, src, dest = m["path"], staged[m["path"]], root / m["path"]
            if dest.exists():
                have, _ = _sha_file(dest)
                if have == m["sha256"]:
                    identical.append(rel)
                    continue
                if not overwrite:
                    conflicts.append({"path": rel, "existing_sha256": have, "incoming_sha256": m["sha256"]})
                    continue
                overwritten.append(rel)
            else:
                written.append(rel)
            dest.parent.mkdir(parents=True, exist_ok=True)
            os.replace(src, dest)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        if created_root and not any(root.iterdir()):
            root.rmdir()
        raise
    shutil.rmtree(staging, ignore_errors=True)
    sha = {m["path"]: m["sha256"] for m in man["members"]}
    if update_ledger:
        _update_ledger(root, {rel: sha[rel] for rel in written + overwritten + identical})
    return {"profile": man.get("profile"), "created": man.get("created"), "members": list(expected),
            "written": written, "identical": identical, "overwritten": overwritten, "conflicts": conflicts,
            "left": man.get("left", []), "skipped": man.get("skipped", [])}
