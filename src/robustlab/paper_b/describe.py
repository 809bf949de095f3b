"""What produced a paper-B page's numbers: :func:`describe_run`, the paragraph under each chapter's
parameters. Both papers keep it in a module of this name with this signature
(:func:`robustlab.paper_a.describe.describe_run`); the chapters call ``rl.paper_b.describe_run(cfg)``."""
from __future__ import annotations

from pathlib import Path

from robustlab.paper_b.classifiers import SHARED_MOBILENET, available, label, weights_arg
from robustlab.paper_b.selection import stored_selection

__all__ = ["describe_run"]


def describe_run(cfg) -> str:
    """Markdown: which models, images, sizes and hardware produced this page's numbers, and which of
    the requested models were left out for want of weights."""

    sel = stored_selection(cfg)
    if sel and "device" in sel:
        ran = f"computed on {sel['device']}" + (f" ({sel['date']})" if sel.get("date") else "")
    else:
        ran = "not computed yet"
    names, missing = available(cfg)

    def one(n: str) -> str:
        w = weights_arg(cfg, n)
        if n == "mobilenet_v2" and Path(w).name == Path(SHARED_MOBILENET).name:
            return ("the **real ImageNet-pretrained MobileNetV2** (torchvision's quantized model, dequantized; "
                    f"`{Path(w).name}`)")
        return f"{label(n)} (weights `{Path(w).name if Path(w).is_file() else w}`)"

    models = "; ".join(one(n) for n in names)
    left = (" **Left out for want of weights:** " + "; ".join(f"{label(k)} — {v}" for k, v in missing.items()) + "."
            if missing else "")
    grid_r = cfg.get("grid_repeats") or cfg.n_repeats
    every = "every one of these models classifies" if len(names) > 1 else "this model classifies"
    return (f"**What produced these numbers.** Model{'s' if len(names) > 1 else ''}: {models}.{left} Images: the "
            f"first {cfg.n_images} real ImageNet images (one-per-class sample, then Imagenette val/train, seeded "
            f"order) that {every} correctly; {cfg.n_repeats} seeded repeats per setting of experiments 1 and 4 and "
            f"of the augmentation test ({grid_r} in the exp. 2/3 grids), every image changed independently. Every "
            f"rate is shown with its **95 % interval over the images** (paired bootstrap; each image's value "
            f"is its mean over the repeats), and the spread over the repeats beside it. Profile "
            f"`{cfg.profile}`, {ran}.")
