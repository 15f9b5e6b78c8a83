"""Neighbour sampling (``ops.sample_neighbors``): the native kernel against the pure-torch
reference bit for bit, exact fanouts, no repeats without replacement, sampled edges that exist,
uniform and weight-proportional frequencies (chi-square), thread-count independence, blocks that chain layer to layer (a
full-neighbourhood sample reproduces full-graph GraphSAGE at the seeds) and clear errors."""
from __future__ import annotations

import pytest
import torch
from scipy.stats import chisquare

from graphkit import Adj, ops
from graphkit.nn import SAGEConv
from graphkit.ops import native, reference

from graphs import random_graph


def _graph():
    ei = random_graph(300, 3000, seed=7)
    hub = torch.stack([torch.randint(0, 200, (400,), generator=torch.Generator().manual_seed(1)),
                       torch.zeros(400, dtype=torch.long)])  # node 0: a hub of 400 entries
    ei = torch.cat([ei, hub], 1)
    return ei, Adj.from_edge_index(ei, 300)


@pytest.mark.parametrize("fanout", [-1, 1, 4, 25])
@pytest.mark.parametrize("replace", [False, True])
def test_native_hop_equals_reference_and_counts_are_exact(fanout, replace):
    ei, adj = _graph()
    nodes = torch.randperm(300, generator=torch.Generator().manual_seed(0))
    ptr, picks = native.sample_hop(adj.rowptr, nodes, None, fanout, replace, 99)
    ref = reference.sample_hop(adj.rowptr, nodes, None, fanout, replace, 99)
    assert torch.equal(ptr, ref[0]) and torch.equal(picks, ref[1])
    deg = adj.in_degree()[nodes]
    expected = deg if fanout < 0 else (torch.where(deg > 0, fanout, 0) if replace else deg.clamp(max=fanout))
    assert torch.equal(ptr.diff(), expected)
    start = adj.rowptr[nodes]
    for d in range(nodes.numel()):  # every pick lies in its node's row; distinct without replacement
        row = picks[ptr[d]:ptr[d + 1]]
        assert bool(((row >= start[d]) & (row < start[d] + deg[d])).all())
        assert replace or row.unique().numel() == row.numel()


def _weights(adj: Adj) -> torch.Tensor:
    """Weights over 6 orders of magnitude, a quarter of them 0 (never drawn)."""
    g = torch.Generator().manual_seed(5)
    w = torch.rand(adj.num_edges, generator=g) ** 8 * 10.0
    return torch.where(torch.rand(adj.num_edges, generator=g) < 0.25, 0.0, w)


@pytest.mark.parametrize("fanout", [-1, 1, 4, 25])
@pytest.mark.parametrize("replace", [False, True])
def test_weighted_hop_native_equals_reference(fanout, replace):
    _, adj = _graph()
    weight = _weights(adj)
    nodes = torch.randperm(300, generator=torch.Generator().manual_seed(0))
    ptr, picks = native.sample_hop(adj.rowptr, nodes, weight, fanout, replace, 99)
    ref = reference.sample_hop(adj.rowptr, nodes, weight, fanout, replace, 99)
    assert torch.equal(ptr, ref[0]) and torch.equal(picks, ref[1])
    before = torch.get_num_threads()
    try:  # one thread draws what two did
        torch.set_num_threads(1)
        assert torch.equal(native.sample_hop(adj.rowptr, nodes, weight, fanout, replace, 99)[1], picks)
    finally:
        torch.set_num_threads(before)
    positive = torch.zeros(300, dtype=torch.long).index_add_(0, adj.row, (weight > 0).long())[nodes]
    expected = (positive if fanout < 0 else
                (torch.where(positive > 0, fanout, 0) if replace else positive.clamp(max=fanout)))
    assert torch.equal(ptr.diff(), expected)
    assert bool((weight[picks] > 0).all())  # a weight-0 entry is never drawn
    row = torch.repeat_interleave(torch.arange(300), ptr.diff())
    assert torch.equal(adj.row[picks], nodes[row])  # every pick lies in its node's row
    if not replace:
        assert torch.unique(row * adj.num_edges + picks).numel() == picks.numel()


