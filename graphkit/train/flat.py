"""Optimizers over one flat buffer per parameter group.

A GNN of a few dozen small tensors (GIN: 42) spends a good part of each step in the optimizer's
per-tensor bookkeeping: even torch's fused Adam groups, counts and launches over every tensor.
:func:`flat_optimizer` builds the same optimizer over one contiguous buffer per parameter group:
each parameter's data becomes a view of its group's buffer, the gradients are gathered into the
buffer's gradient in one copy, and one fused update covers the whole group. The update is
elementwise, so the parameters take the values the per-tensor optimizer gives them (up to the
last bit of an element that the vectorised kernel reaches by another lane).

Torch's semantics are kept where flat buffers cannot follow them: a parameter without a gradient
at a step is skipped by torch's optimizer (no momentum, no weight decay applied to it), so the
first step at which some parameter has none turns the optimizer, for good, into the per-tensor
one it stands for, its state carried over; the same happens on loading a per-parameter state whose
parameters are at different steps. What a user sees stays torch's: the model's parameters are the
same ``nn.Parameter`` objects, ``.grad`` is theirs (``zero_grad(set_to_none=True)`` clears it),
``param_groups`` keep their options (a scheduler's ``lr`` applies), and ``load_state_dict`` reads
the state dict of either form, so checkpoints of runs begun with torch's optimizer resume.
:meth:`sync_grads` gathers the gradients before the step (the engine calls it before clipping them).
"""
from __future__ import annotations

from collections import defaultdict
from typing import Dict, List, Sequence, Type

import torch
from torch import Tensor, nn

_CLASSES: Dict[type, type] = {}


def can_flatten(groups: Sequence[dict]) -> bool:
    """Whether every group's trainable parameters are dense tensors of one dtype on one device."""
    for group in groups:
        params = [p for p in group["params"] if p.requires_grad]
        if any(p.layout != torch.strided or p.dtype != params[0].dtype or p.device != params[0].device
               for p in params):
            return False
    return True


def flat_optimizer(cls: Type[torch.optim.Optimizer], groups: Sequence[dict], **defaults) -> torch.optim.Optimizer:
    """``cls(groups, **defaults)`` over one flat buffer per group (see the module's docstring);
    parameters that do not require grad are left out, as the optimizer would never move them."""
    if cls not in _CLASSES:
        _CLASSES[cls] = type(f"Flat{cls.__name__}", (_Flat, cls), {"__doc__": f"{cls.__name__} over flat buffers."})
    return _CLASSES[cls](groups, **defaults)


