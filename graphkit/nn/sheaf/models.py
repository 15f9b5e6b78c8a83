"""Neural Sheaf Diffusion models (Bodnar et al., NeurIPS 2022, discrete-time, sec. 5):

    X_{t+1} = (1 + tanh(eps_t)) X_t - act(L_F(t) (I_N ⊗ W1_t) X_t W2_t)

on stalks ``X`` ``[N, D, C]`` (``D`` stalk dimensions of ``C`` channels each), where the
normalised sheaf Laplacian ``L_F(t)`` is rebuilt from the current features by a sheaf learner
(every layer, or once with ``linear=True``). An input MLP maps the features to ``N x (D C)`` and a
linear head reads the flattened stalks. Options, defaults and initialisation are the paper's code:
left weights ``W1`` (``D x D``, identity init), right weights ``W2`` (``C x C``, orthogonal init),
``use_act`` (ELU), input and inner dropout, ``add_lp``/``add_hp`` fixed extra stalk dimensions,
learned edge weights for the bundle model, the ``tanh`` sheaf activation.

:class:`DiagSheaf`, :class:`BundleSheaf` (orthogonal maps) and :class:`GeneralSheaf` are the three
sheaf classes; ``graphkit train node-classification --model nsd-diag|nsd-bundle|nsd-general``.
"""
from __future__ import annotations

from typing import Dict, List, Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ... import ops
from ...adj import check_features, debug, to_adj
from ..functional import input_dropout
from .laplacian import (
    SheafGraph,
    SheafLaplacian,
    bundle_sheaf_laplacian,
    diagonal_sheaf_laplacian,
    fixed_maps,
    general_sheaf_laplacian,
)
from .orthogonal import orthogonal_matrices, orthogonal_param_size

SHEAVES = ("diag", "bundle", "general")
_SHEAF_ACTS = {"tanh": torch.tanh, "elu": F.elu, "id": lambda x: x}


class ConcatSheafLearner(nn.Module):
    """Per edge end ``(i -> j)``: ``act(W [x_i || x_j])`` (the paper's local concatenation learner),
    computed as ``act(x_i W_a + x_j W_b)`` with the two halves applied per node, not per edge."""

    def __init__(self, in_channels: int, out_features: int, act: str = "tanh"):
        super().__init__()
        if act not in _SHEAF_ACTS:
            raise ValueError(f"unknown sheaf activation {act!r}; expected one of {sorted(_SHEAF_ACTS)}")
        self.in_channels, self.act = in_channels, act
        self.lin = nn.Linear(2 * in_channels, out_features, bias=False)

    def forward(self, x: Tensor, graph: SheafGraph) -> Tensor:
        """``x`` ``[N, in_channels]`` -> ``[E, out_features]`` in the graph's CSR order."""
        w_row, w_col = self.lin.weight.split(self.in_channels, dim=1)
        return _SHEAF_ACTS[self.act](ops.gather(x @ w_row.t(), graph.row) + ops.gather(x @ w_col.t(), graph.col))


class EdgeWeightLearner(nn.Module):
    """Symmetric edge weights ``w_ij = s_ij s_ji`` with ``s_ij = sigmoid(W [x_i || x_j])``."""

    def __init__(self, in_channels: int):
        super().__init__()
        self.learner = ConcatSheafLearner(in_channels, 1, act="id")

    def forward(self, x: Tensor, graph: SheafGraph) -> Tensor:
        s = torch.sigmoid(self.learner(x, graph)).squeeze(-1)
        return s * s[graph.reverse]


