"""Graph-level learning: the batch store against PyG's collation, GINE and the graph models against
PyG/OGB-built twins with the same weights, the task's losses and metrics, Errica et al.'s folds,
the TU and OGB datasets, and a real-data end-to-end cross-validation (MUTAG)."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
import torch_geometric.nn as pyg_nn
from torch import nn
from torch_geometric.data import Batch as PyGBatch
from torch_geometric.data import Data

from graphkit import to_adj
from graphkit.datasets import GraphDataset
from graphkit.loader import GraphLoader, GraphStore, from_pyg
from graphkit.nn import GINEConv, GraphGIN, MolGNN, global_add_pool
from graphkit.tasks import GraphPrediction, GraphPredictionTask
from graphkit.tasks.graph_prediction import binary_score, errica_folds, expand_grid
from graphkit.train import Engine, TrainConfig

from conftest import need_dataset


def _graph(n: int, e: int, seed: int, features: int = 4, edge_features: int = 3, y=None) -> Data:
    g = torch.Generator().manual_seed(seed)
    src = torch.randint(0, max(n, 1), (e,), generator=g)
    dst = torch.randint(0, max(n, 1), (e,), generator=g)
    ei = torch.stack([torch.cat([src, dst]), torch.cat([dst, src])]) if n else torch.zeros(2, 0, dtype=torch.long)
    return Data(x=torch.randn(n, features, generator=g), edge_index=ei,
                edge_attr=torch.randn(ei.size(1), edge_features, generator=g),
                y=torch.tensor([seed % 3]) if y is None else y, num_nodes=n)


def _graphs():
    sizes = [(5, 6), (1, 0), (7, 9), (3, 0), (0, 0), (6, 4), (4, 5)]  # a node alone, no edges, no nodes
    return [_graph(n, e, i) for i, (n, e) in enumerate(sizes)]


def _edges(adj, edge_attr):
    """{(src, dst): sorted list of attribute rows} of a batch's CSR entries."""
    out = {}
    row, col = adj.row.tolist(), adj.col.tolist()
    for k, (i, j) in enumerate(zip(row, col)):
        out.setdefault((j, i), []).append(tuple(round(v, 5) for v in edge_attr[k].tolist()))
    return {k: sorted(v) for k, v in out.items()}


def test_store_batch_equals_pyg_collation():
    graphs = _graphs()
    store = GraphStore(graphs)
    index = torch.tensor([2, 4, 0, 1, 6])
    batch = store.batch(index)
    ref = PyGBatch.from_data_list([graphs[i] for i in index.tolist()])
    assert batch.num_graphs == 5 and torch.equal(batch.batch, ref.batch)
    assert torch.equal(batch.x, ref.x) and torch.equal(batch.y, ref.y)
    pyg_adj = to_adj(ref.edge_index, ref.num_nodes)
    assert torch.equal(batch.adj.rowptr, pyg_adj.rowptr) and torch.equal(batch.adj.col, pyg_adj.col)
    # edge attributes travel with their edges (CSR order here, edge_index order in PyG's batch)
    ref_attr = ref.edge_attr[pyg_adj.perm]
    assert _edges(batch.adj, batch.edge_attr) == _edges(pyg_adj, ref_attr)
    # the batch vector knows its graph count, so an empty last graph still reads out a row
    tail = store.batch(torch.tensor([0, 4]))
    assert global_add_pool(tail.x, tail.batch).shape == (2, 4)
    assert torch.equal(global_add_pool(tail.x, tail.batch)[1], torch.zeros(4))


def test_batch_graphs_native_equals_reference_and_rejects_bad_input():
    """The batch op (graphkit's kernel) against the pure-torch reference, on graphs with no node, a
    node alone and no edges, in any order, repeated, one graph or all; bad ids and dtypes are named."""
    from graphkit import ops
    from graphkit.ops import native, reference
    store = GraphStore(_graphs())
    args = (store.node_ptr, store.edge_ptr, store.in_degree, store.col)
    g = torch.Generator().manual_seed(0)
    for index in ([4], [3], [0, 4, 1], [4, 4, 4], list(range(7)), torch.randint(0, 7, (20,), generator=g).tolist()):
        index = torch.tensor(index)
        ours, ref = native.batch_graphs(*args, index), reference.batch_graphs(*args, index)
        assert all(torch.equal(a, b) for a, b in zip(ours, ref)), index
        rowptr, col, node_index, edge_index, graph, graph_ptr = ours
        assert torch.equal(graph_ptr.diff(), store.node_ptr[index + 1] - store.node_ptr[index])
        assert torch.equal(torch.bincount(graph, minlength=len(index)), graph_ptr.diff())
    empty = native.batch_graphs(*args, torch.zeros(0, dtype=torch.long))
    assert [t.numel() for t in empty] == [1, 0, 0, 0, 0, 1]
    with pytest.raises(ValueError, match=r"graph ids must lie in \[0, 7\), got 0 .. 7"):
        ops.batch_graphs(*args, torch.tensor([0, 7]))
    with pytest.raises(TypeError, match="index must be a 1-D int64 CPU tensor, got torch.int32"):
        ops.batch_graphs(*args, torch.tensor([0, 1], dtype=torch.int32))
    with pytest.raises(ValueError, match="node_ptr and edge_ptr must both hold G \\+ 1 offsets"):
        ops.batch_graphs(store.node_ptr, store.edge_ptr[:-1], store.in_degree, store.col, torch.tensor([0]))


