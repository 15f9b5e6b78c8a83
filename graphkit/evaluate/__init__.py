"""Evaluation protocols usable on any scores or embeddings a user has."""
from .embedding import node_classification_f1
from .link_prediction import link_prediction

__all__ = ["link_prediction", "node_classification_f1"]
