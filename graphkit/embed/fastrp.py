"""FastRP: Chen, Sultan, Tian, Chen & Skiena, "Fast and Accurate Network Embeddings via Very
Sparse Random Projection", CIKM 2019 (Algorithm 1).

With ``A`` the adjacency matrix, ``M = D^-1 A`` (the transition matrix, or ``A`` itself), ``R`` an
``N x d`` very sparse random projection and ``L = diag(deg^beta)``::

    N_k = M^k L R                      for k = 1 .. q
    embedding = sum_k  w_k * normalize_rows(N_k)

The powers go through graphkit's ``spmm`` in blocks of columns (the columns of a product are
independent), so the work is multi-threaded and the memory stays near two ``N x d`` blocks.
"""
from __future__ import annotations

import math
import numbers
from typing import List, Optional, Sequence, Union

import numpy as np
import torch
from sklearn.base import BaseEstimator
from torch import Tensor

from .. import ops
from ..adj import Adj
from ..utils import parse_bytes
from .graph import out_neighbour_rows

# Columns per block: the unit of random-number generation and of each spmm call, so that the
# embedding does not depend on the memory mode.
BLOCK = 64
def _block_seed(seed: int, block: int) -> int:
    return (seed * 0x9E3779B97F4A7C15 + block * 0xBF58476D1CE4E5B9 + 1) % (2 ** 63)


def sparse_projection_block(num_rows: int, cols: int, density: float, scale: float,
                            generator: torch.Generator, dtype: torch.dtype) -> Tensor:
    """``[num_rows, cols]`` with each entry ``+scale`` or ``-scale`` with probability ``density / 2``
    each, else 0 (Achlioptas / Li et al.'s very sparse projection). The nonzero positions come from
    geometric gaps of a Bernoulli(density) process, so the cost is O(nonzeros)."""
    total = num_rows * cols
    out = torch.zeros(total, dtype=dtype)
    if density >= 1.0:
        positions = torch.arange(total)
    else:
        found: List[Tensor] = []
        last = -1
        expected = total * density
        while last < total - 1:
            draw = int(expected * 1.02 + 6 * math.sqrt(expected) + 64)
            gaps = torch.empty(draw, dtype=torch.float64).geometric_(density, generator=generator).long()
            pos = last + torch.cumsum(gaps, 0)
            found.append(pos[pos < total])
            last = int(pos[-1])
        positions = torch.cat(found)
    signs = torch.randint(0, 2, (positions.numel(),), generator=generator, dtype=torch.int8)
    out[positions] = (signs.to(dtype) * 2 - 1) * scale
    return out.view(num_rows, cols)


