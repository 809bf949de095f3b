"""Training and evaluation of paper A's CIFAR-10 nets on corrupted images.

* :func:`train` — SGD + categorical cross-entropy; every training batch is corrupted on the fly
  (Gaussian noise or blur at the model's σ, fresh seeded noise per batch). Data stay on the device
  as 8-bit images (``uint8``, NCHW) and are normalised to [-1, 1], shuffled and corrupted there
  (airbench style). On ``cuda``: bf16 autocast and channels_last; on CPU: float32, deterministic
  for the same seed and thread count.
* A checkpoint (model, optimizer, scheduler, RNG states, history) is written atomically with its
  training configuration and a checksum (:func:`robustlab.results.save_result`) at the end of every
  epoch. Re-running with the same checkpoint path resumes after the last finished epoch and ends
  with bit-identical weights on CPU. A damaged checkpoint or one of another configuration is
  reported (a warning naming the path) and training starts from scratch.
* :func:`evaluate` — accuracy on images corrupted with seeded noise that is identical for every
  model (generated on the CPU, so also identical across devices).

Randomness: the shuffle and the noise of epoch ``e`` come from generators seeded with
``(seed, e)``, so resuming at an epoch boundary reproduces exactly what an uninterrupted run does.
"""
from __future__ import annotations

import hashlib
import math
import time
import warnings
from contextlib import nullcontext
from pathlib import Path
from typing import Any, Optional

import numpy as np
import torch
from torch import nn

from .corruptions import check_kind, check_sigma, corrupt
from .device import resolve_device
from .errors import CheckpointError, ParameterError
from .results import load_result, save_result

__all__ = ["SCHEDULES", "train", "evaluate", "predict", "lr_factor", "training_config",
           "to_device_images"]

SCHEDULES = ("onecycle", "cosine", "step", "constant")


# --------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------
def lr_factor(schedule: str, step: int, total: int) -> float:
    """Multiplier of the peak learning rate at optimisation ``step`` of ``total``.

    onecycle: linear 0.1 → 1 over the first 20 % of steps, then linear → 0;
    cosine: half cosine 1 → 0; step: ×0.1 at 50 % and again at 75 %; constant: 1.
    """
    t = step / max(1, total)
    if schedule == "onecycle":
        return 0.1 + 0.9 * t / 0.2 if t < 0.2 else max(0.0, (1 - t) / 0.8)
    if schedule == "cosine":
        return 0.5 * (1 + math.cos(math.pi * min(t, 1.0)))
    if schedule == "step":
        return 1.0 if t < 0.5 else (0.1 if t < 0.75 else 0.01)
    if schedule == "constant":
        return 1.0
    raise ParameterError(f"lr_schedule={schedule!r} is unknown; choose one of {list(SCHEDULES)}")


def _check_int(name: str, v: Any, lo: int) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < lo:
        raise ParameterError(f"{name}={v!r} must be an integer >= {lo}")
    return int(v)


def _check_float(name: str, v: Any, lo: float, hi: float = math.inf, lo_open: bool = False) -> float:
    try:
        f = float(v)
    except (TypeError, ValueError):
        raise ParameterError(f"{name}={v!r} must be a number") from None
    if not math.isfinite(f) or f < lo or f > hi or (lo_open and f == lo):
        raise ParameterError(f"{name}={v!r} must be a finite number in "
                             f"{'(' if lo_open else '['}{lo}, {hi}{']' if hi < math.inf else ')'}")
    return f


def _check_data(images: Any, labels: Any) -> tuple[np.ndarray, np.ndarray]:
    images = np.asarray(images)
    labels = np.asarray(labels)
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[-1] != 3:
        raise ParameterError(f"images: got dtype {images.dtype} shape {images.shape}; "
                             "expected uint8 (N, H, W, 3) with values 0-255")
    if labels.shape != (images.shape[0],):
        raise ParameterError(f"labels: shape {labels.shape} does not match {images.shape[0]} images")
    if len(labels) == 0:
        raise ParameterError("images: the training/test set is empty")
    return images, labels.astype(np.int64)


