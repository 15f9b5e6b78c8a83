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


@pytest.mark.parametrize("conv", [GCNConv(4, 3), SAGEConv(4, 3), GATConv(4, 3, heads=2), GINConv(nn.Linear(4, 3))])
@pytest.mark.parametrize("bad", [float("nan"), float("inf")], ids=["nan", "inf"])
def test_non_finite_x_reaching_a_bare_conv_is_named_in_debug_mode(conv, bad):
    x = _x()
    x[2, 1] = bad
    with graphkit.debug(), pytest.raises(ValueError, match=rf"{type(conv).__name__}: x contains "
                                                           rf"{'NaN' if bad != bad else 'infinite'} values "
                                                           r"\(first bad row: node 2\)"):
        conv(x, _ei())
    assert not torch.isfinite(conv(x, _ei())).all()  # outside debug mode: taken as given, as torch's layers do


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


# 9. NaN semantics: max/min propagate NaN as torch.amax/amin do, whatever the entry order
def _rows_with_nan():
    """A graph whose row 0 has a NaN among several entries, row 1 none, row 2 is empty."""
    ei = torch.tensor([[1, 2, 3, 4, 1, 2], [0, 0, 0, 0, 1, 1]])
    x = torch.randn(5, 3, dtype=torch.float64)
    x[3, 1] = float("nan")
    return to_adj(ei, 5), x


@pytest.mark.parametrize("reduce", ["max", "min"])
def test_spmm_max_min_propagate_nan(each_backend, reduce):
    adj, x = _rows_with_nan()
    out = ops.spmm(adj, x, reduce=reduce)
    dense = torch.stack([getattr(x[adj.col[adj.rowptr[i]:adj.rowptr[i + 1]]], "amax" if reduce == "max" else "amin")(0)
                         for i in range(2)])
    torch.testing.assert_close(out[:2], dense, equal_nan=True)
    assert out[0, 1].isnan() and not out[1].isnan().any() and torch.equal(out[2], torch.zeros(3, dtype=x.dtype))


@pytest.mark.parametrize("reduce", ["max", "min"])
def test_segment_reduce_nan_does_not_depend_on_the_order(each_backend, reduce):
    adj, x = _rows_with_nan()
    messages = x[adj.col]
    first = ops.segment_reduce(messages, adj, reduce)
    flipped = torch.cat([messages[:4].flip(0), messages[4:]])  # the NaN entry moves within row 0
    second = ops.segment_reduce(flipped, adj, reduce)
    assert first[0, 1].isnan() and second[0, 1].isnan()
    torch.testing.assert_close(first, second, equal_nan=True)


@pytest.mark.parametrize("reduce", ["max", "min"])
def test_nan_extremum_sends_its_gradient_to_the_nan_entry(each_backend, reduce):
    adj, x = _rows_with_nan()
    x.requires_grad_(True)
    grad, = torch.autograd.grad(ops.spmm(adj, x, reduce=reduce)[0, 1], x)
    expected = torch.zeros_like(x)
    expected[3, 1] = 1.0
    assert torch.equal(grad, expected)


# 10. float64 stays float64: GCN coefficients and the mean's backward are not rounded to float32
def test_gcn_norm_in_float64(each_backend):
    ei = torch.tensor([[0, 1, 1, 2, 2, 3], [1, 0, 2, 1, 3, 2]])
    x = torch.randn(4, 3, dtype=torch.float64)
    conv = GCNConv(3, 2).double()
    a = torch.zeros(4, 4, dtype=torch.float64)
    a[ei[1], ei[0]] = 1.0
    a += torch.eye(4, dtype=torch.float64)
    s = a.sum(1).rsqrt()
    expected = (s[:, None] * a * s[None, :]) @ x @ conv.lin.weight.T + conv.bias
    torch.testing.assert_close(conv(x, ei), expected, rtol=1e-13, atol=1e-13)
    assert to_adj(ei, 4).gcn_norm(dtype=torch.float64).value.dtype == torch.float64