class FastRP(BaseEstimator):
    """Fast Random Projection node embeddings with the scikit-learn estimator contract
    (``get_params``, ``set_params`` and ``sklearn.base.clone`` work; parameters are checked by
    :meth:`fit`).

    Args:
        dim: embedding size ``d``.
        weights: ``w_1 .. w_q``, the weight of each power ``M^k`` (the paper's ``alpha_k``); the
            number of weights is the number of powers. The paper's BlogCatalog setting is
            ``(1, 1, 7.81, 45.28)``.
        normalization_strength: ``beta``, the exponent of the degree re-weighting ``L = D^beta``
            (the paper uses negative values, e.g. -0.628, to damp high-degree nodes).
        projection: ``"sparse"`` (very sparse, entries ``+-sqrt(s/d)``) or ``"gaussian"``
            (``N(0, 1/d)``).
        density: nonzero fraction ``1/s`` of the sparse projection: ``"auto"`` is ``1/sqrt(N)``
            (the paper's choice, as scikit-learn's SparseRandomProjection), or a number such as 1/3.
        input_matrix: ``"transition"`` (``M = D^-1 A``) or ``"adjacency"`` (``M = A``).
        normalize_powers: L2-normalise the rows of each power before the weighted sum (the paper).
        self_influence: weight of the initial (power 0) vectors ``L R``, as Neo4j GDS's
            ``nodeSelfInfluence``; 0 in the paper.
        property_dim: with node features given to :meth:`fit`, the last ``property_dim``
            dimensions of the initial vectors are a sparse random projection of the features
            instead of random (as Neo4j GDS's ``propertyDimension``).
        memory_budget: bytes (or ``"2GiB"``) the dense ``N x d`` work may take. Within it the powers
            are kept in one result block plus one working block; below that the columns are processed
            block by block in two passes (row norms first), which takes twice the products.
        seed: the projection is a function of the seed (identical embeddings for the same seed).
        dtype: ``torch.float32`` (default) or ``torch.float64``.
        progress: show a progress bar.

    Attributes (after :meth:`fit`):
        embedding_: ``[N, d]`` numpy array.
        density_: the density used.
        two_pass_: whether the memory budget forced the two-pass mode.

    The product is ``A @ X``: node ``u`` averages its out-neighbours (rows of ``A``), as in the paper.
    Nodes without out-edges get a zero row (their degree re-weighting is 0 too).
    """

    def __init__(self, dim: int = 128, weights: Sequence[float] = (0.0, 1.0, 1.0),
                 normalization_strength: float = 0.0, projection: str = "sparse",
                 density: Union[str, float] = "auto", input_matrix: str = "transition",
                 normalize_powers: bool = True, self_influence: float = 0.0, property_dim: int = 0,
                 memory_budget: Optional[Union[int, str]] = None, seed: int = 0,
                 dtype: torch.dtype = torch.float32, progress: bool = False):
        self.dim = dim
        self.weights = weights
        self.normalization_strength = normalization_strength
        self.projection = projection
        self.density = density
        self.input_matrix = input_matrix
        self.normalize_powers = normalize_powers
        self.self_influence = self_influence
        self.property_dim = property_dim
        self.memory_budget = memory_budget
        self.seed = seed
        self.dtype = dtype
        self.progress = progress

    # ------------------------------------------------------------------ scikit-learn contract
    def fit(self, graph, features=None, num_nodes: Optional[int] = None) -> "FastRP":
        """Compute the embedding of every node of ``graph``.

        Args:
            graph: scipy sparse ``A``, ``edge_index`` ``[2, E]``, PyG ``Data`` (its ``x`` is not used
                unless passed as ``features``), networkx graph or :class:`graphkit.Adj`.
            features: optional ``[N, F]`` node features (needs ``property_dim > 0``).
            num_nodes: node count for an ``edge_index`` (default ``max id + 1``).
        """
        self._check_params()
        adj = out_neighbour_rows(graph, num_nodes)
        n = adj.shape[0]
        if n == 0:
            raise ValueError("the graph has no nodes")
        x = self._check_features(features, n)
        self.density_ = 1.0 / math.sqrt(n) if self.density == "auto" else float(self.density)
        self.embedding_ = self._embed(adj, x).numpy()
        return self

    def transform(self, graph=None) -> np.ndarray:
        """The fitted embedding ``[N, d]`` (FastRP is transductive: ``graph`` must be the fitted one
        or omitted)."""
        if not hasattr(self, "embedding_"):
            raise RuntimeError("FastRP is not fitted yet: call fit(graph) first")
        return self.embedding_

    def fit_transform(self, graph, features=None, num_nodes: Optional[int] = None) -> np.ndarray:
        return self.fit(graph, features, num_nodes).embedding_

    # ------------------------------------------------------------------ checks
    def _check_params(self) -> None:
        if not isinstance(self.dim, int) or self.dim < 1:
            raise ValueError(f"dim must be a positive integer, got {self.dim!r}")
        try:
            weights = [float(w) for w in self.weights]
        except (TypeError, ValueError):
            weights = None
        if not weights or not all(math.isfinite(w) for w in weights):
            raise ValueError(f"weights must be a non-empty list of finite numbers, got {self.weights!r}")
        for name in ("normalization_strength", "self_influence"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
                raise ValueError(f"{name} must be a finite number, got {value!r}")
        if self.projection not in ("sparse", "gaussian"):
            raise ValueError(f"projection must be 'sparse' or 'gaussian', got {self.projection!r}")
        if self.input_matrix not in ("transition", "adjacency"):
            raise ValueError(f"input_matrix must be 'transition' or 'adjacency', got {self.input_matrix!r}")
        if self.density != "auto" and not (isinstance(self.density, (int, float)) and 0 < self.density <= 1):
            raise ValueError(f"density must be 'auto' or a number in (0, 1], got {self.density!r}")
        if self.dtype not in (torch.float32, torch.float64):
            raise ValueError(f"dtype must be torch.float32 or torch.float64, got {self.dtype}")
        if isinstance(self.property_dim, bool) or not isinstance(self.property_dim, numbers.Integral) \
                or not 0 <= self.property_dim <= self.dim:
            raise ValueError(f"property_dim must lie in [0, dim], got {self.property_dim}")

    def _check_features(self, features, n: int) -> Optional[Tensor]:
        if features is None:
            if self.property_dim:
                raise ValueError("property_dim > 0 needs node features: fit(graph, features=X)")
            return None
        if not self.property_dim:
            raise ValueError("features were given but property_dim is 0: set property_dim to use them")
        x = torch.as_tensor(np.asarray(features.todense() if hasattr(features, "todense") else features))
        if x.dim() != 2 or x.shape[0] != n:
            raise ValueError(f"features must be [N, F] with N = {n}, got shape {list(x.shape)}")
        if not x.is_floating_point():
            x = x.to(self.dtype)
        if not bool(torch.isfinite(x).all()):
            raise ValueError("features contain NaN or infinite values")
        return x.to(self.dtype)

    # ------------------------------------------------------------------ the algorithm
    def initial_vectors(self, graph, features=None, num_nodes: Optional[int] = None) -> Tensor:
        """The power-0 vectors ``L R`` ``[N, d]`` the embedding of this seed starts from (for
        inspection and tests; :meth:`fit` makes them block by block)."""
        self._check_params()
        adj = out_neighbour_rows(graph, num_nodes)
        x = self._check_features(features, adj.shape[0])
        self.density_ = 1.0 / math.sqrt(adj.shape[0]) if self.density == "auto" else float(self.density)
        _, reweight, blocks, projection_x = self._prepare(adj, x)
        return torch.cat([self._initial_block(cols, b, adj.shape[0], reweight, x, projection_x)
                          for b, cols in enumerate(blocks)], dim=1)

    def _prepare(self, adj: Adj, x: Optional[Tensor]):
        """The step ``X -> M X`` (see :class:`_Step`), the degree re-weighting ``deg^beta`` ``[N]``
        (0 for nodes without out-edges), the column blocks and the feature projection."""
        n, dtype = adj.shape[0], self.dtype
        if adj.value is None:
            degree = adj.rowptr.diff().to(torch.float64)
        else:  # weighted out-degrees, through the same kernel (no [E] row index needed)
            degree = ops.spmm(adj, torch.ones(n, 1, dtype=torch.float64), "sum",
                              weight=adj.value.to(torch.float64)).view(n)
        positive = degree > 0
        matrix = adj.with_value(None if adj.value is None else adj.value.to(dtype))
        row_scale = None
        if self.input_matrix == "transition":  # D^-1 A as A then a row scaling: no [E] weights for 0/1 graphs
            row_scale = torch.zeros(n, 1, dtype=torch.float64)
            row_scale[positive, 0] = 1.0 / degree[positive]
            row_scale = row_scale.to(dtype)
        reweight = torch.zeros(n, dtype=torch.float64)
        reweight[positive] = degree[positive].pow(float(self.normalization_strength))
        blocks = [(c0, min(c0 + BLOCK, self.dim)) for c0 in range(0, self.dim, BLOCK)]
        projection_x = self._feature_projection(x) if x is not None else None
        return _Step(matrix, row_scale), reweight.to(dtype), blocks, projection_x

    def _embed(self, adj: Adj, x: Optional[Tensor]) -> Tensor:
        n, d, dtype = adj.shape[0], self.dim, self.dtype
        step, reweight, blocks, projection_x = self._prepare(adj, x)

        def initial(b: int) -> Tensor:
            return self._initial_block(blocks[b], b, n, reweight, x, projection_x)

        weights = [float(self.self_influence)] + [float(w) for w in self.weights]  # power 0 .. q
        itemsize = torch.empty(0, dtype=dtype).element_size()
        one_pass = 2 * n * d * itemsize + 2 * n * BLOCK * itemsize
        budget = None if self.memory_budget is None else parse_bytes(self.memory_budget)
        self.two_pass_ = budget is not None and one_pass > budget
        if self.two_pass_ and n * d * itemsize + 3 * n * BLOCK * itemsize > budget:
            raise ValueError(f"memory_budget {budget:,} bytes is below what FastRP needs for {n:,} nodes x {d} "
                             f"dimensions: the result alone is {n * d * itemsize:,} bytes (plus "
                             f"{3 * n * BLOCK * itemsize:,} of working blocks)")
        from tqdm.auto import tqdm
        steps = len(blocks) * (len(weights) - 1) * (2 if self.two_pass_ else 1)
        bar = tqdm(total=steps, desc="FastRP", unit="block", disable=not self.progress)
        with torch.no_grad():
            out = torch.zeros(n, d, dtype=dtype)
            if self.two_pass_:
                self._two_pass(step, blocks, initial, weights, out, bar)
            else:
                self._one_pass(step, blocks, initial, weights, out, bar)
        bar.close()
        return out

    def _initial_block(self, cols, b: int, n: int, reweight: Tensor, x: Optional[Tensor],
                       projection_x: Optional[Tensor]) -> Tensor:
        """Columns ``cols = (c0, c1)`` of the initial vectors ``L R``: ``[N, c1 - c0]``, drawn from
        block ``b``'s own random stream (so any column block can be made on its own)."""
        (c0, c1), d, dtype = cols, self.dim, self.dtype
        gen = torch.Generator().manual_seed(_block_seed(int(self.seed), b))
        if self.projection == "sparse":
            scale = math.sqrt(1.0 / self.density_) / math.sqrt(d)
            r = sparse_projection_block(n, c1 - c0, self.density_, scale, gen, dtype)
        else:
            r = torch.randn(n, c1 - c0, generator=gen, dtype=dtype) / math.sqrt(d)
        first_property = d - self.property_dim
        if projection_x is not None and c1 > first_property:
            lo = max(c0, first_property)
            r[:, lo - c0:] = x @ projection_x[:, lo - first_property:c1 - first_property]
        return r.mul_(reweight.unsqueeze(1))

    def _feature_projection(self, x: Tensor) -> Tensor:
        """``[F, property_dim]`` very sparse projection of the features (density ``1/sqrt(F)``)."""
        f = x.shape[1]
        density = 1.0 / math.sqrt(max(f, 1))
        gen = torch.Generator().manual_seed(_block_seed(int(self.seed), -1))
        return sparse_projection_block(f, self.property_dim, density,
                                       math.sqrt(1.0 / density) / math.sqrt(self.property_dim), gen, self.dtype)

    def _scales(self, squared_norms: Tensor, weight: float) -> Tensor:
        if not self.normalize_powers:
            return torch.full_like(squared_norms, weight)
        return weight / squared_norms.sqrt().clamp(min=1e-12)

    def _one_pass(self, step: "_Step", blocks, initial, weights: List[float], out: Tensor, bar) -> None:
        current = [initial(b) for b in range(len(blocks))]
        squared = torch.empty(out.shape[0], dtype=out.dtype)
        for k, weight in enumerate(weights):
            if k > 0:
                for b in range(len(blocks)):
                    current[b] = step(current[b])
                    bar.update()
            if weight == 0.0:
                continue
            squared.zero_()
            for block in current:
                squared += _row_squares(block)
            scale = self._scales(squared, weight).unsqueeze(1)
            for (c0, c1), block in zip(blocks, current):
                out[:, c0:c1].addcmul_(block, scale)

    def _two_pass(self, step: "_Step", blocks, initial, weights: List[float], out: Tensor, bar) -> None:
        n = out.shape[0]
        squared = torch.zeros(len(weights), n, dtype=out.dtype)
        for b in range(len(blocks)):  # pass 1: the row norms of every power
            block = initial(b)
            squared[0] += _row_squares(block)
            for k in range(1, len(weights)):
                block = step(block)
                squared[k] += _row_squares(block)
                bar.update()
        scales = [self._scales(squared[k], w).unsqueeze(1) for k, w in enumerate(weights)]
        for b, (c0, c1) in enumerate(blocks):  # pass 2: the same products, now weighted into the result
            block = initial(b)
            for k, weight in enumerate(weights):
                if k > 0:
                    block = step(block)
                    bar.update()
                if weight != 0.0:
                    out[:, c0:c1].addcmul_(block, scales[k])


def _row_squares(block: Tensor) -> Tensor:
    """``[N]`` squared L2 norm of each row of ``block`` ``[N, c]``, without an ``[N, c]`` temporary."""
    return torch.linalg.vector_norm(block, 2, dim=1).square_()


class _Step:
    """``X -> M X`` for ``M = A`` (``row_scale`` None) or ``M = D^-1 A`` (``row_scale = 1/deg``
    ``[N, 1]``): graphkit's spmm with the graph's own weights, then the rows scaled in place."""

    def __init__(self, matrix: Adj, row_scale: Optional[Tensor]):
        self.matrix, self.row_scale = matrix, row_scale

    def __call__(self, x: Tensor) -> Tensor:
        y = ops.spmm(self.matrix, x, "sum", weight=self.matrix.value)
        return y if self.row_scale is None else y.mul_(self.row_scale)
