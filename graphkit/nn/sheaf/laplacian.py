"""The normalised sheaf Laplacian of Bodnar et al., "Neural Sheaf Diffusion: A Topological
Perspective on Heterophily and Oversmoothing in GNNs" (NeurIPS 2022), as an operator on stalks.

A sheaf on an undirected graph gives every node a ``d``-dimensional stalk and every edge end a
restriction map ``F_{i<e}`` (``d x d``). Its Laplacian ``L_F`` is the ``(N d) x (N d)`` block
matrix with blocks

    L_ii = sum_{e at i} F_{i<e}^T F_{i<e},        L_ij = -F_{i<e}^T F_{j<e}    (e = {i, j}),

used normalised, ``D^-1/2 L_F D^-1/2`` with ``D = blockdiag(L_ii) + I`` (``augmented``, the
paper's choice; without the ``+ I`` otherwise). It is symmetric positive semi-definite, and with
identity maps it is the graph's normalised Laplacian ``(I - D^-1/2 (A + I) D^-1/2) ⊗ I_d``.

Sheaves live on a :class:`SheafGraph`: the input graph made undirected (a directed graph is
symmetrised), without self-loops or repeated edges. Per-edge tensors follow its CSR order, where
entry ``k`` is the edge end at node ``row[k]`` towards ``col[k]`` and ``reverse[k]`` is the
entry of the other end.

The Laplacian is applied block-sparsely through graphkit's ops: diagonal maps give one weight per
entry and stalk dimension (a per-head :func:`graphkit.ops.spmm`); orthogonal and general maps
give a ``d x d`` block per entry, applied to the neighbour stalks and summed over each CSR row
by :func:`graphkit.ops.block_spmm` (no ``[E, d, C]`` messages). No ``(N d) x (N d)`` matrix is
formed (except by :meth:`SheafLaplacian.to_dense`, for tests).
"""
from __future__ import annotations

from typing import Optional, Sequence

import torch
from torch import Tensor

from ... import ops
from ...adj import Adj, debug, to_adj


class SheafGraph:
    """The simple undirected graph a sheaf is learned on.

    Args:
        graph: anything :func:`graphkit.to_adj` takes (an ``edge_index``, an ``Adj``, ...).
        num_nodes: node count.

    Attributes: ``adj`` (both directions of every edge, CSR), ``row``/``col`` ``[E]``,
    ``reverse`` ``[E]`` (the entry of the opposite edge end), ``degree`` ``[N]``, and
    ``symmetrised`` (whether edges had to be added to make the input undirected).
    """

    def __init__(self, graph, num_nodes: Optional[int] = None):
        from torch_geometric.utils import coalesce, remove_self_loops

        adj = to_adj(graph, num_nodes)
        if adj.shape[0] != adj.shape[1]:
            raise ValueError(f"a sheaf needs a graph on one node set, got an adjacency of shape {adj.shape}")
        n = adj.shape[0]
        edge_index, _ = remove_self_loops(torch.stack([adj.col, adj.row]))
        edge_index = coalesce(edge_index, num_nodes=n)
        both = coalesce(torch.cat([edge_index, edge_index.flip(0)], dim=1), num_nodes=n)
        self.symmetrised = both.size(1) != edge_index.size(1)
        self.num_nodes = n
        self.adj = Adj.from_edge_index(both, n)
        self.row, self.col = self.adj.row, self.adj.col
        key = self.row * n + self.col  # CSR order is sorted by (row, col)
        self.reverse = torch.searchsorted(key, self.col * n + self.row)
        self.degree = self.adj.rowptr.diff()

    @property
    def num_edges(self) -> int:
        """Stored entries (twice the number of undirected edges)."""
        return self.adj.num_edges


def _inverse_sqrt(values: Tensor) -> Tensor:
    out = values.pow(-0.5)
    return out.masked_fill(torch.isinf(out), 0.0)


