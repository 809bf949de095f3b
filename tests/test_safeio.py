"""Results are plain data: safeio round trips exactly and a result file with code in it is refused unrun."""
from __future__ import annotations

import hashlib
import io
import json
import math
import os
from collections import OrderedDict

import numpy as np
import pytest
import torch

from robustlab.core import results as R
from robustlab.core import safeio
from robustlab.core.errors import CheckpointError


def _rt(x):
    return safeio.loads(safeio.dumps(x))


ARRAYS = {
    "bool": np.array([[True, False, True], [False, False, True]]),
    "bool_odd": np.random.default_rng(0).random(13) > 0.5,
    "uint8": np.arange(24, dtype=np.uint8).reshape(2, 3, 4),
    "int8": np.array([-3, 0, 5], dtype=np.int8),
    "int32": np.array([1, -2], dtype=np.int32),
    "int64": np.arange(-5, 5, dtype=np.int64),
    "uint16": np.array([0, 65535], dtype=np.uint16),
    "float16": np.array([0.5, -1.25], dtype=np.float16),
    "float32": np.linspace(0, 1, 7, dtype=np.float32),
    "float64": np.array([0.1, np.nan, np.inf, -np.inf, -0.0]),
    "complex64": np.array([1 + 2j], dtype=np.complex64),
    "big_endian": np.arange(4, dtype=">f8"),
    "fortran": np.asfortranarray(np.arange(6, dtype=np.float32).reshape(2, 3)),
    "strided": np.arange(20, dtype=np.int64)[::3],
    "zero_d": np.array(3.5),
    "zero_d_bool": np.array(True),
    "empty": np.zeros((0, 3), dtype=np.float32),
    "empty_bool": np.zeros((4, 0), dtype=bool),
    "str": np.array([["ab", "c"], ["", "déf"]]),
    "bytes": np.array([b"ab", b"c"]),
    "datetime": np.array(["2020-01-01", "2021-06-30"], dtype="datetime64[D]"),
}


@pytest.mark.parametrize("name", sorted(ARRAYS))
def test_numpy_arrays_round_trip_exactly(name):
    a = ARRAYS[name]
    b = _rt({"a": a})["a"]
    assert type(b) is np.ndarray and b.dtype == a.dtype and b.shape == a.shape
    np.testing.assert_array_equal(b, a)
    assert b.flags.writeable


def test_bool_arrays_are_packed():
    a = np.random.default_rng(1).random((50, 1000)) > 0.5
    enc = safeio._encode(a, "")
    assert enc["data"].numel() == a.size // 8
    assert len(safeio.dumps(a)) < a.size // 4


def test_nested_payload_round_trip():
    sd = torch.nn.Linear(3, 2).state_dict()
    payload = {
        "items": [("val", None, 3), ("train", 5, 7)],
        "pair": (1, (2.5, "x")),
        "none": None, "nan": float("nan"), "inf": float("inf"), "ninf": -math.inf, "flag": True,
        "np_scalars": [np.float32(0.25), np.float64(0.1), np.int64(7), np.uint8(255), np.bool_(True),
                       np.str_("s")],
        "tensors": {"bf16": torch.tensor([1.5, -2.0], dtype=torch.bfloat16), "i64": torch.arange(4),
                    "empty": torch.zeros(0, 3), "scalar": torch.tensor(2.0)},
        "state_dict": sd, "hist": {"loss": [1.0, 0.5]}, 3: "int key", ("a", 1): "tuple key",
        "arr": np.arange(3), "complex": 1 + 2j, "raw": b"\x00\xff",
    }
    got = _rt(payload)
    assert got["items"] == [("val", None, 3), ("train", 5, 7)] and all(type(t) is tuple for t in got["items"])
    assert got["pair"] == (1, (2.5, "x")) and type(got["pair"][1]) is tuple
    assert got["none"] is None and math.isnan(got["nan"]) and got["inf"] == math.inf and got["ninf"] == -math.inf
    assert got["flag"] is True
    assert got["np_scalars"] == [0.25, 0.1, 7, 255, True, "s"]
    assert [type(v) for v in got["np_scalars"]] == [float, float, int, int, bool, str]
    for k, t in payload["tensors"].items():
        assert got["tensors"][k].dtype == t.dtype and torch.equal(got["tensors"][k], t)
    assert type(got["state_dict"]) is OrderedDict and got["state_dict"]._metadata == sd._metadata
    torch.nn.Linear(3, 2).load_state_dict(got["state_dict"])
    assert got[3] == "int key" and got[("a", 1)] == "tuple key"
    assert got["complex"] == 1 + 2j and got["raw"] == b"\x00\xff"
    np.testing.assert_array_equal(got["arr"], np.arange(3))


