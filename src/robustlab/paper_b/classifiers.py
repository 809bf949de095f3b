"""Paper B's ImageNet classifiers: torchvision models by name, with their weights.

:func:`pretrained` returns a classifier in eval mode that takes **float NCHW RGB images on
[0, 1]** (``uint8 / 255``) when ``normalize=True`` (the default): the ImageNet mean/std
normalisation is the model's first layer, so attacks work with ``bounds=(0, 1)`` and
8-bit changes map to steps of 1/255. With ``normalize=False`` the bare torchvision net is
returned (it expects normalised inputs).

Weights:

* ``"DEFAULT"`` or a torchvision enum name (e.g. ``"IMAGENET1K_V1"``): torchvision's
  ``weights=`` enum, downloaded on first use (needs internet; offline this is a
  :class:`~robustlab.core.errors.DataError` that says to pass a local state_dict path instead).
* a path to a local ``state_dict`` file (e.g. the shared
  ``imagenet/mobilenet_v2-imagenet-dequantized.pth``).
* ``None``: random initialisation (tests).
"""
from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import torch
from torch import nn

from robustlab.core.errors import CheckpointError, DataError, ParameterError
from robustlab.data.scale import to_unit

__all__ = ["IMAGENET_ARCHS", "IMAGENET_MEAN", "IMAGENET_STD", "Normalize", "pretrained", "SHARED_MOBILENET",
           "shared_mobilenet_path"]

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
    from robustlab.core.paths import data_root

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
    from torchvision.models import get_model_weights

    enum = get_model_weights(name)
    if weights == "DEFAULT":
        return enum.DEFAULT
    try:
        return enum[weights]
    except KeyError:
        raise ParameterError(f"weights={weights!r} for {name}: not a file and not one of "
                             f"{['DEFAULT'] + [w.name for w in enum]}") from None


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
    import torchvision.models as tvm

    if name not in IMAGENET_ARCHS:
        raise ParameterError(f"name={name!r}: must be one of {list(IMAGENET_ARCHS)}")
    builder = getattr(tvm, name)
    from torchvision.models import WeightsEnum

    if isinstance(weights, WeightsEnum):
        weights = weights.name
    is_enum = isinstance(weights, str) and (weights == "DEFAULT" or (weights.isupper() and os.sep not in weights
                                                                     and not Path(weights).suffix))
    if weights is None:
        net = builder(weights=None)
    elif is_enum:
        enum = _enum_weights(name, str(weights))
        try:
            net = builder(weights=enum)
        except Exception as e:  # noqa: BLE001 - offline: URLError, OSError, ...
            raise DataError(
                f"cannot download the torchvision weights {enum} for {name} ({type(e).__name__}: {e}). "
                f"There is probably no internet here: pass weights=<path to a local {name} state_dict> "
                f"(e.g. the shared {SHARED_MOBILENET} for mobilenet_v2), or weights=None for random "
                f"weights.") from None
    else:
        net = builder(weights=None)
        _load_state_dict(Path(weights), net, name)
    model = nn.Sequential(Normalize(), net) if normalize else net
    return model.eval()


# --------------------------------------------------------------------------------------
# the model of a run, its identity in cache keys, and forward passes on 8-bit images
# --------------------------------------------------------------------------------------
def weights_arg(cfg) -> str | None:
    if cfg.weights is not None:
        return cfg.weights
    if cfg.model_name != "mobilenet_v2":
        return "DEFAULT"
    from robustlab.paper_b.classifiers import shared_mobilenet_path

    return str(shared_mobilenet_path(cfg.data_dir))


_SHA_CACHE: dict[tuple[str, int, int], str] = {}


def _file_sha256(path: Path) -> str:
    import hashlib

    st = path.stat()
    k = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    if k not in _SHA_CACHE:
        h = hashlib.sha256()
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        _SHA_CACHE[k] = h.hexdigest()[:16]
    return _SHA_CACHE[k]


def model_key(cfg) -> dict[str, Any]:
    """Identity of the model used, for cache keys: its name and its weights — a torchvision enum by
    name, or a weights file by its name and SHA-256 (never its path, so results computed on another
    machine, with the file elsewhere, are found)."""
    w = weights_arg(cfg)
    key: dict[str, Any] = {"model": cfg.model_name, "weights": w}
    if w is not None and Path(w).is_file():
        key["weights"] = Path(w).name
        key["weights_sha256"] = _file_sha256(Path(w))
    return key


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


def load_model(cfg) -> nn.Module:
    """``cfg.model_name`` with its weights on ``cfg.torch_device`` (channels_last, eval mode)."""
    from robustlab.paper_b.classifiers import pretrained

    m = pretrained(cfg.model_name, weights_arg(cfg))
    return m.to(cfg.torch_device, memory_format=torch.channels_last).eval()


def class_names(cfg) -> list[str]:
    """The 1,000 ImageNet class names (wnids.txt beside the data; falls back to the wnids)."""
    from robustlab.data.imagenet import find_imagenet, read_wnids

    _, wn = find_imagenet("sample", cfg.data_dir)
    if wn is None:
        raise DataError("no wnids.txt found beside the ImageNet data: class names unknown")
    return read_wnids(wn)[1]


def to_input(images_uint8: Any, device) -> torch.Tensor:
    """uint8 NHWC → the classifiers' float NCHW [0, 1] input on ``device``, channels_last."""
    return to_unit(images_uint8, device).contiguous(memory_format=torch.channels_last)


def predict(model: nn.Module, images_uint8: Any, batch_size: int = 64, device=None,
            return_conf: bool = False):
    """Top-1 classes (int64 CPU tensor) of uint8 NHWC images; batched, ``torch.inference_mode``."""
    model = resolve_model(model)
    device = device or next(model.parameters()).device
    preds, confs = [], []
    with torch.inference_mode():
        for i in range(0, len(images_uint8), batch_size):
            logits = model(to_input(images_uint8[i:i + batch_size], device))
            if return_conf:
                p = logits.float().softmax(1)
                c, k = p.max(1)
                preds.append(k.cpu()), confs.append(c.cpu())
            else:
                preds.append(logits.argmax(1).cpu())
    pred = torch.cat(preds) if preds else torch.zeros(0, dtype=torch.int64)
    return (pred, torch.cat(confs)) if return_conf else pred


def describe(device) -> str:
    from robustlab.core.device import describe_device

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
        with torch.inference_mode():
            model(x[:2])
            t = time.perf_counter()
            model(x)
    return batch_size / (time.perf_counter() - t)
