"""Provenance and recorded values of a notebook run.

``record(cfg, key, value)`` stores a number (or a small list/dict) that a notebook computed in
``<results>/records/<notebook>.json`` (written atomically), so tests can assert on the values a
run produced (pyhf-style) and the summary page can collect them. ``show(cfg)`` renders the
provenance table that ends every page: profile, device, seed, data source with its checksum,
versions, git commit, parameters and wall time.
"""
from __future__ import annotations

import fnmatch
import json
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from robustlab import __version__
from robustlab.core.device import describe_device, describe_precision, resolve_precision
from robustlab.core.paths import published_root
from robustlab.core.results import _canonical, atomic_write_text
from robustlab.core.versions import git_commit
from robustlab.data.common import file_md5
from robustlab.data.download import describe
from robustlab.ops.log import read_log
from robustlab.paper_a.training import COMPILE_PAYS
from robustlab.paper_b.classifiers import PAPER_B_BF16_OK, inference_precision


def records_path(cfg) -> Path:
    return cfg.results / "records" / f"{cfg.notebook or 'session'}.json"


def read_records(cfg_or_path) -> dict[str, Any]:
    """All values recorded by one notebook (a Config or a path to its records JSON)."""
    p = Path(cfg_or_path) if isinstance(cfg_or_path, (str, Path)) else records_path(cfg_or_path)
    return json.loads(p.read_text()) if p.exists() else {}


def record(cfg, key: str, value: Any) -> Any:
    """Store ``value`` under ``key`` for this notebook and return it unchanged."""
    p = records_path(cfg)
    data = read_records(p)
    data[key] = _canonical(value)
    atomic_write_text(p, json.dumps(data, indent=1, sort_keys=True))
    return value


_MD5_CACHE: dict[tuple[str, int, int], str] = {}


def data_fingerprint(path: str | Path) -> str:
    """``<folder>/<file> (md5 …)`` for a file; for a folder its name and file count; for a public
    download (:mod:`robustlab.data.download`) its URL and checksum. Only the last two parts of a path:
    the page names the data, not the folders of the machine that built it."""

    p = Path(path)
    if p.is_dir() and describe(p):
        return describe(p)
    if p.is_file():
        st = p.stat()
        k = (str(p.resolve()), st.st_size, st.st_mtime_ns)
        if k not in _MD5_CACHE:
            _MD5_CACHE[k] = file_md5(p)
        return f"{_short(p)} (md5 {_MD5_CACHE[k]})"
    if p.is_dir():
        return f"{p.name} (folder, {sum(1 for q in p.rglob('*') if q.is_file())} files)"
    return _short(p)


def _short(p: Path) -> str:
    return "/".join(p.parts[-2:])


#: Campaign units whose results each chapter shows (globs; see robustlab.ops.campaign).
CHAPTER_UNITS = {
    "03_noise_training": ("a-train-*-clean", "a-train-*-noise", "a-eval-*-noise"),
    "04_blur_training": ("a-train-*-clean", "a-train-*-blur", "a-eval-*-blur"),
    "05_adversarial_delta": ("a-attack-*",),
    "06_pixel_count": ("b-select", "b-exp1"),
    "07_pixel_magnitude": ("b-exp1", "b-exp2"),
    "08_pixel_area": ("b-exp2", "b-exp3"),
    "09_fgsm_and_pixels": ("b-exp4",),
    "10_augmentation": ("b-aug", "b-aug-lr", "b-aug-bases"),
    "11_pixel_index": ("b-exp1", "b-cifar"),
}


