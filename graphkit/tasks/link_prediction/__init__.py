"""Link prediction: heuristics, predictor heads (dot, MLP, NCN, NCNC) and the trainer."""
from .heuristics import HEURISTICS, adamic_adar, common_neighbors, resource_allocation

__all__ = ["HEURISTICS", "adamic_adar", "common_neighbors", "resource_allocation"]
