"""Every op against a naive per-edge loop, on random graphs with empty rows, isolated nodes,
self-loops and duplicate edges; gradients with float64 gradcheck."""
from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import graphkit
from graphkit import Adj, ops

from graphs import naive_spmm, random_graph

pytestmark = pytest.mark.usefixtures("each_backend")  # every test on both op backends


GRAPHS = [(1, 0), (7, 0), (12, 30), (40, 160), (64, 3)]


@pytest.mark.parametrize("reduce", ["sum", "mean", "max", "min"])
@pytest.mark.parametrize("num_nodes,num_edges", GRAPHS)
@pytest.mark.parametrize("weighted", [False, True])
def test_spmm_matches_naive(reduce, num_nodes, num_edges, weighted):
    ei = random_graph(num_nodes, num_edges, seed=num_nodes + num_edges)
    x = torch.randn(num_nodes, 5, dtype=torch.float64)
    w = torch.rand(num_edges, dtype=torch.float64) if weighted else None
    adj = Adj.from_edge_index(ei, num_nodes, edge_weight=w)
    out = ops.spmm(adj, x, reduce)
    torch.testing.assert_close(out, naive_spmm(ei, x, reduce, w, num_nodes))


@pytest.mark.parametrize("reduce", ["sum", "mean", "max"])
def test_spmm_per_head_weights(reduce):
    ei = random_graph(20, 70, seed=3)
    x = torch.randn(20, 3, 4, dtype=torch.float64)
    w = torch.rand(70, 3, dtype=torch.float64)
    adj = Adj.from_edge_index(ei, 20)
    torch.testing.assert_close(ops.spmm(adj, x, reduce, w[adj.perm]), naive_spmm(ei, x, reduce, w, 20))


def test_spmm_bipartite():
    ei = torch.tensor([[0, 4, 4, 2], [1, 0, 1, 2]])  # 5 sources -> 3 targets
    adj = Adj.from_edge_index(ei, 5, num_dst=3)
    x = torch.randn(5, 2, dtype=torch.float64)
    torch.testing.assert_close(ops.spmm(adj, x), naive_spmm(ei, x, "sum", None, 3))


@pytest.mark.parametrize("reduce", ["sum", "mean", "max", "min"])
@pytest.mark.parametrize("num_nodes,num_edges", [(9, 25), (6, 0)])
def test_spmm_gradcheck(reduce, num_nodes, num_edges):
    # No duplicate edges: max/min are not differentiable at exact ties.
    ei = random_graph(num_nodes, num_edges, seed=1, duplicates=False)
    adj = Adj.from_edge_index(ei, num_nodes)
    x = torch.randn(num_nodes, 3, dtype=torch.float64, requires_grad=True)
    w = torch.rand(num_edges, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x, w: ops.spmm(adj, x, reduce, w), (x, w))
    assert torch.autograd.gradcheck(lambda x: ops.spmm(adj, x, reduce), (x,))


@pytest.mark.parametrize("reduce", ["sum", "mean", "max"])
@pytest.mark.parametrize("num_nodes,num_edges", [(9, 25), (6, 0)])
def test_spmm_self_weight(reduce, num_nodes, num_edges):
    """``self_weight=s`` adds ``s * x[i]`` to row ``i`` in the op (GIN's self term): values and
    gradients against the naive sum, on the light path (weights without gradient), with weights
    that need one, and without grad; a bipartite graph is refused."""
    ei = random_graph(num_nodes, num_edges, seed=4, duplicates=False)
    adj = Adj.from_edge_index(ei, num_nodes)
    x = torch.randn(num_nodes, 3, dtype=torch.float64, requires_grad=True)
    w = torch.rand(num_edges, dtype=torch.float64, requires_grad=True)
    expected = naive_spmm(ei, x.detach(), reduce, None, num_nodes) + 1.5 * x.detach()
    torch.testing.assert_close(ops.spmm(adj, x, reduce, self_weight=1.5), expected)
    with torch.no_grad():
        torch.testing.assert_close(ops.spmm(adj, x, reduce, self_weight=1.5), expected)
    assert torch.autograd.gradcheck(lambda x: ops.spmm(adj, x, reduce, self_weight=1.5), (x,))
    assert torch.autograd.gradcheck(lambda x, w: ops.spmm(adj, x, reduce, w, self_weight=-0.5), (x, w))
    with pytest.raises(ValueError, match="self_weight needs a square graph"):
        ops.spmm(Adj.from_edge_index(torch.tensor([[0], [1]]), 3, num_dst=2), torch.randn(3, 2), self_weight=1.0)


