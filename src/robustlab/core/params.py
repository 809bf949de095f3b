"""Notebook parameters: one flat namespace, profiles, and validation before any compute.

Every notebook has a cell tagged ``parameters`` in which ``profile`` names a profile
(``quick``, ``paper`` or ``tiny``) and every other parameter is ``None`` ("take the profile's
value"). The next cell calls :func:`load`, which

1. rejects names that are not parameters (a typo passed with ``papermill -p`` is an error,
   not a silent no-op),
2. fills each ``None`` from ``profiles/<profile>.yaml`` (shipped inside the package),
3. checks every value's type and range and raises :class:`ParameterError` naming the
   parameter, the bad value and what is allowed,

so the CLI, papermill and JupyterLab all get the same checks before anything is computed.
"""
from __future__ import annotations

import os
import time
import types
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import torch
import yaml

from robustlab.core.checks import number_complaint
from robustlab.core.device import resolve_device
from robustlab.core.errors import ParameterError
from robustlab.core.paths import results_root

PROFILES = ("tiny", "quick", "cpu", "paper")

#: Choices that the layers above declare (core knows no paper): name → allowed values. Filled by
#: :func:`register_choices`, which the papers call when they are imported; ``import robustlab``
#: (which runs before any ``robustlab.*`` module) imports both papers, so the SPEC checks below
#: always see them.
CHOICES: dict[str, tuple[str, ...]] = {}


def register_choices(**choices: Iterable[str]) -> None:
    """Declare the allowed values of a choice set, e.g. ``register_choices(archs=ARCHS)`` (paper A's
    architectures). Registering the same name again with other values is an error."""
    for name, values in choices.items():
        values = tuple(values)
        old = CHOICES.get(name)
        if old is not None and old != values:
            raise ValueError(f"choice set {name!r} registered twice with different values: {old} and {values}")
        CHOICES[name] = values


@dataclass(frozen=True)
class Param:
    """One parameter: its type, a range/choice check, and a one-line description (with units)."""

    kind: str  # "int", "float", "str", "bool", "path", "list[int]", "list[float]", "list[str]"
    doc: str
    check: Callable[[Any], str | None] | None = None  # returns a complaint, or None when fine
    optional: bool = False  # None is a valid resolved value


def _range(lo: float | None = None, hi: float | None = None, lo_open: bool = False, hi_open: bool = False):
    def check(v: Any) -> str | None:
        for x in (v if isinstance(v, (list, tuple)) else [v]):
            complaint = number_complaint(x, lo, hi, lo_open=lo_open, hi_open=hi_open)
            if complaint:
                return f"{complaint}, got {x!r}"
        return None
    return check


def _choices(options: Iterable[str]):
    options = tuple(options)

    def check(v: Any) -> str | None:
        vals = v if isinstance(v, (list, tuple)) else [v]
        bad = [x for x in vals if x not in options]
        return f"must be one of {list(options)}, got {bad[0]!r}" if bad else None
    return check


def _registered(name: str):
    """A choice check against :data:`CHOICES` ``[name]``, read when the check runs (after registration)."""
    def check(v: Any) -> str | None:
        if name not in CHOICES:
            return (f"cannot be checked: no {name!r} choices are registered (the papers register them when "
                    f"imported; import robustlab first)")
        return _choices(CHOICES[name])(v)
    return check


def _nonempty(inner=None):
    def check(v: Any) -> str | None:
        if len(v) == 0:
            return "must not be empty"
        return inner(v) if inner else None
    return check


def _device_check(v: Any) -> str | None:
    try:
        resolve_device(v)
    except ParameterError as e:
        return str(e)
    return None


