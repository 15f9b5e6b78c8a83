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
        m = torch.randn(e, 3, 4, generator=g, dtype=dtype)
        torch.testing.assert_close(native.segment_reduce(m, adj, reduce), reference.segment_reduce(m, adj, reduce),
                                   **tol)
        torch.testing.assert_close(native.gather(x, adj.col), reference.gather(x, adj.col))
        if seed % 10 == 0:  # the backward paths (CSC, folded weights, index groups) against the reference's
            assert_same_gradients(lambda ops, x, w: ops.spmm(adj, x, "sum" if reduce in ("max", "min") else reduce,
                                                             adj.value) * 1.0, x, w, tol)
            assert_same_gradients(lambda ops, x, w: ops.gather(x, adj.col) * w.view(-1, 1, 1), x, w, tol)
            if reduce in ("sum", "mean"):
                assert_same_gradients(lambda ops, m, w: ops.segment_reduce(m * w.view(-1, 1, 1), adj, reduce), m, w,
                                      tol)


def assert_same_gradients(fn, *inputs_and_tol):
    *inputs, tol = inputs_and_tol
    grads = []
    for ops in (native, reference):
        leaves = [t.detach().clone().requires_grad_() for t in inputs]
        out = fn(ops, *leaves)
        grads.append(torch.autograd.grad(out, leaves, torch.ones_like(out), allow_unused=True))
    for got, want in zip(*grads):
        if want is None:
            assert got is None or not got.abs().any()
        else:
            torch.testing.assert_close(got, want, **tol)


@pytest.mark.parametrize("heads,channels", [(8, 8), (4, 32), (2, 48), (16, 4), (3, 24), (1, 200)])
def test_native_wide_features_and_heads_match_reference(heads, channels):
    """Feature widths that take every register-blocked path: whole blocks of several heads
    (compile-time head widths), a head per block, heads straddling blocks, tail blocks."""
    for seed in range(6):
        adj, g = graph(100 + seed, power_law=seed % 2 == 0)
        adj = adj.gcn_norm() if seed % 3 == 0 else adj
        n = adj.shape[1]
        x = torch.randn(n, heads, channels, generator=g, dtype=torch.float64, requires_grad=True)
        wh = torch.rand(adj.num_edges, heads, generator=g, dtype=torch.float64, requires_grad=True)
        s_src = torch.randn(n, heads, generator=g, dtype=torch.float64, requires_grad=True)
        s_dst = torch.randn(adj.shape[0], heads, generator=g, dtype=torch.float64, requires_grad=True)
        tol = {}
        for reduce in ("sum", "mean"):
            assert_same_gradients(lambda ops, x, w: ops.spmm(adj, x, reduce, w), x, wh, tol)
            assert_same_gradients(lambda ops, x: ops.spmm(adj, x, reduce), x, tol)
        assert_same_gradients(lambda ops, x, a, b: ops.gat_aggregate(adj, x, a, b, 0.2)[0], x, s_src, s_dst, tol)
        assert_same_gradients(lambda ops, x, a, b: ops.gat_aggregate(adj, x, a, b, 0.2)[1], x, s_src, s_dst, tol)
        a = torch.randn(adj.shape[0], heads, channels, generator=g, dtype=torch.float64)
        assert_same_gradients(lambda ops, a, b: ops.sddmm(adj, a, b), a, x, tol)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_scatter_backward_of_tall_matrices_matches_reference(dtype):
    """A tall matrix with few, well-filled columns (common-neighbour sets of pairs in a dense graph)
    takes the scatter backward (no transpose); its gradients equal the reference's, unweighted,
    weighted, per head and for the mean, and do not depend on the thread count."""
    g = torch.Generator().manual_seed(3)
    pairs, nodes, e = 600, 50, 9000
    edges = torch.stack([torch.randint(0, nodes, (e,), generator=g), torch.randint(0, pairs, (e,), generator=g)])
    adj = Adj.from_edge_index(edges, nodes, num_dst=pairs)
    adj = Adj(adj.rowptr, adj.col, None, (pairs, nodes))
    x = torch.randn(nodes, 2, 6, generator=g, dtype=dtype)
    assert native._scatter_backward(adj, x, "sum") and not native._scatter_backward(adj, x, "max")
    w = torch.rand(adj.num_edges, generator=g, dtype=dtype)
    wh = torch.rand(adj.num_edges, 2, generator=g, dtype=dtype)
    tol = {} if dtype == torch.float64 else dict(rtol=1e-5, atol=1e-5)
    for reduce in ("sum", "mean"):
        assert_same_gradients(lambda ops, x: ops.spmm(adj, x, reduce), x, tol)
        assert_same_gradients(lambda ops, x, w: ops.spmm(adj, x, reduce, w), x, w, tol)
        assert_same_gradients(lambda ops, x, w: ops.spmm(adj, x, reduce, w), x, wh, tol)
    fresh = Adj(adj.rowptr, adj.col, None, (pairs, nodes))  # its own structure cache
    leaf = x.clone().requires_grad_()
    native.spmm(fresh, leaf, "sum", w).sum().backward()
    assert leaf.grad is not None and not {"csc", "csc_int32"} & fresh.cache_keys()  # no transpose built
    if dtype == torch.float64:
        xg = x.clone().requires_grad_()
        assert torch.autograd.gradcheck(lambda x, w: native.spmm(adj, x, "sum", w),
                                        (xg[:, 0], wh.clone().requires_grad_()))
    grad = torch.randn(pairs, 12, generator=g, dtype=dtype)
    rowptr, col = adj.int32()
    before = torch.get_num_threads()
    try:
        results = []
        for threads in (1, 2):
            torch.set_num_threads(threads)
            results.append(torch.ops.graphkit.spmm_transpose_scatter(rowptr, col, w, grad, nodes))
    finally:
        torch.set_num_threads(before)
    assert torch.equal(*results)
    colptr, row_t, perm = adj.csc_int32()
    torch.testing.assert_close(results[0], torch.ops.graphkit.spmm_transpose(colptr, row_t, perm, w, grad), **tol)