def _fingerprint(*arrays: np.ndarray) -> str:
    h = hashlib.sha256()
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(str((a.dtype, a.shape)).encode())
        h.update(memoryview(a).cast("B"))
    return h.hexdigest()[:16]


def _state_fingerprint(model: nn.Module) -> str:
    h = hashlib.sha256()
    for k, v in model.state_dict().items():
        h.update(k.encode())
        h.update(v.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def to_device_images(images_uint8: np.ndarray, device: torch.device) -> torch.Tensor:
    """uint8 NHWC numpy → uint8 NCHW tensor on ``device`` (kept 8-bit: 4× less memory)."""
    return torch.from_numpy(np.ascontiguousarray(images_uint8)).to(device).permute(0, 3, 1, 2).contiguous()


def _normalise(x_u8: torch.Tensor) -> torch.Tensor:
    """uint8 0-255 → float32 on [-1, 1] (x / 127.5 - 1, as :func:`robustlab.data.to_tensor_pm1`)."""
    return x_u8.float().div_(127.5).sub_(1.0)


def _epoch_seed(seed: int, epoch: int, salt: int) -> int:
    return (int(seed) * 1_000_003 + epoch * 7919 + salt) % (2 ** 63 - 1)


def training_config(model: nn.Module, images: np.ndarray, labels: np.ndarray, **hp: Any) -> dict:
    """The configuration a checkpoint must match: hyper-parameters, data and initial-weight fingerprints."""
    return {"what": "robustlab.train checkpoint", "version": 1,
            "model": type(model).__name__, "n_params": sum(p.numel() for p in model.parameters()),
            "data": _fingerprint(images, labels), **hp}


# --------------------------------------------------------------------------------------
# train
# --------------------------------------------------------------------------------------
def train(model: nn.Module, images_uint8: np.ndarray, labels: np.ndarray, *, kind: str, sigma: float,
          epochs: int, batch_size: int, lr: float, momentum: float = 0.9, weight_decay: float = 5e-4,
          lr_schedule: str = "onecycle", seed: int = 0, device: str | torch.device = "cpu",
          checkpoint: str | Path | None = None, progress: bool = True, augment: bool = False) -> dict:
    """Train ``model`` in place on ``images_uint8`` (uint8 (N, 32, 32, 3), 0-255) with ``labels``.

    Every batch is normalised to [-1, 1] and corrupted with ``kind`` ("noise" or "blur") at
    ``sigma`` (noise: [-1, 1] units; blur: pixels); σ = 0 trains on clean images. ``lr`` is the
    peak learning rate of ``lr_schedule`` (stepped per batch). ``augment`` adds random
    horizontal flips and a random ±2-pixel translation per batch (not in the paper; off by default).
    The last incomplete batch of an epoch is dropped when the set has more than one batch.

    Returns the history: per-epoch ``loss`` (mean train cross-entropy), ``train_acc`` (on the
    corrupted training batches), ``lr`` (at the epoch's end), ``epoch_time_s``, ``images_per_s``,
    plus ``resumed_from_epoch`` (0 = fresh start), ``device`` and ``precision``.
    """
    kind = check_kind(kind)
    sigma = check_sigma(sigma)
    epochs = _check_int("epochs", epochs, 1)
    batch_size = _check_int("batch_size", batch_size, 1)
    seed = _check_int("seed", seed, 0)
    lr = _check_float("lr", lr, 0.0, lo_open=True)
    momentum = _check_float("momentum", momentum, 0.0, 1.0)
    weight_decay = _check_float("weight_decay", weight_decay, 0.0)
    lr_factor(lr_schedule, 0, 1)  # validates the name
    images, labels = _check_data(images_uint8, labels)
    dev = resolve_device(device)
    cuda = dev.type == "cuda"

    n = len(labels)
    steps_per_epoch = max(1, n // batch_size)
    total = epochs * steps_per_epoch
    hp = dict(kind=kind, sigma=sigma, epochs=epochs, batch_size=batch_size, lr=lr, momentum=momentum,
              weight_decay=weight_decay, lr_schedule=lr_schedule, seed=seed, augment=bool(augment),
              init=_state_fingerprint(model))
    config = training_config(model, images, labels, **hp)

    model.to(dev)
    if cuda:
        model.to(memory_format=torch.channels_last)
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        (no_decay if p.ndim <= 1 else decay).append(p)
    opt = torch.optim.SGD([{"params": decay, "weight_decay": weight_decay},
                           {"params": no_decay, "weight_decay": 0.0}],
                          lr=lr, momentum=momentum, nesterov=momentum > 0)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: lr_factor(lr_schedule, s, total))
    history: dict[str, Any] = {"loss": [], "train_acc": [], "lr": [], "epoch_time_s": [], "images_per_s": [],
                               "resumed_from_epoch": 0, "device": str(dev),
                               "precision": "bf16 autocast" if cuda else "float32"}
    start_epoch = 0

    ckpt = Path(checkpoint) if checkpoint is not None else None
    if ckpt is not None and ckpt.exists():
        try:
            state = load_result(ckpt, config, map_location=dev)
            model.load_state_dict(state["model"])
            opt.load_state_dict(state["optimizer"])
            sched.load_state_dict(state["scheduler"])
            torch.set_rng_state(state["rng"]["torch"].cpu())
            if cuda and state["rng"].get("cuda") is not None:
                torch.cuda.set_rng_state(state["rng"]["cuda"].cpu())
            history = state["history"]
            start_epoch = int(state["epoch"])
            history["resumed_from_epoch"] = start_epoch
        except (CheckpointError, KeyError, RuntimeError, ValueError) as e:
            warnings.warn(f"Checkpoint {ckpt} is unusable ({e}); training from scratch.", stacklevel=2)
            start_epoch = 0

    if start_epoch >= epochs:
        model.eval()
        return history

    x_all = to_device_images(images, dev)
    y_all = torch.from_numpy(labels).to(dev)
    amp = torch.autocast("cuda", dtype=torch.bfloat16) if cuda else nullcontext()
    loss_fn = nn.CrossEntropyLoss()

    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=total, initial=start_epoch * steps_per_epoch, leave=False, unit="batch",
                   desc=f"train {kind} σ={sigma:g}")
    try:
        for epoch in range(start_epoch, epochs):
            model.train()
            t0 = time.perf_counter()
            g_perm = torch.Generator(device="cpu").manual_seed(_epoch_seed(seed, epoch, 1))
            g_noise = torch.Generator(device=dev).manual_seed(_epoch_seed(seed, epoch, 2))
            perm = torch.randperm(n, generator=g_perm).to(dev)
            if n > batch_size:
                perm = perm[: steps_per_epoch * batch_size]
            loss_sum = torch.zeros((), device=dev)
            correct = torch.zeros((), device=dev, dtype=torch.long)
            seen = 0
            for b in range(steps_per_epoch):
                idx = perm[b * batch_size:(b + 1) * batch_size]
                x = _normalise(x_all[idx])
                if augment:
                    x = _augment(x, g_noise)
                x = corrupt(x, kind, sigma, generator=g_noise)
                y = y_all[idx]
                if cuda:
                    x = x.contiguous(memory_format=torch.channels_last)
                with amp:
                    out = model(x)
                    loss = loss_fn(out.float(), y)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
                loss_sum += loss.detach() * len(y)
                correct += (out.detach().argmax(1) == y).sum()
                seen += len(y)
                if bar is not None:
                    bar.update(1)
            dt = time.perf_counter() - t0
            history["loss"].append(float(loss_sum) / seen)
            history["train_acc"].append(float(correct) / seen)
            history["lr"].append(float(sched.get_last_lr()[0]))
            history["epoch_time_s"].append(dt)
            history["images_per_s"].append(seen / dt if dt > 0 else float("nan"))
            if bar is not None:
                bar.set_postfix(epoch=epoch + 1, loss=f"{history['loss'][-1]:.3f}")
            if ckpt is not None:
                save_result(ckpt, {"model": model.state_dict(), "optimizer": opt.state_dict(),
                                   "scheduler": sched.state_dict(), "epoch": epoch + 1,
                                   "rng": {"torch": torch.get_rng_state(),
                                           "cuda": torch.cuda.get_rng_state() if cuda else None,
                                           "perm": g_perm.get_state(), "noise": g_noise.get_state().cpu()},
                                   "history": history}, config)
    finally:
        if bar is not None:
            bar.close()
    model.eval()
    return history


