"""Paper B's ImageNet classifiers: torchvision models by name, with their weights.

:func:`pretrained` returns a classifier in eval mode that takes **float NCHW RGB images on
[0, 1]** (``uint8 / 255``) when ``normalize=True`` (the default): the ImageNet mean/std
normalisation is the model's first layer, so attacks work with ``bounds=(0, 1)`` and
8-bit changes map to steps of 1/255. With ``normalize=False`` the bare torchvision net is
returned (it expects normalised inputs).

Weights:

* ``"DEFAULT"`` or a torchvision enum name (e.g. ``"IMAGENET1K_V1"``): torchvision's
  ``weights=`` enum, its file downloaded into torch's hub cache on first use
  (:func:`robustlab.data.download.fetch_weights`: progress bar, checksum; offline, or with
  ``ROBUSTLAB_OFFLINE=1``, a :class:`~robustlab.core.errors.DataError` that says to pass a local
  state_dict path instead).
* a path to a local ``state_dict`` file (e.g. the shared
  ``imagenet/mobilenet_v2-imagenet-dequantized.pth``).
* ``None``: random initialisation (tests).
"""
from __future__ import annotations

import hashlib
import os
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from robustlab.core.device import autocast, describe_device, flush_denormals, resolve_precision
from robustlab.core.errors import CheckpointError, DataError, ParameterError
from robustlab.core.paths import data_root
from robustlab.data.download import fetch_weights, offline, weights_cache_path
from robustlab.data.imagenet import find_wnids, image_sources, read_wnids
from robustlab.data.scale import to_unit

__all__ = ["IMAGENET_ARCHS", "IMAGENET_MEAN", "IMAGENET_STD", "Normalize", "pretrained", "SHARED_MOBILENET",
           "shared_mobilenet_path", "PAPER_WEIGHTS", "LABELS", "label", "weights_dir", "model_names",
           "available", "data_sources", "primary", "preferred", "published_top1", "weights_arg", "model_key",
           "load_model", "predict", "forward_batch", "PAPER_B_BF16_OK", "inference_precision", "Autocast"]

#: ImageNet statistics used by every torchvision classifier (on the [0, 1] scale of :func:`to_unit`).
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

#: architectures :func:`pretrained` knows (the paper's five and the one we have weights for).
IMAGENET_ARCHS = ("mobilenet_v2", "resnet101", "densenet121", "vgg16", "alexnet", "squeezenet1_1")

#: file name of the real ImageNet-pretrained MobileNetV2 in the shared data folder.
SHARED_MOBILENET = "imagenet/mobilenet_v2-imagenet-dequantized.pth"


class Normalize(nn.Module):
    """``(x - mean) / std`` per channel, on float NCHW input in [0, 1]."""

    def __init__(self, mean=IMAGENET_MEAN, std=IMAGENET_STD):
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


def shared_mobilenet_path(data_dir: str | os.PathLike | None = None) -> Path:
    """The shared ImageNet-pretrained MobileNetV2 state_dict under the data folder."""
    return data_root(data_dir) / SHARED_MOBILENET


def _load_state_dict(path: Path, net: nn.Module, name: str) -> None:
    if not path.is_file():
        raise DataError(f"weights={str(path)!r}: no such file. Pass a path to a {name} state_dict, "
                        f"'DEFAULT' (download, needs internet) or None (random weights).")
    try:
        sd = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - any unreadable file
        raise CheckpointError(f"weights file {path} cannot be read as a state_dict ({type(e).__name__}: {e}); "
                              f"it is damaged or not a torch file.") from None
    if isinstance(sd, dict) and "state_dict" in sd and isinstance(sd["state_dict"], dict):
        sd = sd["state_dict"]
    if not isinstance(sd, dict):
        raise CheckpointError(f"weights file {path} holds a {type(sd).__name__}, not a state_dict.")
    try:
        net.load_state_dict(sd)
    except RuntimeError as e:
        msg = str(e).splitlines()
        raise CheckpointError(f"weights file {path} does not fit torchvision's {name}: "
                              f"{' '.join(m.strip() for m in msg[:4])[:400]}") from None


