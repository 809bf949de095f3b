"""Several models of one architecture as one: train or evaluate them on shared batches at once.

Paper A trains 13 small nets per architecture that differ only in the σ of their training data.
One such net cannot fill a GPU (and on a CPU its small convolutions are dominated by per-layer
overhead), so :class:`StackedModels` runs M of them as one vectorised model with
:func:`torch.func.vmap` over their stacked parameters and buffers (``torch.func.stack_module_state``):
each convolution becomes one batched (grouped) convolution over all M models.

The models stay independent: their parameters are disjoint slices of the stacked tensors, the loss
is the *sum* of the per-model losses (so each slice's gradient is that model's own gradient), and
SGD with momentum and weight decay acts elementwise. Training M models stacked therefore equals
training each alone on the same batches, up to floating-point rounding; BatchNorm running statistics
are updated per model (tested in ``tests/test_stacked.py``).
"""
from __future__ import annotations

import copy
from typing import Sequence

import torch
from torch import nn

__all__ = ["StackedModels"]


class StackedModels(nn.Module):
    """M models with identical structure, evaluated together.

    ``forward(x)`` takes ``x`` of shape ``(M, B, ...)`` (one batch per model), or ``(B, ...)`` with
    ``shared=True`` (the same batch for every model), and returns ``(M, B, ...)`` outputs.
    :meth:`unstack` writes the trained slices back into the original modules.
    """

    def __init__(self, models: Sequence[nn.Module]):
        super().__init__()
        from torch.func import stack_module_state

        if len(models) == 0:
            raise ValueError("StackedModels needs at least one model")
        keys = [tuple(m.state_dict().keys()) for m in models]
        if any(k != keys[0] for k in keys):
            raise ValueError("StackedModels: the models do not share one structure")
        self.models = list(models)  # plain list: not registered as submodules
        params, buffers = stack_module_state(self.models)
        self._pnames = list(params)
        self._bnames = list(buffers)
        # register as flat parameters/buffers so .to(), optimizers and state_dict see them
        for i, k in enumerate(self._pnames):
            self.register_parameter(f"p{i}", nn.Parameter(params[k].detach().clone()))
        for i, k in enumerate(self._bnames):
            self.register_buffer(f"b{i}", buffers[k].detach().clone())
        self._base = [copy.deepcopy(self.models[0]).to("meta")]  # list: keep it out of the module tree

    @property
    def n(self) -> int:
        return len(self.models)

    def _stacked_params(self) -> dict[str, torch.Tensor]:
        return {k: getattr(self, f"p{i}") for i, k in enumerate(self._pnames)}

    def _stacked_buffers(self) -> dict[str, torch.Tensor]:
        return {k: getattr(self, f"b{i}") for i, k in enumerate(self._bnames)}

    def train(self, mode: bool = True) -> "StackedModels":
        super().train(mode)
        self._base[0].train(mode)
        return self

    def forward(self, x: torch.Tensor, shared: bool = False) -> torch.Tensor:
        """``x``: ``(M, B, ...)``, or ``(B, ...)`` with ``shared=True`` → outputs ``(M, B, ...)``."""
        from torch.func import functional_call, vmap

        base = self._base[0]

        def one(p, b, xi):
            return functional_call(base, (p, b), (xi,))

        if not shared and x.shape[0] != self.n:
            raise ValueError(f"x has leading size {x.shape[0]}, expected {self.n} models (or shared=True)")
        in_dims = (0, 0, None if shared else 0)
        return vmap(one, in_dims=in_dims, randomness="different")(self._stacked_params(), self._stacked_buffers(), x)

    def parameter_groups(self, weight_decay: float) -> list[dict]:
        """SGD groups: weight decay on weights (ndim > 1 per model), none on biases/BatchNorm."""
        decay, no_decay = [], []
        for p in self._stacked_params().values():
            (no_decay if p.ndim <= 2 else decay).append(p)  # stacked: one extra leading dim
        return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]

    @torch.no_grad()
    def unstack(self) -> list[nn.Module]:
        """Copy each model's slice back into the original modules (on their original device)."""
        p, b = self._stacked_params(), self._stacked_buffers()
        for i, m in enumerate(self.models):
            sd = {k: v[i] for k, v in {**p, **b}.items()}
            dev = next(m.parameters()).device
            m.load_state_dict({k: v.to(dev) for k, v in sd.items()})
            m.train(self.training)
        return self.models