def _augment(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """Random horizontal flip per image and one random ±2-pixel translation per batch (reflect)."""
    flip = torch.rand(x.shape[0], generator=g, device=x.device) < 0.5
    x = torch.where(flip[:, None, None, None], x.flip(3), x)
    dx, dy = (torch.randint(-2, 3, (2,), generator=g, device=x.device)).tolist()
    if dx or dy:
        p = nn.functional.pad(x, (2, 2, 2, 2), mode="reflect")
        h, w = x.shape[-2:]
        x = p[..., 2 + dy:2 + dy + h, 2 + dx:2 + dx + w]
    return x


# --------------------------------------------------------------------------------------
# evaluate
# --------------------------------------------------------------------------------------
@torch.no_grad()
def predict(model: nn.Module, images_uint8: np.ndarray, *, kind: str = "noise", sigma: float = 0.0,
            seed: int = 0, device: str | torch.device = "cpu", batch_size: int = 500) -> np.ndarray:
    """Predicted labels for ``images_uint8`` (uint8 (N, 32, 32, 3)) corrupted at (kind, σ).

    The noise of batch ``b`` is drawn on the CPU from a generator seeded with ``(seed, b)``, so
    it is the same for every model, every device and every call with the same ``batch_size``.
    """
    kind = check_kind(kind)
    sigma = check_sigma(sigma)
    batch_size = _check_int("batch_size", batch_size, 1)
    images = np.asarray(images_uint8)
    if images.dtype != np.uint8 or images.ndim != 4:
        raise ParameterError(f"images: got dtype {images.dtype} shape {images.shape}; expected uint8 (N, H, W, 3)")
    dev = resolve_device(device)
    cuda = dev.type == "cuda"
    was_training = model.training
    model.eval().to(dev)
    amp = torch.autocast("cuda", dtype=torch.bfloat16) if cuda else nullcontext()
    out = []
    try:
        for b, i in enumerate(range(0, len(images), batch_size)):
            x = _normalise(to_device_images(images[i:i + batch_size], torch.device("cpu")))
            g = torch.Generator().manual_seed(_epoch_seed(seed, b, 3))
            x = corrupt(x, kind, sigma, generator=g).to(dev)
            if cuda:
                x = x.contiguous(memory_format=torch.channels_last)
            with amp:
                out.append(model(x).argmax(1).cpu())
    finally:
        model.train(was_training)
    return torch.cat(out).numpy() if out else np.zeros(0, dtype=np.int64)


def evaluate(model: nn.Module, images_uint8: np.ndarray, labels: np.ndarray, *, kind: str, sigma: float,
             seed: int = 0, device: str | torch.device = "cpu", batch_size: int = 500) -> float:
    """Accuracy (fraction in [0, 1]) of ``model`` on ``images_uint8`` corrupted at (kind, σ).

    The corruption is seeded (see :func:`predict`) and identical for every model.
    """
    images, labels = _check_data(images_uint8, labels)
    pred = predict(model, images, kind=kind, sigma=sigma, seed=seed, device=device, batch_size=batch_size)
    return float((pred == labels).mean())
