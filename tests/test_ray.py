"""The campaign on a Ray cluster (``robustlab.campaign_ray``), on a local 2-CPU Ray instance: the same
results as the serial runner with a shared results folder and with the driver writing them; a worker
killed in the middle of a training is retried and resumes from its checkpoint; a deadline pauses and
the next call resumes; the order the parallel executor relies on (``Unit.deps``/``Unit.after``) is
checked against what a traced serial run really reads; a wrong address fails in seconds.

CPU results are bit-identical for the same torch thread count only (paper B's fine-tuning differs in the
last bits between 1 and 2 threads), and a Ray unit gets ``--cpus-per-unit`` (1) threads, so the serial
reference runs with ``num_threads=1``."""
from __future__ import annotations

import contextlib
import io
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

ray = pytest.importorskip("ray")

from helpers import environ  # noqa: E402
from robustlab.core.params import resolve  # noqa: E402
from robustlab.core.results import ResultStore, config_hash, load_result, read_header  # noqa: E402
from robustlab.ops import campaign, campaign_ray  # noqa: E402
from test_campaign import _equal, _results  # noqa: E402 - compared the way test_campaign compares runs

REPO = Path(__file__).resolve().parents[1]
RESNET = "a-*-resnet-*"  # one architecture's training, evaluation and attack units


@pytest.fixture(scope="module")
def ray_env(shared_data, cache_dir, tmp_path_factory):
    """Data and cache for the driver and (inherited when Ray starts) its workers; no published fallback."""
    with environ(ROBUSTLAB_DATA=str(shared_data), ROBUSTLAB_CACHE=str(cache_dir), TQDM_DISABLE="1",
                 ROBUSTLAB_PUBLISHED=str(tmp_path_factory.mktemp("nothing-published")),
                 **{campaign_ray.TEST_DIE_ENV: None}):
        yield


@pytest.fixture(scope="module")
def reference(ray_env, tmp_path_factory):
    """The whole tiny campaign, serial, one torch thread, with every store access traced per unit:
    ``(results folder, {key: unit that wrote it}, {unit: keys it read})``."""
    root = tmp_path_factory.mktemp("ray_ref")
    cfg = resolve("campaign", {"profile": "tiny", "results_dir": str(root), "num_threads": 1})
    current: list[str | None] = [None]
    writes: dict[str, str] = {}
    reads: dict[str, set[str]] = {}
    get, has, put = ResultStore.get, ResultStore.has, ResultStore.put

    def key(kind, conf):
        return f"{kind}/{config_hash(conf)}"

    def t_get(self, kind, conf, *a, **k):
        if current[0]:
            reads.setdefault(current[0], set()).add(key(kind, conf))
        return get(self, kind, conf, *a, **k)

    def t_has(self, kind, conf):
        if current[0]:
            reads.setdefault(current[0], set()).add(key(kind, conf))
        return has(self, kind, conf)

    def t_put(self, kind, conf, payload):
        if current[0]:
            writes.setdefault(key(kind, conf), current[0])
        return put(self, kind, conf, payload)

    def traced(u):
        def run(c):
            current[0] = u.name
            try:
                return u.run(c)
            finally:
                current[0] = None
        return campaign.Unit(u.name, u.part, u.what, run, u.done, u.work, u.deps, u.after)

    threads = torch.get_num_threads()
    try:
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(ResultStore, "get", t_get)
            mp.setattr(ResultStore, "has", t_has)
            mp.setattr(ResultStore, "put", t_put)
            rep = campaign.run(cfg, [traced(u) for u in campaign.units(cfg)], out=lambda *_: None)
    finally:
        torch.set_num_threads(threads)
    assert not rep["left"] and not rep["skipped"], rep
    return root / "tiny", writes, reads


@pytest.fixture(scope="module")
def ray_local(ray_env):
    """One local Ray instance with 2 CPUs for the module (started after the environment is set, so
    its workers inherit it)."""
    ray.init(address="local", num_cpus=2, num_gpus=0, include_dashboard=False, logging_level="warning")
    yield
    ray.shutdown()


