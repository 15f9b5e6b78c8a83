"""Whole models for graph-level prediction: ``model(x, adj, batch[, edge_attr]) -> [B, out]``.

* :class:`GraphGIN`: GIN for graph classification (Xu et al., "How Powerful are Graph Neural
  Networks?", ICLR 2019, eq. 4.2) as Errica et al. build it for their comparison ("A Fair Comparison
  of Graph Neural Networks for Graph Classification", ICLR 2020, ``models/graph_classifiers/GIN.py``):
  an input MLP, ``num_layers`` GIN layers whose MLPs are ``Linear-BN-ReLU-Linear-BN-ReLU``, and a
  readout of every layer (the input MLP's included), ``sum_l Dropout(READOUT(h^(l)) W_l + b_l)``.
* :class:`MolGNN`: OGB's molecule model (Hu et al., "Open Graph Benchmark", NeurIPS 2020,
  ``examples/graphproppred/mol``): OGB's ``AtomEncoder``, ``num_layers`` GINE layers each with
  its own ``BondEncoder`` (eps learnt from 0; ``Linear(C, 2C)-BN-ReLU-Linear(2C, C)``), then
  BatchNorm, ReLU (not after the last layer) and dropout, optionally a :class:`VirtualNode`;
  mean pooling and a linear head. ``gin-virtual`` is this model with the virtual node.
"""
from __future__ import annotations

import math
from typing import Optional

import torch
from torch import Tensor, nn

from .. import ops
from .conv import GINConv, GINEConv
from .conv._checks import positive_int
from .pool import global_add_pool, global_max_pool, global_mean_pool, pool_adj
from .virtual_node import VirtualNode

POOLINGS = {"sum": global_add_pool, "mean": global_mean_pool, "max": global_max_pool}


def _pooling(name: str):
    if name not in POOLINGS:
        raise ValueError(f"unknown pooling {name!r}; expected one of {sorted(POOLINGS)}")
    return POOLINGS[name]


def _dropout(p) -> float:
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0.0 <= p < 1.0:
        raise ValueError(f"dropout must be a float in [0, 1), got {p!r}")
    return float(p)


def _mlp2(in_channels: int, out_channels: int) -> nn.Sequential:
    """``Linear-BN-ReLU-Linear-BN-ReLU`` (Errica et al.'s GIN MLP)."""
    return nn.Sequential(nn.Linear(in_channels, out_channels), nn.BatchNorm1d(out_channels), nn.ReLU(),
                         nn.Linear(out_channels, out_channels), nn.BatchNorm1d(out_channels), nn.ReLU())


def _reset_all(module: nn.Module) -> None:
    for child in module.modules():
        if child is not module and hasattr(child, "reset_parameters"):
            child.reset_parameters()


class GraphGIN(nn.Module):
    """GIN for graph classification (Errica et al.'s architecture).

    Args:
        in_channels: node features ``F``.
        out_channels: classes (logits) or targets.
        hidden_channels: width of every layer.
        num_layers: GIN layers after the input MLP (Errica et al.'s ``hidden_units`` lists: 4 of 64,
            4 of 32, 1 of 64, 2 of 32).
        dropout: dropout on each layer's readout.
        pooling: ``"sum"`` or ``"mean"`` (``"max"`` also works).
        train_eps: learn GIN's ``eps``.

    Two details of the authors' code are not copied: their input layer's readout applies the
    linear map before pooling and its dropout also in evaluation mode; here every readout pools,
    then maps, and dropout follows ``model.train()``/``eval()``.
    """

    def __init__(self, in_channels: int, out_channels: int, hidden_channels: int = 64, num_layers: int = 4,
                 dropout: float = 0.5, pooling: str = "sum", train_eps: bool = False):
        super().__init__()
        in_channels = positive_int(in_channels, "in_channels", "GraphGIN")
        out_channels = positive_int(out_channels, "out_channels", "GraphGIN")
        hidden_channels = positive_int(hidden_channels, "hidden_channels", "GraphGIN")
        num_layers = positive_int(num_layers, "num_layers", "GraphGIN")
        self.dropout, self.pool = _dropout(dropout), _pooling(pooling)
        self.pooling, self.in_channels = pooling, in_channels
        self.first = _mlp2(in_channels, hidden_channels)
        self.convs = nn.ModuleList(GINConv(_mlp2(hidden_channels, hidden_channels), train_eps=train_eps)
                                   for _ in range(num_layers))
        # the readout's linear maps W_l, b_l of every layer l (the input MLP's first), held stacked
        self.head_weight = nn.Parameter(torch.empty(num_layers + 1, hidden_channels, out_channels))  # [L, H, C]
        self.head_bias = nn.Parameter(torch.empty(num_layers + 1, 1, out_channels))                 # [L, 1, C]
        self._reset_heads()

    def _reset_heads(self) -> None:
        bound = 1.0 / math.sqrt(self.head_weight.size(1))  # nn.Linear's default initialisation
        nn.init.uniform_(self.head_weight, -bound, bound)
        nn.init.uniform_(self.head_bias, -bound, bound)

    def reset_parameters(self) -> None:
        _reset_all(self)
        self._reset_heads()

    def forward(self, x: Tensor, adj, batch: Optional[Tensor] = None) -> Tensor:
        """``x`` ``[N, F]``, ``adj`` the batch's block-diagonal graph, ``batch`` ``[N]`` -> ``[B, out]``."""
        if x.dim() != 2 or x.size(1) != self.in_channels:
            raise ValueError(f"GraphGIN expects x of shape [N, {self.in_channels}], got {list(x.shape)}")
        layers = [self.first(x)]
        for conv in self.convs:
            layers.append(conv(layers[-1], adj))
        # one readout of every layer at once (one segment reduction instead of one per layer), and
        # every head at once: [L, B, H] x [L, H, C] in one batched product, one dropout, one sum
        pooled = self.pool(torch.cat(layers, dim=1), batch)
        pooled = pooled.view(pooled.size(0), len(layers), layers[0].size(1)).transpose(0, 1)
        out = ops.dropout(torch.baddbmm(self.head_bias, pooled, self.head_weight), self.dropout, self.training)
        return out.sum(0)


