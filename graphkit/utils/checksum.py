"""splitmix64 in pure torch, and the content checksum built on it.

``splitmix64`` is the counter-based hash behind graphkit's dropout draw and its content checksum,
bit for bit the ``dropout_bits`` of ``kernels/csrc/dropout_mask.h`` (torch has no uint64
arithmetic: the constants are signed int64 and products wrap mod 2^64). :func:`checksum_torch` is
the pure-torch twin of the native ``checksum`` kernel (``kernels/csrc/cpu/checksum.cpp``);
:func:`checksum` runs the kernel once graphkit's native library is loaded.
"""
from __future__ import annotations

from typing import Union

import torch
from torch import Tensor

PHI, MIX1, MIX2 = (c - 2 ** 64 for c in (0x9E3779B97F4A7C15, 0xBF58476D1CE4E5B9, 0x94D049BB133111EB))


def _shift_right(z: Tensor, k: int) -> Tensor:
    """Logical (unsigned) right shift of int64 values."""
    return (z >> k) & ((1 << (64 - k)) - 1)


def splitmix64(seed: Union[int, Tensor], count: int, device: torch.device) -> Tensor:
    """``[count]`` int64: ``splitmix64(seed + (i + 1) * phi)`` for ``i < count``, ``seed`` an int or
    a ``[count]`` int64 tensor."""
    return mix64(torch.arange(1, count + 1, dtype=torch.int64, device=device) * PHI + seed)


def mix64(z: Tensor) -> Tensor:
    """SplitMix64's output function of the states ``z`` (int64, wrapping), elementwise."""
    z = (z ^ _shift_right(z, 30)) * MIX1
    z = (z ^ _shift_right(z, 27)) * MIX2
    return z ^ _shift_right(z, 31)


def stream_words(state: Tensor, draws: int, skip: int = 0) -> Tensor:
    """``[S, draws]`` int64: the raw 64-bit values ``skip + 1 .. skip + draws`` of each stream."""
    counters = torch.arange(skip + 1, skip + draws + 1, dtype=torch.int64, device=state.device)
    return mix64(state.unsqueeze(1) + counters * PHI)


def stream_uniform(state: Tensor, draws: int, skip: int = 0) -> Tensor:
    """``[S, draws]`` float64 in ``[0, 1)``: values ``skip + 1 .. skip + draws`` of the ``Stream``
    of ``kernels/csrc/walk_step.h`` started at each of the ``[S]`` int64 ``state``s, bit for bit."""
    return _shift_right(stream_words(state, draws, skip), 11).to(torch.float64) * (1.0 / 9007199254740992.0)


def checksum(t: Tensor) -> int:
    """A position-sensitive 64-bit checksum of ``t``'s bytes, as a signed int: the wrapping sum over
    its 8-byte words ``w_i`` (the last one zero-padded) of ``splitmix64(w_i + (i + 1) * phi)``. Any
    one changed word changes it. On the CPU, once graphkit's native library is loaded, the kernel
    computes it (about 1 ms for 32 MB); else :func:`checksum_torch`, the same number."""
    if t.device.type == "cpu":
        try:
            kernel = torch.ops.graphkit.checksum
        except (AttributeError, RuntimeError):  # the native library is not loaded
            kernel = None
        if kernel is not None:
            return kernel(t)
    return checksum_torch(t)


def checksum_torch(t: Tensor) -> int:
    """:func:`checksum` in pure torch (any device)."""
    data = t.detach().contiguous().reshape(-1).view(torch.uint8)
    if data.numel() % 8:
        data = torch.cat([data, data.new_zeros(8 - data.numel() % 8)])
    words = data.view(torch.int64)
    return int(splitmix64(words, words.numel(), t.device).sum())