def _enum_weights(name: str, weights: str):
    from torchvision.models import get_model_weights  # deferred: torchvision is slow to import

    enum = get_model_weights(name)
    if weights == "DEFAULT":
        return enum.DEFAULT
    try:
        return enum[weights]
    except KeyError:
        raise ParameterError(f"weights={weights!r} for {name}: not a file and not one of "
                             f"{['DEFAULT'] + [w.name for w in enum]}") from None


def _is_enum(weights) -> bool:
    """Whether ``weights`` names a torchvision weights enum ("DEFAULT", "IMAGENET1K_V1", ...), not a file."""
    return isinstance(weights, str) and (weights == "DEFAULT" or (weights.isupper() and os.sep not in weights
                                                                  and not Path(weights).suffix))


def pretrained(name: str, weights: str | os.PathLike | None = "DEFAULT", *, normalize: bool = True) -> nn.Module:
    """A torchvision ImageNet classifier in eval mode.

    Args:
        name: one of :data:`IMAGENET_ARCHS`.
        weights: ``"DEFAULT"`` / a torchvision weights enum name (download, needs internet),
            a path to a local state_dict file, or ``None`` for random weights.
        normalize: prepend :class:`Normalize` (ImageNet mean/std), so the model takes
            float NCHW RGB on [0, 1]; else the bare net (expects normalised input).

    Returns:
        ``nn.Sequential(Normalize, net)`` (or ``net``) in eval mode, 1,000 logits per image.

    Raises:
        ParameterError: unknown ``name`` or weights enum name.
        DataError: download impossible (offline) or file missing.
        CheckpointError: the file is damaged or does not fit the architecture.
    """
    import torchvision.models as tvm  # deferred: torchvision is slow to import

    if name not in IMAGENET_ARCHS:
        raise ParameterError(f"name={name!r}: must be one of {list(IMAGENET_ARCHS)}")
    builder = getattr(tvm, name)
    from torchvision.models import WeightsEnum  # deferred: torchvision is slow to import

    if isinstance(weights, WeightsEnum):
        weights = weights.name
    is_enum = _is_enum(weights)
    if weights is None:
        net = builder(weights=None)
    elif is_enum:
        enum = _enum_weights(name, str(weights))
        try:
            fetch_weights(name, enum)  # into the hub cache, where torchvision reads it
            net = builder(weights=enum)
        except Exception as e:  # noqa: BLE001 - offline: DataError, URLError, OSError, ...
            raise DataError(
                f"cannot download the torchvision weights {enum} for {name} ({type(e).__name__}: {e}). "
                f"Without internet (or with ROBUSTLAB_OFFLINE=1), pass weights=<path to a local {name} state_dict> "
                f"(e.g. the shared {SHARED_MOBILENET} for mobilenet_v2), or weights=None for random "
                f"weights.") from None
    else:
        net = builder(weights=None)
        _load_state_dict(Path(weights), net, name)
    model = nn.Sequential(Normalize(), net) if normalize else net
    return model.eval()


# --------------------------------------------------------------------------------------
# the models of a run: which, with which weights, which of them can be had
# --------------------------------------------------------------------------------------
#: the torchvision weights each model downloads when no local file is given: IMAGENET1K_V1, what
#: ``pretrained=True`` gave when the paper was written (2021).
PAPER_WEIGHTS = {n: "IMAGENET1K_V1" for n in IMAGENET_ARCHS}

#: display names, in the paper's spelling.
LABELS = {"mobilenet_v2": "MobileNetV2", "resnet101": "ResNet-101", "densenet121": "DenseNet-121",
          "vgg16": "VGG-16", "alexnet": "AlexNet", "squeezenet1_1": "SqueezeNet 1.1"}


def label(name: str) -> str:
    return LABELS.get(name, name)


def weights_dir(cfg) -> Path | None:
    """The folder of ``<model>.pth`` state_dicts: ``cfg.weights_dir``, else ``$ROBUSTLAB_WEIGHTS``."""
    d = cfg.get("weights_dir") or os.environ.get("ROBUSTLAB_WEIGHTS") or None
    return Path(d).expanduser() if d else None


