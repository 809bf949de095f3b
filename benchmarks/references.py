"""Reference attacks and the model they are compared on, for benchmarks/attack_strength.py and
tests/test_attack_references.py (which imports this module; benchmarks never import tests):

* a small CIFAR-10 CNN trained for a few seconds on a real CIFAR-10 subset (CPU),
* :class:`GradCounter`, a model wrapper that counts input-gradient evaluations per image,
* the reference attacks: foolbox 3.3.4 ``LinfDeepFoolAttack`` / ``LInfFMNAttack`` and torchattacks
  3.5.1 ``DeepFool`` (L2), each returning adversarial images on the [-1, 1] scale plus its gradient
  count. foolbox and torchattacks are test/benchmark dependencies only, never imported by ``robustlab``.

How gradients are counted: the wrapper registers a hook on its input tensor whenever it is called
with ``requires_grad``; every backward pass that reaches the input (``loss.backward()`` or
``torch.autograd.grad``, through foolbox/eagerpy or not) fires it once, and adds the number of
images in that batch. So one "gradient evaluation" = the gradient of one scalar w.r.t. one image
(DeepFool's Jacobian over 10 classes costs 10 per image and step, foolbox's DeepFool with
``candidates=10`` costs 9 per image and step plus 1 for its final check). Forward-only passes
(e.g. our final bisection) are counted separately.

torchattacks quirks (3.5.1, installed ``--no-deps``): it insists on inputs in [0, 1] (so the model is
wrapped by :class:`To01` and distances are converted back to the [-1, 1] scale), its DeepFool runs
image by image with a full 10-class Jacobian per step (slow with several threads: the tests use one),
calls ``.backward()`` (so the model's parameters are frozen here, else their ``.grad`` fills up), and
clamps every step to [0, 1], after which some images stay unflipped at the step limit (counted as
failures, i.e. infinite change).
"""
from __future__ import annotations

import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from robustlab.data import balanced_indices, load_cifar10, to_tensor_pm1

BOUNDS = (-1.0, 1.0)


class GradCounter(nn.Module):
    """Wraps a model; counts input-gradient evaluations (``grad_rows``) and forward rows."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model
        self.grad_rows = 0
        self.forward_rows = 0

    def reset(self) -> None:
        self.grad_rows = 0
        self.forward_rows = 0

    def _hook(self, n: int):
        def h(_g):
            self.grad_rows += n
        return h

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.forward_rows += x.shape[0]
        if torch.is_grad_enabled() and x.requires_grad:
            x.register_hook(self._hook(x.shape[0]))
        return self.model(x)


class To01(nn.Module):
    """Model on [0, 1] inputs for torchattacks (which insists on [0, 1]): x01 → model(2·x01 − 1)."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x01: torch.Tensor) -> torch.Tensor:
        return self.model(x01 * 2 - 1)


def small_cnn(seed: int = 0) -> nn.Module:
    """A small, fast CIFAR-10 CNN (inputs float NCHW on [-1, 1])."""
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(32 * 4 * 4, 10),
    )


def train_small_cnn(data_dir, cache_dir, n_train: int = 8000, epochs: int = 3, seed: int = 0):
    """Train :func:`small_cnn` on a balanced real CIFAR-10 subset; returns (model in eval mode, seconds)."""
    t0 = time.time()
    tr = load_cifar10(data_dir, split="train", cache_dir=cache_dir, progress=False)
    idx = balanced_indices(tr.labels, n_train, seed)
    x = to_tensor_pm1(tr.images[idx])
    y = torch.as_tensor(tr.labels[idx]).long()
    model = small_cnn(seed)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    g = torch.Generator().manual_seed(seed)
    model.train()
    for _ in range(epochs):
        perm = torch.randperm(len(x), generator=g)
        for s in range(0, len(x), 128):
            b = perm[s:s + 128]
            opt.zero_grad()
            F.cross_entropy(model(x[b]), y[b]).backward()
            opt.step()
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model, time.time() - t0


def cached_small_cnn(data_dir, cache_dir, n_train: int = 4000, epochs: int = 2, seed: int = 0):
    """:func:`train_small_cnn`, with the weights cached in ``cache_dir`` (keyed by the settings)."""
    from pathlib import Path

    path = Path(cache_dir) / f"attack-ref-cnn-n{n_train}-e{epochs}-s{seed}-v1.pt"
    if path.is_file():
        try:
            model = small_cnn(seed)
            model.load_state_dict(torch.load(path, map_location="cpu"))
            model.eval()
            for p in model.parameters():
                p.requires_grad_(False)
            return model, 0.0
        except Exception:  # noqa: BLE001  (a corrupt cache: retrain)
            pass
    model, secs = train_small_cnn(data_dir, cache_dir, n_train, epochs, seed)
    tmp = path.with_suffix(".tmp")
    torch.save(model.state_dict(), tmp)
    tmp.replace(path)
    return model, secs


