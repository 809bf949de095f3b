"""The registry of result kinds (robustlab.core.kinds), the immutable Config and the per-process
ImageNet model cache (issue 27)."""
import pytest
import torch

import robustlab  # noqa: F401 - registers both papers' kinds and choices
from robustlab.core import kinds
from robustlab.core.errors import ParameterError
from robustlab.core.params import resolve
from robustlab.core.results import ResultStore


def test_every_kind_is_declared_once_with_its_unit_and_weights_flag():
    k = kinds.KINDS
    assert {"cifar_model", "cifar_train", "cifar_eval", "cifar_model_ckpt", "cifar_stack_ckpt", "delta",
            "paperb-selection", "paperb-pixels", "paperb-fgsm", "paperb-aug-model"} <= set(k)
    assert {n for n, v in k.items() if v.holds_weights} == {"cifar_model", "cifar_model_ckpt", "cifar_stack_ckpt",
                                                             "paperb-aug-model", "beyond_model", "beyond_model_ckpt"}
    assert all(v.what for v in k.values())
    m = {"arch": "resnet", "kind": "noise", "sigma": 0.1, "seed": 1, "data_seed": 0}
    assert kinds.unit_for("cifar_model", m) == "a-train-resnet-noise-s1"
    assert kinds.unit_for("cifar_eval", {"model": {**m, "seed": 0}, "eval_kind": "noise", "eval_sigma": 0.2}) \
        == "a-eval-resnet-noise"
    # Fig. 6's cross matrix: a noise model on a blur level; its clean cells are the grid's
    assert kinds.unit_for("cifar_eval", {"model": {**m, "seed": 0}, "eval_kind": "blur", "eval_sigma": 1.0}) \
        == "a-cross-resnet"
    assert kinds.unit_for("cifar_eval", {"model": {**m, "seed": 0}, "eval_kind": "clean", "eval_sigma": 0.0}) \
        == "a-eval-resnet-noise"
    assert kinds.unit_for("paperb-fgsm", {"eps": 8.0, "aug_test": "h"}) == "b-aug"
    assert kinds.unit_for("paperb-fgsm", {"eps": 8.0}) == "b-exp4"
    assert kinds.unit_for("paperb-pixels", {"tag": "exp", "area": 56}) == "b-exp3"
    assert kinds.unit_for("paperb-selection", {}) == "b-select"
    assert kinds.unit_for("paperb-selection", {"n": 1000, "splits": ["sample", "val", "train"]}) == "b-select"
    assert kinds.unit_for("paperb-selection", {"n": 1000, "splits": ["val"]}) == "b-aug-bases"  # §6.2's held-out
    assert kinds.unit_for("no-such-kind", {}) is None
    # chapter 12's results in paper B's kinds name chapter 12's units (core.kinds.refine_unit)
    assert kinds.unit_for("paperb-pixels", {"what": "beyond-cifar", "model": m}) == "x-measure-resnet"
    assert kinds.unit_for("paperb-aug-model", {"k": 0, "transform": {"name": "erasing"}}) == "x-imagenet"
    assert kinds.unit_for("paperb-aug-model", {"k": 0}) == "b-aug"
    assert kinds.unit_for("beyond_model", m) == "x-train-resnet"
    assert "resnet noise σ=0.1 (replicate 1)" in kinds.describe_result("cifar_model", m)


def test_a_weights_flag_must_match_the_name_and_an_undeclared_kind_is_judged_by_it():
    with pytest.raises(ValueError, match="holding weights"):
        kinds.register_kind("x-results", "wrong flag", holds_weights=True)
    with pytest.raises(ValueError, match="holding weights"):
        kinds.register_kind("x_model", "wrong flag")
    assert kinds.holds_weights("other-version_model") and not kinds.holds_weights("other-version-table")
    assert kinds.is_checkpoint("cifar_model_ckpt") and not kinds.is_checkpoint("cifar_model")


def test_the_guard_names_the_unit_from_the_registry(tmp_path, monkeypatch):
    monkeypatch.setenv("ROBUSTLAB_NO_COMPUTE", "1")
    st = ResultStore(tmp_path, profile="tiny")
    from robustlab.core.errors import ComputeRefused

    with pytest.raises(ComputeRefused, match=r"--only b-exp2"):
        st.guard("paperb-pixels", {"tag": "exp", "magnitude": 8, "n_pixels": 4})


def test_a_resolved_config_does_not_change():
    cfg = resolve("t", {"profile": "tiny"})
    with pytest.raises(TypeError, match="replace"):
        cfg["epochs"] = 3
    with pytest.raises(TypeError):
        cfg.update(epochs=3)
    c2 = cfg.replace(epochs=3)
    assert c2.epochs == 3 and cfg.epochs != 3 and type(c2) is type(cfg)
    with pytest.raises(ParameterError, match="epochs"):
        cfg.replace(epochs=0)
    with pytest.raises(ParameterError, match="archs"):
        cfg.replace(archs=["vgg"])  # a choice registered by paper A


def test_an_imagenet_model_is_built_once_per_process(monkeypatch, tmp_path):
    import robustlab.paper_b.classifiers as clf

    built = []

    def fake(name, weights="DEFAULT", **kw):
        built.append((name, weights))
        return torch.nn.Conv2d(3, 4, 1)

    monkeypatch.setattr(clf, "pretrained", fake)
    monkeypatch.setattr(clf, "_BUILT", {})
    cfg = resolve("t", {"profile": "tiny", "results_dir": str(tmp_path), "data_dir": str(tmp_path),
                        "device": "cpu"})
    a = clf.load_model(cfg)
    b = clf.load_model(cfg, clf.model_names(cfg)[0])
    assert a is b and len(built) == 1
