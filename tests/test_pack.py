"""Packing results for the trip between machines: limits, splitting, ledger, and refusal of anything unsafe."""
from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch

from robustlab.core import results as R
from robustlab.core.errors import CheckpointError
from robustlab.ops import pack as P


def _sha(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and not p.name.startswith(".")}


def _fill(root: Path, n_eval=4, n_models=2, model_floats=3000, ckpt=True) -> R.ResultStore:
    store = R.ResultStore(root)
    g = torch.Generator().manual_seed(0)
    for i in range(n_eval):
        store.put("cifar_eval", {"i": i}, {"accuracy": 0.1 * i, "wrong": np.arange(50 * i) % 3 == 0})
    for i in range(n_models):
        store.put("cifar_model", {"i": i}, {"state_dict": {"w": torch.randn(model_floats + i, generator=g)}})
    if ckpt:
        store.put("cifar_model_ckpt", {"i": 0}, {"model": {"w": torch.randn(model_floats, generator=g)}, "epoch": 1})
    (root / "records").mkdir(parents=True, exist_ok=True)
    (root / "records" / "01_grid.json").write_text(json.dumps({"claims": [1, 2]}))
    (root / "campaign").mkdir(exist_ok=True)
    (root / "campaign" / "state.json").write_text(json.dumps({"done": ["a"]}))
    # never packed
    (root / "cifar_eval" / "0123456789abcdef.pt.lock").write_text("")
    (root / "cifar_eval" / "0123456789abcdef.pt.corrupt").write_bytes(b"junk")
    (root / "cifar_eval" / ".x.pt.123.tmp").write_bytes(b"junk")
    return store


def _check_limits(res, max_files, max_bytes):
    assert len(res["files"]) <= max_files
    assert all(f.stat().st_size <= max_bytes for f in res["files"])


def test_round_trip_is_byte_identical_and_grouped(tmp_path):
    root = tmp_path / "src" / "tiny"
    _fill(root)
    res = P.pack(root, tmp_path / "out")
    man = json.loads(res["manifest"].read_text())
    assert man["format"] == "robustlab-pack" and man["version"] == 1 and man["profile"] == "tiny" and man["created"]
    assert man["left"] == [] and [p["name"] for p in man["parts"]] == ["records-00.tar.gz", "weights-00.tar"]
    groups = {m["path"]: m["group"] for m in man["members"]}
    assert groups["records/01_grid.json"] == groups["campaign/state.json"] == "records"
    assert all(g == ("weights" if k.startswith("cifar_model") else "records") for k, g in groups.items())
    order = [m["path"] for m in man["members"]]
    assert order.index("records/01_grid.json") < min(order.index(k) for k in order if k.startswith("cifar_eval"))
    assert order[-1].startswith("cifar_model_ckpt/")  # checkpoints last
    assert not any(k.endswith((".lock", ".corrupt", ".tmp")) for k in order)
    for m in man["members"]:
        assert m["sha256"] == _sha((root / m["path"]).read_bytes()) and m["size"] == (root / m["path"]).stat().st_size
    with tarfile.open(tmp_path / "out" / "records-00.tar.gz") as tf:
        assert sorted(tf.getnames()) == sorted(k for k, g in groups.items() if g == "records")
    for p in man["parts"]:
        assert _sha((tmp_path / "out" / p["name"]).read_bytes()) == p["sha256"]

    dest = tmp_path / "dest" / "tiny"
    files = list(reversed(res["files"]))  # any order
    got = P.unpack(files, dest, profile="tiny")
    want = {k: v for k, v in _tree(root).items() if not k.endswith((".lock", ".corrupt", ".tmp"))}
    assert _tree(dest) == want and sorted(got["written"]) == sorted(want)
    assert R.load_result(dest / order[-1])["epoch"] == 1
    # unpacked members are in the ledger: packing the destination brings nothing back
    again = P.pack(dest, tmp_path / "out2")
    assert again["members"] == [] and again["files"] == [tmp_path / "out2" / "manifest.json"]
    # unpacking again is a no-op
    assert P.unpack(files, dest)["identical"] == order


def test_large_members_are_split_across_parts(tmp_path):
    root = tmp_path / "paper"
    _fill(root, n_eval=2, n_models=2, model_floats=20000)  # ~80 KB models
    max_bytes, max_files = 16384, 20
    res = P.pack(root, tmp_path / "out", max_files=max_files, max_bytes=max_bytes)
    _check_limits(res, max_files, max_bytes)
    names = [f.name for f in res["files"]]
    assert sum(n.startswith("weights-") for n in names) >= 10 and res["left"] == []
    dest = tmp_path / "dest"
    P.unpack(res["files"], dest)
    assert _tree(dest) == {k: v for k, v in _tree(root).items() if not k.endswith((".lock", ".corrupt", ".tmp"))}


