"""Figures and tables of paper B (few-pixel changes): Figs. 8–10 style curves, Pi, FGSM restore,
augmentation, and the interactive original-vs-changed image view.

Inputs are the DataFrames of :mod:`robustlab.paper_b.experiments` (columns ``n_pixels``, ``magnitude``,
``area``, ``images``, ``wrong_rate`` (share in [0, 1]) with its 95 % interval over the images
``wrong_rate_lo`` / ``wrong_rate_hi``, ``wrong_rate_std`` (spread over the repeats), ``wrong_mean``
(images), ``accuracy``). Error bars are the **95 % bootstrap intervals over the images** (each
image's value is its mean over the repeats); a table without interval columns falls back to ± one
standard deviation over the repeats. Tables give both: the interval, and the spread over repeats.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

__all__ = ["pixel_count_figure", "magnitude_figure", "area_figure", "pixel_index_figure", "fgsm_restore_figure",
           "augmentation_figure", "pixel_table", "effects_table", "pixel_change_figure"]


def _tables(tables: pd.DataFrame | Mapping[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    return {"": tables} if isinstance(tables, pd.DataFrame) else dict(tables)


def _two_panels(title: str):
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), constrained_layout=True)
    fig.suptitle(title)
    return fig, axes


def _err(t: pd.DataFrame, col: str = "wrong_rate", lo: str | None = None, hi: str | None = None,
         std: str = "wrong_rate_std") -> np.ndarray:
    """Asymmetric error bars (2, n) of ``col`` (below, above) from its interval columns (default
    ``col_lo`` / ``col_hi``), in ``col``'s units; reversed (``[::-1]``) they are the bars of
    ``1 − col``. Without interval columns: ± ``std``."""
    lo, hi = lo or f"{col}_lo", hi or f"{col}_hi"
    v = t[col].to_numpy(float)
    if lo in t and hi in t:
        low, high = t[lo].to_numpy(float), t[hi].to_numpy(float)
        e = np.stack([v - low, high - v])
        return np.where(np.isfinite(e), np.clip(e, 0, None), 0.0)
    s = t[std].to_numpy(float) if std in t else np.zeros_like(v)
    return np.stack([s, s])


def _curve(ax_acc, ax_wrong, t: pd.DataFrame, x: str, label: str, log_x: bool = False):
    t = t.sort_values(x)
    xs = t[x].to_numpy()
    e = _err(t)
    ax_acc.errorbar(xs, 100 * t["accuracy"], yerr=100 * e[::-1], marker="o", capsize=3, label=label)
    ax_wrong.errorbar(xs, t["wrong_mean"], yerr=e * t["images"].to_numpy(float), marker="o", capsize=3, label=label)
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


def _by_model(table: pd.DataFrame, key: str):
    """(model prefix for labels, key value, rows) per curve: one curve per ``key`` value, and per model
    when the table holds several (a ``model`` column, as :func:`robustlab.paper_b.per_model` gives)."""
    several = "model" in table and table["model"].nunique() > 1
    groups = table.groupby(["model", key], sort=False) if several else table.groupby(key, sort=False)
    for k, t in groups:
        yield (f"{k[0]}, ", k[1], t) if several else ("", k, t)


def magnitude_figure(table: pd.DataFrame, title: str | None = None):
    """Fig. 9 style: accuracy and wrong images vs the change magnitude m (±m per channel, 8-bit
    units), one curve per pixel count (and per model when ``table`` holds several)."""
    fig, axes = _two_panels(title or "Magnitude of the change: exp. 2")
    for name, p, t in _by_model(table, "n_pixels"):
        _curve(axes[0], axes[1], t.assign(magnitude=t["magnitude"].astype(int)), "magnitude", f"{name}{p} px")
    _finish(axes, "max change per channel m (8-bit units, ±m)", int(table["images"].iloc[0]), "pixels")
    return fig


def area_figure(table: pd.DataFrame, title: str | None = None):
    """Fig. 10 style: accuracy and wrong images per centred window side; x = pixel count with one
    curve per window when several counts were run, else x = window side."""
    fig, axes = _two_panels(title or "Position range of the change (centred window): exp. 3")
    if table["n_pixels"].nunique() > 1:
        for name, a, t in _by_model(table, "area"):
            _curve(axes[0], axes[1], t, "n_pixels", f"{name}{a}×{a}", log_x=True)
        _finish(axes, "changed pixels per image", int(table["images"].iloc[0]), "window")
    else:
        for name, p, t in _by_model(table, "n_pixels"):
            _curve(axes[0], axes[1], t, "area", f"{name}{p} px")
        for ax in axes:
            ax.invert_xaxis()
        _finish(axes, "side of the centred window (pixels)", int(table["images"].iloc[0]), "pixels")
    return fig


def pixel_index_figure(curves: pd.DataFrame | Mapping[str, pd.DataFrame], title: str | None = None):
    """Pi (paper B eq. 7) vs pixel count, one curve per model; bars = 95 % interval over the images
    (``Pi_lo``/``Pi_hi``; min–max over the repeats for a curve without them)."""
    fig, ax = plt.subplots(figsize=(6, 3.8), constrained_layout=True)
    for label, c in _tables(curves).items():
        c = c.sort_values("n_pixels")
        lo, hi = ("Pi_lo", "Pi_hi") if "Pi_lo" in c else ("Pi_min", "Pi_max")
        ax.errorbar(c["n_pixels"], c["Pi"], yerr=_err(c, "Pi", lo, hi), marker="o", capsize=3, label=label or None)
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
    adversarial class, vs the number of random pixels changed on them (bars: 95 % intervals over the
    examples)."""
    fig, ax = plt.subplots(figsize=(6, 3.8), constrained_layout=True)
    t = table.sort_values("n_pixels")
    ax.errorbar(t["n_pixels"], 100 * t["restored_rate"], yerr=100 * _err(t, "restored_rate", "restored_lo",
                                                                        "restored_hi", "wrong_rate_std"),
                marker="o", capsize=3, label="back to the true class")
    ax.errorbar(t["n_pixels"], 100 * t["still_fooling_rate"],
                yerr=100 * _err(t, "still_fooling_rate", "still_fooling_lo", "still_fooling_hi", "still_fooling_std"),
                marker="s", capsize=3, label="still the adversarial class")
    ax.set_xscale("log", base=2)
    ax.set_xticks(t["n_pixels"], [str(int(v)) for v in t["n_pixels"]])
    ax.set_xlabel("random pixels changed on the FGSM example")
    ax.set_ylabel(f"share of {int(t['images'].iloc[0])} FGSM examples (%)")
    ax.set_title(title or "Few-pixel changes on FGSM examples: exp. 4")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return fig