def test_map_location_keeps_numpy_on_cpu():
    got = safeio.loads(safeio.dumps({"t": torch.ones(2), "a": np.ones(2)}), map_location="cpu")
    assert got["t"].device.type == "cpu" and isinstance(got["a"], np.ndarray)


def test_pandas_is_refused_with_its_place():
    pd = pytest.importorskip("pandas")
    with pytest.raises(TypeError, match=r"payload\['rows'\]\[1\]\['df'\] is a pandas DataFrame"):
        safeio.dumps({"rows": [1, {"df": pd.DataFrame({"a": [1, 2]})}]})
    with pytest.raises(TypeError, match=r"pandas Series"):
        safeio.dumps(pd.Series([1.0]))


@pytest.mark.parametrize("bad", [object(), np.array([1, "a"], dtype=object), {1, 2}, print])
def test_other_types_are_refused(bad):
    with pytest.raises(TypeError, match=r"payload\['x'\]"):
        safeio.dumps({"x": bad})


def test_save_result_refuses_non_data_and_writes_nothing(tmp_path):
    pd = pytest.importorskip("pandas")
    p = tmp_path / "k" / "r.pt"
    with pytest.raises(TypeError, match="pandas"):
        R.save_result(p, {"df": pd.DataFrame()}, {"a": 1})
    assert not p.exists()


def test_result_round_trip_keeps_numpy(tmp_path):
    store = R.ResultStore(tmp_path)
    payload = {"wrong": np.random.default_rng(0).random((3, 17)) > 0.5, "labels": np.arange(5),
               "setting": {"n_pixels": 4, "magnitude": None}, "items": [("val", None, 1)]}
    p = store.put("paperb-pixels", {"k": 1}, payload)
    assert p.read_bytes().startswith(b"ROBUSTLAB2\n")
    got = store.get("paperb-pixels", {"k": 1})
    assert got["wrong"].dtype == bool and (got["wrong"] == payload["wrong"]).all()
    assert got["labels"].dtype == np.int64 and got["items"] == [("val", None, 1)]


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _crafted_result(path, payload, magic=R.MAGIC, config=None):
    buf = io.BytesIO()
    torch.save(payload, buf)
    blob = buf.getvalue()
    header = {"config": config or {}, "sha256": hashlib.sha256(blob).hexdigest(), "nbytes": len(blob)}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(magic + json.dumps(header).encode() + b"\n" + blob)
    return path


def test_result_with_code_is_refused_and_nothing_runs(tmp_path):
    marker = tmp_path / "PWNED"
    p = _crafted_result(tmp_path / "kind" / "0123456789abcdef.pt", {"acc": 0.5, "x": _Evil(marker)})
    assert R.read_header(p)["nbytes"] > 0  # a valid header: only the payload is hostile
    with pytest.raises(CheckpointError, match=f"{p}.*contains code or types that are not plain data; refused"):
        R.load_result(p)
    assert not marker.exists()
    with pytest.raises(CheckpointError, match="not plain data"):
        safeio.loads(p.read_bytes().split(b"\n", 2)[2])
    assert not marker.exists()


def test_store_moves_a_hostile_file_aside(tmp_path):
    marker = tmp_path / "PWNED"
    store = R.ResultStore(tmp_path)
    cfg = {"a": 1}
    _crafted_result(store.path("kind", cfg), _Evil(marker), config=R._canonical(cfg))
    with pytest.warns(UserWarning, match="not plain data"):
        assert store.get("kind", cfg) is None
    assert not marker.exists() and not store.path("kind", cfg).exists()


def test_old_format_is_refused(tmp_path):
    p = _crafted_result(tmp_path / "old.pt", {"acc": 0.5}, magic=b"ROBUSTLAB1\n")
    for f in (R.load_result, R.read_header):
        with pytest.raises(CheckpointError, match=f"{p}.*old, unsafe result format ROBUSTLAB1"):
            f(p)


def test_garbage_payload_is_a_checkpoint_error():
    with pytest.raises(CheckpointError, match="not a torch.save archive"):
        safeio.loads(b"garbage", name="x.pt")
    with pytest.raises(CheckpointError, match="unreadable"):
        safeio.loads(b"PK\x03\x04garbage", name="x.pt")


def test_malformed_marker_is_refused():
    buf = io.BytesIO()
    torch.save({safeio.MARKER: "ndarray", "dtype": "|O", "shape": [1], "data": torch.zeros(8, dtype=torch.uint8)},
               buf)
    with pytest.raises(CheckpointError, match="invalid dtype"):
        safeio.loads(buf.getvalue())
    with pytest.raises(TypeError, match="reserved"):
        safeio.dumps({safeio.MARKER: 1})
