"""Paper B (Zhang & Cai 2021): random few-pixel changes on ImageNet-pretrained classifiers.

One module per concern: :mod:`.classifiers` (the torchvision models, their weights, forward passes),
:mod:`.pixels` (the random pixel changes), :mod:`.selection` (the correctly classified images),
:mod:`.experiments` (experiments 1–4), :mod:`.augmentation` (§6.2), :mod:`.pixel_index` (Pi),
:mod:`.cifar` (the same on paper A's CIFAR-10 models) and :mod:`.claims` (the paper's claims
beside ours). The names the chapters use are importable from here.
"""
from robustlab.paper_b.augmentation import augmentation, augmentation_tables, finetune, finetune_lr_check
from robustlab.paper_b.cifar import cifar_pixel_experiments, cifar_scale
from robustlab.paper_b.claims import (
                                      claims_augmentation,
                                      claims_exp1,
                                      claims_exp2,
                                      claims_exp3,
                                      claims_exp4,
                                      claims_pixel_index,
                                      describe_run,
)
from robustlab.paper_b.classifiers import class_names, load_model, model_key, predict, throughput
from robustlab.paper_b.experiments import experiment1, experiment2, experiment3, experiment4, fgsm_examples, pixel_runs
from robustlab.paper_b.pixel_index import pixel_index_curve, pixel_index_table
from robustlab.paper_b.pixels import change_pixels
from robustlab.paper_b.selection import select_correct, selected_images, stored_selection

__all__ = ["augmentation", "augmentation_tables", "finetune", "finetune_lr_check", "cifar_pixel_experiments",
           "cifar_scale", "claims_augmentation", "claims_exp1", "claims_exp2", "claims_exp3", "claims_exp4",
           "claims_pixel_index", "describe_run", "class_names", "load_model", "model_key", "predict", "throughput",
           "experiment1", "experiment2", "experiment3", "experiment4", "fgsm_examples", "pixel_runs",
           "pixel_index_curve", "pixel_index_table", "change_pixels", "select_correct",
           "selected_images", "stored_selection"]