def test_int64_and_int32_indices_agree():
    adj, g = graph(21, power_law=True)
    x = torch.randn(adj.shape[1], 70, generator=g)
    w = torch.rand(adj.num_edges, 2, generator=g)
    colptr, row_t, perm = adj.csc()
    colptr32, row_t32, perm32 = adj.csc_int32()
    rowptr32, col32 = adj.int32()
    for reduce in REDUCES:
        wide = torch.ops.graphkit.spmm(adj.rowptr, adj.col, w, x, reduce)[0]
        narrow = torch.ops.graphkit.spmm(rowptr32, col32, w, x, reduce)[0]
        torch.testing.assert_close(wide, narrow)
    g_out = torch.randn(adj.shape[0], 70, generator=g)
    torch.testing.assert_close(torch.ops.graphkit.spmm_transpose(colptr, row_t, perm, w, g_out),
                               torch.ops.graphkit.spmm_transpose(colptr32, row_t32, perm32, w, g_out))


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
    """Schema, fake kernel, autograd registration and torch.compile support of every op (the ops
    that are backward passes themselves are checked without inputs requiring grad). The forward
    ops get forward inputs only: called directly, their backward builds the transpose from the CSR,
    with int64 and int32 indices."""
    adj, g = graph(5)
    colptr, row_t, perm = adj.csc()
    x = torch.randn(adj.shape[1], 6, generator=g, requires_grad=True)
    w = torch.rand(adj.num_edges, 2, generator=g, requires_grad=True)
    w_t = w.detach()[perm]
    ops = torch.ops.graphkit
    for rowptr, col in ((adj.rowptr, adj.col), adj.int32()):
        for reduce in REDUCES:
            torch.library.opcheck(ops.spmm, (rowptr, col, w, x, reduce))
            torch.library.opcheck(ops.spmm, (rowptr, col, None, x, reduce))
        a = torch.randn(adj.shape[0], 6, generator=g, requires_grad=True)
        torch.library.opcheck(ops.sddmm, (rowptr, col, a, x, 2))
        s_src = torch.randn(adj.shape[1], 2, generator=g, requires_grad=True)
        s_dst = torch.randn(adj.shape[0], 2, generator=g, requires_grad=True)
        torch.library.opcheck(ops.gat_aggregate, (rowptr, col, x, s_src, s_dst, 0.2))
    s = torch.randn(adj.num_edges, 2, generator=g, requires_grad=True)
    torch.library.opcheck(ops.segment_softmax, (adj.rowptr, s))
    m = torch.randn(adj.num_edges, 5, generator=g, requires_grad=True)
    for reduce in REDUCES:
        torch.library.opcheck(ops.segment_reduce, (adj.rowptr, m, reduce))
    torch.library.opcheck(ops.gather, (x, adj.col))
    torch.library.opcheck(ops.random_walk, (colptr, row_t, torch.arange(adj.shape[0]), 5, 0.5, 2.0, 3))
    two = torch.tensor([0, 3, 5]), torch.tensor([0, 4, 5])  # graphs of 3 and 2 nodes, 4 and 1 entries
    torch.library.opcheck(ops.batch_graphs, (*two, torch.tensor([2, 1, 1, 1, 0]), torch.tensor([1, 2, 0, 2, 1]),
                                             torch.tensor([1, 0, 1])))
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)  # one thread: a function of the seed
        walks = torch.randint(0, adj.shape[0], (20, 6), generator=g)
        torch.library.opcheck(ops.sgns_train, (walks, adj.shape[0], 8, 2, 2, 1, 0.025, 0.0001, 1e-3, 0))
    finally:
        torch.set_num_threads(before)
    # the backward ops
    grad = torch.randn(adj.shape[0], 6, generator=g)
    torch.library.opcheck(ops.spmm_transpose, (colptr, row_t, perm, w.detach(), grad))
    torch.library.opcheck(ops.spmm_transpose, (colptr, row_t, perm.new_empty(0), w_t, grad))
    torch.library.opcheck(ops.spmm_transpose_scatter, (adj.rowptr, adj.col, w.detach(), grad, adj.shape[1]))
    torch.library.opcheck(ops.spmm_transpose_scatter, (adj.rowptr, adj.col, None, grad, adj.shape[1]))
    arg = ops.spmm(adj.rowptr, adj.col, None, x.detach(), "max")[1]
    torch.library.opcheck(ops.spmm_arg_backward, (colptr, row_t, perm, None, arg, grad, adj.shape[1]))
    y = ops.segment_softmax(adj.rowptr, s.detach())
    torch.library.opcheck(ops.segment_softmax_backward, (adj.rowptr, y, torch.randn_like(y)))
    torch.library.opcheck(ops.gather_backward, (colptr, perm, torch.randn(adj.num_edges, 3, generator=g)))
    h = x.detach()
    s_src, s_dst = torch.randn(adj.shape[1], 2, generator=g), torch.randn(adj.shape[0], 2, generator=g)
    out, alpha = ops.gat_aggregate(adj.rowptr, adj.col, h, s_src, s_dst, 0.2)
    torch.library.opcheck(ops.gat_aggregate_backward,
                          (adj.rowptr, adj.col, h, s_src, s_dst, alpha, torch.randn_like(out), torch.randn_like(alpha),
                           0.2, colptr, row_t, perm))


