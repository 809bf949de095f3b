"""Paper B (Zhang & Cai 2021): random few-pixel changes on ImageNet-pretrained classifiers.

One module per concern: :mod:`.classifiers` (the torchvision models, their weights, forward passes),
:mod:`.pixels` (the random pixel changes), :mod:`.selection` (the correctly classified images),
:mod:`.experiments` (experiments 1–4), :mod:`.augment` (§6.2), :mod:`.pixel_index` (Pi),
:mod:`.cifar` (the same on paper A's CIFAR-10 models) and :mod:`.claims` (the paper's claims
beside ours). The names the chapters use are importable from here.
"""
from importlib import import_module as _import_module

#: the names the chapters use → the module that defines them (imported on first use)
_WHERE = {
    "augment": ("augmentation", "augmentation_bases", "augmentation_effects", "augmentation_tables", "finetune",
                "finetune_lr_check"),
    "cifar": ("cifar_pixel_experiments", "cifar_scale"),
    "claims": ("claims_augmentation", "claims_exp1", "claims_models", "merge_claims", "claims_exp2", "claims_exp3",
               "claims_exp4",
               "claims_pixel_index", "describe_run"),
    "classifiers": ("available", "class_names", "data_sources", "for_model", "label", "load_model", "model_key",
                    "predict", "primary", "published_top1", "throughput"),
    "experiments": ("experiment1", "experiment2", "experiment3", "experiment4", "fgsm_examples", "model_rows",
                    "per_model", "pixel_runs"),
    "pixel_index": ("fgsm_pixel_index", "pixel_index_curve", "pixel_index_table"),
    "pixels": ("change_pixels",),
    "selection": ("models_table", "select_correct", "selected_images", "stored_selection"),
}
_MODULE_OF = {name: module for module, names in _WHERE.items() for name in names}
__all__ = sorted(_MODULE_OF)


def __getattr__(name: str):
    if name in _MODULE_OF:
        return getattr(_import_module(f"{__name__}.{_MODULE_OF[name]}"), name)
    if name in _WHERE:  # a submodule: rl.paper_b.pixels
        return _import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(__all__) | set(_WHERE))
