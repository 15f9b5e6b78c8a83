"""The DeepWalk / node2vec evaluation protocol for node embeddings (Perozzi et al., KDD 2014,
section 6.1; Grover & Leskovec, KDD 2016): shuffle the nodes, train one-vs-rest logistic
regression on the first ``ratio`` of them, predict for every test node as many labels as it has
(its top-k scores), and report Micro- and Macro-F1, mean and std over the shuffles.

The one-vs-rest problems are separable, so the default solver fits all of them at once: one
L-BFGS run on the ``[F, L]`` weight matrix of the objective ``C * sum(log-loss) + ||w||^2 / 2``.
It reaches the same optimum as scikit-learn's one-vs-rest logistic regression in a fraction of
the time (``solver="sklearn"`` runs scikit-learn, on ``n_jobs`` cores, for comparison).

Two details decide whether published figures reproduce:

- ``intercept="penalized"`` (default) regularises the intercept like a weight on a constant
  feature. That is liblinear, the solver behind ``LogisticRegression()`` before scikit-learn 0.22,
  which the DeepWalk, node2vec and FastRP scoring scripts ran. ``"free"`` leaves it out of the
  penalty (the lbfgs solver of scikit-learn >= 0.22). The penalised intercept pulls the label
  priors together, which raises Macro-F1 at small C.
- ``standardize=True`` centres and scales every embedding column (mean and std of the training
  rows) before the fit. The FastRP authors' code ends with ``sklearn.preprocessing.scale``, and
  their BlogCatalog figures are with ``C = 0.1`` on that standardised embedding.
"""
from __future__ import annotations

import math
import numbers
from typing import Dict, Optional, Sequence

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.metrics import f1_score


def label_matrix(labels) -> np.ndarray:
    """``[N]`` class ids or ``[N, L]`` 0/1 indicators (numpy, torch or scipy) -> ``[N, L]`` bool."""
    if sp.issparse(labels):
        labels = labels.toarray()
    y = labels.numpy() if isinstance(labels, torch.Tensor) else np.asarray(labels)
    if y.ndim == 1:
        if y.size and (not np.issubdtype(y.dtype, np.integer) or y.min() < 0):
            raise ValueError("1-D labels must be non-negative class ids")
        out = np.zeros((y.shape[0], int(y.max()) + 1 if y.size else 0), dtype=bool)
        out[np.arange(y.shape[0]), y] = True
        return out
    if y.ndim != 2:
        raise ValueError(f"labels must be [N] class ids or an [N, L] indicator matrix, got shape {y.shape}")
    if not np.isin(y, (0, 1)).all():
        raise ValueError("an [N, L] label matrix must hold only 0 and 1")
    return y.astype(bool)


INTERCEPTS = ("penalized", "free")


def _check_C(C) -> None:
    if isinstance(C, bool) or not isinstance(C, numbers.Real) or not math.isfinite(C) or C <= 0:
        raise ValueError(f"C (the inverse regularisation strength) must be a positive finite number, got {C!r}")


