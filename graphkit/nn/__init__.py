"""Neural-network building blocks on graphkit's message-passing core."""
from .conv import GATConv, GCNConv, GINConv, SAGEConv
from .message_passing import MessagePassing
from .models import GAT, GCN, GIN, MLP, MODELS, BasicGNN, GraphSAGE, build_model

__all__ = ["MessagePassing", "GCNConv", "SAGEConv", "GATConv", "GINConv",
           "BasicGNN", "GCN", "GraphSAGE", "GAT", "GIN", "MLP", "MODELS", "build_model"]
