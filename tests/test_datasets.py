"""Datasets: the real loaders on the shared raw files (counts against the cards), the read-only
data root, synthetic generators, and clear errors."""
from __future__ import annotations

import os

import pytest
import torch

from graphkit import datasets
from graphkit.datasets import DatasetNotFoundError
from graphkit.datasets.loaders import LOADERS

from conftest import need_dataset, shared_root

REAL = [("cora", "Cora", "public"), ("citeseer", "CiteSeer", "public"), ("cornell", "cornell", "geom-gcn"),
        ("film", "Actor", "geom-gcn"), ("blogcatalog", "blogcatalog", "none")]


@pytest.mark.parametrize("name,folder,split", REAL)
def test_real_dataset_matches_card(name, folder, split):
    need_dataset(folder)
    data = datasets.load(name)
    card = datasets.card(name)
    assert data.num_nodes == card.nodes and data.edge_index.size(1) == card.edges
    assert data.split == split
    if card.features:
        assert data.x.shape == (card.nodes, card.features)
        assert int(data.y.max()) + 1 == card.classes
    if split == "geom-gcn":
        assert data.train_mask.shape == (card.nodes, 10)
        assert not (data.train_mask & data.test_mask).any()


def test_planetoid_public_and_geom_gcn_splits():
    need_dataset("Cora")
    public = datasets.load("cora")
    assert int(public.train_mask.sum()) == 140 and int(public.val_mask.sum()) == 500
    assert torch.allclose(public.x.sum(-1)[public.x.sum(-1) > 0], torch.ones(1))  # row-normalised
    geom = datasets.load("cora", split="geom-gcn")
    assert geom.train_mask.shape == (2708, 10) and int(geom.train_mask[:, 0].sum()) == 1192


def test_ogbl_ddi_with_narrow_weights_only_workaround():
    need_dataset("ogbl_ddi")
    assert os.environ.get("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD") is None
    data = datasets.load("ogbl-ddi")
    assert data.num_nodes == 4267 and data.edge_index.size(1) == 2_135_822
    assert data.split_edge["train"]["edge"].shape == (1_067_911, 2)
    assert data.split_edge["valid"]["edge_neg"].shape == (101_882, 2)


def test_data_root_is_never_written():
    need_dataset("Cora")
    datasets.load("cora")
    datasets.load("cora", split="geom-gcn")
    assert not (shared_root() / "Cora" / "processed").exists()
    assert not (shared_root() / "Cora" / "geom-gcn" / "processed").exists()
    assert (datasets.cache_root() / "Cora" / "processed").is_dir()


def test_heterophily_features_are_row_normalised_and_masks_bool():
    need_dataset("Actor")
    need_dataset("cornell")
    for name in ("film", "cornell", "cora"):
        data = datasets.load(name, split="geom-gcn")
        sums = data.x.sum(-1)
        assert torch.allclose(sums[sums > 0], torch.ones(1)), name  # as Geom-GCN / NSD preprocess them
        assert data.train_mask.dtype == data.val_mask.dtype == data.test_mask.dtype == torch.bool  # PyG: uint8
    raw = datasets.load("film", normalize_features=False)
    assert set(raw.x.unique().tolist()) <= {0.0, 1.0}


