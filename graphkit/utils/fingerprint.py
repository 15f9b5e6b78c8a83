"""Fingerprints: a short hash of what a result depends on (tensors by dtype, shape and bytes;
JSON-able values by their JSON), so that a stored result never answers for other data."""
from __future__ import annotations

import hashlib
import json
from typing import Any

import numpy as np
import torch


def _update(digest, value: Any) -> None:
    if isinstance(value, torch.Tensor):
        t = value.detach().cpu().contiguous()
        digest.update(f"tensor|{t.dtype}|{tuple(t.shape)}|".encode())
        digest.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    elif isinstance(value, np.ndarray):
        _update(digest, torch.from_numpy(np.ascontiguousarray(value)))
    elif isinstance(value, dict):
        digest.update(b"dict|")
        for key in sorted(value, key=str):
            digest.update(f"{key}=".encode())
            _update(digest, value[key])
    elif isinstance(value, (list, tuple)):
        digest.update(f"seq|{len(value)}|".encode())
        for item in value:
            _update(digest, item)
    else:
        digest.update(json.dumps(value, sort_keys=True, default=repr).encode())
    digest.update(b";")


def fingerprint(*values: Any) -> str:
    """A 16-hex-digit hash of ``values`` (tensors, arrays, dicts, sequences, JSON-able values)."""
    digest = hashlib.blake2b(digest_size=8)
    for value in values:
        _update(digest, value)
    return digest.hexdigest()