def model_names(cfg) -> list[str]:
    """The models the run asks for: ``[cfg.model_name]`` when set, else ``cfg.model_names``."""
    if cfg.get("model_name"):
        return [cfg.model_name]
    names = cfg.get("model_names") or ["mobilenet_v2"]
    return list(dict.fromkeys(names))


def _weights_for(cfg, name: str) -> str:
    """The weights of ``name``, in this order: ``cfg.weights`` (when ``name`` is ``cfg.model_name``),
    ``<weights_dir>/<name>.pth``, torchvision's :data:`PAPER_WEIGHTS` file when it is in the hub cache or can be
    downloaded now, else (MobileNetV2) the shared dequantized file beside the data, else the enum (which
    :func:`available` reports)."""
    if cfg.get("weights") is not None and cfg.get("model_name") == name:
        return cfg.weights
    d = weights_dir(cfg)
    if d is not None and (d / f"{name}.pth").is_file():
        return str(d / f"{name}.pth")
    enum = PAPER_WEIGHTS.get(name, "DEFAULT")
    if name == "mobilenet_v2":
        shared = shared_mobilenet_path(cfg.get("data_dir"))
        if shared.is_file() and not _obtainable(name, enum):
            return str(shared)
    return enum


def _downloaded(name: str, enum_name: str) -> bool:
    """Whether torchvision's weights file is already in the torch hub cache (no download needed)."""
    try:
        return weights_cache_path(_enum_weights(name, enum_name)).is_file()
    except ParameterError:
        return False


_FETCHED: dict[tuple, bool] = {}


def _obtainable(name: str, enum_name: str) -> bool:
    """Whether torchvision's file can be had: in the hub cache, or downloaded now (tried once per process
    and per ``ROBUSTLAB_OFFLINE`` setting)."""
    if _downloaded(name, enum_name):
        return True
    k = (name, enum_name, offline(), torch.hub.get_dir())
    if k not in _FETCHED:
        try:
            fetch_weights(name, _enum_weights(name, enum_name))
            _FETCHED[k] = True
        except (DataError, ParameterError):
            _FETCHED[k] = False
    return _FETCHED[k]


_AVAILABLE: dict[tuple, tuple[list[str], dict[str, str]]] = {}


def available(cfg) -> tuple[list[str], dict[str, str]]:
    """(models whose weights can be had, {model: why not and what to do}) for :func:`model_names`.

    A local file (``weights``, ``weights_dir``, the shared MobileNetV2) counts when it exists; a
    torchvision enum when its file is in the torch hub cache or can be downloaded now (tried once per
    process: a download is what a machine with internet should do). Reported once per process."""
    names = model_names(cfg)
    w = (cfg.get("model_name"), cfg.weights) if cfg.get("weights") is not None else None
    key = (tuple(names), str(weights_dir(cfg)), w, str(cfg.get("data_dir")))
    if key in _AVAILABLE:
        return _AVAILABLE[key]
    ok, missing = [], {}
    for n in names:
        w = _weights_for(cfg, n)
        if not _is_enum(w):
            if Path(w).is_file():
                ok.append(n)
            else:
                missing[n] = f"no file {w}"
            continue
        if _downloaded(n, w):
            ok.append(n)
            continue
        try:
            _built(n, w)  # the download is the check; the model built is kept for the run
            ok.append(n)
        except (DataError, CheckpointError, ParameterError) as e:
            d = weights_dir(cfg)
            missing[n] = (f"torchvision's {n} {w} weights cannot be downloaded here ({str(e).split('(')[0].strip()}); "
                          f"put its state_dict at {(d or Path('<weights_dir>')) / (n + '.pth')} "
                          f"(weights_dir= or $ROBUSTLAB_WEIGHTS) or run where torchvision can download")
    if missing:
        warnings.warn("paper B: left out for want of weights: " + "; ".join(f"{label(k)}: {v}" for k, v in
                                                                              missing.items()), stacklevel=2)
    if not ok:
        raise DataError(f"paper B: no model of {names} has weights here ({missing}). Give weights_dir= (or "
                        f"$ROBUSTLAB_WEIGHTS) a folder of <model>.pth state_dicts, or run with internet.")
    _AVAILABLE[key] = (ok, missing)
    return ok, missing


