"""Link prediction: heuristics against networkx, metrics against OGB's Evaluator and
scikit-learn, predictor heads and the trainer."""
from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
import torch

from graphkit import Adj
from graphkit.evaluate import link_prediction
from graphkit.tasks.link_prediction import adamic_adar, common_neighbors, resource_allocation


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
