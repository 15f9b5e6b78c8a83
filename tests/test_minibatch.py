"""Mini-batch training on sampled neighbourhoods: the NeighborLoader's batches (every seed once a
pass, the global generator's order, the same batches with worker processes), graphkit's models on
blocks (whole neighbourhoods give the full-graph outputs), exact layer-wise inference, and
NodeClassification by mini-batches on Cora against full-batch."""
from __future__ import annotations

import pytest
import torch
from torch_geometric.data import Data

from graphkit import Adj, ops
from graphkit.loader import NeighborLoader
from graphkit.nn.models import GAT, GCN, GIN, BasicGNN, GraphSAGE
from graphkit.tasks import NodeClassification

from graphs import random_graph


def _data(num_nodes=400, num_edges=4000, features=12):
    g = torch.Generator().manual_seed(0)
    ei = random_graph(num_nodes, num_edges, seed=3)
    return Data(x=torch.randn(num_nodes, features, generator=g), edge_index=ei,
                y=torch.randint(0, 4, (num_nodes,), generator=g), num_nodes=num_nodes)


def test_loader_covers_every_seed_once_follows_the_global_generator_and_workers_agree():
    data = _data()
    train = torch.zeros(400, dtype=torch.bool)
    train[::3] = True
    loader = NeighborLoader(data, [4, 3], batch_size=25, shuffle=True, input_nodes=train)
    assert len(loader) == 6  # 134 seeds
    torch.manual_seed(5)
    first = list(loader)
    seeds = torch.cat([b.n_id[:b.adj[-1].shape[0]] for b in first])
    assert torch.equal(seeds.sort().values, train.nonzero().view(-1))
    for b in first:
        assert len(b.adj) == 2 and torch.equal(b.x, data.x[b.n_id])
        assert torch.equal(b.y, data.y[b.n_id[:b.adj[-1].shape[0]]])
        assert b.adj[0].shape[1] == b.n_id.numel() and b.adj[1].shape[1] == b.adj[0].shape[0]
    torch.manual_seed(5)
    again = list(NeighborLoader(data, [4, 3], batch_size=25, shuffle=True, input_nodes=train, num_workers=2))
    assert all(torch.equal(a.n_id, b.n_id) and all(torch.equal(x.col, y.col) for x, y in zip(a.adj, b.adj))
               for a, b in zip(first, again))
    torch.manual_seed(6)
    other = list(loader)
    assert not all(torch.equal(a.n_id, b.n_id) for a, b in zip(first, other))
    dropped = NeighborLoader(data, [2], batch_size=25, input_nodes=train, drop_last=True)
    assert len(dropped) == 5 and all(b.y.numel() == 25 for b in dropped)


def test_loader_progress_bar_shows_batches_and_sampled_edges_per_second(capsys, monkeypatch):
    import tqdm.auto
    drawn = []

    class Recording(tqdm.auto.tqdm):  # what the bar is told, whatever it draws between its refreshes
        def set_postfix(self, **kwargs):
            drawn.append(kwargs)
            super().set_postfix(**kwargs)
    monkeypatch.setattr(tqdm.auto, "tqdm", Recording)
    data = _data()
    torch.manual_seed(5)
    quiet = [b.n_id for b in NeighborLoader(data, [4, 3], batch_size=50)]
    torch.manual_seed(5)
    shown = [b.n_id for b in NeighborLoader(data, [4, 3], batch_size=50, progress=True)]
    assert all(torch.equal(a, b) for a, b in zip(quiet, shown))
    assert "NeighborLoader" in capsys.readouterr().err and len(drawn) == 8
    assert all(float(d["edges_per_s"].replace(",", "")) > 0 for d in drawn)


@pytest.mark.parametrize("model", ["sage", "gin", "gat", "gcn"])
@pytest.mark.parametrize("options", [{}, {"jk": "cat"}, {"residual": True, "norm": "batch"}])
def test_whole_neighbourhood_blocks_give_the_full_graph_outputs(model, options):
    """Blocks of whole neighbourhoods reproduce the full graph at the seeds (GCN's normalisation
    reads its sources' degrees, which blocks do not hold: it is checked against PyG below), and
    layer-wise inference reproduces it everywhere."""
    data = _data()
    adj = Adj.from_edge_index(data.edge_index, 400)
    torch.manual_seed(0)
    extra = {"heads": 2} if model == "gat" else {}
    net = {"sage": GraphSAGE, "gin": GIN, "gat": GAT, "gcn": GCN}[model](12, 12, 3, 5, **options, **extra).eval()
    full = net(data.x, adj)
    seeds = torch.tensor([0, 7, 99, 350, 399])  # 350 and 399 lie among the isolated nodes
    blocks = ops.sample_neighbors(adj, seeds, [-1, -1, -1])
    out = net(data.x[blocks[0][1]], [b for b, _, _ in blocks])
    if model != "gcn":
        torch.testing.assert_close(out, full[seeds])
    for batch_size in (37, 400):  # layer-wise inference: many batches, or one
        torch.testing.assert_close(net.inference(data.x, adj, batch_size=batch_size), full)