def test_from_pyg_and_layers_agree_with_store():
    graphs = _graphs()
    store = GraphStore(graphs)
    index = torch.arange(len(graphs))
    ours, theirs = store.batch(index), from_pyg(PyGBatch.from_data_list(graphs))
    torch.manual_seed(0)
    conv = GINEConv(nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 8)), train_eps=True, edge_dim=3)
    a = conv(ours.x, ours.adj, ours.edge_attr)
    b = conv(theirs.x, theirs.adj, theirs.edge_attr)
    assert torch.allclose(a, b, atol=1e-5)


def test_gin_fixed_eps_is_read_again_after_a_change_and_graph_gin_takes_no_graph():
    """A fixed eps is cached as 1 + eps: a reset or an in-place change is seen; GraphGIN reads out a
    batch of zero graphs as [0, out]."""
    from graphkit.nn import GINConv
    adj = to_adj(torch.tensor([[0, 1], [1, 0]]), num_nodes=2)
    conv = GINConv(nn.Identity(), eps=0.0)
    assert torch.equal(conv(torch.ones(2, 1), adj), torch.full((2, 1), 2.0))
    conv.initial_eps = 1.0
    conv.reset_parameters()
    assert torch.equal(conv(torch.ones(2, 1), adj), torch.full((2, 1), 3.0))
    with torch.no_grad():
        conv.eps.mul_(2.0)
    assert torch.equal(conv(torch.ones(2, 1), adj), torch.full((2, 1), 4.0))
    model = GraphGIN(4, 3, hidden_channels=8, num_layers=2)
    empty = GraphStore(_graphs()).batch(torch.zeros(0, dtype=torch.long))
    assert model(torch.zeros(0, 4), empty.adj, empty.batch).shape == (0, 3)


def test_gine_matches_pyg_and_gradcheck():
    g = _graph(9, 14, 3, features=5, edge_features=2)
    torch.manual_seed(1)
    mlp = nn.Sequential(nn.Linear(5, 6), nn.ReLU(), nn.Linear(6, 6))
    ours = GINEConv(mlp, eps=0.3, train_eps=True, edge_dim=2)
    theirs = pyg_nn.GINEConv(mlp, eps=0.3, train_eps=True, edge_dim=2)
    theirs.lin.load_state_dict(ours.lin.state_dict())
    out = ours(g.x, g.edge_index, g.edge_attr)
    assert torch.allclose(out, theirs(g.x, g.edge_index, g.edge_attr), atol=1e-5)
    # gradients of x and edge features, float64
    conv = GINEConv(nn.Identity()).double()
    adj = to_adj(g.edge_index, 9)
    x = torch.randn(9, 3, dtype=torch.float64, requires_grad=True)
    e = torch.randn(g.edge_index.size(1), 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x, e: conv(x, adj, e), (x, e))


def test_gine_bad_edge_attr():
    g = _graph(5, 6, 1)
    conv = GINEConv(nn.Linear(4, 4))
    with pytest.raises(ValueError, match="edge_attr has 3 features but x has 4"):
        conv(g.x, g.edge_index, g.edge_attr)
    with pytest.raises(TypeError, match="floating-point"):
        conv(g.x, g.edge_index, g.edge_attr.long())
    with pytest.raises(ValueError, match="one row per edge"):
        GINEConv(nn.Linear(4, 4), edge_dim=3)(g.x, g.edge_index, g.edge_attr[:-1])