def test_cache_lock_serialises_loads_of_one_dataset(tmp_path, monkeypatch):
    """Two loaders of one dataset at once: the second waits for the first's processed files."""
    import threading
    need_dataset("cornell")
    monkeypatch.setenv("GRAPHKIT_CACHE", str(tmp_path / "cache"))
    card = datasets.card("cornell")
    events, entered = [], threading.Event()

    def holder():
        with datasets.cache_lock(card):
            entered.set()
            events.append("holder in")
            threading.Event().wait(0.3)
            events.append("holder out")

    thread = threading.Thread(target=holder)
    thread.start()
    entered.wait()
    with datasets.cache_lock(card):
        events.append("second in")
    thread.join()
    assert events == ["holder in", "holder out", "second in"]
    loaded = []
    threads = [threading.Thread(target=lambda: loaded.append(datasets.load("cornell"))) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(loaded) == 2 and torch.equal(loaded[0].x, loaded[1].x)


def test_locate_reports_where_found():
    need_dataset("Cora")
    assert datasets.locate(datasets.card("cora")) == shared_root() / "Cora"


def test_missing_dataset_offline_gives_one_clear_message(tmp_path, monkeypatch):
    monkeypatch.setenv("GRAPHKIT_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("GRAPHKIT_DATA", str(tmp_path))
    # No network: make every download fail the way an offline machine does.
    import torch_geometric.data.download as download

    def offline(*args, **kwargs):
        raise OSError("Name or service not known")

    monkeypatch.setattr(download, "download_url", offline)
    monkeypatch.setattr("torch_geometric.io.fs.cp", offline)  # Planetoid downloads with fs.cp
    with pytest.raises(DatasetNotFoundError, match=r"looked in .*Cora \(data root\) and .*cache"):
        datasets.load("cora")


def test_missing_data_root_and_unknown_names(tmp_path):
    with pytest.raises(DatasetNotFoundError, match="does not exist"):
        datasets.load("cora", root=str(tmp_path / "nowhere"))
    with pytest.raises(ValueError, match="unknown dataset 'coraa'"):
        datasets.load("coraa")
    with pytest.raises(ValueError, match="no split 'weird'"):
        datasets.load("cora", split="weird")
    with pytest.raises(ValueError, match="unknown parameters"):
        datasets.load("csbm", homophilly=0.3)


def test_csbm_homophily_and_determinism():
    for h in (0.1, 0.5, 0.9):
        data = datasets.load("csbm", num_nodes=2000, homophily=h, seed=3)
        src, dst = data.edge_index
        measured = (data.y[src] == data.y[dst]).float().mean().item()
        assert abs(measured - h) < 0.03, (h, measured)
        assert data.is_undirected()
    a, b = datasets.load("csbm", seed=7), datasets.load("csbm", seed=7)
    assert torch.equal(a.edge_index, b.edge_index) and torch.equal(a.x, b.x)
    assert not torch.equal(datasets.load("csbm", seed=8).edge_index, a.edge_index)


def test_rmat_is_power_law_and_uniform_is_not():
    r = datasets.load("rmat", num_nodes=4096, num_edges=60_000, seed=1)
    u = datasets.load("random", num_nodes=4096, num_edges=60_000, seed=1)
    assert r.edge_index.shape == (2, 60_000) and int(r.edge_index.max()) < 4096
    deg_r = torch.bincount(r.edge_index[1], minlength=4096).float()
    deg_u = torch.bincount(u.edge_index[1], minlength=4096).float()
    assert deg_r.max() > 5 * deg_u.max()  # heavy tail
    assert torch.equal(r.edge_index, datasets.load("rmat", num_nodes=4096, num_edges=60_000, seed=1).edge_index)


def test_generated_edges_are_in_csr_order_and_the_ops_match_their_references():
    from torch_geometric.utils import coalesce, to_undirected

    from graphkit import Adj, ops
    from graphkit.ops import native, reference
    data = datasets.load("csbm", num_nodes=3000, seed=2)
    src, dst = data.edge_index
    key = dst * 3000 + src
    assert bool((key[1:] > key[:-1]).all())  # sorted by (target, source), each pair once
    pyg = coalesce(to_undirected(data.edge_index), num_nodes=3000)  # PyG's undirected form, by source
    assert torch.equal(pyg, data.edge_index[:, torch.argsort(src * 3000 + dst)])
    r = datasets.load("rmat", num_nodes=4096, num_edges=60_000, seed=1).edge_index
    assert bool((r[1] * 4096 + r[0]).diff().ge(0).all())
    before = torch.get_num_threads()
    try:
        for threads in (1, 2):
            torch.set_num_threads(threads)
            for n, e in ((1, 7), (1000, 20_000), (4096, 50_000)):
                assert torch.equal(native.rmat_edges(n, e, 0.57, 0.19, 0.19, 3), reference.rmat_edges(n, e, 0.57, 0.19,
                                                                                                     0.19, 3))
            edges = torch.randint(0, 700, (2, 50_000), generator=torch.Generator().manual_seed(0))
            ordered, perm = ops.sort_edges(edges, 700)
            assert torch.equal(perm, reference.edge_order(edges[0], edges[1], 700))
            assert torch.equal(ordered, edges[:, perm])
    finally:
        torch.set_num_threads(before)
    adj = Adj.from_edge_index(ordered, 700)
    assert torch.equal(adj.perm, torch.arange(50_000))  # already in CSR order: no sort
    torch.library.opcheck(torch.ops.graphkit.rmat_edges, (100, 50, 0.5, 0.2, 0.2, 1))
    torch.library.opcheck(torch.ops.graphkit.edge_csr, (edges[0], edges[1], 700))
    with pytest.raises(ValueError, match=r"ids must lie in \[0, 600\)"):
        ops.sort_edges(edges, 600)
    with pytest.raises(ValueError, match="a \\+ b \\+ c <= 1"):
        ops.rmat_edges(10, 10, 0.6, 0.3, 0.2)


def test_rmat_labels_are_learnt_from_the_graph():
    """R-MAT's labels read the features and the in-neighbours' mean: GraphSAGE learns them, a
    graph-free MLP only in part."""
    from graphkit.tasks import NodeClassification
    data = datasets.load("rmat", num_nodes=3000, num_edges=30_000, num_features=16, num_classes=4, seed=0)
    config = {"epochs": 150, "lr": 0.01, "dropout": 0.0, "hidden_channels": 32, "num_layers": 1}
    sage = NodeClassification("sage", config=config, progress=False).fit(data).test["accuracy"]["mean"]
    mlp = NodeClassification("mlp", config=dict(config, num_layers=2), progress=False).fit(data).test["accuracy"][
        "mean"]
    assert sage > 0.9 and sage > mlp + 0.1, (sage, mlp)


def test_every_card_is_consistent():
    for name in datasets.names():
        card = datasets.card(name)
        assert card.default_split in card.splits
        assert card.loader in LOADERS or card.loader == "synthetic"
        if card.task == "graph-prediction":
            assert card.graphs > 0 and card.kind in ("classification", "binary", "regression")
        else:
            assert card.graphs == 0 and card.kind is None
    assert datasets.card("actor").name == "film"
    assert datasets.card("ogbg-molpcba").loader == "ogb-graph"
    assert datasets.card("ogbn-products").loader == "ogb-node"


FAMILIES = {"photo": ("Photo", 10), "cs": ("CS", 10), "chameleon": ("chameleon", 10), "squirrel": ("squirrel", 10),
            "minesweeper": ("minesweeper", 10), "tolokers": ("tolokers", 10)}


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_node_dataset_families_load_with_their_cards_and_splits(name):
    folder, splits = FAMILIES[name]
    need_dataset(folder)
    data, c = datasets.load(name), datasets.card(name)
    assert (data.num_nodes, data.edge_index.size(1), data.num_features, int(data.y.max()) + 1) == (
        c.nodes, c.edges, c.features, c.classes)
    for mask in (data.train_mask, data.val_mask, data.test_mask):
        assert mask.dtype == torch.bool and mask.shape == (c.nodes, splits)
    assert not (data.train_mask & data.val_mask).any() and not (data.train_mask & data.test_mask).any()
    assert not (data.val_mask & data.test_mask).any()


def test_per_class_splits_follow_shchur_et_al():
    from graphkit.datasets.loaders import per_class_splits
    y = torch.arange(300) % 3
    masks = per_class_splits(y, 20, 30, num_splits=4, seed=7)
    for k in range(4):
        assert torch.equal(torch.bincount(y[masks["train_mask"][:, k]]), torch.tensor([20, 20, 20]))
        assert torch.equal(torch.bincount(y[masks["val_mask"][:, k]]), torch.tensor([30, 30, 30]))
        assert int(masks["test_mask"][:, k].sum()) == 150
    assert not torch.equal(masks["train_mask"][:, 0], masks["train_mask"][:, 1])  # a new draw per split
    again = per_class_splits(y, 20, 30, num_splits=4, seed=7)
    assert all(torch.equal(masks[k], again[k]) for k in masks)


def test_datasets_command_lists_every_family(capsys):
    from graphkit.cli.main import main
    assert main(["datasets"]) == 0
    out = capsys.readouterr().out
    for name in ("photo", "computers", "cs", "physics", "chameleon", "squirrel", "roman-empire", "amazon-ratings",
                 "minesweeper", "tolokers", "questions", "proteins", "nci1", "imdb-binary", "ogbg-molhiv"):
        assert f"\n{name} " in out, name
    assert "136 TU datasets" in out
    assert main(["datasets", "--all"]) == 0
    assert "\nenzymes " in capsys.readouterr().out
