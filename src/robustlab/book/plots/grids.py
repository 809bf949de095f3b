"""Figures and tables of paper A's accuracy grids (Figs. 4 and 6).

A *matrix* is the output of :func:`robustlab.paper_a.grid.accuracy_matrix`: accuracies as fractions in
[0, 1], rows σ_train, columns σ_eval, both in the order of ``sigmas``, shape (S, S). A *stack* is
the output of :func:`robustlab.paper_a.grid.accuracy_matrices`: one such matrix per training seed,
shape (n_seeds, S, S). Every function here takes either: with two or more seeds it shows the mean
over seeds and a 95 % Student-t interval over seeds (:func:`robustlab.core.stats.t_quantile`); a
matrix or a one-seed stack is shown as it is. ``matrices`` maps either ``(arch, kind)`` or ``arch``
to a matrix or a stack. σ is on the [-1, 1] scale for noise and in pixels for blur; σ_train is
plotted at equally spaced positions (labelled with its values, as they span 0 to 5 and include 0,
which a log axis cannot show).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from robustlab.core.stats import t_quantile

__all__ = ["plot_accuracy_curves", "accuracy_curves_figure", "matrix_table", "mean_and_halfwidth", "SIGMA_UNITS"]

#: Units of σ per corruption kind.
SIGMA_UNITS = {"noise": "σ of additive Gaussian noise, [-1, 1] image scale",
               "blur": "σ of the Gaussian blur kernel, pixels"}


def mean_and_halfwidth(m) -> tuple[np.ndarray, np.ndarray | None, int]:
    """A matrix (S, S) or a stack (n_seeds, S, S) → (mean over seeds (S, S), half-width of the 95 %
    t-interval over seeds (S, S) or None with fewer than two seeds, number of seeds)."""
    a = np.asarray(m, dtype=float)
    if a.ndim == 2:
        return a, None, 1
    if a.ndim != 3:
        raise ValueError(f"expected a matrix (S, S) or a stack (n_seeds, S, S), got shape {a.shape}")
    k = a.shape[0]
    if k < 2:
        return a[0], None, k

    return a.mean(0), t_quantile(k - 1) * a.std(0, ddof=1) / np.sqrt(k), k


def _get(matrices: Mapping, arch: str, kind: str) -> np.ndarray:
    if (arch, kind) in matrices:
        return np.asarray(matrices[(arch, kind)])
    if arch in matrices:
        return np.asarray(matrices[arch])
    raise KeyError(f"no matrix for arch={arch!r}, kind={kind!r}; have {list(matrices)}")


def _draw(ax, m: np.ndarray, sigmas: Sequence[float], kind: str, title: str, legend: bool = True) -> int:
    """One panel: a line per σ_eval (the mean over seeds, shaded 95 % t-interval with ≥ 2 seeds).
    Returns the number of seeds."""
    # deferred: pyplot is slow to import and picks a backend; only drawing needs it
    import matplotlib.pyplot as plt

    mean, hw, k = mean_and_halfwidth(m)
    if mean.shape != (len(sigmas), len(sigmas)):
        raise ValueError(f"matrix shape {mean.shape} does not match {len(sigmas)} sigmas")
    x = np.arange(len(sigmas))
    colors = plt.get_cmap("viridis")(np.linspace(0, 0.9, len(sigmas)))
    for j, s in enumerate(sigmas):
        ax.plot(x, 100 * mean[:, j], marker="o", ms=3.5, color=colors[j], label=f"eval σ={s:g}")
        if hw is not None:
            ax.fill_between(x, 100 * (mean[:, j] - hw[:, j]), 100 * (mean[:, j] + hw[:, j]), color=colors[j],
                            alpha=0.15, lw=0)
    ax.set_xticks(x, [f"{s:g}" for s in sigmas])
    ax.set_xlabel(f"σ_train ({kind})")
    ax.set_ylabel("test accuracy (%)")
    ax.set_ylim(0, 100)
    ax.axhline(10, color="grey", lw=0.8, ls=":")  # chance
    ax.set_title(title)
    ax.grid(alpha=0.3)
    if legend:
        ax.legend(fontsize=7, title=f"σ_eval ({kind})" + (f"\nmean of {k} seeds, 95 % CI" if hw is not None else ""),
                  title_fontsize=7, loc="best")
    return k


def plot_accuracy_curves(matrices: Mapping, sigmas: Sequence[float], kind: str,
                         archs: Sequence[str] | None = None, suptitle: str | None = None):
    """Fig. 4 (noise) / Fig. 6 (blur): accuracy on each σ_eval (one line each) against σ_train,
    one panel per architecture, stacked as in the paper. The dotted line is chance (10 %).
    ``matrices`` values are (S, S) matrices or (n_seeds, S, S) stacks; with ≥ 2 seeds each line is
    the mean over seeds with a shaded 95 % t-interval over seeds. Returns the Figure."""
    # deferred: pyplot is slow to import and picks a backend; only drawing needs it
    import matplotlib.pyplot as plt

    if archs is None:
        archs = list(dict.fromkeys(k[0] if isinstance(k, tuple) else k for k in matrices
                                   if not isinstance(k, tuple) or k[1] == kind))
    # one panel per row, as the paper stacks them: each panel keeps the page's full width
    fig, axes = plt.subplots(len(archs), 1, figsize=(7.5, 2.6 * len(archs) + 0.9), sharex=True, squeeze=False)
    ks = []
    for i, (ax, arch) in enumerate(zip(axes[:, 0], archs)):
        ks.append(_draw(ax, _get(matrices, arch, kind), sigmas, kind, arch, legend=False))
        if i < len(archs) - 1:
            ax.set_xlabel("")
    k = min(ks, default=1)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8,
               title=f"σ_eval ({kind})" + (f"\nmean of {k} seeds,\n95 % CI" if k >= 2 else ""), title_fontsize=8)
    seeds = f"\nmean over {k} training seeds; shaded: 95 % t-interval over seeds" if k >= 2 else ""
    fig.suptitle(suptitle or f"Accuracy vs. {kind} level of the training data ({SIGMA_UNITS[kind]}){seeds}",
                 fontsize=10)
    fig.tight_layout()
    return fig


def accuracy_curves_figure(matrices: Mapping, sigmas: Sequence[float], arch: str, kind: str):
    """Widget callback: the accuracy-vs-σ_train curves of one architecture and kind (a matrix or a
    stack, as :func:`plot_accuracy_curves`). Returns a Figure."""
    # deferred: pyplot is slow to import and picks a backend; only drawing needs it
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    _draw(ax, _get(matrices, arch, kind), sigmas, kind, f"{arch}, {kind}: accuracy on each σ_eval")
    fig.tight_layout()
    return fig


def matrix_table(matrix: np.ndarray, sigmas: Sequence[float], kind: str = "noise", percent: bool = True,
                 eval_kind: str | None = None, eval_sigmas: Sequence[float] | None = None):
    """The matrix as a pandas DataFrame: rows ``σ_train``, columns ``σ_eval`` (accuracy in %, or
    fractions when ``percent=False``). Given a stack (n_seeds, S, S) with ≥ 2 seeds, each cell is the
    text ``"mean ± h"``: the mean over seeds and the half-width h of its 95 % t-interval over seeds.
    ``eval_kind``/``eval_sigmas`` (default ``kind``/``sigmas``): the columns of a cross matrix (models
    trained on ``kind``, tested on ``eval_kind``)."""
    # deferred: pandas is slow to import; only tables need it
    import pandas as pd

    mean, hw, _ = mean_and_halfwidth(matrix)
    cols = sigmas if eval_sigmas is None else eval_sigmas
    if mean.shape != (len(sigmas), len(cols)):
        raise ValueError(f"matrix shape {mean.shape} does not match {len(sigmas)} × {len(cols)} sigmas")
    scale, digits = (100, 1) if percent else (1, 3)
    index = pd.Index([f"{s:g}" for s in sigmas], name=f"σ_train ({kind})")
    columns = pd.Index([f"{s:g}" for s in cols], name=f"σ_eval ({eval_kind or kind})")
    if hw is None:
        return pd.DataFrame(scale * mean, index=index, columns=columns).round(digits)
    cells = [[f"{scale * a:.{digits}f} ± {scale * h:.{digits}f}" for a, h in zip(ra, rh)] for ra, rh in zip(mean, hw)]
    return pd.DataFrame(cells, index=index, columns=columns)
