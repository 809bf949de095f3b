"""What produced a paper-A page's numbers: :func:`describe_run`, the paragraph under each chapter's
parameters. Both papers keep it in a module of this name with this signature
(:func:`robustlab.paper_b.describe.describe_run`); the chapters call ``rl.paper_a.describe_run(cfg)``."""
from __future__ import annotations

from robustlab.paper_a.grid import is_duplicate, n_seeds, stored_timings
from robustlab.paper_a.nets import build

__all__ = ["describe_run"]


def describe_run(cfg) -> str:
    """A Markdown paragraph saying which models and data this page's numbers come from."""
    n_train = cfg.train_subset or 50_000
    n_test = cfg.test_subset or 10_000
    ch = build("resnet", width=cfg.width).channels
    paper = (cfg.width == 1.0 and cfg.train_subset is None and cfg.epochs == 90)
    dups = [f"{float(s):g}" for s in cfg.sigmas if is_duplicate("blur", s)]
    devices = sorted({t["device"] for a in cfg.archs for k in ("noise", "blur") for t in stored_timings(cfg, a, k)})
    n_rep = n_seeds(cfg)
    return (f"**This run** (profile `{cfg.profile}`, models trained on {', '.join(devices) or 'not yet'}): "
            f"width {cfg.width:g} "
            f"({ch} channels; paper: 256), {n_train:,} class-balanced training images (paper: 50,000), "
            f"{cfg.epochs} epoch(s) (paper: 90), batch {cfg.batch_size}, SGD lr {cfg.lr:g} ({cfg.lr_schedule}, "
            f"momentum {cfg.momentum:g}, weight decay {cfg.weight_decay:g}; the paper gives none of these), "
            f"evaluated on {n_test:,} class-balanced test images (paper: 10,000) with seeded corruption "
            f"identical for every model. σ levels: {', '.join(f'{s:g}' for s in cfg.sigmas)}. "
            + (f"Every model is trained {n_rep} times (training seeds {int(cfg.seed)}–{int(cfg.seed) + n_rep - 1}; "
               f"the same training and test images for each); figures and tables show the mean over these "
               f"seeds with a 95 % t-interval (the paper trains each model once). " if n_rep > 1 else
               "One training seed per model (as in the paper). ")
            + (f"Blur σ {', '.join(dups)} px is the identity (the truncated kernel has radius 0), so those "
               f"rows are the σ = 0 model itself, trained and evaluated once and not counted again. " if dups else "")
            + ("These are the paper's settings." if paper else
               "These are reduced settings, so absolute accuracies are far below the paper's; the shape "
               "of the curves is what can be compared."))