SPEC: dict[str, Param] = {
    # --- common -------------------------------------------------------------------------
    "profile": Param("str", "profile name: tiny (tests), quick (2 CPU cores, minutes), paper (GPU)",
                     _choices(PROFILES)),
    "seed": Param("int", "master random seed (training, sampling, noise)", _range(0)),
    "device": Param("str", "'auto' (cuda if present, else cpu), 'cpu' or 'cuda'", _device_check),
    "data_dir": Param("path", "data folder (else $ROBUSTLAB_DATA, else ./data)", optional=True),
    "results_dir": Param("path", "results folder (else $ROBUSTLAB_RESULTS, else ./results); a profile subfolder "
                                 "is used", optional=True),
    "cache_dir": Param("path", "decoded-image cache (else $ROBUSTLAB_CACHE, else ./data/cache)", optional=True),
    "num_threads": Param("int", "CPU threads for torch (0 = torch's default)", _range(0)),
    "precision": Param("str", "arithmetic: 'auto' (bf16 autocast where the device has bf16 units: a CUDA GPU with "
                              "bf16, a CPU with AMX-BF16 or AVX512-BF16; else fp32), 'fp32' or 'bf16'. Part of "
                              "every affected cache key. Paper B's inference stays fp32 under 'auto' (its precision "
                              "check failed, see chapter 06)", _choices(("auto", "fp32", "bf16"))),
    # --- paper A: training grid -------------------------------------------------------
    "archs": Param("list[str]", "paper-A architectures to run", _nonempty(_registered("archs"))),
    "sigmas": Param("list[float]", "σ levels for training and evaluation (noise: on [-1, 1] scale; blur: pixels)",
                    _nonempty(_range(0))),
    "width": Param("float", "channel multiplier of the paper-A nets (1.0 = the paper's 256 channels)",
                   _range(0, 4, lo_open=True)),
    "epochs": Param("int", "training epochs per model (paper: 90)", _range(1)),
    "batch_size": Param("int", "training batch size (images)", _range(1)),
    "lr": Param("float", "peak SGD learning rate", _range(0, lo_open=True)),
    "momentum": Param("float", "SGD momentum", _range(0, 1, hi_open=True)),
    "weight_decay": Param("float", "SGD weight decay (L2)", _range(0)),
    "lr_schedule": Param("str", "learning-rate schedule", _registered("lr_schedules")),
    "train_subset": Param("int", "training images used (class-balanced; None = all 50,000)", _range(10),
                          optional=True),
    "test_subset": Param("int", "test images used for the accuracy grids (class-balanced; None = all 10,000)",
                         _range(10), optional=True),
    "n_seeds": Param("int", "training seeds per paper-A model (seed, seed+1, ...): figures show the mean and a "
                            "95 % interval over them, verdicts use it (paper profile: 3)", _range(1)),
    "augment": Param("bool", "random crop + flip during training (not in the paper; off by default)"),
    "stack_models": Param("str", "train the σ levels of one architecture at once as one vectorised model: 'auto' "
                                 "(on for cuda, on CPU what measured faster), 'on', 'off'", _registered("stack_modes")),
    "compile": Param("bool", "torch.compile paper A's training forward where the benchmark measured it faster "
                             "(per device and architecture: robustlab.paper_a.training.COMPILE_PAYS); off by default"),
    # --- paper A: minimal adversarial change -------------------------------------------
    "n_attack_images": Param("int", "test images attacked per model (paper: 128)", _range(1)),
    "attack_norm": Param("str", "norm of the minimal-change attack", _choices(("linf", "l2"))),
    "attack_steps": Param("int", "gradient steps of the minimal-change attack", _range(1)),
    # --- paper B ---------------------------------------------------------------------
    "model_names": Param("list[str]", "ImageNet classifiers for paper B, in table order (those whose weights "
                                      "cannot be had are reported and left out)",
                         _nonempty(_registered("imagenet_models"))),
    "model_name": Param("str", "run paper B on this one classifier only (None = every one of model_names)",
                        _registered("imagenet_models"), optional=True),
    "weights": Param("str", "weights of model_name: 'DEFAULT' (torchvision download) or a path to a state_dict "
                            "file; None = a file <model>.pth in weights_dir, the shared MobileNetV2, else the "
                            "torchvision download", optional=True),
    "weights_dir": Param("path", "folder of <model>.pth ImageNet state_dicts (None = $ROBUSTLAB_WEIGHTS when set)",
                         optional=True),
    "n_images": Param("int", "correctly classified ImageNet images used (paper: 10,000)", _range(1)),
    "n_repeats": Param("int", "independent random draws per setting (spread reported)", _range(1)),
    "pixel_counts": Param("list[int]", "numbers of changed pixels (exp. 1, 3, 4)", _nonempty(_range(1))),
    "magnitudes": Param("list[int]", "max change per channel, 8-bit units (exp. 2)", _nonempty(_range(0, 255))),
    "areas": Param("list[int]", "side of the centred window the pixels are drawn in (exp. 3), pixels",
                   _nonempty(_range(1))),
    "grid_pixel_counts": Param("list[int]", "pixel counts of the exp. 2 (magnitude) grid and of the augmentation "
                                            "test (paper: all of pixel_counts)", _nonempty(_range(1))),
    "area_pixel_counts": Param("list[int]", "pixel counts of the exp. 3 (area) grid; the paper's Fig. 10 is read "
                                            "at 8 and 32 (paper: all of pixel_counts)", _nonempty(_range(1))),
    "grid_repeats": Param("int", "random draws per setting of the exp. 2/3 grids (None = n_repeats); the "
                                 "verdicts use the interval over the images", _range(1), optional=True),
    "fgsm_eps": Param("float", "FGSM step, 8-bit units (exp. 4 and augmentation)", _range(0, 255, lo_open=True)),
    "fgsm_eps_sweep": Param("list[float]", "FGSM steps, 8-bit units, at which exp. 4 (at the largest pixel count) and "
                                           "Table 11 are also run and shown beside the verdicts, which stay decided "
                                           "at fgsm_eps (the paper gives no ε)",
                            _nonempty(_range(0, 255, lo_open=True))),
    "aug_pixel_counts": Param("list[int]", "pixel counts k of the few-pixel augmentation models", _nonempty(_range(1))),
    "aug_train_images": Param("int", "training images for the augmentation fine-tuning (paper: 1,000)", _range(1)),
    "aug_test_images": Param("int", "held-out images for the augmentation test (paper: 1,000)", _range(1)),
    "aug_epochs": Param("int", "fine-tuning epochs (the paper's '20 iterations')", _range(1)),
    "aug_n_class_head": Param("bool", "also fine-tune with §6.2's N-class head (the training classes only, its own "
                                      "k = 0 control) beside the 1,000-class head"),
    "aug_lr": Param("float", "fine-tuning learning rate (paper: 0.001)", _range(0, lo_open=True)),
    "eval_batch_size": Param("int", "batch size of forward passes (images)", _range(1)),
    "cifar_models_pixels": Param("bool", "also run experiments 1-3 and Pi on paper A's CIFAR-10 models"),
    # --- beyond the papers (chapter 12) -------------------------------------------------
    "beyond_archs": Param("list[str]", "paper-A architectures trained with each augmentation in chapter 12 "
                                       "(paper profile: all three)", _nonempty(_registered("archs"))),
    "beyond_augmentations": Param("list[str]", "paper A's registered training augmentations chapter 12 trains and "
                                               "compares (part 1; None = every one)",
                                  _nonempty(_registered("augmentations")), optional=True),
    "beyond_pixel_counts": Param("list[int]", "random-pixel counts chapter 12 tests its models at, both parts (the "
                                              "claims read the largest; None = part 1: pixel_counts, part 2: "
                                              "grid_pixel_counts and the smallest and largest of pixel_counts)",
                                 _nonempty(_range(1)), optional=True),
}


