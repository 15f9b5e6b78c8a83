"""Optimizers over one flat buffer per parameter group.

A GNN of a few dozen small tensors (GIN: 42) spends a good part of each step in the optimizer's
per-tensor bookkeeping: even torch's fused Adam groups, counts and launches over every tensor.
:func:`flat_optimizer` builds the same optimizer over one contiguous buffer per parameter group:
each parameter's data becomes a view of its group's buffer and its ``.grad`` a view of the
buffer's gradient, so backward accumulates straight into the flat gradient and one fused update
covers the whole group. The update is elementwise, so the parameters follow the values the
per-tensor optimizer gives them, up to the last bit of an element the vectorised kernel reaches by
another lane (a tensor's offset in the buffer decides which).

What a user sees stays torch's: the model's parameters are the same ``nn.Parameter`` objects
(their ``.data`` and ``.grad`` are views), ``param_groups`` keep their options (a scheduler's
``lr`` applies), and the state dict is an ordinary one over the flat buffers. ``load_state_dict``
also reads the per-parameter state a plain torch optimizer of the same groups wrote (checkpoints
of runs begun before), by concatenating it. ``zero_grad`` zeroes the flat gradients in place. A
parameter whose ``.data`` or ``.grad`` was replaced since (``model.zero_grad()``, a re-assigned
tensor) is copied back into its buffer and re-attached at the next ``step``.
"""
from __future__ import annotations

from typing import Dict, List, Sequence, Tuple, Type

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
        self.members: List[List[Tuple[nn.Parameter, Tensor, Tensor]]] = []  # (parameter, data view, grad view)
        for group in groups:
            params = [p for p in group["params"] if p.requires_grad]
            if not params:
                continue
            with torch.no_grad():
                data = torch.cat([p.detach().reshape(-1) for p in params])
            grad = torch.zeros_like(data)
            sizes = [p.numel() for p in params]
            members = []
            for p, d, g in zip(params, data.split(sizes), grad.split(sizes)):
                p.data = d.view_as(p)
                p.grad = g.view_as(p)
                members.append((p, p.data, p.grad))
            buffer = nn.Parameter(data)
            buffer.grad = grad
            flat_groups.append(dict(group, params=[buffer]))
            self.members.append(members)
        super().__init__(flat_groups, **defaults)

    def member_counts(self) -> List[int]:
        """The parameters behind each group's flat buffer."""
        return [len(members) for members in self.members]

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Zero the flat gradients in place: the parameters' ``.grad`` are views of them."""
        for group in self.param_groups:
            group["params"][0].grad.zero_()

    def step(self, closure=None):
        self._reattach()
        return super().step(closure)

    def _reattach(self) -> None:
        for members in self.members:
            for k, (p, data, grad) in enumerate(members):
                if p.data_ptr() != data.data_ptr():  # .data re-assigned (a load with assign=True, say)
                    if p.shape != data.shape:
                        raise RuntimeError(f"a parameter of shape {list(data.shape)} was replaced by one of shape "
                                           f"{list(p.shape)} after its optimizer was built; build the optimizer again")
                    data.copy_(p.detach())
                    p.data = data
                if p.grad is not grad:  # set to None (model.zero_grad()) or replaced since
                    if p.grad is None:
                        grad.zero_()
                    else:
                        grad.copy_(p.grad)
                    p.grad = grad
                    members[k] = (p, data, p.grad)

    def load_state_dict(self, state_dict: dict) -> None:
        """An ordinary state dict over the flat buffers, or that of the per-parameter optimizer of the
        same groups (each state concatenated in the parameters' order)."""
        super().load_state_dict(self._flattened(state_dict))

    def _flattened(self, state_dict: dict) -> dict:
        saved_groups, state = state_dict["param_groups"], state_dict["state"]
        if len(saved_groups) != len(self.members):
            raise ValueError(f"the state dict has {len(saved_groups)} parameter groups, this optimizer "
                             f"{len(self.members)}")
        new_state, new_groups = {}, []
        for k, (group, members) in enumerate(zip(saved_groups, self.members)):
            ids = group["params"]
            if len(ids) not in (1, len(members)):
                raise ValueError(f"group {k} of the state dict has {len(ids)} parameters, this optimizer's "
                                 f"{len(members)} (or one flat buffer)")
            per = [state.get(i) for i in ids]
            present = [s for s in per if s is not None]
            if present:
                sizes = [data.numel() for _, data, _ in members]
                sizes = [sum(sizes)] if len(ids) == 1 else sizes
                entry = {}
                for key, value in present[0].items():
                    if key == "step":  # the same count for every parameter a step has reached
                        step = max((s[key] for s in present), key=float)
                        entry[key] = step.clone() if isinstance(step, Tensor) else step  # not shared with the source
                    elif isinstance(value, Tensor):
                        entry[key] = torch.cat([(s[key] if s is not None else value.new_zeros(n)).reshape(-1)
                                                for s, n in zip(per, sizes)])
                    else:
                        entry[key] = value
                new_state[k] = entry
            new_groups.append(dict(group, params=[k]))
        return {"state": new_state, "param_groups": new_groups}
