"""Choosing the compute device."""
from __future__ import annotations

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
    import os
    import platform

    if dev.type == "cuda":
        return f"{torch.cuda.get_device_name(dev)} (CUDA {torch.version.cuda})"
    cpu = platform.processor() or platform.machine()
    return f"CPU {cpu}, {os.cpu_count()} cores, {torch.get_num_threads()} torch threads"
