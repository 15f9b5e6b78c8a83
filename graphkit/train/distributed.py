"""Data-parallel training on ``torch.distributed`` (DistributedDataParallel), launched by torchrun:
``torchrun --standalone --nproc-per-node=N -m graphkit train node-classification ... --ddp``.

Every rank builds the same model from the same seed, samples its own shard of each pass's seeds
(:class:`graphkit.loader.NeighborLoader` reads the rank and world size), and DDP all-reduces the
gradients, so every rank holds the same parameters after every step; every rank evaluates the
same model on the same data (the same figures, so selection and early stopping agree without a
message), and rank 0 alone writes checkpoints, ledgers and reports.
"""
from __future__ import annotations

import os
from datetime import timedelta
from typing import Tuple

import torch
import torch.distributed as dist
from torch import nn


def world() -> Tuple[int, int]:
    """``(rank, world_size)`` of this process: ``(0, 1)`` outside a distributed run."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def is_main() -> bool:
    """Whether this process writes (rank 0, or the only process)."""
    return world()[0] == 0


def init_from_env(backend: str = None) -> Tuple[int, int]:
    """Join the process group torchrun describes (``RANK``, ``WORLD_SIZE``, ``MASTER_ADDR``,
    ``MASTER_PORT`` in the environment): gloo on the CPU, NCCL on a GPU. ``(rank, world_size)``."""
    if not dist.is_available():
        raise RuntimeError("this torch build has no torch.distributed")
    if not dist.is_initialized():
        missing = [k for k in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT") if k not in os.environ]
        if missing:
            raise ValueError(f"--ddp needs the environment torchrun sets ({', '.join(missing)} missing): launch "
                               "with torchrun --standalone --nproc-per-node=N -m graphkit ... --ddp")
        backend = backend or ("nccl" if torch.cuda.is_available() else "gloo")
        restart = os.environ.get("TORCHELASTIC_RESTART_COUNT")
        if restart is not None and os.environ.get("TORCHELASTIC_USE_AGENT_STORE") == "True":
            # torchrun's agent keeps one store across restarts: the keys of each attempt apart, so that
            # restarted workers never read the addresses of the ones they replace
            rank, size = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
            store = dist.TCPStore(os.environ["MASTER_ADDR"], int(os.environ["MASTER_PORT"]), size, is_master=False,
                                  timeout=timedelta(minutes=10))
            dist.init_process_group(backend, store=dist.PrefixStore(f"graphkit/attempt_{restart}", store), rank=rank,
                                    world_size=size)
        else:
            dist.init_process_group(backend)
    return world()


def wrap(model: nn.Module) -> nn.Module:
    """``DistributedDataParallel(model)`` in a run of more than one process, else the model."""
    if world()[1] == 1:
        return model
    device = next(model.parameters()).device
    return nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
