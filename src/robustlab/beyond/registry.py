"""The cross-paper chapter's experiments, declared as data: which models each part compares.

Part 1 (paper A's open question, on paper A's CIFAR-10 nets): :data:`CIFAR_VARIANTS` — the σ = 0
model (the reference every interval is paired against), one model per registered training
augmentation of :data:`robustlab.paper_a.augmentations.AUGMENTATIONS`, and paper A's σ = 0.1 noise
model. Models of ``source == "grid"`` are paper A's own grid models (trained with the same budget by
chapters 03/04 and reused, never trained twice); ``source == "augmentation"`` models are trained
here with that budget plus the augmentation.

Part 2 (paper B's premise, on the ImageNet classifier): :func:`imagenet_variants` — chapter 10's
k = 0 control and few-pixel models (reused) and one model per traditional augmentation of
:data:`IMAGENET_TRADITIONAL`, fine-tuned exactly as chapter 10's models (same images, epochs,
learning rate, batches) with the augmentation applied to every batch.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from robustlab.paper_a.augmentations import AUGMENTATIONS
from robustlab.paper_b.augment import CONTROL

__all__ = ["Variant", "REFERENCE", "NOISE_REFERENCE", "CIFAR_VARIANTS", "IMAGENET_TRADITIONAL", "CONTROL_K",
           "cifar_variants", "imagenet_variants", "variant"]


@dataclass(frozen=True)
class Variant:
    """One compared model: ``name`` (row label), ``description``, ``source`` (where the model comes
    from: "grid" | "augmentation" for part 1, "pixels" | "transform" for part 2) and ``params``
    (plain data: grid kind/σ, the augmentation's name and parameters, k, the transform)."""

    name: str
    description: str
    source: str
    params: dict[str, Any] = field(default_factory=dict)


#: Part 1's reference (σ = 0, no augmentation) and paper A's recommendation (σ = 0.1 noise).
REFERENCE, NOISE_REFERENCE = "none", "noise σ=0.1"

CIFAR_VARIANTS: list[Variant] = [
    Variant(REFERENCE, "no augmentation, no noise: paper A's σ = 0 model (the reference)", "grid",
            {"kind": "noise", "sigma": 0.0}),
    *[Variant(a.name, a.description, "augmentation", {"augmentation": a.name, **a.params})
      for a in AUGMENTATIONS.values()],
    Variant(NOISE_REFERENCE, "Gaussian noise σ = 0.1 (on [−1, 1]) on every training batch: paper A's "
            "recommendation, its own grid model (chapter 03)", "grid", {"kind": "noise", "sigma": 0.1}),
]

def cifar_variants(cfg) -> list[Variant]:
    """Part 1's models for this run: both references and the augmentations ``cfg.beyond_augmentations``
    names (None = every registered one), in :data:`CIFAR_VARIANTS` order."""
    keep = cfg.get("beyond_augmentations")
    return [v for v in CIFAR_VARIANTS if v.source != "augmentation" or keep is None or v.name in keep]


#: Part 2's traditional augmentations (fine-tuning on [0, 1] images of 224 × 224).
IMAGENET_TRADITIONAL: list[Variant] = [
    Variant("gaussian noise", "Gaussian noise on every value, σ chosen so that the mean |change| equals that of "
            "the 64-pixel change (measured on the fine-tuning images), clipped to [0, 1]", "transform",
            {"kind": "gaussian", "match_pixels": 64}),
    Variant("random erasing", "random erasing (Zhong et al.): with probability 0.5 one rectangle of 2–33 % of the "
            "image, aspect ratio 0.3–3.3, filled with uniform random values", "transform",
            {"kind": "erasing", "p": 0.5, "area": [0.02, 0.33], "ratio": [0.3, 3.3]}),
    Variant("crop + flip", "random 224×224 crop of the image zero-padded by 28 px (4/32 of the side, as on "
            "CIFAR) and a horizontal flip with probability 1/2", "transform", {"kind": "crop-flip", "pad": 28}),
]

#: The fine-tuned control's k (no pixel changed).
CONTROL_K = 0


def imagenet_variants(cfg) -> list[Variant]:
    """Part 2's models: chapter 10's control and few-pixel models (k = ``cfg.aug_pixel_counts``), then
    the traditional augmentations."""
    return [Variant(CONTROL, "fine-tuned on the unchanged images (chapter 10's control)", "pixels", {"k": CONTROL_K}),
            *[Variant(f"k={k}", f"fine-tuned with {k} random pixels changed per image (chapter 10)", "pixels",
                      {"k": int(k)}) for k in cfg.aug_pixel_counts],
            *IMAGENET_TRADITIONAL]


def variant(name: str, variants: list[Variant] | None = None) -> Variant:
    """The variant called ``name`` (KeyError naming the known ones otherwise)."""
    for v in variants if variants is not None else CIFAR_VARIANTS:
        if v.name == name:
            return v
    raise KeyError(f"no variant {name!r}; known: {[v.name for v in (variants or CIFAR_VARIANTS)]}")
