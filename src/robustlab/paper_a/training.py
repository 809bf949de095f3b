"""Training and evaluation of paper A's CIFAR-10 nets on corrupted images.

* :func:`train` — SGD + categorical cross-entropy, with every hyper-parameter in one frozen
  :class:`TrainConfig` (also the model's cache key); every training batch is corrupted on the fly
  (Gaussian noise or blur at the model's σ, fresh seeded noise per batch). Data stay on the device
  as 8-bit images (``uint8``, NCHW) and are normalised to [-1, 1], shuffled and corrupted there
  (airbench style). **One path on every device**: channels_last, ``torch.autocast(device_type=…,
  dtype=bfloat16, enabled=precision == "bf16")`` (the first convolution in float32), optional
  :func:`torch.compile` where it measured faster (:data:`COMPILE_PAYS`), and no host–device
  synchronisation inside the batch loop (losses and accuracies are accumulated on the device and read
  once per epoch; every random draw but the noise is made on the CPU once per epoch). What differs by
  device is only what must: fused SGD and cuDNN autotuning on CUDA. On the CPU a run is deterministic
  for the same seed, precision and thread count (a float64 net stays float64: exactness tests).
* :func:`train_many` — M models of one architecture (one per σ) trained at once as *one wide
  network* (:func:`robustlab.paper_a.nets.build` with ``stack=M``: grouped convolutions, one group
  set per model), on shared image batches each corrupted at its model's σ.
* Checkpoints (model, optimizer, scheduler, the position inside the epoch, the noise generator's
  state, the device accumulators, histories) are written atomically with the training
  configuration and a checksum (:func:`robustlab.core.results.save_result`) every
  ``checkpoint_every_s`` seconds (checked after every batch), at the end of training, and when the
  process-wide deadline (:mod:`robustlab.core.budget`) has passed — then :class:`DeadlineReached` is
  raised (after at least one batch, so repeated calls always progress). Re-running the same call
  with the same checkpoint path resumes at that batch and ends with bit-identical weights and
  histories on CPU (same thread count). A damaged checkpoint or one of another configuration is
  reported (a warning naming the path) and training starts from scratch.
* :func:`evaluate` — accuracy on images corrupted with seeded noise that is identical for every
  model (generated on the CPU, so also identical across devices).

Randomness: epoch ``e``'s shuffle, flips and translations come from one CPU generator seeded with
``(seed, e)`` (drawn at the start of the epoch), its noise from a device generator seeded with
``(seed, e)`` that draws one standard-normal ``z`` per batch (only when σ > 0). Augmentation and
noise thus never share a stream: a σ = 0 or blur model sees the same flips and translations as a
noise model, which is what makes ``train_many`` equal to separate ``train`` calls.

Why a wide network (and not ``torch.func.vmap`` over stacked parameters, the previous
implementation, now removed): measured on the 2-core CPU box (shared, load ≈ 1), torch 2.14,
width 1/16, batch 64, 7 models of one architecture, one SGD step (forward + backward + update) on
the same inputs, the variants interleaved in one process, median of 6 rounds, model-images/s —
1 thread: vmapped / wide NCHW / wide channels_last / 7 separate NCHW / 7 separate channels_last:
resnet 666 / 1028 / 1763 / 1321 / 1522, inception 362 / 456 / 788 / 521 / 753,
resnext 518 / 779 / 1361 / 823 / 1492; 2 threads: resnet 1056 / 1756 / 2549 / 2060 / 1620,
inception 612 / 817 / 1364 / 903 / 810, resnext 930 / 1411 / 2375 / 1509 / 1773.
Whole ``train_many`` epochs (640 images, second epoch, 1 thread; noisy on the shared box):
vmapped 705-1525 / 406-410 / 546-710 (resnet / inception / resnext), wide (channels_last)
1394-1433 / 675-780 / 1019-1108, 7 separate ``train`` calls 1335-1376 / 660-741 / 1241-1386.
Per step the wide net is 1.5-2.6× faster than the vmapped one; whole epochs are about as fast as separate training on
this CPU; it is built for the GPU (grouped convolutions, channels_last, compile), where one small
net cannot fill the device. channels_last is used on the CPU too (1.2-1.7× there).
"""
from __future__ import annotations

import hashlib
import math
import time
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from robustlab.core import budget
from robustlab.core.checks import check_choice, check_float, check_int
from robustlab.core.device import autocast, describe_precision, resolve_device, resolve_precision
from robustlab.core.errors import CheckpointError, ComputeRefused, DeadlineReached, ParameterError
from robustlab.core.progress import tqdm
from robustlab.core.results import load_result, save_result
from robustlab.core.seeds import torch_generator
from robustlab.data.scale import uint8_to_pm1
from robustlab.paper_a.augmentations import apply as apply_augmentation
from robustlab.paper_a.augmentations import check_augmentation
from robustlab.paper_a.corruptions import GaussianBlur, check_kind, check_sigma, corrupt, level
from robustlab.paper_a.nets import ARCHS, build, stack_models, unstack_into

__all__ = ["SCHEDULES", "CHECKPOINT_EVERY_S", "TrainConfig", "MODEL_KEY_VERSION", "COMPILE_PAYS", "train",
           "train_many", "evaluate", "evaluate_many", "predict", "predict_many", "lr_factor", "training_config",
           "to_device_images"]

SCHEDULES = ("onecycle", "cosine", "step", "constant")

#: Default seconds between two training checkpoints (plus one at the end and one at the deadline).
CHECKPOINT_EVERY_S = 600.0
#: Version of a trained model's cache key (:meth:`TrainConfig.key`).
MODEL_KEY_VERSION = 1
#: Training kinds: paper A's corruptions, and "clean" (σ = 0, or a blur whose kernel is the identity).
TRAIN_KINDS = ("noise", "blur", "clean")


