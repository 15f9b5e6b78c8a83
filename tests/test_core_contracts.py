"""The core's contracts: an Adj validates its indices once, when it is built, and derived graphs are
not re-validated; caches live on the Adj (one entry per kind of weight-derived value); per-edge
tensors reach ``message`` in CSR order; ``message_and_aggregate`` is a layer's fused path; layer
capabilities are class flags; no host synchronisation in a forward or backward outside debug mode."""
from __future__ import annotations

import contextlib
import gc
import weakref

import pytest
import torch
from torch import nn

import graphkit
from graphkit import Adj, ops, to_adj
from graphkit.adj import tensor_cache
from graphkit.nn import GAT, GCN, GATConv, GCNConv, GINConv, GraphSAGE, MessagePassing, SAGEConv, build_model
from graphkit.nn.functional import input_dropout

from graphs import random_graph

pytestmark = pytest.mark.usefixtures("each_backend")  # every test on both op backends

N = 40
_SYNCS = ("item", "tolist", "__int__", "__bool__", "__index__", "__float__")


@contextlib.contextmanager
def count_host_syncs():
    """Count the calls that read a tensor back to the host (``.item()``, ``int(t)``, ``bool(t)``, ...)."""
    calls = []
    patch = pytest.MonkeyPatch()
    for name in _SYNCS:
        original = getattr(torch.Tensor, name)

        def counting(self, *args, _original=original, _name=name, **kwargs):
            calls.append(_name)
            return _original(self, *args, **kwargs)
        patch.setattr(torch.Tensor, name, counting)
    try:
        yield calls
    finally:
        patch.undo()


# ------------------------------------------------------------------------- validation at build
@pytest.mark.parametrize("rowptr,col,shape,match", [
    ([0, 1, 2], [0, 1000000], (2, 2), r"node id 1000000, out of range for num_src=2"),
    ([0, 1, 2], [0, -1], (2, 2), "negative node id -1"),
    ([1, 1, 2], [0, 1], (2, 2), "must start at 0, got 1"),
    ([0, 2, 1], [0, 1], (2, 2), "non-decreasing"),
    ([0, 1, 3], [0, 1], (2, 2), r"must end at len\(col\) = 2, got 3"),
    ([0, 1, 2], [0, 1], (3, 2), "shape\\[0\\] is 3"),
])
def test_adj_constructor_validates_indices(rowptr, col, shape, match):
    with pytest.raises(ValueError, match=match):
        Adj(torch.tensor(rowptr), torch.tensor(col), shape=shape)


def test_adj_constructor_rejects_bad_types_and_perm():
    with pytest.raises(TypeError, match="col must be a 1-D int64 or int32 tensor"):
        Adj(torch.tensor([0, 1]), torch.tensor([0.0]))
    with pytest.raises(ValueError, match="value has shape"):
        Adj(torch.tensor([0, 1]), torch.tensor([0]), torch.ones(2))
    with pytest.raises(ValueError, match="perm contains position 5"):
        Adj(torch.tensor([0, 1, 2]), torch.tensor([0, 1]), perm=torch.tensor([0, 5]))


def test_segfault_case_is_a_value_error_at_construction():
    """The graph of the issue: an op on it read far outside x; now it cannot be built."""
    with pytest.raises(ValueError, match="out of range"):
        ops.spmm(Adj(torch.tensor([0, 1, 2]), torch.tensor([0, 1000000]), shape=(2, 2)), torch.ones(2, 3))


def test_derived_graphs_are_trusted_and_checked_in_debug_mode():
    adj = Adj.from_edge_index(random_graph(N, 150, seed=0), N, torch.rand(150))
    with count_host_syncs() as syncs:  # built from valid arrays: nothing is read back
        adj.masked(torch.rand(adj.num_edges) < 0.5)
        adj.t()
        adj.with_self_loops()
        adj.with_value(torch.rand(adj.num_edges))
        Adj.trusted(adj.rowptr, adj.col, None, adj.shape)
    assert syncs == []
    bad = (torch.tensor([0, 1, 2]), torch.tensor([0, 7]))
    assert Adj.trusted(*bad).num_edges == 2  # not checked: the caller vouches for it
    with graphkit.debug(), pytest.raises(ValueError, match="out of range for num_src=2"):
        Adj.trusted(*bad)


