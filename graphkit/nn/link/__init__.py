"""Link predictors (layers scoring node pairs from node representations) and the neighbourhood
heuristics."""
from .heuristics import HEURISTICS, adamic_adar, common_neighbors, resource_allocation
from .predictors import DotPredictor, MLPPredictor, NCNCPredictor, NCNPredictor, ReLUDropout

__all__ = ["DotPredictor", "HEURISTICS", "MLPPredictor", "NCNCPredictor", "NCNPredictor", "ReLUDropout",
           "adamic_adar", "common_neighbors", "resource_allocation"]