@dataclass(frozen=True)
class TrainConfig:
    """Every hyper-parameter of one paper-A training, in one frozen place (airbench's ``hyp``): the
    argument of :func:`train` / :func:`train_many` and, through :meth:`key`, the cache key of the model.
    Built once from a run's config by :meth:`from_cfg`; every field is checked here, once (σ included).

    * ``arch``, ``width``: the net (:func:`robustlab.paper_a.nets.build`); None = "the model passed in"
      (low-level calls that bring their own net, e.g. the float64 exactness tests).
    * ``kind``, ``sigma``: the training corruption — "noise" (σ on the [-1, 1] scale), "blur" (σ in
      pixels) or "clean" (σ = 0); :meth:`from_cfg` maps σ = 0 and identity blurs to "clean".
    * ``seed``: initial weights (:meth:`build_model`), shuffle, augmentation, training noise;
      ``data_seed``: the seed that drew the training subset (None = ``seed``; replicate r trains with
      ``seed + r`` on the data of ``seed``).
    * ``epochs``, ``batch_size``, ``lr`` (peak) and ``lr_schedule`` (:data:`SCHEDULES`, stepped per
      batch), ``momentum`` (Nesterov), ``weight_decay`` (conv and dense weights only).
    * ``train_subset``: class-balanced training images (None = all 50,000); only part of the key here
      (the caller draws the subset). ``augment``: flips and ±2-pixel translations (not in the paper).
    * ``precision``: "fp32" or "bf16" (autocast; resolved from the parameter ``precision`` for the
      device by :meth:`from_cfg`); evaluation of the model runs at the same precision.
    * ``augmentation``: the name of a registered training augmentation
      (:data:`robustlab.paper_a.augmentations.AUGMENTATIONS`, chapter 12) applied to every clean batch
      before the corruption, drawn from a CPU generator seeded per (seed, epoch, batch); None = none.
    """

    arch: str | None = None
    width: float | None = None
    kind: str = "noise"
    sigma: float = 0.0
    seed: int = 0
    data_seed: int | None = None
    epochs: int = 1
    batch_size: int = 64
    lr: float = 0.1
    lr_schedule: str = "onecycle"
    momentum: float = 0.9
    weight_decay: float = 5e-4
    train_subset: int | None = None
    augment: bool = False
    precision: str = "fp32"
    augmentation: str | None = None

    def __post_init__(self) -> None:
        def put(name, value):
            object.__setattr__(self, name, value)

        if self.arch is not None:
            put("arch", check_choice("arch", self.arch, ARCHS))
        if self.width is not None:
            put("width", check_float("width", self.width, 0.0, lo_open=True))
        put("kind", check_choice("kind", self.kind, TRAIN_KINDS))
        put("sigma", check_sigma(self.sigma))
        if self.kind == "clean" and self.sigma != 0:
            raise ParameterError(f"kind='clean' trains on clean images: sigma must be 0, got {self.sigma!r}")
        put("seed", check_int("seed", self.seed, 0))
        put("data_seed", self.seed if self.data_seed is None else check_int("data_seed", self.data_seed, 0))
        put("epochs", check_int("epochs", self.epochs, 1))
        put("batch_size", check_int("batch_size", self.batch_size, 1))
        put("lr", check_float("lr", self.lr, 0.0, lo_open=True))
        lr_factor(self.lr_schedule, 0, 1)  # validates the name
        put("momentum", check_float("momentum", self.momentum, 0.0, 1.0))
        put("weight_decay", check_float("weight_decay", self.weight_decay, 0.0))
        if self.train_subset is not None:
            put("train_subset", check_int("train_subset", self.train_subset, 1))
        put("augment", bool(self.augment))
        put("precision", check_choice("precision", self.precision, ("fp32", "bf16")))
        put("augmentation", check_augmentation(self.augmentation))

    @classmethod
    def from_cfg(cls, cfg, arch: str, kind: str, sigma: float, replicate: int = 0) -> TrainConfig:
        """The training of ``arch`` on (``kind``, σ) for replicate r (training seed ``cfg.seed + r``, data
        of ``cfg.seed``) under a run's config: its hyper-parameters, and its ``precision`` resolved for
        ``cfg.torch_device``. σ = 0 and identity blurs become "clean" (one model)."""
        r = check_int("replicate", replicate, 0)
        k, s = level(kind, check_sigma(sigma, "sigma_train"))
        return cls(arch=arch, width=float(cfg.width), kind=k, sigma=s, seed=int(cfg.seed) + r,
                   data_seed=int(cfg.seed), epochs=cfg.epochs, batch_size=cfg.batch_size, lr=cfg.lr,
                   lr_schedule=cfg.lr_schedule, momentum=cfg.momentum, weight_decay=cfg.weight_decay,
                   train_subset=cfg.train_subset, augment=bool(cfg.get("augment", False)),
                   precision=resolve_precision(cfg.get("precision"), cfg.torch_device))

    @property
    def corruption(self) -> str:
        """The corruption applied while training: "noise" or "blur" ("clean" trains as noise at σ = 0)."""
        return "noise" if self.kind == "clean" else self.kind

    @property
    def replicate(self) -> int:
        return self.seed - self.data_seed

    def key(self) -> dict:
        """The model's cache key. Replicate 0 in fp32 gives exactly the key models had before replicates
        and precisions existed (so their stored results stay valid); a replicate r > 0 adds
        ``data_seed``, bf16 adds ``precision`` (fp32 and bf16 results are never mixed)."""
        k, s = level(self.corruption, self.sigma)
        conf = {"what": "paper A CIFAR-10 model", "version": MODEL_KEY_VERSION, "data": "cifar10",
                "arch": self.arch, "width": self.width, "kind": k, "sigma": s, "epochs": self.epochs,
                "batch_size": self.batch_size, "lr": self.lr, "momentum": self.momentum,
                "weight_decay": self.weight_decay, "lr_schedule": self.lr_schedule,
                "train_subset": self.train_subset, "seed": self.seed, "augment": self.augment}
        if self.data_seed != self.seed:
            conf["data_seed"] = self.data_seed
        if self.precision != "fp32":
            conf["precision"] = self.precision
        if self.augmentation is not None:
            conf["augmentation"] = self.augmentation
        return conf

    def build_model(self) -> nn.Module:
        """The untrained net: ``build(arch, width)`` after ``torch.manual_seed(seed)``."""
        if self.arch is None or self.width is None:
            raise ParameterError("TrainConfig.build_model needs arch and width")
        torch.manual_seed(self.seed)
        return build(self.arch, width=self.width)