def _coerce(name: str, p: Param, v: Any) -> Any:
    """Coerce YAML/papermill values to the declared type, or raise ParameterError."""
    def bad(msg: str) -> ParameterError:
        return ParameterError(f"parameter {name}={v!r}: {msg} ({p.doc})")

    if v is None:
        if p.optional:
            return None
        raise bad("is required")
    kind = p.kind
    if kind == "path":
        if not isinstance(v, (str, os.PathLike)):
            raise bad("must be a path string")
        return str(v)
    if kind.startswith("list["):
        inner = kind[5:-1]
        if isinstance(v, (str, bytes)) or not isinstance(v, Iterable):
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                v = [v]
            else:
                raise bad(f"must be a list of {inner}")
        return [_coerce_scalar(name, p, inner, x, bad) for x in v]
    return _coerce_scalar(name, p, kind, v, bad)


def _coerce_scalar(name, p, kind, v, bad):
    if kind == "int":
        if isinstance(v, bool) or not isinstance(v, (int, float)) or (
                isinstance(v, float) and not float(v).is_integer()):
            raise bad("must be an integer")
        return int(v)
    if kind == "float":
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise bad("must be a number")
        return float(v)
    if kind == "bool":
        if not isinstance(v, bool):
            raise bad("must be True or False")
        return v
    if kind == "str":
        if not isinstance(v, str):
            raise bad("must be a string")
        return v
    raise AssertionError(kind)