def test_reductions_and_sets_are_named_by_strings():
    adj, g = graph(5)
    x = torch.randn(adj.shape[1], 3, generator=g)
    ops = torch.ops.graphkit
    with pytest.raises(RuntimeError, match="spmm: reduce must be 'sum', 'mean', 'max' or 'min', got 'median'"):
        ops.spmm(adj.rowptr, adj.col, None, x, "median")
    with pytest.raises(RuntimeError, match="segment_reduce: reduce must be"):
        ops.segment_reduce(adj.rowptr, torch.randn(adj.num_edges, 3), "prod")
    with pytest.raises(RuntimeError, match="neighbor_sets: which must be"):
        ops.neighbor_sets(adj.rowptr, adj.col, torch.arange(2), torch.arange(2), "both")


def test_backward_reads_the_transpose_cached_on_the_adj(monkeypatch):
    """The ops take forward inputs only; called from an Adj, their backward finds the Adj on the
    autograd context and reads its transpose (built once, kept in its cache); called directly, the
    backward builds the transpose from the CSR arrays, with the same gradients."""
    adj, g = graph(8, power_law=True)
    n, m = adj.shape[1], adj.shape[0]
    seen = []
    real = native._csc_int32
    monkeypatch.setattr(native, "_csc_int32", lambda a: seen.append(a) or real(a))
    x = torch.randn(n, 2, 4, dtype=torch.float64, generator=g, requires_grad=True)
    w = torch.rand(adj.num_edges, dtype=torch.float64, generator=g, requires_grad=True)
    a = torch.randn(m, 2, 4, dtype=torch.float64, generator=g, requires_grad=True)
    s_src = torch.randn(n, 2, dtype=torch.float64, generator=g, requires_grad=True)
    s_dst = torch.randn(m, 2, dtype=torch.float64, generator=g, requires_grad=True)
    blocks = torch.randn(adj.num_edges, 2, 2, dtype=torch.float64, generator=g, requires_grad=True)
    rowptr, col = adj.int32()
    flat = x.view(n, 8)
    ops = torch.ops.graphkit
    pairs = [(native.spmm(adj, x, "mean", w).view(m, 8), ops.spmm(rowptr, col, w, flat, "mean")[0]),
             (native.spmm(adj, x, "max").view(m, 8), ops.spmm(rowptr, col, None, flat, "max")[0]),
             (native.sddmm(adj, a, x), ops.sddmm(rowptr, col, a.view(m, 8), flat, 2)),
             (native.gat_aggregate(adj, x, s_src, s_dst)[0].view(m, 8),
              ops.gat_aggregate(rowptr, col, flat, s_src, s_dst, 0.2)[0]),
             (native.block_spmm(adj, blocks, x), ops.block_spmm(rowptr, col, blocks, x))]
    leaves = (x, w, a, s_src, s_dst, blocks)
    for through_adj, direct in pairs:
        seen.clear()
        assert torch.equal(through_adj, direct)
        expected = torch.autograd.grad(through_adj.sum(), leaves, allow_unused=True, retain_graph=True)
        assert seen and all(s is adj for s in seen)
        seen.clear()
        got = torch.autograd.grad(direct.sum(), leaves, allow_unused=True)
        assert seen and all(s is not adj for s in seen)
        for e, d in zip(expected, got):
            assert (e is None) == (d is None)
            if e is not None:
                torch.testing.assert_close(d, e)
    cached = adj.csc_int32()
    native.spmm(adj, x).sum().backward()
    assert all(t is u for t, u in zip(adj.csc_int32(), cached))