def test_debug_mode_switch_and_context():
    assert not graphkit.debug.enabled()
    with graphkit.debug():
        assert graphkit.debug.enabled()
        with graphkit.debug(False):
            assert not graphkit.debug.enabled()
        assert graphkit.debug.enabled()
    assert not graphkit.debug.enabled()
    graphkit.debug(True)
    try:
        assert graphkit.debug.enabled()
    finally:
        graphkit.debug(False)
    assert not graphkit.debug.enabled()


def test_per_call_index_checks_run_in_debug_mode():
    x = torch.randn(5, 2)
    adj = Adj.from_edge_index(random_graph(5, 12, seed=1), 5)
    with graphkit.debug():
        with pytest.raises(ValueError, match=r"index contains node ids outside \[0, 5\)"):
            ops.gather(x, torch.tensor([0, 5]))
        with pytest.raises(ValueError, match="first contains node ids outside"):
            ops.pair_product(x, torch.tensor([-1]), torch.tensor([0]))
        with pytest.raises(ValueError, match="second contains node ids outside"):
            ops.neighbor_sets(adj, torch.tensor([0]), torch.tensor([9]))
        with pytest.raises(ValueError, match="start contains node ids outside"):
            ops.random_walk(adj, torch.tensor([5]), 2)
    # Outside debug mode a bad id still never crashes the process: the backend rejects it.
    with pytest.raises((ValueError, IndexError, RuntimeError)):
        ops.gather(x, torch.tensor([0, 5]))


def test_nan_features_are_reported_in_debug_mode_only():
    ei = random_graph(N, 150, seed=2)
    x = torch.randn(N, 6)
    x[3, 1] = float("nan")
    model = GCN(6, 8, 2, 3)
    model(x, ei)
    with graphkit.debug(), pytest.raises(ValueError, match="NaN values \\(first bad row: node 3\\)"):
        model(x, ei)


# ------------------------------------------------------------------------- caches on the Adj
def test_weight_caches_hold_one_entry_per_kind_and_follow_in_place_updates():
    ei = random_graph(N, 150, seed=3)
    weight = torch.rand(150)
    adj = Adj.from_edge_index(ei, N, weight)
    x = torch.randn(N, 4, requires_grad=True)
    for step in range(5):
        with torch.no_grad():
            adj.value.mul_(1.5).add_(0.1 * step)  # in place: the version counter moves
        colptr, row_t, perm = adj.csc()
        for mean in (False, True):
            expected = adj.value[perm]
            if mean:
                expected = expected / adj.in_degree().clamp(min=1).to(expected.dtype)[row_t]
            torch.testing.assert_close(adj.csc_weights(mean=mean), expected)
        dense = torch.zeros(N, N).index_put_((adj.row, adj.col), adj.value, accumulate=True)
        grad, = torch.autograd.grad(ops.spmm(adj, x).sum(), x)  # the backward reads csc_weights
        torch.testing.assert_close(grad, dense.sum(0).unsqueeze(-1).expand(N, 4))
        fresh = adj.with_value(adj.value.clone())  # the same weights, nothing cached yet
        assert torch.equal(adj.gcn_norm().value, fresh.gcn_norm().value)
    kinds = [key for key in adj.cache_keys() if isinstance(key, tuple) and key[0] == "csc_weights"]
    assert sorted(kinds, key=str) == [("csc_weights", False, torch.float32), ("csc_weights", True, torch.float32)]
    assert len([key for key in adj.cache_keys() if isinstance(key, tuple) and key[0] == "gcn_norm"]) == 1


def test_structure_caches_are_shared_with_value_copies():
    adj = Adj.from_edge_index(random_graph(N, 150, seed=4), N)
    colptr = adj.csc()[0]
    copy = adj.with_value(torch.rand(adj.num_edges))
    assert copy.csc()[0] is colptr and copy.row is adj.row
    built = []
    assert adj.structure_cached("mine", lambda: built.append(1) or "value") == "value"
    assert copy.structure_cached("mine", lambda: built.append(1) or "other") == "value" and built == [1]
    assert "mine" in copy.cache_keys()


def test_csc_int32_takes_a_builder_only_when_no_transpose_is_cached():
    adj = Adj.from_edge_index(random_graph(N, 150, seed=5), N)
    expected = tuple(t.int() for t in Adj(adj.rowptr, adj.col, None, adj.shape).csc())
    built = adj.csc_int32(lambda: expected)
    assert all(a is b for a, b in zip(built, expected))
    assert all(torch.equal(a, b.long()) for a, b in zip(adj.csc(), expected))  # widened on demand
    other = Adj.from_edge_index(random_graph(N, 150, seed=5), N)
    other.csc()
    assert other.csc_int32(lambda: pytest.fail("the transpose was cached")) is not None