def _pyg_graph_gin(model: GraphGIN):
    """Errica et al.'s GIN written with PyG's layers, sharing ``model``'s modules."""
    pool = {"sum": pyg_nn.global_add_pool, "mean": pyg_nn.global_mean_pool}[model.pooling]
    convs = [pyg_nn.GINConv(conv.nn, train_eps=False) for conv in model.convs]

    def forward(x, edge_index, batch):  # one readout per layer, each through its own linear map
        h = model.first(x)
        out = pool(h, batch) @ model.head_weight[0] + model.head_bias[0]
        for layer, conv in enumerate(convs, 1):
            h = conv(h, edge_index)
            out = out + pool(h, batch) @ model.head_weight[layer] + model.head_bias[layer]
        return out
    return forward


@pytest.mark.parametrize("pooling", ["sum", "mean"])
def test_graph_gin_matches_pyg(pooling):
    graphs = [g for g in _graphs() if g.num_nodes > 0]
    torch.manual_seed(0)
    model = GraphGIN(4, 3, hidden_channels=8, num_layers=3, pooling=pooling).eval()
    ref = PyGBatch.from_data_list(graphs)
    reference = _pyg_graph_gin(model)  # (PyG's constructors re-initialise the shared MLPs: build it first)
    batch = GraphStore(graphs).batch(torch.arange(len(graphs)))
    out = model(batch.x, batch.adj, batch.batch)
    assert out.shape == (len(graphs), 3)
    assert torch.allclose(out, reference(ref.x, ref.edge_index, ref.batch), atol=1e-5)


def _ogb_reference(model: MolGNN):
    """OGB's GNN_node_Virtualnode forward (examples/graphproppred/mol/conv.py), written with PyG's
    GINEConv and pools over ``model``'s own modules."""
    convs = [pyg_nn.GINEConv(conv.nn, train_eps=True) for conv in model.convs]
    for ours, theirs in zip(model.convs, convs):
        theirs.eps = ours.eps  # shared, as the MLPs

    def forward(x, edge_index, edge_attr, batch):
        vn = model.virtual_init.expand(int(batch.max()) + 1, -1)
        h_list = [model.encoder(x)]
        for layer in range(len(convs)):
            h_list[layer] = h_list[layer] + vn[batch]
            h = convs[layer](h_list[layer], edge_index, model.edge_encoders[layer](edge_attr))
            h = model.norms[layer](h)
            if layer < len(convs) - 1:
                h = torch.relu(h)
            h_list.append(h)
            if layer < len(convs) - 1:
                temp = pyg_nn.global_add_pool(h_list[layer], batch) + vn
                vn = model.virtual_nodes[layer].mlp(temp)
        return model.head(pyg_nn.global_mean_pool(h_list[-1], batch))
    return forward


def test_gin_virtual_matches_ogb_forward():
    pytest.importorskip("ogb")
    graphs = []
    for i, n in enumerate([5, 8, 3, 6]):
        g = torch.Generator().manual_seed(i)
        ei = torch.randint(0, n, (2, 2 * n), generator=g)
        ei = torch.cat([ei, ei.flip(0)], 1)
        graphs.append(Data(x=torch.randint(0, 2, (n, 9), generator=g), edge_index=ei,
                           edge_attr=torch.randint(0, 2, (ei.size(1), 3), generator=g), y=torch.tensor([[1]])))
    torch.manual_seed(0)
    model = MolGNN(None, 2, hidden_channels=16, num_layers=3, virtual_node=True).eval()
    reference = _ogb_reference(model)  # PyG's constructors re-initialise the shared MLPs: build it first
    with torch.no_grad():  # a non-zero virtual node so that its path is exercised
        model.virtual_init.normal_()
        for conv in model.convs:
            conv.eps.fill_(0.25)
    ref = PyGBatch.from_data_list(graphs)
    batch = GraphStore(graphs).batch(torch.arange(4))
    out = model(batch.x, batch.adj, batch.batch, edge_attr=batch.edge_attr)
    expected = reference(ref.x, ref.edge_index, ref.edge_attr, ref.batch)
    assert torch.allclose(out, expected, atol=1e-4)


def test_store_rejects_inconsistent_graphs():
    graphs = _graphs()
    graphs[3] = _graph(4, 3, 3, features=5)
    with pytest.raises(ValueError, match="graph 3 has x of width \\[5\\] but graph 0 \\[4\\]"):
        GraphStore(graphs)
    graphs = _graphs()
    del graphs[2].y
    with pytest.raises(ValueError, match="graph 2 has no y"):
        GraphStore(graphs)
    graphs = _graphs()
    graphs[1].edge_index = torch.tensor([[0], [3]])
    graphs[1].edge_attr = torch.zeros(1, 3)
    with pytest.raises(ValueError, match="node id 3"):
        GraphStore(graphs)


