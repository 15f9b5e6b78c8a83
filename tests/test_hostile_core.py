"""Hostile inputs to the core API (to_adj, Adj, the convs, the models, ops.gather): each is a clear
ValueError/TypeError naming the argument at the boundary, not a crash deep inside."""
import numpy as np
import pytest
import torch
from torch import nn

import graphkit
from graphkit import ops
from graphkit.adj import Adj, check_edge_index, to_adj
from graphkit.nn.conv import GATConv, GCNConv, GINConv, SAGEConv
from graphkit.nn.models import GAT, GCN, GIN, GraphSAGE


def _ei():
    return torch.tensor([[0, 1, 1, 2, 3, 4], [1, 0, 2, 1, 4, 3]])


def _x():
    return torch.randn(5, 4)


# 1. the edge_index cache keys on num_dst too
def test_cache_keys_on_num_dst():
    ei = torch.tensor([[0, 1, 2], [1, 0, 1]])
    assert to_adj(ei, 3, num_dst=2).shape == (2, 3)
    assert to_adj(ei, 3).shape == (3, 3)
    assert to_adj(ei, 3, num_dst=2).shape == (2, 3)
    assert to_adj(ei).shape == (3, 3)
    assert to_adj(ei, 3) is to_adj(ei, 3)


def test_cache_reuses_inferred_counts():
    ei = _ei()
    adj = to_adj(ei)
    assert to_adj(ei, 5) is adj and to_adj(ei, 5, num_dst=5) is adj


# 2. node counts must be ints
@pytest.mark.parametrize("bad", [5.7, 5.0, True, "5"])
def test_float_or_bool_num_nodes(bad):
    for call in (lambda: to_adj(_ei(), bad), lambda: Adj.from_edge_index(_ei(), bad),
                 lambda: check_edge_index(_ei(), bad)):
        with pytest.raises(TypeError, match="num_nodes must be an int"):
            call()


def test_float_num_dst():
    with pytest.raises(TypeError, match="num_dst must be an int"):
        to_adj(_ei(), 5, num_dst=5.5)


def test_numpy_int_num_nodes_ok():
    assert to_adj(_ei(), np.int64(6)).shape == (6, 6)


# 3. absurd node counts are refused before allocating
def test_huge_num_nodes():
    with pytest.raises(ValueError, match=r"num_nodes=1000000000000 is too large"):
        to_adj(_ei(), 10 ** 12)
    with pytest.raises(ValueError, match="num_dst=.* is too large"):
        Adj.from_edge_index(_ei(), 5, num_dst=2 ** 41)


def test_large_but_real_num_nodes_allowed():
    assert graphkit.adj._node_count(111_059_956, "num_nodes", 0) == 111_059_956  # ogbn-papers100M


# 4. edge weights
def test_edge_weight_2d():
    with pytest.raises(ValueError, match=r"edge_weight must have shape \[E\] = \[6\].*\[6, 1\]"):
        to_adj(_ei(), 5, torch.rand(6, 1))
    with pytest.raises(ValueError, match=r"edge_weight must have shape \[E\]"):
        GCNConv(4, 3)(_x(), _ei(), torch.rand(6, 1))


def test_edge_weight_int_dtype():
    with pytest.raises(TypeError, match="edge_weight must be a floating-point tensor.*int64"):
        to_adj(_ei(), 5, torch.ones(6, dtype=torch.long))


def test_edge_weight_device():
    with pytest.raises(ValueError, match="edge_weight is on meta but the graph"):
        Adj.from_edge_index(_ei(), 5, torch.rand(6, device="meta"))


@pytest.mark.parametrize("value,what", [(float("nan"), "NaN"), (-1.0, "negative")])
def test_bad_edge_weight_values_in_debug_mode(value, what):
    w = torch.rand(6)
    w[2] = value
    conv = GCNConv(4, 3)
    out = conv(_x(), _ei(), w)  # outside debug mode: taken as given, no synchronisation
    assert out.shape == (5, 3)
    with graphkit.debug(), pytest.raises(ValueError, match=f"GCNConv: edge_weight contains {what}"):
        conv(_x(), _ei(), w)


