"""The results store (issue 8 item 3): checksums, configuration checks, atomic writes, locking."""
from __future__ import annotations

import multiprocessing as mp
import os
import time
import warnings

import pytest
import torch

from robustlab.core import results as R
from robustlab.core.errors import CheckpointError

CFG = {"kind": "model", "arch": "resnet", "sigma": 0.1, "epochs": 2, "seed": 0}


def _payload():
    return {"w": torch.arange(1000, dtype=torch.float32), "acc": 0.5}


def test_roundtrip_and_header(tmp_path):
    store = R.ResultStore(tmp_path)
    p = store.put("model", CFG, _payload())
    assert p == store.path("model", CFG) and p.exists()
    got = store.get("model", CFG)
    assert torch.equal(got["w"], _payload()["w"]) and got["acc"] == 0.5
    head = R.read_header(p)
    assert head["config"] == R._canonical(CFG) and len(head["sha256"]) == 64


def test_numpy_scalars_in_config_are_canonical():
    np = pytest.importorskip("numpy")
    assert R.config_hash({"sigma": np.float64(0.1), "n": np.int64(3)}) == R.config_hash({"sigma": 0.1, "n": 3})


def _recomputes(store, path):
    calls = []

    def compute():
        calls.append(1)
        return _payload()

    with pytest.warns(UserWarning, match=str(path.name)):
        out = store.get_or_compute("model", CFG, compute)
    assert calls == [1] and torch.equal(out["w"], _payload()["w"])
    assert path.with_suffix(".pt.corrupt").exists()  # moved aside, not used and not lost
    R.load_result(path, CFG)  # the recomputed file is valid


def test_truncated_file_is_detected_and_recomputed(tmp_path):
    store = R.ResultStore(tmp_path)
    p = store.put("model", CFG, _payload())
    data = p.read_bytes()
    p.write_bytes(data[: len(data) - 100])
    with pytest.raises(CheckpointError, match=f"{p}.*truncated"):
        R.load_result(p, CFG)
    _recomputes(store, p)


def test_truncated_inside_header(tmp_path):
    store = R.ResultStore(tmp_path)
    p = store.put("model", CFG, _payload())
    p.write_bytes(p.read_bytes()[:20])
    with pytest.raises(CheckpointError, match=str(p)):
        R.load_result(p)


def test_altered_byte_fails_checksum(tmp_path):
    store = R.ResultStore(tmp_path)
    p = store.put("model", CFG, _payload())
    data = bytearray(p.read_bytes())
    data[-50] ^= 0xFF
    p.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match=f"{p}.*checksum"):
        R.load_result(p, CFG)
    _recomputes(store, p)


def test_file_of_another_configuration_is_not_used(tmp_path):
    store = R.ResultStore(tmp_path)
    other = dict(CFG, sigma=0.5)
    src = store.put("model", other, {"w": torch.zeros(3), "acc": 0.1})
    p = store.path("model", CFG)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(src.read_bytes())  # e.g. a file copied or renamed by hand
    with pytest.raises(CheckpointError, match=f"{p}.*another configuration"):
        R.load_result(p, CFG)
    _recomputes(store, p)


def test_not_a_result_file(tmp_path):
    p = tmp_path / "x.pt"
    p.write_bytes(b"garbage")
    with pytest.raises(CheckpointError, match="bad magic"):
        R.load_result(p)


def test_atomic_write_leaves_old_file_when_interrupted(tmp_path, monkeypatch):
    p = tmp_path / "r.pt"
    R.save_result(p, {"v": 1}, CFG)
    before = p.read_bytes()

    def boom(*a, **k):
        raise KeyboardInterrupt("killed during the rename")

    monkeypatch.setattr(R.os, "replace", boom)
    with pytest.raises(KeyboardInterrupt):
        R.save_result(p, {"v": 2}, CFG)
    monkeypatch.undo()
    assert p.read_bytes() == before  # the old file is intact ...
    assert [q.name for q in tmp_path.iterdir()] == ["r.pt"]  # ... and no temporary file is left
    assert R.load_result(p, CFG) == {"v": 1}


def test_atomic_write_text(tmp_path):
    p = tmp_path / "a" / "b.json"
    R.atomic_write_text(p, "hello")
    R.atomic_write_text(p, "world")
    assert p.read_text() == "world" and sorted(q.name for q in p.parent.iterdir()) == ["b.json"]


# --- two processes, one results folder ----------------------------------------------------
def _worker(root: str, log: str, barrier, n_keys: int, out_q) -> None:
    store = R.ResultStore(root)

    def compute(i):
        def f():
            with open(log, "a") as fh:  # one line per actual computation
                fh.write(f"{os.getpid()} {i}\n")
            time.sleep(0.2)  # long enough for the other process to arrive meanwhile
            return {"i": i, "w": torch.full((20000,), float(i))}
        return f

    barrier.wait()
    got = []
    for i in range(n_keys):
        r = store.get_or_compute("grid", {"cell": i}, compute(i))
        got.append((r["i"], float(r["w"].sum())))
    out_q.put(got)


@pytest.mark.slow
def test_two_processes_share_a_results_folder(tmp_path):
    ctx = mp.get_context("spawn")
    barrier, q = ctx.Barrier(2), ctx.Queue()
    log = tmp_path / "computed.log"
    n = 4
    procs = [ctx.Process(target=_worker, args=(str(tmp_path / "res"), str(log), barrier, n, q)) for _ in range(2)]
    for p in procs:
        p.start()
    outs = [q.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    expected = [(i, 20000.0 * i) for i in range(n)]
    assert outs == [expected, expected]  # both see the same, complete results
    lines = log.read_text().splitlines()
    assert sorted(int(line.split()[1]) for line in lines) == list(range(n))  # each cell computed once
    store = R.ResultStore(tmp_path / "res")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no file is corrupt
        for i in range(n):
            assert store.get("grid", {"cell": i})["i"] == i
    leftovers = [q.name for q in (tmp_path / "res" / "grid").iterdir() if not q.name.endswith((".pt", ".lock"))]
    assert leftovers == []