def test_loader_covers_each_graph_once_and_follows_the_seed():
    store = GraphStore(_graphs())
    torch.manual_seed(5)
    first = [b.y.tolist() for b in GraphLoader(store, torch.tensor([0, 2, 3, 5, 6]), batch_size=2, shuffle=True)]
    torch.manual_seed(5)
    again = [b.y.tolist() for b in GraphLoader(store, torch.tensor([0, 2, 3, 5, 6]), batch_size=2, shuffle=True)]
    assert first == again and sorted(sum(first, [])) == sorted([0, 2, 0, 2, 0])
    with pytest.raises(TypeError, match="bool mask"):
        GraphLoader(store, torch.ones(7, dtype=torch.bool))
    with pytest.raises(ValueError, match="graph ids must lie in"):
        GraphLoader(store, torch.tensor([7]))


def test_task_losses_and_metrics():
    # binary with missing labels: the NaN entries take no part in the loss or the score
    task = GraphPredictionTask("binary", "rocauc")
    out = torch.tensor([[0.5, -1.0], [2.0, 0.1], [-0.3, 3.0]])
    y = torch.tensor([[1.0, float("nan")], [0.0, 1.0], [1.0, 0.0]])
    expected = torch.nn.functional.binary_cross_entropy_with_logits(
        torch.tensor([0.5, 2.0, 0.1, -0.3, 3.0]), torch.tensor([1.0, 0.0, 1.0, 1.0, 0.0]))
    assert torch.allclose(task._loss(out, y), expected)
    from sklearn.metrics import roc_auc_score
    assert binary_score("rocauc", y.numpy(), out.numpy()) == pytest.approx(
        np.mean([roc_auc_score([1, 0, 1], [0.5, 2.0, -0.3]), roc_auc_score([1, 0], [0.1, 3.0])]))
    pytest.importorskip("ogb")
    y1, p1 = y[:, :1].numpy(), out[:, :1].numpy()
    assert binary_score("rocauc", y1, p1, evaluator="ogbg-molhiv") == pytest.approx(binary_score("rocauc", y1, p1))
    with pytest.raises(ValueError, match="no task has both"):
        binary_score("rocauc", np.ones((3, 1)), np.zeros((3, 1)))
    reg = GraphPredictionTask("regression", "mae")
    assert reg.monitor[0] == ("mae", "min")
    with pytest.raises(ValueError, match="does not fit"):
        GraphPredictionTask("classification", "mae")


def test_errica_folds_are_stratified_disjoint_and_cover():
    y = torch.tensor([0] * 60 + [1] * 40)
    folds = errica_folds(y, 10, seed=0)
    assert len(folds) == 10
    tests = torch.cat([f["test"] for f in folds])
    assert sorted(tests.tolist()) == list(range(100))
    for f in folds:
        parts = [set(f[k].tolist()) for k in ("train", "valid", "test")]
        assert not (parts[0] & parts[1]) and not (parts[0] & parts[2]) and not (parts[1] & parts[2])
        assert len(parts[0]) + len(parts[1]) + len(parts[2]) == 100
        assert len(parts[1]) == 9 and int(y[f["test"]].sum()) == 4  # 10 % holdout, stratified test
    assert [f["test"].tolist() for f in errica_folds(y, 10, seed=0)] == [f["test"].tolist() for f in folds]


def test_expand_grid():
    points = expand_grid({"a": [1, 2], "b,c": [[3, 4], [5, 6]]})
    assert points == [{"a": 1, "b": 3, "c": 4}, {"a": 1, "b": 5, "c": 6}, {"a": 2, "b": 3, "c": 4},
                      {"a": 2, "b": 5, "c": 6}]
    assert expand_grid(None) == [{}]
    with pytest.raises(ValueError, match="takes tuples of 2"):
        expand_grid({"b,c": [3]})
    from graphkit.tasks import presets
    assert len(expand_grid(presets.graph_prediction_grid("gin"))) == 128  # Errica et al.'s grid


