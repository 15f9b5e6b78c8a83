"""Link predictors: score node pairs from node representations ``h`` ``[N, d]``.

Every head has ``forward(h, adj, pairs) -> [P]`` logits, where ``adj`` is the graph the encoder
saw (an undirected :class:`graphkit.Adj`, both directions stored) and ``pairs`` is ``[2, P]``.

- :class:`DotPredictor`: ``<h_i, h_j>`` (the graph auto-encoder's decoder, Kipf & Welling 2016).
- :class:`MLPPredictor`: an MLP on ``h_i * h_j`` (OGB's example predictor).
- :class:`NCNPredictor`: Neural Common Neighbour (Wang et al., ICLR 2024, eq. 5):
  ``MLP(h_i * h_j  ||  sum_{u in N(i) & N(j)} h_u)``, the two parts mixed as in the authors' code
  (``lin(cn_mlp(sum) * beta + ij_mlp(h_i * h_j))``).
- :class:`NCNCPredictor`: NCN with Common-Neighbour Completion (eq. 7): neighbours of one end
  that are not (yet) neighbours of the other count with the probability NCN gives that missing
  edge, ``sum_{u in N(i) - N(j)} P(j, u) h_u + sum_{u in N(j) - N(i)} P(i, u) h_u`` added to the
  common-neighbour sum.

The neighbour sets come from :func:`graphkit.ops.neighbor_sets` (a sparse pair x node matrix),
and the sums are :func:`graphkit.ops.spmm` on it: no dense ``N x N``, no ``[P, N]``.
"""
from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor, nn

from ... import ops
from ...adj import Adj, debug
from ...transforms import drop_edges, sample_rows


def _norm(width: int, layer_norm: bool) -> nn.Module:
    return nn.LayerNorm(width) if layer_norm else nn.Identity()


class ReLUDropout(nn.Module):
    """``dropout(relu(x))`` (the same as ``relu(dropout(x))``) as one graphkit op: one pass over
    memory forward and backward, no stored mask (:func:`graphkit.ops.dropout`)."""

    def __init__(self, p: float = 0.0):
        super().__init__()
        self.p = p

    def forward(self, x: Tensor) -> Tensor:
        return ops.dropout(x, self.p, self.training, relu=True)

    def extra_repr(self) -> str:
        return f"p={self.p}"


def _check_pairs(h: Tensor, pairs: Tensor) -> None:
    """The shape always; the ids' range (a host synchronisation) in :func:`graphkit.debug` mode
    only: outside it the ops' kernels reject ids out of range themselves."""
    if pairs.dim() != 2 or pairs.shape[0] != 2:
        raise ValueError(f"pairs must be [2, P], got shape {list(pairs.shape)}")
    if debug.enabled() and pairs.numel() and (int(pairs.min()) < 0 or int(pairs.max()) >= h.shape[0]):
        raise ValueError(f"pairs contain node ids outside [0, {h.shape[0]})")


class DotPredictor(nn.Module):
    """``<h_i, h_j>``."""

    def forward(self, h: Tensor, adj: Optional[Adj], pairs: Tensor) -> Tensor:
        _check_pairs(h, pairs)
        return ops.pair_product(h, pairs[0], pairs[1]).sum(-1)


class MLPPredictor(nn.Module):
    """An MLP on ``h_i * h_j``: ``num_layers`` linear layers, ReLU and dropout between them."""

    def __init__(self, in_channels: int, hidden_channels: int, num_layers: int = 3, dropout: float = 0.0):
        super().__init__()
        if num_layers < 1:
            raise ValueError(f"num_layers must be at least 1, got {num_layers}")
        widths = [in_channels] + [hidden_channels] * (num_layers - 1) + [1]
        self.lins = nn.ModuleList(nn.Linear(a, b) for a, b in zip(widths[:-1], widths[1:]))
        self.dropout = dropout

    def forward(self, h: Tensor, adj: Optional[Adj], pairs: Tensor) -> Tensor:
        _check_pairs(h, pairs)
        x = ops.pair_product(h, pairs[0], pairs[1])
        for lin in self.lins[:-1]:
            x = ops.dropout(lin(x), self.dropout, self.training, relu=True)
        return self.lins[-1](x).squeeze(-1)