def fit_one_vs_rest(x: np.ndarray, y: np.ndarray, C: float = 1.0, intercept: str = "penalized",
                    max_iter: int = 300, tol: float = 1e-8) -> tuple:
    """Fit every column of ``y`` ``[n, L]`` against ``x`` ``[n, F]`` by L2-regularised logistic
    regression in one L-BFGS run: ``C * sum(log-loss) + ||w||^2 / 2``, with the intercept ``b``
    inside the penalty (``intercept="penalized"``, liblinear's objective) or outside it
    (``"free"``, lbfgs's objective).

    The run is preconditioned by the objective's Hessian bound at zero,
    ``G = C/4 [x 1]^T [x 1] + diag(1, .., 1, r)`` (``G = L L^T``, ``r`` 1 for a penalised intercept,
    else 0): it optimises ``v = L^T [w; b]``,
    where the problem is close to isotropic, so L-BFGS needs tens of steps instead of thousands.
    The optimum is the same. Returns ``(W [F, L], b [L])``.
    """
    if intercept not in INTERCEPTS:
        raise ValueError(f"intercept must be one of {INTERCEPTS}, got {intercept!r}")
    _check_C(C)
    xa = torch.from_numpy(np.hstack([np.asarray(x, dtype=np.float64), np.ones((x.shape[0], 1))]))
    n, f1 = xa.shape
    reg = torch.ones(f1, dtype=torch.float64)
    reg[-1] = 1.0 if intercept == "penalized" else 0.0
    gram = (C / 4.0) * (xa.T @ xa) + torch.diag(reg) + 1e-10 * torch.eye(f1, dtype=torch.float64)
    chol = torch.linalg.cholesky(gram)
    inv_t = torch.linalg.solve_triangular(chol.T, torch.eye(f1, dtype=torch.float64), upper=True)  # L^-T
    z = xa @ inv_t                                  # margins are z @ v
    penalty = inv_t.T @ torch.diag(reg) @ inv_t     # ||w||^2 = v^T Q v
    signs = torch.from_numpy(np.where(y, 1.0, -1.0))
    v = torch.zeros(f1, y.shape[1], dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([v], lr=1, max_iter=max_iter, tolerance_grad=tol, tolerance_change=1e-14,
                            history_size=20, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        margins = signs * (z @ v)
        loss = (C * torch.nn.functional.softplus(-margins).sum() + 0.5 * (v * (penalty @ v)).sum()) / n
        loss.backward()
        return loss

    opt.step(closure)
    wb = (inv_t @ v.detach()).numpy()
    return wb[:-1], wb[-1]


def _scores(x_train, y_train, x_test, C: float, intercept: str, solver: str,
            n_jobs: Optional[int]) -> np.ndarray:
    if solver == "torch":
        w, b = fit_one_vs_rest(x_train, y_train, C, intercept)
        return x_test @ w + b
    from sklearn.linear_model import LogisticRegression
    from sklearn.multiclass import OneVsRestClassifier
    lr = (LogisticRegression(C=C, solver="liblinear", tol=1e-6, max_iter=1000) if intercept == "penalized"
          else LogisticRegression(C=C, max_iter=1000))
    clf = OneVsRestClassifier(lr, n_jobs=n_jobs)
    clf.fit(x_train, y_train.astype(int))
    return clf.decision_function(x_test)


def top_k_predictions(scores: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """For each row, the ``counts[i]`` labels of highest score as a ``[n, L]`` bool matrix."""
    order = np.argsort(-scores, axis=1, kind="stable")
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.arange(scores.shape[1])[None, :].repeat(scores.shape[0], 0), axis=1)
    return rank < counts[:, None]


def node_classification_f1(embedding, labels, train_ratios: Sequence[float] = (0.1, 0.5, 0.9),
                           repeats: int = 5, seed: int = 0, C: float = 1.0, intercept: str = "penalized",
                           standardize: bool = False, solver: str = "torch", n_jobs: Optional[int] = None,
                           progress: bool = False) -> Dict:
    """Micro- and Macro-F1 of one-vs-rest logistic regression on the embedding, per training ratio.

    Args:
        embedding: ``[N, d]`` (numpy or torch).
        labels: ``[N]`` class ids or ``[N, L]`` 0/1 indicators (multi-label); nodes without any
            label are left out.
        train_ratios: fractions of the labelled nodes used for training.
        repeats: shuffles per ratio (the same shuffles for every ratio).
        seed: seed of the shuffles.
        C: inverse regularisation strength (scikit-learn's ``C``; 1 in DeepWalk and node2vec, 0.1
            in the FastRP authors' BlogCatalog runs).
        intercept: ``"penalized"`` (liblinear, the historical protocol) or ``"free"``.
        standardize: centre and scale each embedding column by the training rows' mean and std.
        solver: ``"torch"`` (all labels in one L-BFGS run) or ``"sklearn"`` (``OneVsRestClassifier``
            of liblinear or lbfgs ``LogisticRegression``, as ``intercept`` says).
        n_jobs: cores for the ``"sklearn"`` solver.

    Returns:
        ``{"train_ratios": [...], "repeats": r, "results": [{"train_ratio", "micro_f1": {"mean", "std",
        "values"}, "macro_f1": {...}}, ...]}``.
    """
    x = embedding.detach().cpu().numpy() if isinstance(embedding, torch.Tensor) else np.asarray(embedding)
    y = label_matrix(labels)
    if x.ndim != 2 or x.shape[0] != y.shape[0]:
        raise ValueError(f"embedding must be [N, d] with one row per labelled node: got {x.shape} for "
                         f"{y.shape[0]} nodes")
    if not np.isfinite(x).all():
        raise ValueError("the embedding contains NaN or infinite values")
    if intercept not in INTERCEPTS:
        raise ValueError(f"intercept must be one of {INTERCEPTS}, got {intercept!r}")
    if solver not in ("torch", "sklearn"):
        raise ValueError(f"solver must be 'torch' or 'sklearn', got {solver!r}")
    _check_C(C)
    if isinstance(repeats, bool) or not isinstance(repeats, numbers.Integral) or repeats < 1:
        raise ValueError(f"repeats must be an integer >= 1, got {repeats!r}")
    train_ratios = list(train_ratios) if not np.isscalar(train_ratios) else [train_ratios]
    if not train_ratios:
        raise ValueError("train_ratios is empty")
    for ratio in train_ratios:
        if isinstance(ratio, bool) or not isinstance(ratio, numbers.Real) or not 0 < ratio < 1:
            raise ValueError(f"train ratios must lie in (0, 1), got {ratio!r}")
    keep = y.any(1)
    x, y = x[keep], y[keep]
    n = x.shape[0]
    for ratio in train_ratios:
        if not 0 < ratio < 1 or int(ratio * n) < 1 or int(ratio * n) >= n:
            raise ValueError(f"train ratio {ratio} leaves no training or no test node among {n}")
    rng = np.random.default_rng(seed)
    shuffles = [rng.permutation(n) for _ in range(repeats)]
    from tqdm.auto import tqdm
    bar = tqdm(total=len(train_ratios) * repeats, desc="evaluate", unit="fit", disable=not progress)
    results = []
    for ratio in train_ratios:
        micro, macro = [], []
        for perm in shuffles:
            cut = int(ratio * n)
            train, test = perm[:cut], perm[cut:]
            x_train, x_test = x[train], x[test]
            if standardize:
                mean, std = x_train.mean(0), x_train.std(0)
                std[std == 0] = 1.0
                x_train, x_test = (x_train - mean) / std, (x_test - mean) / std
            scores = _scores(x_train, y[train], x_test, C, intercept, solver, n_jobs)
            pred = top_k_predictions(scores, y[test].sum(1))
            micro.append(float(f1_score(y[test], pred, average="micro", zero_division=0)))
            macro.append(float(f1_score(y[test], pred, average="macro", zero_division=0)))
            bar.update()
        results.append({"train_ratio": float(ratio),
                        "micro_f1": {"mean": float(np.mean(micro)), "std": float(np.std(micro)), "values": micro},
                        "macro_f1": {"mean": float(np.mean(macro)), "std": float(np.std(macro)), "values": macro}})
    bar.close()
    return {"train_ratios": [float(r) for r in train_ratios], "repeats": repeats, "C": C, "intercept": intercept,
            "standardize": standardize, "solver": solver, "results": results}
