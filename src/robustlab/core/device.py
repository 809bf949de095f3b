"""Choosing the compute device."""
from __future__ import annotations

import os
import platform
from contextlib import contextmanager

import torch

from robustlab.core.errors import ParameterError


def resolve_device(name: str | torch.device | None = "auto") -> torch.device:
    """Return a usable :class:`torch.device`.

    ``"auto"`` (or None) picks ``cuda`` when available, else ``cpu``. ``"cuda"``,
    ``"cuda:N"``, ``"mps"`` and ``"cpu"`` are checked for existence: asking for a device
    this machine lacks raises :class:`ParameterError` naming the devices that exist.
    """
    if isinstance(name, torch.device):
        name = str(name)
    if name is None or name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if not isinstance(name, str):
        raise ParameterError(f"device={name!r} must be a string such as 'auto', 'cpu' or 'cuda'")
    available = ["auto", "cpu"]
    if torch.cuda.is_available():
        available += ["cuda"] + [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        available.append("mps")
    try:
        dev = torch.device(name)
    except (RuntimeError, ValueError):
        raise ParameterError(f"device={name!r} is not a device name; allowed here: {available}") from None
    if dev.type == "cpu":
        return dev
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ParameterError(
                f"device={name!r} was asked for, but this machine has no CUDA GPU "
                f"(torch {torch.__version__}); allowed here: {available}. Use device='auto' or 'cpu'."
            )
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ParameterError(f"device={name!r} does not exist; allowed here: {available}")
        return dev
    if dev.type == "mps" and "mps" in available:
        return dev
    raise ParameterError(f"device={name!r} is not available on this machine; allowed here: {available}")


def describe_device(dev: torch.device) -> str:
    """A human-readable one-line description (GPU name, or CPU core count)."""
    if dev.type == "cuda":
        return f"{torch.cuda.get_device_name(dev)} (CUDA {torch.version.cuda})"
    cpu = platform.processor() or platform.machine()
    return f"CPU {cpu}, {os.cpu_count()} cores, {torch.get_num_threads()} torch threads"


# --------------------------------------------------------------------------------------
# precision: one autocast path on every device
# --------------------------------------------------------------------------------------
#: values of the parameter ``precision``
PRECISIONS = ("auto", "fp32", "bf16")


def _cpu_flags() -> set[str]:
    """The CPU feature flags of /proc/cpuinfo (empty where there is none, e.g. macOS)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def fast_bf16(dev: torch.device | str) -> bool:
    """Whether ``dev`` has bf16 units (detected, never assumed): a CUDA GPU with bf16 support, or a CPU
    with AMX-BF16 or AVX512-BF16 (torch's own probe where it has one, else the /proc/cpuinfo flags
    ``amx_bf16`` / ``avx512_bf16``). False elsewhere (other CPUs emulate bf16 slowly; MPS is left fp32)."""
    dev = torch.device(dev)
    if dev.type == "cuda":
        return bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())
    if dev.type != "cpu":
        return False
    probes = [getattr(torch.cpu, n, None) for n in ("_is_amx_tile_supported", "_is_avx512_bf16_supported")]
    for probe in probes:
        if probe is None:
            continue
        try:
            if probe():
                return True
        except (RuntimeError, AttributeError):
            continue
    return bool({"amx_bf16", "avx512_bf16"} & _cpu_flags())


def resolve_precision(precision: str | None, dev: torch.device | str) -> str:
    """``"fp32"`` or ``"bf16"``: ``auto`` (or None) is bf16 autocast where :func:`fast_bf16` says the
    device has bf16 units, else fp32; ``fp32`` / ``bf16`` are taken as asked (bf16 on a device
    without units runs, emulated and slow)."""
    p = "auto" if precision is None else precision
    if p not in PRECISIONS:
        raise ParameterError(f"precision={precision!r} is unknown; choose one of {list(PRECISIONS)}")
    if p == "auto":
        return "bf16" if fast_bf16(dev) else "fp32"
    return p


def autocast(dev: torch.device | str, precision: str):
    """The one mixed-precision context of every device: ``torch.autocast(device_type=dev.type,
    dtype=bfloat16, enabled=precision == "bf16")`` (``precision`` already resolved). Parameters,
    gradients and optimiser state stay float32 (float64 nets stay float64: autocast leaves them)."""
    dev = torch.device(dev)
    if precision not in ("fp32", "bf16"):
        raise ParameterError(f"precision={precision!r}: resolve it first (resolve_precision) to 'fp32' or 'bf16'")
    return torch.autocast(device_type=dev.type, dtype=torch.bfloat16, enabled=precision == "bf16")


@contextmanager
def flush_denormals():
    """Inference with subnormal floats flushed to zero (``torch.set_flush_denormal``; a no-op where the
    CPU cannot). Measured on a 2-core AMD EPYC: MobileNetV2's fp32 forward pass 1.5–2.8× faster, with
    bit-identical logits on 400 Imagenette images (``benchmarks/forward_batch.py``). For forward passes
    only: a gradient can be subnormal, and FGSM takes its sign."""
    on = torch.set_flush_denormal(True)
    try:
        yield
    finally:
        if on:
            torch.set_flush_denormal(False)


def describe_precision(precision: str, compiled: bool = False) -> str:
    """A short label for provenance and records: ``fp32``, ``bf16 autocast``, ``+ torch.compile``."""
    text = {"fp32": "fp32", "bf16": "bf16 autocast"}.get(precision, precision)
    return text + (" + torch.compile" if compiled else "")