class SheafLaplacian:
    """A normalised sheaf Laplacian in block-sparse form.

    Args:
        graph: the :class:`SheafGraph`.
        diag: ``[N, d]`` (diagonal blocks of diagonal maps) or ``[N, d, d]``.
        off: ``[E, d]`` or ``[E, d, d]``: the normalised off-diagonal block ``L_{row, col}`` of
            every entry.
        fixed_diag, fixed_off: ``[N, k]`` and ``[E, k]``: ``k`` further stalk dimensions with
            fixed diagonal maps (``add_lp``/``add_hp``), appended after the learned ones.

    ``laplacian @ x`` applies it to stalks ``x`` ``[N, d + k, C]``.
    """

    def __init__(self, graph: SheafGraph, diag: Tensor, off: Tensor, fixed_diag: Optional[Tensor] = None,
                 fixed_off: Optional[Tensor] = None):
        self.graph, self.diag, self.off = graph, diag, off
        self.fixed_diag, self.fixed_off = fixed_diag, fixed_off

    @property
    def learned_dim(self) -> int:
        return self.diag.shape[1]

    @property
    def stalk_dim(self) -> int:
        return self.learned_dim + (0 if self.fixed_diag is None else self.fixed_diag.shape[1])

    @staticmethod
    def _apply_diagonal(adj: Adj, diag: Tensor, off: Tensor, x: Tensor) -> Tensor:
        return diag.unsqueeze(-1) * x + ops.spmm(adj, x, "sum", weight=off)

    def __matmul__(self, x: Tensor) -> Tensor:
        if x.dim() != 3 or x.shape[0] != self.graph.num_nodes or x.shape[1] != self.stalk_dim:
            raise ValueError(f"stalks must have shape [{self.graph.num_nodes}, {self.stalk_dim}, C], "
                             f"got {list(x.shape)}")
        adj, d = self.graph.adj, self.learned_dim
        if self.off.dim() == 2:  # diagonal maps: the fixed dimensions are diagonal too, one spmm for all
            diag, off = self.diag, self.off
            if self.fixed_diag is not None:
                diag, off = torch.cat([diag, self.fixed_diag], dim=1), torch.cat([off, self.fixed_off], dim=1)
            return self._apply_diagonal(adj, diag, off, x)
        learned = x if self.fixed_diag is None else x[:, :d]
        out = torch.bmm(self.diag, learned) + ops.block_spmm(adj, self.off, learned)
        if self.fixed_diag is None:
            return out
        return torch.cat([out, self._apply_diagonal(adj, self.fixed_diag, self.fixed_off, x[:, d:])], dim=1)

    def to_dense(self) -> Tensor:
        """The ``(N D) x (N D)`` matrix (node-major: index ``i * D + a``), for tests and small graphs."""
        n, dim, d = self.graph.num_nodes, self.stalk_dim, self.learned_dim
        out = self.diag.new_zeros(n, dim, n, dim)
        nodes = torch.arange(n)
        row, col = self.graph.row, self.graph.col
        if self.off.dim() == 2:
            out[nodes, :d, nodes, :d] = torch.diag_embed(self.diag)
            out[row, :d, col, :d] = torch.diag_embed(self.off)
        else:
            out[nodes, :d, nodes, :d] = self.diag
            out[row, :d, col, :d] = self.off
        if self.fixed_diag is not None:
            out[nodes, d:, nodes, d:] = torch.diag_embed(self.fixed_diag)
            out[row, d:, col, d:] = torch.diag_embed(self.fixed_off)
        return out.reshape(n * dim, n * dim)


def fixed_maps(graph: SheafGraph, signs: Sequence[float], augmented: bool = True, dtype=torch.float32):
    """``(diag [N, k], off [E, k])`` of ``k`` extra stalk dimensions whose off-diagonal entries are
    ``sign`` before normalisation and whose diagonal is the degree, normalised like the learned
    part: the paper's ``add_lp`` (sign ``+1``) and ``add_hp`` (sign ``-1``, the graph Laplacian)."""
    degree = graph.degree.to(dtype)
    s = _inverse_sqrt(degree + 1 if augmented else degree)
    sign = torch.tensor(list(signs), dtype=dtype)
    off = (s[graph.row] * s[graph.col]).unsqueeze(-1) * sign
    diag = (s * s * degree).unsqueeze(-1).expand(-1, len(signs))
    return diag, off