def test_weighted_frequencies():
    """The hub's entries drawn in proportion to their weights: with replacement, 40,000 draws
    against ``w / sum(w)``; without replacement, the first of 8 draws (the same law) over 5,000
    seeds, and the counts of 8-draw samples against a simulation by torch.multinomial."""
    from scipy.stats import chi2_contingency
    _, adj = _graph()
    weight = torch.rand(adj.num_edges, generator=torch.Generator().manual_seed(2)) + 0.05
    hub = torch.tensor([0])
    b, deg = int(adj.rowptr[0]), int(adj.in_degree()[0])
    w = weight[b:b + deg].double()
    counts = torch.zeros(deg)
    for s in range(400):
        _, picks = native.sample_hop(adj.rowptr, hub, weight, 100, True, s)
        counts += torch.bincount(picks - b, minlength=deg)
    assert chisquare(counts.numpy(), (w / w.sum() * counts.sum()).numpy()).pvalue > 1e-3
    ours = torch.zeros(deg)
    for s in range(5000):
        _, picks = native.sample_hop(adj.rowptr, hub, weight, 8, False, s)
        ours += torch.bincount(picks - b, minlength=deg)
    torchs = torch.zeros(deg)
    g = torch.Generator().manual_seed(0)
    for _ in range(5000):
        torchs += torch.bincount(torch.multinomial(w, 8, replacement=False, generator=g), minlength=deg)
    assert ours.sum() == torchs.sum() == 40000
    assert chi2_contingency(torch.stack([ours, torchs]).numpy()).pvalue > 1e-3


def test_weighted_sample_through_the_api():
    ei, _ = _graph()
    weight = torch.rand(ei.shape[1], generator=torch.Generator().manual_seed(4))
    weight[ei[1] == 5] = 0.0  # node 5's neighbours: never drawn
    adj = Adj.from_edge_index(ei, 300, edge_weight=weight)
    seeds = torch.tensor([5, 7, 11])
    blocks = ops.sample_neighbors(adj, seeds, [3, 2], weighted=True, seed=1)
    block, n_id, e_id = blocks[-1]  # the seeds' hop
    assert block.rowptr[1] == 0 and torch.equal(n_id[:3], seeds)
    assert bool((weight[e_id] > 0).all()) and torch.equal(ei[1, e_id], seeds[block.row])
    assert torch.equal(ei[0, e_id], n_id[block.col])
    again = ops.sample_neighbors(adj, seeds, [3, 2], weighted=True, seed=1)
    assert all(torch.equal(a[2], b[2]) for a, b in zip(blocks, again))
    with pytest.raises(ValueError, match="needs edge weights"):
        ops.sample_neighbors(Adj.from_edge_index(ei, 300), seeds, [3], weighted=True)
    for bad in (-1.0, float("nan"), float("inf")):
        w = weight.clone()
        w[3] = bad
        with pytest.raises(ValueError, match="finite, non-negative"):
            ops.sample_neighbors(Adj.from_edge_index(ei, 300, edge_weight=w), seeds, [3], weighted=True)
    torch.library.opcheck(torch.ops.graphkit.sample_neighbors, (adj.rowptr, seeds, adj.value.float(), 3, False, 5))


def test_relabelling_native_equals_reference():
    g = torch.Generator().manual_seed(3)
    for d, s, high in ((0, 0, 5), (3, 0, 10), (0, 40, 7), (50, 2000, 300), (200, 5000, 10 ** 12)):
        dst = torch.randperm(max(high, d), generator=g)[:d] if high < 10 ** 6 else torch.arange(d) * 7919 ** 2
        src = torch.randint(0, high, (s,), generator=g)
        ours, ref = native.first_seen(dst, src), reference.first_seen(dst, src)
        assert torch.equal(ours[0], ref[0]) and torch.equal(ours[1], ref[1])
        assert torch.equal(ours[0][:d], dst) and torch.equal(ours[0][ours[1]], src)
    with pytest.raises(RuntimeError, match="dst holds 4 twice"):
        native.first_seen(torch.tensor([4, 1, 4]), torch.tensor([1]))
    torch.library.opcheck(torch.ops.graphkit.first_seen, (torch.tensor([5, 2]), torch.tensor([2, 9, 9, 1])))


def test_sort_rows_native_equals_reference():
    g = torch.Generator().manual_seed(5)
    for rows, per in ((0, 0), (1, 1), (50, 7), (300, 40)):
        counts = torch.randint(0, per + 1, (rows,), generator=g)
        rowptr = torch.cat([torch.zeros(1, dtype=torch.long), counts.cumsum(0)])
        col = torch.randint(0, 20, (int(rowptr[-1]),), generator=g)  # repeated columns: ties by value
        value = torch.randint(0, 1000, (col.numel(),), generator=g)
        ours, ref = native.sort_rows(rowptr, col, value), reference.sort_rows(rowptr, col, value)
        assert torch.equal(ours[0], ref[0]) and torch.equal(ours[1], ref[1])
        for r in range(rows):  # a permutation of each row's pairs, ascending
            span = slice(int(rowptr[r]), int(rowptr[r + 1]))
            assert sorted(zip(col[span].tolist(), value[span].tolist())) == \
                list(zip(ours[0][span].tolist(), ours[1][span].tolist()))
    torch.library.opcheck(torch.ops.graphkit.sort_rows, (torch.tensor([0, 2, 3]), torch.tensor([4, 1, 0]),
                                                         torch.tensor([7, 8, 9])))


