"""Stacked (vmapped) models train exactly like separate ones, up to float rounding."""
import copy

import pytest
import torch
import torch.nn.functional as F

from robustlab.models import build
from robustlab.stacked import StackedModels


def _sgd(params_or_groups):
    return torch.optim.SGD(params_or_groups, lr=0.01, momentum=0.9, nesterov=True)


@pytest.mark.parametrize("arch", ["resnet", "inception", "resnext"])
def test_stacked_training_equals_separate(arch):
    torch.manual_seed(0)
    models = [build(arch, width=1 / 16) for _ in range(3)]
    ref = [copy.deepcopy(m) for m in models]
    st = StackedModels(models).train()
    opt = _sgd(st.parameter_groups(5e-4))
    ropt = [_sgd([{"params": [p for p in m.parameters() if p.ndim > 1], "weight_decay": 5e-4},
                  {"params": [p for p in m.parameters() if p.ndim <= 1], "weight_decay": 0.0}]) for m in ref]
    g = torch.Generator().manual_seed(1)
    for _ in range(3):
        x = torch.randn(3, 16, 3, 32, 32, generator=g)
        y = torch.randint(0, 10, (16,), generator=g)
        out = st(x)
        loss = sum(F.cross_entropy(out[i], y) for i in range(3))
        opt.zero_grad()
        loss.backward()
        opt.step()
        for i, m in enumerate(ref):
            m.train()
            ropt[i].zero_grad()
            F.cross_entropy(m(x[i]), y).backward()
            ropt[i].step()
    st.unstack()
    for m, r in zip(models, ref):
        for (k, a), b in zip(m.state_dict().items(), r.state_dict().values()):
            if a.is_floating_point():
                assert torch.allclose(a, b, atol=2e-3, rtol=1e-3), k
            else:
                assert torch.equal(a, b), k  # BatchNorm's num_batches_tracked


def test_shared_input_and_shape_check():
    torch.manual_seed(0)
    models = [build("resnet", width=1 / 16).eval() for _ in range(2)]
    st = StackedModels(models).eval()
    x = torch.randn(5, 3, 32, 32)
    with torch.no_grad():
        out = st(x, shared=True)
        assert out.shape == (2, 5, 10)
        for i, m in enumerate(models):
            assert torch.allclose(out[i], m(x), atol=1e-4)
    with pytest.raises(ValueError, match="expected 2 models"):
        st(torch.randn(3, 5, 3, 32, 32))


pytestmark = pytest.mark.usefixtures("one_thread")
