"""Link-prediction metrics on scores made anywhere: Hits@K and MRR as OGB defines them, AUC and
average precision from scikit-learn.

``pos`` ``[P]`` are the scores of true edges. ``neg`` is either ``[Q]`` negatives shared by all
positives (Planetoid, ogbl-ddi, ogbl-collab, ogbl-ppa) or ``[P, K]`` negatives per positive
(ogbl-citation2, HeaRT). For an ``ogbl-*`` dataset name, that dataset's official metric comes from
OGB's own ``Evaluator``.

- ``hits@K`` (shared negatives): the fraction of positives scored strictly above the K-th highest
  negative (1 when there are fewer than K negatives); with per-positive negatives, the fraction
  ranked within the top K of their own list.
- ``mrr``: mean of ``1 / rank`` of each positive among its negatives, ties counted half (OGB's
  rule); with shared negatives every positive is ranked against all of them.
- ``auc``, ``ap``: scikit-learn's ``roc_auc_score`` and ``average_precision_score`` over the
  positives and all negatives.
"""
from __future__ import annotations

import re
from typing import Dict, Optional, Sequence

import numpy as np
import torch
from torch import Tensor

DEFAULT_METRICS = ("hits@20", "hits@50", "hits@100", "mrr", "auc", "ap")


def _as_scores(scores, name: str) -> Tensor:
    t = torch.as_tensor(np.asarray(scores) if not isinstance(scores, Tensor) else scores.detach())
    if not t.is_floating_point():
        t = t.double()
    if t.numel() == 0:
        raise ValueError(f"{name} is empty")
    if not bool(torch.isfinite(t).all()):
        raise ValueError(f"{name} contains NaN or infinite scores")
    return t.cpu().double()


def _check(pos: Tensor, neg: Tensor) -> None:
    if pos.dim() != 1:
        raise ValueError(f"positive scores must be 1-D [P], got shape {list(pos.shape)}")
    if neg.dim() == 2 and neg.shape[0] != pos.shape[0]:
        raise ValueError(f"per-positive negative scores must be [P, K] with P = {pos.shape[0]}, got "
                         f"{list(neg.shape)}")
    if neg.dim() not in (1, 2):
        raise ValueError(f"negative scores must be [Q] (shared) or [P, K] (per positive), got {list(neg.shape)}")


def hits_at_k(pos: Tensor, neg: Tensor, k: int) -> float:
    if neg.dim() == 1:
        if neg.numel() < k:
            return 1.0
        kth = torch.topk(neg, k).values[-1]
        return float((pos > kth).double().mean())
    return float((_ranks(pos, neg) <= k).double().mean())


def _ranks(pos: Tensor, neg: Tensor) -> Tensor:
    """OGB's rank of each positive: 1 + negatives above it + half the ties."""
    if neg.dim() == 2:
        above = (neg > pos[:, None]).sum(1).double()
        ties = (neg == pos[:, None]).sum(1).double()
    else:
        ordered = torch.sort(neg).values
        above = (neg.numel() - torch.searchsorted(ordered, pos, right=True)).double()
        ties = (torch.searchsorted(ordered, pos, right=True) - torch.searchsorted(ordered, pos)).double()
    return 1.0 + above + 0.5 * ties


def mrr(pos: Tensor, neg: Tensor) -> float:
    return float((1.0 / _ranks(pos, neg)).mean())


def link_prediction(pos, neg, metrics: Sequence[str] = DEFAULT_METRICS,
                    dataset: Optional[str] = None) -> Dict[str, float]:
    """Score positives against negatives.

    Args:
        pos: ``[P]`` scores of true edges (numpy or torch).
        neg: ``[Q]`` shared negative scores or ``[P, K]`` per-positive ones.
        metrics: names among ``hits@K`` (any K), ``mrr``, ``auc``, ``ap``.
        dataset: an ``ogbl-*`` name adds its official metric as computed by ``ogb``'s Evaluator
            (key ``"ogb:<metric>"``).

    Returns:
        ``{metric: value}`` with values in ``[0, 1]``.
    """
    pos, neg = _as_scores(pos, "positive scores"), _as_scores(neg, "negative scores")
    _check(pos, neg)
    out: Dict[str, float] = {}
    for metric in metrics:
        name = metric.lower()
        match = re.fullmatch(r"hits@(\d+)", name)
        if match:
            k = int(match.group(1))
            if k < 1:
                raise ValueError(f"hits@K needs K >= 1, got {metric!r}")
            out[name] = hits_at_k(pos, neg, k)
        elif name == "mrr":
            out[name] = mrr(pos, neg)
        elif name in ("auc", "ap"):
            from sklearn.metrics import average_precision_score, roc_auc_score
            scores = torch.cat([pos, neg.reshape(-1)]).numpy()
            truth = np.concatenate([np.ones(pos.numel()), np.zeros(neg.numel())])
            out[name] = float((roc_auc_score if name == "auc" else average_precision_score)(truth, scores))
        else:
            raise ValueError(f"unknown link-prediction metric {metric!r}: use hits@K, mrr, auc or ap")
    if dataset is not None and dataset.startswith("ogbl-"):
        out.update(ogb_metric(pos, neg, dataset))
    return out


def ogb_metric(pos: Tensor, neg: Tensor, dataset: str) -> Dict[str, float]:
    """The dataset's official metric from OGB's ``Evaluator`` (``{"ogb:hits@20": value}`` for
    ogbl-ddi, ``"ogb:mrr"`` for ogbl-citation2, ...)."""
    from ogb.linkproppred import Evaluator
    evaluator = Evaluator(name=dataset)
    metric = evaluator.eval_metric
    if metric == "mrr":
        if neg.dim() != 2:
            raise ValueError(f"{dataset}'s official MRR needs [P, K] negatives per positive")
        result = evaluator.eval({"y_pred_pos": pos, "y_pred_neg": neg})
        return {"ogb:mrr": float(result["mrr_list"].mean())}
    if neg.dim() != 1:
        raise ValueError(f"{dataset}'s official {metric} needs [Q] shared negatives")
    result = evaluator.eval({"y_pred_pos": pos, "y_pred_neg": neg})
    return {f"ogb:{metric}": float(result[metric])}
