"""The checklist of every claim of both papers — the only place their text is written — and the
tables built from claims.

The chapters compute :class:`robustlab.core.claims.Claim` records (``id``, ``ours``, ``verdict``,
``why``; see :mod:`robustlab.paper_a.claims` and :mod:`robustlab.paper_b.claims`), record them with
:func:`record_claims` (which fills in the checklist's ``paper``, ``section``, ``claim`` and
``paper_value`` so the records read on their own) and show them with :func:`claims_table`. Every id
a chapter produces has an entry here (:func:`entry` raises otherwise). A recorded claim without an
``id`` (older records) is matched by paper and section.

:func:`summary_rows` lays the recorded claims over the checklist: a checklist entry is filled by
the recorded claims with its ``id``, else by those of the same paper and section; an entry nobody
recorded stays "not run yet" (its notebook has not run) or "not recorded" (its notebook ran but
recorded nothing for it). Recorded claims that match no entry are listed too. Nothing is invented.
"""
from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from robustlab.book.provenance import read_records, record
from robustlab.core.claims import VERDICTS, Claim

__all__ = ["VERDICTS", "CHECKLIST", "TABLE_COLUMNS", "DISPLAY_COLUMNS", "entry", "with_text", "value_text",
           "headline_text", "claims_table", "claims_display", "record_claims", "norm_section", "collect_records",
           "summary_rows", "verdict_counts"]

#: (id, paper, section, claim as the paper states it, the paper's value, notebook that tests it), read from
#: ``checklist.yaml`` beside this module (data, not code).
_FIELDS = ("id", "paper", "section", "claim", "paper_value", "notebook")


def _load_checklist() -> list[dict[str, str]]:
    rows = yaml.safe_load(resources.files("robustlab.book").joinpath("checklist.yaml").read_text(encoding="utf-8"))
    bad = [r for r in rows if set(r) != set(_FIELDS)]
    if bad:
        raise ValueError(f"checklist.yaml: entries need exactly the fields {_FIELDS}; bad: {bad[:2]}")
    return [{k: str(r[k]) for k in _FIELDS} for r in rows]


CHECKLIST: list[dict[str, str]] = _load_checklist()


_BY_ID = {e["id"]: e for e in CHECKLIST}
if len(_BY_ID) != len(CHECKLIST):
    raise ValueError("CHECKLIST has duplicate ids")


def entry(claim_id: str) -> dict[str, str]:
    """The checklist entry of a claim id (KeyError, naming the id, for one the checklist lacks)."""
    try:
        return _BY_ID[claim_id]
    except KeyError:
        raise KeyError(f"claim id {claim_id!r} has no entry in robustlab.book.checklist.CHECKLIST") from None


def _as_record(claim: Claim | Mapping[str, Any]) -> dict[str, Any]:
    return claim.record() if isinstance(claim, Claim) else dict(claim)


def with_text(claim: Claim | Mapping[str, Any]) -> dict[str, Any]:
    """A claim's record with its checklist text: ``paper``, ``section``, ``claim``, ``paper_value``."""
    rec = _as_record(claim)
    e = entry(rec["id"])
    return {"id": e["id"], "paper": e["paper"], "section": e["section"], "claim": e["claim"],
            "paper_value": e["paper_value"], **rec}


def record_claims(cfg, claims: Iterable[Claim]) -> list[Claim]:
    """Record a chapter's claims (with their checklist text) under ``"claims"``; returns ``claims``."""

    claims = list(claims)
    record(cfg, "claims", [with_text(c) for c in claims])
    return claims


def value_text(rec: Mapping[str, Any]) -> str:
    """A recorded claim's headline number with its 95 % interval and how it was obtained, e.g.
    ``"+4.1 [1.2, 7.0] pts (bootstrap over 1000 images)"``; "exact" for a claim without an interval
    (a count, a formula), "—" without a number."""
    v = rec.get("value")
    if v is None:
        return "—"
    unit = rec.get("unit", "")
    unit = f" {unit}" if unit else ""
    iv = rec.get("interval")
    if not iv:
        how = rec.get("method") or "exact"
        return f"{v:.3g}{unit} ({'exact' if how == 'none' else how})"
    lo, hi = iv
    digits = 2 if max(abs(v), abs(lo), abs(hi)) < 10 else 1
    return f"{v:.{digits}f} [{lo:.{digits}f}, {hi:.{digits}f}]{unit} ({rec.get('method', '95 % interval')})"


def headline_text(rec: Mapping[str, Any]) -> str:
    """A recorded claim's one headline number — the one that decides its verdict — with its 95 %
    interval and unit, e.g. ``"+4.1 [1.2, 7.0] pts"`` (how the interval was obtained is in the
    details); without a number, its short *ours* (a count), else "—"."""
    v = rec.get("value")
    if v is None:  # a count or a short statement (A-data, A-params-*): the words are the headline
        ours = str(rec.get("ours", ""))
        return ours if ours and len(ours) <= 40 and rec.get("verdict") in VERDICTS else "—"
    unit = rec.get("unit", "")
    unit = f" {unit}" if unit else ""
    iv = rec.get("interval")
    if not iv:
        return f"{v:.3g}{unit}"
    lo, hi = iv
    digits = 2 if max(abs(v), abs(lo), abs(hi)) < 10 else 1
    return f"{v:.{digits}f} [{lo:.{digits}f}, {hi:.{digits}f}]{unit}"


#: Columns of a claims table (a page's and the summary's): the data, nothing folded.
TABLE_COLUMNS = ["section", "claim", "paper's value", "ours", "value [95 % interval]", "verdict", "why"]
#: Columns of the table a reader sees (:func:`claims_display`): one headline per claim, the rest folded.
DISPLAY_COLUMNS = ["section", "claim", "paper's value", "ours: headline [95 % interval]", "verdict", "details"]