class _Flat:
    """The flat buffers, mixed in before a torch optimizer class."""

    def __init__(self, groups: Sequence[dict], **defaults):
        flat_groups: List[dict] = []
        self.members: List[List[nn.Parameter]] = []
        seen = set()
        for group in groups:
            params = [p for p in group["params"] if p.requires_grad]
            if any(id(p) in seen for p in params) or len({id(p) for p in params}) != len(params):
                raise ValueError("some parameters appear more than once in the parameter groups")
            seen.update(id(p) for p in params)
            if not params:
                continue
            with torch.no_grad():
                data = torch.cat([p.detach().reshape(-1) for p in params])
            for p, view in zip(params, data.split([p.numel() for p in params])):
                p.data = view.view_as(p)
            buffer = nn.Parameter(data)
            buffer.grad = torch.zeros_like(data)
            flat_groups.append(dict(group, params=[buffer]))
            self.members.append(params)
        self.flat, self._synced = True, False
        super().__init__(flat_groups, **defaults)

    def member_counts(self) -> List[int]:
        """The parameters of each group."""
        return [len(members) for members in self.members]

    def zero_grad(self, set_to_none: bool = True) -> None:
        """The parameters' gradients, cleared as torch's optimizer does."""
        self._synced = False
        if not self.flat:
            return super().zero_grad(set_to_none)
        for members in self.members:
            for p in members:
                if set_to_none:
                    p.grad = None
                elif p.grad is not None:
                    p.grad.detach_().zero_()

    def sync_grads(self) -> None:
        """Gather the parameters' gradients into the flat buffers (once per step; what clips the
        buffers' gradients then clips what the step uses). A parameter without a gradient turns the
        optimizer into the per-tensor one first."""
        if not self.flat or self._synced:
            return
        if any(p.grad is None for members in self.members for p in members):
            self._unflatten()
            return
        for group, members in zip(self.param_groups, self.members):
            buffer = group["params"][0]
            self._check_views(buffer, members)
            torch.cat([p.grad.reshape(-1) for p in members], out=buffer.grad)
        self._synced = True

    def step(self, closure=None):
        if closure is not None:  # the closure recomputes the gradients: gather them afterwards
            with torch.enable_grad():
                loss = closure()
            self._synced = False
            self.sync_grads()
            super().step()
            return loss
        self.sync_grads()
        return super().step()

    @staticmethod
    def _check_views(buffer: Tensor, members: List[nn.Parameter]) -> None:
        start, end = buffer.data_ptr(), buffer.data_ptr() + buffer.numel() * buffer.element_size()
        for p in members:
            if not start <= p.data_ptr() < end:
                raise RuntimeError("a parameter's tensor was replaced after its optimizer was built (model.to(), "
                                   "load_state_dict(assign=True), ...); build the optimizer again")

    def _unflatten(self) -> None:
        """Become the per-tensor optimizer: one group entry per parameter, the state split."""
        groups, state = [], {}
        for group, members in zip(self.param_groups, self.members):
            buffer = group["params"][0]
            entry = self.state.get(buffer, {})
            offset = 0
            for p in members:
                n = p.numel()
                if entry:
                    state[p] = {k: (v[offset:offset + n].view_as(p).clone() if isinstance(v, Tensor) and v.dim() else
                                    (v.clone() if isinstance(v, Tensor) else v)) for k, v in entry.items()}
                offset += n
            groups.append(dict(group, params=list(members)))
        self.param_groups = groups
        self.state = defaultdict(dict, state)
        self.flat = False

    def load_state_dict(self, state_dict: dict) -> None:
        """An ordinary state dict of this optimizer in either form (flat buffers, or the per-tensor
        optimizer of the same groups); a per-tensor state whose parameters are at different steps
        (some never stepped) turns it into the per-tensor optimizer."""
        saved_groups, state = state_dict["param_groups"], state_dict["state"]
        if len(saved_groups) != len(self.members):
            raise ValueError(f"the state dict has {len(saved_groups)} parameter groups, this optimizer "
                             f"{len(self.members)}")
        counts = [len(g["params"]) for g in saved_groups]
        if counts == [len(g["params"]) for g in self.param_groups]:  # this optimizer's own form
            return super().load_state_dict(state_dict)
        if counts != self.member_counts():
            raise ValueError(f"the state dict's groups hold {counts} parameters, this optimizer's "
                             f"{self.member_counts()} (or one flat buffer each)")
        steps = {float(s["step"]) if "step" in s else None for s in state.values()}
        every = all(i in state for g in saved_groups for i in g["params"])
        if self.flat and not (every and len(steps) <= 1):
            self._unflatten()
        if not self.flat:
            return super().load_state_dict(state_dict)
        return super().load_state_dict(self._flattened(state_dict))

    @staticmethod
    def _flattened(state_dict: dict) -> dict:
        """The per-tensor state of parameters all at one step, as the flat buffers' state."""
        state, new_state, new_groups = state_dict["state"], {}, []
        for k, group in enumerate(state_dict["param_groups"]):
            per = [state[i] for i in group["params"]]
            entry = {}
            for key, value in per[0].items():
                if isinstance(value, Tensor) and value.dim():
                    entry[key] = torch.cat([s[key].reshape(-1) for s in per])
                else:  # the step (a 0-d tensor or a number), not shared with the source
                    entry[key] = value.clone() if isinstance(value, Tensor) else value
            new_state[k] = entry
            new_groups.append(dict(group, params=[k]))
        return {"state": new_state, "param_groups": new_groups}