def test_spmm_per_head_gradcheck():
    ei = random_graph(10, 30, seed=2)
    adj = Adj.from_edge_index(ei, 10)
    x = torch.randn(10, 2, 3, dtype=torch.float64, requires_grad=True)
    w = torch.rand(30, 2, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x, w: ops.spmm(adj, x, "sum", w), (x, w))


def test_max_gradient_goes_to_the_arg_index():
    # Two identical messages tie at the max: the whole gradient goes to the first edge in CSR order.
    adj = Adj.from_edge_index(torch.tensor([[0, 1], [2, 2]]), 3)
    x = torch.tensor([[1.0], [1.0], [0.0]], requires_grad=True)
    ops.spmm(adj, x, "max").sum().backward()
    assert x.grad.view(-1).tolist() == [1.0, 0.0, 0.0]


@pytest.mark.parametrize("op", ["dot", "add", "mul"])
@pytest.mark.parametrize("num_nodes,num_edges", GRAPHS)
def test_sddmm_matches_naive(op, num_nodes, num_edges):
    ei = random_graph(num_nodes, num_edges, seed=7)
    adj = Adj.from_edge_index(ei, num_nodes)
    a = torch.randn(num_nodes, 3, 4, dtype=torch.float64)
    b = torch.randn(num_nodes, 3, 4, dtype=torch.float64)
    out = ops.sddmm(adj, a, b, op)
    src, dst = adj.col, adj.row
    for e in range(adj.num_edges):
        i, j = int(dst[e]), int(src[e])
        expected = {"dot": (a[i] * b[j]).sum(-1), "add": a[i] + b[j], "mul": a[i] * b[j]}[op]
        torch.testing.assert_close(out[e], expected)
    assert out.shape[0] == num_edges


@pytest.mark.parametrize("op", ["dot", "add"])
def test_sddmm_gradcheck(op):
    adj = Adj.from_edge_index(random_graph(8, 20, seed=4), 8)
    a = torch.randn(8, 2, 3, dtype=torch.float64, requires_grad=True)
    b = torch.randn(8, 2, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, b: ops.sddmm(adj, a, b, op), (a, b))


@pytest.mark.parametrize("num_nodes,num_edges", GRAPHS)
def test_segment_softmax_matches_naive(num_nodes, num_edges):
    adj = Adj.from_edge_index(random_graph(num_nodes, num_edges, seed=5), num_nodes)
    scores = torch.randn(num_edges, 3, dtype=torch.float64) * 10
    out = ops.segment_softmax(adj, scores)
    for i in range(num_nodes):
        lo, hi = int(adj.rowptr[i]), int(adj.rowptr[i + 1])
        if hi > lo:
            torch.testing.assert_close(out[lo:hi], torch.softmax(scores[lo:hi], dim=0))


def test_segment_softmax_gradcheck():
    adj = Adj.from_edge_index(random_graph(8, 25, seed=6), 8)
    scores = torch.randn(25, 2, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda s: ops.segment_softmax(adj, s), (scores,))


@pytest.mark.parametrize("reduce", ["sum", "mean", "max", "min"])
@pytest.mark.parametrize("num_nodes,num_edges", GRAPHS)
def test_segment_reduce_matches_naive(reduce, num_nodes, num_edges):
    adj = Adj.from_edge_index(random_graph(num_nodes, num_edges, seed=8), num_nodes)
    src = torch.randn(num_edges, 4, dtype=torch.float64)
    out = ops.segment_reduce(src, adj, reduce)
    for i in range(num_nodes):
        lo, hi = int(adj.rowptr[i]), int(adj.rowptr[i + 1])
        seg = src[lo:hi]
        expected = torch.zeros(4, dtype=torch.float64) if hi == lo else \
            {"sum": seg.sum(0), "mean": seg.mean(0), "max": seg.amax(0), "min": seg.amin(0)}[reduce]
        torch.testing.assert_close(out[i], expected)


@pytest.mark.parametrize("reduce", ["sum", "mean", "max", "min"])
def test_segment_reduce_gradcheck(reduce):
    adj = Adj.from_edge_index(random_graph(7, 20, seed=9), 7)
    src = torch.randn(20, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda s: ops.segment_reduce(s, adj, reduce), (src,))


