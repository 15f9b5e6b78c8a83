"""Classic message-passing layers: GCN, GraphSAGE, GAT, GIN, GINE."""
from .gat import GATConv
from .gcn import GCNConv
from .gin import GINConv
from .gine import GINEConv
from .sage import SAGEConv

__all__ = ["GCNConv", "SAGEConv", "GATConv", "GINConv", "GINEConv"]