def _hp(hp: TrainConfig | None, overrides: dict) -> TrainConfig:
    """``hp`` with ``overrides`` (field names of :class:`TrainConfig`) applied; a fresh one when None."""
    names = {f.name for f in fields(TrainConfig)}
    bad = sorted(set(overrides) - names)
    if bad:
        raise ParameterError(f"unknown training setting(s) {bad}; TrainConfig has {sorted(names)}")
    if hp is None:
        return TrainConfig(**overrides)
    if not isinstance(hp, TrainConfig):
        raise ParameterError(f"hp must be a TrainConfig, got {type(hp).__name__}")
    return replace(hp, **overrides) if overrides else hp


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
    return {"what": "robustlab.paper_a.training checkpoint", "version": 3,
            "model": type(model).__name__, "n_params": sum(p.numel() for p in model.parameters()),
            "data": _fingerprint(images, labels), **hp}


def _cpu(obj: Any) -> Any:
    """A copy of a (nested) payload with every tensor on the CPU (checkpoints hold plain data)."""
    if isinstance(obj, torch.Tensor):
        return obj.detach().cpu()
    if isinstance(obj, dict):
        out = type(obj)((k, _cpu(v)) for k, v in obj.items())
        if hasattr(obj, "_metadata"):
            out._metadata = obj._metadata  # type: ignore[attr-defined]
        return out
    if isinstance(obj, (list, tuple)):
        return type(obj)(_cpu(v) for v in obj)
    return obj


# --------------------------------------------------------------------------------------
# train (one model) and train_many (several σ levels of one architecture at once)
# --------------------------------------------------------------------------------------
def train(model: nn.Module, images_uint8: np.ndarray, labels: np.ndarray, hp: TrainConfig | None = None, *,
          device: str | torch.device = "cpu", checkpoint: str | Path | None = None, progress: bool = True,
          compile: bool = False, checkpoint_every_s: float | None = CHECKPOINT_EVERY_S, **settings: Any) -> dict:
    """Train ``model`` in place on ``images_uint8`` (uint8 (N, 32, 32, 3), 0-255) with ``labels``, as
    ``hp`` (a :class:`TrainConfig`) says; keyword ``settings`` are :class:`TrainConfig` fields that
    replace ``hp``'s (or build one: ``train(m, x, y, kind="noise", sigma=0.1, epochs=2)``).

    Every batch is normalised to [-1, 1] and corrupted with ``hp.kind`` at ``hp.sigma`` (noise: [-1, 1]
    units; blur: pixels); σ = 0 or "clean" trains on clean images. ``hp.lr`` is the peak learning rate
    of ``hp.lr_schedule`` (stepped per batch). ``hp.augment`` adds random horizontal flips per image
    and a random ±2-pixel translation per batch (not in the paper). The last incomplete batch of an
    epoch is dropped when the set has more than one batch. Optimiser (the paper only says "SGD"): SGD
    with Nesterov momentum; weight decay on the conv and dense weights only. ``hp.precision`` "bf16"
    runs forward and backward under bf16 autocast on any device (first convolution, weights,
    gradients and optimiser in float32); "fp32" is plain float32 (a float64 net stays float64).

    Returns the history: per-epoch ``loss`` (mean train cross-entropy), ``train_acc`` (on the
    corrupted training batches), ``lr`` (at the epoch's end), ``epoch_time_s``, ``images_per_s``,
    plus ``resumed_from_epoch`` / ``resumed_from_batch`` (0 = fresh start), ``device`` and
    ``precision`` (with "+ torch.compile" when compiled).

    ``checkpoint``: a file resumed from and written to every ``checkpoint_every_s`` seconds
    (None: only at the end and at the deadline), at the end, and when
    :func:`robustlab.core.budget.expired` — then :class:`~robustlab.core.errors.DeadlineReached` is raised
    (the model then holds partly trained weights; call again to resume). Without a checkpoint the
    deadline still stops training and the work is lost. ``compile=True`` runs the forward pass through
    :func:`torch.compile` where :data:`COMPILE_PAYS` says it measured faster for the device and
    architecture (eager elsewhere, and after a compile failure, with one warning); not part of the
    checkpoint's configuration (it changes rounding only).
    """
    hp = _hp(hp, settings)
    return _fit([model], images_uint8, labels, hp, [hp.sigma], device=device, checkpoint=checkpoint,
                progress=progress, compile=compile, checkpoint_every_s=checkpoint_every_s)[0]


