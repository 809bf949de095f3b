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
from typing import Any, Optional, Sequence

import numpy as np
import torch
from torch import nn

from .data import uint8_to_pm1
from .corruptions import check_kind, check_sigma, corrupt, gaussian_blur
from .device import resolve_device
from .errors import CheckpointError, ParameterError
from .results import load_result, save_result

__all__ = ["SCHEDULES", "train", "train_many", "evaluate", "evaluate_many", "predict", "predict_many", "lr_factor", "training_config",
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


def _epoch_seed(seed: int, epoch: int, salt: int) -> int:
    return (int(seed) * 1_000_003 + epoch * 7919 + salt) % (2 ** 63 - 1)


def training_config(model: nn.Module, images: np.ndarray, labels: np.ndarray, **hp: Any) -> dict:
    """The configuration a checkpoint must match: hyper-parameters, data and initial-weight fingerprints."""
    return {"what": "robustlab.train checkpoint", "version": 1,
            "model": type(model).__name__, "n_params": sum(p.numel() for p in model.parameters()),
            "data": _fingerprint(images, labels), **hp}


# --------------------------------------------------------------------------------------
# train (one model) and train_many (several σ levels of one architecture at once)
# --------------------------------------------------------------------------------------
def train(model: nn.Module, images_uint8: np.ndarray, labels: np.ndarray, *, kind: str, sigma: float,
          epochs: int, batch_size: int, lr: float, momentum: float = 0.9, weight_decay: float = 5e-4,
          lr_schedule: str = "onecycle", seed: int = 0, device: str | torch.device = "cpu",
          checkpoint: str | Path | None = None, progress: bool = True, augment: bool = False,
          compile: bool = False) -> dict:
    """Train ``model`` in place on ``images_uint8`` (uint8 (N, 32, 32, 3), 0-255) with ``labels``.

    Every batch is normalised to [-1, 1] and corrupted with ``kind`` ("noise" or "blur") at
    ``sigma`` (noise: [-1, 1] units; blur: pixels); σ = 0 trains on clean images. ``lr`` is the
    peak learning rate of ``lr_schedule`` (stepped per batch). ``augment`` adds random
    horizontal flips and a random ±2-pixel translation per batch (not in the paper; off by default).
    The last incomplete batch of an epoch is dropped when the set has more than one batch.
    Optimiser (the paper only says "SGD"): SGD with Nesterov momentum; weight decay on the conv and
    dense weights only (not on BatchNorm parameters or biases).

    Returns the history: per-epoch ``loss`` (mean train cross-entropy), ``train_acc`` (on the
    corrupted training batches), ``lr`` (at the epoch's end), ``epoch_time_s``, ``images_per_s``,
    plus ``resumed_from_epoch`` (0 = fresh start), ``device`` and ``precision``.

    ``compile=True`` wraps the model in :func:`torch.compile` on CUDA (ignored on CPU and where
    ``torch.compile`` is missing; not part of the checkpoint's configuration: it changes rounding only).
    """
    return _fit([model], images_uint8, labels, kind=kind, sigmas=[sigma], epochs=epochs,
                batch_size=batch_size, lr=lr, momentum=momentum, weight_decay=weight_decay,
                lr_schedule=lr_schedule, seed=seed, device=device, checkpoint=checkpoint,
                progress=progress, augment=augment, compile=compile)[0]


def train_many(models: Sequence[nn.Module], images_uint8: np.ndarray, labels: np.ndarray, *, kind: str,
               sigmas: Sequence[float], epochs: int, batch_size: int, lr: float, momentum: float = 0.9,
               weight_decay: float = 5e-4, lr_schedule: str = "onecycle", seed: int = 0,
               device: str | torch.device = "cpu", checkpoint: str | Path | None = None,
               progress: bool = True, augment: bool = False, compile: bool = False) -> list[dict]:
    """Train ``models[i]`` at ``sigmas[i]`` (all of one architecture) at once, in place.

    Same arguments as :func:`train`, with one σ per model. The models share every batch of images
    (same shuffle, same augmentation draws); model i sees it corrupted at its own σ_i — for noise
    ``x + σ_i·z`` with the *same* standard-normal ``z`` that :func:`train` draws for that batch, for
    blur ``blur(x, σ_i)``. They run as one vectorised :class:`~robustlab.stacked.StackedModels`
    (one forward/backward per batch for all M models; the loss is the sum of the per-model losses, so
    each model gets its own gradient). The result equals M separate :func:`train` calls with the same
    arguments up to floating-point rounding (tested in ``tests/test_fastpath.py``); with one model
    this *is* :func:`train` (no vmap; bit-identical). "Rounding" is the vmapped (grouped)
    convolutions' summation order, like a changed thread count; like any such change it can grow
    during training where BatchNorm normalises a nearly constant channel (seen: ~5e-3 absolute
    weight difference after three steps on a synthetic 16×16 blur task), so compare accuracies,
    not bits.

    A checkpoint holds the stacked state of all M models and resumes like :func:`train`'s.
    Returns one history per model (as :func:`train`'s; ``images_per_s`` counts shared-batch images,
    so all M models together process ``M ×`` that many model-images/s; ``stacked`` = M).
    """
    models = list(models)
    sigmas = list(sigmas) if not isinstance(sigmas, (int, float)) else None
    if sigmas is None or len(models) == 0 or len(sigmas) != len(models):
        raise ParameterError(f"sigmas={sigmas!r}: need one σ per model ({len(models)} models; at least one)")
    if any(not isinstance(m, nn.Module) for m in models):
        raise ParameterError("models: every entry must be a torch.nn.Module")
    return _fit(models, images_uint8, labels, kind=kind, sigmas=sigmas, epochs=epochs,
                batch_size=batch_size, lr=lr, momentum=momentum, weight_decay=weight_decay,
                lr_schedule=lr_schedule, seed=seed, device=device, checkpoint=checkpoint,
                progress=progress, augment=augment, compile=compile)


def _fit(models: list[nn.Module], images_uint8: np.ndarray, labels: np.ndarray, *, kind: str,
         sigmas: list[float], epochs: int, batch_size: int, lr: float, momentum: float,
         weight_decay: float, lr_schedule: str, seed: int, device: str | torch.device,
         checkpoint: str | Path | None, progress: bool, augment: bool, compile: bool = False) -> list[dict]:
    """The training loop of :func:`train` (M = 1: the plain model) and :func:`train_many` (M > 1: stacked).

    RNG order per epoch (what makes stacked == separate): ``g_perm`` (CPU) shuffles; per batch, a
    generator seeded like :func:`train`'s ``g_noise`` draws the augmentation (if any) and then, for
    noise with σ > 0, one standard-normal ``z``. A model with σ = 0 (or blur) draws no ``z`` in
    :func:`train`, so its augmentation stream differs once ``augment`` is on: such models get their
    own generator ("group") here, seeded identically.
    """
    kind = check_kind(kind)
    sigmas = [check_sigma(s) for s in sigmas]
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
    M = len(models)
    single = M == 1

    n = len(labels)
    steps_per_epoch = max(1, n // batch_size)
    total = epochs * steps_per_epoch
    common = dict(kind=kind, epochs=epochs, batch_size=batch_size, lr=lr, momentum=momentum,
                  weight_decay=weight_decay, lr_schedule=lr_schedule, seed=seed, augment=bool(augment))
    if single:
        hp = dict(kind=kind, sigma=sigmas[0], **{k: v for k, v in common.items() if k != "kind"},
                  init=_state_fingerprint(models[0]))
    else:
        hp = dict(stacked=M, sigmas=sigmas, **common, init=[_state_fingerprint(m) for m in models])
    config = training_config(models[0], images, labels, **hp)

    for m in models:
        m.to(dev)
    if single:
        net: nn.Module = models[0]
        if cuda:
            net.to(memory_format=torch.channels_last)
        decay, no_decay = [], []
        for name, p in net.named_parameters():
            (no_decay if p.ndim <= 1 else decay).append(p)
        groups = [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    else:
        from .stacked import StackedModels

        try:
            net = StackedModels(models).to(dev)
        except ValueError as e:
            raise ParameterError(f"models: {e}; train_many needs models of one architecture and width") from None
        groups = net.parameter_groups(weight_decay)
    def make_opt() -> tuple[torch.optim.Optimizer, Any]:
        o = torch.optim.SGD(groups, lr=lr, momentum=momentum, nesterov=momentum > 0)
        return o, torch.optim.lr_scheduler.LambdaLR(o, lambda s: lr_factor(lr_schedule, s, total))

    opt, sched = make_opt()
    precision = "bf16 autocast" if cuda else "float32"
    histories: list[dict[str, Any]] = [
        {"loss": [], "train_acc": [], "lr": [], "epoch_time_s": [], "images_per_s": [],
         "resumed_from_epoch": 0, "device": str(dev), "precision": precision} for _ in range(M)]
    if not single:
        for h in histories:
            h["stacked"] = M
    start_epoch = 0

    ckpt = Path(checkpoint) if checkpoint is not None else None
    if ckpt is not None and ckpt.exists():
        init_state = {k: v.clone() for k, v in net.state_dict().items()}
        try:
            state = load_result(ckpt, config, map_location=dev)
            net.load_state_dict(state["model"])
            opt.load_state_dict(state["optimizer"])
            sched.load_state_dict(state["scheduler"])
            torch.set_rng_state(state["rng"]["torch"].cpu())
            if cuda and state["rng"].get("cuda") is not None:
                torch.cuda.set_rng_state(state["rng"]["cuda"].cpu())
            loaded = [state["history"]] if single else list(state["history"])
            if len(loaded) != M:
                raise ValueError(f"{len(loaded)} histories for {M} models")
            start_epoch = int(state["epoch"])
            histories = loaded
            for h in histories:
                h["resumed_from_epoch"] = start_epoch
        except (CheckpointError, KeyError, RuntimeError, ValueError, TypeError) as e:
            warnings.warn(f"Checkpoint {ckpt} is unusable ({e}); training from scratch.", stacklevel=3)
            start_epoch = 0
            net.load_state_dict(init_state)  # undo a partial load
            opt, sched = make_opt()

    def finish() -> list[dict]:
        if not single:
            net.unstack()
        for m in models:
            m.eval()
        return histories

    if start_epoch >= epochs:
        return finish()

    x_all = to_device_images(images, dev)
    y_all = torch.from_numpy(labels).to(dev)
    amp = torch.autocast("cuda", dtype=torch.bfloat16) if cuda else nullcontext()
    loss_fn = nn.CrossEntropyLoss()
    draws_z = [kind == "noise" and s > 0 for s in sigmas]
    # groups of models with one RNG stream each (see the docstring): [(draws_z, [model indices])]
    rng_groups = [(flag, [i for i in range(M) if draws_z[i] == flag]) for flag in (True, False)
                  if any(d == flag for d in draws_z)]
    if not augment and len(rng_groups) > 1:  # without augmentation σ = 0 draws nothing: one stream
        rng_groups = [(True, list(range(M)))]
    sig_t = torch.tensor(sigmas, dtype=torch.float32, device=dev).view(M, 1, 1, 1, 1)

    fwd = net
    if compile and cuda and hasattr(torch, "compile"):  # CUDA only: CPU stays eager and deterministic
        fwd = torch.compile(net)
        precision += " + torch.compile"
        for h in histories:
            h["precision"] = precision

    bar = None
    if progress:
        from .progress import tqdm

        desc = f"train {kind} σ={sigmas[0]:g}" if single else f"train {M} models {kind} σ={','.join(f'{s:g}' for s in sigmas)}"
        bar = tqdm(total=total, initial=start_epoch * steps_per_epoch, leave=False, unit="batch", desc=desc)
    try:
        for epoch in range(start_epoch, epochs):
            net.train()
            t0 = time.perf_counter()
            g_perm = torch.Generator(device="cpu").manual_seed(_epoch_seed(seed, epoch, 1))
            gens = [torch.Generator(device=dev).manual_seed(_epoch_seed(seed, epoch, 2)) for _ in rng_groups]
            perm = torch.randperm(n, generator=g_perm).to(dev)
            if n > batch_size:
                perm = perm[: steps_per_epoch * batch_size]
            loss_sum = torch.zeros(M, device=dev)
            correct = torch.zeros(M, device=dev, dtype=torch.long)
            seen = 0
            for b in range(steps_per_epoch):
                idx = perm[b * batch_size:(b + 1) * batch_size]
                x = uint8_to_pm1(x_all[idx])
                y = y_all[idx]
                if single:
                    if augment:
                        x = _augment(x, gens[0])
                    x = corrupt(x, kind, sigmas[0], generator=gens[0])
                    if cuda:
                        x = x.contiguous(memory_format=torch.channels_last)
                else:
                    x = _corrupt_many(x, kind, sigmas, sig_t, rng_groups, gens, augment)
                with amp:
                    out = fwd(x)
                    if single:
                        loss = loss_fn(out.float(), y)
                        per_model = loss.detach().view(1)
                    else:  # sum of the per-model mean losses: each model gets its own gradient
                        losses = nn.functional.cross_entropy(
                            out.float().reshape(M * len(y), -1), y.repeat(M), reduction="none").view(M, -1).mean(1)
                        loss = losses.sum()
                        per_model = losses.detach()
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
                loss_sum += per_model * len(y)
                correct += (out.detach().argmax(-1) == y).view(M, -1).sum(1)
                seen += len(y)
                if bar is not None:
                    bar.update(1)
            dt = time.perf_counter() - t0
            lr_now = float(sched.get_last_lr()[0])
            ls, cs = loss_sum.tolist(), correct.tolist()
            for i, h in enumerate(histories):
                h["loss"].append(ls[i] / seen)
                h["train_acc"].append(cs[i] / seen)
                h["lr"].append(lr_now)
                h["epoch_time_s"].append(dt)
                h["images_per_s"].append(seen / dt if dt > 0 else float("nan"))
            if bar is not None:
                bar.set_postfix(epoch=epoch + 1, loss=f"{min(ls) / seen:.3f}")
            if ckpt is not None:
                save_result(ckpt, {"model": net.state_dict(), "optimizer": opt.state_dict(),
                                   "scheduler": sched.state_dict(), "epoch": epoch + 1,
                                   "rng": {"torch": torch.get_rng_state(),
                                           "cuda": torch.cuda.get_rng_state() if cuda else None,
                                           "perm": g_perm.get_state(),
                                           "noise": gens[0].get_state().cpu()},
                                   "history": histories[0] if single else histories}, config)
    finally:
        if bar is not None:
            bar.close()
    return finish()


def _corrupt_many(x: torch.Tensor, kind: str, sigmas: list[float], sig_t: torch.Tensor,
                  rng_groups: list[tuple[bool, list[int]]], gens: list[torch.Generator],
                  augment: bool) -> torch.Tensor:
    """One shared clean batch ``x`` (B, C, H, W) → (M, B, C, H, W), model i's copy corrupted at σ_i,
    with exactly the draws :func:`train` makes for each model (see :func:`_fit`)."""
    M = len(sigmas)
    parts: list[Optional[torch.Tensor]] = [None] * M
    for (flag, members), g in zip(rng_groups, gens):
        xg = _augment(x, g) if augment else x
        if kind == "noise":
            if any(sigmas[i] > 0 for i in members):  # the z that gaussian_noise draws in train()
                z = torch.randn(xg.shape, generator=g, device=xg.device, dtype=torch.float32)
                xs = xg.float()[None] + sig_t[members] * z[None]
                for k, i in enumerate(members):
                    parts[i] = xg if sigmas[i] == 0 else xs[k]
            else:
                for i in members:
                    parts[i] = xg
        else:
            for i in members:
                parts[i] = gaussian_blur(xg, sigmas[i])
    return torch.stack(parts)  # type: ignore[arg-type]


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
            x = uint8_to_pm1(to_device_images(images[i:i + batch_size], torch.device("cpu")))
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


@torch.no_grad()
def predict_many(models: Sequence[nn.Module], images_uint8: np.ndarray, *, kind: str = "noise",
                 sigmas: Sequence[float] = (0.0,), seed: int = 0, device: str | torch.device = "cpu",
                 batch_size: int = 500, stacked: bool = False) -> np.ndarray:
    """Predicted labels of every model on ``images_uint8`` corrupted at every σ of ``sigmas``.

    Returns int64 ``(len(sigmas), len(models), N)``. Entry ``[j, i]`` equals
    ``predict(models[i], images, kind=kind, sigma=sigmas[j], seed=seed, batch_size=batch_size)``:
    the corrupted batch for each (batch, σ) is generated once, with the same seeded CPU noise, and
    every model runs on it. ``stacked=False`` runs the models one after another on that batch
    (bit-identical to :func:`predict`); ``stacked=True`` runs them as one
    :class:`~robustlab.stacked.StackedModels` (same structure required; logits equal up to
    float rounding, so an argmax can flip only on a near-tie).
    """
    kind = check_kind(kind)
    sigmas = [check_sigma(s, "sigmas") for s in sigmas]
    batch_size = _check_int("batch_size", batch_size, 1)
    models = list(models)
    if not models or not sigmas:
        raise ParameterError(f"predict_many: need at least one model and one σ (got {len(models)} models, "
                             f"sigmas={sigmas!r})")
    images = np.asarray(images_uint8)
    if images.dtype != np.uint8 or images.ndim != 4:
        raise ParameterError(f"images: got dtype {images.dtype} shape {images.shape}; expected uint8 (N, H, W, 3)")
    dev = resolve_device(device)
    cuda = dev.type == "cuda"
    was = [m.training for m in models]
    for m in models:
        m.eval().to(dev)
    net = None
    if stacked and len(models) > 1:
        from .stacked import StackedModels

        net = StackedModels(models).to(dev).eval()
    amp = torch.autocast("cuda", dtype=torch.bfloat16) if cuda else nullcontext()
    out: list[torch.Tensor] = []  # per batch: (S, M, B)
    try:
        for b, i in enumerate(range(0, len(images), batch_size)):
            x = uint8_to_pm1(to_device_images(images[i:i + batch_size], torch.device("cpu")))
            per_sigma = []
            for s in sigmas:
                g = torch.Generator().manual_seed(_epoch_seed(seed, b, 3))
                xc = corrupt(x, kind, s, generator=g).to(dev)
                if cuda and net is None:
                    xc = xc.contiguous(memory_format=torch.channels_last)
                with amp:
                    if net is not None:
                        p = net(xc, shared=True).argmax(-1)
                    else:
                        p = torch.stack([m(xc).argmax(1) for m in models])
                per_sigma.append(p.cpu())
            out.append(torch.stack(per_sigma))
    finally:
        for m, w in zip(models, was):
            m.train(w)
    if not out:
        return np.zeros((len(sigmas), len(models), 0), dtype=np.int64)
    return torch.cat(out, dim=2).numpy()


def evaluate_many(models: Sequence[nn.Module], images_uint8: np.ndarray, labels: np.ndarray, *, kind: str,
                  sigmas: Sequence[float], seed: int = 0, device: str | torch.device = "cpu",
                  batch_size: int = 500, stacked: bool = False) -> np.ndarray:
    """Accuracies (fractions in [0, 1]), shape ``(len(sigmas), len(models))``: entry ``[j, i]`` is
    ``evaluate(models[i], …, sigma=sigmas[j])`` (see :func:`predict_many`)."""
    images, labels = _check_data(images_uint8, labels)
    pred = predict_many(models, images, kind=kind, sigmas=sigmas, seed=seed, device=device,
                        batch_size=batch_size, stacked=stacked)
    return (pred == labels[None, None, :]).mean(axis=2)