def test_gather_and_gradcheck():
    x = torch.randn(6, 3, dtype=torch.float64, requires_grad=True)
    index = torch.tensor([5, 0, 0, 3])
    torch.testing.assert_close(ops.gather(x, index), x.detach()[index])
    assert torch.autograd.gradcheck(lambda x: ops.gather(x, index), (x,))


@settings(max_examples=40, deadline=None)
@given(num_nodes=st.integers(1, 30), num_edges=st.integers(0, 120), seed=st.integers(0, 10_000),
       reduce=st.sampled_from(["sum", "mean", "max", "min"]))
def test_spmm_property(num_nodes, num_edges, seed, reduce):
    ei = random_graph(num_nodes, num_edges, seed)
    x = torch.randn(num_nodes, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))
    adj = Adj.from_edge_index(ei, num_nodes)
    torch.testing.assert_close(ops.spmm(adj, x, reduce), naive_spmm(ei, x, reduce, None, num_nodes))


def test_float32_large_matches_float64():
    ei = random_graph(2000, 20000, seed=11)
    x = torch.randn(2000, 16, dtype=torch.float64)
    adj = Adj.from_edge_index(ei, 2000)
    torch.testing.assert_close(ops.spmm(adj, x.float()).double(), ops.spmm(adj, x), rtol=1e-5, atol=1e-5)


# ------------------------------------------------------------------------- bad input
def test_ops_reject_bad_input():
    adj = Adj.from_edge_index(torch.tensor([[0, 1], [1, 2]]), 3)
    with pytest.raises(ValueError, match="rows"):
        ops.spmm(adj, torch.randn(4, 2))
    with pytest.raises(TypeError, match="floating-point"):
        ops.spmm(adj, torch.ones(3, 2, dtype=torch.long))
    with pytest.raises(ValueError, match="unknown reduce"):
        ops.spmm(adj, torch.randn(3, 2), reduce="median")
    with pytest.raises(ValueError, match="one per edge"):
        ops.spmm(adj, torch.randn(3, 2), weight=torch.rand(5))
    with pytest.raises(TypeError, match="graphkit.Adj"):
        ops.spmm(torch.tensor([[0, 1], [1, 2]]), torch.randn(3, 2))
    with pytest.raises(ValueError, match="unknown sddmm op"):
        ops.sddmm(adj, torch.randn(3, 2), torch.randn(3, 2), op="sub")
    with graphkit.debug(), pytest.raises(ValueError, match="out of range|outside"):
        ops.gather(torch.randn(3, 2), torch.tensor([3]))
    with pytest.raises((ValueError, RuntimeError, IndexError), match="out of (range|bounds)|outside"):
        ops.gather(torch.randn(3, 2), torch.tensor([3]))  # outside debug mode: the backend's own error
    with pytest.raises(ValueError, match="unknown ops backend"):
        ops.use_backend("cuda-magic")


def test_auto_backend_falls_back_to_reference_with_one_warning(monkeypatch):
    """Without a compiler the native build fails: ``auto`` warns once and runs the reference ops,
    ``native`` raises with the build error."""
    import re
    import warnings

    previous = ops.backend()

    def no_compiler():
        raise RuntimeError("no C++ compiler found")
    monkeypatch.setattr(ops, "_load_native", no_compiler)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            ops.use_backend("auto")
        assert ops.backend() == "reference"
        assert len(caught) == 1 and "no C++ compiler found" in str(caught[0].message)
        with pytest.raises(RuntimeError, match=re.escape("could not be built: no C++ compiler found")):
            ops.use_backend("native")
    finally:
        monkeypatch.undo()
        ops.use_backend(previous)


# ----------------------------------------------------------------------------- neighbour sets
def naive_neighbor_sets(edge_index, num_nodes, first, second, which):
    rows = [set() for _ in range(num_nodes)]
    for j, i in edge_index.t().tolist():
        rows[i].add(j)
    out = []
    for a, b in zip(first.tolist(), second.tolist()):
        s = (rows[a] & rows[b] if which == "common" else rows[a] - rows[b] if which == "first_only"
             else rows[b] - rows[a])
        out.append(sorted(s))
    return out


