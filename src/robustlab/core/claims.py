"""A claim checked against our numbers: the one record both papers' chapters produce.

A :class:`Claim` holds only what a run measured: the id of the paper's statement, *our* number
(``ours``), the verdict and why. The statement itself (the paper, section, the claim's wording and the
paper's value) lives once, in :data:`robustlab.book.checklist.CHECKLIST`, looked up by ``id``.

Every verdict is made by :func:`graded` (one condition for "yes", a weaker one for "partly", and
whether the run can test the claim at all); :func:`verdict` is its form for a list of checks
(all / some / none hold).
"""
from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

__all__ = ["VERDICTS", "NOT_TESTABLE", "Claim", "graded", "verdict"]

#: The verdicts a claim can have.
VERDICTS = ("yes", "partly", "no", "not testable here")
NOT_TESTABLE = "not testable here"


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


@dataclass(frozen=True)
class Claim:
    """One paper statement (``id``, a :data:`~robustlab.book.checklist.CHECKLIST` id) with our number.

    ``ours`` is our number in words, ``verdict`` one of :data:`VERDICTS`, ``why`` the rule that gave
    it; ``value`` / ``interval`` optionally hold the headline number and its (low, high) range.
    """

    id: str
    ours: str
    verdict: str
    why: str = ""
    value: float | None = None
    interval: tuple[float, float] | None = None

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
        return out