class MolGNN(nn.Module):
    """OGB's GIN / GIN-virtual for molecules (``ogbg-mol*``, Peptides).

    Args:
        in_channels: ``None`` for OGB's integer atom features (``AtomEncoder``, and ``BondEncoder``
            for the 3 integer bond features); else the width of float node features, read by a
            linear map (and ``edge_dim`` that of float edge features).
        out_channels: tasks.
        hidden_channels: the embedding width (OGB's ``emb_dim``, 300).
        num_layers: GINE layers (OGB's ``num_layer``, 5; at least 2).
        dropout: OGB's ``drop_ratio`` (0.5).
        virtual_node: add a :class:`VirtualNode` (GIN-virtual).
        pooling: readout, ``"mean"`` (OGB's default), ``"sum"`` or ``"max"``.
        residual: add each layer's input to its output (and the virtual node's).
        jk: ``"last"`` (OGB's default) or ``"sum"`` of every layer's output, the encoder's included.
        edge_dim: width of float edge features when ``in_channels`` is given (``None``: none).
    """

    def __init__(self, in_channels: Optional[int] = None, out_channels: int = 1, hidden_channels: int = 300,
                 num_layers: int = 5, dropout: float = 0.5, virtual_node: bool = True, pooling: str = "mean",
                 residual: bool = False, jk: str = "last", edge_dim: Optional[int] = None):
        super().__init__()
        out_channels = positive_int(out_channels, "out_channels", "MolGNN")
        width = positive_int(hidden_channels, "hidden_channels", "MolGNN")
        num_layers = positive_int(num_layers, "num_layers", "MolGNN")
        if num_layers < 2:
            raise ValueError(f"MolGNN needs at least 2 layers (as OGB's), got {num_layers}")
        if jk not in ("last", "sum"):
            raise ValueError(f"jk must be 'last' or 'sum', got {jk!r}")
        self.dropout, self.pool = _dropout(dropout), _pooling(pooling)
        self.residual, self.jk, self.in_channels = residual, jk, in_channels
        if in_channels is None:
            from ogb.graphproppred.mol_encoder import AtomEncoder, BondEncoder
            self.encoder = AtomEncoder(width)
            edge_encoders = [BondEncoder(width) for _ in range(num_layers)]
        else:
            self.encoder = nn.Linear(positive_int(in_channels, "in_channels", "MolGNN"), width)
            edge_encoders = ([nn.Linear(positive_int(edge_dim, "edge_dim", "MolGNN"), width)
                              for _ in range(num_layers)] if edge_dim is not None else None)
        self.edge_encoders = None if edge_encoders is None else nn.ModuleList(edge_encoders)
        mlp = lambda: nn.Sequential(nn.Linear(width, 2 * width), nn.BatchNorm1d(2 * width), nn.ReLU(),  # noqa: E731
                                    nn.Linear(2 * width, width))
        self.convs = nn.ModuleList((GINEConv(mlp(), train_eps=True) if edge_encoders is not None
                                    else GINConv(mlp(), train_eps=True)) for _ in range(num_layers))
        self.norms = nn.ModuleList(nn.BatchNorm1d(width) for _ in range(num_layers))
        if virtual_node:
            self.virtual_init = nn.Parameter(torch.zeros(1, width))  # OGB: an Embedding(1, C) set to 0
            self.virtual_nodes = nn.ModuleList(VirtualNode(width, dropout, residual) for _ in range(num_layers - 1))
        else:
            self.virtual_init, self.virtual_nodes = None, None
        self.head = nn.Linear(width, out_channels)

    def reset_parameters(self) -> None:
        for module in self.modules():
            if isinstance(module, nn.Embedding):  # OGB's encoders: xavier, as their constructors do
                nn.init.xavier_uniform_(module.weight)
            elif module is not self and hasattr(module, "reset_parameters"):
                module.reset_parameters()
        if self.virtual_init is not None:
            nn.init.zeros_(self.virtual_init)

    def forward(self, x: Tensor, adj, batch: Optional[Tensor] = None, edge_attr: Optional[Tensor] = None) -> Tensor:
        """``x`` ``[N, 9]`` int atom features (or ``[N, in_channels]``), ``adj``, ``batch`` ``[N]``,
        ``edge_attr`` ``[E, 3]`` int bond features (or ``[E, edge_dim]``) -> ``[B, out]``."""
        if self.in_channels is None and x.is_floating_point():
            raise TypeError("MolGNN with in_channels=None reads OGB's integer atom features (AtomEncoder); "
                            f"got float x {list(x.shape)}: give in_channels for float node features")
        if self.edge_encoders is not None and edge_attr is None:
            raise ValueError("MolGNN was built for edge features (bond features) but got no edge_attr")
        h = self.encoder(x)
        state = None
        if self.virtual_init is not None:  # [B, C], B from the batch's readout segments
            state = self.virtual_init.expand(pool_adj(batch, h.size(0), device=h.device).shape[0], -1)
        layers = [h]
        for i, (conv, norm) in enumerate(zip(self.convs, self.norms)):
            if state is not None:
                h = h + (ops.gather(state, batch) if batch is not None else state)  # its graph's state per node
                layers[-1] = h
            if self.edge_encoders is not None:
                out = conv(h, adj, self.edge_encoders[i](edge_attr))
            else:
                out = conv(h, adj)
            # ReLU (not after the last layer) and dropout in one pass (graphkit's counter-based dropout;
            # torch's draws a Bernoulli tensor first, 1.2 ms on a molhiv batch)
            out = ops.dropout(norm(out), self.dropout, self.training, relu=i < len(self.convs) - 1)
            if self.residual:
                out = out + h
            if state is not None and i < len(self.convs) - 1:
                state = self.virtual_nodes[i](h, batch, state)
            layers.append(out)
            h = out
        node = layers[-1] if self.jk == "last" else torch.stack(layers).sum(0)
        return self.head(self.pool(node, batch))


