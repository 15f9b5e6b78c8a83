"""Loaders: what the engine iterates over. The full graph is a loader of one :class:`Batch`;
link prediction iterates over mini-batches of node pairs, graph-level tasks over batches of graphs,
mini-batch node tasks over seed nodes with their sampled neighbourhoods."""
from .batch import Batch
from .full import FullGraphLoader
from .graphs import GraphLoader, GraphStore, from_pyg
from .link import EdgeBatchLoader, TrainGraph, pair_loader
from .neighbor import LinkNeighborLoader, NeighborLoader, check_fanouts

__all__ = ["Batch", "EdgeBatchLoader", "FullGraphLoader", "GraphLoader", "GraphStore", "LinkNeighborLoader",
           "NeighborLoader", "TrainGraph", "check_fanouts", "from_pyg", "pair_loader"]