@pytest.mark.parametrize("dtype", [torch.int64, torch.int32])
def test_out_of_range_ids_raise_from_the_kernels(dtype):
    """Node ids given per call are checked inside the loops that read them: an id outside the
    rows is a ValueError naming the op, the tensor, the position and the value, raised by the kernel
    itself (so graphkit.ops needs no host-side min/max of its own)."""
    from graphkit import ops
    adj, g = graph(9)
    n = adj.shape[0]
    x = torch.randn(n, 3, generator=g)
    good = torch.tensor([0, n - 1], dtype=dtype)
    for bad, value in ((torch.tensor([0, n], dtype=dtype), n), (torch.tensor([0, -1], dtype=dtype), -1)):
        tail = rf"{value} is out of range \(outside \[0, {n}\)\)"
        message = r"\[1\] = " + tail
        with pytest.raises(ValueError, match="gather: index" + message):
            native.gather(x, bad)
        with pytest.raises(ValueError, match="pair_product: first" + message):
            native.pair_product(x, bad, good)
        with pytest.raises(ValueError, match="pair_product: second" + message):
            native.pair_product(x, good, bad)
        with pytest.raises(ValueError, match="neighbor_sets: first" + message):
            native.neighbor_sets(adj, bad, good)
        with pytest.raises(ValueError, match="neighbor_sets: second" + message):
            native.neighbor_sets(adj, good, bad)
        with pytest.raises(ValueError, match="random_walk: start" + message):
            native.random_walk(adj, bad, 4)
        with pytest.raises(ValueError, match=r"sgns_train: walks\[0, 1\] = " + tail):
            native.sgns_train(bad.view(1, 2), n, 4)
    previous = ops.backend()
    try:  # through graphkit.ops (whose wrappers check the ids only in graphkit.debug mode)
        ops.use_backend("native")
        bad = torch.tensor([0, n], dtype=dtype)
        for call in (lambda: ops.gather(x, bad), lambda: ops.pair_product(x, good, bad),
                     lambda: ops.neighbor_sets(adj, bad, good), lambda: ops.random_walk(adj, bad, 4),
                     lambda: ops.sgns_train(bad.view(1, 2), n, 4)):
            with pytest.raises(ValueError, match=rf"outside \[0, {n}\)"):
                call()
    finally:
        ops.use_backend(previous)