def data_sources(cfg) -> list[Path]:
    """For provenance: the image sources in the data folder (:func:`robustlab.data.imagenet.image_sources`)
    and the weights files of the run's available models (a local file, or torchvision's in the hub cache)."""
    files = []
    for n in available(cfg)[0]:
        w = _weights_for(cfg, n)
        files.append(Path(w) if not _is_enum(w) else weights_cache_path(_enum_weights(n, w)))
    return image_sources(cfg.get("data_dir")) + files


def primary(cfg) -> str:
    """The one model of single-model steps (the fine-tuning of §6.2): ``cfg.model_name`` when set, else
    ResNet-101 when available (the paper's choice), else the first available model."""
    if cfg.get("model_name"):
        return cfg.model_name
    return preferred(available(cfg)[0])


def preferred(names: list[str]) -> str:
    """The model the paper fine-tunes, ResNet-101, when ``names`` has it, else the first of ``names``."""
    return "resnet101" if "resnet101" in names else names[0]


def _name(cfg, name: str | None = None) -> str:
    """``name`` when given (a per-model run), else ``cfg.model_name``, else :func:`primary`."""
    return name or cfg.get("model_name") or primary(cfg)


def published_top1(name: str, shared: bool = False) -> tuple[str, float] | None:
    """(weights enum, ImageNet-1k top-1 %) that torchvision publishes for the weights :data:`PAPER_WEIGHTS`
    names, or (``shared``) for the quantized MobileNetV2 that the shared, dequantized file comes from
    (None when unknown)."""
    if shared:
        from torchvision.models.quantization import MobileNet_V2_QuantizedWeights  # deferred: slow to import

        w = MobileNet_V2_QuantizedWeights.DEFAULT
        return f"quantized {w.name}", float(w.meta["_metrics"]["ImageNet-1K"]["acc@1"])
    try:
        w = _enum_weights(name, PAPER_WEIGHTS.get(name, "DEFAULT"))
        return w.name, float(w.meta["_metrics"]["ImageNet-1K"]["acc@1"])
    except (ParameterError, KeyError, ValueError):
        return None


def weights_arg(cfg, name: str | None = None) -> str | None:
    """The weights of model ``name`` (default ``cfg.model_name``, else :func:`primary`): a state_dict path or
    an enum name."""
    return _weights_for(cfg, _name(cfg, name))


_SHA_CACHE: dict[tuple[str, int, int], str] = {}


def _file_sha256(path: Path) -> str:
    st = path.stat()
    k = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    if k not in _SHA_CACHE:
        h = hashlib.sha256()
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        _SHA_CACHE[k] = h.hexdigest()[:16]
    return _SHA_CACHE[k]


def model_key(cfg, name: str | None = None) -> dict[str, Any]:
    """Identity of model ``name`` (default ``cfg.model_name``, else :func:`primary`), for cache keys: its
    name and its weights — a torchvision enum by
    name, or a weights file by its name and SHA-256 (never its path, so results computed on another
    machine, with the file elsewhere, are found) — and, when it is not fp32, the inference precision
    (:func:`inference_precision`), so fp32 and bf16 results are never mixed (fp32 keys are unchanged)."""
    w = weights_arg(cfg, name)
    key: dict[str, Any] = {"model": _name(cfg, name), "weights": w}
    if w is not None and Path(w).is_file():
        key["weights"] = Path(w).name
        key["weights_sha256"] = _file_sha256(Path(w))
    if inference_precision(cfg) != "fp32":
        key["precision"] = inference_precision(cfg)
    return key


