"""Neural Sheaf Diffusion: the sheaf Laplacian against its definition (dense, built edge by edge),
its algebra (symmetric PSD, identity maps = normalised graph Laplacian ⊗ I_d), orthogonality of
the bundle maps, gradients, permutation equivariance of the models, bad input."""
from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
import scipy.linalg
import torch

import graphkit
from graphkit.nn.sheaf import (
    SheafDiffusion,
    SheafGraph,
    bundle_sheaf_laplacian,
    diagonal_sheaf_laplacian,
    fixed_maps,
    general_sheaf_laplacian,
    orthogonal_matrices,
    orthogonal_param_size,
)

pytestmark = pytest.mark.usefixtures("each_backend")


def random_graph(n: int = 9, p: float = 0.4, seed: int = 0):
    g = nx.gnp_random_graph(n, p, seed=seed, directed=True)
    g.add_edge(0, 0)  # a self-loop, dropped by SheafGraph
    edges = torch.tensor(list(g.edges()), dtype=torch.long).t()
    return edges, n


def dense_definition(graph: SheafGraph, maps: np.ndarray, augmented: bool = True) -> np.ndarray:
    """The normalised sheaf Laplacian from its definition, edge by edge (maps [E, d, d])."""
    n, d = graph.num_nodes, maps.shape[1]
    lap = np.zeros((n, d, n, d))
    for k, (i, j) in enumerate(zip(graph.row.tolist(), graph.col.tolist())):
        f_i, f_j = maps[k], maps[graph.reverse[k]]
        lap[i, :, i, :] += f_i.T @ f_i
        lap[i, :, j, :] = -f_i.T @ f_j
    scale = []
    for i in range(n):
        block = lap[i, :, i, :] + (np.eye(d) if augmented else 0)
        scale.append(np.real(scipy.linalg.fractional_matrix_power(block, -0.5)) if np.abs(block).sum() else 0 * block)
    for i in range(n):
        for j in range(n):
            lap[i, :, j, :] = scale[i] @ lap[i, :, j, :] @ scale[j]
    return lap.reshape(n * d, n * d)


@pytest.fixture
def graph():
    return SheafGraph(*random_graph())


def test_sheaf_graph_is_undirected_simple_and_pairs_edge_ends(graph):
    assert graph.symmetrised  # the random directed graph needed its reverse edges
    assert not bool((graph.row == graph.col).any())
    assert torch.equal(graph.row[graph.reverse], graph.col) and torch.equal(graph.col[graph.reverse], graph.row)
    pairs = set(zip(graph.row.tolist(), graph.col.tolist()))
    assert len(pairs) == graph.num_edges and all((j, i) in pairs for i, j in pairs)


@pytest.mark.parametrize("kind", ["diag", "bundle", "general"])
def test_laplacian_matches_its_definition_and_is_symmetric_psd(graph, kind):
    g = torch.Generator().manual_seed(1)
    d, e = 3, graph.num_edges
    if kind == "diag":
        maps = torch.rand(e, d, generator=g, dtype=torch.float64) * 2 - 1
        lap = diagonal_sheaf_laplacian(graph, maps)
        full = torch.diag_embed(maps)
    elif kind == "bundle":
        params = torch.randn(e, orthogonal_param_size(d), generator=g, dtype=torch.float64)
        weight = torch.rand(e, generator=g, dtype=torch.float64)
        weight = weight * weight[graph.reverse]  # symmetric, as the learner makes them
        orth = orthogonal_matrices(params, d)
        lap = bundle_sheaf_laplacian(graph, orth, weight)
        full = orth * weight.view(-1, 1, 1)  # each end's map scaled by the edge weight
    else:
        maps = torch.rand(e, d, d, generator=g, dtype=torch.float64) * 2 - 1
        lap = general_sheaf_laplacian(graph, maps)
        full = maps
    dense = lap.to_dense().numpy()
    np.testing.assert_allclose(dense, dense_definition(graph, full.numpy()), atol=1e-10)
    np.testing.assert_allclose(dense, dense.T, atol=1e-12)
    assert np.linalg.eigvalsh(dense).min() > -1e-10
    x = torch.randn(graph.num_nodes, d, 4, generator=g, dtype=torch.float64)
    applied = (lap @ x).reshape(-1, 4)
    np.testing.assert_allclose(applied.numpy(), dense @ x.reshape(-1, 4).numpy(), atol=1e-10)