def test_csr_transpose_equals_a_stable_sort_and_is_adopted():
    """The counting-sort transpose gives the arrays of a stable (col, row) sort, on graphs with
    empty rows, duplicates and power-law columns; spmm's backward uses it through the Adj."""
    for seed in range(20):
        adj, g = graph(seed, power_law=seed % 2 == 1)
        rowptr, col = adj.int32()
        got = torch.ops.graphkit.csr_transpose(rowptr, col, adj.shape[1])
        expected = Adj(adj.rowptr, adj.col, None, adj.shape).csc()  # a fresh structure: argsort
        for a, b in zip(got, expected):
            assert a.dtype == torch.int32 and torch.equal(a.long(), b)
        got64 = torch.ops.graphkit.csr_transpose(adj.rowptr, adj.col, adj.shape[1])
        assert all(torch.equal(a, b) for a, b in zip(got64, expected))
    torch.library.opcheck(torch.ops.graphkit.csr_transpose, (rowptr, col, adj.shape[1]))
    fresh = Adj(adj.rowptr, adj.col, None, adj.shape)
    x = torch.randn(adj.shape[1], 3, dtype=torch.float64, requires_grad=True)
    native.spmm(fresh, x).sum().backward()
    assert "csc_int32" in fresh.cache_keys()
    assert all(torch.equal(a, b) for a, b in zip(fresh.csc(), expected))


def test_pair_product_and_dropout_op_registration():
    """Schema, fake kernel, autograd registration of pair_product and dropout (and their backward ops)."""
    adj, g = graph(6)
    ops = torch.ops.graphkit
    x = torch.randn(adj.shape[0], 5, generator=g, requires_grad=True)
    first = torch.randint(0, adj.shape[0], (30,), generator=g)
    second = torch.randint(0, adj.shape[0], (30,), generator=g)
    torch.library.opcheck(ops.pair_product, (x, first, second))
    colptr, row_t, perm = adj.csc()
    blocks = torch.randn(adj.num_edges, 2, 2, generator=g, requires_grad=True)
    stalks = torch.randn(adj.shape[1], 2, 3, generator=g, requires_grad=True)
    torch.library.opcheck(ops.block_spmm, (adj.rowptr, adj.col, blocks, stalks))
    grad = torch.randn(adj.shape[0], 2, 3, generator=g)
    torch.library.opcheck(ops.block_spmm_transpose, (colptr, row_t, perm, blocks.detach(), grad))
    torch.library.opcheck(ops.block_spmm_blocks_grad, (adj.rowptr, adj.col, grad, stalks.detach()))
    for relu in (False, True):
        torch.library.opcheck(ops.dropout, (x, 0.3, 77, relu))
        out = ops.dropout(x.detach(), 0.3, 77, relu)
        torch.library.opcheck(ops.dropout_backward, (torch.randn_like(out), out, 0.3, 77, relu))
    ends = torch.cat([first, second])
    perm = torch.argsort(ends, stable=True)
    ptr = torch.cat([torch.zeros(1, dtype=torch.long), torch.bincount(ends, minlength=adj.shape[0]).cumsum(0)])
    torch.library.opcheck(ops.pair_product_backward,
                          (ptr, perm, torch.cat([second, first]), x.detach(), torch.randn(30, 5, generator=g)))


def test_segment_reduce_and_gather_gradcheck():
    adj, g = graph(13, power_law=True)
    m = torch.randn(adj.num_edges, 2, 3, dtype=torch.float64, generator=g, requires_grad=True)
    for reduce in ("sum", "mean"):
        assert torch.autograd.gradcheck(lambda m: native.segment_reduce(m, adj, reduce), (m,))
    x = torch.randn(adj.shape[1], 2, 3, dtype=torch.float64, generator=g, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x: native.gather(x, adj.col), (x,))
    assert torch.autograd.gradcheck(lambda x: native.gather(x, adj.row), (x,))


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
    torch.library.opcheck(torch.ops.graphkit.gat_aggregate,
                          (adj.rowptr, adj.col, x.detach().view(x.shape[0], -1).requires_grad_(), s_src, s_dst, 0.2))


def spmm_of_values(adj: Adj, x, reduce: str):
    """spmm with the graph's own weights (whose backward reads them in CSC order from the Adj)."""
    return native.spmm(adj, x, reduce, adj.value)


