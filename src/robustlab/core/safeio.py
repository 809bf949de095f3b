"""Payloads as plain data: serialise results so that loading them can never run code.

:func:`dumps` turns a payload (nested ``dict`` / ``OrderedDict`` / ``list`` / ``tuple`` of ``str``,
``int``, ``float``, ``bool``, ``None``, torch tensors, numpy arrays and numpy scalars) into bytes
with ``torch.save``; :func:`loads` reads them back with ``torch.load(..., weights_only=True)``,
whose unpickler only builds tensors and plain containers. A file whose pickle asks for anything
else (a class, a function such as ``os.system``) is refused with
:class:`~robustlab.core.errors.CheckpointError` before anything in it runs.

``torch.load(weights_only=True)`` knows no numpy, so numpy values are encoded first:

* an array becomes a marker dict ``{"__robustlab_safeio__": "ndarray", "dtype": "<f4",
  "shape": [..], "data": uint8 tensor of its raw bytes}`` (bool arrays: ``"ndarray-bool"`` with
  ``np.packbits`` data, 8× smaller; unicode string arrays: ``"ndarray-str"`` with the nested
  list of strings). Dtype (byte order included), shape and values come back exactly;
* a numpy scalar becomes the Python scalar (``np.float32(0.5)`` → ``0.5``, ``np.str_`` → ``str``);
  datetime/timedelta scalars become 0-d arrays;
* ``bytes`` and ``complex`` values get markers of their own (older torch refuses them).

Tuples stay tuples; a ``state_dict``'s ``OrderedDict`` keeps its ``_metadata``. Anything else
(a pandas DataFrame, a Path, an object array, a custom class) raises ``TypeError`` naming where
in the payload it is (``payload['rows'][3]``), so a result that could not be loaded safely is
never written.
"""
from __future__ import annotations

import io
import math
import pickle
from collections import OrderedDict
from typing import Any

import numpy as np
import torch

from robustlab.core.errors import CheckpointError

__all__ = ["dumps", "loads", "MARKER"]

MARKER = "__robustlab_safeio__"
_RAW_KINDS = frozenset("iufcmMS")  # fixed-size dtypes stored as their raw bytes
_SCALARS = (str, int, float, bool, type(None))


def _where(path: str) -> str:
    return path or "payload"


def _raw(a: np.ndarray) -> torch.Tensor:
    flat = np.ascontiguousarray(a).reshape(-1).view(np.uint8)
    if not flat.flags.writeable:
        flat = flat.copy()
    return torch.from_numpy(flat)


def _encode_array(a: np.ndarray, path: str) -> dict:
    dt = a.dtype
    shape = [int(s) for s in a.shape]
    if dt.fields is not None or dt.subdtype is not None:
        raise TypeError(f"{_where(path)}: structured numpy arrays ({dt}) are not stored; "
                        "split them into one array per field")
    if dt.kind == "b":
        data = torch.from_numpy(np.packbits(np.ascontiguousarray(a, dtype=np.bool_).reshape(-1)))
        return {MARKER: "ndarray-bool", "shape": shape, "data": data}
    if dt.kind == "U":
        return {MARKER: "ndarray-str", "dtype": dt.str, "shape": shape, "data": a.tolist()}
    if dt.kind in _RAW_KINDS:
        return {MARKER: "ndarray", "dtype": dt.str, "shape": shape, "data": _raw(a)}
    raise TypeError(f"{_where(path)}: numpy arrays of dtype {dt} (kind {dt.kind!r}) are not plain data; "
                    "store numbers, bools or strings")


def _encode_key(k: Any, path: str) -> Any:
    if type(k) in _SCALARS:
        return k
    if isinstance(k, np.generic) and not isinstance(k, (np.datetime64, np.timedelta64, np.complexfloating,
                                                        np.bytes_, np.void)):
        return k.item()
    if type(k) is tuple:
        return tuple(_encode_key(v, path) for v in k)
    raise TypeError(f"{_where(path)}: a dict key of type {type(k).__module__}.{type(k).__qualname__} "
                    "is not plain data; use str/int/float/bool/None or tuples of them")


