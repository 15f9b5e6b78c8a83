"""Argument checks shared by the conv layers: cheap (Python values, tensor dtypes and shapes), never
a host synchronisation, except the features' and edge weights' values in :class:`graphkit.debug`
mode."""
from __future__ import annotations

import numbers
from typing import Optional

import numpy as np
import torch
from torch import Tensor

from ...adj import check_finite, debug


def positive_int(value, name: str, layer: str) -> int:
    """``value`` as a positive int (a numpy integer too; not a bool or a float)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Integral, np.integer)):
        raise TypeError(f"{layer}: {name} must be a positive int, got {type(value).__name__} {value!r}")
    if value <= 0:
        raise ValueError(f"{layer}: {name} must be a positive int, got {value}")
    return int(value)


def _autocast(x: Tensor) -> bool:
    try:
        return torch.is_autocast_enabled(x.device.type)
    except TypeError:  # pragma: no cover - older torch
        return torch.is_autocast_enabled() or torch.is_autocast_cpu_enabled()


def check_input(x, layer: str, weight: Optional[Tensor], in_channels: Optional[int] = None,
                name: str = "x") -> None:
    """``x`` is a tensor ``[N, in_channels]`` of the dtype of the layer's ``weight`` (any dtype under
    autocast, which casts it) and, in :class:`graphkit.debug` mode, finite."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{layer}: {name} must be a torch.Tensor, got {type(x).__name__}")
    if x.dim() < 2:
        raise ValueError(f"{layer}: {name} must have shape [num_nodes, num_features], got {list(x.shape)}")
    if in_channels is not None and x.shape[-1] != in_channels:
        raise ValueError(f"{name} has {x.shape[-1]} features but {layer} expects in_channels={in_channels}")
    if weight is not None and x.dtype != weight.dtype and not (x.is_floating_point() and _autocast(x)):
        raise TypeError(f"{name} is {str(x.dtype).replace('torch.', '')} but the layer's weights are "
                        f"{str(weight.dtype).replace('torch.', '')} ({layer}); convert one of them")
    if debug.enabled() and x.is_floating_point():
        check_finite(x, name, layer)


def check_edge_values(value: Optional[Tensor], layer: str, nonnegative: bool) -> None:
    """In :class:`graphkit.debug` mode only (one host synchronisation): the edge weights are finite
    and, when ``nonnegative``, not negative. Outside it they are taken as given."""
    if value is None or not debug.enabled() or value.numel() == 0:
        return
    if not bool(torch.isfinite(value).all()):
        kind = "NaN" if bool(torch.isnan(value).any()) else "infinite"
        raise ValueError(f"{layer}: edge_weight contains {kind} values")
    if nonnegative and bool((value < 0).any()):
        raise ValueError(f"{layer}: edge_weight contains negative values (the symmetric normalisation "
                         "D^-1/2 A D^-1/2 needs non-negative degrees); pass normalize=False to use them as given")