def train_many(models: Sequence[nn.Module], images_uint8: np.ndarray, labels: np.ndarray,
               hp: TrainConfig | None = None, *, sigmas: Sequence[float], device: str | torch.device = "cpu",
               checkpoint: str | Path | None = None, progress: bool = True, compile: bool = False,
               checkpoint_every_s: float | None = CHECKPOINT_EVERY_S, **settings: Any) -> list[dict]:
    """Train ``models[i]`` at ``sigmas[i]`` (all of one architecture) at once, in place.

    Same arguments as :func:`train` (``hp.sigma`` is ignored: one σ per model, checked like
    ``hp.sigma``), with ``hp.kind`` "noise" or "blur" for all (σ = 0 members train clean). The models
    share every batch of images (same shuffle, same augmentation draws); model i sees it corrupted at
    its own σ_i — for noise ``x + σ_i·z`` with the *same* standard-normal ``z`` that :func:`train`
    draws for that batch, for blur ``blur(x, σ_i)``. With M > 1 models (plain
    :class:`~robustlab.paper_a.nets.CifarNet` of one architecture and width) they run as one wide
    network (:func:`~robustlab.paper_a.nets.stack_models`: grouped convolutions, per-model BatchNorm,
    one forward/backward per batch; the loss is the sum of the per-model losses, so each model gets
    its own gradient) and the trained weights are written back into ``models`` at the end. The
    result equals M separate :func:`train` calls with the same arguments up to floating-point
    rounding (the grouped kernels' summation order; tested in ``tests/test_fastpath.py``); like any
    such change it can grow during training where BatchNorm normalises a nearly constant channel, so
    compare accuracies, not bits. With one model this *is* :func:`train` (bit-identical).

    A checkpoint holds the wide net's state and resumes like :func:`train`'s. Returns one history
    per model (as :func:`train`'s; ``images_per_s`` counts shared-batch images, so all M models
    together process ``M ×`` that many model-images/s; ``stacked`` = M when M > 1).
    """
    models = list(models)
    sigmas = list(sigmas) if not isinstance(sigmas, (int, float)) else None
    if sigmas is None or len(models) == 0 or len(sigmas) != len(models):
        raise ParameterError(f"sigmas={sigmas!r}: need one σ per model ({len(models)} models; at least one)")
    if any(not isinstance(m, nn.Module) for m in models):
        raise ParameterError("models: every entry must be a torch.nn.Module")
    hp = _hp(hp, settings)
    sigmas = [check_sigma(s, "sigmas") for s in sigmas]
    if hp.kind == "clean" and any(sigmas):
        raise ParameterError(f"kind='clean' cannot train σ levels {sigmas}; give kind 'noise' or 'blur'")
    return _fit(models, images_uint8, labels, hp, sigmas, device=device, checkpoint=checkpoint,
                progress=progress, compile=compile, checkpoint_every_s=checkpoint_every_s)


@dataclass
class _Setup:
    """One training call: its :class:`TrainConfig`, the σ of each model, the device and the data size."""
    hp: TrainConfig
    sigmas: list[float]
    every_s: float | None
    dev: torch.device
    n: int
    steps: int  # batches per epoch

    @property
    def kind(self) -> str:
        return self.hp.corruption

    @property
    def cuda(self) -> bool:
        return self.dev.type == "cuda"

    @property
    def total(self) -> int:
        return self.hp.epochs * self.steps


@dataclass
class _Pos:
    """Where a training run stands: epoch, batches done in it, the epoch's device accumulators,
    the noise generator and the histories (all of it goes into a checkpoint)."""
    epoch: int
    batch: int
    loss: torch.Tensor  # (M,) sum of per-model batch losses × batch size, on the device
    correct: torch.Tensor  # (M,) int64, on the device
    seen: int
    elapsed_s: float
    noise: torch.Generator | None
    histories: list[dict] = field(default_factory=list)