@pytest.mark.parametrize("op", ["spmm", "segment_reduce"])
def test_mean_gradient_in_float64_is_exactly_one_third(each_backend, op):
    adj = to_adj(torch.tensor([[1, 2, 3], [0, 0, 0]]), 4)
    x = torch.randn(4, 2, dtype=torch.float64, requires_grad=True)
    out = ops.spmm(adj, x, "mean") if op == "spmm" else ops.segment_reduce(x[adj.col], adj, "mean")
    grad, = torch.autograd.grad(out.sum(), x)
    assert grad[1, 0].item() == 1 / 3 and grad.dtype == torch.float64


# 11. caches notice content changes the version counter misses (writes through .numpy())
def test_to_adj_sees_a_change_made_through_numpy():
    ei = _ei()
    before = to_adj(ei, 5)
    ei.numpy()[0, 0] = 3  # edge 0 -> 1 becomes 3 -> 1; the version counter does not move
    after = to_adj(ei, 5)
    assert after is not before
    fresh = Adj.from_edge_index(ei.clone(), 5)
    assert torch.equal(after.row, fresh.row) and torch.equal(after.col, fresh.col)
    assert to_adj(ei, 5) is after  # unchanged since: cached again


def test_large_edge_lists_are_checked_by_a_sample_and_whole_in_debug_mode():
    from graphkit.adj import FULL_CHECK_ELEMENTS
    n = 1000
    ei = torch.randint(0, n, (2, FULL_CHECK_ELEMENTS))  # above the whole-check size
    first = to_adj(ei, n)
    ei.numpy()[0, :] = np.random.default_rng(0).integers(0, n, ei.size(1))  # a rewrite of every source
    second = to_adj(ei, n)
    assert second is not first and torch.equal(second.col, Adj.from_edge_index(ei.clone(), n).col)
    ei.numpy()[1, 12345] = (ei[1, 12345].item() + 1) % n  # one entry, off the sample
    assert to_adj(ei, n) is second  # outside debug mode: not seen
    with graphkit.debug():
        third = to_adj(ei, n)
    assert third is not second and torch.equal(third.row, Adj.from_edge_index(ei.clone(), n).row)


def test_gather_backward_sees_an_index_changed_through_numpy(each_backend):
    x = torch.randn(4, 2, requires_grad=True)
    index = torch.tensor([0, 1, 1, 2])
    torch.autograd.grad(ops.gather(x, index).sum(), x)  # groups the index (cached with it)
    index.numpy()[:] = [3, 3, 0, 0]
    grad, = torch.autograd.grad(ops.gather(x, index).sum(), x)
    assert grad[:, 0].tolist() == [2.0, 0.0, 0.0, 2.0]


def test_sparse_input_copy_sees_features_changed_through_numpy_in_debug_mode():
    from graphkit.nn.functional import input_dropout
    x = torch.zeros(6, 20)
    x[0, 3] = 1.0
    with graphkit.debug():
        input_dropout(x, 0.5, training=False, sparse_ok=True)
        x.numpy()[5, 7] = 2.0
        assert torch.equal(input_dropout(x, 0.5, training=False, sparse_ok=True).to_dense(), x)
    x[5, 8] = 3.0  # an in-place torch op moves the version counter: seen outside debug mode too
    assert torch.equal(input_dropout(x, 0.5, training=False, sparse_ok=True).to_dense(), x)


@pytest.mark.parametrize("make", [lambda: torch.randint(-9, 9, (2, 7)), lambda: torch.randn(3, 5).double(),
                                  lambda: torch.randint(0, 2, (13,), dtype=torch.int32), lambda: torch.rand(7) > 0.5,
                                  lambda: torch.zeros(0), lambda: torch.randn(5, 4)[:, 1]],
                         ids=["int64", "float64", "int32-odd-bytes", "bool", "empty", "strided"])
def test_checksum_native_equals_reference_and_sees_every_element(make):
    from graphkit.ops import native, reference
    t = make()
    assert native.checksum(t) == reference.checksum(t) == ops.checksum(t)
    seen = {ops.checksum(t)}
    for i in range(t.numel()):
        changed = t.clone().reshape(-1)
        changed[i] = ~changed[i] if t.dtype == torch.bool else changed[i] + 1
        seen.add(ops.checksum(changed))
    assert len(seen) == t.numel() + 1
