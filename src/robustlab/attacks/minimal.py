"""The minimal adversarial change: a DeepFool start and fast minimum-norm (FMN) steps, and its
per-image :class:`AttackResult`.

See :mod:`robustlab.attacks` for the conventions (bounds, changes in 8-bit units, eval mode).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn as nn

from robustlab.attacks._common import _batched, _check_bounds, _check_inputs, _eval_mode, _model_device
from robustlab.core.budget import compute_allowed
from robustlab.core.device import resolve_device
from robustlab.core.errors import ComputeRefused, ParameterError
from robustlab.core.progress import tqdm

__all__ = ["minimal_change", "AttackResult"]


_NORMS = ("linf", "l2")


@dataclass
class AttackResult:
    """Per-image outcome of :func:`minimal_change` (all arrays of length N, numpy, on the CPU).

    Attributes:
        correct: bool, the model classified the clean image correctly (only those are attacked).
        success: bool, an adversarial image was found (always False where ``correct`` is False).
        adv: float tensor ``(N, C, H, W)`` on the input scale, inside ``bounds``: the adversarial image
            where ``success``, else the clean image.
        mean_abs_8bit: mean |δ| over pixels and channels in 8-bit units (``|δ| * 255 / (hi - lo)``), the
            paper's "average change per pixel" (2.55 = 1 % of the 8-bit range); NaN where not ``success``.
        linf_8bit: max |δ| in 8-bit units; NaN where not ``success``.
        l2: Euclidean norm of δ on the input scale; NaN where not ``success``.
        grad_evals: number of input-gradient evaluations (one forward + one backward pass of one
            image) spent on this image; 0 for images not attacked.
        forward_evals: number of extra forward-only evaluations of this image (the final search).
        pred_clean / pred_adv: predicted classes before / after.
        labels: true classes.
        norm, steps, bounds: the attack settings.
    """

    correct: np.ndarray
    success: np.ndarray
    adv: torch.Tensor
    mean_abs_8bit: np.ndarray
    linf_8bit: np.ndarray
    l2: np.ndarray
    grad_evals: np.ndarray
    forward_evals: np.ndarray
    pred_clean: np.ndarray
    pred_adv: np.ndarray
    labels: np.ndarray
    norm: str = "linf"
    steps: int = 0
    bounds: tuple[float, float] = (-1.0, 1.0)
    extra: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.correct)

    @property
    def delta(self) -> np.ndarray:
        """Per-image norm the attack minimised: ``linf_8bit`` for norm="linf", ``l2`` for norm="l2"."""
        return self.linf_8bit if self.norm == "linf" else self.l2

    def summary(self) -> dict:
        """Success rate (of correctly classified images) and median/mean of the successful changes."""
        ok = self.success
        n_att = int(self.correct.sum())

        def stats(v):
            v = v[ok]
            return (float(np.median(v)) if v.size else float("nan"),
                    float(np.mean(v)) if v.size else float("nan"))

        med_mean, mean_mean = stats(self.mean_abs_8bit)
        med_linf, mean_linf = stats(self.linf_8bit)
        med_l2, mean_l2 = stats(self.l2)
        return {
            "n_images": len(self), "n_correct": n_att, "n_success": int(ok.sum()),
            "success_rate": float(ok.sum() / n_att) if n_att else float("nan"),
            "median_mean_abs_8bit": med_mean, "mean_mean_abs_8bit": mean_mean,
            "median_linf_8bit": med_linf, "mean_linf_8bit": mean_linf,
            "median_l2": med_l2, "mean_l2": mean_l2,
            "grad_evals_total": int(self.grad_evals.sum()),
            "grad_evals_per_attacked_image": float(self.grad_evals[self.correct].mean()) if n_att else 0.0,
            "norm": self.norm, "steps": self.steps,
        }

    def table(self):
        """Tidy pandas DataFrame, one row per image (without the images)."""
        # deferred: pandas is slow to import; only tables need it
        import pandas as pd

        return pd.DataFrame({
            "label": self.labels, "pred_clean": self.pred_clean, "pred_adv": self.pred_adv,
            "correct": self.correct, "success": self.success, "mean_abs_8bit": self.mean_abs_8bit,
            "linf_8bit": self.linf_8bit, "l2": self.l2, "grad_evals": self.grad_evals,
        })


def _flat(t: torch.Tensor) -> torch.Tensor:
    return t.reshape(t.shape[0], -1)


def _norm_of(d: torch.Tensor, norm: str) -> torch.Tensor:
    f = _flat(d)
    return f.abs().amax(1) if norm == "linf" else f.norm(dim=1)


def _dual_norm(g: torch.Tensor, norm: str) -> torch.Tensor:
    f = _flat(g)
    return f.abs().sum(1) if norm == "linf" else f.norm(dim=1)


def _unit_dir(g: torch.Tensor, norm: str) -> torch.Tensor:
    """Direction of steepest ascent of <g, δ> under a unit ``norm`` constraint."""
    if norm == "linf":
        return g.sign()
    n = _flat(g).norm(dim=1).clamp_min(1e-12)
    return g / n.view(-1, *([1] * (g.ndim - 1)))


def _project(d: torch.Tensor, eps: torch.Tensor, norm: str) -> torch.Tensor:
    e = eps.view(-1, *([1] * (d.ndim - 1)))
    if norm == "linf":
        return torch.maximum(torch.minimum(d, e), -e)
    n = _flat(d).norm(dim=1).view_as(e)
    return d * torch.where(n > e, e / n.clamp_min(1e-30), torch.ones_like(n))


def _margin_and_grad(model, x, y):
    """Logit margin z_y - max_{j != y} z_j (negative = misclassified), its input gradient, logits."""
    x = x.detach().requires_grad_(True)
    with torch.enable_grad():
        z = model(x)
        zy = z.gather(1, y[:, None])[:, 0]
        other = z.detach().clone()
        other.scatter_(1, y[:, None], -float("inf"))
        j = other.argmax(1)
        zj = z.gather(1, j[:, None])[:, 0]
        m = zy - zj
        (g,) = torch.autograd.grad(m.sum(), x)
    return m.detach(), g.detach(), z.detach()


def _nearest_boundary(model, x, y, candidates, norm):
    """DeepFool's class choice: among the ``candidates - 1`` strongest other classes, the one whose
    linearised boundary is nearest in ``norm``. Costs ``candidates - 1`` gradient evaluations per image.
    Returns (margin, gradient, logits) for that class (margin z_y - z_j > 0 on a correct image)."""
    x = x.detach().requires_grad_(True)
    n = x.shape[0]
    with torch.enable_grad():
        z = model(x)
        other = z.detach().clone()
        other.scatter_(1, y[:, None], -float("inf"))
        k = min(candidates - 1, z.shape[1] - 1)
        cls = other.topk(k, dim=1).indices
        zy = z.gather(1, y[:, None])[:, 0]
        best_d = torch.full((n,), float("inf"), dtype=x.dtype, device=x.device)
        best_m = torch.zeros(n, dtype=x.dtype, device=x.device)
        best_g = torch.zeros_like(x)
        shape1 = (-1,) + (1,) * (x.ndim - 1)
        for c in range(k):
            m = zy - z.gather(1, cls[:, c:c + 1])[:, 0]
            (g,) = torch.autograd.grad(m.sum(), x, retain_graph=c < k - 1)
            d = m.detach().abs() / _dual_norm(g, norm).clamp_min(1e-30)
            take = d < best_d
            best_d = torch.where(take, d, best_d)
            best_m = torch.where(take, m.detach(), best_m)
            best_g = torch.where(take.view(shape1), g, best_g)
    return best_m, best_g.detach(), z.detach()


def _fmn_batch(model, x0, y, lo, hi, norm, steps, gamma0, alpha0, overshoot, search_steps, candidates=2):
    """Attack one batch of correctly classified images; returns best δ, success mask, forward count.

    The first step uses DeepFool's choice among ``candidates - 1`` classes (``candidates - 1``
    gradient evaluations), every further step one gradient evaluation."""
    n = x0.shape[0]
    dt = x0.dtype
    # largest possible norm of a perturbation inside the bounds (the "worst" start value)
    worst = _norm_of(torch.maximum(x0 - lo, hi - x0), norm)
    delta = torch.zeros_like(x0)
    best_delta = torch.zeros_like(x0)
    best_norm = torch.full((n,), float("inf"), dtype=dt, device=x0.device)
    eps = torch.full((n,), float("inf"), dtype=dt, device=x0.device)
    found = torch.zeros(n, dtype=torch.bool, device=x0.device)
    misses = torch.zeros(n, dtype=torch.long, device=x0.device)
    d_in = x0[0].numel()
    cap = (hi - lo) * 8.0 / 255.0 * (1.0 if norm == "linf" else math.sqrt(d_in))
    shape1 = (-1,) + (1,) * (x0.ndim - 1)
    for i in range(steps):
        cos = (1 + math.cos(math.pi * i / max(steps, 1))) / 2
        gamma = 0.001 + (gamma0 - 0.001) * cos
        alpha = alpha0 * (0.01 + 0.99 * cos)
        if i == 0 and candidates > 2:
            m, g, z = _nearest_boundary(model, x0 + delta, y, candidates, norm)
        else:
            m, g, z = _margin_and_grad(model, x0 + delta, y)
        is_adv = z.argmax(1) != y
        dn = _norm_of(delta, norm)
        better = is_adv & (dn < best_norm)
        best_norm = torch.where(better, dn, best_norm)
        best_delta = torch.where(better.view(shape1), delta, best_delta)
        found |= is_adv
        # coordinates at a bound whose descent direction points outside cannot move: leave them out
        # of the step and of the boundary distance (otherwise clipping eats the step)
        xc = x0 + delta
        g = torch.where(((xc <= lo) & (g > 0)) | ((xc >= hi) & (g < 0)), torch.zeros_like(g), g)
        gd = _dual_norm(g, norm).clamp_min(1e-30)
        to_boundary = m.abs() / gd                      # linearised distance to the decision boundary
        # adaptive norm constraint (Pintor et al. 2021)
        eps = torch.where(is_adv, torch.minimum(eps * (1 - gamma), best_norm),
                          torch.where(found, eps * (1 + gamma), dn + to_boundary))
        eps = torch.minimum(eps, worst)
        direction = -_unit_dir(g, norm)                 # decreases the margin
        # before the first success: a DeepFool step onto the linearised boundary (with overshoot);
        # afterwards: a gradient step relative to the current constraint, then projection.
        # (an image still not adversarial after 2 such steps has a poor linearisation: it gets
        # doubling steps, each capped at `cap` (≈ 8 grey levels per pixel), i.e. a local ascent of the
        # margin like I-FGSM; the final search shrinks any excess)
        boost = torch.pow(2.0, (misses - 2).clamp(min=0, max=30)).to(dt)
        t = (1 + overshoot) * to_boundary
        t = torch.where(misses >= 2, torch.minimum(t * boost, torch.full_like(t, cap)), t)
        df_step = t.view(shape1) * direction
        misses = misses + (~found).long()
        fmn_step = (alpha * eps.clamp(max=float(worst.max()))).view(shape1) * direction
        step = torch.where(found.view(shape1), fmn_step, df_step)
        delta = delta + step
        delta = torch.where(found.view(shape1), _project(delta, eps, norm), delta)
        delta = (x0 + delta).clamp(lo, hi) - x0
    # the last iterate has not been checked yet: one forward pass
    fwd = 0
    with torch.no_grad():
        is_adv = model(x0 + delta).argmax(1) != y
    fwd += 1
    dn = _norm_of(delta, norm)
    better = is_adv & (dn < best_norm)
    best_norm = torch.where(better, dn, best_norm)
    best_delta = torch.where(better.view(shape1), delta, best_delta)
    found |= is_adv
    # final search (forward passes only): the smallest shrink of the best δ that stays adversarial
    # (L-inf: clip δ to a smaller box; L2: scale δ)
    if search_steps > 0 and bool(found.any()):
        lo_t = torch.zeros(n, dtype=dt, device=x0.device)
        hi_t = torch.ones(n, dtype=dt, device=x0.device)
        bn = torch.where(found, best_norm, torch.zeros_like(best_norm))

        def shrink(t):
            if norm == "linf":
                return _project(best_delta, t * bn, norm)
            return best_delta * t.view(shape1)

        for _ in range(search_steps):
            mid = (lo_t + hi_t) / 2
            with torch.no_grad():
                adv_mid = model((x0 + shrink(mid)).clamp(lo, hi)).argmax(1) != y
            fwd += 1
            hi_t = torch.where(adv_mid, mid, hi_t)
            lo_t = torch.where(adv_mid, lo_t, mid)
        cand = (x0 + shrink(hi_t)).clamp(lo, hi) - x0
        best_delta = torch.where(found.view(shape1), cand, best_delta)
    return best_delta, found, fwd


def minimal_change(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, *, norm: str = "linf",
                   steps: int = 100, bounds=(-1.0, 1.0), batch_size: int = 128, gamma: float = 0.05,
                   alpha: float = 1.0, overshoot: float = 0.02, search_steps: int = 12, candidates: int = 10,
                   seed: int = 0,
                   device=None, progress: bool = False) -> AttackResult:
    """Smallest perturbation found that changes the predicted class of each correctly classified image.

    Method: a fast minimum-norm attack (FMN, Pintor et al. 2021) on the logit margin
    ``z_y - max_{j != y} z_j``, started by DeepFool steps (Moosavi-Dezfooli et al. 2016) onto the
    linearised decision boundary until the image is misclassified, then gradient steps inside an
    adaptive ``norm``-ball whose radius shrinks by ``(1 - gamma)`` while adversarial and grows by
    ``(1 + gamma)`` while not (gamma and the relative step size are cosine-annealed), keeping the
    smallest adversarial δ seen; finally a search of ``search_steps`` forward passes shrinks the
    best δ (L∞: clip to a smaller box; L2: scale) as far as it stays adversarial. Every step costs
    one input-gradient evaluation (one forward + one backward pass) per attacked image, except the
    first, which (like DeepFool) picks the nearest linearised boundary among the ``candidates - 1``
    strongest other classes at ``candidates - 1`` gradient evaluations; so
    ``grad_evals = steps - 1 + max(candidates - 1, 1)`` per attacked image.

    Args:
        model: classifier returning logits (eval mode is set during the attack and restored).
        images: float ``(N, C, H, W)`` on the model's input scale, inside ``bounds``.
        labels: int64 ``(N,)`` true classes.
        norm: ``"linf"`` (minimise max |δ|) or ``"l2"`` (minimise ‖δ‖₂).
        steps: gradient steps per image (>= 1).
        bounds: ``(lo, hi)`` valid range of the input scale (``(-1, 1)`` for paper-A models).
        batch_size: images per batch.
        gamma: initial relative change of the norm constraint per step (annealed to 0.001).
        alpha: initial step size relative to the constraint radius (annealed to alpha/100).
        overshoot: relative overshoot of the DeepFool steps.
        search_steps: forward-only bisection steps at the end (0 = none).
        candidates: classes considered by the first (DeepFool) step, incl. the true one; 2 = only the
            strongest other class (cheapest). Capped at the number of classes.
        seed: the attack is deterministic; the seed fixes torch's RNG for models with randomness.
        device: where to run ("auto", "cpu", "cuda", a torch.device, or None = the model's device);
            a given device moves the model there (in place). Results come back on the images' device.
        progress: show a tqdm bar over batches.

    Returns:
        :class:`AttackResult`. Changes are reported in 8-bit units (mean |δ| and L∞, computed as
        ``|δ| * 255 / (hi - lo)``) and as L2 on the input scale.
    """

    if not compute_allowed():
        raise ComputeRefused("minimal_change: attacking is refused here (ROBUSTLAB_NO_COMPUTE=1); the attack "
                             "results must come from the results store or published/")
    lo, hi = _check_bounds(bounds)
    if norm not in _NORMS:
        raise ParameterError(f"norm={norm!r} is not one of {_NORMS}")
    if int(steps) < 1:
        raise ParameterError(f"steps={steps!r} must be >= 1 (e.g. 100)")
    if int(batch_size) < 1:
        raise ParameterError(f"batch_size={batch_size!r} must be >= 1")
    if not (0 < gamma < 1):
        raise ParameterError(f"gamma={gamma!r} must be in (0, 1), e.g. 0.05")
    if not (alpha > 0):
        raise ParameterError(f"alpha={alpha!r} must be > 0, e.g. 1.0")
    if not (0 <= overshoot < 1):
        raise ParameterError(f"overshoot={overshoot!r} must be in [0, 1), e.g. 0.02")
    if int(search_steps) < 0:
        raise ParameterError(f"search_steps={search_steps!r} must be >= 0")
    _check_inputs(images, labels, lo, hi)
    if device is None:
        dev = _model_device(model, images.device)
    else:

        dev = resolve_device(device)
        model.to(dev)
    if int(candidates) < 2:
        raise ParameterError(f"candidates={candidates!r} must be >= 2 (2 = only the strongest other class)")
    labels = labels.long()
    n = images.shape[0]
    adv = images.detach().clone()
    correct = np.zeros(n, bool)
    success = np.zeros(n, bool)
    pred_clean = np.zeros(n, np.int64)
    pred_adv = np.zeros(n, np.int64)
    grad_evals = np.zeros(n, np.int64)
    forward_evals = np.zeros(n, np.int64)
    torch.manual_seed(int(seed))
    batches = list(_batched(n, batch_size))
    if progress:

        batches = tqdm(batches, desc=f"minimal_change ({norm})")
    with _eval_mode(model):
        for sl in batches:
            x = images[sl].to(dev)
            y = labels[sl].to(dev)
            with torch.no_grad():
                zc = model(x)
            p = zc.argmax(1)
            n_cand = min(int(candidates), zc.shape[1])
            ok = p == y
            idx = np.arange(sl.start, sl.stop)
            pred_clean[idx] = p.cpu().numpy()
            pred_adv[idx] = pred_clean[idx]
            correct[idx] = ok.cpu().numpy()
            forward_evals[idx] += 1
            if not bool(ok.any()):
                continue
            xa, ya = x[ok], y[ok]
            d, found, fwd = _fmn_batch(model, xa, ya, lo, hi, norm, int(steps), float(gamma),
                                       float(alpha), float(overshoot), int(search_steps), n_cand)
            xadv = (xa + d).clamp(lo, hi)
            with torch.no_grad():
                pa = model(xadv).argmax(1)
            found = found & (pa != ya)
            sel = idx[ok.cpu().numpy()]
            grad_evals[sel] = int(steps) - 1 + max(n_cand - 1, 1)
            forward_evals[sel] += fwd + 1
            success[sel] = found.cpu().numpy()
            pred_adv[sel] = pa.cpu().numpy()
            keep = torch.where(found.view(-1, 1, 1, 1), xadv, xa)
            adv[torch.as_tensor(sel)] = keep.detach().to(adv.device, adv.dtype)
    d = (adv - images.detach()).double().cpu()
    scale = 255.0 / (hi - lo)
    nan = np.full(n, np.nan)
    mean_abs = np.where(success, _flat(d).abs().mean(1).numpy() * scale, nan)
    linf = np.where(success, _flat(d).abs().amax(1).numpy() * scale, nan)
    l2 = np.where(success, _flat(d).norm(dim=1).numpy(), nan)
    return AttackResult(correct=correct, success=success, adv=adv, mean_abs_8bit=mean_abs, linf_8bit=linf,
                        l2=l2, grad_evals=grad_evals, forward_evals=forward_evals, pred_clean=pred_clean,
                        pred_adv=pred_adv, labels=labels.cpu().numpy(), norm=norm, steps=int(steps),
                        bounds=(lo, hi))