def test_step_lr(monkeypatch):
    import graphkit.train.engine as engine_module
    built = []
    original = engine_module.build_optimizer
    monkeypatch.setattr(engine_module, "build_optimizer", lambda m, c: built.append(original(m, c)) or built[-1])
    seen = []

    class Recorder:
        monitor = (("loss", "min"),)

        def training_step(self, model, batch):
            seen.append(built[0].param_groups[0]["lr"])
            return model(torch.ones(1, 1)).sum()

        def evaluate(self, model, loader):
            return {"loss": 0.0}

        def batch_size(self, batch):
            return 1
    engine = Engine(TrainConfig(epochs=5, lr=0.1, lr_step=2, lr_gamma=0.5), progress=False)
    engine.fit(Recorder(), nn.Linear(1, 1), [0], [0], [0])
    assert seen == pytest.approx([0.1, 0.1, 0.05, 0.05, 0.025])
    with pytest.raises(ValueError, match="lr_gamma must lie in"):
        TrainConfig(lr_step=2, lr_gamma=0.0)


def test_report_folds_average_runs_first():
    from graphkit.train import Report, RunResult
    runs = [RunResult(seed=s, valid={"accuracy": 0.5}, test={"accuracy": acc}, epochs=1, best_epoch=1, seconds=0,
                      seconds_per_epoch=0, split_index=f) for f, s, acc in
            [(0, 0, 0.6), (0, 1, 0.8), (1, 0, 0.9), (1, 1, 0.9)]]
    report = Report("graph-prediction", {"protocol": "cv"}, "accuracy", {}, runs)
    assert report.folds["accuracy"]["mean"] == pytest.approx(0.8)
    assert report.folds["accuracy"]["std"] == pytest.approx(0.1)
    assert "folds" in report.to_dict()


def _tiny_dataset(kind="classification"):
    graphs = []
    for i in range(40):
        n = 4 + i % 5
        label = i % 2
        g = torch.Generator().manual_seed(i)
        ei = torch.randint(0, n, (2, n * (1 + 2 * label)), generator=g)  # class 1: denser graphs
        x = torch.nn.functional.one_hot(torch.randint(0, 2, (n,), generator=g), 2).float()  # "atom types"
        y = torch.tensor([label]) if kind == "classification" else torch.tensor([float(ei.size(1))])
        graphs.append(Data(x=x, edge_index=torch.cat([ei, ei.flip(0)], 1), y=y))
    metric = "accuracy" if kind == "classification" else "mae"
    return GraphDataset("tiny", graphs, kind, metric, split_idx={"train": torch.arange(0, 24),
                                                                "valid": torch.arange(24, 32),
                                                                "test": torch.arange(32, 40)})


def test_graph_prediction_learns_and_resumes(tmp_path):
    data = _tiny_dataset()
    config = {"epochs": 30, "lr": 0.01, "batch_size": 8, "hidden_channels": 16, "num_layers": 2, "patience": None,
              "lr_step": None}
    report = GraphPrediction("gin", config=config, protocol="official", runs=1, progress=False,
                             checkpoint_dir=str(tmp_path)).fit(data)
    assert report.test["accuracy"]["mean"] >= 0.75
    again = GraphPrediction("gin", config=config, protocol="official", runs=1, progress=False,
                            checkpoint_dir=str(tmp_path)).fit(data)
    assert again.runs[0].test == report.runs[0].test and again.runs[0].seconds == report.runs[0].seconds


