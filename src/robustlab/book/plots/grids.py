"""Figures and tables of paper A's accuracy grids (Figs. 4 and 6).

A *matrix* is the output of :func:`robustlab.paper_a.grid.accuracy_matrix`: accuracies as fractions in
[0, 1], rows σ_train, columns σ_eval, both in the order of ``sigmas``. ``matrices`` maps either
``(arch, kind)`` or ``arch`` to such a matrix. σ is on the [-1, 1] scale for noise and in pixels
for blur; σ_train is plotted at equally spaced positions (labelled with its values, as they span
0 to 5 and include 0, which a log axis cannot show).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

__all__ = ["plot_accuracy_curves", "accuracy_curves_figure", "matrix_table", "SIGMA_UNITS"]

#: Units of σ per corruption kind.
SIGMA_UNITS = {"noise": "σ of additive Gaussian noise, [-1, 1] image scale",
               "blur": "σ of the Gaussian blur kernel, pixels"}


def _get(matrices: Mapping, arch: str, kind: str) -> np.ndarray:
    if (arch, kind) in matrices:
        return np.asarray(matrices[(arch, kind)])
    if arch in matrices:
        return np.asarray(matrices[arch])
    raise KeyError(f"no matrix for arch={arch!r}, kind={kind!r}; have {list(matrices)}")


def _draw(ax, m: np.ndarray, sigmas: Sequence[float], kind: str, title: str, legend: bool = True) -> None:
    import matplotlib.pyplot as plt

    x = np.arange(len(sigmas))
    colors = plt.get_cmap("viridis")(np.linspace(0, 0.9, len(sigmas)))
    for j, s in enumerate(sigmas):
        ax.plot(x, 100 * m[:, j], marker="o", ms=3.5, color=colors[j], label=f"eval σ={s:g}")
    ax.set_xticks(x, [f"{s:g}" for s in sigmas])
    ax.set_xlabel(f"σ_train ({kind})")
    ax.set_ylabel("test accuracy (%)")
    ax.set_ylim(0, 100)
    ax.axhline(10, color="grey", lw=0.8, ls=":")  # chance
    ax.set_title(title)
    ax.grid(alpha=0.3)
    if legend:
        ax.legend(fontsize=7, title=f"σ_eval ({kind})", title_fontsize=7, loc="best")


def plot_accuracy_curves(matrices: Mapping, sigmas: Sequence[float], kind: str,
                         archs: Sequence[str] | None = None, suptitle: str | None = None):
    """Fig. 4 (noise) / Fig. 6 (blur): accuracy on each σ_eval (one line each) against σ_train,
    one panel per architecture. The dotted line is chance (10 %). Returns the Figure."""
    import matplotlib.pyplot as plt

    if archs is None:
        archs = list(dict.fromkeys(k[0] if isinstance(k, tuple) else k for k in matrices
                                   if not isinstance(k, tuple) or k[1] == kind))
    fig, axes = plt.subplots(1, len(archs), figsize=(4.2 * len(archs), 3.8), sharey=True, squeeze=False)
    for i, (ax, arch) in enumerate(zip(axes[0], archs)):
        _draw(ax, _get(matrices, arch, kind), sigmas, kind, arch, legend=(i == len(archs) - 1))
        if i:
            ax.set_ylabel("")
    fig.suptitle(suptitle or f"Accuracy vs. {kind} level of the training data ({SIGMA_UNITS[kind]})", fontsize=10)
    fig.tight_layout()
    return fig


def accuracy_curves_figure(matrices: Mapping, sigmas: Sequence[float], arch: str, kind: str):
    """Widget callback: the accuracy-vs-σ_train curves of one architecture and kind. Returns a Figure."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    _draw(ax, _get(matrices, arch, kind), sigmas, kind, f"{arch}, {kind}: accuracy on each σ_eval")
    fig.tight_layout()
    return fig


def matrix_table(matrix: np.ndarray, sigmas: Sequence[float], kind: str = "noise", percent: bool = True):
    """The matrix as a pandas DataFrame: rows ``σ_train``, columns ``σ_eval`` (accuracy in %, or
    fractions when ``percent=False``)."""
    import pandas as pd

    m = np.asarray(matrix, dtype=float)
    if m.shape != (len(sigmas), len(sigmas)):
        raise ValueError(f"matrix shape {m.shape} does not match {len(sigmas)} sigmas")
    df = pd.DataFrame(100 * m if percent else m,
                      index=pd.Index([f"{s:g}" for s in sigmas], name=f"σ_train ({kind})"),
                      columns=pd.Index([f"{s:g}" for s in sigmas], name=f"σ_eval ({kind})"))
    return df.round(1 if percent else 3)
