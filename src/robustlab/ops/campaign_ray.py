"""The campaign on a Ray cluster: its units as Ray tasks, independent ones at once.

::

    ray start --head --port 6379                  # on one machine (the head)
    ray start --address HEAD:6379                 # on every other machine (the workers)
    python -m robustlab.campaign --profile paper --executor ray --address HEAD:6379 [--gpus-per-unit 1]
    python -m robustlab.campaign --profile tiny --executor ray                 # a local Ray instance
    python -m robustlab.campaign --profile paper --executor ray --dry-run      # + a projection on N GPUs

**What a unit needs.** Every unit of :func:`robustlab.ops.campaign.units` becomes one Ray task asking for
``--gpus-per-unit`` GPUs (default 1 when the cluster has a GPU, 0 otherwise; a fraction such as 0.5
puts two units on one GPU) and ``--cpus-per-unit`` CPUs (default 1; its torch threads). A task also
needs, on its node: robustlab and torch installed (the same versions as the driver), the data
(``--data-dir``, the same path on every node, or ``$ROBUSTLAB_DATA`` set there before ``ray start``),
and the results of the units it depends on. It starts only when those are done: ``Unit.deps`` (an
evaluation or an attack after the training of its models, the paper-B experiments after the image
selection) and ``Unit.after`` (a unit that would otherwise compute the same cells again). Among the
units that are ready, the campaign's priority order decides; at most as many run as the cluster has
room for, so "running" below means running.

**Where results go.** With a shared results folder (default) every task writes into it through the
results store, whose per-key locks and atomic renames let many processes share one folder; the
folder must be at the same path on every node (the driver checks each node first). Without one
(``--no-shared-fs``) a task computes into a private folder on its node (seeded with the driver's
results and those of the units it depends on), packs what is new (:mod:`robustlab.ops.pack`: checksums,
plain data only) and returns the bytes; the driver verifies them and writes them into the results
folder. Either way only the driver writes ``campaign/log.json``.

**Failures.** A task whose worker dies (killed, out of memory, a lost node) is retried
(``--max-retries``, default 3) and resumes from what is stored: finished pieces are kept and training
resumes from its last checkpoint (:mod:`robustlab.paper_a.training`; in a private folder only when the
retry lands on the same node). A unit that raises an error is not retried: it is reported and the units
that need it are skipped. ``--until`` works as for the serial runner: no unit starts after the
deadline and running ones checkpoint at it.

**The driver** (this process) starts a local Ray instance without ``--address``, or connects to the
cluster at ``--address`` (``auto``: the one ``ray start`` started on this machine or ``$RAY_ADDRESS``),
first checking with a plain TCP connection that something listens there, so a wrong address fails in
seconds, not after Ray's long retries. It prints one line per unit started and finished and, after
each, units done / running / left and an ETA from the FLOPs done so far.

Test hook: ``ROBUSTLAB_RAY_TEST_DIE=<unit>:<marker file>`` makes the first attempt of ``<unit>`` stop
after its first checkpoint (a deadline that has passed) and kill its worker process (``os._exit``),
creating the marker so that the retry does not die again.
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import json
import math
import os
import shutil
import socket
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch

from robustlab.core import budget
from robustlab.core.errors import DeadlineReached, ParameterError, RobustlabError
from robustlab.core.params import Config
from robustlab.core.results import atomic_write_text
from robustlab.ops import campaign
from robustlab.ops.log import log_call, read_log, write_log
from robustlab.ops.pack import pack, unpack

__all__ = ["run_ray", "connect", "check_address", "import_ray", "project", "print_projection",
           "DEFAULT_MAX_RETRIES", "ASSUMED_TFLOPS", "INSTALL_HINT", "TEST_DIE_ENV"]

#: ``pip install`` line for the optional extra
INSTALL_HINT = 'pip install "robustlab[ray]"'
#: retries of a unit whose worker died (Ray ``max_retries``)
DEFAULT_MAX_RETRIES = 3
#: sustained TFLOP/s of one GPU assumed by the projections (the same figure as ``--dry-run``'s total)
ASSUMED_TFLOPS = 100.0
#: seconds to wait for a TCP connection to the cluster's address before calling it unreachable
PROBE_TIMEOUT_S = 3.0
#: connection attempts (about one a second) of ray.init to an address where something listens
GCS_ATTEMPTS = 5
TEST_DIE_ENV = "ROBUSTLAB_RAY_TEST_DIE"
#: an HTTP/2 client connection preface and an empty SETTINGS frame: a gRPC server (Ray's GCS) answers
#: with a SETTINGS frame (frame type 4), which is what :func:`check_address` waits for
_H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"
_BIG = 2**40  # no size limit on a pack that travels through Ray's object store
_HEARTBEAT_S = 60.0


# --------------------------------------------------------------------------------------
# Ray: import and connection
# --------------------------------------------------------------------------------------
def import_ray():
    """The ``ray`` module, or a RobustlabError saying how to install it."""
    try:
        # deferred: Ray is an optional extra (robustlab[ray])
        import ray
    except ImportError as e:
        raise RobustlabError(f"--executor ray needs the ray package, which is not installed here ({e}); "
                             f"install it with: {INSTALL_HINT}") from None
    return ray


def _host_port(address: str) -> tuple[str, int]:
    a = address.strip()
    for scheme in ("ray://", "http://", "https://"):
        if a.startswith(scheme):
            a = a[len(scheme):]
    a = a.rstrip("/")
    host, sep, port = a.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ParameterError(f"--address {address!r} is not HOST:PORT (e.g. 10.0.0.1:6379, the address "
                             f"`ray start --head` prints) nor 'auto'")
    return host.strip("[]"), int(port)


def check_address(address: str, timeout: float = PROBE_TIMEOUT_S) -> str:
    """Check within ``timeout`` seconds that a gRPC server (a Ray cluster's GCS) answers at ``address``
    (``HOST:PORT``, ``ray://HOST:PORT`` or ``auto``): a TCP connection, then the HTTP/2 preface
    answered by a SETTINGS frame (only the connection with ``RAY_USE_TLS=1``). Returns the address
    ``ray.init`` gets; ``auto`` is resolved the way Ray resolves it (``$RAY_ADDRESS``, else the cluster
    ``ray start`` started on this machine). Raises RobustlabError naming the address and the fix: Ray
    itself retries for minutes at an address where nothing, or something else, listens."""
    fix = ("start the cluster with `ray start --head --port 6379` on the head machine (and `ray start "
           "--address HEAD:6379` on the others), or pass the address it printed: --address HEAD_IP:6379")
    target = address
    if address.strip() == "auto":
        ray = import_ray()
        try:
            # deferred: Ray is an optional extra (robustlab[ray])
            from ray._private.services import canonicalize_bootstrap_address

            target = canonicalize_bootstrap_address("auto")
        except (ConnectionError, ValueError) as e:
            raise RobustlabError(f"--address auto: no running Ray cluster found on this machine ({e}); {fix}") from None
        except (ImportError, AttributeError):  # a Ray without this helper: let ray.init find it
            return "auto"
        del ray
        if target is None:
            raise RobustlabError(f"--address auto: no running Ray cluster found on this machine; {fix}")
    host, port = _host_port(target)
    shown = target if target == address else f"{target} (from --address {address})"
    t0 = time.monotonic()
    try:
        sock = socket.create_connection((host, port), timeout=timeout)
    except OSError as e:
        why = "timed out" if isinstance(e, socket.timeout) else (e.strerror or type(e).__name__)
        raise RobustlabError(f"cannot reach the Ray cluster at {shown}: {why} after "
                             f"{time.monotonic() - t0:.1f} s. Is the address right and is the cluster up? "
                             f"{fix}") from None
    with sock:
        if os.environ.get("RAY_USE_TLS", "0").strip().lower() in ("1", "true"):
            return address if address.strip() != "auto" else target
        head = b""
        try:
            sock.settimeout(max(0.1, timeout - (time.monotonic() - t0)))
            sock.sendall(_H2_PREFACE)
            while len(head) < 9:
                got = sock.recv(9 - len(head))
                if not got:
                    break
                head += got
        except OSError:
            pass
        if len(head) < 9 or head[3] != 0x04:
            raise RobustlabError(
                f"something listens at {shown}, but it is not a Ray cluster (no gRPC answer within {timeout:g} s). "
                f"Is it the port `ray start --head` printed (default 6379)? {fix}")
    return address if address.strip() != "auto" else target


def connect(address: str | None = None, num_cpus: int | None = None, num_gpus: int | None = None) -> bool:
    """Connect this process to Ray: to the cluster at ``address`` (checked first, see
    :func:`check_address`), or a new local instance with ``num_cpus``/``num_gpus`` (None: what the
    machine has). Returns whether this call connected (so the caller shuts it down); an already
    connected process keeps its connection."""
    ray = import_ray()
    target = check_address(address) if address else None
    if ray.is_initialized():
        return False
    kw: dict[str, Any] = {"include_dashboard": False, "configure_logging": True, "logging_level": "warning"}
    if target is None:
        ray.init(address="local", num_cpus=num_cpus, num_gpus=num_gpus, **kw)
        return True
    # something listens there; if it is no Ray cluster, Ray's connection attempts (one a second) end
    # after this many (unless set already; Ray's default is 20)
    os.environ.setdefault("RAY_gcs_server_port_wait_time_s", str(GCS_ATTEMPTS))
    try:
        ray.init(address=target, **kw)
    except (ConnectionError, RuntimeError, TimeoutError) as e:
        last = str(e).strip().splitlines()[-1] if str(e).strip() else type(e).__name__
        raise RobustlabError(f"something listens at {target}, but Ray could not connect to a cluster there ({last}); "
                             f"is it the port `ray start --head` printed (default 6379), and the same ray version "
                             f"({ray.__version__}) and auth token there? Check the address, or start the "
                             f"cluster with `ray start --head --port 6379`") from None
    return True


# --------------------------------------------------------------------------------------
# packs as bytes (no shared filesystem)
# --------------------------------------------------------------------------------------
def _pack_bytes(root: Path, only_new: bool, update_ledger: bool) -> dict[str, bytes] | None:
    """The results in ``root`` (only those new since its ledger with ``only_new``) as
    ``{file name: bytes}`` of one pack, or None when there is nothing to pack."""
    if not Path(root).is_dir():
        return None
    with tempfile.TemporaryDirectory(prefix="robustlab-pack-") as d:
        man = pack(root, d, max_files=3, max_bytes=_BIG, only_new=only_new, update_ledger=update_ledger)
        if man["left"]:
            raise RobustlabError(f"packing {root} left {len(man['left'])} results out: {man['left'][:3]}")
        if not man["members"]:
            return None
        return {p.name: p.read_bytes() for p in man["files"]}


def _unpack_bytes(files: dict[str, bytes], root: Path, update_ledger: bool) -> dict:
    """Verify and write a pack given as ``{file name: bytes}`` into ``root`` (:func:`robustlab.ops.pack.unpack`)."""
    with tempfile.TemporaryDirectory(prefix="robustlab-unpack-") as d:
        paths = []
        for name, data in files.items():
            if Path(name).name != name or name in ("", ".", ".."):
                raise RobustlabError(f"a returned pack holds a file named {name!r}; refused")
            (Path(d) / name).write_bytes(data)
            paths.append(Path(d) / name)
        return unpack(paths, root, update_ledger=update_ledger)


# --------------------------------------------------------------------------------------
# the task (runs on a worker)
# --------------------------------------------------------------------------------------
def _scratch_dir(spec: dict) -> Path:
    """The private results folder of a unit on this node: stable across retries (so a retry resumes
    from the checkpoint of a killed attempt), one per campaign configuration and unit."""
    cfg = {k: v for k, v in spec["cfg"].items() if not k.startswith("_") and k not in ("results_dir", "notebook")}
    h = hashlib.sha256(json.dumps(cfg, sort_keys=True, default=str).encode()).hexdigest()[:12]
    base = Path(spec.get("scratch") or tempfile.gettempdir())
    return base / "robustlab-ray" / f"{cfg.get('profile')}-{h}" / spec["name"]


def _run_unit(spec: dict, *inputs: dict | None) -> dict:
    """One unit, on a Ray worker. ``spec``: ``name``, ``cfg`` (the resolved parameters), ``shared_fs``,
    ``deadline`` (absolute ``time.time()`` or None), ``threads``, ``die_marker`` (test hook).
    ``inputs`` (no shared filesystem): the driver's results and the results of the units this one
    depends on, as packs. Returns ``{"name", "status": "done" | "partial" | "stored", "wall_s",
    "work", "machine", "node", "pack"}``; ``pack`` (no shared filesystem): what it computed."""
    os.environ["TQDM_DISABLE"] = "1"  # the driver reports progress; bars of many workers would interleave
    scratch = None if spec["shared_fs"] else _scratch_dir(spec)
    # the resolved parameters as the driver sent them; without a shared filesystem the worker's own
    # results folder is a private scratch folder (a new Config: the driver's is never changed)
    cfg = Config(spec["cfg"] if scratch is None else {**spec["cfg"], "results_dir": str(scratch)})
    threads = int(cfg.get("num_threads") or spec.get("threads") or 1)
    torch.set_num_threads(max(1, threads))
    if scratch is not None:
        for inp in inputs:
            if inp and inp.get("pack"):
                _unpack_bytes(inp["pack"], cfg.results, update_ledger=True)  # in the ledger: not packed back
    unit = {u.name: u for u in campaign.units(cfg)}.get(spec["name"])
    if unit is None:
        raise RobustlabError(f"unit {spec['name']} is not a unit of this configuration on this worker "
                             f"(are robustlab's versions the same on the driver and every node?)")
    machine = {**campaign._machine(), "precision": campaign._precision(cfg)}
    node = socket.gethostname()
    status, dt = "stored", 0.0
    if not unit.done(cfg):
        marker = spec.get("die_marker")
        dying = bool(marker) and not Path(marker).exists()
        deadline = time.time() - 1 if dying else spec.get("deadline")
        t0 = time.time()
        with budget.deadline_at(deadline):
            try:
                unit.run(cfg)
                status = "done"
            except DeadlineReached:
                status = "partial"
        dt = time.time() - t0
        if dying:
            Path(marker).parent.mkdir(parents=True, exist_ok=True)
            Path(marker).write_text(f"{spec['name']} killed its worker after {dt:.1f} s\n")
            os._exit(1)  # the test hook: this worker dies; Ray retries the task
    out = {"name": spec["name"], "status": status, "wall_s": dt, "work": list(unit.work(cfg)), "machine": machine,
           "node": node, "pack": None}
    if scratch is not None:
        out["pack"] = _pack_bytes(cfg.results, only_new=True, update_ledger=True)
        if status != "partial":  # a partial unit's checkpoint stays for a retry on this node
            shutil.rmtree(scratch, ignore_errors=True)
            for d in (scratch.parent, scratch.parent.parent):  # the campaign's folder, once empty
                try:
                    d.rmdir()
                except OSError:
                    break
    return out


def _node_check(marker: str | None, token: str) -> dict:
    """On one node: robustlab imports (this function ran at all) and, with a shared results folder,
    the driver's marker file is there with its token."""
    seen = None
    if marker:
        try:
            seen = Path(marker).read_text() == token
        except OSError:
            seen = False
    return {"node": socket.gethostname(), "shared": seen}


# --------------------------------------------------------------------------------------
# the driver
# --------------------------------------------------------------------------------------
def _resources(ray, gpus_per_unit: float | None, cpus_per_unit: float | None) -> tuple[float, float, int, dict]:
    """(GPUs, CPUs per unit, how many units fit at once, cluster totals); checks that a unit fits a node."""
    total = ray.cluster_resources()
    nodes = [n.get("Resources", {}) for n in ray.nodes() if n.get("Alive")]
    n_gpu, n_cpu = float(total.get("GPU", 0)), float(total.get("CPU", 0))
    g = (1.0 if n_gpu > 0 else 0.0) if gpus_per_unit is None else float(gpus_per_unit)
    c = 1.0 if cpus_per_unit is None else float(cpus_per_unit)
    if g < 0 or (g > 1 and g != int(g)):
        raise ParameterError(f"--gpus-per-unit {gpus_per_unit}: must be 0, a fraction up to 1 (0.5 = two units "
                             f"per GPU) or a whole number")
    if c <= 0 and g == 0:
        raise ParameterError(f"--cpus-per-unit {cpus_per_unit}: a unit needs a CPU or a GPU")
    if c < 0:
        raise ParameterError(f"--cpus-per-unit {cpus_per_unit}: must be >= 0")
    if not any(r.get("GPU", 0) >= g and r.get("CPU", 0) >= c for r in nodes):
        have = ", ".join(f"{r.get('GPU', 0):g} GPU/{r.get('CPU', 0):g} CPU" for r in nodes) or "no node"
        raise ParameterError(f"no node of the Ray cluster has {g:g} GPU and {c:g} CPU for one unit (nodes: {have}); "
                             f"lower --gpus-per-unit/--cpus-per-unit or add such a node")
    slots = min(math.floor(n_gpu / g + 1e-9) if g else 10**9, math.floor(n_cpu / c + 1e-9) if c else 10**9)
    return g, c, max(1, slots), {"GPU": n_gpu, "CPU": n_cpu}


def _check_nodes(ray, results: Path | None, timeout: float = 120.0) -> list[str]:
    """Run :func:`_node_check` on every alive node; raise naming a node that cannot import robustlab or
    (``results`` given: a shared results folder) does not see the driver's marker in it."""
    # deferred: Ray is an optional extra (robustlab[ray])
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy


    token = os.urandom(8).hex()
    marker = None
    if results is not None:
        marker = results / "campaign" / f".ray-shared-{token}"
        atomic_write_text(marker, token)
    try:
        fn = ray.remote(_node_check)
        refs = {n["NodeManagerAddress"]: fn.options(num_cpus=0, scheduling_strategy=NodeAffinitySchedulingStrategy(
            n["NodeID"], soft=False)).remote(str(marker) if marker else None, token)
            for n in ray.nodes() if n.get("Alive")}
        names = []
        for ip, ref in refs.items():
            try:
                got = ray.get(ref, timeout=timeout)
            except Exception as e:  # noqa: BLE001 - any failure to run there is reported the same way
                last = str(e).strip().splitlines()[-1] if str(e).strip() else ""
                raise RobustlabError(f"node {ip} of the Ray cluster cannot run a robustlab task ({type(e).__name__}: "
                                     f"{last}); install robustlab there (pip install -e . in the same checkout, "
                                     f"the same versions as here)") from None
            if marker is not None and not got["shared"]:
                raise RobustlabError(
                    f"node {ip} ({got['node']}) does not see the results folder {results} of this driver (its "
                    f"marker file is missing there): mount the shared folder at the same path on every node, "
                    f"or run with --no-shared-fs (the driver then writes every result)")
            names.append(got["node"])
        return names
    finally:
        if marker is not None:
            marker.unlink(missing_ok=True)


def _driver_cfg(cfg, shared_fs: bool) -> dict:
    """The parameters a worker gets: the resolved ones, with the folders given here made absolute
    (a worker's working directory is not this one); the shared results folder always."""
    items = dict(cfg)
    for k in ("data_dir", "cache_dir", "weights_dir"):
        if items.get(k):
            items[k] = str(Path(items[k]).expanduser().resolve())
    items["results_dir"] = str(Path(cfg.results).resolve().parent) if shared_fs else None
    return items


def _closure(name: str, edges: dict[str, tuple[str, ...]]) -> list[str]:
    seen: list[str] = []
    stack = list(edges.get(name, ()))
    while stack:
        d = stack.pop()
        if d not in seen:
            seen.append(d)
            stack.extend(edges.get(d, ()))
    return seen


def _fmt_s(s: float) -> str:
    return f"{s:.0f} s" if s < 120 else f"{s / 60:.1f} min" if s < 7200 else f"{s / 3600:.1f} h"


def run_ray(cfg, chosen: list, *, until: float | None = None, out: Callable[[str], None] = print,
            address: str | None = None, gpus_per_unit: float | None = None, cpus_per_unit: float | None = None,
            shared_fs: bool = True, max_retries: int = DEFAULT_MAX_RETRIES, num_cpus: int | None = None,
            num_gpus: int | None = None) -> dict:
    """Run the units of ``chosen`` that are not done as Ray tasks (see the module docstring).

    Returns ``{"done": [...], "partial": [...], "left": [...], "skipped": [...], "failed": {name: why}}``
    like :func:`robustlab.ops.campaign.run`. ``address``: the cluster (None: a local instance of
    ``num_cpus``/``num_gpus``); ``gpus_per_unit``/``cpus_per_unit``: what one unit asks for;
    ``shared_fs``: whether every node sees ``cfg.results`` (else results travel back to the driver).
    """
    if int(max_retries) < 0:
        raise ParameterError(f"--max-retries {max_retries}: must be >= 0")
    ray = import_ray()
    started = connect(address, num_cpus=num_cpus, num_gpus=num_gpus)
    try:
        g, c, slots, total = _resources(ray, gpus_per_unit, cpus_per_unit)
        if not budget.compute_allowed(cfg.profile, "cuda" if g > 0 else "cpu"):
            raise RobustlabError(
                f"computing is refused: {budget.NO_COMPUTE_ENV}=1, or the {cfg.profile} profile with units that get "
                f"no GPU (the cluster has {total['GPU']:g}); give the units GPUs (--gpus-per-unit) or set "
                f"{budget.NO_COMPUTE_ENV}=0 to compute on CPUs anyway")
        results = Path(cfg.results)
        results.mkdir(parents=True, exist_ok=True)
        nodes = _check_nodes(ray, results.resolve() if shared_fs else None)
        return _drive(ray, cfg, chosen, until=until, out=out, g=g, c=c, slots=slots, shared_fs=shared_fs,
                      max_retries=int(max_retries), nodes=nodes, address=address, campaign=campaign, dt=_dt)
    finally:
        if started:
            ray.shutdown()


def _drive(ray, cfg, chosen, *, until, out, g, c, slots, shared_fs, max_retries, nodes, address, campaign, dt):
    t_start = time.time()
    deadline = t_start + until if until is not None else None
    results = Path(cfg.results)
    every = {u.name: u for u in campaign.units(cfg)}

    def done_here(name: str) -> bool | None:
        try:
            return bool(every[name].done(cfg))
        except (RobustlabError, OSError) as e:  # e.g. no weights on the driver: the worker checks again
            out(f"note  {name}: cannot tell here whether it is done ({str(e).splitlines()[0][:160]}); a worker checks")
            return None

    state = {u.name: done_here(u.name) for u in chosen}
    todo = [u for u in chosen if state[u.name] is not True]
    todo_names = {u.name for u in todo}
    report: dict[str, Any] = {"done": [], "partial": [], "left": [], "skipped": [], "failed": {}}
    skip: dict[str, str] = {}
    for u in todo:  # a needed unit outside this call must be stored already (as the serial runner asks)
        missing = [d for d in u.deps if d in every and d not in todo_names and
                   (state.get(d) if d in state else done_here(d)) is not True]
        if missing:
            skip[u.name] = f"needs {', '.join(missing)} first"
    waits = {u.name: tuple(d for d in (*u.deps, *u.after) if d in todo_names) for u in todo}
    changed = True
    while changed:  # skipped units skip the units that need them
        changed = False
        for u in todo:
            if u.name not in skip:
                bad = [d for d in u.deps if d in skip]
                if bad:
                    skip[u.name] = f"needs {', '.join(bad)}, which cannot run now"
                    changed = True
    for u in todo:
        if u.name in skip:
            out(f"skip  {u.name}: {skip[u.name]}")
            report["skipped"].append(u.name)
    pending = [u for u in todo if u.name not in skip]

    log = read_log(results)
    run_rec = {"started": dt.datetime.now().isoformat(timespec="seconds"), "until_s": until, "units": [],
               "executor": "ray", "address": address or "local", "shared_fs": shared_fs, "gpus_per_unit": g,
               "cpus_per_unit": c, "slots": slots, "nodes": nodes}
    log["runs"].append(run_rec)
    write_log(results, log)
    out(f"ray   {len(nodes)} node(s), {slots} unit(s) at once ({g:g} GPU, {c:g} CPU each), "
        f"{'a shared results folder' if shared_fs else 'results returned to this driver'}; "
        f"{len(pending)} unit(s) to run, {len(chosen) - len(todo)} already done")

    base_ref = None
    if not shared_fs:  # what the driver has (a resumed campaign): every task starts from it
        base = _pack_bytes(results, only_new=False, update_ledger=False)
        base_ref = ray.put({"pack": base}) if base else None
    task = ray.remote(_run_unit)
    die_unit, _, die_marker = os.environ.get(TEST_DIE_ENV, "").partition(":")
    edges = {u.name: (*u.deps, *u.after) for u in todo}
    finished: dict[str, str] = {}  # name -> done | partial | failed
    refs: dict[str, Any] = {}  # name -> the ObjectRef of its result (inputs of the units after it)
    inflight: dict[Any, str] = {}
    t_of: dict[str, float] = {}
    flops_done, last_line = 0.0, time.time()
    flops_left = {u.name: float(u.work(cfg)[1]) for u in pending}

    def progress_line() -> None:
        nonlocal last_line
        el = time.time() - t_start
        left = [n for n in flops_left if n not in finished]
        eta = (f"ETA {_fmt_s(sum(flops_left[n] for n in left) / (flops_done / el))} at the "
               f"{flops_done / el / 1e12:.3g} TFLOP/s achieved so far" if flops_done > 0 and left else
               "ETA after the first unit" if left else "nothing left")
        out(f"      {len(report['done'])} done, {len(inflight)} running, {len(left) - len(inflight)} waiting "
            f"of {len(pending)}; {_fmt_s(el)} elapsed, {eta}")
        last_line = time.time()

    def ready(u) -> bool:
        for d in waits[u.name]:
            if d in skip:
                continue
            st = finished.get(d)
            if st is None or st == "partial" or (st == "failed" and d in u.deps):
                return False
        return True

    news = False  # a unit finished since the last progress line
    try:
        while True:
            past = deadline is not None and time.time() >= deadline and (report["done"] or inflight)
            for u in pending:
                if len(inflight) >= slots or past:
                    break
                if u.name in finished or u.name in refs or not ready(u):
                    continue
                if any(finished.get(d) == "failed" for d in u.deps):
                    continue
                inputs = []
                if not shared_fs:
                    inputs = [base_ref] + [refs[d] for d in _closure(u.name, edges) if finished.get(d) == "done"]
                spec = {"name": u.name, "cfg": _driver_cfg(cfg, shared_fs), "shared_fs": shared_fs,
                        "deadline": deadline, "threads": max(1, int(c)),
                        "die_marker": die_marker if die_unit == u.name and die_marker else None}
                ref = task.options(num_gpus=g, num_cpus=c, max_retries=max_retries, retry_exceptions=False,
                                   name=u.name).remote(spec, *inputs)
                refs[u.name], inflight[ref], t_of[u.name] = ref, u.name, time.time()
                out(f"start {u.name}: {u.what}")
            if news or (inflight and time.time() - last_line >= _HEARTBEAT_S):
                progress_line()
                news = False
            if not inflight:
                break
            got, _ = ray.wait(list(inflight), num_returns=1, timeout=_HEARTBEAT_S)
            if not got:
                continue
            news = True
            ref = got[0]
            name = inflight.pop(ref)
            try:
                res = ray.get(ref)
            except ray.exceptions.RayError as e:
                why = str(getattr(e, "cause", None) or e).strip().splitlines()
                msg = why[-1] if why else type(e).__name__
                finished[name] = "failed"
                report["failed"][name] = msg
                refs.pop(name, None)
                out(f"FAIL  {name}: {msg}")
                _log_unit(campaign, log, run_rec, results, name, "failed", time.time() - t_of[name], None)
                continue
            _finish(ray, cfg, campaign, log, run_rec, results, every[name], res, shared_fs, report, finished, out,
                    done_here)
            if finished[name] != "done":
                refs.pop(name, None)
            else:
                flops_done += flops_left.get(name, 0.0)
    except KeyboardInterrupt:
        for ref in inflight:
            ray.cancel(ref, force=True)
        out("interrupted: running units were cancelled; what they stored is kept (training resumes from its "
            "checkpoint); run the same command again to go on")
        raise
    finally:
        run_rec["ended"] = dt.datetime.now().isoformat(timespec="seconds")
        run_rec["wall_s"] = round(time.time() - t_start, 2)
        write_log(results, log)
    for u in pending:  # never started: say why
        if u.name not in refs and u.name not in finished:
            held = [f"{d} ({finished[d]})" for d in waits[u.name] if finished.get(d) in ("failed", "partial")]
            out(f"wait  {u.name}: not started, " + (f"needs {', '.join(held)}" if held else "the deadline passed"))
    report["left"] = [u.name for u in chosen if finished.get(u.name) != "done" and state[u.name] is not True]
    return report


def _log_unit(campaign, log, run_rec, results, name, status, dt, res) -> None:
    res = res or {}
    work = res.get("work") if status == "done" else None
    log_call(log, run_rec, name, status, dt, res.get("machine") or {}, work, node=res.get("node"))
    write_log(results, log)


def _finish(ray, cfg, campaign, log, run_rec, results, unit, res, shared_fs, report, finished, out, done_here) -> None:
    """Take a finished task's result: write its pack (no shared filesystem), check that the unit's
    results are stored, log it, print it."""
    name = unit.name
    if res.get("pack"):
        rep = _unpack_bytes(res["pack"], results, update_ledger=False)
        if rep["conflicts"]:
            out(f"note  {name}: {len(rep['conflicts'])} result(s) were already here with other bytes (computed twice); "
                f"kept the ones here: {[c['path'] for c in rep['conflicts'][:3]]}")
    status = res["status"]
    if status == "partial":
        finished[name] = "partial"
        report["partial"].append(name)
        _log_unit(campaign, log, run_rec, results, name, "partial", res["wall_s"], res)
        out(f"pause {name}: deadline reached after {res['wall_s']:.1f} s on {res['node']}; checkpointed, the next "
            f"call resumes it")
        return
    if done_here(name) is False:
        why = ("its results are not in the results folder this driver sees; is it really shared? (else run with "
               "--no-shared-fs)" if shared_fs else "the results it returned do not complete it")
        finished[name] = "failed"
        report["failed"][name] = why
        _log_unit(campaign, log, run_rec, results, name, "failed", res["wall_s"], res)
        out(f"FAIL  {name}: {why}")
        return
    finished[name] = "done"
    report["done"].append(name)
    if status == "stored":
        out(f"done  {name}: already stored (found by the worker on {res['node']})")
        return
    _log_unit(campaign, log, run_rec, results, name, "done", res["wall_s"], res)
    wall = log["units"][name]["wall_s"]
    n_img, flops = res["work"]
    out(f"done  {name}  {wall:8.1f} s  {campaign._fmt_rate(n_img, flops, wall)}  on {res['node']}")


# --------------------------------------------------------------------------------------
# projection
# --------------------------------------------------------------------------------------
def project(cfg, chosen: Sequence, n_gpus: int, tflops: float = ASSUMED_TFLOPS,
            done: dict[str, bool] | None = None) -> dict:
    """A projection, not a measurement: the wall time of ``chosen`` (those not ``done``) on ``n_gpus``
    GPUs, one unit per GPU, each sustaining ``tflops`` TFLOP/s on every unit (a unit's time = its FLOP
    estimate / that rate; start-up, data loading and transfers are not counted). Units start as
    :func:`run_ray` starts them: in priority order as soon as a GPU is free and the units before them
    (``deps``, ``after``) have finished. Returns ``{"wall_s", "critical_path_s", "serial_s", "n_units"}``."""
    done = done or {}
    todo = [u for u in chosen if not done.get(u.name)]
    names = {u.name for u in todo}
    secs = {u.name: float(u.work(cfg)[1]) / (tflops * 1e12) for u in todo}
    waits = {u.name: [d for d in (*u.deps, *u.after) if d in names] for u in todo}
    end: dict[str, float] = {}
    free = [0.0] * max(1, int(n_gpus))
    left = list(todo)
    now = 0.0
    while left:
        free.sort()
        now = max(now, free[0])
        started = False
        for u in left:
            if all(d in end and end[d] <= now for d in waits[u.name]):
                end[u.name] = now + secs[u.name]
                free[0] = end[u.name]
                left.remove(u)
                started = True
                break
        if not started:  # nothing ready at this time: wait for the next unit to finish
            later = [t for t in end.values() if t > now]
            if not later:
                raise ValueError(f"units wait for each other in a cycle: {[u.name for u in left][:5]}")
            now = min(later)
            free[0] = max(free[0], now)
    crit: dict[str, float] = {}
    for u in todo:  # priority order is a topological order
        crit[u.name] = secs[u.name] + max((crit[d] for d in waits[u.name]), default=0.0)
    return {"wall_s": max(end.values(), default=0.0), "critical_path_s": max(crit.values(), default=0.0),
            "serial_s": sum(secs.values()), "n_units": len(todo)}


def print_projection(cfg, chosen: Sequence, done: dict[str, bool], out=print,
                     gpus: Sequence[int] = (1, 2, 4, 8, 16, 32)) -> None:
    """Print :func:`project` for several cluster sizes (the ``--dry-run --executor ray`` table)."""
    out(f"projection (not a measurement: each GPU assumed to sustain {ASSUMED_TFLOPS:g} TFLOP/s on every unit, "
        f"one unit per GPU, FLOPs from the estimates above):")
    for n in gpus:
        p = project(cfg, chosen, n, done=done)
        out(f"  {n:3d} GPU{'s' if n > 1 else ' '}: {_fmt_s(p['wall_s']):>9s}  ({p['n_units']} units; critical path "
            f"{_fmt_s(p['critical_path_s'])}, one GPU {_fmt_s(p['serial_s'])})")