@pytest.mark.parametrize("improved", [False, True])
def test_gcn_and_gat_on_a_block_are_pygs_on_the_blocks_square_graph(improved):
    """A sampled block normalised as PyG's GCNConv normalises a layer's (trimmed) subgraph: the
    square graph over the block's sources holding its edges; GAT's self-loops on the targets."""
    from torch_geometric.nn import GATConv as PyGGAT
    from torch_geometric.nn import GCNConv as PyGGCN

    from graphkit.nn import GATConv, GCNConv
    data = _data()
    adj = Adj.from_edge_index(data.edge_index, 400)
    block, n_id, _ = ops.sample_neighbors(adj, torch.tensor([1, 5, 8, 40, 41, 300]), [3], seed=2)[0]
    x = data.x[n_id]
    square = torch.stack([block.col, block.row])  # the block's edges source -> target, local ids
    torch.manual_seed(0)
    ours, theirs = GCNConv(12, 6, improved=improved), PyGGCN(12, 6, improved=improved)
    theirs.lin.weight.data.copy_(ours.lin.weight)
    # explicit unit weights: without weights PyG's gcn_norm drops improved's self-loop weight 2
    expected = theirs(x, square, torch.ones(square.shape[1]))[:block.shape[0]]
    torch.testing.assert_close(ours((x, x[:block.shape[0]]), block), expected)
    gat, pyg_gat = GATConv(12, 4, heads=2), PyGGAT((12, 12), 4, heads=2)
    pyg_gat.lin_src.weight.data.copy_(gat.lin.weight)
    pyg_gat.lin_dst.weight.data.copy_(gat.lin.weight)
    pyg_gat.att_src.data.copy_(gat.att_src)
    pyg_gat.att_dst.data.copy_(gat.att_dst)
    expected = pyg_gat((x, x[:block.shape[0]]), square)
    torch.testing.assert_close(gat((x, x[:block.shape[0]]), block), expected)


def test_sampled_blocks_train_and_their_gradients_match_the_full_graph_ones():
    """With whole neighbourhoods, a mini-batch's loss and gradients equal those of the full graph
    restricted to the seeds."""
    data = _data()
    adj = Adj.from_edge_index(data.edge_index, 400)
    torch.manual_seed(0)
    model = GraphSAGE(12, 16, 2, 4)
    seeds = torch.arange(0, 400, 9)
    blocks = ops.sample_neighbors(adj, seeds, [-1, -1])
    loss = torch.nn.functional.cross_entropy(model(data.x[blocks[0][1]], [b for b, _, _ in blocks]), data.y[seeds])
    grads = torch.autograd.grad(loss, list(model.parameters()))
    full = torch.nn.functional.cross_entropy(model(data.x, adj)[seeds], data.y[seeds])
    for a, b in zip(grads, torch.autograd.grad(full, list(model.parameters()))):
        torch.testing.assert_close(a, b)


