"""A claim checked against our numbers: the one record both papers' chapters produce.

A :class:`Claim` holds only what a run measured: the id of the paper's statement, *our* number
(``ours``), the verdict and why. The statement itself (the paper, section, the claim's wording and the
paper's value) lives once, in :data:`robustlab.book.checklist.CHECKLIST`, looked up by ``id``.

Every verdict is made by :func:`graded` (one condition for "yes", a weaker one for "partly", and
whether the run can test the claim at all); :func:`verdict` is its form for a list of checks
(all / some / none hold). Claims about a number read it *with its interval*
(:class:`robustlab.core.stats.Estimate`):

* :func:`exceeds` — "larger than ``margin``": yes when the whole interval is above it, partly when
  only the value is, no otherwise;
* :func:`within` — "the same, up to ``margin``" (an equivalence test): yes when the whole interval
  lies in [-margin, margin], partly when only the value does, no otherwise;
* :func:`combine` — several such verdicts (one per architecture, say): yes when all are yes, no
  when none is yes or partly, else partly.

An estimate without an interval (NaN bounds) can give "partly" at best; one without a value is
"not testable here".
"""
from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["VERDICTS", "NOT_TESTABLE", "BY_CONSTRUCTION", "Claim", "graded", "verdict", "exceeds", "below", "within",
           "combine", "at_most_partly"]

#: The verdicts a claim can have. "by construction": the claim holds because we built it to (a
#: choice of ours was fitted to the paper's number), so agreement is no evidence either way.
VERDICTS = ("yes", "partly", "no", "not testable here", "by construction")
NOT_TESTABLE = "not testable here"
BY_CONSTRUCTION = "by construction"


def graded(yes: Any, partly: Any = False, testable: Any = True) -> str:
    """The verdict rule: "not testable here" unless ``testable``; else "yes" when ``yes`` holds,
    "partly" when ``partly`` holds, else "no"."""
    if not testable:
        return NOT_TESTABLE
    return "yes" if yes else ("partly" if partly else "no")


def verdict(ok: Iterable[Any]) -> str:
    """yes / partly / no when all / some / none of the checks ``ok`` hold; "not testable here" for none."""
    ok = [bool(x) for x in ok]
    return graded(all(ok), any(ok), testable=bool(ok))


def exceeds(est, margin: float = 0.0) -> str:
    """Verdict of "``est`` is larger than ``margin``" (see the module docstring)."""
    if not np.isfinite(est.value):
        return NOT_TESTABLE
    return graded(np.isfinite(est.lo) and est.lo > margin, est.value > margin)


def below(est, margin: float = 0.0) -> str:
    """Verdict of "``est`` is smaller than ``margin``" (the mirror of :func:`exceeds`)."""
    if not np.isfinite(est.value):
        return NOT_TESTABLE
    return graded(np.isfinite(est.hi) and est.hi < margin, est.value < margin)


#: Rounding slack of :func:`within`: rates are ratios of counts, so 0.23 − 0.21 is 0.020000000000000018.
_TIE = 1e-9


def within(est, margin: float) -> str:
    """Verdict of "``est`` is zero up to ±``margin``" (equivalence; see the module docstring)."""
    if not np.isfinite(est.value):
        return NOT_TESTABLE
    m = margin + _TIE  # a difference of exactly the margin (2 of 100 images vs ±2 pts) is inside it
    whole = np.isfinite(est.lo) and np.isfinite(est.hi) and est.lo >= -m and est.hi <= m
    return graded(whole, abs(est.value) <= m)


def combine(verdicts: Iterable[str]) -> str:
    """yes when every verdict is yes; no when none is yes or partly; else partly. "Not testable"
    members are left out (all of them: not testable)."""
    v = [x for x in verdicts if x != NOT_TESTABLE]
    if not v:
        return NOT_TESTABLE
    if all(x == "yes" for x in v):
        return "yes"
    return "no" if all(x == "no" for x in v) else "partly"


def at_most_partly(v: str) -> str:
    """``v`` with "yes" lowered to "partly" (a claim whose evidence cannot support more: one training
    seed, a verdict that depends on the reading or the norm, a model the paper did not test)."""
    return "partly" if v == "yes" else v


@dataclass(frozen=True)
class Claim:
    """One paper statement (``id``, a :data:`~robustlab.book.checklist.CHECKLIST` id) with our number.

    ``ours`` is our number in words, ``verdict`` one of :data:`VERDICTS`, ``why`` the rule that gave
    it; ``value`` / ``interval`` optionally hold the headline number and its (low, high) 95 % range,
    ``unit`` its unit ("pts", "%", "8-bit", ...), ``method`` how the interval was obtained.
    """

    id: str
    ours: str
    verdict: str
    why: str = ""
    value: float | None = None
    interval: tuple[float, float] | None = None
    unit: str = ""
    method: str = ""

    @classmethod
    def of(cls, id: str, ours: str, verdict: str, why: str, est, scale: float = 1.0, unit: str = "") -> Claim:
        """A claim whose headline number is the :class:`~robustlab.core.stats.Estimate` ``est``
        (times ``scale``, in ``unit``)."""
        v = est.scaled(scale)
        return cls(id, ours, verdict, why, value=v.value, interval=v.interval(), unit=unit, method=v.method)

    def __post_init__(self):
        if self.verdict not in VERDICTS:
            raise ValueError(f"claim {self.id}: verdict {self.verdict!r} is not one of {VERDICTS}")
        if self.value is not None:
            object.__setattr__(self, "value", float(self.value))
        if self.interval is not None:
            lo, hi = self.interval
            object.__setattr__(self, "interval", (float(lo), float(hi)))

    def record(self) -> dict[str, Any]:
        """The claim as a dict for :func:`robustlab.book.provenance.record` (numbers only where set;
        :func:`robustlab.book.checklist.record_claims` adds the checklist's text)."""
        out: dict[str, Any] = {"id": self.id, "ours": self.ours, "verdict": self.verdict, "why": self.why}
        if self.value is not None:
            out["value"] = None if math.isnan(self.value) else self.value
        if self.interval is not None:
            out["interval"] = list(self.interval)
        if self.unit:
            out["unit"] = self.unit
        if self.method:
            out["method"] = self.method
        return out