# 5. meta edge_index
def test_meta_edge_index():
    with pytest.raises(ValueError, match="edge_index is on the meta device"):
        to_adj(_ei().to("meta"), 5)


# 6. constructor arguments
@pytest.mark.parametrize("kwargs,err,msg", [
    ({"heads": 0}, ValueError, "heads must be a positive int, got 0"),
    ({"heads": -2}, ValueError, "heads must be a positive int, got -2"),
    ({"heads": 1.5}, TypeError, "heads must be a positive int"),
])
def test_gat_heads(kwargs, err, msg):
    with pytest.raises(err, match=msg):
        GATConv(4, 3, **kwargs)


@pytest.mark.parametrize("cls", [GCNConv, SAGEConv, GATConv])
@pytest.mark.parametrize("args,err,name", [
    ((0, 3), ValueError, "in_channels"), ((4, 0), ValueError, "out_channels"),
    ((-1, 3), ValueError, "in_channels"), ((4.0, 3), TypeError, "in_channels"),
    ((4, True), TypeError, "out_channels"), ((4, None), TypeError, "out_channels"),
])
def test_conv_channels(cls, args, err, name):
    with pytest.raises(err, match=f"{cls.__name__}: {name} must be a positive int"):
        cls(*args)


def test_gin_without_mlp():
    with pytest.raises(TypeError, match="GINConv: mlp must be a torch.nn.Module"):
        GINConv(None)


def test_gat_model_heads():
    with pytest.raises(ValueError, match="GAT: heads must be a positive int"):
        GAT(4, 8, 2, 3, heads=0)


# 7. x of the wrong dtype or width
@pytest.mark.parametrize("conv", [GCNConv(4, 3), SAGEConv(4, 3), GATConv(4, 3, heads=2), GINConv(nn.Linear(4, 3))])
def test_conv_x_width(conv):
    name = type(conv).__name__
    with pytest.raises(ValueError, match=f"x has 3 features but {name} expects in_channels=4"):
        conv(torch.randn(5, 3), _ei())


@pytest.mark.parametrize("conv", [GCNConv(4, 3), SAGEConv(4, 3), GATConv(4, 3, heads=2), GINConv(nn.Linear(4, 3))])
def test_conv_x_dtype(conv):
    with pytest.raises(TypeError, match="x is float64 but the layer's weights are float32"):
        conv(_x().double(), _ei())


def test_sage_bipartite_x_dst_width():
    with pytest.raises(ValueError, match="x_dst has 2 features but SAGEConv expects in_channels=4"):
        SAGEConv(4, 3)((_x(), torch.randn(5, 2)), _ei())


def test_conv_float64_model_ok():
    conv = GCNConv(4, 3).double()
    assert conv(_x().double(), _ei()).dtype == torch.float64


@pytest.mark.parametrize("model", [GCN(4, 8, 2, 3), GAT(4, 8, 2, 3, heads=2), GraphSAGE(4, 8, 2, 3), GIN(4, 8, 2, 3)])
def test_models_propagate_conv_checks(model):
    with pytest.raises(TypeError, match="x is float64 but the layer's weights are float32"):
        model(_x().double(), _ei())
    with pytest.raises(ValueError, match="x has 3 features but .*Conv expects in_channels=4"):
        model(torch.randn(5, 3), _ei())
    with pytest.raises(TypeError, match="num_nodes must be an int|edge_index"):
        model(_x(), _ei().float())


# 8. ops.gather
def test_gather_int_x():
    with pytest.raises(TypeError, match="x must be a floating-point tensor, got dtype torch.int64"):
        ops.gather(torch.arange(5), torch.tensor([0, 1]))


def test_gather_2d_index():
    with pytest.raises(ValueError, match=r"index must be 1-D \[K\], got shape \[2, 1\]"):
        ops.gather(_x(), torch.tensor([[0], [1]]))