class NCNPredictor(nn.Module):
    """Neural Common Neighbour.

    Args:
        channels: width of ``h`` and of the hidden layers.
        dropout: dropout inside the MLPs.
        edge_dropout: share of the graph's entries dropped (while training) before the common
            neighbours are taken.
        layer_norm: LayerNorm in the MLPs.
        use_xlin: refine ``h`` by a residual two-layer MLP before summing neighbours.
        tail_act: end the two branch MLPs with their activation (no last linear layer).
        two_layer_lin: two hidden layers in the final MLP instead of one.
        beta: initial weight of the common-neighbour branch (learnt).
    """

    def __init__(self, channels: int, dropout: float = 0.0, edge_dropout: float = 0.0, layer_norm: bool = True,
                 use_xlin: bool = False, tail_act: bool = False, two_layer_lin: bool = False, beta: float = 1.0):
        super().__init__()
        c = channels
        self.edge_dropout = edge_dropout
        self.beta = nn.Parameter(torch.tensor([float(beta)]))
        self.xlin = nn.Sequential(nn.Linear(c, c), ReLUDropout(dropout), nn.Linear(c, c),
                                  _norm(c, layer_norm), ReLUDropout(dropout)) if use_xlin else None
        def tail() -> nn.Module:  # each branch its own last layer: the two never share weights
            return nn.Identity() if tail_act else nn.Linear(c, c)

        self.cn_mlp = nn.Sequential(nn.Linear(c, c), ReLUDropout(dropout), nn.Linear(c, c),
                                    _norm(c, layer_norm), ReLUDropout(dropout), tail())
        self.ij_mlp = nn.Sequential(nn.Linear(c, c), _norm(c, layer_norm), ReLUDropout(dropout), tail())
        second = [nn.Linear(c, c), _norm(c, layer_norm), ReLUDropout(dropout)] if two_layer_lin else []
        self.lin = nn.Sequential(nn.Linear(c, c), _norm(c, layer_norm), ReLUDropout(dropout), *second,
                                 nn.Linear(c, 1))

    def node_features(self, h: Tensor) -> Tensor:
        """The representations whose sums over neighbour sets enter the common-neighbour branch."""
        return h if self.xlin is None else h + self.xlin(h)

    def combine(self, h: Tensor, pairs: Tensor, cn_sum: Tensor) -> Tensor:
        return self.lin(self.cn_mlp(cn_sum) * self.beta
                        + self.ij_mlp(ops.pair_product(h, pairs[0], pairs[1]))).squeeze(-1)

    def forward(self, h: Tensor, adj: Adj, pairs: Tensor) -> Tensor:
        _check_pairs(h, pairs)
        adj = drop_edges(adj, self.edge_dropout, self.training)
        common = ops.neighbor_sets(adj, pairs[0], pairs[1], "common")
        return self.combine(h, pairs, ops.spmm(common, self.node_features(h)))


class NCNCPredictor(NCNPredictor):
    """NCN with common-neighbour completion (one completion step).

    Extra args (the authors' names in brackets):
        alpha: scale of the completion probabilities.
        prob_scale, prob_offset (probscale, proboffset): ``p0 = sigmoid(scale * (logit - offset))``
            of NCN's logit for the missing edge.
        pt: prior of the completion, ``P = alpha * pt * p0 / (pt * p0 + 1 - p0)``.
        train_degree, test_degree (trndeg, tstdeg): one-sided neighbours sampled per pair
            while training / evaluating (``None``: all).
        chunk: pairs scored per NCN call inside the completion (bounds memory).
    """

    def __init__(self, channels: int, alpha: float = 1.0, prob_scale: float = 5.0, prob_offset: float = 3.0,
                 pt: float = 0.5, train_degree: Optional[int] = None, test_degree: Optional[int] = None,
                 chunk: int = 262144, **kwargs):
        super().__init__(channels, **kwargs)
        self.alpha, self.prob_scale, self.prob_offset, self.pt = alpha, prob_scale, prob_offset, pt
        self.train_degree, self.test_degree, self.chunk = train_degree, test_degree, chunk

    def completion_probability(self, logits: Tensor) -> Tensor:
        p0 = torch.sigmoid(self.prob_scale * (logits - self.prob_offset))
        return self.alpha * self.pt * p0 / (self.pt * p0 + 1 - p0)

    def _ncn_logits(self, h: Tensor, adj: Adj, pairs: Tensor) -> Tensor:
        out = [NCNPredictor.forward(self, h, adj, pairs[:, s:s + self.chunk])
               for s in range(0, pairs.shape[1], self.chunk)]
        return torch.cat(out) if out else h.new_zeros(0)

    def forward(self, h: Tensor, adj: Adj, pairs: Tensor) -> Tensor:
        _check_pairs(h, pairs)
        adj = drop_edges(adj, self.edge_dropout, self.training)
        x = self.node_features(h)
        cn_sum = ops.spmm(ops.neighbor_sets(adj, pairs[0], pairs[1], "common"), x)
        degree = self.train_degree if self.training else self.test_degree
        for which, other_end in (("first_only", pairs[1]), ("second_only", pairs[0])):
            one_sided = sample_rows(ops.neighbor_sets(adj, pairs[0], pairs[1], which), degree)
            # candidate u of pair p: is (other end of p, u) an edge? NCN's estimate, no gradient
            candidates = torch.stack([other_end[one_sided.row], one_sided.col])
            with torch.no_grad():
                prob = self.completion_probability(self._ncn_logits(h, adj, candidates))
            cn_sum = cn_sum + ops.spmm(one_sided.with_value(prob.to(x.dtype)), x)
        return self.combine(h, pairs, cn_sum)