def _mol(virtual_node: bool):
    def build(in_channels: Optional[int], out_channels: int, **kwargs) -> MolGNN:
        if "virtual_node" in kwargs and kwargs.pop("virtual_node") != virtual_node:
            raise ValueError(f"virtual_node={not virtual_node} contradicts the model's name")
        return MolGNN(in_channels, out_channels, virtual_node=virtual_node, **kwargs)
    return build


GRAPH_MODELS = {"gin": GraphGIN, "gin-ogb": _mol(False), "gin-virtual": _mol(True)}


def build_graph_model(name: str, in_channels: Optional[int], out_channels: int, **hparams) -> nn.Module:
    """A graph-level preset model by name: ``gin`` (:class:`GraphGIN`), ``gin-ogb`` and
    ``gin-virtual`` (:class:`MolGNN`). ``in_channels`` ``None``: OGB's integer atom features
    (:class:`MolGNN` only)."""
    key = name.lower()
    if key not in GRAPH_MODELS:
        raise ValueError(f"unknown graph-level model {name!r}; expected one of {sorted(GRAPH_MODELS)}")
    if key == "gin":
        if in_channels is None:
            raise ValueError("gin (GraphGIN) reads float node features; integer (OGB atom) features need "
                             "gin-ogb or gin-virtual, which embed them")
        return GraphGIN(in_channels, out_channels, **hparams)
    return GRAPH_MODELS[key](in_channels, out_channels, **hparams)
