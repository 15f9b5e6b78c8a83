"""Task trainers and heads."""
from .node_classification import (NodeClassification, NodeClassificationReport, RunResult, check_node_data,
                                  default_config, load_config)
from .link_prediction import LinkPrediction, LinkPredictionReport

__all__ = ["LinkPrediction", "LinkPredictionReport", "NodeClassification", "NodeClassificationReport", "RunResult", "check_node_data",
           "default_config", "load_config"]
