"""Paper B (Zhang & Cai 2021): random few-pixel changes on ImageNet-pretrained classifiers.

One module per concern: :mod:`.classifiers` (the torchvision models, their weights, forward passes),
:mod:`.pixels` (the random pixel changes), :mod:`.selection` (the correctly classified images),
:mod:`.experiments` (experiments 1–4), :mod:`.augment` (§6.2), :mod:`.pixel_index` (Pi),
:mod:`.cifar` (the same on paper A's CIFAR-10 models), :mod:`.claims` (the paper's claims
beside ours) and :mod:`.describe` (what produced a page's numbers, as in paper A).
The names the chapters use are importable from here (``rl.paper_b.experiment1``), the submodules too
(``rl.paper_b.pixels``), loaded on first use, exactly as in :mod:`robustlab.paper_a`.

Importing this package registers paper B's ImageNet models with the parameter SPEC
(:func:`robustlab.core.params.register_choices`).
"""
from robustlab.core.lazy import lazy_exports
from robustlab.core.params import register_choices
from robustlab.paper_b import kinds  # noqa: F401 - declares paper B's result kinds
from robustlab.paper_b.classifiers import IMAGENET_ARCHS

register_choices(imagenet_models=IMAGENET_ARCHS)

#: the names the chapters use → the module that defines them (imported on first use)
_WHERE = {
    "augment": ("augmentation", "augmentation_bases", "augmentation_effects", "augmentation_tables", "finetune",
                "augmentation_fgsm_sweep", "augmentation_sweep_table",
                "finetune_lr_check"),
    "cifar": ("cifar_pixel_experiments", "cifar_scale"),
    "claims": ("claims_augmentation", "claims_exp1", "claims_models", "merge_claims", "claims_exp2", "claims_exp3",
               "claims_exp4",
               "claims_pixel_index", "eps_sentence", "exp4_eps_verdicts", "augmentation_eps_verdicts",
               "judge_per_model", "per_model_verdicts"),
    "describe": ("describe_run",),
    "classifiers": ("available", "class_names", "data_sources", "label", "load_model", "model_key",
                    "predict", "primary", "published_top1", "throughput"),
    "experiments": ("experiment1", "experiment2", "experiment3", "experiment4", "experiment4_eps_sweep",
                    "fgsm_eps_values", "fgsm_examples", "model_rows",
                    "per_model", "pixel_runs"),
    "pixel_index": ("fgsm_pixel_index", "pixel_index_curve", "pixel_index_table"),
    "pixels": ("change_pixels",),
    "selection": ("models_table", "select_correct", "selected_images", "stored_selection"),
}
__getattr__, __dir__, __all__ = lazy_exports(__name__, _WHERE, modules=("kinds",))