def test_left_when_limits_are_hit_then_the_next_pack_brings_the_rest(tmp_path):
    root = tmp_path / "tiny"
    _fill(root, n_eval=3, n_models=3, model_floats=20000)
    max_files, max_bytes = 4, 100_000
    dest = tmp_path / "dest"
    seen, rounds = [], 0
    while True:
        res = P.pack(root, tmp_path / f"out{rounds}", max_files=max_files, max_bytes=max_bytes)
        _check_limits(res, max_files, max_bytes)
        man = json.loads(res["manifest"].read_text())
        assert [m["path"] for m in man["left"]] == [m["path"] for m in res["left"]]
        if rounds == 0:
            assert res["left"], "the limits must be hit in the first round"
            assert all(m["reason"].startswith("limits reached") for m in res["left"])
        assert not set(res["members"]) & set(seen)  # only new members
        seen += res["members"]
        P.unpack(res["files"], dest)
        rounds += 1
        if not res["left"]:
            break
        assert rounds < 6
    assert rounds >= 2
    assert _tree(dest) == {k: v for k, v in _tree(root).items() if not k.endswith((".lock", ".corrupt", ".tmp"))}
    assert P.pack(root, tmp_path / "final")["members"] == []
    # a changed result is new again; only_new=False packs everything
    R.ResultStore(root).put("cifar_eval", {"i": 0}, {"accuracy": 0.99})
    assert P.pack(root, tmp_path / "changed")["members"] == [R.ResultStore(root).path("cifar_eval", {"i": 0})
                                                             .relative_to(root).as_posix()]
    assert len(P.pack(root, tmp_path / "all", max_files=50, only_new=False)["members"]) == len(seen)


def test_a_member_too_large_for_any_pack_says_so(tmp_path):
    root = tmp_path / "tiny"
    R.ResultStore(root).put("big_model", {"i": 0}, {"w": torch.randn(10000)})
    res = P.pack(root, tmp_path / "out", max_files=2, max_bytes=8192)
    assert res["members"] == [] and "more than max_files-1" in res["left"][0]["reason"]


def test_damaged_and_old_results_are_skipped_by_pack(tmp_path):
    root = tmp_path / "tiny"
    store = _fill(root, n_models=0, ckpt=False)
    bad = store.path("cifar_eval", {"i": 1})
    data = bytearray(bad.read_bytes())
    data[-5] ^= 1
    bad.write_bytes(bytes(data))
    old = root / "cifar_eval" / "00000000000000aa.pt"
    old.write_bytes(b"ROBUSTLAB1\n{}\n")
    (root / "cifar_eval" / "notes.txt").write_text("x")
    res = P.pack(root, tmp_path / "out")
    skipped = {s["path"]: s["reason"] for s in res["skipped"]}
    rel = lambda p: p.relative_to(root).as_posix()  # noqa: E731
    assert "checksum" in skipped[rel(bad)] and "old" in skipped[rel(old)] and "cifar_eval/notes.txt" in skipped
    assert rel(bad) not in res["members"] and rel(old) not in res["members"]


def test_old_outputs_are_replaced(tmp_path):
    root = tmp_path / "tiny"
    _fill(root, n_models=0, ckpt=False)
    out = tmp_path / "out"
    out.mkdir()
    (out / "weights-03.tar").write_bytes(b"stale")
    (out / "keep.txt").write_text("mine")
    P.pack(root, out)
    assert not (out / "weights-03.tar").exists() and (out / "keep.txt").exists()


# ------------------------------------------------------------------------------ refusals
@pytest.fixture
def packed(tmp_path):
    root = tmp_path / "tiny"
    _fill(root, n_eval=2, n_models=2, model_floats=5000)
    res = P.pack(root, tmp_path / "out", max_files=8, max_bytes=8192)
    assert len(res["files"]) > 3
    return res


def _assert_nothing_written(dest: Path):
    assert not dest.exists() or not [p for p in dest.rglob("*") if p.is_file()]


def test_corrupt_part_is_refused(packed, tmp_path):
    files = packed["files"]
    victim = next(f for f in files if f.name.startswith("weights-01"))
    data = bytearray(victim.read_bytes())
    data[100] ^= 0xFF
    victim.write_bytes(bytes(data))
    dest = tmp_path / "dest"
    with pytest.raises(CheckpointError, match=f"{victim}.*corrupt"):
        P.unpack(files, dest)
    _assert_nothing_written(dest)


def test_foreign_file_is_refused(packed, tmp_path):
    foreign = tmp_path / "weights-77.tar"
    foreign.write_bytes(b"x" * 100)
    dest = tmp_path / "dest"
    with pytest.raises(CheckpointError, match=f"{foreign}.*not a part.*foreign"):
        P.unpack(packed["files"] + [foreign], dest)
    _assert_nothing_written(dest)


