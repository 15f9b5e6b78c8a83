"""Hostile inputs to every public op of :mod:`graphkit.ops`, on both backends (``each_backend``).

Two kinds of case: an illegal input (a graph that is not an ``Adj``, integer/bool/meta features, the
wrong number of rows, float or 2-D ids, ids out of range in debug mode, unknown reduce/op/set names,
bad weights, bad scalars, bad dropout probabilities, non-tensors to ``checksum``) is a clear
ValueError/TypeError naming the problem; a legal but unusual one (an empty graph, isolated nodes,
self-loops and duplicate edges, zero feature columns, a single node, an int32-indexed ``Adj``,
mixed autocast dtypes, ``p`` = 0 or 1) gives the answer of a dense pure-torch/numpy computation.
Cases already in test_hostile_core.py / test_hostile_kernels.py (gather int x and 2-D index,
random_walk bias bounds, sgns_train arguments) are not repeated.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import graphkit
from graphkit import Adj, ops

pytestmark = pytest.mark.usefixtures("each_backend")
L = torch.tensor
N = 5  # node 4 is isolated; 3 -> 3 is a self-loop and 0 -> 1 appears twice
EDGES = L([[0, 1, 1, 2, 3, 3, 0], [1, 0, 2, 1, 1, 3, 1]])


def _graph() -> Adj:
    return Adj.from_edge_index(EDGES, N)


def _int32(adj: Adj) -> Adj:
    rowptr, col = adj.int32()
    return Adj(rowptr.int(), col, adj.value, adj.shape)


def _graphs():
    return {"main": _graph(), "empty": Adj.from_edge_index(torch.zeros(2, 0, dtype=torch.long), 4),
            "single": Adj.from_edge_index(L([[0], [0]]), 1),
            "single_no_edge": Adj.from_edge_index(torch.zeros(2, 0, dtype=torch.long), 1),
            "int32": _int32(_graph())}


def _valid(op: str) -> dict:
    """Legal keyword arguments of ``ops.<op>`` on the main graph."""
    adj, gen = _graph(), torch.Generator().manual_seed(0)
    E = adj.num_edges

    def r(*shape):
        return torch.randn(*shape, generator=gen)
    return {
        "spmm": dict(adj=adj, x=r(N, 3)), "sddmm": dict(adj=adj, a=r(N, 3), b=r(N, 3)),
        "segment_softmax": dict(adj=adj, scores=r(E)), "segment_reduce": dict(src=r(E, 3), adj=adj),
        "gat_aggregate": dict(adj=adj, x=r(N, 2, 3), score_src=r(N, 2), score_dst=r(N, 2)),
        "random_walk": dict(adj=adj, start=L([0, 4]), walk_length=3),
        "neighbor_sets": dict(adj=adj, first=L([0, 1]), second=L([1, 3])),
        "pair_product": dict(x=r(N, 3), first=L([0, 1]), second=L([1, 4])),
        "block_spmm": dict(adj=adj, blocks=r(E, 2, 2), x=r(N, 2, 3)),
        "dropout": dict(x=r(N, 3), p=0.5), "gather": dict(x=r(N, 3), index=L([0, 4])),
    }[op]


def _call(name: str, /, **change):
    """``ops.<name>`` on :func:`_valid` arguments, with ``change`` (values, or functions of the valid value)."""
    kwargs = _valid(name)
    kwargs.update({k: v(kwargs[k]) if callable(v) else v for k, v in change.items()})
    return getattr(ops, name)(**kwargs)


GRAPH_OPS = ["spmm", "sddmm", "segment_softmax", "segment_reduce", "gat_aggregate", "random_walk",
             "neighbor_sets", "block_spmm"]


@pytest.mark.parametrize("op", GRAPH_OPS)
@pytest.mark.parametrize("graph, name", [(EDGES, "Tensor"), (None, "NoneType"), ("scipy", "csr_matrix")],
                         ids=["edge_index", "none", "scipy"])
def test_graph_must_be_an_adj(op, graph, name):
    graph = _graph().to_scipy() if graph == "scipy" else graph
    with pytest.raises(TypeError, match=f"expected a graphkit.Adj, got {name}"):
        _call(op, adj=graph)


FEATURES = [("spmm", "x"), ("spmm", "weight"), ("sddmm", "a"), ("sddmm", "b"), ("segment_softmax", "scores"),
            ("segment_reduce", "src"), ("gat_aggregate", "x"), ("gat_aggregate", "score_dst"), ("pair_product", "x"),
            ("block_spmm", "blocks"), ("block_spmm", "x"), ("dropout", "x")]


def _feature(op, arg):
    return _valid(op).get(arg, torch.ones(7))  # spmm's weight: one per edge


@pytest.mark.parametrize("op, arg", FEATURES, ids=[f"{o}-{a}" for o, a in FEATURES])
@pytest.mark.parametrize("dtype", [torch.int64, torch.bool], ids=["int", "bool"])
def test_non_float_features(op, arg, dtype):
    with pytest.raises(TypeError, match=rf"^{arg} must be a floating-point tensor, got dtype {dtype}"):
        _call(op, **{arg: _feature(op, arg).to(dtype)})


@pytest.mark.parametrize("op, arg", [f for f in FEATURES if f[0] != "dropout"]
                         + [("random_walk", "start"), ("neighbor_sets", "second"), ("gather", "x")], ids=lambda v: v)
def test_meta_tensors(op, arg):
    # pair_product's ids must be on x's device, gather's index on x's, every other tensor on the graph's
    match = {"pair_product": "^first is on cpu but x on meta", "gather": "^index is on cpu but x on meta"}.get(
        op, f"^{arg} is on meta but the graph on cpu")
    with pytest.raises(ValueError, match=match):
        _call(op, **{arg: _feature(op, arg).to("meta")})


SHAPES = [  # (op, change, error, regex)
    ("spmm", {"x": lambda t: t[:4]}, ValueError, r"x must have 5 rows \(one per source node\), got shape \[4, 3\]"),
    ("spmm", {"x": L(1.0)}, ValueError, r"x must have 5 rows .* got shape \[\]"),
    ("spmm", {"weight": torch.ones(8)}, ValueError, r"weight must have 7 rows \(one per edge\)"),
    ("spmm", {"weight": torch.ones(7, 1, 1)}, ValueError, r"weight must have shape \[E\] or \[E, H\]"),
    ("spmm", {"weight": torch.ones(7, 3)}, ValueError, r"per-head weight of shape \[7, 3\] needs x of shape"),
    ("sddmm", {"a": lambda t: t[:4]}, ValueError, r"a must have 5 rows \(one per target node\)"),
    ("sddmm", {"b": torch.ones(N, 4)}, ValueError, "a and b must have the same feature shape"),
    ("sddmm", {"a": lambda t: t.double()}, TypeError, r"a \(torch.float64\) and b \(torch.float32\) must share"),
    ("segment_softmax", {"scores": L(0.5)}, ValueError, r"scores must have 7 rows \(one per edge\), got shape \[\]"),
    ("segment_reduce", {"src": lambda t: t[1:]}, ValueError, r"src must have 7 rows \(one per edge\)"),
    ("gat_aggregate", {"x": lambda t: t[:, 0]}, ValueError, r"x must be \[N, H, C\] and score_src \[N, H\]"),
    ("gat_aggregate", {"score_dst": lambda t: t[:, 0]}, ValueError, r"score_dst must be \[M, 2\], got \[5\]"),
    ("gat_aggregate", {"score_dst": lambda t: t[:4]}, ValueError, "score_dst must have 5 rows"),
    ("pair_product", {"x": L(2.0)}, ValueError, r"x must have shape \[N, \*F\], got a 0-d tensor"),
    ("block_spmm", {"blocks": lambda t: t[1:]}, ValueError, r"blocks must have shape \[7, d, d\], got \[6, 2, 2\]"),
    ("block_spmm", {"x": lambda t: t[:, 0]}, ValueError, r"x must have shape \[5, 2, C\], got \[5, 3\]"),
    ("block_spmm", {"x": lambda t: t.double()}, TypeError, r"blocks \(torch.float32\) and x \(torch.float64\)"),
    ("gather", {"x": L(1.0)}, ValueError, "x must have shape .* 0-d"),
    ("gather", {"index": L([0.0, 1.0])}, TypeError, "index must be an int32/int64 tensor, got dtype torch.float32"),
    ("random_walk", {"start": L([0.0])}, TypeError, "start must be a 1-D int32/int64 tensor"),
    ("random_walk", {"start": L([[0]])}, TypeError, "start must be a 1-D int32/int64 tensor"),
    ("random_walk", {"adj": Adj.from_edge_index(EDGES, N, num_dst=4)}, ValueError, "need a square graph"),
    ("neighbor_sets", {"first": L([0.0, 1.0])}, TypeError, "first must be a 1-D int32/int64 tensor"),
    ("neighbor_sets", {"second": L([[1], [3]])}, TypeError, "second must be a 1-D int32/int64 tensor"),
    ("neighbor_sets", {"second": L([1])}, ValueError, "first and second must have the same length, got 2 and 1"),
    ("pair_product", {"first": [0, 1]}, TypeError, "first must be a 1-D int32/int64 tensor"),
    ("pair_product", {"second": L([[1, 4]])}, TypeError, "second must be a 1-D int32/int64 tensor"),
]


NAMES = [("spmm", "reduce", "avg"), ("spmm", "reduce", ""), ("spmm", "reduce", None),
         ("segment_reduce", "reduce", "SUM"), ("segment_reduce", "reduce", None), ("sddmm", "op", "sub"),
         ("sddmm", "op", None), ("neighbor_sets", "which", "union"), ("neighbor_sets", "which", "")]


@pytest.mark.parametrize("op, arg, value", NAMES, ids=[f"{o}-{v!r}" for o, _, v in NAMES])
def test_unknown_names(op, arg, value):
    what = {"reduce": "reduce", "op": "sddmm op", "which": "neighbour set"}[arg]
    with pytest.raises(ValueError, match=f"unknown {what} {value!r}; expected one of"):
        _call(op, **{arg: value})


SCALARS = [  # (op, change, error, regex)
    ("random_walk", {"walk_length": 2.5}, ValueError, "walk_length must be an integer, got 2.5"),
    ("random_walk", {"walk_length": "3"}, TypeError, "walk_length must be an integer, got str"),
    ("random_walk", {"walk_length": None}, ValueError, "walk_length must be an integer, got None"),
    ("random_walk", {"walk_length": -1}, ValueError, "walk_length must be >= 0, got -1"),
    ("random_walk", {"seed": 2 ** 70}, ValueError, "seed must fit in a signed 64-bit integer"),
    ("random_walk", {"seed": 1.5}, ValueError, "seed must be an integer"),
    ("gat_aggregate", {"negative_slope": "0.2"}, TypeError, "negative_slope must be a number, got str"),
    ("dropout", {"p": -0.1}, ValueError, r"dropout probability must be in \[0, 1\], got -0.1"),
    ("dropout", {"p": 1.5}, ValueError, r"dropout probability must be in \[0, 1\], got 1.5"),
    ("dropout", {"p": float("nan")}, ValueError, r"dropout probability must be in \[0, 1\], got nan"),
    ("dropout", {"p": float("inf")}, ValueError, r"dropout probability must be in \[0, 1\], got inf"),
    ("dropout", {"p": "0.5"}, TypeError, "dropout probability p must be a number, got str"),
    ("dropout", {"p": None}, TypeError, "dropout probability p must be a number, got NoneType"),
    ("dropout", {"p": True}, TypeError, "dropout probability p must be a number, got bool"),
    ("dropout", {"x": [1.0]}, TypeError, "x must be a torch.Tensor, got list"),
]


@pytest.mark.parametrize("op, change, error, match", SHAPES + SCALARS,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(SHAPES + SCALARS)])
def test_bad_shapes_dtypes_and_scalars(op, change, error, match):
    with pytest.raises(error, match=match):
        _call(op, **change)


IDS = [("gather", "index"), ("random_walk", "start"), ("neighbor_sets", "first"), ("neighbor_sets", "second"),
       ("pair_product", "first"), ("pair_product", "second")]


@pytest.mark.parametrize("op, arg", IDS, ids=[f"{o}-{a}" for o, a in IDS])
@pytest.mark.parametrize("bad", [-1, N])
def test_ids_out_of_range_in_debug_mode(op, arg, bad):
    ids = _valid(op)[arg].clone()
    ids[-1] = bad
    with graphkit.debug(), pytest.raises(ValueError, match=rf"{arg} contains node ids outside \[0, 5\): {bad} is"):
        _call(op, **{arg: ids})


@pytest.mark.parametrize("bad", [-1, N])
def test_random_walk_rejects_bad_start_outside_debug_mode(bad):
    with pytest.raises(ValueError, match=rf"start.*{bad} is out of range"):  # the reference wrapped -1 silently
        ops.random_walk(_graph(), L([0, bad]), 2)


# ----------------------------------------------------------------------------- legal inputs, right answers
def _dense_reduce(rows: torch.Tensor, msgs: torch.Tensor, num_rows: int, reduce: str) -> torch.Tensor:
    """Row ``i`` of the result reduces the ``msgs`` whose ``rows`` entry is ``i`` (zeros when none)."""
    out = msgs.new_zeros((num_rows,) + tuple(msgs.shape[1:]))
    for i in range(num_rows):
        group = msgs[rows == i]
        if len(group):
            out[i] = {"sum": group.sum(0), "mean": group.mean(0), "max": group.amax(0), "min": group.amin(0)}[reduce]
    return out


def _messages(adj: Adj, x: torch.Tensor, weight=None) -> torch.Tensor:
    w = torch.ones(adj.num_edges) if weight is None else weight
    return torch.stack([w[k] * x[j] for k, j in enumerate(adj.col.tolist())]) if adj.num_edges else x[:0]


@pytest.mark.parametrize("graph", ["main", "empty", "single", "single_no_edge", "int32"])
@pytest.mark.parametrize("reduce", ops.REDUCTIONS)
def test_spmm_and_segment_reduce_match_dense(graph, reduce):
    adj = _graphs()[graph]
    M, E = adj.shape[0], adj.num_edges
    x, weight, src = torch.randn(adj.shape[1], 3), torch.rand(E) + 0.5, torch.randn(E, 2)
    torch.testing.assert_close(ops.spmm(adj, x, reduce), _dense_reduce(adj.row, _messages(adj, x), M, reduce))
    torch.testing.assert_close(ops.spmm(adj, x, reduce, weight),
                               _dense_reduce(adj.row, _messages(adj, x, weight), M, reduce))
    torch.testing.assert_close(ops.spmm(adj, x[:, 0], reduce),  # 1-D x
                               _dense_reduce(adj.row, _messages(adj, x[:, 0]), M, reduce))
    assert ops.spmm(adj, x[:, :0], reduce).shape == (M, 0)  # F = 0
    torch.testing.assert_close(ops.segment_reduce(src, adj, reduce), _dense_reduce(adj.row, src, M, reduce))


@pytest.mark.parametrize("graph", ["main", "empty", "single", "int32"])
def test_sddmm_softmax_gat_match_dense(graph):
    adj = _graphs()[graph]
    M, N_, E = adj.shape[0], adj.shape[1], adj.num_edges
    row, col = adj.row, adj.col.long()
    a, b = torch.randn(M, 2, 3), torch.randn(N_, 2, 3)
    torch.testing.assert_close(ops.sddmm(adj, a, b), (a[row] * b[col]).sum(-1))
    torch.testing.assert_close(ops.sddmm(adj, a[:, 0], b[:, 0], "add"), a[row, 0] + b[col, 0])
    torch.testing.assert_close(ops.sddmm(adj, a, b, "mul"), a[row] * b[col])
    assert ops.sddmm(adj, a[..., :0], b[..., :0]).shape == (E, 2)  # F = 0: empty dot products
    scores = torch.randn(E, 2)
    expected = torch.empty_like(scores)
    for i in range(M):
        expected[row == i] = scores[row == i].softmax(0)
    torch.testing.assert_close(ops.segment_softmax(adj, scores), expected)
    s_src, s_dst = torch.randn(N_, 2), torch.randn(M, 2)
    alpha = F.leaky_relu(s_dst[row] + s_src[col], 0.2)
    for i in range(M):
        alpha[row == i] = alpha[row == i].softmax(0)
    out, got_alpha = ops.gat_aggregate(adj, b, s_src, s_dst)
    torch.testing.assert_close(got_alpha, alpha)
    torch.testing.assert_close(out, _dense_reduce(row, alpha[..., None] * b[col], M, "sum"))
    blocks, stalks = torch.randn(E, 2, 2), torch.randn(N_, 2, 4)
    torch.testing.assert_close(ops.block_spmm(adj, blocks, stalks),
                               _dense_reduce(row, blocks @ stalks[col], M, "sum"))


def test_gat_aggregate_casts_float32_scores_to_the_autocast_features():
    kwargs = _valid("gat_aggregate")
    adj, x16, s_src, s_dst = kwargs["adj"], kwargs["x"].bfloat16(), kwargs["score_src"], kwargs["score_dst"]
    for autocast in (False, True):
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
            out, alpha = ops.gat_aggregate(adj, x16, s_src, s_dst)
        assert out.dtype == alpha.dtype == torch.bfloat16
        want = ops.gat_aggregate(adj, x16, s_src.bfloat16(), s_dst.bfloat16())
        torch.testing.assert_close((out, alpha), want)


@pytest.mark.parametrize("reduce", ["sum", "mean"])
def test_spmm_under_autocast_keeps_the_features_dtype(reduce):
    x = torch.randn(N, 3, requires_grad=True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = ops.spmm(_graph(), x, reduce)  # torch.sparse.mm has no bf16: the reference turns autocast off
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, ops.spmm(_graph(), x.detach(), reduce))
    out.sum().backward()
    assert x.grad.dtype == torch.float32


@pytest.mark.parametrize("length", [2 ** 62, 2 ** 40])
def test_random_walk_too_long_for_memory_is_named(length):
    with pytest.raises(ValueError, match=rf"walk_length={length}: 1 walks of {length + 1} nodes would take .* GiB, "
                                         r"more than the .* GiB of cpu"):
        ops.random_walk(_graph(), L([0]), length)
    assert ops.random_walk(_graph(), L([], dtype=torch.long), length).shape == (0, length + 1)  # nothing to walk


@pytest.mark.parametrize("which", ops.NEIGHBOR_SETS)
@pytest.mark.parametrize("int32", [False, True], ids=["int64", "int32"])
def test_neighbor_sets_match_python_sets(which, int32):
    adj = _int32(_graph()) if int32 else _graph()
    rows = [set(adj.col[adj.row == i].tolist()) for i in range(N)]
    first, second = L([0, 1, 3, 4, 1]), L([1, 3, 3, 2, 1], dtype=torch.int32)  # isolated 4, self-pair, self-loop 3
    got = ops.neighbor_sets(adj, first, second, which)
    assert got.shape == (5, N)
    for p, (i, j) in enumerate(zip(first.tolist(), second.tolist())):
        want = {"common": rows[i] & rows[j], "first_only": rows[i] - rows[j], "second_only": rows[j] - rows[i]}
        assert got.col[got.rowptr[p]:got.rowptr[p + 1]].tolist() == sorted(want[which])


@pytest.mark.parametrize("dtype", [torch.int64, torch.int32])
def test_pair_product_and_gather_with_valid_ids(dtype):
    x = torch.randn(N, 2, 3)
    i, j = L([4, 0, 0, 3]), L([4, 4, 0, 1])
    with graphkit.debug():  # valid ids pass the debug check too
        for feats in (x, x[:, 0, 0]):  # [N, H, C] and 1-D
            torch.testing.assert_close(ops.pair_product(feats, i.to(dtype), j.to(dtype)), feats[i] * feats[j])
            torch.testing.assert_close(ops.gather(feats, i.to(dtype)), feats[i])
    empty = L([], dtype=dtype)
    assert ops.pair_product(x, empty, empty).shape == (0, 2, 3)
    assert ops.gather(torch.ones(0, 3), empty).shape == (0, 3)


@pytest.mark.parametrize("int32", [False, True], ids=["int64", "int32"])
def test_random_walks_follow_out_edges(int32):
    adj = _int32(_graph()) if int32 else _graph()
    out_edges = {(s, d) for s, d in EDGES.t().tolist()}
    with graphkit.debug():
        walks = ops.random_walk(adj, L([0, 1, 2, 3, 4], dtype=torch.int32), 6, p=0.5, q=2.0, seed=3)
    assert walks.shape == (5, 7) and walks.dtype == torch.int64
    assert walks[:, 0].tolist() == [0, 1, 2, 3, 4] and walks[4].tolist() == [4] * 7  # 4 has no out-edges
    assert all((s, d) in out_edges for w in walks[:4].tolist() for s, d in zip(w, w[1:]))
    assert torch.equal(walks, ops.random_walk(_graph(), L([0, 1, 2, 3, 4]), 6, p=0.5, q=2.0, seed=3))
    assert ops.random_walk(adj, L([3]), 0).tolist() == [[3]]
    assert ops.random_walk(adj, L([], dtype=torch.long), 4).shape == (0, 5)


def test_int32_adj_gives_the_int64_answers():
    adj, adj32 = _graph(), _int32(_graph())
    assert adj32._col.dtype == torch.int32  # int32 columns are kept as they are
    for op in ("spmm", "sddmm", "segment_softmax", "segment_reduce", "block_spmm"):
        torch.testing.assert_close(_call(op, adj=adj32), _call(op, adj=adj))
    torch.testing.assert_close(_call("gat_aggregate", adj=adj32), _call("gat_aggregate", adj=adj))


@pytest.mark.parametrize("relu", [False, True])
def test_dropout_edge_probabilities(relu):
    x = torch.randn(4, 5)
    base = x.relu() if relu else x
    if not relu:
        assert ops.dropout(x, 0.0) is x  # p = 0: x itself
    assert ops.dropout(x, 0.0, relu=relu).equal(base)
    assert ops.dropout(x, 0.7, training=False, relu=relu).equal(base)
    zeros = ops.dropout(x.double(), 1.0, relu=relu)  # p = 1: zeros of x's dtype
    assert zeros.dtype == torch.float64 and zeros.shape == x.shape and not zeros.any()
    kept = ops.dropout(x, 0.25, relu=relu, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(kept[kept != 0], base[kept != 0] / 0.75)  # kept elements scaled by 1 / (1 - p)
    meta = ops.dropout(torch.ones(4, 3, device="meta"), 0.5, relu=relu)  # shape inference: meta in, meta out
    assert meta.device.type == "meta" and meta.shape == (4, 3)


# ----------------------------------------------------------------------------- checksum
def _numpy_checksum(t: torch.Tensor) -> int:
    """The documented checksum, independently: the wrapping sum over the zero-padded 8-byte words w_i
    of splitmix64(w_i + (i + 1) * phi)."""
    data = t.contiguous().view(-1).view(torch.uint8).numpy().tobytes()
    data += bytes(-len(data) % 8)
    z = np.frombuffer(data, dtype=np.uint64) + np.arange(1, len(data) // 8 + 1, dtype=np.uint64) * np.uint64(
        0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    total = int((z ^ (z >> np.uint64(31))).sum(dtype=np.uint64))
    return total - 2 ** 64 if total >= 2 ** 63 else total


@pytest.mark.parametrize("dtype", [torch.int64, torch.int32, torch.float32, torch.float64, torch.bool, torch.uint8])
@pytest.mark.parametrize("numel", [0, 1, 7, 13])
def test_checksum_matches_the_definition_and_sees_every_element(dtype, numel):
    t = (torch.arange(numel) * 37 % 11).to(dtype)
    assert ops.checksum(t) == _numpy_checksum(t)
    for k in range(numel):
        changed = t.clone()
        changed[k] = (not changed[k]) if dtype == torch.bool else changed[k] + 1
        assert ops.checksum(changed) != ops.checksum(t)


@pytest.mark.parametrize("value, error, match", [
    ([1, 2], TypeError, "checksum takes a tensor, got list"), (None, TypeError, "checksum takes a tensor"),
    (np.ones(3), TypeError, "checksum takes a tensor, got ndarray"),
    (torch.ones(3, device="meta"), ValueError, "meta device"),
    (torch.eye(3).to_sparse(), TypeError, "dense \\(strided\\) tensor, got layout torch.sparse_coo"),
], ids=["list", "none", "ndarray", "meta", "sparse"])
def test_checksum_rejects(value, error, match):
    with pytest.raises(error, match=match):
        ops.checksum(value)