def _main(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = campaign.main(list(args))
    return rc, out.getvalue(), err.getvalue()


def _same(ref: Path, got: Path, subset: bool = False) -> None:
    a, b = _results(ref), _results(got)
    if subset:
        a = {k: v for k, v in a.items() if k in b}
    assert a.keys() == b.keys(), sorted(set(a) ^ set(b))[:10]
    diff = [k for k in a if not _equal(a[k], b[k])]
    assert not diff, f"results differ from the serial run: {diff[:5]}"


def _closure(name: str, edges: dict[str, tuple[str, ...]]) -> set[str]:
    seen, stack = set(), list(edges.get(name, ()))
    while stack:
        d = stack.pop()
        if d not in seen:
            seen.add(d)
            stack.extend(edges.get(d, ()))
    return seen


def test_declared_order_covers_every_result_a_unit_reads(reference):
    """Every stored result a unit reads that another unit wrote comes from a unit it waits for
    (``deps`` or ``after``, transitively): run in parallel, no unit computes another's results again."""
    _, writes, reads = reference
    cfg = resolve("campaign", {"profile": "tiny"})
    us = campaign.units(cfg)
    edges = {u.name: (*u.deps, *u.after) for u in us}
    missing, cross = {}, 0
    for u in us:
        others = {writes[k] for k in reads.get(u.name, ()) if k in writes and writes[k] != u.name}
        cross += len(others)
        bad = others - _closure(u.name, edges)
        if bad:
            missing[u.name] = sorted(bad)
    assert cross > 20, "the trace saw (almost) no unit reading another's results"
    assert not missing, f"units read results of units they do not wait for: {missing}"
    # and the order is a real order: nothing waits for a unit declared after it
    pos = {u.name: i for i, u in enumerate(us)}
    assert all(pos[d] < pos[u.name] for u in us for d in edges[u.name] if d in pos)


@pytest.mark.slow
@pytest.mark.parametrize("shared", [True, False], ids=["shared-folder", "driver-writes"])
def test_ray_campaign_equals_serial(reference, ray_local, tmp_path, shared):
    ref, _, _ = reference
    t0 = time.time()
    rc, out, err = _main("--profile", "tiny", "--results-dir", str(tmp_path), "--executor", "ray",
                         *([] if shared else ["--no-shared-fs"]))
    wall = time.time() - t0
    assert rc == 0, out[-3000:] + err[-3000:]
    _same(ref, tmp_path / "tiny")
    n = len(campaign.units(resolve("campaign", {"profile": "tiny"})))
    assert f"{n} unit(s) finished in this call; nothing left" in out
    # progress: units started and finished, done / running / waiting counts and an ETA
    assert out.count("\nstart ") + out.startswith("start ") == n and out.count("\ndone  ") == n
    assert "running" in out and "ETA" in out and f"{n} done, 0 running, 0 waiting of {n}" in out
    log = campaign.read_log(tmp_path / "tiny")
    assert {k for k, v in log["units"].items() if v["status"] == "done"} == {
        u.name for u in campaign.units(resolve("campaign", {"profile": "tiny"}))}
    run = log["runs"][-1]
    assert run["executor"] == "ray" and run["shared_fs"] is shared and run["slots"] == 2
    if not shared:  # the driver wrote them: not in the pack ledger, so a later --pack brings them home
        assert not (tmp_path / "tiny" / ".packed.json").exists()
    print(f"ray tiny campaign ({'shared folder' if shared else 'driver writes'}): {wall:.1f} s")


@pytest.mark.slow
@pytest.mark.parametrize("shared", [True, False], ids=["shared-folder", "driver-writes"])
def test_killed_worker_is_retried_and_resumes_from_its_checkpoint(reference, ray_local, tmp_path, monkeypatch,
                                                                  shared):
    ref, _, _ = reference
    marker = tmp_path / "died"
    monkeypatch.setenv(campaign_ray.TEST_DIE_ENV, f"a-train-resnet-noise:{marker}")
    rc, out, err = _main("--profile", "tiny", "--results-dir", str(tmp_path / "r"), "--executor", "ray",
                         "--only", RESNET, *([] if shared else ["--no-shared-fs"]))
    assert rc == 0, out[-3000:] + err[-3000:]
    assert marker.exists(), "the worker of a-train-resnet-noise was not killed"
    root = tmp_path / "r" / "tiny"
    _same(ref, root, subset=True)
    assert len(_results(root)) > 10
    resumed = []
    for p in (root / "cifar_train").glob("*.pt"):
        conf = read_header(p)["config"]
        h = load_result(p)["history"]
        if conf["kind"] == "noise":
            resumed.append(h["resumed_from_epoch"] > 0 or h["resumed_from_batch"] > 0)
    assert any(resumed), "the retried training started from scratch instead of its checkpoint"
    assert not list(root.glob("*_ckpt/*.pt")), "a checkpoint was left behind"
    assert "FAIL" not in out and "9 unit(s) finished in this call; nothing left" in out


@pytest.mark.slow
def test_deadline_pauses_and_the_next_call_resumes(reference, ray_local, tmp_path):
    ref, _, _ = reference
    args = ("--profile", "tiny", "--results-dir", str(tmp_path), "--executor", "ray", "--only", "a-train-resnet-noise")
    rc, out, err = _main(*args, "--until", "0")
    assert rc == 0 and "pause a-train-resnet-noise" in out and "resume: the same command" in out, out + err
    assert list((tmp_path / "tiny").glob("*_ckpt/*.pt")), "no checkpoint at the deadline"
    for _ in range(20):
        rc, out, err = _main(*args)
        assert rc == 0, out + err
        if "nothing left" in out:
            break
    assert campaign.read_log(tmp_path / "tiny")["units"]["a-train-resnet-noise"]["status"] == "done"
    _same(ref, tmp_path / "tiny", subset=True)


def test_bad_address_fails_fast_with_the_fix(ray_env):
    t0 = time.time()
    rc, out, err = _main("--profile", "tiny", "--executor", "ray", "--address", "127.0.0.1:1")
    assert rc == 1 and time.time() - t0 < 15
    assert "cannot reach the Ray cluster at 127.0.0.1:1" in err and "ray start --head" in err, err
    # something listens there but never answers like a Ray cluster (Ray itself would wait for minutes)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(4)
        addr = f"127.0.0.1:{s.getsockname()[1]}"
        t0 = time.time()
        rc, out, err = _main("--profile", "tiny", "--executor", "ray", "--address", addr)
    assert rc == 1 and time.time() - t0 < 15
    assert f"something listens at {addr}, but it is not a Ray cluster" in err and "ray start --head" in err, err
    rc, out, err = _main("--profile", "tiny", "--executor", "ray", "--address", "nohostport")
    assert rc == 2 and "is not HOST:PORT" in err
    rc, out, err = _main("--profile", "tiny", "--address", "127.0.0.1:6379")
    assert rc == 2 and "only go with --executor ray" in err


def test_a_unit_larger_than_every_node_is_refused(ray_local, tmp_path):
    rc, out, err = _main("--profile", "tiny", "--results-dir", str(tmp_path), "--executor", "ray",
                         "--gpus-per-unit", "1", "--only", "a-train-resnet-clean")
    assert rc == 2 and "no node of the Ray cluster has 1 GPU" in err, err
    assert not list(tmp_path.rglob("*.pt"))


def test_without_ray_the_serial_runner_works_and_ray_says_how_to_install(tmp_path):
    code = ("import sys\nsys.modules['ray'] = None  # import ray now raises ImportError\n"
            "from robustlab.ops import campaign\n"
            "assert campaign.main(['--profile', 'paper', '--dry-run', '--only', 'a-train-resnet-clean']) == 0\n"
            f"sys.exit(campaign.main(['--profile', 'tiny', '--executor', 'ray', '--results-dir', "
            f"{str(tmp_path)!r}]))\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                       env={**os.environ, "PYTHONPATH": str(REPO / "src")})
    assert r.returncode == 1, r.stdout[-2000:] + r.stderr[-2000:]
    assert 'pip install "robustlab[ray]"' in r.stderr and "a-train-resnet-clean" in r.stdout


def test_projection_of_the_paper_campaign():
    cfg = resolve("campaign", {"profile": "paper"})
    us = campaign.units(cfg)
    one = campaign_ray.project(cfg, us, 1)
    total = sum(u.work(cfg)[1] for u in us) / (campaign_ray.ASSUMED_TFLOPS * 1e12)
    assert one["wall_s"] == pytest.approx(total) == pytest.approx(one["serial_s"])
    walls = [campaign_ray.project(cfg, us, n)["wall_s"] for n in (1, 2, 4, 8, 16, 64, 1000)]
    assert walls == sorted(walls, reverse=True)
    for n, w in zip((1, 2, 4, 8, 16, 64, 1000), walls):
        assert w >= max(total / n, one["critical_path_s"]) - 1e-6
    assert walls[-1] == pytest.approx(one["critical_path_s"])  # enough GPUs: the longest chain
    assert campaign_ray.project(cfg, us, 8, done={u.name: True for u in us})["wall_s"] == 0
