"""Node embeddings: FastRP (very sparse random projection) and node2vec, with the scikit-learn
estimator contract (``fit(graph)``, ``transform()``, ``fit_transform(graph)``, ``embedding_``)."""
from .fastrp import FastRP
from .node2vec import Node2Vec

__all__ = ["FastRP", "Node2Vec"]