def compare_with_cpu(device: str, seeds=range(50)) -> None:
    """Every op on ``device`` against the CPU kernels: forward results and the gradients of every
    input (float32, the graphs' int32 indices; int64 indices for spmm called directly), the walks,
    neighbour sets and skip-gram vectors (equal: the same streams)."""
    def leaf(*shape, g):
        return torch.randn(*shape, generator=g, requires_grad=True)

    for seed in seeds:
        adj, g = graph(seed, power_law=seed % 2 == 1)
        n, m, e = adj.shape[1], adj.shape[0], adj.num_edges
        x, w, wh = leaf(n, 4, 8, g=g), torch.rand(e, generator=g).requires_grad_(), leaf(e, 4, g=g)
        s_src, s_dst, a, msg = leaf(n, 4, g=g), leaf(m, 4, g=g), leaf(m, 4, 8, g=g), leaf(e, 4, 8, g=g)
        blocks = leaf(e, 4, 4, g=g)
        index = torch.randint(0, n, (3 * e + 1,), generator=g)
        first = torch.randint(0, n, (2 * e + 1,), generator=g)
        second = torch.randint(0, n, (2 * e + 1,), generator=g)
        leaves = (x, w, wh, s_src, s_dst, a, msg, blocks)
        cases = [lambda A, x, w, wh, *_, r=r: native.spmm(A, x, r) for r in REDUCES]
        cases += [lambda A, x, w, wh, *_, r=r: native.spmm(A, x, r, w) for r in REDUCES]
        cases += [lambda A, x, w, wh, *_, r=r: native.spmm(A, x, r, wh) for r in REDUCES]
        cases += [lambda A, x, w, *_, r=r: spmm_of_values(A.with_value(w.detach()), x, r) for r in ("sum", "mean")]
        cases += [lambda A, x, w, wh, s, d, a, msg, b, r=r: native.segment_reduce(msg, A, r) for r in REDUCES]
        cases += [lambda A, x, w, wh, s, d, *_: native.gat_aggregate(A, x, s, d, 0.2)[0],
                  lambda A, x, w, wh, s, d, *_: native.gat_aggregate(A, x, s, d, 0.2)[1],
                  lambda A, x, w, wh, s, d, a, *_: native.sddmm(A, a, x),
                  lambda A, x, w, wh, s, d, a, *_: native.sddmm(A, a[:, 0], x[:, 1]),
                  lambda A, x, w, wh, *_: native.segment_softmax(A, wh),
                  lambda A, x, *_, i=index: native.gather(x, i.to(x.device)),
                  lambda A, x, *_, i=index: native.gather(x, i.to(x.device).int()),
                  lambda A, x, *_, f=first, s=second: native.pair_product(x, f.to(x.device), s.to(x.device)),
                  lambda A, x, w, wh, s, d, a, msg, b: native.block_spmm(A, b, x),
                  lambda A, x, w, wh, s, d, a, msg, b: native.dropout(msg, 0.4, 123, True),
                  lambda A, x, w, wh, s, d, a, msg, b: native.dropout(msg, 0.4, 123, False)]
        cases += [lambda A, x, w, *_, r=r: torch.ops.graphkit.spmm(A.rowptr, A.col, w, x.flatten(1), r)[0]
                  for r in REDUCES]
        on_device = adj.to(device)
        for case in cases:
            cpu_out = case(adj, *leaves)
            device_leaves = [t.detach().to(device).requires_grad_() for t in leaves]
            device_out = case(on_device, *device_leaves)
            torch.testing.assert_close(device_out.cpu(), cpu_out, rtol=1e-4, atol=1e-4)
            cotangent = torch.randn(cpu_out.shape, generator=g)
            cpu_grads = torch.autograd.grad(cpu_out, leaves, cotangent, allow_unused=True)
            device_grads = torch.autograd.grad(device_out, device_leaves, cotangent.to(device), allow_unused=True)
            for c, d in zip(cpu_grads, device_grads):
                assert (c is None) == (d is None)
                if c is not None:
                    torch.testing.assert_close(d.cpu(), c, rtol=1e-4, atol=1e-4)
        start = torch.arange(m)
        for p, q in ((1.0, 1.0), (0.5, 2.0)):
            assert torch.equal(native.random_walk(on_device, start.to(device), 10, p, q, seed=seed).cpu(),
                               native.random_walk(adj, start, 10, p, q, seed=seed))
        for which in ("common", "first_only", "second_only"):
            there = native.neighbor_sets(on_device, start.to(device), start.roll(3).to(device), which)
            here = native.neighbor_sets(adj, start, start.roll(3), which)
            assert torch.equal(there.rowptr.cpu(), here.rowptr) and torch.equal(there.col.cpu(), here.col)
    walks = native.random_walk(adj, torch.arange(adj.shape[0]).repeat(4), 9, seed=1)
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)  # sgns_train has no GPU kernel: walks elsewhere train on the CPU
        vectors = native.sgns_train(walks.to(device), adj.shape[0], 8, 3, 2, 2, seed=5)
        assert vectors.device.type == torch.device(device).type
        assert torch.equal(vectors.cpu(), native.sgns_train(walks, adj.shape[0], 8, 3, 2, 2, seed=5))
    finally:
        torch.set_num_threads(before)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_kernels_match_cpu():
    """Every op on the GPU against the CPU kernels (benchmarks/device_check.sh runs this)."""
    assert native.HAS_CUDA, "torch has CUDA but graphkit's CUDA kernels were not built (is CUDA_HOME set?)"
    compare_with_cpu("cuda")