def test_edge_index_and_sparse_input_caches_follow_the_tensor():
    ei = random_graph(N, 150, seed=6)
    adj = to_adj(ei, N)
    assert to_adj(ei, N) is adj and tensor_cache(ei)["adj"] is adj
    x = (torch.rand(N, 30) < 0.05).float()
    csr = input_dropout(x, 0.5, training=False, sparse_ok=True)
    assert csr.layout == torch.sparse_csr and input_dropout(x, 0.5, False, True) is csr
    x[0, 0] = 1.0  # in place: both caches start again
    assert input_dropout(x, 0.5, False, True) is not csr
    ei[0, 0] = 1
    assert to_adj(ei, N) is not adj
    kept = weakref.ref(to_adj(ei, N))
    del ei, adj
    gc.collect()
    assert kept() is None  # the cache dies with its tensor


# ------------------------------------------------------------------------- propagate
class EdgeAttrConv(MessagePassing):
    """``out_i = sum_j relu(x_j * edge_attr_ji)``: a message that takes a per-edge tensor."""

    def forward(self, x, graph, edge_attr):
        return self.propagate(self.adj(graph, x.size(0)), x, edge_attr=edge_attr)

    def message(self, x_j, edge_attr):
        return torch.relu(x_j * edge_attr)


def test_edge_attributes_reach_message_in_csr_order():
    ei = random_graph(N, 150, seed=7)
    x = torch.randn(N, 3, dtype=torch.float64)
    edge_attr = torch.randn(150, 3, dtype=torch.float64)
    expected = torch.zeros(N, 3, dtype=torch.float64)
    for e in range(150):  # by hand, in edge_index order
        expected[ei[1, e]] += torch.relu(x[ei[0, e]] * edge_attr[e])
    layer = EdgeAttrConv()
    torch.testing.assert_close(layer(x, ei, edge_attr), expected)
    adj = Adj.from_edge_index(ei, N)
    torch.testing.assert_close(layer(x, adj, edge_attr), expected)
    # An Adj built from CSR arrays has no edge list: its per-edge tensors are in CSR order already.
    csr = Adj(adj.rowptr, adj.col, None, adj.shape)
    torch.testing.assert_close(layer(x, csr, edge_attr[adj.perm]), expected)
    with pytest.raises(ValueError, match="edge_attr must have one row per edge"):
        layer(x, adj, edge_attr[:10])


class FusedEdgeAttrConv(EdgeAttrConv):
    """The same maths through ``message_and_aggregate`` (its own fused path)."""

    def __init__(self):
        super().__init__()
        self.calls = 0

    def message_and_aggregate(self, adj, x, edge_attr):
        self.calls += 1
        return ops.segment_reduce(torch.relu(ops.gather(x, adj.col) * edge_attr), adj, "sum")


def test_propagate_calls_an_overridden_message_and_aggregate():
    ei = random_graph(N, 150, seed=8)
    x, edge_attr = torch.randn(N, 3), torch.randn(150, 3)
    fused, plain = FusedEdgeAttrConv(), EdgeAttrConv()
    assert fused.fused and not plain.fused
    torch.testing.assert_close(fused(x, ei, edge_attr), plain(x, ei, edge_attr))
    assert fused.calls == 1


@pytest.mark.parametrize("training", [False, True])
def test_gat_aggregates_through_propagate(training):
    calls = []

    class Spy(GATConv):
        def message_and_aggregate(self, adj, x, score_src, score_dst):
            calls.append(self.training)
            return super().message_and_aggregate(adj, x, score_src, score_dst)

    conv = Spy(6, 4, heads=2, dropout=0.5).train(training)
    out, (adj, alpha) = conv(torch.randn(N, 6), random_graph(N, 150, seed=9), return_attention=True)
    assert calls == [training] and out.shape == (N, 8) and alpha.shape == (adj.num_edges, 2)


# ------------------------------------------------------------------------- capabilities
def test_capabilities_are_class_flags():
    assert GCNConv.supports_edge_weight and not SAGEConv.supports_edge_weight
    assert not GATConv.supports_edge_weight and not GINConv.supports_edge_weight
    assert GCNConv.supports_sparse_input and SAGEConv.supports_sparse_input and GATConv.supports_sparse_input
    assert not GINConv.supports_sparse_input
    ei = random_graph(N, 150, seed=10)
    with pytest.raises(TypeError, match="GINConv does not take edge weights"):
        GINConv(nn.Linear(3, 3)).adj(ei, N, torch.rand(150))


