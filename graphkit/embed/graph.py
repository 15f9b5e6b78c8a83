"""The graph forms the embedding estimators accept, turned into the matrices they work on."""
from __future__ import annotations

from typing import Optional

import numpy as np
import scipy.sparse as sp
import torch
from torch import Tensor

from ..adj import Adj, check_edge_index, to_adj


def out_neighbour_rows(graph, num_nodes: Optional[int] = None) -> Adj:
    """The adjacency matrix ``A`` with ``A[u, v]`` the weight of edge ``u -> v``, as an :class:`Adj`
    whose row ``u`` lists the out-neighbours of ``u`` (so ``spmm(adj, X)[u] = sum_v A[u, v] X[v]``,
    the product ``A @ X`` of the papers).

    Args:
        graph: a scipy sparse matrix (``A`` itself), an ``edge_index`` ``[2, E]`` (row 0 = source),
            a PyG ``Data`` (``edge_index``, optional ``edge_weight``), a networkx graph (undirected
            graphs give both directions) or an :class:`Adj` (used as it is: its rows are the rows).
        num_nodes: node count for an ``edge_index`` (inferred when omitted).
    """
    if isinstance(graph, Adj):
        if graph.shape[0] != graph.shape[1]:
            raise ValueError(f"the graph must be square, got shape {graph.shape}")
        return graph
    weight = None
    if hasattr(graph, "edge_index") and hasattr(graph, "num_nodes"):
        weight = getattr(graph, "edge_weight", None)
        graph, num_nodes = graph.edge_index, graph.num_nodes
    if isinstance(graph, Tensor):
        num_nodes = check_edge_index(graph, num_nodes)
        return Adj.from_edge_index(graph.flip(0), num_nodes, weight)  # rows = sources
    try:
        import networkx as nx
        if isinstance(graph, nx.Graph):
            graph = nx.to_scipy_sparse_array(graph, format="csr")
    except ImportError:  # pragma: no cover - networkx is a dependency
        pass
    if sp.issparse(graph):
        csr = sp.csr_matrix(graph)
        if csr.shape[0] != csr.shape[1]:
            raise ValueError(f"the adjacency matrix must be square, got shape {csr.shape}")
        if not csr.has_sorted_indices:
            csr = csr.sorted_indices()
        dtype = csr.data.dtype if csr.data.dtype in (np.float32, np.float64) else np.float32
        value = torch.from_numpy(np.asarray(csr.data, dtype=dtype))
        if value.numel() and not bool(torch.isfinite(value).all()):
            raise ValueError("the adjacency matrix has NaN or infinite entries")
        value = None if bool((value == 1).all()) else value
        # int32 column ids are used in place (no int64 copy of the largest array)
        col = csr.indices if csr.indices.dtype in (np.int32, np.int64) else csr.indices.astype(np.int64)
        return Adj(torch.from_numpy(csr.indptr.astype(np.int64)), torch.from_numpy(col), value, csr.shape)
    raise TypeError(f"cannot build a graph from {type(graph).__name__}: expected a scipy sparse matrix, an "
                    "edge_index tensor, a PyG Data, a networkx graph or an Adj")


def walk_graph(graph, num_nodes: Optional[int] = None) -> Adj:
    """The graph as graphkit's :class:`Adj` (rows = targets), whose random walks follow out-edges."""
    if sp.issparse(graph):
        return Adj.from_scipy(graph)
    return to_adj(graph, num_nodes)