def augmentation_figure(result: Mapping[str, Any], title: str | None = None):
    """§6.2: (a) wrong-rate on held-out images per pixel count for the base model, the fine-tuned
    control (k = 0, hatched) and each fine-tuned k model (0 = clean), (b) share of the base model's
    FGSM examples still fooling each model. Bars: 95 % intervals over the held-out images / the FGSM
    examples."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), constrained_layout=True)
    e = result["exp1"]
    models = list(dict.fromkeys(e["model"]))
    counts = sorted(e["n_pixels"].unique())
    w = 0.8 / max(len(models), 1)
    for i, m in enumerate(models):
        t = e[e["model"] == m].set_index("n_pixels").reindex(counts)
        axes[0].bar(np.arange(len(counts)) + i * w, 100 * t["wrong_rate"], w, yerr=100 * _err(t), capsize=2,
                    label=m, hatch="//" if "control" in str(m) else None)
    axes[0].set_xticks(np.arange(len(counts)) + w * (len(models) - 1) / 2,
                       ["clean" if c == 0 else f"{c} px" for c in counts])
    axes[0].set_ylabel(f"wrong (% of {int(e['images'].iloc[0])} held-out images)")
    axes[0].set_xlabel("random pixels changed at test time")
    top = float(np.nanmax(100 * (e["wrong_rate"] + _err(e)[1]))) if len(e) else 1.0
    axes[0].set_ylim(0, max(top, 1.0) * 1.45)  # head room for the legend
    axes[0].legend(title="model (k = pixels changed in training)", fontsize=8, title_fontsize=8, ncol=3,
                   loc="upper left")
    f = result["fgsm"]
    if len(f):
        bars = axes[1].bar(f["model"], 100 * f["still_fooling_rate"], color="tab:red", capsize=3,
                           yerr=100 * _err(f, "still_fooling_rate", "still_fooling_lo", "still_fooling_hi", "none"))
        for b, m in zip(bars, f["model"]):
            if "control" in str(m):
                b.set_hatch("//")
        axes[1].tick_params(axis="x", labelrotation=20)
        axes[1].set_ylabel(f"FGSM examples still fooling (% of {int(f['fgsm_examples'].iloc[0])})")
    axes[1].set_xlabel("model")
    for ax in axes:
        ax.grid(alpha=0.3, axis="y")
    fig.suptitle(title or "Few-pixel augmentation (§6.2)")
    return fig


def _ci_cell(v: float, lo: float, hi: float, f) -> str:
    if np.isfinite(lo) and np.isfinite(hi):
        return f"{f(v)} [{f(lo)}, {f(hi)}]"
    return f(v)


def pixel_table(table: pd.DataFrame, index: str = "n_pixels", columns: str | None = None,
                percent: bool = True) -> pd.DataFrame:
    """Paper-style table: rows ``index``; the wrong-rate with its 95 % interval over the images
    (``wrong (%) [95 % interval]``), the spread over the repeats (``sd over repeats``), and the accuracy.

    With ``columns`` (e.g. ``"magnitude"`` or ``"area"``) a wide table of wrong-rates with their
    intervals is returned.
    """
    f = (lambda v: f"{100 * v:.1f}") if percent else (lambda v: f"{v:.3f}")
    lo = table["wrong_rate_lo"] if "wrong_rate_lo" in table else pd.Series(np.nan, index=table.index)
    hi = table["wrong_rate_hi"] if "wrong_rate_hi" in table else pd.Series(np.nan, index=table.index)
    cells = [_ci_cell(v, a, b, f) for v, a, b in zip(table["wrong_rate"], lo, hi)]
    if columns is not None:
        wide = table.assign(cell=cells).pivot(index=index, columns=columns, values="cell")
        wide.columns = [f"{columns} {c}" for c in wide.columns]
        wide.columns.name = f"wrong{' (%)' if percent else ''} [95 % interval]"
        return wide
    reps = table["repeats"] if "repeats" in table else pd.Series(1, index=table.index)
    out = pd.DataFrame({index: table[index],
                        "images": table["images"],
                        "wrong images (mean)": table["wrong_mean"].round(1),
                        "wrong (%) [95 % interval]" if percent else "wrong [95 % interval]": cells,
                        "sd over repeats" + (" (pts)" if percent else ""):
                            [f(s) if int(r) > 1 else "— (1 repeat)" for s, r in zip(table["wrong_rate_std"], reps)],
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


def effects_table(effects: pd.DataFrame) -> pd.DataFrame:
    """The augmentation's effects over the control (:func:`robustlab.paper_b.augment.augmentation_effects`)
    as a table: rows = models, columns = test pixel counts, cells = "+x.x [lo, hi]" points (positive =
    fewer wrong images than the control), paired 95 % interval over the held-out images."""
    t = effects.assign(cell=[e.fmt(100, 1, sign=True) for e in effects["estimate"]])
    t = t.pivot(index="model", columns="n_pixels", values="cell").reindex(list(dict.fromkeys(effects["model"])))
    t.columns = [("clean" if c == 0 else f"{c} px") + " (pts)" for c in t.columns]
    t.columns.name = "control − model [95 % interval]"
    return t