def _encode(x: Any, path: str) -> Any:
    t = type(x)
    if t in _SCALARS:
        return x
    if t is dict or t is OrderedDict:
        if MARKER in x:
            raise TypeError(f"{_where(path)}: the key {MARKER!r} is reserved")
        out = t((_encode_key(k, path), _encode(v, f"{path}[{k!r}]" if path else f"payload[{k!r}]"))
                for k, v in x.items())
        meta = getattr(x, "_metadata", None)  # nn.Module.state_dict() version info
        if t is OrderedDict and meta is not None:
            out._metadata = _encode(meta, f"{_where(path)}._metadata")
        return out
    if t is list or t is tuple:
        return t(_encode(v, f"{_where(path)}[{i}]") for i, v in enumerate(x))
    if t is torch.Tensor or t is torch.nn.Parameter:
        return x
    if isinstance(x, np.ndarray) and not isinstance(x, np.ma.MaskedArray):
        return _encode_array(np.asarray(x), path)
    if isinstance(x, np.generic):
        if isinstance(x, (np.datetime64, np.timedelta64)):
            return _encode_array(np.asarray(x), path)
        if isinstance(x, np.void):
            raise TypeError(f"{_where(path)}: numpy void/structured scalars are not stored")
        x = x.item()
        if isinstance(x, np.floating):  # longdouble has no Python equivalent
            x = float(x)
        t = type(x)
        if t in _SCALARS:
            return x
    if t is complex:
        return {MARKER: "complex", "re": x.real, "im": x.imag}
    if t is bytes or t is bytearray:
        return {MARKER: "bytes", "data": torch.from_numpy(np.frombuffer(bytes(x), dtype=np.uint8).copy())}
    mod = t.__module__ or ""
    what = f"{mod}.{t.__qualname__}"
    if mod.split(".")[0] == "pandas":
        raise TypeError(f"{_where(path)} is a pandas {t.__qualname__}: pandas objects are not stored in "
                        "results; store its columns as numpy arrays or lists (e.g. df.to_dict('list')) "
                        "and rebuild the frame after loading")
    raise TypeError(f"{_where(path)} is a {what}: results hold only dicts, lists, tuples, str, int, float, "
                    "bool, None, torch tensors and numpy arrays/scalars")


def dumps(payload: Any, *, check: bool = True) -> bytes:
    """Serialise ``payload`` to bytes that :func:`loads` reads back as plain data.

    Raises ``TypeError`` naming where in the payload a value of another type is
    (``payload['history'][2]``). With ``check`` (default) the bytes are read back once with
    ``torch.load(weights_only=True)``, so nothing is written that this torch could not load safely.
    """
    enc = _encode(payload, "")
    buf = io.BytesIO()
    torch.save(enc, buf)
    data = buf.getvalue()
    if check:
        try:
            torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
        except Exception as e:  # noqa: BLE001
            raise TypeError(f"payload cannot be loaded back as plain data by torch {torch.__version__}: {e}") from None
    return data


def _bad(name: str, why: str) -> CheckpointError:
    return CheckpointError(f"{name}: {why}; delete it to recompute.")


def _shape(v: Any, name: str) -> tuple[int, ...]:
    if not isinstance(v, (list, tuple)) or not all(type(s) is int and s >= 0 for s in v):
        raise _bad(name, f"a stored numpy array has an invalid shape {v!r}")
    return tuple(v)


def _dtype(v: Any, name: str) -> np.dtype:
    try:
        dt = np.dtype(v) if isinstance(v, str) else None
    except TypeError:
        dt = None
    if dt is None or dt.fields is not None or dt.subdtype is not None or dt.kind not in _RAW_KINDS | {"U"}:
        raise _bad(name, f"a stored numpy array has an invalid dtype {v!r}")
    return dt