def _setup(hp: TrainConfig, sigmas: list[float], images_uint8: Any, labels: Any, device: Any,
           checkpoint_every_s: Any) -> tuple[_Setup, np.ndarray, np.ndarray]:
    every = None if checkpoint_every_s is None else check_float("checkpoint_every_s", checkpoint_every_s, 0.0)
    images, labels = _check_data(images_uint8, labels)
    n = len(labels)
    st = _Setup(hp=hp, sigmas=list(sigmas), every_s=every, dev=resolve_device(device), n=n,
                steps=max(1, n // hp.batch_size))
    return st, images, labels


def _config(models: list[nn.Module], images: np.ndarray, labels: np.ndarray, st: _Setup) -> dict:
    """What a checkpoint must match: the TrainConfig (σ per model), the data and the initial weights."""
    hp = {k: v for k, v in asdict(st.hp).items() if k not in ("sigma", "arch", "width", "train_subset")}
    if hp["augmentation"] is None:  # only when set: the configurations of earlier checkpoints stay valid
        del hp["augmentation"]
    hp["kind"] = st.kind
    if len(models) == 1:
        hp.update(sigma=st.sigmas[0], init=_state_fingerprint(models[0]))
    else:
        hp.update(stacked=len(models), sigmas=st.sigmas, init=[_state_fingerprint(m) for m in models])
    return training_config(models[0], images, labels, **hp)


def _training_net(models: list[nn.Module], dev: torch.device) -> nn.Module:
    """The net that is trained: the model itself (M = 1), else the wide net of the M models."""
    for m in models:
        m.to(dev)
    if len(models) == 1:
        return models[0]
    try:
        return stack_models(models)
    except ParameterError as e:
        raise ParameterError(f"models: {e}; train_many needs CifarNet models of one architecture and width") from None


def _optimizer(net: nn.Module, st: _Setup) -> tuple[torch.optim.Optimizer, Any]:
    """SGD (Nesterov; weight decay on weights only) — fused on CUDA where supported, else foreach —
    and its per-batch learning-rate schedule."""
    decay = [p for p in net.parameters() if p.ndim > 1]
    no_decay = [p for p in net.parameters() if p.ndim <= 1]
    groups = [{"params": decay, "weight_decay": st.hp.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    kw = dict(lr=st.hp.lr, momentum=st.hp.momentum, nesterov=st.hp.momentum > 0)
    opt = None
    if st.cuda:
        try:
            opt = torch.optim.SGD(groups, fused=True, **kw)
        except (RuntimeError, TypeError, ValueError):
            opt = torch.optim.SGD(groups, foreach=True, **kw)
    else:
        opt = torch.optim.SGD(groups, **kw)
    total, schedule = st.total, st.hp.lr_schedule
    return opt, torch.optim.lr_scheduler.LambdaLR(opt, lambda s: lr_factor(schedule, s, total))


def _fresh_pos(st: _Setup, M: int, epoch: int = 0, histories: list[dict] | None = None) -> _Pos:
    if histories is None:
        precision = describe_precision(st.hp.precision)
        histories = [{"loss": [], "train_acc": [], "lr": [], "epoch_time_s": [], "images_per_s": [],
                      "resumed_from_epoch": 0, "resumed_from_batch": 0, "device": str(st.dev),
                      "precision": precision, **({"stacked": M} if M > 1 else {})} for _ in range(M)]
    noise = None
    if st.kind == "noise" and any(s > 0 for s in st.sigmas):
        noise = torch.Generator(device=st.dev).manual_seed(_epoch_seed(st.hp.seed, epoch, 2))
    return _Pos(epoch=epoch, batch=0, loss=torch.zeros(M, device=st.dev),
                correct=torch.zeros(M, device=st.dev, dtype=torch.long), seen=0, elapsed_s=0.0,
                noise=noise, histories=histories)


def _save_checkpoint(ckpt: Path, config: dict, net: nn.Module, opt, sched, pos: _Pos, elapsed_s: float) -> None:
    save_result(ckpt, {
        "model": _cpu(net.state_dict()), "optimizer": _cpu(opt.state_dict()), "scheduler": sched.state_dict(),
        "epoch": pos.epoch, "batch": pos.batch,
        "rng": {"noise": pos.noise.get_state().cpu() if pos.noise is not None else None},
        "acc": {"loss": pos.loss.cpu(), "correct": pos.correct.cpu(), "seen": pos.seen, "elapsed_s": elapsed_s},
        "history": pos.histories}, config)


def _load_checkpoint(ckpt: Path | None, config: dict, net: nn.Module, opt, sched, st: _Setup,
                     M: int) -> _Pos | None:
    """The position stored in ``ckpt`` (net, optimizer and scheduler loaded), or None: no usable
    checkpoint (a damaged or foreign one is warned about; the net is then left as it was)."""
    if ckpt is None or not ckpt.exists():
        return None
    init_state = {k: v.clone() for k, v in net.state_dict().items()}
    try:
        s = load_result(ckpt, config, map_location="cpu")
        hist, epoch, batch = list(s["history"]), int(s["epoch"]), int(s["batch"])
        if len(hist) != M or not (0 <= epoch <= st.hp.epochs and 0 <= batch <= st.steps):
            raise ValueError(f"position epoch {epoch} batch {batch} / {len(hist)} histories do not fit")
        net.load_state_dict(s["model"])
        opt.load_state_dict(s["optimizer"])
        sched.load_state_dict(s["scheduler"])
        for g in opt.param_groups:  # this machine's kernel choice, not the writer's
            g["fused"], g["foreach"] = opt.defaults.get("fused"), opt.defaults.get("foreach")
        pos = _fresh_pos(st, M, epoch, hist)
        if pos.noise is not None and batch > 0:  # at an epoch's start the fresh seed is the state
            pos.noise.set_state(s["rng"]["noise"])
        pos.batch, pos.seen, pos.elapsed_s = batch, int(s["acc"]["seen"]), float(s["acc"]["elapsed_s"])
        pos.loss.copy_(s["acc"]["loss"])
        pos.correct.copy_(s["acc"]["correct"])
    except (CheckpointError, KeyError, RuntimeError, ValueError, TypeError, AttributeError) as e:
        warnings.warn(f"Checkpoint {ckpt} is unusable ({e}); training from scratch.", stacklevel=4)
        net.load_state_dict(init_state)  # undo a partial load
        return None
    for h in pos.histories:
        h["resumed_from_epoch"], h["resumed_from_batch"] = epoch, batch
    return pos


def _fit(models: list[nn.Module], images_uint8: np.ndarray, labels: np.ndarray, hp: TrainConfig,
         sigmas: list[float], *, device: str | torch.device, checkpoint: str | Path | None, progress: bool,
         compile: bool = False, checkpoint_every_s: float | None = CHECKPOINT_EVERY_S) -> list[dict]:
    """The training loop of :func:`train` (M = 1: the model as is) and :func:`train_many` (M > 1:
    the wide net of the M models, written back into them at the end).

    RNG contract (what makes wide == separate): per epoch one CPU generator seeded with
    ``(seed, epoch)`` draws the shuffle, then (``augment``) every batch's flips and translation;
    a device generator seeded with ``(seed, epoch)`` draws, per batch, one standard-normal ``z`` if
    any model trains on noise with σ > 0. Model i therefore sees the same shuffle, augmentation and
    ``z`` as a lone :func:`train` call at σ_i (which draws ``z`` iff σ_i > 0: the same stream).
    """
    if not budget.compute_allowed():
        raise ComputeRefused("training is refused here (ROBUSTLAB_NO_COMPUTE=1); trained models must come from "
                             "the results store or a campaign run (python -m robustlab.campaign)")
    st, images, labels = _setup(hp, sigmas, images_uint8, labels, device, checkpoint_every_s)
    M = len(models)
    config = _config(models, images, labels, st)
    net = _training_net(models, st.dev)
    opt, sched = _optimizer(net, st)
    ckpt = Path(checkpoint) if checkpoint is not None else None
    pos = _load_checkpoint(ckpt, config, net, opt, sched, st, M)
    if pos is None:
        opt, sched = _optimizer(net, st)  # a failed load may have touched them
        pos = _fresh_pos(st, M)
    if pos.epoch < st.hp.epochs:
        _run_epochs(models, images, labels, st, net, opt, sched, pos, ckpt, config, progress, compile)
    if M > 1:
        unstack_into(net, models)
    for m in models:
        m.eval()
    return pos.histories


def _run_epochs(models, images, labels, st: _Setup, net: nn.Module, opt, sched, pos: _Pos,
                ckpt: Path | None, config: dict, progress: bool, compile: bool) -> None:
    """Train from ``pos`` to the end; checkpoints by time, at the end and at the deadline."""
    M = len(models)
    x_all, y_all = to_device_images(images, st.dev), torch.from_numpy(labels).to(st.dev)
    corrupt_batch = _Corrupter(st.kind, st.sigmas, st.dev, tuple(x_all.shape[-2:]))
    fwd = _prepare_net(net, st, compile, pos.histories)
    amp = autocast(st.dev, st.hp.precision)
    bar = _bar(progress, st, M, pos, getattr(models[0], "arch", ""))
    # the net's own dtype (float32; autocast casts inside); a float64 net (exactness tests) gets float64
    in_dtype = next((p.dtype for p in net.parameters()), torch.float32)
    last_save = time.monotonic()
    try:
        while pos.epoch < st.hp.epochs:
            net.train()
            t0 = time.perf_counter()
            plan = _EpochPlan(st, pos.epoch, len(labels))
            for b in range(pos.batch, st.steps):
                x, y = plan.batch(x_all, y_all, b)
                xw = corrupt_batch(x, pos.noise).to(in_dtype).contiguous(memory_format=torch.channels_last)
                _train_step(fwd, opt, sched, xw, y, M, amp, pos)
                pos.batch = b + 1
                if bar is not None:
                    bar.update(1)
                if budget.expired():
                    _stop_at_deadline(ckpt, config, net, opt, sched, pos, t0)
                if ckpt is not None and st.every_s is not None and time.monotonic() - last_save >= st.every_s:
                    _save_checkpoint(ckpt, config, net, opt, sched, pos, pos.elapsed_s + time.perf_counter() - t0)
                    last_save = time.monotonic()
            _close_epoch(st, sched, pos, t0, bar)
        if ckpt is not None:
            _save_checkpoint(ckpt, config, net, opt, sched, pos, 0.0)
    finally:
        if bar is not None:
            bar.close()


#: Where :func:`torch.compile` pays, per (device type, architecture), as measured by ``python -m
#: robustlab.bench --cpu`` (bf16 training at quick width, batch 64, one thread, 2nd epoch, img/s,
#: eager → compiled; see the README's benchmark table). Used only when the parameter ``compile`` is
#: on; anything not listed runs eager. CUDA: untested here (no GPU was lent), so nothing is listed.
COMPILE_PAYS: dict[tuple[str, str], bool] = {
    ("cpu", "resnet"): True,  # issue 26's measurement: 1390 → 1770 img/s (bf16, width 1/16, 1 thread)
    ("cpu", "inception"): False,  # 857 → 312 img/s: slower compiled
    ("cpu", "resnext"): True,  # 1132 → 1577 img/s
}

#: One compiled forward per (device type, architecture) in a process: every model of an architecture
#: goes through the same compiled function (dynamo treats the module's parameters as inputs), so the
#: warm-up is paid once; inductor's on-disk cache serves later processes.
_COMPILED: dict[tuple[str, str], Any] = {}


def _forward(net: nn.Module, x: torch.Tensor) -> torch.Tensor:
    return net(x)


class _Forward:
    """``net(x)``, through the compiled function of its (device, architecture) when asked for and
    :data:`COMPILE_PAYS` lists it; a compile failure warns once and falls back to eager for good."""

    def __init__(self, net: nn.Module, dev: torch.device, arch: str, compile: bool):
        self.net = net
        key = (dev.type, arch)
        self.fn = None
        if compile and COMPILE_PAYS.get(key, False) and hasattr(torch, "compile"):
            if key not in _COMPILED:
                _COMPILED[key] = torch.compile(_forward)
            self.fn = _COMPILED[key]

    @property
    def compiled(self) -> bool:
        return self.fn is not None

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if self.fn is not None:
            try:
                return self.fn(self.net, x)
            except Exception as e:  # noqa: BLE001 - any compiler failure: eager is always correct
                warnings.warn(f"torch.compile failed ({type(e).__name__}: {str(e)[:200]}); running eager",
                              RuntimeWarning, stacklevel=2)
                self.fn = None
        return self.net(x)


def _prepare_net(net: nn.Module, st: _Setup, compile: bool, histories: list[dict]) -> _Forward:
    """channels_last (on every device; on the CPU it measured 1.2-1.7× faster for these nets), the
    forward function (compiled where :data:`COMPILE_PAYS`), and on CUDA cuDNN autotuning."""
    net.to(memory_format=torch.channels_last)
    if st.cuda:
        torch.backends.cudnn.benchmark = True
    fwd = _Forward(net, st.dev, getattr(net, "arch", ""), compile)
    if fwd.compiled:
        for h in histories:
            if "torch.compile" not in h["precision"]:
                h["precision"] += " + torch.compile"
    return fwd


def _bar(progress: bool, st: _Setup, M: int, pos: _Pos, arch: str = ""):
    """The training bar: counts batches, shows images (``unit_scale`` = batch size, so the rate is in
    images/s of one model), the epoch and the loss; its ETA covers the whole training."""
    if not progress:
        return None
    who = f"{arch} " if arch else ""
    desc = (f"train {who}{st.kind} σ={st.sigmas[0]:g}" if M == 1 else
            f"train {M} {who}models {st.kind} σ={','.join(f'{s:g}' for s in st.sigmas)}")
    return tqdm(total=st.total, initial=pos.epoch * st.steps + pos.batch, leave=False, unit="img",
                unit_scale=st.hp.batch_size, desc=desc)


def _train_step(fwd: nn.Module, opt, sched, x: torch.Tensor, y: torch.Tensor, M: int, amp, pos: _Pos) -> None:
    """One SGD step on the sum of the M per-model mean losses (each model gets its own gradient);
    loss and accuracy are accumulated on the device (no synchronisation)."""
    with amp:
        out = fwd(x)
    logits = (out.float() if out.dtype in (torch.float16, torch.bfloat16) else out).view(len(y), M, -1)
    targets = y[:, None].expand(len(y), M).reshape(-1)  # (not repeat_interleave: no device read)
    losses = nn.functional.cross_entropy(logits.reshape(len(y) * M, -1), targets,
                                         reduction="none").view(len(y), M).mean(0)
    opt.zero_grad(set_to_none=True)
    losses.sum().backward()
    opt.step()
    sched.step()
    pos.loss += losses.detach() * len(y)
    pos.correct += (logits.detach().argmax(-1) == y[:, None]).sum(0)
    pos.seen += len(y)


def _stop_at_deadline(ckpt: Path | None, config: dict, net, opt, sched, pos: _Pos, t0: float) -> None:
    if ckpt is not None:
        _save_checkpoint(ckpt, config, net, opt, sched, pos, pos.elapsed_s + time.perf_counter() - t0)
        where = f"checkpointed to {ckpt}; run the same call again to resume"
    else:
        where = "no checkpoint path was given, so the progress is lost"
    raise DeadlineReached(f"deadline reached while training (epoch {pos.epoch + 1}, after batch {pos.batch}); "
                          f"{where}")


def _close_epoch(st: _Setup, sched, pos: _Pos, t0: float, bar) -> None:
    """Read the epoch's device accumulators (the one synchronisation per epoch) into the histories
    and start the next epoch."""
    ls, cs = pos.loss.tolist(), pos.correct.tolist()
    dt = pos.elapsed_s + time.perf_counter() - t0
    lr_now = float(sched.get_last_lr()[0])
    for i, h in enumerate(pos.histories):
        h["loss"].append(ls[i] / pos.seen)
        h["train_acc"].append(cs[i] / pos.seen)
        h["lr"].append(lr_now)
        h["epoch_time_s"].append(dt)
        h["images_per_s"].append(pos.seen / dt if dt > 0 else float("nan"))
    if bar is not None:
        bar.set_postfix(epoch=pos.epoch + 1, loss=f"{min(ls) / pos.seen:.3f}")
    nxt = _fresh_pos(st, len(pos.histories), pos.epoch + 1, pos.histories)
    pos.epoch, pos.batch, pos.loss, pos.correct = nxt.epoch, 0, nxt.loss, nxt.correct
    pos.seen, pos.elapsed_s, pos.noise = 0, 0.0, nxt.noise


class _EpochPlan:
    """One epoch's shuffle and augmentation draws, made at once on the CPU from the epoch's
    generator and moved to the device once (nothing is drawn or read back per batch)."""

    def __init__(self, st: _Setup, epoch: int, n: int):
        g = torch.Generator(device="cpu").manual_seed(_epoch_seed(st.hp.seed, epoch, 1))
        perm = torch.randperm(n, generator=g)
        if n > st.hp.batch_size:
            perm = perm[: st.steps * st.hp.batch_size]
        self.bs, self.augment = st.hp.batch_size, st.hp.augment
        self.augmentation, self.seed, self.epoch = st.hp.augmentation, st.hp.seed, epoch
        self.perm = perm.to(st.dev)
        if st.hp.augment:
            nb = min(st.hp.batch_size, n)
            self.flips = (torch.rand(st.steps, nb, generator=g) < 0.5).to(st.dev)
            self.shifts = torch.randint(-2, 3, (st.steps, 2), generator=g).tolist()

    def batch(self, x_all: torch.Tensor, y_all: torch.Tensor, b: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Batch ``b``: clean images on [-1, 1] (augmented) and labels."""
        idx = self.perm[b * self.bs:(b + 1) * self.bs]
        x = uint8_to_pm1(x_all[idx])
        if self.augment:
            x = _augment(x, self.flips[b], *self.shifts[b])
        if self.augmentation is not None:  # its own seeded stream per batch (resumes mid-epoch alike)
            x = apply_augmentation(self.augmentation, x, torch_generator(self.seed, "augmentation", self.epoch, b))
        return x, y_all[idx]


def _augment(x: torch.Tensor, flip: torch.Tensor, dx: int, dy: int) -> torch.Tensor:
    """Horizontal flip of the images where ``flip`` (bool (B,)) and one translation by (dx, dy)
    pixels for the batch (reflect padding)."""
    x = torch.where(flip[:, None, None, None], x.flip(3), x)
    if dx or dy:
        p = nn.functional.pad(x, (2, 2, 2, 2), mode="reflect")
        h, w = x.shape[-2:]
        x = p[..., 2 + dy:2 + dy + h, 2 + dx:2 + dx + w]
    return x


class _Corrupter:
    """One shared clean batch (B, 3, H, W) → the wide input (B, 3·M, H, W): model i's copy
    corrupted at σ_i (noise: ``x + σ_i·z`` with one ``z`` for all; blur: per σ)."""

    def __init__(self, kind: str, sigmas: list[float], dev: torch.device, hw: tuple[int, int]):
        self.kind, self.M = kind, len(sigmas)
        self.sig = torch.tensor(sigmas, dtype=torch.float32, device=dev).view(1, -1, 1, 1, 1)
        self.draws_z = kind == "noise" and any(s > 0 for s in sigmas)
        self.blurs = [GaussianBlur(s, hw, dev) if kind == "blur" and s > 0 else None for s in sigmas]

    def __call__(self, x: torch.Tensor, g: torch.Generator | None) -> torch.Tensor:
        b, c, h, w = x.shape
        if self.kind == "blur":
            parts = [x if f is None else f(x) for f in self.blurs]
            return parts[0] if self.M == 1 else torch.stack(parts, dim=1).view(b, self.M * c, h, w)
        if not self.draws_z:
            return x if self.M == 1 else x.repeat(1, self.M, 1, 1)
        z = torch.randn(x.shape, generator=g, device=x.device, dtype=torch.float32)
        return (x[:, None] + self.sig * z[:, None]).view(b, self.M * c, h, w)


# --------------------------------------------------------------------------------------
# evaluate
# --------------------------------------------------------------------------------------
@torch.no_grad()
def predict(model: nn.Module, images_uint8: np.ndarray, *, kind: str = "noise", sigma: float = 0.0,
            seed: int = 0, device: str | torch.device = "cpu", batch_size: int = 500,
            precision: str = "fp32") -> np.ndarray:
    """Predicted labels for ``images_uint8`` (uint8 (N, 32, 32, 3)) corrupted at (kind, σ).

    The noise of batch ``b`` is drawn on the CPU from a generator seeded with ``(seed, b)``, so
    it is the same for every model, every device and every call with the same ``batch_size``.
    ``precision``: "fp32" or "bf16" (autocast), or "auto" (bf16 where the device has bf16 units).
    """
    kind = check_kind(kind)
    sigma = check_sigma(sigma)
    batch_size = check_int("batch_size", batch_size, 1)
    images = np.asarray(images_uint8)
    if images.dtype != np.uint8 or images.ndim != 4:
        raise ParameterError(f"images: got dtype {images.dtype} shape {images.shape}; expected uint8 (N, H, W, 3)")
    dev = resolve_device(device)
    precision = resolve_precision(precision, dev)
    was_training = model.training
    model.eval().to(dev, memory_format=torch.channels_last)
    out = []
    try:
        for b, i in enumerate(range(0, len(images), batch_size)):
            x = uint8_to_pm1(to_device_images(images[i:i + batch_size], torch.device("cpu")))
            g = torch.Generator().manual_seed(_epoch_seed(seed, b, 3))
            x = corrupt(x, kind, sigma, generator=g).to(dev).contiguous(memory_format=torch.channels_last)
            with autocast(dev, precision):
                out.append(model(x).argmax(1).cpu())
    finally:
        model.train(was_training)
    return torch.cat(out).numpy() if out else np.zeros(0, dtype=np.int64)


def evaluate(model: nn.Module, images_uint8: np.ndarray, labels: np.ndarray, *, kind: str, sigma: float,
             seed: int = 0, device: str | torch.device = "cpu", batch_size: int = 500,
             precision: str = "fp32") -> float:
    """Accuracy (fraction in [0, 1]) of ``model`` on ``images_uint8`` corrupted at (kind, σ).

    The corruption is seeded (see :func:`predict`) and identical for every model.
    """
    images, labels = _check_data(images_uint8, labels)
    pred = predict(model, images, kind=kind, sigma=sigma, seed=seed, device=device, batch_size=batch_size,
                   precision=precision)
    return float((pred == labels).mean())


@torch.no_grad()
def predict_many(models: Sequence[nn.Module], images_uint8: np.ndarray, *, kind: str = "noise",
                 sigmas: Sequence[float] = (0.0,), seed: int = 0, device: str | torch.device = "cpu",
                 batch_size: int = 500, stacked: bool = False, precision: str = "fp32") -> np.ndarray:
    """Predicted labels of every model on ``images_uint8`` corrupted at every σ of ``sigmas``.

    Returns int64 ``(len(sigmas), len(models), N)``. Entry ``[j, i]`` equals
    ``predict(models[i], images, kind=kind, sigma=sigmas[j], seed=seed, batch_size=batch_size)``:
    the corrupted batch for each (batch, σ) is generated once, with the same seeded CPU noise, and
    every model runs on it. ``stacked=False`` runs the models one after another on that batch
    (bit-identical to :func:`predict`); ``stacked=True`` runs them as one wide network
    (:func:`~robustlab.paper_a.nets.stack_models`; plain CifarNets of one architecture and width
    required; logits equal up to float rounding, so an argmax can flip only on a near-tie).
    ``precision`` as in :func:`predict`.
    """
    kind = check_kind(kind)
    sigmas = [check_sigma(s, "sigmas") for s in sigmas]
    batch_size = check_int("batch_size", batch_size, 1)
    models = list(models)
    if not models or not sigmas:
        raise ParameterError(f"predict_many: need at least one model and one σ (got {len(models)} models, "
                             f"sigmas={sigmas!r})")
    images = np.asarray(images_uint8)
    if images.dtype != np.uint8 or images.ndim != 4:
        raise ParameterError(f"images: got dtype {images.dtype} shape {images.shape}; expected uint8 (N, H, W, 3)")
    dev = resolve_device(device)
    was = [m.training for m in models]
    for m in models:
        m.eval().to(dev)
    run = _many_runner(models, stacked, dev, resolve_precision(precision, dev))
    out: list[torch.Tensor] = []  # per batch: (S, M, B), on the device
    try:
        for b, i in enumerate(range(0, len(images), batch_size)):
            x = uint8_to_pm1(to_device_images(images[i:i + batch_size], torch.device("cpu")))
            per_sigma = []
            for s in sigmas:
                g = torch.Generator().manual_seed(_epoch_seed(seed, b, 3))
                per_sigma.append(run(corrupt(x, kind, s, generator=g).to(dev)))
            out.append(torch.stack(per_sigma))
    finally:
        for m, w in zip(models, was):
            m.train(w)
    if not out:
        return np.zeros((len(sigmas), len(models), 0), dtype=np.int64)
    return torch.cat(out, dim=2).cpu().numpy()


def _many_runner(models: list[nn.Module], stacked: bool, dev: torch.device, precision: str):
    """A function: one corrupted batch (B, 3, H, W) → predicted labels (M, B) of every model."""
    M = len(models)
    wide = None
    if stacked and M > 1:
        wide = stack_models(models).eval().to(memory_format=torch.channels_last)

    for m in models:
        m.to(memory_format=torch.channels_last)

    def run(xc: torch.Tensor) -> torch.Tensor:
        if wide is not None:
            xc = xc.repeat(1, M, 1, 1)
        xc = xc.contiguous(memory_format=torch.channels_last)
        with autocast(dev, precision):
            if wide is not None:
                return wide.forward_models(xc).argmax(-1)
            return torch.stack([m(xc).argmax(1) for m in models])

    return run


def evaluate_many(models: Sequence[nn.Module], images_uint8: np.ndarray, labels: np.ndarray, *, kind: str,
                  sigmas: Sequence[float], seed: int = 0, device: str | torch.device = "cpu",
                  batch_size: int = 500, stacked: bool = False, per_image: bool = False,
                  precision: str = "fp32") -> np.ndarray:
    """Accuracies (fractions in [0, 1]), shape ``(len(sigmas), len(models))``: entry ``[j, i]`` is
    ``evaluate(models[i], …, sigma=sigmas[j])`` (see :func:`predict_many`).

    ``per_image=True``: instead, whether each image is classified correctly, bool
    ``(len(sigmas), len(models), N)`` in the order of ``images_uint8`` (its mean over the last axis
    is the accuracy returned otherwise, bit for bit)."""
    images, labels = _check_data(images_uint8, labels)
    pred = predict_many(models, images, kind=kind, sigmas=sigmas, seed=seed, device=device,
                        batch_size=batch_size, stacked=stacked, precision=precision)
    correct = pred == labels[None, None, :]
    return correct if per_image else correct.mean(axis=2)