def attack_set(data_dir, cache_dir, n: int = 128, seed: int = 0):
    """``n`` class-balanced CIFAR-10 test images (float NCHW on [-1, 1]) and labels."""
    te = load_cifar10(data_dir, split="test", cache_dir=cache_dir, progress=False)
    idx = balanced_indices(te.labels, n, seed)
    return to_tensor_pm1(te.images[idx]), torch.as_tensor(te.labels[idx]).long()


def _distances(model, x, y, adv, correct):
    """Per attacked image: (success, L∞ in 8-bit units, L2 on the [-1, 1] scale, mean |δ| 8-bit)."""
    with torch.no_grad():
        succ = (model(adv).argmax(1) != y).numpy() & correct
    d = (adv - x).flatten(1).double()
    scale = 255.0 / (BOUNDS[1] - BOUNDS[0])
    linf = d.abs().amax(1).numpy() * scale
    l2 = d.norm(dim=1).numpy()
    mabs = d.abs().mean(1).numpy() * scale
    return succ, linf, l2, mabs


def run_reference(name: str, model: nn.Module, x: torch.Tensor, y: torch.Tensor, **kw) -> dict:
    """Run one reference attack on the correctly classified images; returns a result dict with
    per-image arrays (NaN/inf where failed) and ``grad_evals_per_image``."""
    with torch.no_grad():
        correct = (model(x).argmax(1) == y).numpy()
    xa, ya = x[correct], y[correct]
    counter = GradCounter(model).eval()
    t0 = time.time()
    if name in ("foolbox_linf_deepfool", "foolbox_linf_fmn", "foolbox_l2_deepfool", "foolbox_l2_fmn"):
        import foolbox as fb

        fmodel = fb.PyTorchModel(counter, bounds=BOUNDS)
        attack = {"foolbox_linf_deepfool": fb.attacks.LinfDeepFoolAttack,
                  "foolbox_linf_fmn": fb.attacks.LInfFMNAttack,
                  "foolbox_l2_deepfool": fb.attacks.L2DeepFoolAttack,
                  "foolbox_l2_fmn": fb.attacks.L2FMNAttack}[name](**kw)
        _, adv, _ = attack(fmodel, xa, ya, epsilons=None)
    elif name == "torchattacks_deepfool":
        import torchattacks

        m01 = To01(counter).eval()
        attack = torchattacks.DeepFool(m01, **kw)
        adv = attack((xa + 1) / 2, ya) * 2 - 1
        adv = adv.clamp(*BOUNDS)
    else:
        raise ValueError(name)
    secs = time.time() - t0
    succ, linf, l2, mabs = _distances(model, xa, ya, adv.detach(), np.ones(len(xa), bool))
    n_att = len(xa)
    return {"name": name, "n_attacked": n_att, "success": succ, "linf_8bit": np.where(succ, linf, np.inf),
            "l2": np.where(succ, l2, np.inf), "mean_abs_8bit": np.where(succ, mabs, np.inf),
            "grad_evals_per_image": counter.grad_rows / max(n_att, 1), "seconds": secs}


def run_ours(model: nn.Module, x: torch.Tensor, y: torch.Tensor, **kw) -> dict:
    """robustlab.attacks.minimal_change, counted with the same wrapper (its own count is checked too)."""
    from robustlab.attacks import minimal_change

    counter = GradCounter(model).eval()
    t0 = time.time()
    r = minimal_change(counter, x, y, bounds=BOUNDS, **kw)
    secs = time.time() - t0
    att = r.correct
    n_att = int(att.sum())
    succ = r.success[att]
    return {"name": f"robustlab_{kw.get('norm', 'linf')}", "n_attacked": n_att, "success": succ,
            "linf_8bit": np.where(succ, r.linf_8bit[att], np.inf), "l2": np.where(succ, r.l2[att], np.inf),
            "mean_abs_8bit": np.where(succ, r.mean_abs_8bit[att], np.inf),
            "grad_evals_per_image": counter.grad_rows / max(n_att, 1),
            "grad_evals_reported": float(r.grad_evals[att].mean()) if n_att else 0.0,
            "seconds": secs, "result": r}
