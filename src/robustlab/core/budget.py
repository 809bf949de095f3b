"""Two process-wide switches for long work: a wall-clock deadline and a no-compute guard.

* **Deadline** (``python -m robustlab.campaign --until SECONDS``): :func:`set_deadline` stores an
  absolute ``time.time()`` value; long loops call :func:`expired` after each step (a training
  batch, an evaluation column, a pixel-run setting) and, when it has passed, write a checkpoint
  and raise :class:`~robustlab.core.errors.DeadlineReached`. At least one step is always done per call,
  so repeated calls always progress.
* **No compute** (``ROBUSTLAB_NO_COMPUTE``): when a result is missing and computing it is not
  allowed, :func:`guard` raises :class:`~robustlab.core.errors.ComputeRefused` naming what is missing
  and the campaign command that computes it. ``ROBUSTLAB_NO_COMPUTE=1`` refuses everywhere,
  ``=0`` allows everywhere; unset, the paper profile refuses on a machine without CUDA (a
  multi-day CPU job is never started silently) and every other profile computes.
"""
from __future__ import annotations

import os
import time
from contextlib import contextmanager

import torch

from robustlab.core.errors import ComputeRefused, DeadlineReached

__all__ = ["set_deadline", "clear_deadline", "deadline", "expired", "remaining", "check", "deadline_at",
           "mark_progress", "progressed",
           "NO_COMPUTE_ENV", "compute_allowed", "guard", "forbid_compute", "DeadlineReached", "ComputeRefused"]

NO_COMPUTE_ENV = "ROBUSTLAB_NO_COMPUTE"
_deadline: float | None = None
_forbidden = 0  # > 0 inside forbid_compute()
_progress = False  # something was computed and stored since the deadline was set


def set_deadline(t_abs: float | None) -> None:
    """Set (``time.time()`` seconds) or clear (None) the process-wide deadline; resets the progress mark."""
    global _deadline, _progress
    _deadline = None if t_abs is None else float(t_abs)
    _progress = False


def mark_progress() -> None:
    """Note that a result was computed and stored (called by the results store on every write)."""
    global _progress
    _progress = True


def progressed() -> bool:
    """Whether anything was computed and stored since the deadline was set."""
    return _progress


def clear_deadline() -> None:
    set_deadline(None)


def deadline() -> float | None:
    """The current deadline (``time.time()`` seconds), or None."""
    return _deadline


def remaining() -> float:
    """Seconds left before the deadline (``inf`` without one; may be negative)."""
    return float("inf") if _deadline is None else _deadline - time.time()


def expired() -> bool:
    """True once the deadline has passed."""
    return _deadline is not None and time.time() >= _deadline


def check(what: str = "work") -> None:
    """Raise :class:`DeadlineReached` if the deadline has passed and something was computed since it
    was set (so every call progresses, even past a deadline). Call only where nothing is lost."""
    if expired() and _progress:
        raise DeadlineReached(f"deadline reached during {what}; run the same command again to resume")


@contextmanager
def deadline_at(t_abs: float | None):
    """Context manager: the deadline ``t_abs`` inside, the previous one restored after."""
    global _deadline, _progress
    old = (_deadline, _progress)
    set_deadline(t_abs)
    try:
        yield
    finally:
        _deadline, _progress = old


@contextmanager
def forbid_compute():
    """Context manager: nothing may be computed inside (used to ask "is all of it stored?")."""
    global _forbidden
    _forbidden += 1
    try:
        yield
    finally:
        _forbidden -= 1


def compute_allowed(profile: str | None = None, device: object = None) -> bool:
    """Whether missing results may be computed here (see the module docstring)."""
    if _forbidden:
        return False
    env = os.environ.get(NO_COMPUTE_ENV, "").strip()
    if env == "1":
        return False
    if env == "0":
        return True
    if profile == "paper":

        dev = "auto" if device is None else str(device)  # the profiles' device: auto = CUDA where there is one
        if dev == "auto":
            dev = "cuda" if torch.cuda.is_available() else "cpu"
        return dev.startswith("cuda")
    return True


def guard(what: str, unit: str | None = None, profile: str | None = None, device: object = None) -> None:
    """Raise :class:`ComputeRefused` when computing ``what`` is not allowed here.

    ``unit`` is the campaign unit that computes it (named in the message with its command).
    """
    if compute_allowed(profile, device):
        return
    prof = profile or "<profile>"
    cmd = f"python -m robustlab.campaign --profile {prof}" + (f" --only {unit}" if unit else "")
    why = ("only stored results may be used here" if _forbidden else
           f"{NO_COMPUTE_ENV}=1 is set" if os.environ.get(NO_COMPUTE_ENV, "").strip() == "1"
           else f"the {prof} profile is GPU work and this machine has no CUDA device")
    raise ComputeRefused(
        f"{what} is not in the results (nor in published/{prof}/) and computing it here is refused "
        f"({why}). Compute it with `{cmd}` on a GPU machine and bring it back with --pack/--unpack, "
        f"or set {NO_COMPUTE_ENV}=0 to compute it here anyway.")