def _details(ours: str, how: str, why: str) -> str:
    parts = [f"<p><b>ours:</b> {html.escape(str(ours))}</p>"]
    if how:
        parts.append(f"<p><b>headline and interval:</b> {html.escape(str(how))}</p>")
    if why:
        parts.append(f"<p><b>why (the rule):</b> {html.escape(str(why))}</p>")
    return "<details><summary>numbers and rule</summary>" + "".join(parts) + "</details>"


def claims_display(claims) -> Any:
    """The claims as a reader scans them: one row per claim with its **one headline value** (the
    number that decides the verdict, with its 95 % interval; :func:`headline_text`) and the verdict,
    and every per-model / per-architecture number and the rule folded into a ``<details>`` cell —
    the same data as :func:`claims_table`, nothing dropped. ``claims``: Claim records, recorded claim
    dicts, or the rows of :func:`summary_rows` (their ``notebook`` column is kept)."""
    import pandas as pd  # deferred: pandas is slow to import; only tables need it

    if isinstance(claims, pd.DataFrame):
        items = claims.to_dict("records")
    else:
        items = [dict(c) if isinstance(c, Mapping) and ("paper_value" in c or "paper's value" in c) else with_text(c)
                 for c in claims]
    rows = []
    for r in items:
        head = r.get("headline") if "headline" in r else headline_text(r)
        how = r.get("value [95 % interval]") if "value [95 % interval]" in r else value_text(r)
        row = {"section": r.get("section", ""), "claim": r.get("claim", ""),
               "paper's value": r.get("paper's value", r.get("paper_value", "")),
               "ours: headline [95 % interval]": head, "verdict": r.get("verdict", ""),
               "details": _details(r.get("ours", "—"), how if how != "—" else "", r.get("why", ""))}
        if "notebook" in r:
            row["notebook"] = r["notebook"]
        rows.append(row)
    cols = DISPLAY_COLUMNS + (["notebook"] if any("notebook" in r for r in rows) else [])
    return pd.DataFrame(rows, columns=cols)


def claims_table(claims: Iterable[Claim | Mapping[str, Any]]):
    """The claims for a page: section, claim, paper's value (from the checklist), ours, the headline
    value with its 95 % interval (:func:`value_text`), verdict, why."""
    # deferred: pandas is slow to import; only tables need it
    import pandas as pd

    rows = []
    for c in claims:
        r = with_text(c)
        rows.append({"section": r["section"], "claim": r["claim"], "paper's value": r["paper_value"],
                     "ours": r["ours"], "value [95 % interval]": value_text(r), "verdict": r["verdict"],
                     "why": r.get("why", "")})
    return pd.DataFrame(rows, columns=TABLE_COLUMNS)


def norm_section(s: str) -> str:
    """Normalised section label: "Figure 4" == "Fig. 4" == "fig4"; "Table 6" == "Tab. 6"."""
    s = str(s).lower().replace("figure", "fig").replace("figs", "fig").replace("table", "tab")
    return re.sub(r"[^a-z0-9§]", "", s)


def collect_records(records_dir: str | Path) -> dict[str, dict[str, Any]]:
    """{notebook: its records} for every ``<records_dir>/*.json`` (see robustlab.book.provenance)."""

    d = Path(records_dir)
    return {p.stem: read_records(p) for p in sorted(d.glob("*.json"))} if d.is_dir() else {}


def _row(entry: Mapping[str, Any], rec: Mapping[str, Any] | None, notebook: str, status: str | None = None) -> dict:
    src = rec or {}
    return {
        "paper": src.get("paper", entry.get("paper", "")),
        "section": src.get("section", entry.get("section", "")),
        "claim": src.get("claim", entry.get("claim", "")),
        "paper's value": src.get("paper_value", entry.get("paper_value", "")),
        "ours": src.get("ours", "—") if rec else "—",
        "value [95 % interval]": value_text(src) if rec else "—",
        "headline": headline_text(src) if rec else "—",
        "verdict": status or str(src.get("verdict", "")),
        "why": src.get("why", "") if rec else "",
        "notebook": notebook,
    }


def summary_rows(records: Mapping[str, Mapping[str, Any]],
                 checklist: Iterable[Mapping[str, str]] = CHECKLIST) -> list[dict]:
    """One row per claim: recorded claims laid over the checklist (see module docstring)."""
    recorded = []  # (notebook, claim dict)
    for nb, rec in records.items():
        for c in rec.get("claims", []) or []:
            if isinstance(c, Mapping):
                recorded.append((nb, c))
    used: set[int] = set()
    rows = []
    for entry in checklist:
        hits = [i for i, (_, c) in enumerate(recorded) if c.get("id") == entry["id"]]
        if not hits:
            hits = [i for i, (_, c) in enumerate(recorded) if i not in used and not c.get("id")
                    and str(c.get("paper", "")).upper() == entry["paper"]
                    and norm_section(c.get("section", "")) == norm_section(entry["section"])]
            # several checklist entries share a section: each recorded claim fills one entry only
            hits = hits[:1]
        if hits:
            for i in hits:
                used.add(i)
                rows.append(_row(entry, recorded[i][1], recorded[i][0]))
            continue
        nb = entry["notebook"]
        if nb in records:
            rows.append(_row(entry, None, nb, "not recorded"))
        else:
            rows.append(_row(entry, None, nb, "not run yet"))
    for i, (nb, c) in enumerate(recorded):
        if i not in used:
            rows.append(_row({}, c, nb))
    return rows


def verdict_counts(rows: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """How many rows have each verdict (including "not run yet" / "not recorded")."""
    out: dict[str, int] = {}
    for r in rows:
        out[r["verdict"]] = out.get(r["verdict"], 0) + 1
    return out
