"""Link prediction: heuristics against networkx, metrics against OGB's Evaluator and
scikit-learn, predictor heads and the trainer."""
from __future__ import annotations

import os

import networkx as nx
import numpy as np
import pytest
import torch

import graphkit
from graphkit import Adj
from graphkit.evaluate import link_prediction
from graphkit.nn.link import adamic_adar, common_neighbors, resource_allocation


# ---------------------------------------------------------------------- heuristics
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_heuristics_equal_networkx(seed):
    g = nx.gnm_random_graph(80, 400, seed=seed)
    g.add_nodes_from(range(80, 85))  # isolated nodes
    adj = Adj.from_networkx(g)
    rng = np.random.default_rng(seed)
    pairs = [(int(u), int(v)) for u, v in rng.integers(0, 85, (300, 2)) if u != v]
    t = torch.tensor(pairs).t()
    assert common_neighbors(adj, t).tolist() == [len(list(nx.common_neighbors(g, u, v))) for u, v in pairs]
    np.testing.assert_allclose(adamic_adar(adj, t).numpy(), [s for _, _, s in nx.adamic_adar_index(g, pairs)],
                               rtol=1e-12)
    np.testing.assert_allclose(resource_allocation(adj, t).numpy(),
                               [s for _, _, s in nx.resource_allocation_index(g, pairs)], rtol=1e-12)


def test_heuristics_reject_bad_pairs():
    adj = Adj.from_networkx(nx.path_graph(5))
    with pytest.raises(ValueError, match=r"\[2, P\]"):
        common_neighbors(adj, torch.tensor([0, 1, 2]))
    with pytest.raises(ValueError, match="outside"):
        adamic_adar(adj, torch.tensor([[0, 1], [2, 7]]))


# ---------------------------------------------------------------------- metrics
def test_metrics_match_ogb_and_scikit_learn():
    from ogb.linkproppred import Evaluator
    from sklearn.metrics import average_precision_score, roc_auc_score
    g = torch.Generator().manual_seed(0)
    pos, neg = torch.randn(500, generator=g) + 1.0, torch.randn(3000, generator=g)
    neg[:5] = pos[:5]  # ties
    out = link_prediction(pos, neg, ["hits@20", "hits@50", "mrr", "auc", "ap"], dataset="ogbl-ddi")
    for k in (20, 50):
        evaluator = Evaluator("ogbl-collab")  # any shared-negative dataset: set K
        evaluator.K = k
        assert out[f"hits@{k}"] == pytest.approx(evaluator.eval({"y_pred_pos": pos, "y_pred_neg": neg})[f"hits@{k}"])
    assert out["ogb:hits@20"] == pytest.approx(out["hits@20"])
    truth = np.r_[np.ones(500), np.zeros(3000)]
    assert out["auc"] == pytest.approx(roc_auc_score(truth, torch.cat([pos, neg]).numpy()))
    assert out["ap"] == pytest.approx(average_precision_score(truth, torch.cat([pos, neg]).numpy()))
    # MRR with shared negatives = OGB's MRR with the whole negative list repeated per positive
    per_pos = neg.repeat(500, 1)
    ogb = Evaluator("ogbl-citation2").eval({"y_pred_pos": pos, "y_pred_neg": per_pos})["mrr_list"].mean()
    assert out["mrr"] == pytest.approx(float(ogb))
    assert link_prediction(pos, per_pos, ["mrr", "hits@50"], dataset="ogbl-citation2")["ogb:mrr"] == \
        pytest.approx(float(ogb))


def test_metrics_reject_bad_scores():
    pos, neg = torch.rand(10), torch.rand(20)
    with pytest.raises(ValueError, match="1-D"):
        link_prediction(pos.view(2, 5), neg)
    with pytest.raises(ValueError, match=r"\[P, K\]"):
        link_prediction(pos, torch.rand(9, 4))
    with pytest.raises(ValueError, match="NaN"):
        link_prediction(torch.tensor([0.1, float("nan")]), neg)
    with pytest.raises(ValueError, match="empty"):
        link_prediction(torch.tensor([]), neg)
    with pytest.raises(ValueError, match="unknown link-prediction metric"):
        link_prediction(pos, neg, ["precision"])


