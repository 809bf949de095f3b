"""Figures and tables of paper B (few-pixel changes): Figs. 8–10 style curves, Pi, FGSM restore,
augmentation, and the interactive original-vs-changed image view.

Inputs are the DataFrames of :mod:`robustlab.paper_b.experiments` (columns ``n_pixels``, ``magnitude``,
``area``, ``images``, ``wrong_rate`` (share in [0, 1]), ``wrong_rate_std``, ``wrong_mean``
(images), ``accuracy``). Error bars are ± one standard deviation over the seeded repeats.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

__all__ = ["pixel_count_figure", "magnitude_figure", "area_figure", "pixel_index_figure", "fgsm_restore_figure",
           "augmentation_figure", "pixel_table", "pixel_change_figure"]


def _tables(tables: pd.DataFrame | Mapping[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    return {"": tables} if isinstance(tables, pd.DataFrame) else dict(tables)


def _two_panels(title: str):
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), constrained_layout=True)
    fig.suptitle(title)
    return fig, axes


def _curve(ax_acc, ax_wrong, t: pd.DataFrame, x: str, label: str, log_x: bool = False):
    t = t.sort_values(x)
    xs = t[x].to_numpy()
    ax_acc.errorbar(xs, 100 * t["accuracy"], yerr=100 * t["wrong_rate_std"], marker="o", capsize=3, label=label)
    ax_wrong.errorbar(xs, t["wrong_mean"], yerr=t["wrong_rate_std"] * t["images"], marker="o", capsize=3, label=label)
    if log_x:
        for ax in (ax_acc, ax_wrong):
            ax.set_xscale("log", base=2)
            ax.set_xticks(xs, [str(int(v)) for v in xs])


def _finish(axes, xlabel: str, n_images: int | None, legend_title: str | None):
    axes[0].set_ylabel("accuracy after the change (%)")
    axes[1].set_ylabel(f"wrong images (of {n_images})" if n_images else "wrong images")
    for ax in axes:
        ax.set_xlabel(xlabel)
        ax.grid(alpha=0.3)
    handles, labels = axes[0].get_legend_handles_labels()
    if any(labels):
        axes[1].legend(title=legend_title, fontsize=8)


def pixel_count_figure(tables: pd.DataFrame | Mapping[str, pd.DataFrame], title: str | None = None):
    """Fig. 8 style: (a) accuracy and (b) wrong images vs the number of changed pixels (log₂ axis),
    one curve per model (``tables`` = {model: experiment-1 table})."""
    tabs = _tables(tables)
    fig, axes = _two_panels(title or "Random pixel changes (any value, anywhere): exp. 1")
    for label, t in tabs.items():
        _curve(axes[0], axes[1], t, "n_pixels", label, log_x=True)
    _finish(axes, "changed pixels per image (of 224×224)" if next(iter(tabs.values()))["area"].max() >= 224
            else "changed pixels per image", int(next(iter(tabs.values()))["images"].iloc[0]), "model")
    return fig


def magnitude_figure(table: pd.DataFrame, title: str | None = None):
    """Fig. 9 style: accuracy and wrong images vs the change magnitude m (±m per channel, 8-bit
    units), one curve per pixel count."""
    fig, axes = _two_panels(title or "Magnitude of the change: exp. 2")
    for p, t in table.groupby("n_pixels"):
        _curve(axes[0], axes[1], t.assign(magnitude=t["magnitude"].astype(int)), "magnitude", f"{p} px")
    _finish(axes, "max change per channel m (8-bit units, ±m)", int(table["images"].iloc[0]), "pixels")
    return fig


def area_figure(table: pd.DataFrame, title: str | None = None):
    """Fig. 10 style: accuracy and wrong images per centred window side; x = pixel count with one
    curve per window when several counts were run, else x = window side."""
    fig, axes = _two_panels(title or "Position range of the change (centred window): exp. 3")
    if table["n_pixels"].nunique() > 1:
        for a, t in table.groupby("area", sort=False):
            _curve(axes[0], axes[1], t, "n_pixels", f"{a}×{a}", log_x=True)
        _finish(axes, "changed pixels per image", int(table["images"].iloc[0]), "window")
    else:
        for p, t in table.groupby("n_pixels"):
            _curve(axes[0], axes[1], t, "area", f"{p} px")
        for ax in axes:
            ax.invert_xaxis()
        _finish(axes, "side of the centred window (pixels)", int(table["images"].iloc[0]), "pixels")
    return fig


def pixel_index_figure(curves: pd.DataFrame | Mapping[str, pd.DataFrame], title: str | None = None):
    """Pi (paper B eq. 7) vs pixel count, one curve per model; bars = min–max over repeats."""
    fig, ax = plt.subplots(figsize=(6, 3.8), constrained_layout=True)
    for label, c in _tables(curves).items():
        c = c.sort_values("n_pixels")
        ax.errorbar(c["n_pixels"], c["Pi"], yerr=[c["Pi"] - c["Pi_min"], c["Pi_max"] - c["Pi"]], marker="o",
                    capsize=3, label=label or None)
        ax.set_xscale("log", base=2)
        ax.set_xticks(c["n_pixels"], [str(int(v)) for v in c["n_pixels"]])
    ax.set_xlabel("changed pixels per image")
    ax.set_ylabel("Pixel-index Pi = w / (p·r·a)")
    ax.set_title(title or "Pixel-index over pixel counts (smaller = more robust)")
    ax.grid(alpha=0.3)
    if any(_tables(curves)):
        ax.legend(fontsize=8)
    return fig


def fgsm_restore_figure(table: pd.DataFrame, title: str | None = None):
    """Exp. 4 (Table 9): share of FGSM examples returned to the true class / still classified as the
    adversarial class, vs the number of random pixels changed on them."""
    fig, ax = plt.subplots(figsize=(6, 3.8), constrained_layout=True)
    t = table.sort_values("n_pixels")
    ax.errorbar(t["n_pixels"], 100 * t["restored_rate"], yerr=100 * t["wrong_rate_std"], marker="o", capsize=3,
                label="back to the true class")
    ax.errorbar(t["n_pixels"], 100 * t["still_fooling_rate"], yerr=100 * t["still_fooling_std"], marker="s",
                capsize=3, label="still the adversarial class")
    ax.set_xscale("log", base=2)
    ax.set_xticks(t["n_pixels"], [str(int(v)) for v in t["n_pixels"]])
    ax.set_xlabel("random pixels changed on the FGSM example")
    ax.set_ylabel(f"share of {int(t['images'].iloc[0])} FGSM examples (%)")
    ax.set_title(title or "Few-pixel changes on FGSM examples: exp. 4")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return fig


def augmentation_figure(result: Mapping[str, Any], title: str | None = None):
    """§6.2: (a) wrong-rate on held-out images per pixel count for the base and each fine-tuned
    model (0 = clean), (b) share of the base model's FGSM examples still fooling each model."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), constrained_layout=True)
    e = result["exp1"]
    models = list(dict.fromkeys(e["model"]))
    counts = sorted(e["n_pixels"].unique())
    w = 0.8 / max(len(models), 1)
    for i, m in enumerate(models):
        t = e[e["model"] == m].set_index("n_pixels").reindex(counts)
        axes[0].bar(np.arange(len(counts)) + i * w, 100 * t["wrong_rate"], w, yerr=100 * t["wrong_rate_std"],
                    capsize=2, label=m)
    axes[0].set_xticks(np.arange(len(counts)) + w * (len(models) - 1) / 2,
                       ["clean" if c == 0 else f"{c} px" for c in counts])
    axes[0].set_ylabel(f"wrong (% of {int(e['images'].iloc[0])} held-out images)")
    axes[0].set_xlabel("random pixels changed at test time")
    top = float(np.nanmax(100 * (e["wrong_rate"] + e["wrong_rate_std"]))) if len(e) else 1.0
    axes[0].set_ylim(0, max(top, 1.0) * 1.45)  # head room for the legend
    axes[0].legend(title="model (k = pixels changed in training)", fontsize=8, title_fontsize=8, ncol=3,
                   loc="upper left")
    f = result["fgsm"]
    if len(f):
        axes[1].bar(f["model"], 100 * f["still_fooling_rate"], color="tab:red")
        axes[1].set_ylabel(f"FGSM examples still fooling (% of {int(f['fgsm_examples'].iloc[0])})")
    axes[1].set_xlabel("model")
    for ax in axes:
        ax.grid(alpha=0.3, axis="y")
    fig.suptitle(title or "Few-pixel augmentation (§6.2)")
    return fig


