"""Models built from blocks: shapes, options, determinism and clear errors on bad input."""
from __future__ import annotations

import pytest
import torch

import graphkit
from graphkit import Adj
from graphkit.nn import GAT, GCN, GIN, MLP, GraphSAGE, build_model
from graphkit.nn.functional import input_dropout

from graphs import random_graph

N = 30


@pytest.fixture
def graph():
    return random_graph(N, 120, seed=1), torch.randn(N, 10)


@pytest.mark.parametrize("name", ["gcn", "sage", "gat", "gin", "mlp"])
@pytest.mark.parametrize("num_layers", [1, 3])
def test_build_and_forward(graph, name, num_layers):
    ei, x = graph
    model = build_model(name, 10, 4, hidden_channels=16, num_layers=num_layers, dropout=0.5)
    model.eval()
    out = model(x, ei)
    assert out.shape == (N, 4) and torch.isfinite(out).all()
    torch.testing.assert_close(model(x, ei), out)  # eval mode is deterministic


@pytest.mark.parametrize("jk", ["cat", "max", "last"])
def test_jumping_knowledge_and_options(graph, jk):
    ei, x = graph
    model = GCN(10, 16, num_layers=3, out_channels=4, jk=jk, norm="batch", residual=True)
    assert model(x, ei).shape == (N, 4)
    assert GraphSAGE(10, 16, 2, 4, norm="layer")(x, ei).shape == (N, 4)
    assert GIN(10, 16, 2, 4)(x, ei).shape == (N, 4)
    assert MLP(10, 16, 3, 4, norm="batch")(x).shape == (N, 4)


def test_gat_heads(graph):
    ei, x = graph
    model = GAT(10, 64, num_layers=2, out_channels=3, heads=8, out_heads=2)
    assert model.convs[0].heads == 8 and model.convs[0].out_channels == 8
    assert model.convs[1].heads == 2 and not model.convs[1].concat
    assert model(x, ei).shape == (N, 3)
    with pytest.raises(ValueError, match="divisible"):
        GAT(10, 30, 2, 3, heads=8)


def test_same_seed_same_model(graph):
    ei, x = graph
    torch.manual_seed(3)
    a = GAT(10, 16, 2, 3, heads=2, dropout=0.5)
    torch.manual_seed(3)
    b = GAT(10, 16, 2, 3, heads=2, dropout=0.5)
    torch.manual_seed(4)
    out_a = a(x, ei)
    torch.manual_seed(4)
    torch.testing.assert_close(b(x, ei), out_a)


def test_sparse_input_dropout_has_dropout_statistics():
    torch.manual_seed(0)
    x = (torch.rand(400, 300) < 0.05).float() * torch.rand(400, 300)
    out = input_dropout(x, 0.5, training=True, sparse_ok=True)
    assert out.layout == torch.sparse_csr
    out = out.to_dense()
    kept = (out != 0) & (x != 0)
    assert abs(kept.sum().item() / (x != 0).sum().item() - 0.5) < 0.03
    torch.testing.assert_close(out[kept], 2 * x[kept])
    assert torch.equal(input_dropout(x, 0.5, training=False, sparse_ok=True).to_dense(), x)
    dense = torch.rand(50, 40) + 0.1
    assert input_dropout(dense, 0.3, True, sparse_ok=True).layout == torch.strided
    assert abs((input_dropout(dense, 0.3, True, True) == 0).float().mean().item() - 0.3) < 0.05
    assert input_dropout(x, 0.5, True, sparse_ok=False).layout == torch.strided


@pytest.mark.parametrize("name", ["gcn", "sage", "gat", "mlp"])
def test_sparse_input_path_matches_dense(name):
    """A bag-of-words input takes the CSR path in eval and gives the dense result."""
    torch.manual_seed(0)
    ei = random_graph(N, 120, seed=2)
    x = (torch.rand(N, 200) < 0.05).float()
    model = build_model(name, 200, 4, hidden_channels=16, num_layers=2).eval()
    dense_out = model(x.clone().requires_grad_(), ei)  # requires_grad: the dense path
    torch.testing.assert_close(model(x, ei), dense_out.detach(), rtol=1e-5, atol=1e-5)
    model.train()
    model(x, ei).sum().backward()  # gradients flow into the first layer's weight
    first = next(iter(model.parameters()))
    assert first.grad is not None and first.grad.abs().sum() > 0


