"""Link prediction: heuristics, predictor heads (dot, MLP, NCN, NCNC) and the trainer."""
from .heads import DotPredictor, MLPPredictor, NCNCPredictor, NCNPredictor, drop_edges, sample_rows
from .heuristics import HEURISTICS, adamic_adar, common_neighbors, resource_allocation
from .trainer import (PREDICTORS, LinkPrediction, LinkPredictionReport, LinkRunResult, LinkSplit, default_config,
                      link_split)

__all__ = ["DotPredictor", "HEURISTICS", "LinkPrediction", "LinkPredictionReport", "LinkRunResult", "LinkSplit",
           "MLPPredictor", "NCNCPredictor", "NCNPredictor", "PREDICTORS", "adamic_adar", "common_neighbors",
           "default_config", "drop_edges", "link_split", "resource_allocation", "sample_rows"]