def pixel_table(table: pd.DataFrame, index: str = "n_pixels", columns: str | None = None,
                percent: bool = True) -> pd.DataFrame:
    """Paper-style table: rows ``index``; per column group ``wrong (mean ± std)`` and accuracy.

    With ``columns`` (e.g. ``"magnitude"`` or ``"area"``) a wide table of wrong-rates is returned.
    """
    f = (lambda v: f"{100 * v:.1f}") if percent else (lambda v: f"{v:.3f}")
    if columns is not None:
        cell = table.assign(cell=[f"{f(r.wrong_rate)} ± {f(r.wrong_rate_std)}" for r in table.itertuples()])
        wide = cell.pivot(index=index, columns=columns, values="cell")
        wide.columns = [f"{columns} {c}" for c in wide.columns]
        return wide
    out = pd.DataFrame({index: table[index],
                        "images": table["images"],
                        "wrong images (mean)": table["wrong_mean"].round(1),
                        "wrong (%) ± std" if percent else "wrong ± std":
                            [f"{f(r.wrong_rate)} ± {f(r.wrong_rate_std)}" for r in table.itertuples()],
                        "accuracy (%)" if percent else "accuracy": [f(v) for v in table["accuracy"]]})
    return out.set_index(index)


def pixel_change_figure(example: Mapping[str, Any], label: int, class_names: Sequence[str] | None = None):
    """Original vs changed image with the model's top-1 class and confidence, from
    :func:`robustlab.paper_b.pixels.pixel_change_example`; ``label`` is the true class index and
    ``class_names`` names the indices (indices are shown when None)."""
    name = (lambda k: class_names[k]) if class_names is not None else (lambda k: f"class {k}")
    fig, axes = plt.subplots(1, 2, figsize=(8, 4.4), constrained_layout=True)
    mag = example["magnitude"]
    what = "any value" if mag is None else f"±{mag}"
    for ax, im, p, c, t in zip(axes, example["images"], example["pred"], example["conf"],
                               ("original", f"{example['n_pixels']} pixels changed ({what}, seed {example['seed']})")):
        ax.imshow(im)
        ok = p == int(label)
        ax.set_title(f"{t}\n→ {name(p)} ({100 * c:.1f} %)", color="tab:green" if ok else "tab:red", fontsize=9)
        ax.set_xticks([]), ax.set_yticks([])
    pos = np.asarray(example["positions"])
    axes[1].scatter(pos[:, 1], pos[:, 0], s=60, facecolors="none", edgecolors="yellow", linewidths=0.8)
    fig.suptitle(f"true class: {name(int(label))} (circles: changed pixels)", fontsize=10)
    return fig
