"""Graph-level readouts (graphkit.nn.pool) against PyG's and a per-graph loop, gradients by
gradcheck, on both op backends; a batch's block-diagonal Adj built without a sort."""
from __future__ import annotations

import pytest
import torch
import torch_geometric.nn as pyg
from torch_geometric.data import Batch, Data
from torch_geometric.utils import coalesce

from graphkit import Adj
from graphkit.nn import GCNConv, GINConv
from graphkit.nn.pool import AttentionalAggregation, global_add_pool, global_max_pool, global_mean_pool, pool_adj

pytestmark = pytest.mark.usefixtures("each_backend")
SIZES = (4, 0, 1, 7, 3)  # a graph without nodes, one of a single node
POOLS = {"sum": (global_add_pool, pyg.global_add_pool), "mean": (global_mean_pool, pyg.global_mean_pool),
         "max": (global_max_pool, pyg.global_max_pool)}


def _batch(dtype=torch.float32, seed=0) -> Batch:
    g = torch.Generator().manual_seed(seed)
    graphs = []
    for n in SIZES:
        m = 3 * n
        ei = torch.randint(0, max(n, 1), (2, m), generator=g) if n else torch.zeros(2, 0, dtype=torch.long)
        ei = coalesce(ei.flip(0), num_nodes=n).flip(0) if m else ei  # sorted by target, then source
        graphs.append(Data(x=torch.randn(n, 3, generator=g, dtype=dtype), edge_index=ei, num_nodes=n))
    return Batch.from_data_list(graphs)


@pytest.mark.parametrize("reduce", list(POOLS))
def test_pools_match_pyg_and_a_per_graph_loop(reduce):
    b = _batch()
    ours, theirs = POOLS[reduce]
    out = ours(b.x, b.batch, len(SIZES))
    torch.testing.assert_close(out, theirs(b.x, b.batch, len(SIZES)))
    for i, graph in enumerate(b.to_data_list()):
        expected = (torch.zeros(3) if graph.num_nodes == 0 else
                    {"sum": graph.x.sum(0), "mean": graph.x.mean(0), "max": graph.x.amax(0)}[reduce])
        torch.testing.assert_close(out[i], expected)
    torch.testing.assert_close(ours(b.x), theirs(b.x, None))  # no batch: one graph


@pytest.mark.parametrize("reduce", list(POOLS))
def test_pool_gradients(reduce):
    b = _batch(torch.float64)
    x = b.x.clone().requires_grad_(True)
    assert torch.autograd.gradcheck(lambda t: POOLS[reduce][0](t, b.batch, len(SIZES)), (x,))


def test_attention_pooling_matches_pyg_and_its_gradient():
    b = _batch(torch.float64)
    gate, h = torch.nn.Linear(3, 1).double(), torch.nn.Linear(3, 5).double()
    ours, theirs = AttentionalAggregation(gate, h), pyg.aggr.AttentionalAggregation(gate, h)
    torch.testing.assert_close(ours(b.x, b.batch, len(SIZES)), theirs(b.x, b.batch, dim_size=len(SIZES)))
    x = b.x.clone().requires_grad_(True)
    assert torch.autograd.gradcheck(lambda t: ours(t, b.batch, len(SIZES)), (x,))


def test_batch_adj_is_block_diagonal_without_a_sort_and_layers_match_per_graph():
    b = _batch()
    adj = Adj.from_edge_index(b.edge_index, b.num_nodes)
    assert torch.equal(adj.perm, torch.arange(b.num_edges))  # each graph's edges sorted: no permutation
    torch.manual_seed(0)
    for conv in (GCNConv(3, 4), GINConv(torch.nn.Linear(3, 4))):
        out = conv(b.x, adj)
        for i, graph in enumerate(b.to_data_list()):
            lo, hi = int(b.ptr[i]), int(b.ptr[i + 1])
            if hi > lo:
                torch.testing.assert_close(out[lo:hi], conv(graph.x, Adj.from_edge_index(graph.edge_index, hi - lo)))
    shuffled = b.edge_index[:, torch.randperm(b.num_edges, generator=torch.Generator().manual_seed(1))]
    other = Adj.from_edge_index(shuffled, b.num_nodes)  # unsorted input: sorted here, the same CSR
    assert torch.equal(other.rowptr, adj.rowptr) and torch.equal(other.col, adj.col)


@pytest.mark.parametrize("batch, error, match", [
    (torch.tensor([0, 1, 0]), ValueError, "batch must be sorted"),
    (torch.tensor([0, 0]), ValueError, "batch has 2 entries but x has 3 rows"),
    (torch.tensor([0.0, 0.0, 1.0]), TypeError, "batch must be a 1-D int32/int64 tensor"),
    (torch.tensor([0, 1, 5]), ValueError, r"batch holds graph ids outside \[0, 2\)"),
])
def test_bad_batch_vectors_are_named(batch, error, match):
    with pytest.raises(error, match=match):
        global_add_pool(torch.randn(3, 2), batch, 2 if match.startswith("batch holds") else None)


def test_pool_adj_is_kept_with_the_batch():
    batch = torch.tensor([0, 0, 1, 1, 1])
    assert pool_adj(batch, 5) is pool_adj(batch, 5)


def test_attention_pooling_resets_its_networks():
    gate = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 1))
    pool = AttentionalAggregation(gate)
    before = gate[0].weight.clone()
    pool.reset_parameters()
    assert not torch.equal(before, gate[0].weight)