class SheafDiffusion(nn.Module):
    """Discrete neural sheaf diffusion.

    Args:
        in_channels, out_channels: input features and classes.
        hidden_channels: channels ``C`` per stalk dimension.
        d: learned stalk dimension.
        num_layers: diffusion steps.
        sheaf: ``'diag'``, ``'bundle'`` (orthogonal maps) or ``'general'``.
        dropout, input_dropout: dropout inside the diffusion and on the input features.
        left_weights, right_weights: the ``D x D`` and ``C x C`` weights of every step.
        use_act: ELU after the input layer and in every step.
        add_lp, add_hp: extra stalk dimensions with fixed maps (off-diagonal ``+1`` / ``-1``).
        linear: learn the sheaf once (from the input layer's output) instead of at every step.
        sheaf_act: activation of the sheaf learner (``tanh``, ``elu``, ``id``).
        orth: orthogonal parametrisation of the bundle maps (``householder``, ``matrix_exp``,
            ``cayley``).
        edge_weights: learn edge weights for the bundle model.
        second_linear: a second input linear layer.
        augmented: normalise by ``D + I`` instead of ``D``.
        sheaf_decay: weight decay of the sheaf (and edge-weight) learners in
            :meth:`parameter_groups` (``None``: the optimizer's).

    ``forward(x [N, in_channels], graph) -> [N, out_channels]`` logits. ``graph`` is anything
    :func:`graphkit.to_adj` takes; a directed graph is symmetrised (:class:`SheafGraph`).
    """

    def __init__(self, in_channels: int, out_channels: int, hidden_channels: int = 20, d: int = 2,
                 num_layers: int = 2, sheaf: str = "diag", dropout: float = 0.0, input_dropout: float = 0.0,
                 left_weights: bool = True, right_weights: bool = True, use_act: bool = True, add_lp: bool = False,
                 add_hp: bool = False, linear: bool = False, sheaf_act: str = "tanh", orth: str = "householder",
                 edge_weights: bool = True, second_linear: bool = False, augmented: bool = True,
                 sheaf_decay: Optional[float] = None):
        super().__init__()
        if sheaf not in SHEAVES:
            raise ValueError(f"unknown sheaf {sheaf!r}; expected one of {SHEAVES}")
        if d < 1 or (sheaf != "diag" and d < 2):
            raise ValueError(f"stalk dimension d must be >= {1 if sheaf == 'diag' else 2} for a {sheaf} sheaf, got {d}")
        if num_layers < 1 or hidden_channels < 1:
            raise ValueError("num_layers and hidden_channels must be positive")
        self.sheaf, self.d, self.num_layers, self.channels = sheaf, d, num_layers, hidden_channels
        self.signs = [1.0] * bool(add_lp) + [-1.0] * bool(add_hp)
        self.stalk_dim = d + len(self.signs)
        self.dropout, self.input_dropout, self.use_act, self.linear = dropout, input_dropout, use_act, linear
        self.orth, self.augmented, self.sheaf_decay = orth, augmented, sheaf_decay
        hidden = hidden_channels * self.stalk_dim
        self.lin1 = nn.Linear(in_channels, hidden)
        self.lin12 = nn.Linear(hidden, hidden) if second_linear else None
        self.lin2 = nn.Linear(hidden, out_channels)
        self.left = nn.ModuleList(nn.Linear(self.stalk_dim, self.stalk_dim, bias=False)
                                  for _ in range(num_layers)) if left_weights else None
        self.right = nn.ModuleList(nn.Linear(hidden_channels, hidden_channels, bias=False)
                                   for _ in range(num_layers)) if right_weights else None
        for lin in self.left or []:
            nn.init.eye_(lin.weight)
        for lin in self.right or []:
            nn.init.orthogonal_(lin.weight)
        size = {"diag": d, "bundle": orthogonal_param_size(d, orth), "general": d * d}[sheaf]
        learners = 1 if linear else num_layers
        self.sheaf_learners = nn.ModuleList(ConcatSheafLearner(hidden, size, sheaf_act) for _ in range(learners))
        self.weight_learners = nn.ModuleList(EdgeWeightLearner(hidden) for _ in range(learners)) \
            if sheaf == "bundle" and edge_weights else None
        self.epsilons = nn.Parameter(torch.zeros(num_layers, self.stalk_dim, 1))

    # ------------------------------------------------------------------ graph and Laplacian
    def sheaf_graph(self, graph, num_nodes: int) -> SheafGraph:
        """The :class:`SheafGraph` of ``graph`` (anything :func:`graphkit.to_adj` takes), cached on
        its ``Adj`` with the structure (built once per graph)."""
        adj = to_adj(graph, num_nodes)
        return adj.structure_cached("sheaf_graph", lambda: SheafGraph(adj, num_nodes))

    def fixed_part(self, graph: SheafGraph, like: Tensor) -> Dict[str, Tensor]:
        """The ``add_lp``/``add_hp`` dimensions' blocks (they depend on the graph only)."""
        if not self.signs:
            return {}
        fixed_diag, fixed_off = fixed_maps(graph, self.signs, self.augmented, like.dtype)
        return {"fixed_diag": fixed_diag.to(like.device), "fixed_off": fixed_off.to(like.device)}

    def laplacian(self, x: Tensor, graph: SheafGraph, step: int = 0,
                  fixed: Optional[Dict[str, Tensor]] = None) -> SheafLaplacian:
        """The normalised sheaf Laplacian learned from stalk features ``x`` ``[N, D C]``
        (``fixed``: :meth:`fixed_part`, computed here when not given)."""
        learner = self.sheaf_learners[0 if self.linear else step]
        maps = learner(x, graph)
        fixed = self.fixed_part(graph, x) if fixed is None else fixed
        if self.sheaf == "diag":
            return diagonal_sheaf_laplacian(graph, maps, self.augmented, **fixed)
        if self.sheaf == "bundle":
            weight = (None if self.weight_learners is None
                      else self.weight_learners[0 if self.linear else step](x, graph))
            maps = orthogonal_matrices(maps, self.d, self.orth)
            return bundle_sheaf_laplacian(graph, maps, weight, self.augmented, **fixed)
        jitter = None
        if self.training:  # distinct eigenvalues keep the eigendecomposition's gradient finite
            jitter = torch.empty(self.d, dtype=x.dtype, device=x.device).uniform_(-1e-3, 1e-3)
        return general_sheaf_laplacian(graph, maps.view(-1, self.d, self.d), self.augmented, jitter, **fixed)

    # ------------------------------------------------------------------ forward
    def forward(self, x: Tensor, graph) -> Tensor:
        """``x`` ``[N, in_channels]`` -> ``[N, out_channels]`` logits."""
        check_features(x, finite=debug.enabled())
        n = x.shape[0]
        sg = self.sheaf_graph(graph, n)
        x = self.lin1(input_dropout(x, self.input_dropout, self.training, sparse_ok=True))
        if self.use_act:
            x = F.elu(x)
        x = ops.dropout(x, self.dropout, self.training)
        if self.lin12 is not None:
            x = self.lin12(x)
        x = x.view(n, self.stalk_dim, self.channels)
        state, lap, fixed = x, None, self.fixed_part(sg, x)
        for step in range(self.num_layers):
            if step == 0 or not self.linear:
                features = ops.dropout(x, self.dropout if step > 0 else 0.0, self.training)
                lap = self.laplacian(features.reshape(n, -1), sg, step, fixed)
            x = ops.dropout(x, self.dropout, self.training)
            if self.left is not None:  # W1 mixes the stalk dimensions
                x = torch.einsum("ab,nbc->nac", self.left[step].weight, x)
            if self.right is not None:  # W2 mixes the channels
                x = self.right[step](x)
            x = lap @ x
            if self.use_act:
                x = F.elu(x)
            state = (1 + torch.tanh(self.epsilons[step])) * state - x
            x = state
        return self.lin2(x.reshape(n, -1))

    def parameter_groups(self, weight_decay: float) -> List[dict]:
        """The optimizer's parameter groups: the sheaf (and edge-weight) learners with
        ``sheaf_decay`` (``weight_decay`` when ``None``), everything else with ``weight_decay``, as
        the paper."""
        sheaf_decay = self.sheaf_decay
        learned = list(self.sheaf_learners.parameters())
        if self.weight_learners is not None:
            learned += list(self.weight_learners.parameters())
        ids = set(map(id, learned))
        return [{"params": learned, "weight_decay": weight_decay if sheaf_decay is None else sheaf_decay},
                {"params": [p for p in self.parameters() if id(p) not in ids], "weight_decay": weight_decay}]


class DiagSheaf(SheafDiffusion):
    """Diagonal restriction maps (``nsd-diag``)."""

    def __init__(self, in_channels: int, out_channels: int, **kwargs):
        super().__init__(in_channels, out_channels, sheaf="diag", **kwargs)


class BundleSheaf(SheafDiffusion):
    """Orthogonal restriction maps, O(d) (``nsd-bundle``)."""

    def __init__(self, in_channels: int, out_channels: int, **kwargs):
        super().__init__(in_channels, out_channels, sheaf="bundle", **kwargs)


class GeneralSheaf(SheafDiffusion):
    """General ``d x d`` restriction maps (``nsd-general``)."""

    def __init__(self, in_channels: int, out_channels: int, **kwargs):
        super().__init__(in_channels, out_channels, sheaf="general", **kwargs)
