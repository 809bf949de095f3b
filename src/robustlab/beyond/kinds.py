"""What chapter 12 (beyond the papers) stores (its result kinds, :mod:`robustlab.core.kinds`) and the
campaign units that compute them: ``x-train-<arch>`` (the augmented paper-A models), ``x-measure-<arch>``
(every measure of every variant) and ``x-imagenet`` (paper B's classifier fine-tuned with traditional
augmentations). Its pixel runs and fine-tuned ImageNet models live in paper B's kinds; their units are
refined here."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from robustlab.core.kinds import refine_unit, register_kind
from robustlab.paper_b.kinds import AUG_CLEAN_KIND, AUG_FGSM_KIND, AUG_MODEL_KIND, PIXELS_KIND

__all__ = ["MODEL_KIND", "RECORD_KIND", "CKPT_KIND", "EVAL_KIND", "DELTA_KIND", "SEL_KIND", "MATCH_KIND",
           "train_unit_name", "measure_unit_name", "IMAGENET_UNIT"]

IMAGENET_UNIT = "x-imagenet"


def train_unit_name(arch: str) -> str:
    return f"x-train-{arch}"


def measure_unit_name(arch: str) -> str:
    return f"x-measure-{arch}"


def _arch(key: Mapping[str, Any]) -> str:
    m = key["model"] if isinstance(key.get("model"), Mapping) else key
    return m["arch"]


MODEL_KIND = register_kind("beyond_model", "the weights of a paper-A net trained with an augmentation (chapter 12)",
                           holds_weights=True, unit=lambda k: train_unit_name(_arch(k)))
RECORD_KIND = register_kind("beyond_train", "the training record of an augmented paper-A net (chapter 12)",
                            unit=lambda k: train_unit_name(_arch(k)))
CKPT_KIND = register_kind("beyond_model_ckpt", "a checkpoint of an augmented paper-A net in training (chapter 12)",
                          holds_weights=True, unit=lambda k: train_unit_name(_arch(k)))
EVAL_KIND = register_kind("beyond_eval", "the accuracy of an augmented paper-A net on a noise/blur level (chapter 12)",
                          unit=lambda k: measure_unit_name(_arch(k)))
DELTA_KIND = register_kind("beyond_delta", "the minimal change of an augmented paper-A net (chapter 12)",
                           unit=lambda k: measure_unit_name(_arch(k)))
SEL_KIND = register_kind("beyond_selection", "the CIFAR-10 images every chapter-12 variant classifies correctly",
                         unit=lambda k: measure_unit_name(k["arch"]))
MATCH_KIND = register_kind("beyond-imagenet-match", "the Gaussian noise matched to the 64-pixel change (chapter 12)",
                           unit=IMAGENET_UNIT)


def _transformed(key: Mapping[str, Any]) -> bool:
    aug = key.get("aug")
    return "transform" in key or (isinstance(aug, Mapping) and "transform" in aug)


refine_unit(PIXELS_KIND, lambda k: measure_unit_name(_arch(k)) if k.get("what") == "beyond-cifar" else (
    IMAGENET_UNIT if _transformed(k) else None))
for _kind in (AUG_CLEAN_KIND, AUG_FGSM_KIND, AUG_MODEL_KIND):
    refine_unit(_kind, lambda k: IMAGENET_UNIT if _transformed(k) else None)