@pytest.mark.parametrize("augmented", [True, False])
def test_identity_maps_give_the_normalised_graph_laplacian_times_identity(graph, augmented):
    d, n = 2, graph.num_nodes
    edges = set(zip(graph.row.tolist(), graph.col.tolist()))
    nxg = nx.Graph()
    nxg.add_nodes_from(range(n))
    nxg.add_edges_from(edges)
    if augmented:  # I - D~^-1/2 (A + I) D~^-1/2 with D~ = D + I
        nxg.add_edges_from((i, i) for i in range(n))
    expected = np.kron(nx.normalized_laplacian_matrix(nxg, nodelist=range(n)).toarray(), np.eye(d))
    ones = torch.ones(graph.num_edges, d, dtype=torch.float64)
    eye = torch.eye(d, dtype=torch.float64).expand(graph.num_edges, d, d)
    for lap in (diagonal_sheaf_laplacian(graph, ones, augmented), bundle_sheaf_laplacian(graph, eye, None, augmented),
                general_sheaf_laplacian(graph, eye.clone(), augmented)):
        np.testing.assert_allclose(lap.to_dense().numpy(), expected, atol=1e-12)


def test_fixed_dimensions_are_the_signed_graph_laplacians(graph):
    diag, off = fixed_maps(graph, [1.0, -1.0], dtype=torch.float64)
    lap = diagonal_sheaf_laplacian(graph, torch.ones(graph.num_edges, 1, dtype=torch.float64),
                                   fixed_diag=diag, fixed_off=off)
    dense = lap.to_dense().numpy().reshape(graph.num_nodes, 3, graph.num_nodes, 3)
    np.testing.assert_allclose(dense[:, 2, :, 2], dense[:, 0, :, 0], atol=1e-12)  # hp = the graph Laplacian
    off_diag = ~np.eye(graph.num_nodes, dtype=bool)
    np.testing.assert_allclose(dense[:, 1, :, 1][off_diag], -dense[:, 0, :, 0][off_diag], atol=1e-12)
    np.testing.assert_allclose(np.diag(dense[:, 1, :, 1]), np.diag(dense[:, 0, :, 0]), atol=1e-12)


@pytest.mark.parametrize("method", ["householder", "matrix_exp", "cayley"])
@pytest.mark.parametrize("d", [2, 3, 5])
def test_orthogonal_maps_are_orthogonal(method, d):
    params = torch.randn(500, orthogonal_param_size(d, method), generator=torch.Generator().manual_seed(d)) * 3
    q = orthogonal_matrices(params, d, method)
    eye = torch.eye(d).expand_as(q)
    torch.testing.assert_close(q.transpose(1, 2) @ q, eye, atol=1e-5, rtol=0)
    assert not torch.allclose(q, eye)


def test_trained_bundle_maps_stay_orthogonal():
    torch.manual_seed(0)
    edges, n = random_graph(20, 0.3, seed=3)
    x, y = torch.randn(n, 6), torch.randint(0, 3, (n,))
    model = SheafDiffusion(6, 3, hidden_channels=4, d=3, sheaf="bundle", dropout=0.2)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
    for _ in range(30):
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(model(x, edges), y).backward()
        optimizer.step()
    sg = model.sheaf_graph(edges, n)
    features = model.lin1(x).view(n, -1)
    q = orthogonal_matrices(model.sheaf_learners[0](torch.nn.functional.elu(features), sg), 3)
    torch.testing.assert_close(q.transpose(1, 2) @ q, torch.eye(3).expand_as(q), atol=1e-5, rtol=0)


@pytest.mark.parametrize("kind", ["diag", "bundle", "general"])
def test_laplacian_gradcheck(kind):
    graph = SheafGraph(*random_graph(5, 0.5, seed=2))
    g = torch.Generator().manual_seed(0)
    e, d = graph.num_edges, 2
    size = {"diag": (e, d), "bundle": (e, orthogonal_param_size(d)), "general": (e, d, d)}[kind]
    params = (torch.rand(size, generator=g, dtype=torch.float64) - 0.5).requires_grad_()
    x = torch.randn(graph.num_nodes, d, 3, generator=g, dtype=torch.float64, requires_grad=True)

    def apply(params, x):
        if kind == "diag":
            lap = diagonal_sheaf_laplacian(graph, params)
        elif kind == "bundle":
            lap = bundle_sheaf_laplacian(graph, orthogonal_matrices(params, d))
        else:
            lap = general_sheaf_laplacian(graph, params, jitter=torch.tensor([1e-3, -1e-3], dtype=torch.float64))
        return lap @ x
    assert torch.autograd.gradcheck(apply, (params, x))


@pytest.mark.parametrize("kind", ["diag", "bundle", "general"])
def test_models_are_permutation_equivariant(kind):
    torch.manual_seed(0)
    edges, n = random_graph(15, 0.3, seed=5)
    x = torch.randn(n, 7, dtype=torch.float64)
    model = SheafDiffusion(7, 4, hidden_channels=5, d=2, num_layers=3, sheaf=kind, add_lp=True, add_hp=True).double()
    model.eval()
    perm = torch.randperm(n)
    inverse = torch.empty_like(perm)
    inverse[perm] = torch.arange(n)
    out = model(x, edges)
    permuted = model(x[perm], inverse[edges])
    torch.testing.assert_close(permuted, out[perm], atol=1e-9, rtol=1e-7)


