"""Functional helpers shared by the models."""
from __future__ import annotations

import weakref

import torch
import torch.nn.functional as F
from torch import Tensor

# Flat indices of the non-zeros of input feature matrices, keyed on tensor identity + version.
_SUPPORT: dict = {}
_SPARSE_ENOUGH = 0.25  # below this density, dropout samples only the non-zeros


def _support(x: Tensor) -> Tensor:
    key = id(x)
    entry = _SUPPORT.get(key)
    if entry is not None and entry[0]() is x and entry[1] == x._version:
        return entry[2]
    flat = x.detach().reshape(-1).nonzero().view(-1)
    _SUPPORT[key] = (weakref.ref(x, lambda _, k=key: _SUPPORT.pop(k, None)), x._version, flat)
    return flat


def dropout(x: Tensor, p: float, training: bool) -> Tensor:
    """``F.dropout`` with the same distribution, faster on sparse inputs.

    Bag-of-words features are mostly zeros, and a zero stays zero whether it is dropped or not,
    so for a leaf input with few non-zeros only those are sampled (as Kipf & Welling's sparse
    dropout does); the support is found once per input tensor. Elsewhere it is ``F.dropout``.
    """
    if not training or p == 0.0:
        return x
    if p >= 1.0 or x.requires_grad or x.dim() != 2 or not x.is_floating_point():
        return F.dropout(x, p, training)
    flat = _support(x)
    if flat.numel() > _SPARSE_ENOUGH * x.numel():
        return F.dropout(x, p, training)
    keep = flat[torch.rand(flat.numel(), device=x.device) >= p]
    out = torch.zeros(x.numel(), dtype=x.dtype, device=x.device)
    out[keep] = x.reshape(-1)[keep] * (1.0 / (1.0 - p))
    return out.view_as(x)
