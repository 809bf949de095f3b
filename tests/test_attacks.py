"""robustlab.attacks: FGSM / I-FGSM contracts and the minimal change against closed forms (CPU, fast)."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn as nn

from robustlab.attacks import AttackResult, fgsm, ifgsm, minimal_change, quantize_8bit
from robustlab.core.errors import ParameterError


def _linear(k: int, d_shape=(3, 6, 6), seed: int = 0):
    torch.manual_seed(seed)
    lin = nn.Linear(int(np.prod(d_shape)), k).double()
    return nn.Sequential(nn.Flatten(), lin), lin


def _exact_linear(lin: nn.Linear, x: torch.Tensor, y: torch.Tensor, norm: str) -> np.ndarray:
    """Minimal change of a linear classifier, unbounded: min_j (z_y - z_j) / ||w_y - w_j||_dual."""
    W, b = lin.weight.detach(), lin.bias.detach()
    z = x.flatten(1) @ W.T + b
    out = []
    for i in range(len(x)):
        best = np.inf
        for j in range(W.shape[0]):
            if j == int(y[i]):
                continue
            w = W[int(y[i])] - W[j]
            dual = w.abs().sum() if norm == "linf" else w.norm()
            best = min(best, float((z[i, y[i]] - z[i, j]) / dual))
        out.append(best)
    return np.array(out)


@pytest.mark.parametrize("k", [2, 10])
@pytest.mark.parametrize("norm", ["linf", "l2"])
def test_minimal_change_matches_closed_form_for_linear_models(k, norm):
    model, lin = _linear(k)
    x = torch.rand(40, 3, 6, 6, dtype=torch.float64) * 2 - 1
    with torch.no_grad():
        y = model(x).argmax(1)       # all correct by construction; bounds wide enough not to bind
    bounds = (-50.0, 50.0)
    r = minimal_change(model, x, y, norm=norm, steps=30, bounds=bounds)
    exact = _exact_linear(lin, x, y, norm)
    got = r.linf_8bit * (bounds[1] - bounds[0]) / 255 if norm == "linf" else r.l2
    assert r.success.all()
    ratio = got / exact
    assert ratio.max() <= 1.02, ratio.max()
    assert ratio.min() >= 1.0 - 1e-6, ratio.min()     # can't beat the exact minimum and stay adversarial


def test_minimal_change_contract_and_bounds():
    torch.manual_seed(1)
    model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 8 * 8, 5))
    x = torch.rand(24, 3, 8, 8) * 2 - 1
    with torch.no_grad():
        pred = model(x).argmax(1)
    y = pred.clone()
    y[:5] = (pred[:5] + 1) % 5                     # five misclassified images: reported, not attacked
    model.train()
    r = minimal_change(model, x, y, norm="linf", steps=15, bounds=(-1, 1), batch_size=7)
    assert model.training                           # mode restored
    assert isinstance(r, AttackResult) and len(r) == 24
    assert not r.correct[:5].any() and r.correct[5:].all()
    assert not r.success[:5].any() and (r.grad_evals[:5] == 0).all()
    assert np.isnan(r.mean_abs_8bit[:5]).all()
    assert torch.equal(r.adv[:5], x[:5])
    assert r.success[5:].all()
    assert r.adv.min() >= -1 and r.adv.max() <= 1
    with torch.no_grad():
        assert (model.eval()(r.adv[5:]).argmax(1) != y[5:]).all()
    d = (r.adv - x).abs().flatten(1) * 255 / 2
    np.testing.assert_allclose(r.mean_abs_8bit[5:], d.mean(1)[5:].numpy(), rtol=1e-5)
    np.testing.assert_allclose(r.linf_8bit[5:], d.amax(1)[5:].numpy(), rtol=1e-5)
    assert (r.mean_abs_8bit[5:] <= r.linf_8bit[5:] + 1e-9).all()
    s = r.summary()
    assert s["n_correct"] == 19 and s["success_rate"] == 1.0
    assert s["median_linf_8bit"] == pytest.approx(float(np.median(r.linf_8bit[5:])))
    assert len(r.table()) == 24
    # deterministic
    r2 = minimal_change(model, x, y, norm="linf", steps=15, bounds=(-1, 1), batch_size=7)
    assert torch.equal(r.adv, r2.adv)


def test_minimal_change_counts_gradients():
    calls = {"rows": 0}
    torch.manual_seed(2)
    inner = nn.Sequential(nn.Flatten(), nn.Linear(3 * 4 * 4, 10))

    class Counting(nn.Module):
        def forward(self, x):
            if x.requires_grad:
                n = x.shape[0]
                x.register_hook(lambda g: calls.__setitem__("rows", calls["rows"] + n))
            return inner(x)

    x = torch.rand(9, 3, 4, 4)
    with torch.no_grad():
        y = inner(x).argmax(1)
    r = minimal_change(Counting(), x, y, norm="l2", steps=12, bounds=(0, 1), candidates=4)
    assert (r.grad_evals == 12 - 1 + 3).all()
    assert calls["rows"] == r.grad_evals.sum()


def test_minimal_change_rejects_bad_parameters():
    model, _ = _linear(3)
    x = torch.rand(2, 3, 6, 6, dtype=torch.float64)
    y = torch.zeros(2, dtype=torch.long)
    with pytest.raises(ParameterError, match="norm"):
        minimal_change(model, x, y, norm="l1")
    with pytest.raises(ParameterError, match="steps"):
        minimal_change(model, x, y, steps=0, bounds=(0, 1))
    with pytest.raises(ParameterError, match="bounds"):
        minimal_change(model, x * 3, y, bounds=(0, 1))
    with pytest.raises(ParameterError, match="float tensor"):
        minimal_change(model, x.numpy(), y, bounds=(0, 1))


def test_fgsm_step_is_eps_in_8bit_units_and_clipped():
    torch.manual_seed(3)
    model = nn.Sequential(nn.Flatten(), nn.Linear(3 * 5 * 5, 4))
    x = torch.rand(16, 3, 5, 5) * 2 - 1
    y = torch.randint(0, 4, (16,))
    adv = fgsm(model, x, y, eps=4, bounds=(-1, 1))
    d = (adv - x) * 255 / 2
    inner = (x.abs() < 1 - 8 / 255)
    assert torch.allclose(d[inner].abs(), torch.tensor(4.0), atol=1e-4)
    assert adv.min() >= -1 and adv.max() <= 1
    # it increases the loss (untargeted) and decreases it (targeted)
    ce = nn.functional.cross_entropy
    with torch.no_grad():
        assert ce(model(adv), y) > ce(model(x), y)
        t = fgsm(model, x, y, eps=4, bounds=(-1, 1), targeted=True)
        assert ce(model(t), y) < ce(model(x), y)
    # 8-bit grid
    xq = quantize_8bit(x * 0.5 + 0.5, (0, 1))
    a8 = fgsm(model, xq, y, eps=2, bounds=(0, 1), round_to_8bit=True)
    v = a8 * 255
    assert torch.allclose(v, v.round(), atol=1e-4)
    assert ((a8 - xq).abs() * 255).max() <= 2 + 1e-4
    with pytest.raises(ParameterError, match="eps"):
        fgsm(model, x, y, eps=-1, bounds=(-1, 1))
    # params untouched
    assert all(p.grad is None for p in model.parameters())


def test_ifgsm_stays_in_ball_and_beats_fgsm():
    torch.manual_seed(4)
    model = nn.Sequential(nn.Flatten(), nn.Linear(3 * 5 * 5, 16), nn.Tanh(), nn.Linear(16, 4))
    x = torch.rand(32, 3, 5, 5)
    with torch.no_grad():
        y = model(x).argmax(1)
    a1 = fgsm(model, x, y, eps=6)
    ai = ifgsm(model, x, y, eps=6, steps=10)
    assert ((ai - x).abs() * 255).max() <= 6 + 1e-4
    ce = nn.functional.cross_entropy
    with torch.no_grad():
        assert ce(model(ai), y) >= ce(model(a1), y)
    ar = ifgsm(model, x, y, eps=6, steps=3, random_start=True, seed=5)
    assert torch.equal(ar, ifgsm(model, x, y, eps=6, steps=3, random_start=True, seed=5))


# ------------------------------------------------------------------------------ delta (paper A) helpers
def _synthetic_table(noise_bump: float, high_drop: float, arch_scale: dict):
    import pandas as pd

    rows = []
    for arch, sc in arch_scale.items():
        for kind in ("noise", "blur"):
            for s in (0.0, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0):
                base = 2.0 * sc
                if kind == "noise" and 0 < s <= 0.1:
                    base *= 1 + noise_bump
                if s >= 1:
                    base *= 1 - high_drop
                for i in range(4):
                    rows.append({"arch": arch, "kind": kind, "sigma_train": s, "image": i, "label": 0,
                                 "correct": True, "success": True, "mean_abs_8bit": base, "linf_8bit": base,
                                 "l2": 0.1, "grad_evals": 10})
    return pd.DataFrame(rows)


def test_delta_summary_per_model():
    """The per-model summary of a delta table (the claims on it are tested in tests/test_claims_a.py)."""
    from robustlab.paper_a.delta import summarize

    s = summarize(_synthetic_table(0.1, 0.3, {"resnet": 1}))
    assert len(s) == 14 and (s["success_rate"] == 1).all()
