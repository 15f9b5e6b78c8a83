"""Tasks on the engine: what one step computes and how to evaluate, and the estimators that run
seeds and splits (node classification, link prediction, graph classification and regression)."""
from . import presets
from .base import TaskEstimator
from .graph_prediction import GraphPrediction, GraphPredictionConfig, GraphPredictionTask
from .link_prediction import (
    PREDICTORS,
    LinkModel,
    LinkPrediction,
    LinkPredictionConfig,
    LinkPredictionTask,
    build_link_model,
)
from .node_classification import NodeClassification, NodeClassificationConfig, NodeClassificationTask, check_node_data

__all__ = ["GraphPrediction", "GraphPredictionConfig", "GraphPredictionTask", "LinkModel", "LinkPrediction",
           "LinkPredictionConfig", "LinkPredictionTask", "NodeClassification", "NodeClassificationConfig",
           "NodeClassificationTask", "PREDICTORS", "TaskEstimator", "build_link_model", "check_node_data", "presets"]