def test_bad_inputs(graph):
    ei, x = graph
    model = GCN(10, 8, 2, 3)
    bad = x.clone()
    bad[4, 2] = float("nan")
    assert not torch.isfinite(model(bad, ei)).all()  # no per-forward read-back outside debug mode
    with graphkit.debug(), pytest.raises(ValueError, match="NaN"):
        model(bad, ei)
    with pytest.raises(ValueError, match="rows but the graph has"):
        model(torch.randn(N - 5, 10), Adj.from_edge_index(ei, N))
    with pytest.raises(ValueError, match="out of range"):
        model(x, torch.tensor([[0, N], [1, 2]]))
    with pytest.raises(ValueError, match="negative"):
        model(x, torch.tensor([[0, -3], [1, 2]]))
    with pytest.raises(TypeError, match="integer node ids"):
        model(x, torch.tensor([[0.0, 1.0], [1.0, 2.0]]))
    with pytest.raises(ValueError, match=r"shape \[2, E\]"):
        model(x, torch.tensor([[0, 1, 2]]))
    with pytest.raises(ValueError, match="empty graph"):
        model(torch.randn(0, 10), torch.empty(2, 0, dtype=torch.long))
    with pytest.raises(ValueError, match="unknown model"):
        build_model("transformer-xl", 10, 3, hidden_channels=8, num_layers=2)
    with pytest.raises(ValueError, match="unknown activation"):
        GCN(10, 8, 2, 3, act="swishy")


@pytest.mark.parametrize("name", ["gcn", "sage", "mlp"])
def test_input_dropout_replaces_dropout_on_the_first_layer_only(graph, name):
    """input_dropout=0: a one-layer model is deterministic in training mode (no dropout anywhere);
    with two layers the hidden dropout still acts. None keeps dropout on the input."""
    ei, x = graph
    one = build_model(name, 10, 4, hidden_channels=16, num_layers=1, dropout=0.9, input_dropout=0.0)
    one.train()
    torch.testing.assert_close(one(x, ei), one.eval()(x, ei))
    two = build_model(name, 10, 4, hidden_channels=16, num_layers=2, dropout=0.9, input_dropout=0.0).train()
    assert not torch.allclose(two(x, ei), two(x, ei))
    default = build_model(name, 10, 4, hidden_channels=16, num_layers=1, dropout=0.9).train()
    assert not torch.allclose(default(x, ei), default(x, ei))


@pytest.mark.parametrize("aggr", ["sum", "mean", "gcn"])
@pytest.mark.parametrize("residual", [True, False])
def test_pure_propagation_matches_dense_propagation(graph, aggr, residual):
    ei, _ = graph
    x = torch.randn(N, 6, dtype=torch.float64)
    a = torch.zeros(N, N, dtype=torch.float64)
    a.index_put_((ei[1], ei[0]), torch.ones(ei.shape[1], dtype=torch.float64), accumulate=True)
    if aggr == "sum":
        p = a
    elif aggr == "mean":
        p = a / a.sum(1, keepdim=True).clamp_min(1)
    else:  # add_remaining_self_loops: the graph's self-loops (weight 1 here) become exactly one per node
        looped = a - torch.diag(torch.diag(a)) + torch.eye(N, dtype=torch.float64)
        s = looped.sum(1).rsqrt()
        p = s[:, None] * looped * s[None, :]
    expected = x
    for _ in range(2):
        expected = expected + p @ expected if residual else p @ expected
    model = build_model(f"pure{aggr}", 6, 6, hidden_channels=6, num_layers=2, residual=residual, dropout=0.5).eval()
    torch.testing.assert_close(model(x, ei), expected)  # float64 end to end, GCN coefficients included
    with pytest.raises(ValueError, match="keeps the width"):
        build_model(f"pure{aggr}", 5, 6, hidden_channels=6)
