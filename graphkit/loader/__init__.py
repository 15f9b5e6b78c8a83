"""Loaders: what the engine iterates over. The full graph is a loader of one :class:`Batch`;
link prediction iterates over mini-batches of node pairs."""
from .batch import Batch
from .full import FullGraphLoader
from .link import EdgeBatchLoader, TrainGraph, pair_loader

__all__ = ["Batch", "EdgeBatchLoader", "FullGraphLoader", "TrainGraph", "pair_loader"]