def test_bag_of_words_input_takes_the_sparse_product():
    """Mostly-zero features go through a CSR product (with dropout on the non-zeros only): the
    same logits as the dense product in eval mode, the same gradient for the input layer."""
    torch.manual_seed(0)
    edges, n = random_graph(40, 0.1, seed=2)
    x = (torch.rand(n, 200) < 0.03).double()
    x = x / x.sum(-1, keepdim=True).clamp(min=1)
    model = SheafDiffusion(200, 3, hidden_channels=4, d=2, sheaf="diag", input_dropout=0.5).double().eval()
    sparse_out = model(x, edges)
    sparse_out.sum().backward()
    sparse_grad = model.lin1.weight.grad.clone()
    model.zero_grad()
    dense_x = x.clone().requires_grad_()  # a tensor that needs a gradient stays dense
    dense_out = model(dense_x, edges)
    dense_out.sum().backward()
    torch.testing.assert_close(sparse_out, dense_out)
    torch.testing.assert_close(sparse_grad, model.lin1.weight.grad)
    model.train()
    torch.manual_seed(1)
    first = model(x, edges)
    torch.manual_seed(1)
    assert torch.equal(first, model(x, edges))  # seeded dropout on the non-zeros


def test_sheaf_learns_a_heterophilous_graph():
    """On a bipartite graph whose labels alternate by side, diffusion still separates the classes
    (the task GCN's smoothing cannot do from uninformative features)."""
    torch.manual_seed(0)
    n = 60
    y = torch.arange(n) % 2
    src = torch.randint(0, n, (400,))
    dst = (src + 2 * torch.randint(0, n // 2, (400,)) + 1) % n  # odd offset: opposite class
    x = torch.randn(n, 8) * 0.5 + y.unsqueeze(1).float() * 0.5
    model = SheafDiffusion(8, 2, hidden_channels=8, d=2, sheaf="diag", num_layers=2)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.02)
    for _ in range(100):
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(model(x, torch.stack([src, dst])), y).backward()
        optimizer.step()
    model.eval()
    assert (model(x, torch.stack([src, dst])).argmax(1) == y).float().mean() > 0.95


def test_bad_input_is_reported():
    graph = SheafGraph(*random_graph())
    with pytest.raises(ValueError, match=r"\[E, d\]"):
        diagonal_sheaf_laplacian(graph, torch.ones(3, 2))
    with graphkit.debug(), pytest.raises(ValueError, match="NaN"):  # finiteness: debug mode only
        diagonal_sheaf_laplacian(graph, torch.full((graph.num_edges, 2), float("nan")))
    with pytest.raises(ValueError, match=r"\[E, d, d\]"):
        general_sheaf_laplacian(graph, torch.ones(graph.num_edges, 2, 3))
    lap = diagonal_sheaf_laplacian(graph, torch.ones(graph.num_edges, 2))
    with pytest.raises(ValueError, match="stalks must have shape"):
        lap @ torch.ones(graph.num_nodes, 3, 1)
    with pytest.raises(ValueError, match="d must be >= 2"):
        SheafDiffusion(3, 2, d=1, sheaf="bundle")
    with pytest.raises(ValueError, match="unknown sheaf"):
        SheafDiffusion(3, 2, sheaf="cubical")
    with pytest.raises(ValueError, match="unknown orthogonal map"):
        orthogonal_matrices(torch.ones(2, 1), 2, "qr")
    with graphkit.debug(), pytest.raises(ValueError, match="NaN|finite"):
        SheafDiffusion(3, 2)(torch.full((4, 3), float("nan")), torch.tensor([[0, 1], [1, 2]]))


def test_dataset_configs_and_the_sheaf_decay_group():
    from graphkit.nn.models import build_model
    from graphkit.tasks import NodeClassificationConfig, presets
    from graphkit.train import split_config
    base, cornell = presets.node_classification("nsd-diag"), presets.node_classification("nsd-diag", "cornell")
    assert (base["hidden_channels"], cornell["hidden_channels"], cornell["input_dropout"]) == (16, 16, 0.2)
    film = presets.node_classification("nsd-bundle", "film")
    assert (film["select"], film["add_hp"], film["orth"], base["select"]) == ("accuracy", True, "householder", "loss")
    assert presets.node_classification("nsd-diag", "no-such-dataset") == base
    train, hparams = split_config(NodeClassificationConfig, cornell)
    model = build_model("nsd-diag", 10, 3, **hparams)
    sheaf, other = model.parameter_groups(train.weight_decay)
    assert sheaf["weight_decay"] == cornell["sheaf_decay"] and other["weight_decay"] == cornell["weight_decay"]
    assert {id(p) for p in sheaf["params"]} == {id(p) for p in model.sheaf_learners.parameters()}
    assert len(sheaf["params"]) + len(other["params"]) == len(list(model.parameters()))
