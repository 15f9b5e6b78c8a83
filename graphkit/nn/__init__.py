"""Neural-network building blocks on graphkit's message-passing core."""
from .conv import GATConv, GCNConv, GINConv, GINEConv, SAGEConv
from .graph_models import GRAPH_MODELS, GraphGIN, MolGNN, build_graph_model
from .message_passing import MessagePassing
from .models import GAT, GCN, GIN, MLP, MODELS, BasicGNN, GraphSAGE, build_model
from .pool import AttentionalAggregation, global_add_pool, global_max_pool, global_mean_pool
from .sheaf import BundleSheaf, DiagSheaf, GeneralSheaf, SheafDiffusion

__all__ = ["MessagePassing", "GCNConv", "SAGEConv", "GATConv", "GINConv", "GINEConv",
           "BasicGNN", "GCN", "GraphSAGE", "GAT", "GIN", "MLP", "MODELS", "build_model",
           "SheafDiffusion", "DiagSheaf", "BundleSheaf", "GeneralSheaf",
           "global_add_pool", "global_mean_pool", "global_max_pool", "AttentionalAggregation",
           "GraphGIN", "MolGNN", "VirtualNode", "GRAPH_MODELS", "build_graph_model"]
