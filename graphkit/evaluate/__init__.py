"""Evaluation protocols usable on any scores or embeddings a user has."""
from .embedding import node_classification_f1

__all__ = ["node_classification_f1"]