@pytest.mark.parametrize("which", ["common", "first_only", "second_only"])
@pytest.mark.parametrize("num_nodes,num_edges", GRAPHS)
def test_neighbor_sets_match_python_sets(which, num_nodes, num_edges):
    """Self-loops, duplicate edges (counted once), empty rows and a pair of a node with itself."""
    ei = random_graph(num_nodes, num_edges, seed=num_nodes * 3 + num_edges)
    adj = Adj.from_edge_index(ei, num_nodes)
    g = torch.Generator().manual_seed(num_edges)
    first = torch.randint(0, num_nodes, (57,), generator=g)
    second = torch.randint(0, num_nodes, (57,), generator=g)
    second[0] = first[0]
    sets = ops.neighbor_sets(adj, first, second, which)
    assert sets.shape == (57, num_nodes)
    expected = naive_neighbor_sets(ei, num_nodes, first, second, which)
    got = [sets.col[sets.rowptr[p]:sets.rowptr[p + 1]].tolist() for p in range(57)]
    assert got == expected


def test_neighbor_sets_aggregate_with_gradients():
    ei = random_graph(30, 150, seed=8)
    adj = Adj.from_edge_index(ei, 30)
    first, second = torch.arange(30), torch.arange(30).roll(1)
    sets = ops.neighbor_sets(adj, first, second)
    h = torch.randn(30, 4, dtype=torch.float64, requires_grad=True)
    torch.autograd.gradcheck(lambda t: ops.spmm(sets, t), (h,))
    assert ops.neighbor_sets(adj, first[:0], second[:0]).shape == (0, 30)


def test_neighbor_sets_reject_bad_input():
    adj = Adj.from_edge_index(random_graph(10, 30, seed=1), 10)
    ids = torch.arange(4)
    with graphkit.debug(), pytest.raises(ValueError, match="outside"):
        ops.neighbor_sets(adj, ids, torch.tensor([0, 1, 2, 10]))
    with pytest.raises((ValueError, RuntimeError, IndexError), match="out of (range|bounds)|outside"):
        ops.neighbor_sets(adj, ids, torch.tensor([0, 1, 2, 10]))
    with pytest.raises(TypeError, match="int32/int64"):
        ops.neighbor_sets(adj, ids.float(), ids)
    with pytest.raises(ValueError, match="same length"):
        ops.neighbor_sets(adj, ids, ids[:3])
    with pytest.raises(ValueError, match="unknown neighbour set"):
        ops.neighbor_sets(adj, ids, ids, "union")


def test_pair_product_matches_indexing_and_gradcheck():
    g = torch.Generator().manual_seed(11)
    x = torch.randn(30, 4, 3, dtype=torch.float64, generator=g, requires_grad=True)
    first = torch.randint(0, 30, (200,), generator=g)
    second = torch.randint(0, 30, (200,), generator=g)
    second[:10] = first[:10]  # a node paired with itself
    out = ops.pair_product(x, first, second)
    torch.testing.assert_close(out, x[first] * x[second])
    grad = torch.randn(out.shape, dtype=torch.float64, generator=g)
    torch.testing.assert_close(torch.autograd.grad(out, x, grad)[0],
                               torch.autograd.grad(x[first] * x[second], x, grad)[0])
    small = torch.randn(6, 3, dtype=torch.float64, generator=g, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: ops.pair_product(t, first[:25] % 6, second[:25] % 6), (small,))
    assert ops.pair_product(x, first[:0], second[:0]).shape == (0, 4, 3)


def test_pair_product_rejects_bad_input():
    x = torch.randn(5, 2)
    for first, second in ((torch.tensor([0, 5]), torch.tensor([1, 2])), (torch.tensor([0, 1]), torch.tensor([-1, 2]))):
        with graphkit.debug(), pytest.raises(ValueError, match="outside"):
            ops.pair_product(x, first, second)
        with pytest.raises((ValueError, RuntimeError, IndexError), match="out of (range|bounds)|outside"):
            ops.pair_product(x, first, second)
    with pytest.raises(ValueError, match="same length"):
        ops.pair_product(x, torch.tensor([0, 1]), torch.tensor([1]))
    with pytest.raises(TypeError, match="int32/int64"):
        ops.pair_product(x, torch.tensor([0.0]), torch.tensor([1]))
    with pytest.raises(TypeError, match="floating-point"):
        ops.pair_product(torch.ones(5, 2, dtype=torch.long), torch.tensor([0]), torch.tensor([1]))