@pytest.mark.parametrize("layer,first", [
    (GCNConv(1433, 16), True),       # Cora's GCN: 1433 -> 16 projects first
    (GCNConv(16, 7), True),
    (GCNConv(256, 256), True),       # equal widths, no root term: project first (ogbl-ddi's GCN)
    (GCNConv(16, 32), False),        # widening: aggregate first
    (SAGEConv(1433, 64), True),
    (SAGEConv(256, 256), False),     # equal widths, root term: aggregate first, one addmm (ogbl-ddi's SAGE)
    (SAGEConv(64, 64, root_weight=False, bias=False), True),
    (SAGEConv(1433, 64, aggr="max"), False),  # max does not commute with the projection
    (GATConv(1433, 8, heads=8), True),
    (GATConv(4, 16, heads=2), True),  # attention needs W x, whatever the widths
    (GINConv(nn.Linear(1433, 16)), False),
])
def test_projects_first_follows_one_rule(layer, first):
    assert layer.projects_first is first


def test_gin_resets_a_bare_linear():
    torch.manual_seed(0)
    conv = GINConv(nn.Linear(5, 5), eps=0.5, train_eps=True)
    before = conv.nn.weight.detach().clone()
    with torch.no_grad():
        conv.eps.fill_(3.0)
    conv.reset_parameters()
    assert not torch.equal(conv.nn.weight, before) and torch.equal(conv.eps.detach(), torch.tensor([0.5]))
    seq = GINConv(nn.Sequential(nn.Linear(5, 5), nn.ReLU(), nn.Linear(5, 5)))
    weights = [seq.nn[0].weight.detach().clone(), seq.nn[2].weight.detach().clone()]
    seq.reset_parameters()
    assert not torch.equal(seq.nn[0].weight, weights[0]) and not torch.equal(seq.nn[2].weight, weights[1])


def test_pure_gcn_propagation_is_the_gcn_norm_product():
    ei = random_graph(N, 150, seed=11)  # has self-loops and duplicates
    adj = Adj.from_edge_index(ei, N)
    assert bool((adj.row == adj.col).any())
    x = torch.randn(N, 5)
    model = build_model("puregcn", 5, 5, hidden_channels=5, num_layers=1, residual=False).eval()
    torch.testing.assert_close(model(x, adj), ops.spmm(adj.gcn_norm(), x))


# ------------------------------------------------------------------------- no host synchronisation
class GeneralPathConv(MessagePassing):
    """A message on the gather-reduce path: gathers at the Adj's own row and col."""

    def forward(self, x, graph):
        return self.propagate(self.adj(graph, x.size(0)), x)

    def message(self, x_j, x_i):
        return torch.relu(x_j - x_i)


def _models():
    torch.manual_seed(0)
    return {
        "gcn": GCN(50, 16, 2, 4, dropout=0.5),
        "gat": GAT(50, 16, 2, 4, heads=2, dropout=0.5),
        "gat-attention-dropout": GAT(50, 16, 2, 4, heads=2, dropout=0.5, attn_dropout=0.5),
        "sage": GraphSAGE(50, 16, 2, 4, dropout=0.5),
        "general-path": GeneralPathConv("mean"),
    }


@pytest.mark.parametrize("name", list(_models()))
@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("as_edge_index", [False, True])
def test_forward_and_backward_make_no_host_synchronisation(name, training, as_edge_index):
    ei = random_graph(N, 200, seed=12)
    adj = Adj.from_edge_index(ei, N)
    graph = ei if as_edge_index else adj
    x = (torch.rand(N, 50) < 0.05).float()  # bag of words: the sparse input path
    model = _models()[name].train(training)
    if name == "general-path":
        x = x.requires_grad_()
    for _ in range(2):  # the first pass builds the caches (CSC, normalisation, self-loops, CSR copy)
        model.zero_grad()
        model(x, graph).square().sum().backward()
    with count_host_syncs() as syncs:
        model.zero_grad()
        model(x, graph).square().sum().backward()
    assert syncs == [], f"{name}: host reads {syncs}"
    with graphkit.debug(), count_host_syncs() as syncs:  # the counter sees debug mode's checks
        model(x, graph)
    assert syncs
