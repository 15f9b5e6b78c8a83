"""node2vec: Grover & Leskovec, "node2vec: Scalable Feature Learning for Networks", KDD 2016.

Second-order p/q-biased random walks from graphkit's own ``random_walk`` op (rejection
sampling, no alias tables: memory O(E); parallel over start nodes; a function of the seed), then
skip-gram with negative sampling over the walks (Mikolov et al., NIPS 2013), trained by gensim's
``Word2Vec`` (the default: faster and more accurate here) or by graphkit's own ``sgns_train`` op
(the native kernel: word2vec.c's algorithm on the walk tensor itself, Hogwild threads).
"""
from __future__ import annotations

import numbers
import os
from typing import Optional

import numpy as np
import torch
from sklearn.base import BaseEstimator
from torch import Tensor

from .. import ops
from .graph import walk_graph


class Node2Vec(BaseEstimator):
    """node2vec embeddings with the scikit-learn estimator contract (``get_params``,
    ``set_params`` and ``sklearn.base.clone`` work; parameters are checked by :meth:`fit`).

    Args:
        dim: embedding size.
        walk_length: nodes per walk (the start node included), 80 in the paper; at least 2.
        walks_per_node: walks started from every node (10 in the paper), one round per walk.
        p: return parameter; q: in-out parameter (``p = q = 1``: DeepWalk's uniform walks); both
            finite and within ``[0.01, 100]`` (:data:`graphkit.ops.WALK_BIAS_BOUNDS`), which keeps
            the rejection sampling of the walks fast and covers the paper's ``{0.25, 0.5, 1, 2, 4}``.
        window: skip-gram context size (10 in the paper).
        negative: negative samples per positive pair.
        epochs: passes of skip-gram over the walks.
        seed: seeds the walks (identical walks for the same seed) and the skip-gram initialisation.
        workers: training threads (default ``None``: torch's intra-op thread count; ``-1``: all
            cores; else an integer >= 1). With more than one
            worker the skip-gram updates are asynchronous (Hogwild), so embeddings vary slightly
            between runs even with the same seed; ``workers=1`` makes them reproducible.
        trainer: ``"auto"`` (gensim when installed, else graphkit's own), ``"gensim"`` or
            ``"native"`` (:func:`graphkit.ops.sgns_train`: the native kernel, or its pure-torch
            reference under ``GRAPHKIT_KERNELS=reference``). Both use word2vec's defaults:
            learning rate 0.025 decaying to 0.0001, subsampling threshold 1e-3, unigram^0.75
            negatives. On BlogCatalog gensim trained
            faster (30.5 s against 33.9 s, 2 threads) and to a higher Macro-F1 (0.238 against
            0.230), hence the default (``benchmarks/bench_embeddings.py``).
        progress: progress bars for the walks.

    Attributes (after :meth:`fit`):
        embedding_: ``[N, dim]`` float32 numpy array (row ``i`` = node ``i``; nodes that no walk
            visits, which cannot happen since every node starts walks, would be zero).
        walk_seconds_, train_seconds_: time of the two stages; trainer_: the skip-gram trainer used.
    """

    def __init__(self, dim: int = 128, walk_length: int = 80, walks_per_node: int = 10, p: float = 1.0,
                 q: float = 1.0, window: int = 10, negative: int = 5, epochs: int = 1, seed: int = 0,
                 workers: Optional[int] = None, trainer: str = "auto", progress: bool = False):
        self.dim = dim
        self.walk_length = walk_length
        self.walks_per_node = walks_per_node
        self.p = p
        self.q = q
        self.window = window
        self.negative = negative
        self.epochs = epochs
        self.seed = seed
        self.workers = workers
        self.trainer = trainer
        self.progress = progress

    def _check_params(self) -> None:
        """Every parameter: a ``ValueError`` names the first one out of range or of the wrong type
        (a ``TypeError`` for a ``p``/``q`` that is no number); called by :meth:`fit` and :meth:`walks`,
        never by ``__init__`` (scikit-learn's contract)."""
        minimum = {"dim": 1, "walk_length": 2, "walks_per_node": 1, "window": 1, "epochs": 1, "negative": 0}
        for name, low in minimum.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
                why = " (a walk of one node has no context pairs to train on)" if name == "walk_length" else ""
                raise ValueError(f"{name} must be an integer >= {low}{why}, got {value!r}")
        workers = self.workers
        if workers is not None and (isinstance(workers, bool) or not isinstance(workers, numbers.Integral)
                                    or not (workers >= 1 or workers == -1)):
            raise ValueError(f"workers must be None (torch's thread count), -1 (all cores) or an integer >= 1, "
                             f"got {workers!r}")
        if self.trainer not in ("auto", "native", "gensim"):
            raise ValueError(f"trainer must be 'auto', 'native' or 'gensim', got {self.trainer!r}")
        ops._check_walk_bias(self.p, "p")  # finite, within ops.WALK_BIAS_BOUNDS: p = inf never finishes
        ops._check_walk_bias(self.q, "q")

    def walks(self, graph, num_nodes: Optional[int] = None) -> Tensor:
        """The walks ``[walks_per_node * N, walk_length]`` int64: round ``r`` starts one walk from
        every node, in a seeded random order (so training does not see a node's walks together)."""
        self._check_params()
        return self._walks(walk_graph(graph, num_nodes))

    def _walks(self, adj) -> Tensor:
        n = adj.shape[0]
        if n == 0:
            raise ValueError("the graph has no nodes")
        gen = torch.Generator().manual_seed(int(self.seed))
        starts = torch.cat([torch.randperm(n, generator=gen) for _ in range(self.walks_per_node)])
        from tqdm.auto import tqdm
        out = torch.empty(starts.numel(), self.walk_length, dtype=torch.long)
        chunk = max(1, n)
        for r in tqdm(range(self.walks_per_node), desc="walks", unit="round", disable=not self.progress):
            part = starts[r * chunk:(r + 1) * chunk]
            out[r * chunk:(r + 1) * chunk] = ops.random_walk(adj, part, self.walk_length - 1, self.p, self.q,
                                                             seed=int(self.seed) * 1_000_003 + r)
        return out

    def fit(self, graph, num_nodes: Optional[int] = None) -> "Node2Vec":
        """Walk ``graph`` (scipy sparse, ``edge_index``, PyG ``Data``, networkx or Adj) and train."""
        import time
        self._check_params()
        start = time.perf_counter()
        adj = walk_graph(graph, num_nodes)
        walks = self._walks(adj)
        self.walk_seconds_ = time.perf_counter() - start
        n = adj.shape[0]
        start = time.perf_counter()
        self.embedding_ = self._skip_gram(walks, n)
        self.train_seconds_ = time.perf_counter() - start
        return self

    def _skip_gram(self, walks: Tensor, n: int) -> np.ndarray:
        workers = (os.cpu_count() or 1) if self.workers == -1 else self.workers
        workers = workers or torch.get_num_threads() or os.cpu_count() or 1
        trainer = self.trainer
        if trainer == "auto":
            trainer = "gensim" if _gensim_installed() else "native"
        self.trainer_ = trainer
        if trainer == "native":
            before = torch.get_num_threads()
            torch.set_num_threads(workers)
            try:
                vectors = ops.sgns_train(walks, n, self.dim, self.window, self.negative, self.epochs,
                                         0.025, 0.0001, 1e-3, int(self.seed))
            finally:
                torch.set_num_threads(before)
            return vectors.numpy()
        from gensim.models import Word2Vec
        names = np.array([str(i) for i in range(n)], dtype=object)
        sentences = names[walks.numpy()].tolist()  # gensim's vocabulary takes string tokens
        model = Word2Vec(sentences, vector_size=self.dim, window=self.window, min_count=0, sg=1, hs=0,
                         negative=self.negative, workers=workers, epochs=self.epochs, seed=int(self.seed))
        out = np.zeros((n, self.dim), dtype=np.float32)
        keys = np.array([int(k) for k in model.wv.index_to_key])
        out[keys] = model.wv.vectors
        return out

    def transform(self, graph=None) -> np.ndarray:
        if not hasattr(self, "embedding_"):
            raise RuntimeError("Node2Vec is not fitted yet: call fit(graph) first")
        return self.embedding_

    def fit_transform(self, graph, num_nodes: Optional[int] = None) -> np.ndarray:
        return self.fit(graph, num_nodes).embedding_


def _gensim_installed() -> bool:
    import importlib.util
    return importlib.util.find_spec("gensim") is not None