def test_missing_part_is_refused(packed, tmp_path):
    files = [f for f in packed["files"] if f.name != "weights-00.tar"]
    dest = tmp_path / "dest"
    with pytest.raises(CheckpointError, match="part weights-00.tar .*missing"):
        P.unpack(files, dest)
    _assert_nothing_written(dest)
    with pytest.raises(CheckpointError, match="no manifest.json"):
        P.unpack([f for f in packed["files"] if f.name != "manifest.json"], dest)


def test_other_profile_is_refused_when_asked(packed, tmp_path):
    with pytest.raises(CheckpointError, match="profile 'tiny', not 'paper'"):
        P.unpack(packed["files"], tmp_path / "paper", profile="paper")


def _result_bytes(tmp_path: Path, payload=None) -> bytes:
    p = R.save_result(tmp_path / "tmp_result.pt", payload if payload is not None else {"acc": 0.5}, {"a": 1})
    data = p.read_bytes()
    p.unlink()
    return data


def _craft(out: Path, group: str, add, listed: dict[str, bytes]) -> list[Path]:
    """A pack whose single part is the tar built by ``add(tarfile)`` and whose manifest lists ``listed``."""
    out.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz" if group == "records" else "w") as tf:
        add(tf)
    name = "records-00.tar.gz" if group == "records" else "weights-00.tar"
    (out / name).write_bytes(buf.getvalue())
    man = {"format": "robustlab-pack", "version": 1, "created": "now", "profile": "tiny",
           "members": [{"path": k, "size": len(v), "sha256": _sha(v), "group": group} for k, v in listed.items()],
           "parts": [{"name": name, "group": group, "size": len(buf.getvalue()), "sha256": _sha(buf.getvalue())}],
           "left": []}
    (out / "manifest.json").write_text(json.dumps(man))
    return [out / "manifest.json", out / name]


def _add(tf, name, data=b"", **kw):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    for k, v in kw.items():
        setattr(info, k, v)
    tf.addfile(info, io.BytesIO(data) if data else None)


GOOD = "cifar_eval/0123456789abcdef.pt"


@pytest.mark.parametrize("case,match", [
    ("dotdot", r"'cifar_eval/\.\./x\.pt'.*'\.\.' path component"),
    ("dotdot_top", r"'\.\./x'.*'\.\.' path component"),
    ("absolute", r"'/abs/0123456789abcdef\.pt'.*absolute path"),
    ("symlink", r"symbolic link to '/etc/passwd'"),
    ("hardlink", r"hard link to 'cifar_eval/0123456789abcdef\.pt'"),
    ("fifo", r"device or fifo"),
    ("chardev", r"device or fifo"),
    ("directory", r"not a regular file"),
    ("bad_name", r"'cifar_eval/evil\.py'.*name is not"),
    ("oversize", r"'cifar_eval/2222222222222222\.pt'.*5000 bytes, over the size limit of 4000"),
    ("unlisted", r"'cifar_eval/1111111111111111\.pt'.*not listed"),
    ("bad_checksum", r"cifar_eval/0123456789abcdef\.pt.*SHA-256"),
])
def test_crafted_tars_are_refused(tmp_path, case, match):
    good = _result_bytes(tmp_path)
    listed = {GOOD: good}

    def add(tf):
        _add(tf, GOOD, good)  # a valid member first: it must not be written either
        if case == "dotdot":
            _add(tf, "cifar_eval/../x.pt", b"x")
        elif case == "dotdot_top":
            _add(tf, "../x", b"x")
        elif case == "absolute":
            _add(tf, "/abs/0123456789abcdef.pt", b"x")
        elif case == "symlink":
            _add(tf, "cifar_eval/2222222222222222.pt", type=tarfile.SYMTYPE, linkname="/etc/passwd")
        elif case == "hardlink":
            _add(tf, "cifar_eval/2222222222222222.pt", type=tarfile.LNKTYPE, linkname=GOOD)
        elif case == "fifo":
            _add(tf, "cifar_eval/2222222222222222.pt", type=tarfile.FIFOTYPE)
        elif case == "chardev":
            _add(tf, "cifar_eval/2222222222222222.pt", type=tarfile.CHRTYPE, devmajor=1, devminor=3)
        elif case == "directory":
            _add(tf, "cifar_eval/sub", type=tarfile.DIRTYPE)
        elif case == "bad_name":
            _add(tf, "cifar_eval/evil.py", b"import os")
        elif case == "oversize":
            _add(tf, "cifar_eval/2222222222222222.pt", b"x" * 5000)
        elif case == "unlisted":
            _add(tf, "cifar_eval/1111111111111111.pt", good)

    if case == "bad_checksum":  # the tar member differs from what the manifest lists
        flipped = good[:-1] + bytes([good[-1] ^ 1])
        files = _craft(tmp_path / "out", "records", lambda tf: _add(tf, GOOD, flipped), listed)
    else:
        files = _craft(tmp_path / "out", "records", add, listed)
    dest = tmp_path / "dest"
    with pytest.raises(CheckpointError, match=match):
        P.unpack(files, dest, max_member_bytes=4000 if case == "oversize" else P.MAX_MEMBER_BYTES)
    _assert_nothing_written(dest)


