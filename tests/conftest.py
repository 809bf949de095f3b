"""Shared fixtures: the real shared data, a results folder per test session, and a papermill runner."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

# Tests never download (they run the same with or without internet): the download path is tested
# against a loopback server in tests/test_download.py, which lifts this for its own runs.
os.environ.setdefault("ROBUSTLAB_OFFLINE", "1")


def _shared_data() -> Path | None:
    for cand in (os.environ.get("ROBUSTLAB_SHARED_DATA"), REPO.parent / "shared" / "data"):
        if cand and Path(cand, "cifar10").is_dir():
            return Path(cand).resolve()
    return None


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data`` (the real CIFAR-10 tar, Imagenette, MobileNetV2); skipped only where absent."""
    p = _shared_data()
    if p is None:
        pytest.skip("../shared/data is not present on this machine")
    return p


@pytest.fixture(scope="session")
def cache_dir() -> Path:
    """Decoded-image cache kept between test runs (``$ROBUSTLAB_CACHE`` or ``<repo>/data/cache``)."""
    p = Path(os.environ.get("ROBUSTLAB_CACHE") or REPO / "data" / "cache")
    p.mkdir(parents=True, exist_ok=True)
    return p


@pytest.fixture(scope="session")
def nb_results(tmp_path_factory) -> Path:
    """One results folder for all notebook tests of a session, so later notebooks reuse earlier models."""
    return tmp_path_factory.mktemp("nb_results")


@pytest.fixture(scope="session")
def run_notebook(shared_data, cache_dir, nb_results, tmp_path_factory):
    """Run ``notebooks/<name>.ipynb`` under papermill (profile tiny unless given) and return its records.

    Usage: ``records = run_notebook("03_noise_training", epochs=1)``.
    """
    import papermill as pm

    from robustlab.book.provenance import read_records

    out_dir = tmp_path_factory.mktemp("nb_out")

    def run(name: str, **params):
        params.setdefault("profile", "tiny")
        params.setdefault("data_dir", str(shared_data))
        params.setdefault("cache_dir", str(cache_dir))
        params.setdefault("results_dir", str(nb_results))
        os.environ["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"  # figures into outputs
        pm.execute_notebook(str(REPO / "notebooks" / f"{name}.ipynb"), str(out_dir / f"{name}.ipynb"),
                            parameters=params, kernel_name="python3", cwd=str(REPO), progress_bar=False)
        return read_records(Path(params["results_dir"]) / params["profile"] / "records" / f"{name}.json")

    return run


@pytest.fixture
def one_thread():
    """Tiny nets are overhead-bound: one torch thread is faster and immune to a busy machine."""
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