def _decode_marker(d: dict, name: str) -> Any:
    tag = d.get(MARKER)
    if tag == "ndarray":
        dt, shape, data = _dtype(d.get("dtype"), name), _shape(d.get("shape"), name), d.get("data")
        if dt.kind == "U" or not isinstance(data, torch.Tensor) or data.dtype != torch.uint8 or data.dim() != 1:
            raise _bad(name, "a stored numpy array is malformed")
        raw = data.cpu().numpy().tobytes()
        if len(raw) != math.prod(shape) * dt.itemsize:
            raise _bad(name, f"a stored numpy array has {len(raw)} bytes, its shape {shape} and dtype {dt} need "
                             f"{math.prod(shape) * dt.itemsize}")
        return np.frombuffer(raw, dtype=dt).reshape(shape).copy()
    if tag == "ndarray-bool":
        shape, data = _shape(d.get("shape"), name), d.get("data")
        n = math.prod(shape)
        if (not isinstance(data, torch.Tensor) or data.dtype != torch.uint8 or data.dim() != 1
                or data.numel() != (n + 7) // 8):
            raise _bad(name, "a stored bool array is malformed")
        return np.unpackbits(data.cpu().numpy(), count=n).astype(np.bool_).reshape(shape)
    if tag == "ndarray-str":
        dt, shape = _dtype(d.get("dtype"), name), _shape(d.get("shape"), name)
        if dt.kind != "U":
            raise _bad(name, "a stored string array is malformed")
        try:
            return np.array(d.get("data"), dtype=dt).reshape(shape)
        except (TypeError, ValueError):
            raise _bad(name, "a stored string array is malformed") from None
    if tag == "complex" and type(d.get("re")) is float and type(d.get("im")) is float:
        return complex(d["re"], d["im"])
    if tag == "bytes" and isinstance(d.get("data"), torch.Tensor) and d["data"].dtype == torch.uint8:
        return d["data"].cpu().numpy().tobytes()
    raise _bad(name, f"unknown or malformed marker {tag!r}")


def _decode(x: Any, name: str) -> Any:
    t = type(x)
    if t is dict or t is OrderedDict:
        if MARKER in x:
            return _decode_marker(x, name)
        out = t((k, _decode(v, name)) for k, v in x.items())
        meta = getattr(x, "_metadata", None)
        if t is OrderedDict and meta is not None:
            out._metadata = meta
        return out
    if t is list or t is tuple:
        return t(_decode(v, name) for v in x)
    return x


def loads(data: bytes, map_location: Any = "cpu", *, name: str = "payload") -> Any:
    """Read bytes written by :func:`dumps`; only plain data is ever built, no code runs.

    ``map_location`` is passed to ``torch.load`` (tensors); numpy arrays are always on the CPU.
    Raises :class:`~robustlab.core.errors.CheckpointError` (its message starts with ``name``, e.g. the
    file's path) when the pickle contains code or non-data types, or is unreadable.
    """
    if not bytes(data[:4]) == b"PK\x03\x04":  # torch.save's zip container
        raise _bad(name, "its payload is not a torch.save archive (damaged, or written by something else)")
    try:
        obj = torch.load(io.BytesIO(data), map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as e:
        first = str(e).strip().splitlines()
        detail = next((ln.strip() for ln in first if "Unsupported" in ln or "GLOBAL" in ln), "")
        raise CheckpointError(
            f"{name} contains code or types that are not plain data; refused (it was not loaded, nothing in it "
            f"ran). Only dicts, lists, tuples, numbers, strings, tensors and numpy arrays are accepted. "
            f"Delete it to recompute, or re-create it with robustlab.core.safeio.dumps. {detail}".rstrip()) from None
    except Exception as e:  # noqa: BLE001 - a damaged zip/pickle stream
        raise _bad(name, f"its payload is unreadable ({type(e).__name__}: {e})") from None
    return _decode(obj, name)
