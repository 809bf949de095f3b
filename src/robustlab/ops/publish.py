"""Publishing a finished campaign: its records (no weights) into the tracked ``published/<profile>/``.

The results store reads ``published/<profile>/`` as a read-only fallback
(:meth:`robustlab.core.results.ResultStore.for_cfg`), so a machine without a GPU renders the book of a
GPU run — every accuracy matrix, attack result and paper-B table — computing nothing. What is
published: every stored result whose kind holds no weights (:func:`robustlab.core.kinds.holds_weights`:
the kind registry, for an undeclared kind its name), the campaign log (device, versions, date, wall time and TFLOP/s
per unit), and ``manifest.json`` listing each file with its size and SHA-256.
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import json
from collections.abc import Sequence
from pathlib import Path

from robustlab.core.kinds import holds_weights
from robustlab.core.paths import published_root
from robustlab.core.results import atomic_write_bytes, atomic_write_text
from robustlab.ops.log import read_log

__all__ = ["publish", "MANIFEST", "SIZE_WARN_BYTES"]

MANIFEST = "manifest.json"
#: published records are meant to stay well under this size (they live in git)
SIZE_WARN_BYTES = 10 * 2**20


def _sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def publish(cfg, dest: str | Path | None = None, left: Sequence[str] | None = None) -> Path:
    """Copy ``cfg.results``' records and campaign log to ``dest`` (default ``published/<profile>/``)
    and write its manifest. Files already there with the same content are left alone; records of
    earlier publications that this run lacks stay (a later GPU session adds to them).

    ``left``: the profile's campaign units not yet done (the campaign's ``--publish`` passes them). The
    manifest then says ``"complete": true`` only when none is left, and lists them under ``units_left``
    (None: not known, not complete), so a site build can tell a finished run from one under way."""
    src = Path(cfg.results)
    dest = Path(dest) if dest is not None else published_root(cfg.profile)
    dest.mkdir(parents=True, exist_ok=True)
    for kdir in sorted(p for p in src.iterdir() if p.is_dir()) if src.exists() else []:
        if kdir.name in ("records",) or holds_weights(kdir.name):
            continue
        for f in sorted(kdir.glob("*.pt" if kdir.name != "campaign" else "*.json")):
            out = dest / kdir.name / f.name
            data = f.read_bytes()
            if out.exists() and out.read_bytes() == data:
                continue
            out.parent.mkdir(parents=True, exist_ok=True)
            if kdir.name == "campaign":  # merge logs: keep units published earlier
                old = json.loads(out.read_text()) if out.exists() else {"units": {}, "runs": []}
                new = json.loads(data)
                old["units"].update(new.get("units", {}))
                seen = {json.dumps(r, sort_keys=True) for r in old["runs"]}
                old["runs"] += [r for r in new.get("runs", []) if json.dumps(r, sort_keys=True) not in seen]
                atomic_write_text(out, json.dumps(old, indent=1, sort_keys=True))
            else:
                atomic_write_bytes(out, data)
    files = sorted(p for p in dest.rglob("*") if p.is_file() and p.name != MANIFEST)
    total = sum(p.stat().st_size for p in files)
    log = read_log(dest)
    devices = sorted({u.get("device", "?") for u in log.get("units", {}).values()})
    manifest = {"profile": cfg.profile, "published": _dt.datetime.now().isoformat(timespec="seconds"),
                "devices": devices, "bytes": total, "complete": left is not None and not left,
                "units_left": sorted(left) if left is not None else None,
                "units": {n: {k: u.get(k) for k in ("status", "wall_s", "images_per_s", "tflops", "device",
                                                    "precision", "torch", "cuda", "git", "finished")}
                          for n, u in sorted(log.get("units", {}).items())},
                "files": [{"path": p.relative_to(dest).as_posix(), "bytes": p.stat().st_size, "sha256": _sha(p)}
                          for p in files]}
    atomic_write_text(dest / MANIFEST, json.dumps(manifest, indent=1, sort_keys=True))
    if total > SIZE_WARN_BYTES:
        print(f"warning: {dest} holds {total / 2**20:.1f} MiB of records (meant to stay under "
              f"{SIZE_WARN_BYTES / 2**20:.0f} MiB)")
    return dest