def test_bad_input_gives_clear_errors():
    data = _data()
    for kwargs, error, message in [
            (dict(fanouts=[]), ValueError, "non-empty list"), (dict(fanouts=[3, 0]), ValueError, "positive int or -1"),
            (dict(fanouts=[-3]), ValueError, "positive int or -1"), (dict(batch_size=0), ValueError, "batch_size"),
            (dict(input_nodes=torch.tensor([0, 400])), ValueError, r"input_nodes must lie in \[0, 400\)"),
            (dict(input_nodes=torch.tensor([1, 1])), ValueError, "twice"),
            (dict(input_nodes=torch.zeros(3, dtype=torch.bool)), ValueError, r"shape \[400\]"),
            (dict(input_nodes=torch.zeros(400, dtype=torch.bool)), ValueError, "no seed nodes"),
            (dict(num_workers=-1), ValueError, "num_workers"), (dict(weighted=True), ValueError, "edge weights")]:
        args = dict(fanouts=[3], batch_size=8)
        args.update(kwargs)
        with pytest.raises(error, match=message):
            NeighborLoader(data, **args)
    batch = next(iter(NeighborLoader(data, [3, 3], batch_size=8)))
    with pytest.raises(ValueError, match="has 3 layers but the batch holds 2 blocks"):
        GraphSAGE(12, 8, 3, 4)(batch.x, batch.adj)
    with pytest.raises(ValueError, match="do not chain"):
        GraphSAGE(12, 8, 2, 4)(batch.x, batch.adj[::-1])
    with pytest.raises(ValueError, match="fanouts must be a non-empty list"):
        NodeClassification("sage", config={"fanouts": []}).resolve_config()
    with pytest.raises(ValueError, match="inference_batch_size must be a positive int"):
        NodeClassification("sage", config={"fanouts": [5], "inference_batch_size": 0}).resolve_config()

    class Dense(BasicGNN):  # a layer without supports_bipartite
        def make_conv(self, in_channels, out_channels, final, **kwargs):
            return torch.nn.Linear(in_channels, out_channels)
    with pytest.raises(TypeError, match="Linear does not take sampled blocks"):
        Dense(12, 8, 2, 4)(batch.x, batch.adj)


def test_minibatch_sage_on_cora_is_as_accurate_as_full_batch(cora):
    """GraphSAGE trained by mini-batches of 10-10 sampled neighbours (3 seeds, evaluated by exact
    layer-wise inference) is within 2 points of full-batch training of the same model."""
    config = {"epochs": 60, "hidden_channels": 64}
    full = NodeClassification("sage", config=config, runs=3, progress=False).fit(cora)
    mini = NodeClassification("sage", config=dict(config, fanouts=[10, 10], batch_size=35), runs=3,
                              progress=False).fit(cora)
    assert mini.test["accuracy"]["mean"] > 0.77
    assert abs(mini.test["accuracy"]["mean"] - full.test["accuracy"]["mean"]) < 0.02


def test_link_neighbor_loader_pairs_index_their_endpoints_and_training_runs():
    from graphkit.loader import LinkNeighborLoader, TrainGraph
    from graphkit.tasks import LinkPrediction
    from graphkit.utils import seed_everything
    data = _data()
    edges = data.edge_index[:, data.edge_index[0] < data.edge_index[1]][:, :600]
    graph = TrainGraph(edges, 400)
    loader = LinkNeighborLoader(graph.adj, edges, [5, 5], batch_size=128, x=data.x)
    seed_everything(0)  # PyG's negative_sampling draws from Python's generator too
    batches = list(loader)
    assert len(batches) == 5 and sum(b.pos.shape[1] for b in batches) == 600
    seen = torch.cat([b.n_id[:b.adj[-1].shape[0]][b.pos] for b in batches], dim=1)
    assert torch.equal(seen[:, seen[0].argsort()].sort(dim=1).values, edges.sort(dim=1).values)  # every edge once
    for b in batches:
        seeds = b.n_id[:b.adj[-1].shape[0]]
        assert torch.equal(seeds, seeds.sort().values) and b.neg.shape == b.pos.shape
        assert torch.equal(b.x, data.x[b.n_id])
    seed_everything(0)
    again = list(LinkNeighborLoader(graph.adj, edges, [5, 5], batch_size=128, x=data.x, num_workers=2))
    assert all(torch.equal(a.pos, c.pos) and torch.equal(a.n_id, c.n_id) for a, c in zip(batches, again))
    with pytest.raises(ValueError, match=r"edges must hold node ids in \[0, 400\)"):
        LinkNeighborLoader(graph.adj, edges + 400, [5], batch_size=8)
    config = {"epochs": 2, "batch_size": 256, "fanouts": [5, 5], "hidden_channels": 16, "num_layers": 2}
    report = LinkPrediction("sage", "mlp", config=config, progress=False).fit(data)
    assert 0.0 <= report.test["auc"]["mean"] <= 1.0
    with pytest.raises(ValueError, match="mini-batch training \\(fanouts\\) takes 'dot' or 'mlp'"):
        LinkPrediction("sage", "ncn", config=config, progress=False).fit(data)
    with pytest.raises(ValueError, match="set one of them"):
        LinkPrediction("sage", "mlp", config=dict(config, mask_input=True)).resolve_config()
