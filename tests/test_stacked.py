"""A wide (stacked) network trains exactly like its M separate networks: SGD steps on the sum of
the per-model losses give each model its own update (float64: to ~1e-12; float32: up to rounding)."""
import copy

import pytest
import torch
import torch.nn.functional as F

from robustlab.paper_a.nets import build, stack_inputs, stack_models, unstack_into


def _sgd(model, lr):
    return torch.optim.SGD([{"params": [p for p in model.parameters() if p.ndim > 1], "weight_decay": 5e-4},
                            {"params": [p for p in model.parameters() if p.ndim <= 1], "weight_decay": 0.0}],
                           lr=lr, momentum=0.9, nesterov=True)


def _train_both(arch, dtype, steps=3, lr=0.05):
    torch.manual_seed(0)
    models = [build(arch, width=1 / 16).to(dtype) for _ in range(3)]
    ref = [copy.deepcopy(m).train() for m in models]
    wide = stack_models(models).train()
    opt, ropt = _sgd(wide, lr), [_sgd(m, lr) for m in ref]
    g = torch.Generator().manual_seed(1)
    for _ in range(steps):
        x = torch.randn(3, 8, 3, 16, 16, generator=g, dtype=dtype)
        y = torch.randint(0, 10, (8,), generator=g)
        out = wide.forward_models(stack_inputs(x))
        opt.zero_grad()
        sum(F.cross_entropy(out[i], y) for i in range(3)).backward()
        opt.step()
        for i, m in enumerate(ref):
            ropt[i].zero_grad()
            F.cross_entropy(m(x[i]), y).backward()
            ropt[i].step()
    unstack_into(wide, models)
    return models, ref


@pytest.mark.parametrize("arch", ["resnet", "inception", "resnext"])
def test_wide_sgd_equals_separate_float64(arch):
    models, ref = _train_both(arch, torch.float64)
    for m, r in zip(models, ref):
        for (k, a), b in zip(m.state_dict().items(), r.state_dict().values()):
            if a.is_floating_point():
                torch.testing.assert_close(a, b, rtol=1e-8, atol=1e-11, msg=k)
            else:
                assert torch.equal(a, b), k  # BatchNorm's num_batches_tracked


def test_wide_sgd_close_to_separate_float32():
    models, ref = _train_both("resnet", torch.float32, lr=0.01)
    for m, r in zip(models, ref):
        for (k, a), b in zip(m.state_dict().items(), r.state_dict().values()):
            if a.is_floating_point():
                assert torch.allclose(a, b, atol=2e-3, rtol=1e-3), k
            else:
                assert torch.equal(a, b), k


pytestmark = pytest.mark.usefixtures("one_thread")