#: Does paper B's inference pass its bf16 precision check (``benchmarks/precision_check.py paperb``)?
#: No: on the quick book's selected images the shared MobileNetV2 answers differently in bf16 autocast
#: than in fp32 on unchanged images and on the changed images of experiments 1-2 more often than the
#: check allows (figures in the README's precision table and in chapter 06). Paper B measures flips
#: under tiny input changes, so rounding that itself flips marginal predictions would be counted as
#: the effect. So ``precision: auto`` keeps paper B in fp32; ``bf16`` must be asked for explicitly.
PAPER_B_BF16_OK = False

def inference_precision(cfg) -> str:
    """Paper B's inference precision: "bf16" only when ``cfg.precision`` asks for it explicitly (or
    "auto" on a device with bf16 units once :data:`PAPER_B_BF16_OK` holds); else "fp32"."""
    asked = cfg.get("precision") or "auto"
    if asked == "auto" and not PAPER_B_BF16_OK:
        return "fp32"
    return resolve_precision(asked, cfg.torch_device)


class Autocast(nn.Module):
    """``model`` run under :func:`robustlab.core.device.autocast` at ``precision`` (logits in float32):
    the same call on every device. Its state dict is the inner model's, under ``model.``."""

    def __init__(self, model: nn.Module, precision: str):
        super().__init__()
        self.model, self.precision = model, precision

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with autocast(x.device, self.precision):
            return self.model(x).float()


class LazyModel:
    """A model that is built only when something must be computed with it (``.get()``), so pages
    rendered from stored or published results never load fine-tuned or paper-A weights."""

    def __init__(self, make):
        self._make, self._m = make, None

    def get(self) -> nn.Module:
        if self._m is None:
            self._m = self._make()
        return self._m


def resolve_model(model):
    return model.get() if isinstance(model, LazyModel) else model


#: (model name, weights source) → the model built from them, once per process (availability check,
#: selection and experiments share it; nothing changes it: fine-tuning works on a copy). A weights
#: file is known by its path, size and modification time (a file written anew is read anew).
_BUILT: dict[tuple, nn.Module] = {}


def _built(name: str, weights: str) -> nn.Module:
    p = Path(str(weights))
    st = p.stat() if not _is_enum(weights) and p.is_file() else None
    key = (name, str(weights), (st.st_size, st.st_mtime_ns) if st else None)
    if key not in _BUILT:
        _BUILT[key] = pretrained(name, weights)
    return _BUILT[key]


def load_model(cfg, name: str | None = None) -> nn.Module:
    """Model ``name`` (default ``cfg.model_name``, else :func:`primary`) with its weights on
    ``cfg.torch_device`` (channels_last, eval mode), built once per process for each (model, weights);
    wrapped in :class:`Autocast` when :func:`inference_precision` is bf16."""
    m = _built(_name(cfg, name), weights_arg(cfg, name)).to(cfg.torch_device, memory_format=torch.channels_last).eval()
    prec = inference_precision(cfg)
    return Autocast(m, prec).eval() if prec != "fp32" else m


def class_names(cfg) -> list[str]:
    """The 1,000 ImageNet class names (the wnids.txt beside the data, else the package's)."""
    return read_wnids(find_wnids(cfg.data_dir))[1]


def to_input(images_uint8: Any, device) -> torch.Tensor:
    """uint8 NHWC → the classifiers' float NCHW [0, 1] input on ``device``, channels_last."""
    return to_unit(images_uint8, device).contiguous(memory_format=torch.channels_last)


#: forward batch sizes a CPU tries (:func:`forward_batch`; 2 is left out: its kernels give other logits in the
#: last bits). The fastest differs by CPU (MobileNetV2: 4 on a
#: 2-core AMD EPYC, 8–16 on a Xeon with AMX)
FORWARD_TRIES = (4, 8, 16, 32)
#: (architecture signature, input shape, device, threads) → the measured fastest forward batch size
_FORWARD_BATCH: dict[tuple, int] = {}