def test_graph_regression_with_a_user_model():
    data = _tiny_dataset("regression")

    class Mean(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(2, 1)

        def forward(self, x, adj, batch):
            deg = adj.in_degree().float().view(-1, 1)
            return self.lin(global_add_pool(torch.cat([deg, x[:, :1]], 1), batch))
    report = GraphPrediction(Mean(), config={"epochs": 60, "lr": 0.05, "batch_size": 8}, protocol="official",
                             progress=False).fit(data)
    assert report.metric == "mae" and report.test["mae"]["mean"] < 3.0


def test_graph_prediction_bad_input():
    data = _tiny_dataset()
    with pytest.raises(ValueError, match="regression targets"):
        bad = _tiny_dataset("regression")
        GraphPrediction("gin", protocol="official", progress=False).fit(
            GraphDataset("r", bad.dataset, "classification", "accuracy", bad.split_idx))
    graphs = [g.clone() for g in data.dataset]
    del graphs[5].y
    with pytest.raises(ValueError, match="graph 5 has no y but graph 0 has"):
        GraphPrediction("gin", protocol="official", progress=False).fit(
            GraphDataset("tiny", graphs, "classification", "accuracy", data.split_idx))
    with pytest.raises(TypeError, match="takes a GraphDataset"):
        GraphPrediction("gin").fit(graphs)
    with pytest.raises(ValueError, match="unknown graph-level model preset"):
        GraphPrediction("gcn-nope").fit(data)
    with pytest.raises(ValueError, match="grid keys \\['hiden'\\]"):
        GraphPrediction("gin", grid={"hiden": [1, 2]}, protocol="cv", progress=False).fit(data)
    graphs = [g.clone() for g in data.dataset]
    graphs[3].y = torch.tensor([0, 1, 1, 0, 1])
    with pytest.raises(ValueError, match="graph 3: y must hold the graph's target"):
        GraphPrediction("gin", protocol="official", progress=False).fit(
            GraphDataset("tiny", graphs, "classification", "accuracy", data.split_idx))
    featureless = [Data(edge_index=g.edge_index, y=g.y, num_nodes=g.num_nodes) for g in data.dataset]
    with pytest.raises(ValueError, match="have no node features; .*node_features='degree'"):
        GraphPrediction("gin", protocol="official", progress=False).fit(
            GraphDataset("bare", featureless, "classification", "accuracy", data.split_idx))
    with pytest.raises(TypeError, match="cannot be called as model\\(x, adj, batch"):
        GraphPrediction(lambda i, o: nn.Linear(i, o), protocol="official", progress=False,
                        config={"epochs": 1}).fit(data)

    class NodeLevel(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(2, 2)

        def forward(self, x, adj, batch):
            return self.lin(x)
    with pytest.raises(ValueError, match="must return one row per graph"):
        GraphPrediction(NodeLevel(), protocol="official", progress=False, config={"epochs": 1}).fit(data)


# ----------------------------------------------------------------------------- real data
TU = {"mutag": ("MUTAG", 188, 3371, 7442, 7), "proteins": ("PROTEINS", 1113, 43471, 162088, 3),
      "nci1": ("NCI1", 4110, 122747, 265506, 37), "nci109": ("NCI109", 4127, 122494, 265208, 38),
      "imdb-binary": ("IMDB-BINARY", 1000, 19773, 193062, 1)}


@pytest.mark.parametrize("name", sorted(TU))
def test_tu_datasets_load_with_their_cards(name):
    folder, graphs, nodes, edges, features = TU[name]
    need_dataset(folder)
    from graphkit.datasets import card, load
    data = load(name)
    c = card(name)
    assert len(data) == graphs == c.graphs and data.num_features == features == c.features
    store = GraphStore(data)
    assert int(store.node_ptr[-1]) == nodes == c.nodes and int(store.edge_ptr[-1]) == edges == c.edges
    assert data.kind == "classification" and data.num_tasks == 2 and data.split_idx is None


def test_imdb_node_features_are_degrees():
    need_dataset("IMDB-BINARY")
    from graphkit.datasets import load
    g = load("imdb-binary")[0]
    assert torch.equal(g.x.view(-1), torch.bincount(g.edge_index[1], minlength=g.num_nodes).float())
    one_hot = load("imdb-binary", node_features="one-hot-degree")
    assert one_hot.num_features == 136 and torch.equal(one_hot[0].x.sum(1), torch.ones(one_hot[0].num_nodes))
    with pytest.raises(ValueError, match="has node features of its own"):
        need_dataset("MUTAG")
        load("mutag", node_features="degree")


def test_any_tu_name_and_unknown_names():
    from graphkit.datasets import card
    c = card("enzymes")
    assert c.loader == "tu" and c.loader_name == "ENZYMES" and c.graphs == 600
    assert card("Tox21_AhR_training").loader_name == "Tox21_AhR_training"
    with pytest.raises(ValueError, match="unknown dataset 'enzymez'"):
        card("enzymez")


def test_mutag_cross_validation_end_to_end(tmp_path):
    """Errica et al.'s protocol on real data, small: 3 folds, a 2-point grid, 2 final runs per fold."""
    need_dataset("MUTAG")
    from graphkit.datasets import load
    data = load("mutag")
    grid = {"hidden_channels": [16, 32]}
    est = GraphPrediction("gin", config={"epochs": 40, "patience": 20, "lr_step": 50}, grid=grid, folds=3, runs=2,
                          progress=False, checkpoint_dir=str(tmp_path))
    report = est.fit(data)
    assert len(report.runs) == 6 and len(est.selection_) == 3
    assert {s["config"]["hidden_channels"] for s in est.selection_} <= {16, 32}
    folds = report.folds["accuracy"]
    assert 0.70 <= folds["mean"] <= 1.0, folds
    assert json.loads(report.to_json())["folds"]["accuracy"]["mean"] == pytest.approx(folds["mean"])
    assert not math.isnan(folds["std"])


def test_cli_graph_classification(tmp_path, capsys):
    need_dataset("MUTAG")
    from graphkit.cli.main import main
    out = tmp_path / "report.json"
    code = main(["train", "graph-classification", "--dataset", "mutag", "--folds", "2", "--runs", "1", "--no-grid",
                 "--epochs", "3", "--quiet", "--json", str(out)])
    assert code == 0
    text = capsys.readouterr().out
    assert "test accuracy" in text and "over the 2 folds" in text
    assert json.loads(out.read_text())["protocol"] == "cv"
    assert main(["train", "graph-regression", "--dataset", "mutag", "--epochs", "1", "--quiet"]) == 2
    assert "has classification targets" in capsys.readouterr().err


def test_ogbg_molhiv_loads_with_its_scaffold_split_and_trains():
    need_dataset("ogbg_molhiv")
    from graphkit.datasets import card, load
    data = load("ogbg-molhiv")
    c = card("molhiv")
    assert len(data) == c.graphs and data.kind == "binary" and data.metric == "rocauc"
    assert {k: len(v) for k, v in data.split_idx.items()} == {"train": 32901, "valid": 4113, "test": 4113}
    store = GraphStore(data)
    assert (int(store.node_ptr[-1]), int(store.edge_ptr[-1])) == (c.nodes, c.edges)
    assert store.x.dtype == torch.int64 and store.edge_attr.shape == (c.edges, 3) and int(store.y.sum()) == 1443
    # GIN-virtual, a few hundred graphs of each part, scored by OGB's Evaluator
    small = GraphDataset("ogbg-molhiv", data.dataset, "binary", "rocauc",
                         {"train": data.split_idx["train"][:640], "valid": data.split_idx["valid"][:400],
                          "test": data.split_idx["test"][:400]}, evaluator="ogbg-molhiv")
    report = GraphPrediction("gin-virtual", config={"epochs": 2, "hidden_channels": 32, "num_layers": 2},
                             protocol="official", progress=False).fit(small)
    assert 0.0 <= report.test["rocauc"]["mean"] <= 1.0 and report.runs[0].epochs == 2


@pytest.mark.slow
def test_peptides_func_rebuilt_from_lrgb_csv():
    """LRGB's graphs rebuilt offline from its CSV with rdkit and OGB's smiles2graph (about 3 minutes
    the first time), read by PyG's LRGBDataset: LRGB's published sizes and label counts."""
    need_dataset("peptides-func")
    pytest.importorskip("rdkit")
    from graphkit.datasets import card, load
    data = load("peptides-func")
    c = card("peptides-func")
    assert len(data) == c.graphs and data.kind == "binary" and data.metric == "ap"
    assert {k: len(v) for k, v in data.split_idx.items()} == {"train": 10873, "valid": 2331, "test": 2331}
    store = GraphStore(data)
    assert (int(store.node_ptr[-1]), int(store.edge_ptr[-1])) == (c.nodes, c.edges)
    assert store.y.sum(0).long().tolist() == [1378, 545, 995, 969, 9745, 3077, 1662, 2866, 299, 4044]
    train_nodes = int(store.node_ptr[10873])
    assert train_nodes == 1647684


def test_peptides_without_rdkit_is_a_clear_error(monkeypatch, tmp_path):
    import sys

    from graphkit.datasets.loaders import _lrgb_raw_from_csv
    monkeypatch.setitem(sys.modules, "rdkit", None)
    with pytest.raises(ImportError, match="needs rdkit: pip install 'graphkit\\[chem\\]'"):
        _lrgb_raw_from_csv(tmp_path)


def test_cross_validation_of_real_targets_and_folds_in_checkpoint_keys(tmp_path):
    data = _tiny_dataset("regression")
    data.split_idx = None
    config = {"epochs": 3, "batch_size": 8, "hidden_channels": 8, "num_layers": 1, "lr_step": None}
    first = GraphPrediction("gin", config=config, grid={"dropout": [0.0, 0.5]}, folds=2, runs=2, progress=False,
                            checkpoint_dir=str(tmp_path)).fit(data)
    assert first.metric == "mae" and len(first.runs) == 4 and "mae" in first.folds
    # another seed draws other folds: none of its runs may be read back from the first fit's
    other = GraphPrediction("gin", config=config, grid={"dropout": [0.0, 0.5]}, folds=2, runs=2, seed=1,
                            progress=False, checkpoint_dir=str(tmp_path)).fit(data)
    assert {r.seed for r in other.runs} == {1, 2}
    folders = {p.parent for p in tmp_path.rglob("*.pt")}
    assert len(folders) == 8  # 2 seeds x 2 folds x 2 grid points; the chosen point's run is its first final run
    same = GraphPrediction("gin", config=config, grid={"dropout": [0.0, 0.5]}, folds=2, runs=2, progress=False,
                           checkpoint_dir=str(tmp_path)).fit(data)
    assert [r.test for r in same.runs] == [r.test for r in first.runs]


def test_targets_metrics_and_unlabelled_batches():
    task = GraphPredictionTask("binary", "rocauc")
    out = torch.randn(3, 2, requires_grad=True)
    loss = task._loss(out, torch.full((3, 2), float("nan")))
    loss.backward()
    assert float(loss.detach()) == 0.0 and torch.equal(out.grad, torch.zeros(3, 2))
    reg = GraphPredictionTask("regression", "rmse")
    assert reg.loss == "mse" and reg.monitor[0] == ("rmse", "min")
    # OGB keeps class ids as [G, 1]: classification reads them as [G]
    graphs = [Data(x=torch.ones(2, 1), edge_index=torch.tensor([[0, 1], [1, 0]]), y=torch.tensor([[i % 2]]))
              for i in range(6)]
    from graphkit.tasks.graph_prediction import check_graph_targets
    store = GraphStore(graphs)
    assert check_graph_targets(store, "classification", "g") == 2 and store.y.shape == (6,)


def test_ogb_metrics_in_graphkit_names():
    from graphkit.datasets import _graph_dataset, card
    from graphkit.datasets.graphs import GraphList
    graphs = GraphList(Data(x=torch.ones(2, 1), edge_index=torch.tensor([[0, 1], [1, 0]]), y=torch.tensor([[0.5]]))
                       for _ in range(4))
    graphs.task_type, graphs.eval_metric = "regression", "rmse"
    data = _graph_dataset(card("ogbg-molesol"), graphs, "scaffold", None)
    assert (data.kind, data.metric) == ("regression", "rmse")
    graphs.task_type, graphs.eval_metric = "subtoken prediction", "F1"
    with pytest.raises(ValueError, match="scored by 'F1', which graph-level prediction does not support"):
        _graph_dataset(card("ogbg-code2"), graphs, "project", None)


def test_cli_grid_only_with_cross_validation(capsys):
    need_dataset("ogbg_molhiv")
    from graphkit.cli.main import main
    assert main(["train", "graph-classification", "--dataset", "ogbg-molhiv", "--no-grid", "--quiet"]) == 2
    assert "runs its official split" in capsys.readouterr().err


def test_a_ledger_carries_finished_runs_to_a_machine_without_checkpoints(tmp_path, monkeypatch):
    from graphkit.train import RunLedger
    from graphkit.train import engine as engine_module
    data = _tiny_dataset("regression")
    data.split_idx = None
    config = {"epochs": 3, "batch_size": 8, "hidden_channels": 8, "num_layers": 1, "lr_step": None}
    ledger = tmp_path / "runs.json"
    args = dict(config=config, grid={"dropout": [0.0, 0.5]}, folds=2, runs=2, progress=False)
    first = GraphPrediction("gin", checkpoint_dir=str(tmp_path / "ckpt"), ledger=str(ledger), **args)
    report = first.fit(data)
    assert len(RunLedger(ledger)) == 6 and first.model_ is not None  # 2 folds x (2 grid points + 1 more final)
    # elsewhere: no checkpoints, the ledger alone; nothing trains, the report is the same
    monkeypatch.setattr(engine_module, "build_optimizer", lambda *a: pytest.fail("a ledger run was retrained"))
    again = GraphPrediction("gin", ledger=str(ledger), **args)
    assert again.fit(data).to_dict()["runs"] == report.to_dict()["runs"] and again.model_ is None
    monkeypatch.undo()
    # another config's runs are not in it: they train and join the ledger
    GraphPrediction("gin", ledger=str(ledger), **dict(args, config=dict(config, epochs=2))).fit(data)
    assert len(RunLedger(ledger)) == 12
    ledger.write_text('{"runs": []}')
    with pytest.raises(ValueError, match="is not a run ledger"):
        GraphPrediction("gin", ledger=str(ledger), **args).fit(data)
    with pytest.raises(IsADirectoryError, match="is a folder"):
        RunLedger(tmp_path)
    from graphkit.train import Engine, TrainConfig
    with pytest.raises(ValueError, match="give the engine one"):
        Engine(TrainConfig(), ledger=str(tmp_path / "other.json"))
