"""Figures of paper A's minimal adversarial change (Figs. 5 and 7) and of adversarial examples.

Inputs are the tidy table of :func:`robustlab.paper_a.delta.run_all` (one row per model and image) and the
example dict of :func:`robustlab.paper_a.delta.examples`. Changes are in 8-bit units (0-255 scale).
"""
from __future__ import annotations

import numpy as np

from robustlab.core.stats import over_seeds

__all__ = ["plot_delta_vs_sigma", "plot_delta_distribution", "plot_adversarial_examples", "ONE_PERCENT_8BIT"]

#: 1 % of the 8-bit range (the paper: "a change of 2.5 ... is only 1 %").
ONE_PERCENT_8BIT = 2.55

_METRIC_LABEL = {"mean_abs_8bit": "mean |δ| per pixel and channel (8-bit units, 0–255)",
                 "linf_8bit": "max |δ| (L∞, 8-bit units, 0–255)",
                 "l2": "‖δ‖₂ on the [-1, 1] input scale"}


def _sigma_ticks(sigmas):
    return [f"{s:g}" for s in sigmas]


def _per_sigma(g, metric: str, sigmas, by_seed: bool):
    """(mean, lower error, upper error) per σ_train of one architecture's successful rows ``g``: with
    ``by_seed``, the mean over seeds of each seed's mean and its 95 % t-interval over seeds
    (:func:`robustlab.core.stats.over_seeds`; no bar where fewer than two seeds have a success);
    else the mean over images ± one standard error."""
    if not by_seed:
        st = g.groupby("sigma_train")[metric].agg(["mean", "sem"]).reindex(sigmas)
        e = st["sem"].fillna(0).to_numpy()
        return st["mean"].to_numpy(), e, e

    per = g.groupby(["sigma_train", "seed"])[metric].mean()
    mean, lo, hi = [], [], []
    for s in sigmas:
        est = over_seeds(per.loc[s].to_numpy() if s in per.index.get_level_values(0) else [])
        mean.append(est.value)
        ok = est.finite
        lo.append(est.value - est.lo if ok else 0.0)
        hi.append(est.hi - est.value if ok else 0.0)
    return np.array(mean), np.array(lo), np.array(hi)


def plot_delta_vs_sigma(df, kind: str, metric: str = "mean_abs_8bit", ax=None, title: str | None = None):
    """Figs. 5 (kind="noise") and 7 (kind="blur"): mean change of the successfully attacked images
    against σ_train, one line per architecture. Error bars: with a ``seed`` column holding two or more
    replicates (:func:`robustlab.paper_a.delta.run_all`), the line is the mean over seeds of each
    seed's mean and the bar its 95 % t-interval over seeds; otherwise ± one standard error over
    images. σ_train is plotted at equally spaced positions (its values are labelled), as the values
    span 0 to 5. Returns the matplotlib Figure."""
    # deferred: pyplot is slow to import and picks a backend; only drawing needs it
    import matplotlib.pyplot as plt

    d = df[(df["kind"] == kind) & df["success"]]
    by_seed = "seed" in df.columns and df["seed"].nunique() >= 2
    if ax is None:
        fig, ax = plt.subplots(figsize=(5.5, 3.6))
    else:
        fig = ax.figure
    sigmas = sorted(df[df["kind"] == kind]["sigma_train"].unique())
    pos = {s: i for i, s in enumerate(sigmas)}
    for arch, g in d.groupby("arch", sort=False):
        mean, lo, hi = _per_sigma(g, metric, sigmas, by_seed)
        ax.errorbar([pos[s] for s in sigmas], mean, yerr=np.vstack([lo, hi]), marker="o", capsize=3, label=arch)
    if metric != "l2":
        ax.axhline(ONE_PERCENT_8BIT, color="grey", ls=":", lw=1)
        ax.text(0.01, ONE_PERCENT_8BIT, " 1 % of the 8-bit range", color="grey", fontsize=8, va="bottom",
                transform=ax.get_yaxis_transform())
    ax.set_xticks(range(len(sigmas)), _sigma_ticks(sigmas))
    unit = "noise σ ([-1, 1] units)" if kind == "noise" else "blur σ (pixels)"
    ax.set_xlabel(f"training {unit}")
    ax.set_ylabel(_METRIC_LABEL.get(metric, metric))
    ax.set_title(title or f"Minimal adversarial change vs training {kind} level")
    ax.set_ylim(bottom=0)
    ax.legend(title="architecture" + (f"\n(mean of {df['seed'].nunique()} seeds, 95 % CI)" if by_seed else ""),
              fontsize=8, title_fontsize=8)
    fig.tight_layout()
    return fig


