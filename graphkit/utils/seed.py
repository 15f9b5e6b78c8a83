"""Seeding: every random step in graphkit takes a seed."""
from __future__ import annotations

import random

import numpy as np
import torch


def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's and torch's global generators."""
    random.seed(seed)
    np.random.seed(seed % 2 ** 32)
    torch.manual_seed(seed)


def generator_states() -> dict:
    """The states of Python's, NumPy's and torch's global generators, as tuples, numbers and
    tensors only (a checkpoint loadable with ``weights_only=True`` can hold them)."""
    _, key, pos, has_gauss, gauss = np.random.get_state()
    return {"python": random.getstate(), "torch": torch.get_rng_state(),
            "numpy": {"key": torch.from_numpy(key.astype(np.int64)), "pos": int(pos), "has_gauss": int(has_gauss),
                      "gauss": float(gauss)}}


def set_generator_states(states: dict) -> None:
    """Restore what :func:`generator_states` returned."""
    random.setstate(states["python"])
    torch.set_rng_state(states["torch"])
    numpy = states["numpy"]
    np.random.set_state(("MT19937", numpy["key"].numpy().astype(np.uint32), numpy["pos"], numpy["has_gauss"],
                         numpy["gauss"]))
