"""The one set of number and choice checks: every parameter, argument and setting that must be a
number in a range, or one of a few names, is checked here, so every such error reads the same:
``name=value must be ...``, naming what is allowed (a :class:`~robustlab.core.errors.ParameterError`)."""
from __future__ import annotations

import math
import numbers
from collections.abc import Iterable
from typing import Any

from robustlab.core.errors import ParameterError

__all__ = ["number_complaint", "check_number", "check_int", "check_float", "check_choice"]


def _interval(lo: float | None, hi: float | None, lo_open: bool, hi_open: bool) -> str:
    if lo is not None and hi is not None:
        return f"in {'(' if lo_open else '['}{lo:g}, {hi:g}{')' if hi_open else ']'}"
    if lo is not None:
        return f"{'>' if lo_open else '>='} {lo:g}"
    if hi is not None:
        return f"{'<' if hi_open else '<='} {hi:g}"
    return "finite"


def number_complaint(v: Any, lo: float | None = None, hi: float | None = None, *, lo_open: bool = False,
                     hi_open: bool = False, integer: bool = False) -> str | None:
    """Why ``v`` is not an acceptable number (``"must be ..."``), or None when it is."""
    what = "an integer" if integer else "a finite number"
    rng = _interval(lo, hi, lo_open, hi_open)
    must = f"must be {what}" + ("" if rng == "finite" else f" {rng}")
    if isinstance(v, bool) or not isinstance(v, numbers.Real):
        return must
    if integer and not (isinstance(v, numbers.Integral) or float(v).is_integer()):
        return must
    f = float(v)
    if not math.isfinite(f):
        return must
    if lo is not None and (f < lo or (lo_open and f == lo)):
        return must
    if hi is not None and (f > hi or (hi_open and f == hi)):
        return must
    return None


def check_number(name: str, v: Any, lo: float | None = None, hi: float | None = None, *, lo_open: bool = False,
                 hi_open: bool = False, integer: bool = False) -> float | int:
    """``v`` as a float (``integer=True``: an int), or a ParameterError ``name=v must be ...``."""
    complaint = number_complaint(v, lo, hi, lo_open=lo_open, hi_open=hi_open, integer=integer)
    if complaint:
        raise ParameterError(f"{name}={v!r} {complaint}")
    return int(v) if integer else float(v)


def check_int(name: str, v: Any, lo: int | None = None, hi: int | None = None) -> int:
    """An integer in ``[lo, hi]`` (bools are not integers here)."""
    return int(check_number(name, v, lo, hi, integer=True))


def check_float(name: str, v: Any, lo: float | None = None, hi: float | None = None, *, lo_open: bool = False,
                hi_open: bool = False) -> float:
    """A finite float in the given interval."""
    return float(check_number(name, v, lo, hi, lo_open=lo_open, hi_open=hi_open))


def check_choice(name: str, v: Any, options: Iterable[str]) -> str:
    """One of ``options``, or a ParameterError listing them."""
    options = list(options)
    if v not in options:
        raise ParameterError(f"{name}={v!r} is unknown; choose one of {options}")
    return v