def test_oversize_member_in_manifest_is_refused_before_reading(tmp_path):
    good = _result_bytes(tmp_path, {"w": torch.zeros(1000)})
    files = _craft(tmp_path / "out", "weights", lambda tf: _add(tf, "x_model/0123456789abcdef.pt", good),
                   {"x_model/0123456789abcdef.pt": good})
    with pytest.raises(CheckpointError, match=r"x_model/0123456789abcdef\.pt has \d+ bytes, over the limit of 1000"):
        P.unpack(files, tmp_path / "dest", max_member_bytes=1000)
    P.unpack(files, tmp_path / "dest")  # fine with the default limit
    assert (tmp_path / "dest" / "x_model" / "0123456789abcdef.pt").read_bytes() == good


def test_member_with_bad_internal_checksum_is_refused(tmp_path):
    good = bytearray(_result_bytes(tmp_path))
    good[-3] ^= 1  # the manifest's checksum matches, the result's own header checksum does not
    bad = bytes(good)
    files = _craft(tmp_path / "out", "records", lambda tf: _add(tf, GOOD, bad), {GOOD: bad})
    with pytest.raises(CheckpointError, match=rf"{GOOD}.*refused.*SHA-256"):
        P.unpack(files, tmp_path / "dest")
    _assert_nothing_written(tmp_path / "dest")


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_member_with_code_is_refused_unrun(tmp_path):
    marker = tmp_path / "PWNED"
    buf = io.BytesIO()
    torch.save({"x": _Evil(marker)}, buf)
    blob = buf.getvalue()
    data = R.MAGIC + json.dumps({"config": {}, "sha256": _sha(blob), "nbytes": len(blob)}).encode() + b"\n" + blob
    files = _craft(tmp_path / "out", "weights", lambda tf: _add(tf, "m_model/0123456789abcdef.pt", data),
                   {"m_model/0123456789abcdef.pt": data})
    with pytest.raises(CheckpointError, match=r"m_model/0123456789abcdef\.pt.*not plain data"):
        P.unpack(files, tmp_path / "dest")
    assert not marker.exists()
    _assert_nothing_written(tmp_path / "dest")


def test_unsafe_names_in_the_manifest_are_refused(tmp_path):
    good = _result_bytes(tmp_path)
    files = _craft(tmp_path / "out", "records", lambda tf: _add(tf, GOOD, good), {"../evil.pt": good})
    with pytest.raises(CheckpointError, match="unsafe member entry"):
        P.unpack(files, tmp_path / "dest")


def test_existing_different_file_is_kept_unless_overwrite(tmp_path):
    root = tmp_path / "tiny"
    store = _fill(root, n_models=0, ckpt=False)
    res = P.pack(root, tmp_path / "out")
    dest = tmp_path / "dest"
    mine = R.ResultStore(dest).put("cifar_eval", {"i": 1}, {"accuracy": 0.77})
    rel = mine.relative_to(dest).as_posix()
    before = mine.read_bytes()
    got = P.unpack(res["files"], dest)
    assert [c["path"] for c in got["conflicts"]] == [rel] and mine.read_bytes() == before
    assert rel not in got["written"]
    got = P.unpack(res["files"], dest, overwrite=True)
    assert got["overwritten"] == [rel] and mine.read_bytes() == store.path("cifar_eval", {"i": 1}).read_bytes()


def test_update_ledger_false_leaves_the_ledger_alone(tmp_path):
    """A copy made for another purpose (the Ray executor's workers) is no trip home: pack and unpack
    with update_ledger=False record nothing, so a later pack still brings everything."""
    root = tmp_path / "tiny"
    _fill(root)
    res = P.pack(root, tmp_path / "copy", only_new=False, update_ledger=False)
    assert res["members"] and not (root / P.LEDGER).exists()
    dest = tmp_path / "dest" / "tiny"
    got = P.unpack(res["files"], dest, update_ledger=False)
    assert got["written"] and not (dest / P.LEDGER).exists()
    assert sorted(P.pack(dest, tmp_path / "home")["members"]) == sorted(res["members"])
    # the default records both ways
    P.unpack(res["files"], tmp_path / "other", update_ledger=True)
    assert not P.pack(tmp_path / "other", tmp_path / "again")["members"]
