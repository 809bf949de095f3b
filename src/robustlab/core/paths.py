"""Where data, caches and results live.

One setting each, resolved in this order: an explicit argument, else an environment
variable, else a folder under the current working directory.

=============  =====================  =================
what           environment variable   default
=============  =====================  =================
data           ``ROBUSTLAB_DATA``     ``./data``
decode cache   ``ROBUSTLAB_CACHE``    ``./data/cache``
results        ``ROBUSTLAB_RESULTS``  ``./results``
published      ``ROBUSTLAB_PUBLISHED``  ``<repository>/published`` (tracked; read-only fallback)
=============  =====================  =================

The data folder may be read-only (``../shared/data`` is): decoded caches go to the cache folder.
"""
from __future__ import annotations

import os
from pathlib import Path

DATA_ENV = "ROBUSTLAB_DATA"
CACHE_ENV = "ROBUSTLAB_CACHE"
RESULTS_ENV = "ROBUSTLAB_RESULTS"
PUBLISHED_ENV = "ROBUSTLAB_PUBLISHED"


def data_root(data_dir: str | os.PathLike | None = None) -> Path:
    """The data folder: ``data_dir``, else ``$ROBUSTLAB_DATA``, else ``./data``."""
    if data_dir is not None and str(data_dir) != "":
        return Path(data_dir).expanduser()
    env = os.environ.get(DATA_ENV)
    return Path(env).expanduser() if env else Path("data")


def cache_root(cache_dir: str | os.PathLike | None = None) -> Path:
    """Folder for decoded-image caches: ``cache_dir``, else ``$ROBUSTLAB_CACHE``, else ``./data/cache``."""
    if cache_dir is not None and str(cache_dir) != "":
        p = Path(cache_dir).expanduser()
    else:
        env = os.environ.get(CACHE_ENV)
        p = Path(env).expanduser() if env else Path("data") / "cache"
    p.mkdir(parents=True, exist_ok=True)
    return p


def results_root(results_dir: str | os.PathLike | None = None, profile: str | None = None) -> Path:
    """Results folder of a profile: ``results_dir`` (else ``$ROBUSTLAB_RESULTS``, else ``./results``) / profile."""
    if results_dir is not None and str(results_dir) != "":
        base = Path(results_dir).expanduser()
    else:
        env = os.environ.get(RESULTS_ENV)
        base = Path(env).expanduser() if env else Path("results")
    return base / profile if profile else base


def published_root(profile: str | None = None) -> Path:
    """Published results of a finished campaign (``$ROBUSTLAB_PUBLISHED``, else the repository's
    tracked ``published/`` folder, else ``./published``) / profile. The results store reads it as a
    read-only fallback, so the book renders a GPU run's numbers on any machine."""
    env = os.environ.get(PUBLISHED_ENV)
    if env:
        base = Path(env).expanduser()
    else:
        repo = Path(__file__).resolve().parents[3]  # src/robustlab/core/paths.py → the repository (editable install)
        base = repo / "published" if (repo / "pyproject.toml").exists() else Path("published")
    return base / profile if profile else base