def test_kernels_run_on_torch_threads():
    """The kernels use torch's intra-op pool: built without OpenMP they would silently run on one
    thread (ATen's parallel_for is a header template compiled into the extension)."""
    if (os.cpu_count() or 1) < 2:
        pytest.skip("one core")
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        assert torch.ops.graphkit.threads_used(64) == 2
        torch.set_num_threads(1)
        assert torch.ops.graphkit.threads_used(64) == 1
    finally:
        torch.set_num_threads(before)


def test_results_do_not_depend_on_the_thread_count():
    """Rows are split among threads, never shared: 1 and 2 threads give bit-identical results."""
    from graphkit import ops
    g = torch.Generator().manual_seed(5)
    n = 3000
    weights = torch.arange(1, n + 1, dtype=torch.float).pow(-1.2)
    dst = torch.multinomial(weights, 40_000, replacement=True, generator=g)
    adj = Adj.from_edge_index(torch.stack([torch.randint(0, n, (40_000,), generator=g), dst]), n)
    x = torch.randn(n, 96, generator=g, requires_grad=True)
    w = torch.rand(adj.num_edges, 4, generator=g)
    s_src, s_dst = torch.randn(n, 4, generator=g), torch.randn(n, 4, generator=g)

    def run():
        x.grad = None
        outs = [ops.spmm(adj, x, reduce) for reduce in REDUCES] + [ops.spmm(adj, x.view(n, 4, 24), "sum", weight=w)]
        outs.append(ops.gat_aggregate(adj, x.view(n, 4, 24), s_src, s_dst)[0])
        sum(o.square().sum() for o in outs).backward()
        walks = ops.random_walk(adj, torch.arange(n), 20, p=0.5, q=2.0, seed=3)
        sets = ops.neighbor_sets(adj, torch.arange(n), torch.arange(n).flip(0))
        grad_spmm, x.grad = x.grad.clone(), None
        pairs = ops.pair_product(x, adj.col[:20_000], adj.row[:20_000])
        dropped = ops.dropout(pairs, 0.5, relu=True, generator=torch.Generator().manual_seed(2))
        dropped.square().sum().backward()
        return [o.detach() for o in outs] + [grad_spmm, walks, sets.rowptr, sets.col, dropped.detach(), x.grad.clone()]

    before = torch.get_num_threads()
    previous = ops.backend()
    try:
        ops.use_backend("native")
        torch.set_num_threads(1)
        one = run()
        torch.set_num_threads(2)
        two = run()
    finally:
        torch.set_num_threads(before)
        ops.use_backend(previous)
    for a, b in zip(one, two):
        assert torch.equal(a, b)


def test_neighbor_sets_op_registration():
    """Schema, fake (data-dependent size) kernel and dispatch of neighbor_sets pass torch's opcheck."""
    adj, g = graph(4)
    rowptr, col = adj.int32()
    first = torch.randint(0, adj.shape[0], (40,), generator=g)
    second = torch.randint(0, adj.shape[0], (40,), generator=g)
    for which in ("common", "first_only", "second_only"):
        torch.library.opcheck(torch.ops.graphkit.neighbor_sets, (rowptr, col, first, second, which))
