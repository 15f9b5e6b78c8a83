"""graphkit.Adj: CSR/CSC against scipy, degrees, GCN normalisation against PyG, validation."""
from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
import scipy.sparse as sp
import torch
from torch_geometric.nn.conv.gcn_conv import gcn_norm
from torch_geometric.utils import to_scipy_sparse_matrix

from graphkit import Adj, check_features, to_adj

from graphs import random_graph


def dense_from_edges(edge_index, num_nodes, weight=None):
    w = np.ones(edge_index.size(1)) if weight is None else weight.numpy()
    # A[i, j] for the edge j -> i (rows are targets).
    return sp.coo_matrix((w, (edge_index[1].numpy(), edge_index[0].numpy())),
                         shape=(num_nodes, num_nodes)).toarray()


def test_csr_matches_scipy_and_keeps_duplicates():
    ei = random_graph(30, 120, seed=0)
    w = torch.rand(120, dtype=torch.float64)
    adj = Adj.from_edge_index(ei, 30, edge_weight=w)
    np.testing.assert_allclose(adj.to_scipy().toarray(), dense_from_edges(ei, 30, w))
    assert adj.num_edges == 120
    torch.testing.assert_close(adj.value, w[adj.perm])
    # Columns are sorted within each row.
    for i in range(30):
        seg = adj.col[adj.rowptr[i]:adj.rowptr[i + 1]]
        assert torch.all(seg[1:] >= seg[:-1])


def test_csc_and_transpose():
    ei = random_graph(25, 90, seed=1)
    w = torch.rand(90, dtype=torch.float64)
    adj = Adj.from_edge_index(ei, 25, edge_weight=w)
    np.testing.assert_allclose(adj.t().to_scipy().toarray(), dense_from_edges(ei, 25, w).T)
    colptr, row, perm = adj.csc()
    assert colptr[-1] == 90 and torch.equal(adj.col[perm], torch.repeat_interleave(torch.arange(25), adj.out_degree()))
    assert adj.t() is not None and adj.csc()[0] is colptr  # cached


def test_degrees():
    ei = random_graph(20, 60, seed=2)
    adj = Adj.from_edge_index(ei, 20)
    assert torch.equal(adj.in_degree(), torch.bincount(ei[1], minlength=20))
    assert torch.equal(adj.out_degree(), torch.bincount(ei[0], minlength=20))


@pytest.mark.parametrize("improved", [False, True])
@pytest.mark.parametrize("weighted", [False, True])
def test_gcn_norm_matches_pyg(improved, weighted):
    ei = random_graph(30, 100, seed=3)  # has self-loops, duplicates and isolated nodes
    w = torch.rand(100) if weighted else None
    adj = Adj.from_edge_index(ei, 30, edge_weight=w).gcn_norm(improved=improved)
    # PyG ignores `improved` when edge_weight is None (its self-loops then get weight 1);
    # graphkit follows the paper's A + 2I, which PyG computes when given explicit unit weights.
    pyg_ei, pyg_w = gcn_norm(ei, torch.ones(100) if w is None else w, 30, improved=improved, add_self_loops=True)
    expected = to_scipy_sparse_matrix(pyg_ei.flip(0), pyg_w, 30).toarray()
    np.testing.assert_allclose(adj.to_scipy().toarray(), expected, rtol=1e-5, atol=1e-6)


def test_gcn_norm_is_cached():
    adj = Adj.from_edge_index(random_graph(10, 30, seed=4), 10)
    assert adj.gcn_norm() is adj.gcn_norm()


def test_to_adj_cache_follows_the_tensor():
    ei = random_graph(10, 30, seed=5)
    assert to_adj(ei, 10) is to_adj(ei, 10)
    before = to_adj(ei, 10)
    ei[0, 0] = 9  # in-place change: the cached CSR is stale and must be rebuilt
    assert to_adj(ei, 10) is not before


def test_from_scipy_and_networkx():
    g = nx.karate_club_graph()
    adj = Adj.from_networkx(g)
    assert adj.shape == (34, 34) and adj.num_edges == 2 * g.number_of_edges()
    m = sp.random(15, 15, density=0.2, random_state=0, format="csr")
    np.testing.assert_allclose(Adj.from_scipy(m).to_scipy().toarray(), m.toarray().T, rtol=1e-6)


def test_empty_and_isolated():
    adj = Adj.from_edge_index(torch.empty(2, 0, dtype=torch.long), num_nodes=4)
    assert adj.num_edges == 0 and adj.rowptr.tolist() == [0, 0, 0, 0, 0]


@pytest.mark.parametrize("edge_index,num_nodes,match", [
    (torch.tensor([[0, 5], [1, 2]]), 5, "out of range"),
    (torch.tensor([[0, -1], [1, 2]]), None, "negative"),
    (torch.tensor([[0.0, 1.0], [1.0, 2.0]]), None, "integer"),
    (torch.tensor([0, 1, 2]), None, r"shape \[2, E\]"),
    (torch.zeros(3, 4, dtype=torch.long), None, r"shape \[2, E\]"),
    (torch.empty(2, 0, dtype=torch.long), None, "empty graph"),
    (torch.empty(2, 0, dtype=torch.long), 0, "empty graph"),
    ([[0, 1], [1, 0]], None, "torch.Tensor"),
])
def test_bad_edge_index(edge_index, num_nodes, match):
    with pytest.raises((ValueError, TypeError), match=match):
        Adj.from_edge_index(edge_index, num_nodes)


def test_bad_features():
    with pytest.raises(ValueError, match="NaN"):
        check_features(torch.tensor([[1.0, float("nan")], [0.0, 1.0]]))
    with pytest.raises(ValueError, match="infinite"):
        check_features(torch.tensor([[1.0, float("inf")]]))
    with pytest.raises(ValueError, match="3 rows but the graph has 4"):
        check_features(torch.randn(3, 2), num_nodes=4)
    with pytest.raises(TypeError, match="floating-point"):
        check_features(torch.ones(3, 2, dtype=torch.long))
    with pytest.raises(ValueError, match="empty graph"):
        check_features(torch.randn(0, 2))


def test_bipartite_bounds():
    ei = torch.tensor([[0, 1], [4, 0]])  # 2 sources -> 5 targets
    adj = Adj.from_edge_index(ei, num_nodes=2, num_dst=5)
    assert adj.shape == (5, 2)
    with pytest.raises(ValueError, match="target id 4, out of range for num_dst=3"):
        Adj.from_edge_index(ei, num_nodes=2, num_dst=3)
    with pytest.raises(ValueError, match="node id 1, out of range for num_nodes=1"):
        Adj.from_edge_index(ei, num_nodes=1, num_dst=5)
