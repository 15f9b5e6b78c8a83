"""Task trainers and heads."""
from .node_classification import (NodeClassification, NodeClassificationReport, RunResult, check_node_data,
                                  default_config, load_config)

__all__ = ["NodeClassification", "NodeClassificationReport", "RunResult", "check_node_data",
           "default_config", "load_config"]
