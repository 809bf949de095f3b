"""Image figures of the data page (paper A §2.1, Figs. 1 and 3).

All functions take 8-bit RGB images ``uint8 (N, H, W, 3)`` (values 0-255), corrupt them on
paper A's [-1, 1] scale with :func:`robustlab.paper_a.corruptions.corrupt` and return a matplotlib
``Figure``. Noisy images are *shown* clipped to [-1, 1] (the model sees the unclipped values);
the captions say so. Noise is drawn with a seeded generator, so a figure is reproducible.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from robustlab.core.errors import ParameterError

__all__ = ["FIG1_CLASSES", "pick_examples", "show_examples", "corruption_grid", "corruption_explorer",
           "class_counts_figure"]

#: Paper A, Fig. 1: five examples, "plane, car, frog, horse and plane".
FIG1_CLASSES = ("airplane", "automobile", "frog", "horse", "airplane")


def _check_images(images) -> np.ndarray:
    a = np.asarray(images)
    if a.ndim != 4 or a.shape[-1] != 3 or a.dtype != np.uint8:
        raise ParameterError(f"images has shape {a.shape} and dtype {a.dtype}; expected uint8 (N, H, W, 3), 0-255")
    if len(a) == 0:
        raise ParameterError("images is empty; need at least one image")
    return a


def pick_examples(labels: np.ndarray, classes: Sequence[str], wanted: Sequence[str] = FIG1_CLASSES,
                  seed: int = 0) -> np.ndarray:
    """Indices of one image per entry of ``wanted`` (a class name may repeat: distinct images).

    The images of each class are drawn in a seeded random order, so the same seed gives the same
    examples. Raises ParameterError for a class that is not in ``classes``.
    """
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    taken: dict[int, list[int]] = {}
    out = []
    for name in wanted:
        if name not in classes:
            raise ParameterError(f"class {name!r} is not one of {list(classes)}")
        ci = list(classes).index(name)
        if ci not in taken:
            taken[ci] = list(rng.permutation(np.flatnonzero(labels == ci)))
        if not taken[ci]:
            raise ParameterError(f"not enough images of class {name!r} for {list(wanted)}")
        out.append(int(taken[ci].pop(0)))
    return np.asarray(out, dtype=np.int64)


def show_examples(images, titles: Sequence[str] | None = None, suptitle: str | None = None):
    """One row of images (Fig. 1 of paper A), titled with their class names."""
    # deferred: pyplot is slow to import and picks a backend; only drawing needs it
    import matplotlib.pyplot as plt

    a = _check_images(images)
    n = len(a)
    fig, axes = plt.subplots(1, n, figsize=(1.6 * n, 1.9), squeeze=False)
    for i, ax in enumerate(axes[0]):
        ax.imshow(a[i], interpolation="nearest")
        ax.set_xticks([]), ax.set_yticks([])
        if titles is not None:
            ax.set_title(str(titles[i]), fontsize=9)
    if suptitle:
        fig.suptitle(suptitle, fontsize=10)
    fig.tight_layout()
    return fig


def corruption_grid(panels: Sequence[np.ndarray], sigmas: Sequence[float], kind: str = "noise",
                    titles: Sequence[str] | None = None):
    """Rows = images, columns = σ levels (paper A Fig. 3, generalised to every level used).

    ``panels[j]``: the images at ``sigmas[j]``, float (N, H, W, 3) in [0, 1]
    (:func:`robustlab.paper_a.corruptions.display_corrupted`). ``kind`` labels the figure: "noise"
    (σ on the [-1, 1] scale) or "blur" (σ in pixels).
    """
    # deferred: pyplot is slow to import and picks a backend; only drawing needs it
    import matplotlib.pyplot as plt

    if len(panels) == 0 or len(panels) != len(sigmas):
        raise ParameterError(f"corruption_grid: {len(panels)} panels for {len(sigmas)} σ levels; need one per σ (≥ 1)")
    n = len(panels[0])
    fig, axes = plt.subplots(n, len(sigmas), figsize=(1.15 * len(sigmas) + 0.6, 1.2 * n + 0.5), squeeze=False)
    unit = "" if kind == "noise" else " px"
    for j, s in enumerate(sigmas):
        for i in range(n):
            ax = axes[i][j]
            ax.imshow(panels[j][i], interpolation="nearest")
            ax.set_xticks([]), ax.set_yticks([])
            if i == 0:
                ax.set_title(f"σ = {s:g}{unit}", fontsize=9)
            if j == 0 and titles is not None:
                ax.set_ylabel(str(titles[i]), fontsize=9)
    what = "additive Gaussian noise (σ on the [-1, 1] scale, shown clipped)" if kind == "noise" \
        else "Gaussian blur (σ in pixels)"
    fig.suptitle(f"{what}", fontsize=10)
    fig.tight_layout()
    return fig


def corruption_explorer(originals, corrupted: np.ndarray, sigma: float, kind: str = "noise",
                        titles: Sequence[str] | None = None):
    """Originals (top row, uint8 (N, H, W, 3)) and the same images at level ``sigma`` (bottom row,
    float (N, H, W, 3) in [0, 1], :func:`robustlab.paper_a.corruptions.display_corrupted`)."""
    # deferred: pyplot is slow to import and picks a backend; only drawing needs it
    import matplotlib.pyplot as plt

    a = _check_images(originals)
    if len(corrupted) != len(a):
        raise ParameterError(f"corruption_explorer: {len(corrupted)} corrupted images for {len(a)} originals")
    fig, axes = plt.subplots(2, len(a), figsize=(1.6 * len(a), 3.6), squeeze=False)
    for i in range(len(a)):
        axes[0][i].imshow(a[i], interpolation="nearest")
        axes[1][i].imshow(corrupted[i], interpolation="nearest")
        if titles is not None:
            axes[0][i].set_title(str(titles[i]), fontsize=9)
        for r in (0, 1):
            axes[r][i].set_xticks([]), axes[r][i].set_yticks([])
    axes[0][0].set_ylabel("original", fontsize=9)
    unit = "" if kind == "noise" else " px"
    axes[1][0].set_ylabel(f"{kind}, σ={sigma:g}{unit}", fontsize=9)
    fig.tight_layout()
    return fig


def class_counts_figure(counts: dict[str, Sequence[int]], classes: Sequence[str]):
    """Grouped bar chart of images per class, one group per split (``{"train": [...], "test": [...]}``)."""
    # deferred: pyplot is slow to import and picks a backend; only drawing needs it
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 2.8))
    width = 0.8 / max(1, len(counts))
    x = np.arange(len(classes))
    for k, (split, c) in enumerate(counts.items()):
        ax.bar(x + k * width, c, width, label=split)
    ax.set_xticks(x + width * (len(counts) - 1) / 2)
    ax.set_xticklabels(classes, rotation=30, fontsize=8)
    ax.set_ylabel("images per class")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
