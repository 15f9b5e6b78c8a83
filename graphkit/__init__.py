"""graphkit: graph learning on one message-passing core.

The data path: ``graphkit.datasets.load(name)`` -> PyG ``Data`` -> a loader of batches (the full
graph, or mini-batches) over :class:`graphkit.Adj` -> a model built from :mod:`graphkit.nn` ->
a task in :mod:`graphkit.tasks`, run by the engine in :mod:`graphkit.train` -> metrics, tables,
JSON and plots.

``import graphkit as gk`` gives the sub-packages lazily (PEP 562): ``gk.nn``, ``gk.datasets``,
``gk.embed``, ``gk.tasks``, ``gk.train``, ``gk.evaluate``, ``gk.loader``, ``gk.transforms``,
``gk.ops``, ``gk.utils``.
"""
import importlib

from .adj import Adj, check_edge_index, check_features, debug, to_adj

__version__ = "0.1.0"
_SUBPACKAGES = ("datasets", "embed", "evaluate", "loader", "nn", "ops", "tasks", "train", "transforms", "utils")
__all__ = ["Adj", "to_adj", "check_edge_index", "check_features", "debug", "__version__", *_SUBPACKAGES]


def __getattr__(name: str):
    if name in _SUBPACKAGES:
        module = importlib.import_module(f".{name}", __name__)
        globals()[name] = module
        return module
    raise AttributeError(f"module 'graphkit' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_SUBPACKAGES))
