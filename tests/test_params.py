"""Parameter validation before any compute (issue 8 item 1): every error names the parameter,
the bad value and what is allowed."""
from __future__ import annotations

import math

import pytest
import torch

from robustlab.core import params
from robustlab.core.errors import ParameterError


def _err(overrides, notebook="03_noise_training") -> str:
    with pytest.raises(ParameterError) as e:
        params.resolve(notebook, overrides)
    return str(e.value)


def test_defaults_resolve_for_every_profile():
    for p in params.PROFILES:
        cfg = params.resolve("x", {"profile": p, "device": "cpu"})
        assert cfg.profile == p and cfg.epochs >= 1 and set(cfg) >= set(params.SPEC)


def test_unknown_parameter_name_is_an_error_with_a_suggestion():
    msg = _err({"epochz": 5})
    assert "'epochz'" in msg and "epochs" in msg and "03_noise_training" in msg


def test_unknown_profile():
    msg = _err({"profile": "fast"})
    assert "profile" in msg and "'fast'" in msg and "quick" in msg and "paper" in msg
    with pytest.raises(ParameterError, match="profile"):
        params.profile_values("fast")


@pytest.mark.parametrize("name, value, words", [
    ("epochs", "5", ["epochs", "'5'", "integer"]),
    ("epochs", 1.5, ["epochs", "1.5", "integer"]),
    ("epochs", True, ["epochs", "True", "integer"]),
    ("lr", "fast", ["lr", "'fast'", "number"]),
    ("augment", "yes", ["augment", "'yes'", "True or False"]),
    ("sigmas", "0.1", ["sigmas", "'0.1'", "list"]),
    ("archs", "resnet", ["archs", "'resnet'", "list"]),
])
def test_wrong_type(name, value, words):
    msg = _err({name: value})
    for w in words:
        assert w in msg, (w, msg)


@pytest.mark.parametrize("value, words", [
    ([0.0, -0.1], ["sigmas", "-0.1", ">= 0"]),
    ([0.0, math.nan], ["sigmas", "nan", "finite"]),
    ([math.inf], ["sigmas", "inf", "finite"]),
])
def test_sigma_negative_or_not_finite(value, words):
    msg = _err({"sigmas": value})
    for w in words:
        assert w in msg, (w, msg)


def test_sigma_negative_in_corruptions_too():
    corruptions = pytest.importorskip("robustlab.paper_a.corruptions")
    with pytest.raises(ParameterError, match=r"sigma=-1.*>= 0"):
        corruptions.gaussian_noise(torch.zeros(1, 3, 4, 4), -1.0)
    with pytest.raises(ParameterError, match="sigma=nan"):
        corruptions.gaussian_blur(torch.zeros(1, 3, 4, 4), float("nan"))


@pytest.mark.parametrize("name, value", [("epochs", 0), ("epochs", -3), ("batch_size", 0), ("n_images", 0),
                                         ("aug_epochs", 0)])
def test_counts_below_one(name, value):
    msg = _err({name: value})
    assert name in msg and str(value) in msg and ">= 1" in msg


@pytest.mark.parametrize("name, value, allowed", [
    ("archs", ["resnet", "vgg"], "inception"),
    ("model_name", "resnet50", "mobilenet_v2"),
    ("lr_schedule", "linear", "onecycle"),
    ("attack_norm", "l1", "linf"),
])
def test_unknown_choice(name, value, allowed):
    msg = _err({name: value})
    bad = value[-1] if isinstance(value, list) else value
    assert name in msg and repr(bad) in msg and allowed in msg


@pytest.mark.parametrize("name, value", [("magnitudes", [256]), ("fgsm_eps", 0.0), ("momentum", 1.0),
                                         ("width", 0.0), ("pixel_counts", [])])
def test_out_of_range(name, value):
    msg = _err({name: value})
    assert name in msg


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_cuda_on_a_machine_without_one():
    msg = _err({"device": "cuda"})
    assert "device" in msg and "'cuda'" in msg and "cpu" in msg and "no CUDA GPU" in msg


def test_bad_device_name():
    msg = _err({"device": "tpu9"})
    assert "device" in msg and "'tpu9'" in msg and "cpu" in msg


def test_load_from_a_notebook_namespace():
    ns = {"profile": "tiny", "epochs": None, "seed": 3, "math": math, "__name__": "__main__"}
    cfg = params.load("03_noise_training", ns)
    assert cfg.seed == 3 and cfg.epochs == params.profile_values("tiny")["epochs"]
    ns["sigmaz"] = [0.1]  # a papermill -p typo lands in the namespace
    with pytest.raises(ParameterError, match="sigmaz"):
        params.load("03_noise_training", ns)


# --- checks across parameters (issue 8 item 1) -----------------------------------------
@pytest.mark.parametrize("overrides, name, fragment", [
    ({"areas": [300]}, "areas", "larger than the 224x224 image"),
    ({"areas": [56], "grid_pixel_counts": [5000]}, "grid_pixel_counts", "do not fit in the smallest window"),
    ({"pixel_counts": [60000]}, "pixel_counts", "exceed the 50176 pixels"),
    ({"aug_pixel_counts": [60000]}, "aug_pixel_counts", "exceed the 50176 pixels"),
    ({"areas": [28], "cifar_models_pixels": True}, "areas", "on 32x32 CIFAR images"),
    ({"pixel_counts": [2000], "cifar_models_pixels": True}, "pixel_counts", "32x32 CIFAR image"),
])
def test_pixel_count_and_window_cross_checks(overrides, name, fragment):
    from robustlab.core.params import ParameterError, resolve

    with pytest.raises(ParameterError) as e:
        resolve("x", {"profile": "quick", **overrides})
    assert f"parameter {name}=" in str(e.value) and fragment in str(e.value)


def test_cross_checks_accept_the_shipped_profiles():
    from robustlab.core.params import PROFILES, resolve

    for p in PROFILES:
        assert resolve("x", {"profile": p})["profile"] == p
    # the CIFAR scaling check is skipped when the CIFAR part is off
    assert resolve("x", {"profile": "quick", "areas": [28], "cifar_models_pixels": False})["areas"] == [28]