def test_blocks_chain_hold_real_edges_and_follow_the_seed_on_any_thread_count():
    ei, adj = _graph()
    seeds = torch.tensor([0, 5, 17, 250, 299])  # the hub, ordinary nodes, an isolated one
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = ops.sample_neighbors(adj, seeds, [5, 3, 2], seed=11)
        torch.set_num_threads(2)
        two = ops.sample_neighbors(adj, seeds, [5, 3, 2], seed=11)
    finally:
        torch.set_num_threads(before)
    other = ops.sample_neighbors(adj, seeds, [5, 3, 2], seed=12)
    for (a, n_a, e_a), (b, n_b, e_b) in zip(one, two):
        assert torch.equal(a.rowptr, b.rowptr) and torch.equal(a.col, b.col) and torch.equal(n_a, n_b)
        assert torch.equal(e_a, e_b)
    assert any(not torch.equal(n_a, n_b) for (_, n_a, _), (_, n_b, _) in zip(one, other))
    assert torch.equal(one[-1][1][:5], seeds) and one[-1][0].shape[0] == 5  # the last block's targets: the seeds
    edges = set(map(tuple, ei.t().tolist()))
    for layer, (block, n_id, e_id) in enumerate(one):
        if layer + 1 < len(one):  # the next layer's sources are this layer's targets
            assert torch.equal(one[layer + 1][1], n_id[:block.shape[0]])
        key = block.row * block.shape[1] + block.col
        assert bool((key[1:] >= key[:-1]).all())  # columns ascend within rows, as every Adj's
        dst_global, src_global = n_id[block.row], n_id[block.col]
        assert torch.equal(ei[0, e_id], src_global) and torch.equal(ei[1, e_id], dst_global)
        assert all((int(s), int(t)) in edges for s, t in zip(src_global, dst_global))


def test_uniform_frequencies():
    """Node 0's entries (a hub of 400 and more) sampled 8 at a time without replacement, 2,000 times
    with as many seeds: every entry's count matches 2000 * 8 / degree (chi-square); with
    replacement, each draw is uniform."""
    _, adj = _graph()
    hub, deg = torch.tensor([0]), int(adj.in_degree()[0])
    for replace in (False, True):
        counts = torch.zeros(deg)
        for s in range(2000):
            _, picks = native.sample_hop(adj.rowptr, hub, None, 8, replace, s)
            counts += torch.bincount(picks - adj.rowptr[0], minlength=deg)
        assert counts.sum() == 16000
        assert chisquare(counts.numpy()).pvalue > 1e-3, replace


def test_full_neighbourhood_blocks_reproduce_full_graph_sage():
    ei, adj = _graph()
    torch.manual_seed(0)
    x = torch.randn(300, 6)
    convs = [SAGEConv(6, 8), SAGEConv(8, 4)]
    full = convs[1](torch.relu(convs[0](x, adj)), adj)
    seeds = torch.tensor([0, 3, 42, 299])
    blocks = ops.sample_neighbors(adj, seeds, [-1, -1], seed=0)
    h = x[blocks[0][1]]
    for conv, (block, _, _) in zip(convs, blocks):
        h = conv((h, h[:block.shape[0]]), block)
        h = torch.relu(h) if conv is convs[0] else h
    torch.testing.assert_close(h, full[seeds])


def test_opcheck_and_bad_input():
    _, adj = _graph()
    torch.library.opcheck(torch.ops.graphkit.sample_neighbors, (adj.rowptr, torch.tensor([0, 4, 9]), None, 3, False, 5))
    with pytest.raises(RuntimeError, match="outside"):
        native.sample_hop(adj.rowptr, torch.tensor([300]), None, 3, False, 0)
    cases = [(dict(fanouts=[]), ValueError, "non-empty list"), (dict(fanouts=5), ValueError, "non-empty list"),
             (dict(fanouts=[3, 0]), ValueError, "positive int or -1"), (dict(fanouts=[-2]), ValueError, "positive"),
             (dict(seeds=torch.tensor([0, 300])), ValueError, r"seeds must lie in \[0, 300\)"),
             (dict(seeds=torch.tensor([1, 1])), ValueError, "distinct"),
             (dict(seeds=torch.tensor([0.0])), TypeError, "1-D int32/int64")]
    for change, error, message in cases:
        kwargs = dict(seeds=torch.tensor([0, 1]), fanouts=[3])
        kwargs.update(change)
        with pytest.raises(error, match=message):
            ops.sample_neighbors(adj, **kwargs)
    with pytest.raises(ValueError, match="square graph"):
        ops.sample_neighbors(Adj.from_edge_index(torch.tensor([[0], [1]]), 3, num_dst=2), torch.tensor([0]), [2])
