"""The campaign log: ``<results>/campaign/log.json``, one entry per unit (wall time over all its calls,
status, work, rates, machine) and one record per run (its unit calls). Written by both executors
(:mod:`robustlab.ops.campaign`, :mod:`robustlab.ops.campaign_ray`), read by publish and by the book's
provenance ("results computed on")."""
from __future__ import annotations

import datetime as _dt
import json
from pathlib import Path

from robustlab.core.errors import RobustlabError
from robustlab.core.results import atomic_write_text

__all__ = ["LOG", "read_log", "write_log", "log_call"]

LOG = Path("campaign") / "log.json"


def read_log(results: Path) -> dict:
    """The campaign log of a results folder (``{"units": {...}, "runs": [...]}``)."""
    p = Path(results) / LOG
    if p.exists():
        try:
            return json.loads(p.read_text())
        except json.JSONDecodeError:
            raise RobustlabError(f"{p} is not valid JSON; delete it (only timings are lost)") from None
    return {"units": {}, "runs": []}


def write_log(results: Path, log: dict) -> None:
    """Write the campaign log of a results folder (atomically)."""
    atomic_write_text(Path(results) / LOG, json.dumps(log, indent=1, sort_keys=True, default=str))


def log_call(log: dict, run_rec: dict, name: str, status: str, dt: float, machine: dict,
             work: tuple[float, float] | None = None, **where) -> float:
    """Add one call of unit ``name`` (``status`` done / partial / failed, ``dt`` seconds) to the campaign
    log and to this run's record; a done unit also gets its work (model-images, FLOPs), rates and
    finishing time. ``where`` (e.g. ``node=``) goes into the run's record, and into the unit's entry
    when it is done. Returns the unit's total wall seconds over all calls. The caller writes the log."""
    ent = log["units"].setdefault(name, {"wall_s": 0.0, "calls": 0})
    wall = ent["wall_s"] + dt
    ent.update(wall_s=round(wall, 3), calls=ent["calls"] + 1, status=status, **machine)
    if status == "done" and work is not None:
        n_img, flops = work
        ent.update(model_images=n_img, flops=flops, images_per_s=n_img / wall if wall > 0 else None,
                   tflops=flops / wall / 1e12 if wall > 0 else None,
                   finished=_dt.datetime.now().isoformat(timespec="seconds"), **where)
    run_rec["units"].append({"unit": name, "wall_s": round(dt, 2), "status": status, **where})
    return wall