@pytest.mark.parametrize("relu", [False, True])
@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_dropout_statistics_scale_and_gradient(relu, p):
    """Kept share ~ 1 - p, kept values scaled by 1 / (1 - p), the gradient passes exactly where
    the output came from the input, and torch.manual_seed fixes the pattern."""
    torch.manual_seed(0)
    x = torch.randn(400, 250, dtype=torch.float64, requires_grad=True)
    out = ops.dropout(x, p, relu=relu)
    base = torch.relu(x) if relu else x
    kept = out != 0
    assert abs(kept[base != 0].double().mean().item() - (1 - p)) < 0.01
    torch.testing.assert_close(out[kept], base[kept] / (1 - p))
    grad = torch.randn_like(out)
    (gx,) = torch.autograd.grad(out, x, grad)
    torch.testing.assert_close(gx, torch.where(kept, grad / (1 - p), torch.zeros_like(grad)))
    torch.manual_seed(0)
    first = ops.dropout(x.detach(), p, relu=relu)
    torch.manual_seed(0)
    assert torch.equal(ops.dropout(x.detach(), p, relu=relu), first)
    assert not torch.equal(ops.dropout(x.detach(), p, relu=relu), out.detach())  # a new draw each call


def test_dropout_backends_draw_the_same_mask_and_gradcheck():
    """The native kernels and the pure-torch reference drop exactly the same elements."""
    from graphkit.ops import reference
    for x in (torch.randn(3, 1000, 7, dtype=torch.float64), torch.randn(20_001, 3)):  # 3 * 20,001: a partial group
        for relu in (False, True):
            leaf = x.clone().requires_grad_()
            a = ops.dropout(leaf, 0.3, relu=relu, generator=torch.Generator().manual_seed(4))
            torch.testing.assert_close(a, reference.dropout(x, 0.3, _seed(4), relu), rtol=0, atol=0)
            grad = torch.randn_like(x)  # the backward redraws (plain) or reads off (ReLU) the same mask
            (gx,) = torch.autograd.grad(a, leaf, grad)
            passes = reference.dropout(torch.ones_like(x), 0.3, _seed(4), False) != 0
            passes = passes & (x > 0) if relu else passes
            torch.testing.assert_close(gx, torch.where(passes, grad / 0.7, torch.zeros_like(grad)))
    small = torch.randn(5, 4, dtype=torch.float64, requires_grad=True)
    for relu in (False, True):
        assert torch.autograd.gradcheck(
            lambda t: ops.dropout(t, 0.4, relu=relu, generator=torch.Generator().manual_seed(1)), (small,))


def _seed(value: int) -> int:
    return int(torch.randint(-2 ** 63, 2 ** 63 - 1, (1,), generator=torch.Generator().manual_seed(value)))


def test_dropout_eval_edges_and_bad_input():
    x = torch.randn(10, 3)
    assert torch.equal(ops.dropout(x, 0.5, training=False), x)
    assert torch.equal(ops.dropout(x, 0.5, training=False, relu=True), torch.relu(x))
    assert torch.equal(ops.dropout(x, 0.0, relu=True), torch.relu(x))
    assert torch.equal(ops.dropout(x, 1.0), torch.zeros_like(x))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        ops.dropout(x, 1.5)
    with pytest.raises(TypeError, match="floating-point"):
        ops.dropout(torch.ones(3, dtype=torch.long), 0.5)


def test_block_spmm_matches_per_edge_loop_and_gradcheck():
    ei = random_graph(12, 40, seed=3)
    adj = Adj.from_edge_index(ei, 12)
    g = torch.Generator().manual_seed(2)
    blocks = torch.randn(adj.num_edges, 3, 3, dtype=torch.float64, generator=g, requires_grad=True)
    x = torch.randn(12, 3, 4, dtype=torch.float64, generator=g, requires_grad=True)
    out = ops.block_spmm(adj, blocks, x)
    expected = torch.zeros(12, 3, 4, dtype=torch.float64)
    for k, (i, j) in enumerate(zip(adj.row.tolist(), adj.col.tolist())):
        expected[i] += blocks[k].detach() @ x[j].detach()
    torch.testing.assert_close(out, expected)
    assert torch.autograd.gradcheck(lambda b, t: ops.block_spmm(adj, b, t), (blocks, x))
    empty = Adj.from_edge_index(torch.empty(2, 0, dtype=torch.long), 5)
    assert torch.equal(ops.block_spmm(empty, torch.empty(0, 2, 2), torch.ones(5, 2, 1)), torch.zeros(5, 2, 1))
    with pytest.raises(ValueError, match="blocks must have shape"):
        ops.block_spmm(adj, blocks[:3], x)
    with pytest.raises(ValueError, match="x must have shape"):
        ops.block_spmm(adj, blocks, x[:, :2])
