"""Paper A (Bartschat et al.): corruptions, the three CIFAR-10 nets (single and wide), training,
the accuracy grids, the minimal adversarial change and the paper's claims.

One module per concern: :mod:`.corruptions`, :mod:`.nets`, :mod:`.training`, :mod:`.grid` (the
accuracy matrices of Figs. 4/6), :mod:`.delta` (Figs. 5/7), :mod:`.kinds` (what the results store
holds), :mod:`.claims` and :mod:`.describe` (what produced a page's numbers, as in paper B).
The names the chapters use are importable from here (``rl.paper_a.train_grid``),
the submodules too (``rl.paper_a.grid``), loaded on first use, exactly as in :mod:`robustlab.paper_b`.

Importing this package registers paper A's choices (architectures, learning-rate schedules, stacking
modes, training augmentations) with the parameter SPEC (:func:`robustlab.core.params.register_choices`).
"""
from robustlab.core.lazy import lazy_exports
from robustlab.core.params import register_choices
from robustlab.paper_a import kinds  # noqa: F401 - declares paper A's result kinds
from robustlab.paper_a.augmentations import AUGMENTATIONS
from robustlab.paper_a.grid import STACK_MODES
from robustlab.paper_a.nets import ARCHS
from robustlab.paper_a.training import SCHEDULES

register_choices(archs=ARCHS, lr_schedules=SCHEDULES, stack_modes=STACK_MODES, augmentations=AUGMENTATIONS)

#: the names the chapters use → the module that defines them (imported on first use)
_WHERE = {
    "claims": ("clean_correctness", "conclusion_claims", "data_claims", "delta_claims", "fig4_claims", "fig6_claims",
               "module_claims"),
    "corruptions": ("corrupt", "display_corrupted", "mean_abs_change"),
    "delta": ("examples", "model_means", "run_all", "summarize"),
    "describe": ("describe_run",),
    "grid": ("accuracy_matrices", "correct_cells", "distinct_view", "get_model", "n_seeds",
             "timings", "train_grid"),
    "nets": ("build", "layer_table", "module_counts", "parameter_count"),
}
__getattr__, __dir__, __all__ = lazy_exports(__name__, _WHERE, modules=("augmentations", "kinds", "training"))
