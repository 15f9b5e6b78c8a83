"""Random walks (uniform and node2vec p/q) on both backends: every step is an edge, transition
frequencies match the exact probabilities, seeds make walks reproducible."""
from __future__ import annotations

import pytest
import torch

from graphkit import Adj, ops
from graphkit.ops import reference

from graphs import random_graph


def backends():
    out = [pytest.param(reference, id="reference")]
    try:
        from graphkit.ops import native
        out.append(pytest.param(native, id="native"))
    except Exception as err:  # no compiler: test_native.py reports it (and fails in CI)
        out.append(pytest.param(None, id="native", marks=pytest.mark.skip(reason=str(err))))
    return out


def undirected(pairs, n):
    ei = torch.tensor(pairs).t()
    return Adj.from_edge_index(torch.cat([ei, ei.flip(0)], dim=1), n)


@pytest.mark.parametrize("backend", backends())
@pytest.mark.parametrize("p,q", [(1.0, 1.0), (0.25, 4.0)])
def test_every_step_follows_an_out_edge(backend, p, q):
    ei = random_graph(40, 160, seed=3)
    adj = Adj.from_edge_index(ei, 40)
    walks = backend.random_walk(adj, torch.arange(40), 12, p, q, seed=1)
    assert walks.shape == (40, 13) and torch.equal(walks[:, 0], torch.arange(40))
    edges = set(map(tuple, ei.t().tolist()))
    sinks = set(range(40)) - {u for u, _ in edges}
    for walk in walks.tolist():
        for u, v in zip(walk[:-1], walk[1:]):
            assert (u, v) in edges or (u == v and u in sinks)


@pytest.mark.parametrize("backend", backends())
def test_uniform_transition_frequencies(backend):
    adj = undirected([(0, 1), (0, 2), (0, 3), (0, 4), (1, 2)], 5)
    walks = backend.random_walk(adj, torch.zeros(40_000, dtype=torch.long), 1, seed=0)
    freq = torch.bincount(walks[:, 1], minlength=5).float() / 40_000
    torch.testing.assert_close(freq, torch.tensor([0.0, 0.25, 0.25, 0.25, 0.25]), atol=0.01, rtol=0)


@pytest.mark.parametrize("backend", backends())
def test_node2vec_second_order_probabilities(backend):
    # t=0 -- v=1; v's other neighbours: a=2 (also a neighbour of t) and b=3 (not).
    adj = undirected([(0, 1), (1, 2), (1, 3), (0, 2)], 4)
    p, q = 0.5, 2.0
    walks = backend.random_walk(adj, torch.zeros(120_000, dtype=torch.long), 2, p, q, seed=4)
    via_v = walks[walks[:, 1] == 1]
    freq = torch.bincount(via_v[:, 2], minlength=4).float() / via_v.size(0)
    weights = torch.tensor([1 / p, 0.0, 1.0, 1 / q])  # back to t, -, common neighbour, farther
    torch.testing.assert_close(freq, weights / weights.sum(), atol=0.01, rtol=0)


@pytest.mark.parametrize("backend", backends())
def test_seeded_and_reproducible(backend):
    adj = Adj.from_edge_index(random_graph(30, 120, seed=1), 30)
    start = torch.arange(30).repeat(3)
    a = backend.random_walk(adj, start, 8, 2.0, 0.5, seed=11)
    assert torch.equal(a, backend.random_walk(adj, start, 8, 2.0, 0.5, seed=11))
    assert not torch.equal(a, backend.random_walk(adj, start, 8, 2.0, 0.5, seed=12))


def test_native_walks_do_not_depend_on_threads():
    pytest.importorskip("graphkit.ops.native")
    from graphkit.ops import native
    adj = Adj.from_edge_index(random_graph(200, 2000, seed=2), 200)
    start = torch.arange(200).repeat(20)
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = native.random_walk(adj, start, 10, 0.5, 2.0, seed=3)
        torch.set_num_threads(max(2, threads))
        many = native.random_walk(adj, start, 10, 0.5, 2.0, seed=3)
    finally:
        torch.set_num_threads(threads)
    assert torch.equal(one, many)


def test_random_walk_rejects_bad_input():
    adj = Adj.from_edge_index(torch.tensor([[0, 1], [1, 2]]), 3)
    # the native kernel's error (or, in graphkit.debug mode, the wrapper's), the reference's indexing
    with pytest.raises((ValueError, IndexError), match=r"outside \[0, 3\)|out of bounds"):
        ops.random_walk(adj, torch.tensor([3]), 4)
    with pytest.raises(TypeError, match="start"):
        ops.random_walk(adj, torch.tensor([0.0]), 4)
    with pytest.raises(ValueError, match="positive"):
        ops.random_walk(adj, torch.tensor([0]), 4, p=0.0)
    with pytest.raises(ValueError, match="walk_length"):
        ops.random_walk(adj, torch.tensor([0]), -1)
