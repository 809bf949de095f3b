"""The registry of result kinds: what the results store holds, declared once by the code that computes it.

A **kind** is the folder a result lives in (``<results>/<kind>/<hash>.pt``). Each is declared with
:func:`register_kind` by the paper module that computes it (:mod:`robustlab.paper_a.kinds`,
:mod:`robustlab.paper_b.kinds`): its name, whether it holds weights (then it is never published and
is packed last), the campaign unit that computes one result of it (a function of the result's key),
and a one-line description. The campaign (which unit to run), provenance, publish, pack and the
no-compute guard's messages all read this registry; no kind name is written anywhere else.

A kind holding weights must have a name ending in ``_model``/``-model``/``_ckpt``/``-ckpt`` and no other
kind may (checked here), so a folder of a kind this version does not know (a newer package's results)
is still never published: :func:`holds_weights` falls back to the name for it.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["ResultKind", "KINDS", "register_kind", "refine_unit", "get_kind", "holds_weights", "is_checkpoint",
           "unit_for", "describe_result", "WEIGHT_SUFFIXES", "CHECKPOINT_SUFFIXES"]

WEIGHT_SUFFIXES = ("_model", "-model", "_ckpt", "-ckpt")
CHECKPOINT_SUFFIXES = ("_ckpt", "-ckpt")


@dataclass(frozen=True)
class ResultKind:
    """One kind of stored result.

    ``unit(key)``: the name of the campaign unit that computes the result stored under ``key`` (None
    when no unit does, e.g. a checkpoint of several models); ``describe(key)``: a short human name of
    that result, for messages (default: the kind's ``what`` and the key's telling fields)."""

    name: str
    what: str
    holds_weights: bool = False
    unit: Callable[[Mapping[str, Any]], str | None] = field(default=lambda key: None, repr=False)
    describe: Callable[[Mapping[str, Any]], str] | None = field(default=None, repr=False)


#: name → ResultKind, filled by the papers when they are imported (``import robustlab`` imports both)
KINDS: dict[str, ResultKind] = {}


def register_kind(name: str, what: str, *, holds_weights: bool = False,
                  unit: str | Callable[[Mapping[str, Any]], str | None] | None = None,
                  describe: Callable[[Mapping[str, Any]], str] | None = None) -> str:
    """Declare a kind; returns its name (``MODEL_KIND = register_kind("cifar_model", ...)``). ``unit`` is a
    unit name or a function of the result's key giving one."""
    if holds_weights != name.endswith(WEIGHT_SUFFIXES):
        raise ValueError(f"result kind {name!r}: a kind holding weights must end in one of {WEIGHT_SUFFIXES} and "
                         f"no other kind may (holds_weights={holds_weights})")
    fn = unit if callable(unit) else (lambda key, u=unit: u)
    k = ResultKind(name, what, holds_weights, fn, describe)
    old = KINDS.get(name)
    if old is not None and (old.what, old.holds_weights) != (what, holds_weights):
        raise ValueError(f"result kind {name!r} declared twice, differently")
    KINDS[name] = k
    return name


def refine_unit(name: str, unit: Callable[[Mapping[str, Any]], str | None]) -> None:
    """Let a higher layer name the unit of some results of a kind declared below it (chapter 12 stores
    pixel runs and fine-tuned models in paper B's kinds): ``unit(key)`` is asked first, the kind's own
    rule when it returns None."""
    old = KINDS[name]
    KINDS[name] = ResultKind(old.name, old.what, old.holds_weights,
                             lambda key, f=unit, g=old.unit: f(key) or g(key), old.describe)


def get_kind(name: str) -> ResultKind | None:
    """The registered kind ``name``, or None for a kind this version does not declare."""
    return KINDS.get(name)


def holds_weights(name: str) -> bool:
    """True for kinds holding model weights (never published). An undeclared kind is judged by its name
    (the same rule :func:`register_kind` enforces), so another version's weights are never published."""
    k = KINDS.get(name)
    return k.holds_weights if k is not None else name.endswith(WEIGHT_SUFFIXES)


def is_checkpoint(name: str) -> bool:
    """True for checkpoint kinds (weights of an interrupted run: ``_ckpt``/``-ckpt``), packed last."""
    return holds_weights(name) and name.endswith(CHECKPOINT_SUFFIXES)


def unit_for(name: str, key: Mapping[str, Any]) -> str | None:
    """The campaign unit that computes the result of kind ``name`` stored under ``key`` (for messages)."""
    k = KINDS.get(name)
    try:
        return k.unit(key) if k is not None else None
    except (KeyError, TypeError, ValueError):  # a key of another shape: the message goes without a unit
        return None


_SHOWN = ("tag", "n_pixels", "magnitude", "area", "k", "variant")


def describe_result(name: str, key: Mapping[str, Any]) -> str:
    """A short human name of a stored result, for messages."""
    k = KINDS.get(name)
    if k is not None and k.describe is not None:
        try:
            return k.describe(key)
        except (KeyError, TypeError, ValueError):
            pass
    fields = ", ".join(f"{f}={v}" for f, v in key.items() if f in _SHOWN)
    return f"{k.what if k is not None else 'the result'} ({name}{': ' + fields if fields else ''})"