def plot_delta_distribution(df, kind: str, metric: str = "mean_abs_8bit", ax=None):
    """Box plots of the per-image change (successful attacks) per model: σ_train on x, one box per
    architecture side by side (every replicate's images pooled when ``df`` has several seeds).
    Returns the Figure."""
    # deferred: pyplot is slow to import and picks a backend; only drawing needs it
    import matplotlib.pyplot as plt

    d = df[(df["kind"] == kind) & df["success"]]
    archs = list(dict.fromkeys(df["arch"]))
    sigmas = sorted(df[df["kind"] == kind]["sigma_train"].unique())
    if ax is None:
        fig, ax = plt.subplots(figsize=(max(6, 1.1 * len(sigmas) * max(len(archs), 1) / 2), 3.8))
    else:
        fig = ax.figure
    w = 0.8 / max(len(archs), 1)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for a, arch in enumerate(archs):
        data, pos = [], []
        for i, s in enumerate(sigmas):
            v = d[(d["arch"] == arch) & (d["sigma_train"] == s)][metric].to_numpy()
            data.append(v if v.size else np.array([np.nan]))
            pos.append(i - 0.4 + w * (a + 0.5))
        bp = ax.boxplot(data, positions=pos, widths=w * 0.9, patch_artist=True, showfliers=True,
                        flierprops={"markersize": 2})
        for b in bp["boxes"]:
            b.set_facecolor(colors[a % len(colors)])
            b.set_alpha(0.6)
        ax.plot([], [], color=colors[a % len(colors)], lw=6, alpha=0.6, label=arch)
    ax.set_xticks(range(len(sigmas)), _sigma_ticks(sigmas))
    unit = "noise σ ([-1, 1] units)" if kind == "noise" else "blur σ (pixels)"
    ax.set_xlabel(f"training {unit}")
    ax.set_ylabel(_METRIC_LABEL.get(metric, metric))
    ax.set_title(f"Per-image minimal change ({kind}-trained models)")
    ax.set_ylim(bottom=0)
    ax.legend(title="architecture", fontsize=8)
    fig.tight_layout()
    return fig


def _to_img(t):
    """float CHW on [-1, 1] → HWC in [0, 1]."""
    a = t.detach().cpu().float().numpy().transpose(1, 2, 0)
    return np.clip((a + 1) / 2, 0, 1)


def plot_adversarial_examples(ex: dict, n: int = 6, magnify: float | None = None):
    """Rows: original, adversarial, perturbation magnified (δ scaled so the largest |δ| shown is
    half the range, or by ``magnify``; grey = no change). ``ex`` from :func:`robustlab.paper_a.delta.examples`.
    Titles give true/predicted classes and the mean |δ| in 8-bit units. Returns the Figure."""
    # deferred: pyplot is slow to import and picks a backend; only drawing needs it
    import matplotlib.pyplot as plt

    clean, adv = ex["clean"], ex["adv"]
    k = min(n, clean.shape[0])
    classes = ex.get("classes") or [str(i) for i in range(10)]
    fig, axes = plt.subplots(3, k, figsize=(1.6 * k + 0.8, 5.4), squeeze=False)
    delta = (adv[:k] - clean[:k]).float()
    m = float(delta.abs().max()) if delta.numel() else 0.0
    mag = magnify if magnify is not None else (1.0 / m if m > 0 else 1.0)
    for i in range(k):
        ok = bool(ex["success"][i])
        axes[0, i].imshow(_to_img(clean[i]))
        axes[0, i].set_title(f"{classes[int(ex['labels'][i])]}\n→ {classes[int(ex['pred_clean'][i])]}", fontsize=8)
        axes[1, i].imshow(_to_img(adv[i]))
        t = (f"→ {classes[int(ex['pred_adv'][i])]}\n|δ|={ex['mean_abs_8bit'][i]:.2f}" if ok else
             ("not attacked\n(misclassified)" if int(ex["pred_clean"][i]) != int(ex["labels"][i]) else "no success"))
        axes[1, i].set_title(t, fontsize=8)
        axes[2, i].imshow(np.clip(0.5 + 0.5 * delta[i].numpy().transpose(1, 2, 0) * mag, 0, 1))
        for r in range(3):
            axes[r, i].set_xticks([])
            axes[r, i].set_yticks([])
    axes[0, 0].set_ylabel("original\n(true → pred.)", fontsize=8)
    axes[1, 0].set_ylabel("adversarial\n(pred., mean |δ|)", fontsize=8)
    axes[2, 0].set_ylabel(f"δ × {mag:.0f}\n(grey = 0)", fontsize=8)
    fig.tight_layout()
    return fig
