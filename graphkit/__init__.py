"""graphkit: graph learning on one message-passing core.

The data path: ``graphkit.datasets.load(name)`` -> PyG ``Data`` -> :class:`graphkit.Adj`
(CSR + cached CSC, built once) -> a model from :mod:`graphkit.nn` -> a task trainer in
:mod:`graphkit.tasks` -> metrics, tables, JSON and plots.
"""
from . import ops
from .adj import Adj, check_edge_index, check_features, to_adj

__version__ = "0.1.0"
__all__ = ["Adj", "to_adj", "check_edge_index", "check_features", "ops", "__version__"]
