"""The native C++ kernels against the pure-torch reference: 1,000 random graphs (empty rows,
self-loops, duplicates, isolated nodes, power-law degrees), float64 gradcheck and opcheck."""
from __future__ import annotations

import os

import pytest
import torch

from graphkit import Adj
from graphkit.ops import reference

try:
    from graphkit.ops import native
except Exception as err:  # no compiler here
    if os.environ.get("CI"):
        raise
    pytest.skip(f"native kernels unavailable: {err}", allow_module_level=True)

REDUCES = ["sum", "mean", "max", "min"]


def graph(seed: int, power_law: bool = False):
    g = torch.Generator().manual_seed(seed)
    n = int(torch.randint(1, 60, (1,), generator=g))
    e = int(torch.randint(0, 5 * n, (1,), generator=g))
    if power_law and e > 0:
        weights = torch.arange(1, n + 1, dtype=torch.float).pow(-1.5)
        dst = torch.multinomial(weights, e, replacement=True, generator=g)
    else:
        dst = torch.randint(0, max(1, (3 * n) // 4), (e,), generator=g)
    src = torch.randint(0, n, (e,), generator=g)
    if e > 3:
        src[:2], dst[:2] = dst[:2], dst[:2]  # self-loops
        src[-1], dst[-1] = src[0], dst[0]    # a duplicate
    return Adj.from_edge_index(torch.stack([src, dst]), n), g


def test_native_equals_reference_on_1000_random_graphs():
    for seed in range(1000):
        adj, g = graph(seed, power_law=seed % 2 == 1)
        n, e = adj.shape[1], adj.num_edges
        dtype = torch.float64 if seed % 3 == 0 else torch.float32
        tol = dict(rtol=1e-5, atol=1e-5) if dtype == torch.float32 else {}
        x = torch.randn(n, 3, 4, generator=g, dtype=dtype)
        w = torch.rand(e, generator=g, dtype=dtype)
        wh = torch.rand(e, 3, generator=g, dtype=dtype)
        reduce = REDUCES[seed % 4]
        torch.testing.assert_close(native.spmm(adj, x, reduce), reference.spmm(adj, x, reduce), **tol)
        torch.testing.assert_close(native.spmm(adj, x, reduce, w), reference.spmm(adj, x, reduce, w), **tol)
        torch.testing.assert_close(native.spmm(adj, x, reduce, wh), reference.spmm(adj, x, reduce, wh), **tol)
        a = torch.randn(n, 3, 4, generator=g, dtype=dtype)
        torch.testing.assert_close(native.sddmm(adj, a, x), reference.sddmm(adj, a, x), **tol)
        s = torch.randn(e, 3, generator=g, dtype=dtype) * 5
        torch.testing.assert_close(native.segment_softmax(adj, s), reference.segment_softmax(adj, s), **tol)


@pytest.mark.parametrize("reduce", REDUCES)
@pytest.mark.parametrize("per_head", [False, True])
def test_native_spmm_gradients_match_reference(reduce, per_head):
    adj, g = graph(7)
    adj = Adj.from_edge_index(torch.unique(adj.to_edge_index()[0], dim=1), adj.shape[1])  # no ties for max/min
    x = torch.randn(adj.shape[1], 2, 3, dtype=torch.float64, generator=g, requires_grad=True)
    w = torch.rand((adj.num_edges, 2) if per_head else (adj.num_edges,), dtype=torch.float64, generator=g,
                   requires_grad=True)
    assert torch.autograd.gradcheck(lambda x, w: native.spmm(adj, x, reduce, w), (x, w))
    grads = torch.autograd.grad(native.spmm(adj, x, reduce, w).sum(), (x, w))
    expected = torch.autograd.grad(reference.spmm(adj, x, reduce, w).sum(), (x, w))
    for got, want in zip(grads, expected):
        torch.testing.assert_close(got, want)


def test_native_sddmm_and_softmax_gradcheck():
    adj, g = graph(11, power_law=True)
    a = torch.randn(adj.shape[0], 2, 3, dtype=torch.float64, generator=g, requires_grad=True)
    b = torch.randn(adj.shape[1], 2, 3, dtype=torch.float64, generator=g, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, b: native.sddmm(adj, a, b), (a, b))
    s = torch.randn(adj.num_edges, 2, dtype=torch.float64, generator=g, requires_grad=True)
    assert torch.autograd.gradcheck(lambda s: native.segment_softmax(adj, s), (s,))


def test_opcheck_every_op():
    adj, g = graph(5)
    colptr, row_t, perm = adj.csc()
    x = torch.randn(adj.shape[1], 6, generator=g, requires_grad=True)
    w = torch.rand(adj.num_edges, 2, generator=g, requires_grad=True)
    for reduce in range(4):
        torch.library.opcheck(torch.ops.graphkit.spmm, (adj.rowptr, adj.col, w, x, reduce, colptr, row_t, perm))
    a = torch.randn(adj.shape[0], 6, generator=g, requires_grad=True)
    torch.library.opcheck(torch.ops.graphkit.sddmm, (adj.rowptr, adj.col, a, x, 2, colptr, row_t, perm))
    s = torch.randn(adj.num_edges, 2, generator=g, requires_grad=True)
    torch.library.opcheck(torch.ops.graphkit.segment_softmax, (adj.rowptr, s))
    torch.library.opcheck(torch.ops.graphkit.random_walk, (colptr, row_t, torch.arange(adj.shape[0]), 5, 0.5, 2.0, 3))


@pytest.mark.parametrize("reduce", REDUCES)
def test_native_empty_graph_gradients(reduce):
    adj = Adj.from_edge_index(torch.empty(2, 0, dtype=torch.long), 4)
    x = torch.randn(4, 3, dtype=torch.float64, requires_grad=True)
    w = torch.rand(0, dtype=torch.float64, requires_grad=True)
    out = native.spmm(adj, x, reduce, w)
    assert torch.equal(out, torch.zeros(4, 3, dtype=torch.float64))
    gx, gw = torch.autograd.grad(out.sum(), (x, w))
    assert torch.equal(gx, torch.zeros_like(x)) and gw.shape == (0,)


def test_native_gat_aggregate_matches_reference_and_gradcheck():
    for seed in range(200):
        adj, g = graph(seed, power_law=seed % 2 == 1)
        x = torch.randn(adj.shape[1], 3, 4, generator=g, dtype=torch.float64)
        s_src = torch.randn(adj.shape[1], 3, generator=g, dtype=torch.float64)
        s_dst = torch.randn(adj.shape[0], 3, generator=g, dtype=torch.float64)
        for got, want in zip(native.gat_aggregate(adj, x, s_src, s_dst, 0.2),
                             reference.gat_aggregate(adj, x, s_src, s_dst, 0.2)):
            torch.testing.assert_close(got, want)
    adj, g = graph(3, power_law=True)
    x = torch.randn(adj.shape[1], 2, 3, dtype=torch.float64, generator=g, requires_grad=True)
    s_src = torch.randn(adj.shape[1], 2, dtype=torch.float64, generator=g, requires_grad=True)
    s_dst = torch.randn(adj.shape[0], 2, dtype=torch.float64, generator=g, requires_grad=True)
    assert torch.autograd.gradcheck(lambda *t: native.gat_aggregate(adj, *t, 0.2), (x, s_src, s_dst))
    colptr, row_t, perm = adj.csc()
    torch.library.opcheck(torch.ops.graphkit.gat_aggregate,
                          (adj.rowptr, adj.col, x.detach().view(x.shape[0], -1).requires_grad_(), s_src, s_dst, 0.2,
                           colptr, row_t, perm))