def diagonal_sheaf_laplacian(graph: SheafGraph, maps: Tensor, augmented: bool = True, **fixed) -> SheafLaplacian:
    """Normalised Laplacian of diagonal restriction maps ``maps`` ``[E, d]`` (``maps[k]`` is the map
    of edge end ``k``: node ``row[k]`` on the edge to ``col[k]``)."""
    _check_maps(graph, maps, 2)
    degree = ops.segment_reduce(maps * maps, graph.adj, "sum")  # [N, d]
    s = _inverse_sqrt(degree + 1 if augmented else degree)
    off = -maps * maps[graph.reverse] * s[graph.row] * s[graph.col]
    return SheafLaplacian(graph, s * degree * s, off, **fixed)


def bundle_sheaf_laplacian(graph: SheafGraph, maps: Tensor, edge_weight: Optional[Tensor] = None,
                           augmented: bool = True, **fixed) -> SheafLaplacian:
    """Normalised connection Laplacian of orthogonal maps ``maps`` ``[E, d, d]`` (an O(d)-bundle),
    each edge's two maps scaled by its symmetric weight ``edge_weight`` ``[E]`` when given: then
    ``L_ii = (sum_e w_e^2) I`` and ``L_ij = -w_e^2 O_i^T O_j``."""
    _check_maps(graph, maps, 3)
    d = maps.shape[1]
    weight2 = maps.new_ones(graph.num_edges) if edge_weight is None else edge_weight.reshape(-1) ** 2
    degree = ops.segment_reduce(weight2.unsqueeze(-1), graph.adj, "sum").squeeze(-1)  # [N]
    s = _inverse_sqrt(degree + 1 if augmented else degree)
    transport = torch.bmm(maps.transpose(1, 2), maps[graph.reverse])  # O_i^T O_j
    off = -(weight2 * s[graph.row] * s[graph.col]).view(-1, 1, 1) * transport
    diag = (s * s * degree).view(-1, 1, 1) * torch.eye(d, dtype=maps.dtype, device=maps.device)
    return SheafLaplacian(graph, diag, off, **fixed)


def general_sheaf_laplacian(graph: SheafGraph, maps: Tensor, augmented: bool = True,
                            jitter: Optional[Tensor] = None, **fixed) -> SheafLaplacian:
    """Normalised Laplacian of general maps ``maps`` ``[E, d, d]``. ``D^-1/2`` of the ``d x d``
    diagonal blocks comes from a batched symmetric eigendecomposition; ``jitter`` ``[d]`` (small,
    drawn per training step, as the paper does) separates repeated eigenvalues so that its
    gradient stays finite. Blocks are clamped to ``[-1, 1]`` against rounding, as in the paper."""
    _check_maps(graph, maps, 3)
    d = maps.shape[1]
    blocks = torch.bmm(maps.transpose(1, 2), maps)  # F_i^T F_i per entry
    degree = ops.segment_reduce(blocks, graph.adj, "sum")  # [N, d, d]
    eye = torch.eye(d, dtype=maps.dtype, device=maps.device)
    shift = eye * (1.0 + (0.0 if jitter is None else jitter)) if augmented else (
        0.0 if jitter is None else torch.diag(jitter))
    values, vectors = torch.linalg.eigh(degree + shift)
    s = vectors @ torch.diag_embed(_inverse_sqrt(values.clamp_min(0.0))) @ vectors.transpose(1, 2)
    transport = -torch.bmm(maps.transpose(1, 2), maps[graph.reverse])  # -F_i^T F_j
    off = (s[graph.row] @ transport @ s[graph.col]).clamp(-1.0, 1.0)
    diag = (s @ degree @ s).clamp(-1.0, 1.0)
    return SheafLaplacian(graph, diag, off, **fixed)


def _check_maps(graph: SheafGraph, maps: Tensor, dims: int) -> None:
    if maps.dim() != dims or maps.shape[0] != graph.num_edges or (dims == 3 and maps.shape[1] != maps.shape[2]):
        shape = "[E, d]" if dims == 2 else "[E, d, d]"
        raise ValueError(f"restriction maps must have shape {shape} with E = {graph.num_edges}, "
                         f"got {list(maps.shape)}")
    if debug.enabled() and not torch.isfinite(maps).all():  # a read-back: debug mode only
        raise ValueError("restriction maps contain NaN or infinite values")
