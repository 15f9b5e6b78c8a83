"""Each conv against its PyG counterpart with the same weights (1e-5), both execution paths of
MessagePassing, and gradients through whole layers."""
from __future__ import annotations

import pytest
import torch
import torch_geometric.nn as pyg
from torch import nn

from graphkit import Adj, ops
from graphkit.nn import GATConv, GCNConv, GINConv, MessagePassing, SAGEConv

from graphs import random_graph

pytestmark = pytest.mark.usefixtures("each_backend")  # every test on both op backends

N, E, F_IN = 40, 200, 12


@pytest.fixture
def graph():
    torch.manual_seed(0)
    return random_graph(N, E, seed=0), torch.randn(N, F_IN), torch.rand(E)


def close(a, b):
    torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("out_channels", [5, 30])  # both sides of the lin-first / propagate-first choice
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("normalize", [True, False])
def test_gcn_matches_pyg(graph, out_channels, weighted, normalize):
    ei, x, w = graph
    w = w if weighted else None
    ours = GCNConv(F_IN, out_channels, normalize=normalize)
    ref = pyg.GCNConv(F_IN, out_channels, normalize=normalize)
    ref.lin.weight.data.copy_(ours.lin.weight)
    ours.bias.data.normal_()
    ref.bias.data.copy_(ours.bias)
    close(ours(x, ei, w), ref(x, ei, w))
    # An Adj input gives the same as the edge_index input.
    close(ours(x, Adj.from_edge_index(ei, N, w)), ref(x, ei, w))


@pytest.mark.parametrize("aggr", ["mean", "sum", "max"])
@pytest.mark.parametrize("out_channels", [5, 30])
@pytest.mark.parametrize("normalize", [False, True])
def test_sage_matches_pyg(graph, aggr, out_channels, normalize):
    ei, x, _ = graph
    ours = SAGEConv(F_IN, out_channels, aggr=aggr, normalize=normalize)
    ref = pyg.SAGEConv(F_IN, out_channels, aggr=aggr, normalize=normalize)
    ref.lin_l.load_state_dict(ours.lin_l.state_dict())
    ref.lin_r.load_state_dict(ours.lin_r.state_dict())
    close(ours(x, ei), ref(x, ei))


def test_sage_bipartite_matches_pyg():
    ei = torch.tensor([[0, 3, 6, 6, 2], [0, 0, 1, 3, 2]])
    x_src, x_dst = torch.randn(7, F_IN), torch.randn(4, F_IN)
    ours, ref = SAGEConv(F_IN, 6), pyg.SAGEConv(F_IN, 6)
    ref.lin_l.load_state_dict(ours.lin_l.state_dict())
    ref.lin_r.load_state_dict(ours.lin_r.state_dict())
    close(ours((x_src, x_dst), ei), ref((x_src, x_dst), ei))


@pytest.mark.parametrize("heads,concat", [(1, True), (4, True), (3, False)])
@pytest.mark.parametrize("residual", [False, True])
def test_gat_matches_pyg(graph, heads, concat, residual):
    ei, x, _ = graph
    ours = GATConv(F_IN, 6, heads=heads, concat=concat, residual=residual)
    ref = pyg.GATConv(F_IN, 6, heads=heads, concat=concat, residual=residual)
    ref.lin.weight.data.copy_(ours.lin.weight)
    ref.att_src.data.copy_(ours.att_src)
    ref.att_dst.data.copy_(ours.att_dst)
    if residual:
        ref.res.weight.data.copy_(ours.res.weight)
    ours.bias.data.normal_()
    ref.bias.data.copy_(ours.bias)
    close(ours(x, ei), ref(x, ei))
    # Attention coefficients sum to one over each node's incoming edges (self-loop included).
    _, (adj, alpha) = ours(x, ei, return_attention=True)
    close(ops.segment_reduce(alpha, adj, "sum"), torch.ones(N, heads))


def test_gat_attention_dropout_only_in_training(graph):
    ei, x, _ = graph
    conv = GATConv(F_IN, 4, heads=2, dropout=0.5)
    conv.eval()
    close(conv(x, ei), conv(x, ei))
    conv.train()
    torch.manual_seed(1)
    assert not torch.allclose(conv(x, ei), conv(x, ei))


@pytest.mark.parametrize("train_eps", [False, True])
def test_gin_matches_pyg(graph, train_eps):
    ei, x, _ = graph
    mlp = nn.Sequential(nn.Linear(F_IN, 8), nn.ReLU(), nn.Linear(8, 8))
    ours = GINConv(mlp, eps=0.25, train_eps=train_eps)
    ref = pyg.GINConv(mlp, eps=0.25, train_eps=train_eps)
    close(ours(x, ei), ref(x, ei))


class WeightedDiff(MessagePassing):
    """A non-linear message (general gather-reduce path): w_ij * relu(x_j - x_i)."""

    def __init__(self, aggr):
        super().__init__(aggr)

    def forward(self, x, graph):
        return self.propagate(self.adj(graph, x.size(0)), x)

    def message(self, x_j, x_i, edge_weight=None):
        out = torch.relu(x_j - x_i)
        return out if edge_weight is None else out * edge_weight.unsqueeze(-1)


class Copy(MessagePassing):
    def forward(self, x, graph):
        return self.propagate(self.adj(graph, x.size(0)), x)


@pytest.mark.parametrize("aggr", ["sum", "mean", "max", "min"])
def test_general_path_matches_pyg_message_passing(graph, aggr):
    ei, x, _ = graph

    class Ref(pyg.MessagePassing):
        def forward(self, x, edge_index):
            return self.propagate(edge_index, x=x)

        def message(self, x_j, x_i):
            return torch.relu(x_j - x_i)

    layer = WeightedDiff(aggr)
    assert not layer.fused
    close(layer(x, ei), Ref(aggr=aggr)(x, ei))


@pytest.mark.parametrize("aggr", ["sum", "mean", "max", "min"])
def test_fused_and_general_paths_agree(graph, aggr):
    ei, x, w = graph
    adj = Adj.from_edge_index(ei, N, w)
    fused = Copy(aggr)
    assert fused.fused
    general = WeightedDiff(aggr)
    general.message = lambda x_j, edge_weight=None: x_j * edge_weight.unsqueeze(-1)  # same maths, other path
    general._message_args = ["x_j", "edge_weight"]
    close(fused(x, adj), general(x, adj))


def test_layers_gradcheck():
    ei = random_graph(8, 24, seed=2)
    x = torch.randn(8, 3, dtype=torch.float64, requires_grad=True)
    for layer in (GCNConv(3, 2), SAGEConv(3, 2), GATConv(3, 2, heads=2),
                  GINConv(nn.Sequential(nn.Linear(3, 2), nn.Tanh()))):
        layer = layer.double()
        assert torch.autograd.gradcheck(lambda x, layer=layer: layer(x, ei), (x,)), type(layer).__name__


def test_unknown_aggregation():
    with pytest.raises(ValueError, match="unknown aggregation"):
        SAGEConv(3, 2, aggr="median")
