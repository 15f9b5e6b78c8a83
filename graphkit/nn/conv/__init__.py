"""Classic message-passing layers: GCN, GraphSAGE, GAT, GIN."""
from .gat import GATConv
from .gcn import GCNConv
from .gin import GINConv
from .sage import SAGEConv

__all__ = ["GCNConv", "SAGEConv", "GATConv", "GINConv"]