def profile_values(profile: str) -> dict[str, Any]:
    """The raw values of a shipped profile (``robustlab/profiles/<profile>.yaml``)."""
    if profile not in PROFILES:
        raise ParameterError(f"parameter profile={profile!r}: must be one of {list(PROFILES)}")
    text = resources.files("robustlab.core").joinpath("profiles", f"{profile}.yaml").read_text()
    values = yaml.safe_load(text) or {}
    unknown = sorted(set(values) - set(SPEC))
    if unknown:
        raise ParameterError(f"profile {profile!r} sets unknown parameters {unknown}")
    return values


class Config(dict):
    """Resolved, validated parameters of one notebook run; keys also readable as attributes.

    Immutable: nothing changes a resolved configuration under the code holding it. A variant is a
    new Config, :meth:`replace` (``cfg.replace(results_dir=...)``)."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def _frozen(self, *args, **kwargs):
        raise TypeError("a resolved Config does not change; make a variant with cfg.replace(name=value)")

    __setitem__ = __delitem__ = update = pop = popitem = setdefault = clear = _frozen
    __ior__ = _frozen

    def replace(self, **changes: Any) -> Config:
        """A new Config with ``changes`` (the parameters of :data:`SPEC` are checked again)."""
        for name, v in changes.items():
            p = SPEC.get(name)
            if p is not None:
                v = _coerce(name, p, v)
                complaint = p.check(v) if (v is not None and p.check is not None) else None
                if complaint:
                    raise ParameterError(f"parameter {name}={v!r} {complaint} ({p.doc})")
                changes[name] = v
        return type(self)({**self, **changes})

    def __copy__(self) -> Config:
        return self

    def __deepcopy__(self, memo) -> Config:
        return self

    def __reduce__(self):
        return (type(self), (dict(self),))

    @property
    def results(self) -> Path:
        return results_root(self.get("results_dir"), self["profile"])

    @property
    def torch_device(self):
        return resolve_device(self["device"])


_IGNORED = {"In", "Out", "get_ipython", "exit", "quit", "open", "display"}


def _user_names(namespace: Mapping[str, Any]) -> dict[str, Any]:
    """Names a user or papermill assigned in a notebook namespace (not modules, functions, dunders)."""
    out = {}
    for k, v in namespace.items():
        if k.startswith("_") or k in _IGNORED:
            continue
        if isinstance(v, (types.ModuleType, types.FunctionType, types.BuiltinFunctionType, type)):
            continue
        if callable(v) and not isinstance(v, (list, tuple, dict, str)):
            continue
        if isinstance(v, Config):
            continue
        out[k] = v
    return out


def resolve(notebook: str = "", overrides: Mapping[str, Any] | None = None, profile: str | None = None) -> Config:
    """Validate ``overrides`` against :data:`SPEC`, fill the rest from the profile, check ranges.

    ``overrides`` may hold ``None`` for "profile value". Unknown names raise ParameterError.
    """
    overrides = dict(overrides or {})
    unknown = sorted(set(overrides) - set(SPEC))
    if unknown:
        close = {u: [k for k in SPEC if k[:3] == u[:3]] for u in unknown}
        hint = "; ".join(f"{u!r} (did you mean {c}?)" if c else repr(u) for u, c in close.items())
        raise ParameterError(f"unknown parameter(s) {hint}{' in ' + notebook if notebook else ''}. "
                             f"Known parameters: {sorted(SPEC)}")
    profile = overrides.pop("profile", None) or profile or "quick"
    if not isinstance(profile, str) or profile not in PROFILES:
        raise ParameterError(f"parameter profile={profile!r}: must be one of {list(PROFILES)}")
    values = profile_values(profile)
    values["profile"] = profile
    for k, v in overrides.items():
        if v is not None:
            values[k] = v
    resolved: dict[str, Any] = {}
    for name, p in SPEC.items():
        v = _coerce(name, p, values.get(name))
        if v is not None and p.check is not None:
            complaint = p.check(v)
            if complaint:
                raise ParameterError(f"parameter {name}={v!r} {complaint} ({p.doc})")
        resolved[name] = v
    _cross_check(resolved)
    cfg = Config(resolved, notebook=notebook, _started=time.time())
    if cfg["num_threads"]:

        torch.set_num_threads(cfg["num_threads"])
    return cfg


#: Paper B's image side after Resize(256)/CenterCrop(224), pixels.
IMAGENET_SIZE = 224
CIFAR_SIZE = 32


def _cross_check(cfg: Mapping[str, Any]) -> None:
    """Checks that involve several parameters (pixel counts against windows, windows against images)."""
    def bad(name: str, value: Any, msg: str) -> ParameterError:
        return ParameterError(f"parameter {name}={value!r}: {msg} ({SPEC[name].doc})")

    for a in cfg["areas"]:
        if a > IMAGENET_SIZE:
            raise bad("areas", cfg["areas"], f"window {a} is larger than the {IMAGENET_SIZE}x{IMAGENET_SIZE} image; "
                      f"allowed: 1..{IMAGENET_SIZE}")
    whole = IMAGENET_SIZE * IMAGENET_SIZE
    for name in ("pixel_counts", "aug_pixel_counts"):
        if max(cfg[name]) > whole:
            raise bad(name, cfg[name], f"{max(cfg[name])} pixels exceed the {whole} pixels of a "
                      f"{IMAGENET_SIZE}x{IMAGENET_SIZE} image")
    if cfg.get("beyond_pixel_counts") and max(cfg["beyond_pixel_counts"]) > CIFAR_SIZE * CIFAR_SIZE:
        raise bad("beyond_pixel_counts", cfg["beyond_pixel_counts"], f"more than the {CIFAR_SIZE * CIFAR_SIZE} "
                  f"pixels of a 32x32 CIFAR image (chapter 12's part 1 tests CIFAR models); lower it")
    smallest = min(cfg["areas"])
    for name in ("grid_pixel_counts", "area_pixel_counts"):
        if max(cfg[name]) > smallest * smallest:
            raise bad(name, cfg[name],
                      f"{max(cfg[name])} distinct pixels do not fit in the smallest window areas={smallest} "
                      f"({smallest * smallest} pixels); use at most {smallest * smallest} or larger areas")
    n = max(cfg["grid_pixel_counts"])
    if cfg.get("cifar_models_pixels"):
        # paper A's 32x32 images: areas scale by 32/224 (see robustlab.paper_b.cifar.cifar_scale)
        small = max(1, round(smallest * CIFAR_SIZE / IMAGENET_SIZE))
        if n > small * small:
            raise bad("areas", cfg["areas"],
                      f"on 32x32 CIFAR images the window {smallest} scales to {small} ({small * small} pixels), "
                      f"fewer than the {n} pixels to change; use larger areas or set cifar_models_pixels=False")
        if max(cfg["pixel_counts"]) > CIFAR_SIZE * CIFAR_SIZE:
            raise bad("pixel_counts", cfg["pixel_counts"], f"more than the {CIFAR_SIZE * CIFAR_SIZE} pixels of a "
                      f"32x32 CIFAR image; lower it or set cifar_models_pixels=False")


def parse_param(text: str) -> tuple[str, Any]:
    """``KEY=VALUE`` → (key, value); the value is read as YAML (``5`` → int, ``[0, 0.1]`` → list)."""
    if "=" not in text:
        raise ParameterError(f"--param {text!r}: expected KEY=VALUE, e.g. --param epochs=5")
    key, raw = text.split("=", 1)
    key = key.strip()
    if not key:
        raise ParameterError(f"--param {text!r}: the parameter name is empty")
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError:
        value = raw
    return key, value


def load(notebook: str, namespace: Mapping[str, Any]) -> Config:
    """Resolve the parameters a notebook's namespace holds (see module docstring)."""
    return resolve(notebook, _user_names(namespace))


def parameters_cell(profile: str = "quick", names: Iterable[str] | None = None) -> str:
    """Source of a notebook ``parameters`` cell: ``profile`` set, every other name ``None``."""
    names = list(names) if names is not None else [n for n in SPEC if n != "profile"]
    lines = [f'profile = "{profile}"  # {SPEC["profile"].doc}']
    lines += [f"{n} = None  # {SPEC[n].doc}" for n in names if n != "profile"]
    return "\n".join(lines)