def forward_batch(model: nn.Module, shape: tuple, device, limit: int) -> int:
    """The forward batch size :func:`predict` uses for images of ``shape`` (C, H, W), at most ``limit``.

    On a CPU it is measured once per process for each architecture and input shape (the fastest of
    :data:`FORWARD_TRIES` on 32 random images, about 1–3 s for an ImageNet classifier; fine-tuned copies
    share their architecture's); ``ROBUSTLAB_FORWARD_BATCH=<n>`` fixes it. Elsewhere it is ``limit``.
    The size changes speed only: the chunks a run draws its changes in, and what it selects, follow
    ``eval_batch_size``, and the logits are the same at every size (``tests/test_precision.py``)."""
    device = torch.device(device)
    if device.type != "cpu" or model.training:  # a model in training mode would move its BatchNorm statistics
        return limit
    fixed = os.environ.get("ROBUSTLAB_FORWARD_BATCH", "").strip()
    if fixed:
        if not fixed.isdigit() or int(fixed) < 1:
            raise ParameterError(f"ROBUSTLAB_FORWARD_BATCH={fixed!r}: give a whole number ≥ 1, or unset it "
                                 "to let each CPU measure its fastest forward batch size")
        return min(int(fixed), limit)
    sig = (type(model).__name__, sum(p.numel() for p in model.parameters()), tuple(shape), str(device),
           torch.get_num_threads())
    if sig not in _FORWARD_BATCH:
        tries = list(FORWARD_TRIES)
        # its own generator: the global one drives the runs' draws and must not move
        x = torch.rand(32, *shape, generator=torch.Generator().manual_seed(0)).to(device)
        x = x.contiguous(memory_format=torch.channels_last)
        best, best_t = tries[-1], float("inf")
        with torch.inference_mode(), flush_denormals():
            for b in tries:
                model(x[:b])  # warm-up: the first call of a shape allocates and picks kernels
                t = time.perf_counter()
                for i in range(0, len(x), b):
                    model(x[i:i + b])
                dt = time.perf_counter() - t
                if dt < best_t:
                    best, best_t = b, dt
        _FORWARD_BATCH[sig] = best
    return min(_FORWARD_BATCH[sig], limit)


def predict(model: nn.Module, images_uint8: Any, batch_size: int = 64, device=None,
            return_conf: bool = False):
    """Top-1 classes (int64 CPU tensor) of uint8 NHWC images; ``torch.inference_mode``, subnormals
    flushed (:func:`~robustlab.core.device.flush_denormals`), at most ``batch_size`` images per forward
    pass: on a CPU the measured fastest :func:`forward_batch`."""
    model = resolve_model(model)
    device = device or next(model.parameters()).device
    preds, confs = [], []
    if len(images_uint8) == 0:
        return (torch.zeros(0, dtype=torch.int64), torch.zeros(0)) if return_conf else torch.zeros(0, dtype=torch.int64)
    shape = tuple(np.asarray(images_uint8[:1]).shape[1:])
    bs = forward_batch(model, (shape[2], shape[0], shape[1]), device, int(batch_size))
    with torch.inference_mode(), flush_denormals():
        for i in range(0, len(images_uint8), bs):
            logits = model(to_input(images_uint8[i:i + bs], device))
            if return_conf:
                p = logits.float().softmax(1)
                c, k = p.max(1)
                preds.append(k.cpu()), confs.append(c.cpu())
            else:
                preds.append(logits.argmax(1).cpu())
    pred = torch.cat(preds) if preds else torch.zeros(0, dtype=torch.int64)
    return (pred, torch.cat(confs)) if return_conf else pred


def describe(device) -> str:
    return describe_device(torch.device(device))


def throughput(model: nn.Module, batch_size: int = 16, device=None, backward: bool = False) -> float:
    """Images/s of one forward (or forward+backward to the input) pass on random 224×224 input."""
    model = resolve_model(model)
    device = device or next(model.parameters()).device
    x = torch.rand(batch_size, 3, 224, 224, device=device).contiguous(memory_format=torch.channels_last)
    if backward:
        x.requires_grad_(True)
        model(x[:2]).sum().backward()
        t = time.perf_counter()
        torch.autograd.grad(model(x).sum(), x)
    else:
        with torch.inference_mode(), flush_denormals():
            model(x[:2])
            t = time.perf_counter()
            model(x)
    return batch_size / (time.perf_counter() - t)
