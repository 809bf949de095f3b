"""Figures of the cross-paper chapter (12): what each augmentation buys, as paired differences."""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

__all__ = ["augmentation_effects_figure", "pixel_effects_figure"]

_MARKERS = {"resnet": "o", "inception": "s", "resnext": "^"}


def augmentation_effects_figure(tidy: pd.DataFrame, measures: Mapping[str, tuple[str, str, float]],
                                order: Sequence[str], reference: str, title: str | None = None):
    """One panel per robustness measure: for every variant but ``reference`` (rows, in ``order``) its
    difference to the reference with the paired 95 % interval (``diff``, ``lo``, ``hi`` of the tidy
    table of :func:`robustlab.beyond.cifar.table`), one marker per architecture. Right of 0 = larger
    (better for accuracies and Δ, worse for the wrong-rate and Pi: the panel titles say which)."""
    keys = [k for k in measures if k in set(tidy["measure"])]
    names = [n for n in order if n != reference and n in set(tidy["variant"])]
    archs = list(dict.fromkeys(tidy["arch"]))
    ncol = min(3, len(keys))
    nrow = -(-len(keys) // ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(3.4 * ncol + 1.0, (0.4 * len(names) + 1.5) * nrow), sharey=True,
                             squeeze=False)
    flat = axes.ravel()
    for ax in flat[len(keys):]:
        ax.set_axis_off()
    for ax, k in zip(flat, keys):
        label, unit, _ = measures[k]
        better = "lower is better" if k in ("pixels", "pi") else "higher is better"
        for j, a in enumerate(archs):
            t = tidy[(tidy["measure"] == k) & (tidy["arch"] == a)].set_index("variant")
            y = np.arange(len(names)) + (j - (len(archs) - 1) / 2) * 0.18
            d = np.array([t.loc[n, "diff"] if n in t.index else np.nan for n in names], dtype=float)
            lo = np.array([t.loc[n, "lo"] if n in t.index else np.nan for n in names], dtype=float)
            hi = np.array([t.loc[n, "hi"] if n in t.index else np.nan for n in names], dtype=float)
            err = np.vstack([np.where(np.isfinite(lo), d - lo, 0), np.where(np.isfinite(hi), hi - d, 0)])
            ax.errorbar(d, y, xerr=np.clip(err, 0, None), fmt=_MARKERS.get(a, "o"), ms=5, capsize=2, label=a)
        ax.axvline(0, color="0.5", lw=0.8)
        ax.set_title(f"{label}\n({better})", fontsize=8)
        ax.set_xlabel(f"difference to {reference} ({'pts' if unit == '%' else unit or 'Pi'})", fontsize=8)
        ax.tick_params(labelsize=8)
    flat[0].set_yticks(np.arange(len(names)), names)
    flat[0].invert_yaxis()
    if len(archs) > 1:
        flat[len(keys) - 1].legend(fontsize=7, title="architecture", title_fontsize=7)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig


def pixel_effects_figure(exp1: pd.DataFrame, fgsm: pd.DataFrame, title: str | None = None):
    """(a) wrong-rate (%) of every fine-tuned model vs the number of changed pixels (0 = clean), with
    its 95 % interval over the held-out images; (b) the share (%) of the base model's FGSM examples
    each model restores, with its interval."""
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.6), gridspec_kw={"width_ratios": [3, 2]})
    for name in dict.fromkeys(exp1["model"]):
        t = exp1[exp1["model"] == name].sort_values("n_pixels")
        x = np.maximum(t["n_pixels"].to_numpy(), 0.5)  # clean (0) drawn at 0.5 on the log axis
        ls = "-" if (t["kind"] == "pixels").all() else "--"
        a.errorbar(x, 100 * t["wrong_rate"], yerr=100 * np.clip(np.vstack([t["wrong_rate"] - t["lo"],
                                                                            t["hi"] - t["wrong_rate"]]), 0, None),
                   ls=ls, marker="o", ms=3, capsize=2, label=name)
    a.set_xscale("log", base=2)
    counts = sorted({int(p) for p in exp1["n_pixels"] if p > 0})
    a.set_xticks([0.5] + counts, ["clean"] + [str(p) for p in counts])
    a.set_xlabel("changed pixels")
    a.set_ylabel("wrong-rate (%)")
    a.legend(fontsize=7)
    if len(fgsm):
        y = np.arange(len(fgsm))
        b.barh(y, 100 * fgsm["restored_rate"], xerr=100 * np.clip(np.vstack([fgsm["restored_rate"] - fgsm["lo"],
                                                                               fgsm["hi"] - fgsm["restored_rate"]]),
                                                                    0, None), capsize=2, color="0.7")
        b.set_yticks(y, fgsm["model"])
        b.invert_yaxis()
        b.set_xlabel("FGSM examples restored (%)")
    else:
        b.text(0.5, 0.5, "FGSM fooled no held-out image", ha="center", va="center", transform=b.transAxes)
        b.set_axis_off()
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig
