"""What paper A stores (its result kinds, :mod:`robustlab.core.kinds`) and the campaign units that compute
them. The modules that compute the results (:mod:`.grid`, :mod:`.delta`) use these names.

Unit names: ``a-train-<arch>-<kind>`` (kind ``clean`` for the σ = 0 model), ``a-eval-<arch>-<kind>``,
``a-cross-<arch>`` (Fig. 6's cross matrix), ``a-attack-<arch>-clean`` / ``a-attack-<arch>-<kind>-<σ>``; replicate
r ≥ 1 (training seed ``seed + r``)
adds ``-s<r>``.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from robustlab.core.kinds import register_kind

__all__ = ["MODEL_KIND", "RECORD_KIND", "EVAL_KIND", "CKPT_KIND", "STACK_CKPT_KIND", "DELTA_KIND", "replicate_of",
           "train_unit_name", "eval_unit_name", "attack_unit_name", "cross_unit_name", "sigma_text"]


def replicate_of(model_conf: Mapping[str, Any]) -> int:
    """The replicate index r of a model configuration (``seed - data_seed``; 0 without ``data_seed``)."""
    return int(model_conf["seed"]) - int(model_conf.get("data_seed", model_conf["seed"]))


def sigma_text(s: float) -> str:
    """σ as the unit names and messages write it (``0.1``, ``1``)."""
    return f"{float(s):g}"


def _rep(replicate: int) -> str:
    """The unit-name suffix of a replicate: none for replicate 0, ``-s<r>`` for r ≥ 1."""
    return f"-s{int(replicate)}" if replicate else ""


def train_unit_name(arch: str, kind: str, replicate: int = 0) -> str:
    """``a-train-<arch>-<kind>``; kind "clean" for the σ = 0 model; ``-s<r>`` for replicate r ≥ 1."""
    return f"a-train-{arch}-{kind}{_rep(replicate)}"


def eval_unit_name(arch: str, kind: str, replicate: int = 0) -> str:
    """``a-eval-<arch>-<kind>``; ``-s<r>`` for replicate r ≥ 1."""
    return f"a-eval-{arch}-{kind}{_rep(replicate)}"


def cross_unit_name(arch: str, replicate: int = 0) -> str:
    """``a-cross-<arch>``: Fig. 6's full cross matrix (noise-trained models on blur levels and
    blur-trained ones on noise levels); ``-s<r>`` for replicate r ≥ 1."""
    return f"a-cross-{arch}{_rep(replicate)}"


def attack_unit_name(arch: str, kind: str, sigma: float, replicate: int = 0) -> str:
    """``a-attack-<arch>-clean`` for the σ = 0 model, else ``a-attack-<arch>-<kind>-<σ>``; ``-s<r>``
    for replicate r ≥ 1."""
    base = f"a-attack-{arch}-clean" if kind == "clean" else f"a-attack-{arch}-{kind}-{sigma_text(sigma)}"
    return base + _rep(replicate)


def _model(key: Mapping[str, Any]) -> Mapping[str, Any]:
    return key["model"] if isinstance(key.get("model"), Mapping) else key


def _model_name(m: Mapping[str, Any]) -> str:
    r = replicate_of(m)
    return f"{m.get('arch')} {m.get('kind')} σ={sigma_text(m.get('sigma', 0))}" + (f" (replicate {r})" if r else "")


def _train_unit(key: Mapping[str, Any]) -> str:
    m = _model(key)
    return train_unit_name(m["arch"], m["kind"], replicate_of(m))


def _eval_unit(key: Mapping[str, Any]) -> str:
    m = _model(key)
    if m["kind"] != "clean" and key["eval_kind"] not in ("clean", m["kind"]):  # a cell of the cross matrix
        return cross_unit_name(m["arch"], replicate_of(m))
    k = key["eval_kind"] if m["kind"] == "clean" else m["kind"]
    return eval_unit_name(m["arch"], "noise" if k == "clean" else k, replicate_of(m))


def _attack_unit(key: Mapping[str, Any]) -> str:
    m = _model(key)
    return attack_unit_name(m["arch"], m["kind"], m["sigma"], replicate_of(m))


MODEL_KIND = register_kind("cifar_model", "the weights of a trained paper-A CIFAR-10 net", holds_weights=True,
                           unit=_train_unit, describe=lambda k: f"the trained {_model_name(_model(k))} model")
RECORD_KIND = register_kind("cifar_train", "the training record of a paper-A net (loss, accuracy, timings)",
                            unit=_train_unit,
                            describe=lambda k: f"the training record of the {_model_name(_model(k))} model")
EVAL_KIND = register_kind(
    "cifar_eval", "the accuracy of a paper-A net on one corruption level (one cell of Figs. 4/6)", unit=_eval_unit,
    describe=lambda k: f"the accuracy of the {_model_name(_model(k))} model on {k['eval_kind']} "
                       f"σ={sigma_text(k['eval_sigma'])}")
CKPT_KIND = register_kind("cifar_model_ckpt", "the checkpoint of a paper-A net interrupted in training",
                          holds_weights=True, unit=_train_unit,
                          describe=lambda k: f"the checkpoint of the {_model_name(_model(k))} model")
STACK_CKPT_KIND = register_kind("cifar_stack_ckpt", "the checkpoint of paper-A nets trained at once, interrupted",
                                holds_weights=True)
DELTA_KIND = register_kind("delta", "the minimal adversarial change of a paper-A net (Figs. 5/7)",
                           unit=_attack_unit,
                           describe=lambda k: f"the minimal-change attack on the {_model_name(_model(k))} model")