# ---------------------------------------------------------------------- heads
from graphkit.loader import TrainGraph  # noqa: E402
from graphkit.nn.link import DotPredictor, MLPPredictor, NCNCPredictor, NCNPredictor  # noqa: E402
from graphkit.tasks import LinkPrediction, build_link_model, presets  # noqa: E402
from graphkit.transforms import drop_edges, link_split, sample_rows  # noqa: E402


def _small_graph(seed=0, n=60, m=300):
    g = nx.gnm_random_graph(n, m, seed=seed)
    return g, Adj.from_networkx(g)


def test_ncn_common_neighbour_sum_equals_dense_reference():
    g, adj = _small_graph()
    dense = torch.from_numpy(nx.to_numpy_array(g, nodelist=range(60))).float()
    h = torch.randn(60, 16)
    pairs = torch.randint(0, 60, (2, 40))
    head = NCNPredictor(16).eval()
    seen = {}
    head.combine = lambda h_, p_, cn_sum: seen.setdefault("cn", cn_sum) .sum(-1)
    head(h, adj, pairs)
    expected = (dense[pairs[0]] * dense[pairs[1]]) @ h  # test-only dense reference
    torch.testing.assert_close(seen["cn"], expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("tail_act", [False, True])
def test_ncn_head_has_the_authors_layers_and_shares_no_weights(tail_act):
    """NCN's predictor with xlin, two-layer lin and LayerNorm (the ogbl-ddi set-up) holds the
    authors' layers, each branch its own: 9 square linears without tail activation (7 with it),
    5 LayerNorms, the output linear and beta. With c = 224 and 4267 embedded nodes this is the
    1,412,098 parameters published for NCN on ogbl-ddi, less the one spare embedding row the
    authors allocate (``max_x + 1``)."""
    c = 224
    head = NCNPredictor(c, use_xlin=True, two_layer_lin=True, layer_norm=True, tail_act=tail_act)
    shared = [n for n, _ in head.named_parameters(remove_duplicate=False)]
    unique = [n for n, _ in head.named_parameters()]
    assert shared == unique, "a parameter is shared between two layers"
    expected = (7 if tail_act else 9) * (c * c + c) + 5 * 2 * c + (c + 1) + 1
    assert sum(p.numel() for p in head.parameters()) == expected
    if not tail_act:
        model = build_link_model("puresum", "ncn", None, 4267, presets.link_prediction("ncn", "ogbl-ddi"))
        assert sum(p.numel() for p in model.parameters()) == 1_412_098 - c
        h, adj = torch.randn(60, c), _small_graph()[1]
        head(h, adj, torch.randint(0, 60, (2, 30))).sum().backward()
        assert not torch.equal(head.cn_mlp[-1].weight.grad, head.ij_mlp[-1].weight.grad)


def test_ncnc_without_completion_is_ncn_and_gradients_flow():
    _, adj = _small_graph(1)
    torch.manual_seed(0)
    h = torch.randn(60, 8, requires_grad=True)
    pairs = torch.randint(0, 60, (2, 30))
    ncnc = NCNCPredictor(8, alpha=0.0).eval()
    ncn = NCNPredictor(8).eval()
    ncn.load_state_dict(ncnc.state_dict())
    torch.testing.assert_close(ncnc(h, adj, pairs), ncn(h, adj, pairs))
    ncnc.alpha, ncnc.prob_offset = 1.0, 0.0  # completion weights near pt, whatever the untrained logits
    out = ncnc(h, adj, pairs)
    assert not torch.allclose(out, ncn(h, adj, pairs))  # completion adds the probable neighbours
    out.sum().backward()
    assert h.grad is not None and torch.isfinite(h.grad).all()
    for head in (DotPredictor(), MLPPredictor(8, 8, 3)):
        assert head(h, adj, pairs).shape == (30,)
    with graphkit.debug(), pytest.raises(ValueError, match="outside"):
        ncn(h, adj, torch.tensor([[0], [60]]))


def test_sample_rows_and_drop_edges():
    _, adj = _small_graph(2, 100, 900)
    sets = Adj(adj.rowptr, adj.col, None, adj.shape)
    sampled = sample_rows(sets, 3, torch.Generator().manual_seed(0))
    assert int(sampled.in_degree().max()) <= 3
    assert torch.equal(sampled.in_degree(), sets.in_degree().clamp(max=3))
    for p in range(100):  # a subset of each row, still sorted
        row = sampled.col[sampled.rowptr[p]:sampled.rowptr[p + 1]].tolist()
        assert row == sorted(row) and set(row) <= set(sets.col[sets.rowptr[p]:sets.rowptr[p + 1]].tolist())
    assert sample_rows(sets, None) is sets
    with pytest.raises(ValueError, match="max_per_row"):
        sample_rows(sets, -1)
    assert drop_edges(adj, 0.3, training=False) is adj
    dropped = drop_edges(adj, 0.3, training=True)
    assert 0 < dropped.num_edges < adj.num_edges and int(dropped.rowptr[-1]) == dropped.num_edges


def test_train_graph_removes_both_directions_of_a_batch():
    g, _ = _small_graph(3)
    train = torch.tensor(list(g.edges())).t()
    graph = TrainGraph(train, 60)
    batch = torch.tensor([0, 5, 9])
    masked = graph.without(batch)
    assert masked.num_edges == graph.adj.num_edges - 6
    kept = set(zip(masked.col.tolist(), masked.row.tolist()))
    for e in batch.tolist():
        u, v = train[:, e].tolist()
        assert (u, v) not in kept and (v, u) not in kept


# ---------------------------------------------------------------------- trainer
def _community_graph():
    from torch_geometric.data import Data
    g = nx.stochastic_block_model([40, 40, 40], [[0.3, 0.01, 0.01], [0.01, 0.3, 0.01], [0.01, 0.01, 0.3]], seed=4)
    ei = torch.tensor(list(g.edges())).t()
    return Data(edge_index=torch.cat([ei, ei.flip(0)], 1), num_nodes=120, name="sbm")


@pytest.mark.parametrize("predictor", ["mlp", "ncn"])
def test_trainer_learns_communities_and_resumes_from_checkpoints(predictor, tmp_path):
    data = _community_graph()
    config = {"epochs": 15, "hidden_channels": 32, "num_layers": 1, "batch_size": 256, "metric": "hits@20", "lr": 0.01}
    report = LinkPrediction("gcn", predictor, runs=2, config=config, checkpoint_dir=str(tmp_path),
                            progress=False).fit(data)
    assert report.test["auc"]["mean"] > 0.8 and len(report.runs) == 2
    again = LinkPrediction("gcn", predictor, runs=2, config=config, checkpoint_dir=str(tmp_path),
                           progress=False).fit(data)  # finished runs are read back
    assert [r.test for r in again.runs] == [r.test for r in report.runs]
    fresh = LinkPrediction("gcn", predictor, runs=1, config=config, progress=False).fit(data)
    assert fresh.runs[0].test == report.runs[0].test  # same seed, same result


def test_runs_trained_apart_are_assembled_with_their_peak_memory(tmp_path):
    """Seeds trained by separate invocations (``--seed 1 --runs 1``) are read back by a ``runs=2``
    fit, equal to training both in one; the report's peak memory is the highest any run recorded."""
    from graphkit.utils import atomic_save, load_checkpoint
    data = _community_graph()
    config = {"epochs": 4, "hidden_channels": 16, "num_layers": 1, "batch_size": 256, "metric": "hits@20"}
    for seed in (0, 1):
        LinkPrediction("gcn", "dot", runs=1, seed=seed, config=config, checkpoint_dir=str(tmp_path),
                       progress=False).fit(data)
    (path,) = tmp_path.glob("*/seed1.pt")
    saved = load_checkpoint(path)
    assert saved["result"]["peak_rss_mib"] > 0
    saved["result"]["peak_rss_mib"] = 10 ** 7  # as if another, larger process had trained seed 1
    atomic_save(saved, path)
    both = LinkPrediction("gcn", "dot", runs=2, config=config, checkpoint_dir=str(tmp_path), progress=False).fit(data)
    together = LinkPrediction("gcn", "dot", runs=2, config=config, progress=False).fit(data)
    assert [r.test for r in both.runs] == [r.test for r in together.runs]
    assert both.peak_rss_mib == 10 ** 7 and both.to_dict()["peak_rss_mib"] == 10 ** 7
    epochs = sorted(t for r in both.runs for t in r.history["epoch_seconds"])  # both runs' epochs pooled
    assert len(epochs) == 8
    assert both.to_dict()["epoch_seconds_median"] == pytest.approx((epochs[3] + epochs[4]) / 2, abs=1e-4)


def test_runs_reported_apart_as_json_are_assembled_and_checked(tmp_path, monkeypatch, capsys):
    """Seeds trained by separate invocations that share no checkpoint folder (other machines, other
    sessions) join one report through their ``--json`` reports: equal to training all seeds in one
    fit, histories included; reports of another config, model or version, or a seed reported twice,
    are refused by name."""
    import json

    from graphkit.cli.main import main
    from graphkit.tasks import link_prediction as task_module
    from graphkit.train import Engine
    data = _community_graph()
    config = {"epochs": 3, "hidden_channels": 16, "num_layers": 1, "batch_size": 256, "metric": "hits@20"}
    files = []
    for seed in (0, 1):
        report = LinkPrediction("gcn", "dot", runs=1, seed=seed, config=config, progress=False).fit(data)
        files.append(tmp_path / f"seed{seed}.json")
        files[-1].write_text(report.to_json())
    together = LinkPrediction("gcn", "dot", runs=3, config=config, progress=False).fit(data)

    def refuse_training(*args, **kwargs):
        raise AssertionError("a reported seed was trained again")
    assembled = LinkPrediction("gcn", "dot", runs=2, config=config, progress=False, runs_from=files)
    monkeypatch.setattr(Engine, "fit", refuse_training)
    both = assembled.fit(data)
    assert both.to_dict()["runs"] == [json.loads(f.read_text())["runs"][0] for f in files]  # read back whole
    for apart, one_fit in zip(both.runs, together.runs):  # and equal to one fit, but for the timings
        assert (apart.valid, apart.test, apart.best_epoch) == (one_fit.valid, one_fit.test, one_fit.best_epoch)
        assert apart.history["loss"] == one_fit.history["loss"] and len(apart.history["epoch_seconds"]) == 3
    monkeypatch.undo()
    three = LinkPrediction("gcn", "dot", runs=3, config=config, progress=False, runs_from=files).fit(data)
    assert [r.test for r in three.runs] == [r.test for r in together.runs]  # seed 2 trained here

    with pytest.raises(ValueError, match="another config .*epochs"):
        LinkPrediction("gcn", "dot", runs=2, config={**config, "epochs": 4}, progress=False, runs_from=files).fit(data)
    with pytest.raises(ValueError, match="another model: 'gcn', this fit 'sage'"):
        LinkPrediction("sage", "dot", runs=2, config=config, progress=False, runs_from=files).fit(data)
    old = json.loads(files[0].read_text())
    old["model_version"] = task_module.MODEL_VERSION - 1
    with pytest.raises(ValueError, match="another model_version"):
        LinkPrediction("gcn", "dot", config=config, progress=False, runs_from=[old]).fit(data)
    with pytest.raises(ValueError, match="seed 0 is reported twice"):
        LinkPrediction("gcn", "dot", config=config, progress=False, runs_from=[files[0], files[0]]).fit(data)
    with pytest.raises(FileNotFoundError, match="report not found"):
        LinkPrediction("gcn", "dot", config=config, progress=False, runs_from=[tmp_path / "none.json"]).fit(data)

    # the CLI: --runs-from on a real dataset, Cora, whose seed-0 run was trained by an earlier call
    data_root = os.environ.get("GRAPHKIT_DATA")
    if not data_root or not os.path.isdir(os.path.join(data_root, "Cora")):
        return
    args = ["train", "link-prediction", "--dataset", "Cora", "--model", "gcn", "--predictor", "dot", "--epochs", "2",
            "--quiet"]
    assert main(args + ["--json", str(tmp_path / "cora0.json")]) == 0
    assert main(args + ["--runs", "2", "--runs-from", str(tmp_path / "cora0.json"),
                        "--json", str(tmp_path / "cora.json")]) == 0
    first, both = (json.loads((tmp_path / f).read_text()) for f in ("cora0.json", "cora.json"))
    assert both["runs"][0] == first["runs"][0] and [r["seed"] for r in both["runs"]] == [0, 1]


def test_featureless_graph_with_pure_encoder_orthogonal_embedding_and_predictor_lr():
    """NCN's ogbl-ddi set-up on a small featureless graph: learnable orthogonal embeddings, the
    weight-free residual sum encoder, a predictor learning rate of its own."""
    data = _community_graph()  # no x: embeddings
    config = {"epochs": 15, "hidden_channels": 32, "num_layers": 1, "batch_size": 256, "metric": "hits@20", "lr": 0.01,
              "pred_lr": 0.005, "embedding_init": "orthogonal", "input_dropout": 0.1, "dropout": 0.0}
    report = LinkPrediction("puresum", "ncn", config=config, progress=False).fit(data)
    assert report.test["auc"]["mean"] > 0.8
    model = build_link_model("puresum", "ncn", None, 120, {**presets.link_prediction("ncn"), **config})
    w = model.embedding.weight
    torch.testing.assert_close(w.t() @ w, torch.eye(32), atol=1e-5, rtol=0)  # orthonormal columns
    with pytest.raises(ValueError, match="embedding_init"):
        build_link_model("puresum", "ncn", None, 120, {**presets.link_prediction("ncn"), **config,
                                                       "embedding_init": "normal"})


def test_link_split_and_trainer_errors():
    from torch_geometric.data import Data
    with pytest.raises(ValueError, match="no edges"):
        link_split(Data(edge_index=torch.empty(2, 0, dtype=torch.long), num_nodes=5))
    with pytest.raises(ValueError, match="unknown predictor"):
        LinkPrediction("gcn", "cosine").fit(_community_graph())
    with pytest.raises(ValueError, match="unknown hyperparameters"):
        LinkPrediction("gcn", "dot", config={"learning_rate": 1}, progress=False).fit(_community_graph())
    split = link_split(_community_graph(), seed=1)
    assert split.valid.shape[1] == split.valid_neg.shape[1] and not split.official


def test_ncn_on_cora_end_to_end(tmp_path):
    """The paper's Cora protocol (RandomLinkSplit 85/5/10, Hits@100) through the CLI, 12 epochs."""
    from conftest import need_dataset
    need_dataset("Cora")
    from graphkit.cli.main import main
    out = tmp_path / "lp.json"
    assert main(["train", "link-prediction", "--dataset", "cora", "--model", "gcn", "--predictor", "ncn",
                 "--epochs", "12", "--json", str(out), "--quiet"]) == 0
    import json
    report = json.loads(out.read_text())
    # the stored figure: seed 0, 12 epochs, as the trainer before the engine gave it (same maths, same numbers)
    run = report["runs"][0]
    assert run["test"]["hits@100"] == pytest.approx(0.7628083491461101, abs=1e-12) and run["best_epoch"] == 12
    assert run["valid"]["hits@100"] == pytest.approx(0.844106463878327, abs=1e-12) and run["seconds_per_epoch"] > 0


def test_evaluate_link_prediction_cli_errors(tmp_path, capsys):
    from conftest import need_dataset
    need_dataset("Cora")
    from graphkit.cli.main import main
    np.savez(tmp_path / "s.npz", pos=np.zeros(3), neg=np.zeros(4))
    assert main(["evaluate", "link-prediction", "--dataset", "cora", "--scores", str(tmp_path / "s.npz")]) == 2
    assert "no official link split" in capsys.readouterr().err


@pytest.mark.parametrize("every,seconds,saved_epoch", [(3, 60.0, 3), (100, 0.0, 4)])
def test_interrupted_run_resumes_to_the_uninterrupted_result(every, seconds, saved_epoch, tmp_path, monkeypatch):
    """A run killed mid-training resumes from its last checkpoint (written every ``every`` epochs,
    or after any epoch once ``seconds`` have passed since the last write) and ends exactly where an
    uninterrupted run with the same seed ends: the checkpoint carries every generator the run
    draws from (PyG's negative sampling draws from Python's ``random``)."""
    import torch_geometric.utils as pyg_utils
    data = _community_graph()
    config = {"epochs": 6, "hidden_channels": 16, "num_layers": 1, "batch_size": 256, "metric": "hits@20",
              "eval_every": 2}
    reference = LinkPrediction("gcn", "mlp", config=config, progress=False).fit(data).runs[0]

    sample, calls = pyg_utils.negative_sampling, []

    def killed_in_epoch_five(*args, **kwargs):
        calls.append(1)
        if len(calls) == 5:
            raise KeyboardInterrupt
        return sample(*args, **kwargs)

    monkeypatch.setattr(pyg_utils, "negative_sampling", killed_in_epoch_five)
    trainer = LinkPrediction("gcn", "mlp", config=config, checkpoint_dir=str(tmp_path), checkpoint_every=every,
                             checkpoint_seconds=seconds, progress=False)
    with pytest.raises(KeyboardInterrupt):
        trainer.fit(data)
    monkeypatch.setattr(pyg_utils, "negative_sampling", sample)
    (path,) = tmp_path.glob("*/seed0.pt")
    from graphkit.utils import load_checkpoint
    assert load_checkpoint(path)["state"]["epoch"] == saved_epoch  # epoch 5 was interrupted
    resumed = trainer.fit(data).runs[0]
    assert resumed.history["loss"] == reference.history["loss"]
    assert resumed.valid == reference.valid and resumed.test == reference.test


def test_checkpoint_cadence_is_checked():
    from graphkit.train import RunCheckpoint
    with pytest.raises(ValueError, match="checkpoint_every"):
        RunCheckpoint(None, every=0)
    with pytest.raises(ValueError, match="checkpoint_seconds"):
        RunCheckpoint(None, seconds=-1.0)


def test_checkpoint_written_before_the_generator_states_still_resumes(tmp_path):
    """Checkpoints from before the Python/NumPy generator states were saved hold torch's state
    under ``rng``; they resume (torch's generator restored) and the run finishes."""
    from graphkit.utils import atomic_save, load_checkpoint
    data = _community_graph()
    config = {"epochs": 4, "hidden_channels": 16, "num_layers": 1, "batch_size": 256, "metric": "hits@20",
              "eval_every": 1}
    trainer = LinkPrediction("gcn", "dot", config=config, checkpoint_dir=str(tmp_path), checkpoint_every=2,
                             progress=False)
    trainer.fit(data)
    (path,) = tmp_path.glob("*/seed0.pt")
    saved = load_checkpoint(path)
    saved.update(done=False, result=None, rng=saved.pop("generators")["torch"])
    saved["state"]["epoch"] = 2  # as if killed after epoch 2
    saved["state"]["history"] = {k: v[:2] for k, v in saved["state"]["history"].items()}
    atomic_save(saved, path)
    resumed = trainer.fit(data).runs[0]
    assert resumed.epochs == 4 and len(resumed.history["loss"]) == 4
    assert "generators" in load_checkpoint(path)


def test_test_pairs_are_scored_only_at_a_new_best_validation_epoch(monkeypatch):
    """Every evaluation scores the validation pairs; the test pairs are scored only when the
    validation metric improves, and the run reports the test metrics of its best epoch."""
    from graphkit.tasks import LinkPredictionTask
    evaluate, seen = LinkPredictionTask.evaluate, []

    def recording(self, model, loader):
        [batch] = list(loader)
        metrics = evaluate(self, model, [batch])
        seen.append(("valid" if batch.pos.shape[1] == split.valid.shape[1] else "test", metrics))
        return metrics

    split = link_split(_community_graph(), seed=0)
    assert split.valid.shape[1] != split.test.shape[1]
    monkeypatch.setattr(LinkPredictionTask, "evaluate", recording)
    config = {"epochs": 12, "hidden_channels": 16, "num_layers": 1, "batch_size": 256, "metric": "hits@20",
              "eval_every": 1}
    run = LinkPrediction("gcn", "mlp", config=config, progress=False).fit(_community_graph()).runs[0]
    valid = [m["hits@20"] for part, m in seen if part == "valid"]
    assert valid == run.history["valid_hits@20"] and len(valid) == 12
    improvements = [i for i, v in enumerate(valid) if v > max(valid[:i], default=-1.0)]
    parts = [part for part, _ in seen]
    assert len(improvements) < 12  # the metric stalls at least once
    scored_at = [parts[:i].count("valid") - 1 for i, part in enumerate(parts) if part == "test"]
    assert scored_at == improvements  # right after the evaluation that improved
    last_test = [m for part, m in seen if part == "test"][-1]
    assert run.best_epoch == improvements[-1] + 1 and run.test == last_test


def test_generator_states_round_trip_through_a_checkpoint(tmp_path):
    """Python's, NumPy's and torch's generators, saved and loaded as a weights-only checkpoint,
    draw the same numbers again."""
    import random

    import numpy as np

    from graphkit.utils import atomic_save, generator_states, load_checkpoint, set_generator_states
    np.random.standard_normal()  # leaves a cached Gaussian in NumPy's state
    atomic_save(generator_states(), tmp_path / "g.pt")
    first = random.random(), np.random.standard_normal(3).tolist(), torch.rand(3).tolist()
    set_generator_states(load_checkpoint(tmp_path / "g.pt"))
    assert (random.random(), np.random.standard_normal(3).tolist(), torch.rand(3).tolist()) == first


@pytest.mark.parametrize("patience", [0, -1])
def test_patience_zero_trains_every_epoch_and_positive_patience_stops(patience):
    """``patience <= 0`` turns early stopping off (NCN's ogbl-ddi protocol); a patience of one stops
    at the first evaluation without a better validation metric, and both runs agree up to there."""
    config = {"epochs": 12, "hidden_channels": 16, "num_layers": 1, "batch_size": 256, "metric": "hits@20",
              "eval_every": 1}
    full = LinkPrediction("gcn", "mlp", config={**config, "patience": patience}, progress=False).fit(
        _community_graph()).runs[0]
    assert full.epochs == 12 and len(full.history["valid_hits@20"]) == 12
    valid = full.history["valid_hits@20"]
    first_stall = next(i for i in range(1, 12) if valid[i] <= max(valid[:i]))
    short = LinkPrediction("gcn", "mlp", config={**config, "patience": 1}, progress=False).fit(
        _community_graph()).runs[0]
    assert short.epochs == first_stall + 1 and short.history["valid_hits@20"] == valid[:first_stall + 1]
    assert presets.link_prediction("ncn", "ogbl-ddi")["patience"] is None  # the authors train all 100 epochs