def computed_by(cfg) -> list[dict[str, Any]]:
    """Where and when this page's results were computed, from the campaign logs of the results
    folder and of ``published/<profile>/`` (not the machine rendering the page): one entry per
    (device, torch, CUDA) with its units and the date of the last one. Empty when no campaign
    computed them (the notebook computed them itself, on the rendering machine)."""

    pats = CHAPTER_UNITS.get(cfg.notebook or "", ())
    if not pats:
        return []
    units: dict[str, dict] = {}
    for root in (published_root(cfg.profile), cfg.results):
        try:
            log = read_log(Path(root))
        except Exception:  # noqa: BLE001 - a damaged log only loses this line of provenance
            continue
        for name, u in log.get("units", {}).items():
            if u.get("status") == "done" and any(fnmatch.fnmatchcase(name, p) for p in pats):
                units[name] = u
    groups: dict[tuple, dict[str, Any]] = {}
    for name, u in sorted(units.items()):
        g = groups.setdefault((u.get("device"), u.get("torch"), u.get("cuda")), {
            "device": u.get("device"), "torch": u.get("torch"), "cuda": u.get("cuda"), "units": [], "finished": ""})
        g["units"].append(name)
        g["finished"] = max(g["finished"], str(u.get("finished", "")))
    return list(groups.values())


def precision_line(cfg) -> str:
    """The arithmetic of this run's results, stated beside the device: paper A's training and
    evaluation precision (parameter ``precision`` resolved for the device) and whether its training
    is compiled, and paper B's inference precision with the reason when ``auto`` keeps it fp32."""
    dev = cfg.torch_device
    asked = cfg.get("precision") or "auto"
    a = describe_precision(resolve_precision(asked, dev))
    comp = [arch for arch in cfg.get("archs", []) if COMPILE_PAYS.get((dev.type, arch))] if cfg.get("compile") else []
    a += f", torch.compile for {', '.join(comp)}" if comp else ", eager"
    b = describe_precision(inference_precision(cfg))
    if asked == "auto" and not PAPER_B_BF16_OK and resolve_precision("auto", dev) == "bf16":
        b += (" (not bf16: its precision check found bf16 and fp32 top-1 answers differing on unchanged "
              "selected images, and paper B would count such differences as few-pixel flips)")
    return f"parameter precision={asked}; paper A training and evaluation: {a}; paper B inference: {b}"


def info(cfg, data_sources: list[str | Path] | None = None) -> dict[str, Any]:
    """Everything needed to repeat the run, as a dict."""
    # deferred: torchvision is slow to import; only the version is read here
    import torchvision


    dev = cfg.torch_device
    params = {k: v for k, v in cfg.items() if not k.startswith("_")}
    return {
        "notebook": cfg.notebook,
        "profile": cfg.profile,
        "seed": cfg.seed,
        "device": describe_device(dev),
        "precision": precision_line(cfg),
        "computed_by": computed_by(cfg),
        "data": [data_fingerprint(s) for s in (data_sources or [])],
        "versions": {"python": sys.version.split()[0], "torch": torch.__version__,
                     "torchvision": torchvision.__version__, "numpy": np.__version__,
                     "robustlab": __version__, "git": git_commit(), "platform": platform.platform()},
        "parameters": params,
        "wall_time_s": round(time.time() - cfg.get("_started", time.time()), 1),
    }


def show(cfg, data_sources: list[str | Path] | None = None) -> dict[str, Any]:
    """Display the provenance table (Markdown in Jupyter, text elsewhere) and record it."""
    meta = info(cfg, data_sources)
    record(cfg, "provenance", meta)
    comp = meta["computed_by"]
    where = "<br>".join(f"{g['device']} (torch {g['torch']}, CUDA {g['cuda'] or '—'}), finished {g['finished'][:10]}: "
                        f"{len(g['units'])} campaign unit(s)" for g in comp) or f"this run, on {meta['device']}"
    rows = [("profile", meta["profile"]), ("seed", meta["seed"]), ("results computed on", where),
            ("precision", meta["precision"]),
            ("data", "<br>".join(meta["data"]) or "—"), ("wall time", f"{meta['wall_time_s']} s"),
            ("versions", ", ".join(f"{k} {v}" for k, v in meta["versions"].items())),
            ("parameters", ", ".join(f"{k}={v}" for k, v in meta["parameters"].items()
                                     if k not in ("notebook",)))]
    text = "**Provenance of this page**\n\n| | |\n|---|---|\n" + "\n".join(f"| {k} | {v} |" for k, v in rows)
    try:
        # deferred: IPython only where a notebook displays
        from IPython.display import Markdown, display

        display(Markdown(text))
    except ImportError:  # pragma: no cover
        print(text)
    return meta
