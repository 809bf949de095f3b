"""What paper B stores (its result kinds, :mod:`robustlab.core.kinds`) and the campaign units that compute
them (``b-select``, ``b-exp1`` … ``b-exp4``, ``b-aug``, ``b-aug-lr``, ``b-cifar``). The modules that
compute the results use these names; the ``"what"`` field of their keys is the kind's name.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from robustlab.core.kinds import register_kind

__all__ = ["SELECTION_KIND", "CIFAR_SELECTION_KIND", "PIXELS_KIND", "FGSM_KIND",
           "AUG_LR_KIND", "AUG_CLEAN_KIND", "AUG_MODEL_KIND", "AUG_FGSM_KIND"]


def _pixels_unit(key: Mapping[str, Any]) -> str:
    """The unit of one pixel run: by its tag (fgsm, aug), its data (cifar) and its setting."""
    tag = key.get("tag")
    if tag == "fgsm":
        return "b-exp4"
    if tag == "aug":
        return "b-aug"
    if key.get("what") == "cifar":
        return "b-cifar"
    if key.get("area") is not None:
        return "b-exp3"
    if key.get("magnitude") is not None:
        return "b-exp2"
    return "b-exp1"


SELECTION_KIND = register_kind("paperb-selection", "the ImageNet images every paper-B model classifies correctly",
                               # §6.2's held-out test images come from the validation split alone, selected by
                               # b-aug-bases (b-aug and b-aug-lr follow it); the experiments' images by b-select
                               unit=lambda key: "b-aug-bases" if list(key.get("splits", ())) == ["val"] else "b-select")
CIFAR_SELECTION_KIND = register_kind("paperb-cifar-selection",
                                     "the CIFAR-10 test images a paper-A model classifies correctly", unit="b-cifar")
PIXELS_KIND = register_kind("paperb-pixels", "the paper-B result of random few-pixel changes (exp. 1–3, Pi)",
                            unit=_pixels_unit)
FGSM_KIND = register_kind("paperb-fgsm", "the paper-B result of FGSM (exp. 4, its ε sweep, §6.2's held-out set)",
                          unit=lambda key: "b-aug" if key.get("aug_test") is not None else "b-exp4")
AUG_LR_KIND = register_kind("paperb-aug-lr-check", "the paper-B fine-tuning learning rate checked (§6.2)",
                            unit="b-aug-lr")
AUG_CLEAN_KIND = register_kind("paperb-aug-clean", "the clean accuracy of a paper-B model (§6.2)", unit="b-aug")
AUG_MODEL_KIND = register_kind("paperb-aug-model", "the weights of a paper-B model fine-tuned with changed pixels",
                               holds_weights=True, unit="b-aug")
AUG_FGSM_KIND = register_kind("paperb-aug-fgsm", "the FGSM images of the §6.2 held-out set", unit="b-aug")
