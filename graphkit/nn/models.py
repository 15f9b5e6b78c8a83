"""Whole models built from the conv blocks: GCN, GraphSAGE, GAT, GIN and a graph-free MLP.

All share :class:`BasicGNN`'s layout, the one of Kipf & Welling and Velickovic et al.:
for every layer ``dropout -> conv -> (norm -> activation -> residual)``, the last layer
without the bracket; with jumping knowledge (Xu et al., ICML 2018) every layer is hidden and
a linear head reads their ``'cat'``/``'max'``/``'last'`` combination.
"""
from __future__ import annotations

from typing import Callable, Dict, List, Optional, Type

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .. import ops
from ..adj import Adj, check_features, debug, to_adj
from .conv import GATConv, GCNConv, GINConv, SAGEConv
from .functional import input_dropout
from .message_passing import MessagePassing
from .sheaf import BundleSheaf, DiagSheaf, GeneralSheaf

_ACTIVATIONS: Dict[str, Callable[[Tensor], Tensor]] = {
    "relu": F.relu, "elu": F.elu, "gelu": F.gelu, "leaky_relu": F.leaky_relu, "tanh": torch.tanh,
    "identity": lambda x: x,
}
_NORMS: Dict[str, Type[nn.Module]] = {"batch": nn.BatchNorm1d, "layer": nn.LayerNorm}
_JK = (None, "last", "cat", "max")


def _decay_groups(model: nn.Module, layers: nn.ModuleList, decay_layers: Optional[int],
                  weight_decay: float) -> List[dict]:
    """One group of every parameter (the optimizer's weight decay), or the first ``decay_layers``
    layers with ``weight_decay`` and the rest with none."""
    if decay_layers is None:
        return [{"params": list(model.parameters())}]
    decayed = [p for layer in layers[:decay_layers] for p in layer.parameters()]
    ids = set(map(id, decayed))
    return [{"params": decayed, "weight_decay": weight_decay},
            {"params": [p for p in model.parameters() if id(p) not in ids], "weight_decay": 0.0}]


def _activation(name: str) -> Callable[[Tensor], Tensor]:
    if name not in _ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; expected one of {sorted(_ACTIVATIONS)}")
    return _ACTIVATIONS[name]


class BasicGNN(nn.Module):
    """A stack of ``num_layers`` graph convolutions.

    Args:
        in_channels: input features ``F_in``.
        hidden_channels: width of the hidden layers.
        num_layers: number of convolutions (>= 1).
        out_channels: output width (classes); defaults to ``hidden_channels``.
        dropout: dropout before every layer (the input layer included, as in both papers).
        input_dropout: dropout before the first layer instead of ``dropout`` (``0.0``: none, as
            OGB's link-prediction examples on learnable embeddings).
        act: activation of the hidden layers (``'relu'``, ``'elu'``, ...).
        norm: ``None``, ``'batch'`` or ``'layer'`` after each hidden conv.
        residual: add the layer's input to its output where the widths match.
        jk: jumping knowledge mode, ``None``/``'last'``/``'cat'``/``'max'``.
        decay_layers: weight decay applies to the first ``decay_layers`` convolutions only
            (``1``: Kipf & Welling's GCN); ``None``: to every parameter.

    ``forward(x [N, F_in], graph) -> [N, out_channels]`` where ``graph`` is an ``edge_index``,
    an :class:`graphkit.Adj` or anything :func:`graphkit.to_adj` takes.
    """

    def __init__(self, in_channels: int, hidden_channels: int, num_layers: int,
                 out_channels: Optional[int] = None, dropout: float = 0.0, act: str = "relu",
                 norm: Optional[str] = None, residual: bool = False, jk: Optional[str] = None,
                 input_dropout: Optional[float] = None, decay_layers: Optional[int] = None, **conv_kwargs):
        super().__init__()
        if num_layers < 1:
            raise ValueError(f"num_layers must be at least 1, got {num_layers}")
        if norm is not None and norm not in _NORMS:
            raise ValueError(f"unknown norm {norm!r}; expected one of {sorted(_NORMS)} or None")
        if jk not in _JK:
            raise ValueError(f"unknown jk mode {jk!r}; expected one of {_JK}")
        self.in_channels, self.hidden_channels, self.num_layers = in_channels, hidden_channels, num_layers
        self.out_channels = hidden_channels if out_channels is None else out_channels
        self.dropout, self.act_name, self.residual, self.jk = dropout, act, residual, jk
        self.input_dropout = dropout if input_dropout is None else input_dropout
        self.decay_layers = decay_layers
        self.act = _activation(act)
        last_is_conv = jk is None
        self.convs = nn.ModuleList()
        width = in_channels
        for i in range(num_layers):
            final = i == num_layers - 1 and last_is_conv
            self.convs.append(self.make_conv(width, self.out_channels if final else hidden_channels,
                                             final=final, **conv_kwargs))
            width = hidden_channels if not final else self.out_channels
        num_norms = num_layers - 1 if last_is_conv else num_layers
        self.norms = nn.ModuleList(_NORMS[norm](hidden_channels) for _ in range(num_norms)) if norm else None
        self.head = None
        if jk is not None:
            jk_width = hidden_channels * num_layers if jk == "cat" else hidden_channels
            self.head = nn.Linear(jk_width, self.out_channels)

    def make_conv(self, in_channels: int, out_channels: int, final: bool, **kwargs) -> nn.Module:
        raise NotImplementedError

    def parameter_groups(self, weight_decay: float) -> List[dict]:
        """The optimizer's parameter groups (see ``decay_layers``)."""
        return _decay_groups(self, self.convs, self.decay_layers, weight_decay)

    def reset_parameters(self) -> None:
        for module in self.modules():
            if module is not self and hasattr(module, "reset_parameters"):
                module.reset_parameters()

    def forward(self, x: Tensor, graph) -> Tensor:
        """``x`` ``[N, F_in]`` -> ``[N, out_channels]``; the first conv gets ``x`` as a sparse CSR
        matrix (mostly-zero constant features) when it ``supports_sparse_input`` and
        ``projects_first``.

        ``graph`` may also be a sampled batch's blocks (:class:`graphkit.loader.NeighborLoader`:
        one :class:`~graphkit.Adj` ``(N_dst_l, N_src_l)`` per layer, input layer first, ``x``
        ``[N_src_0, F_in]``): layer ``l`` maps its sources' rows to its targets' (the first
        ``N_dst_l`` rows), and the output is ``[N_dst_last, out_channels]``, one row per seed.
        """
        blocks = isinstance(graph, (list, tuple))
        if blocks:
            self._check_blocks(graph, x)
        else:
            graph = to_adj(graph, x.size(0))
            check_features(x, graph.shape[1], finite=debug.enabled())
        hidden: List[Tensor] = []
        for i in range(self.num_layers):
            x = self.layer(i, x, graph[i] if blocks else graph, block=blocks)
            if self.jk is not None:
                hidden.append(x)
        return x if self.jk is None else self.readout([h[:x.size(0)] for h in hidden])

    def layer(self, i: int, x: Tensor, adj, block: bool = False) -> Tensor:
        """Layer ``i`` with what follows its convolution (norm, activation, residual): ``x``
        ``[N, F]`` -> ``[N, F']`` over a graph ``adj``, or ``x`` ``[N_src, F]`` -> ``[N_dst, F']``
        over a ``block`` ``adj`` (whose targets are the first ``N_dst`` rows of ``x``)."""
        conv = self.convs[i]
        p = self.input_dropout if i == 0 else self.dropout
        if block:  # (sources, targets)
            h = ops.dropout(x, p, self.training) if p > 0 else x
            h = conv((h, h[:adj.shape[0]]), adj)
            x = x[:adj.shape[0]]
        else:
            sparse_ok = (i == 0 and isinstance(conv, MessagePassing) and conv.supports_sparse_input
                         and conv.projects_first)
            h = conv(input_dropout(x, p, self.training, sparse_ok), adj)
        if i < len(self.convs) - 1 or self.jk is not None:
            if self.norms is not None:
                h = self.norms[i](h)
            h = self.act(h)
            if self.residual and h.shape == x.shape:
                h = h + x
        return h

    def readout(self, hidden: List[Tensor]) -> Tensor:
        """Jumping knowledge: the head over the layers' outputs combined."""
        if self.jk == "last":
            x = hidden[-1]
        elif self.jk == "cat":
            x = torch.cat(hidden, dim=-1)
        else:
            x = torch.stack(hidden, dim=0).amax(dim=0)
        return self.head(F.dropout(x, p=self.dropout, training=self.training))

    def _check_blocks(self, blocks, x: Tensor) -> None:
        if len(blocks) != self.num_layers:
            raise ValueError(f"{type(self).__name__} has {self.num_layers} layers but the batch holds "
                             f"{len(blocks)} blocks (sample as many hops as the model has layers)")
        for i, (conv, block) in enumerate(zip(self.convs, blocks)):
            if not isinstance(block, Adj):
                raise TypeError(f"block {i} must be an Adj, got {type(block).__name__}")
            if not getattr(conv, "supports_bipartite", False):
                raise TypeError(f"{type(conv).__name__} does not take sampled blocks (supports_bipartite is False)")
            if i and block.shape[1] != blocks[i - 1].shape[0]:
                raise ValueError(f"block {i} reads {block.shape[1]} sources but block {i - 1} gives "
                                 f"{blocks[i - 1].shape[0]} targets: the blocks do not chain")
        check_features(x, blocks[0].shape[1], finite=debug.enabled())

    @torch.no_grad()
    def inference(self, x: Tensor, graph, batch_size: int = 4096, progress: bool = False) -> Tensor:
        """The outputs of every node, ``[N, out_channels]``, layer by layer: each layer runs over all
        nodes in batches of ``batch_size`` targets with their whole neighbourhoods (PyG's
        ``BasicGNN.inference``), so memory holds one layer's outputs of all nodes, never a whole
        ``L``-hop neighbourhood. Exact: the same as ``forward(x, graph)`` in eval mode. A layer
        whose blocks are not exact (a normalising GCN reads its sources' degrees:
        ``blocks_exact``) runs over the whole graph at once instead."""
        from tqdm.auto import tqdm

        adj = to_adj(graph, x.size(0))
        check_features(x, adj.shape[1], finite=debug.enabled())
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
        for conv in self.convs:
            if not getattr(conv, "supports_bipartite", False):
                raise TypeError(f"{type(conv).__name__} does not take blocks (supports_bipartite is False): "
                                "run the model on the whole graph instead")
        n = adj.shape[0]
        starts = range(0, n, batch_size)
        bar = tqdm(total=self.num_layers * len(starts), desc="layer-wise inference", unit="batch",
                   disable=not progress, leave=False)
        hidden: List[Tensor] = []
        for i in range(self.num_layers):
            if self.convs[i].blocks_exact:
                out = None
                for start in starts:
                    block, n_id, _ = ops.sample_neighbors(adj, torch.arange(start, min(n, start + batch_size),
                                                                            device=x.device), [-1])[0]
                    h = self.layer(i, x.index_select(0, n_id), block, block=True)
                    if out is None:
                        out = h.new_empty(n, h.size(1))
                    out[start:start + h.size(0)] = h
                    bar.update()
                x = out
            else:
                x = self.layer(i, x, adj)
                bar.update(len(starts))
            if self.jk is not None:
                hidden.append(x)
        bar.close()
        return x if self.jk is None else self.readout(hidden)

    def __repr__(self) -> str:
        return (f"{type(self).__name__}({self.in_channels}, {self.hidden_channels}, "
                f"num_layers={self.num_layers}, out_channels={self.out_channels})")


class GCN(BasicGNN):
    """Kipf & Welling's GCN (``GCNConv`` blocks)."""

    def make_conv(self, in_channels, out_channels, final, **kwargs):
        return GCNConv(in_channels, out_channels, **kwargs)


class GraphSAGE(BasicGNN):
    """Hamilton et al.'s GraphSAGE (``SAGEConv`` blocks, mean aggregation by default)."""

    def make_conv(self, in_channels, out_channels, final, **kwargs):
        return SAGEConv(in_channels, out_channels, **kwargs)


class GIN(BasicGNN):
    """Xu et al.'s GIN: ``GINConv`` blocks with a two-layer MLP each."""

    def make_conv(self, in_channels, out_channels, final, **kwargs):
        mlp = nn.Sequential(nn.Linear(in_channels, out_channels), nn.ReLU(), nn.Linear(out_channels, out_channels))
        return GINConv(mlp, **kwargs)


class PurePropagation(nn.Module):
    """Weight-free propagation, ``x <- x + P x`` per layer (``P x`` without ``residual``), with
    ``P`` the sum, mean or GCN-normalised aggregation (:meth:`graphkit.Adj.gcn_norm`,
    ``D~^-1/2 A~ D~^-1/2`` where ``A~`` has exactly one self-loop per node, an existing one keeping
    its weight): the "pure" encoders NCN (Wang et al., ICLR 2024) puts on learnable node embeddings
    (``puresum`` on ogbl-ddi). ``input_dropout`` drops input features, ``dropout`` the output.

    ``forward(x [N, F], graph) -> [N, F]``: the width never changes, so ``in_channels`` must equal
    ``out_channels`` (and ``hidden_channels``).
    """

    AGGREGATIONS = ("sum", "mean", "gcn")

    def __init__(self, in_channels: int, hidden_channels: int, num_layers: int = 1,
                 out_channels: Optional[int] = None, dropout: float = 0.0, aggr: str = "sum", residual: bool = True,
                 input_dropout: Optional[float] = None):
        super().__init__()
        out_channels = hidden_channels if out_channels is None else out_channels
        if not in_channels == hidden_channels == out_channels:
            raise ValueError(f"a weight-free propagation keeps the width: in_channels ({in_channels}), "
                             f"hidden_channels ({hidden_channels}) and out_channels ({out_channels}) must be equal")
        if aggr not in self.AGGREGATIONS:
            raise ValueError(f"unknown aggregation {aggr!r}; expected one of {self.AGGREGATIONS}")
        if num_layers < 1:
            raise ValueError(f"num_layers must be at least 1, got {num_layers}")
        self.num_layers, self.aggr, self.residual, self.dropout = num_layers, aggr, residual, dropout
        self.input_dropout = dropout if input_dropout is None else input_dropout

    def forward(self, x: Tensor, graph) -> Tensor:
        """``x`` ``[N, F]`` -> ``[N, F]``."""
        adj = to_adj(graph, x.size(0))
        check_features(x, adj.shape[1], finite=debug.enabled())
        x = F.dropout(x, self.input_dropout, self.training)
        aggr = self.aggr
        if aggr == "gcn":
            adj, aggr = adj.gcn_norm(dtype=x.dtype), "sum"  # cached on the graph
        for _ in range(self.num_layers):
            h = ops.spmm(adj, x, aggr)
            x = x + h if self.residual else h
        return F.dropout(x, self.dropout, self.training)


def _pure(aggr: str):
    def build(in_channels: int, out_channels: int, **kwargs) -> PurePropagation:
        return PurePropagation(in_channels, kwargs.pop("hidden_channels", out_channels), out_channels=out_channels,
                               aggr=aggr, **kwargs)
    return build


class GAT(BasicGNN):
    """Velickovic et al.'s GAT.

    ``hidden_channels`` is the total hidden width, split over ``heads`` (8 heads x 8 = 64 in the
    paper); the output layer has ``out_heads`` heads, averaged. Extra args: ``heads``,
    ``out_heads``, ``attn_dropout`` (dropout of the attention coefficients), ``negative_slope``.
    """

    def __init__(self, in_channels: int, hidden_channels: int, num_layers: int,
                 out_channels: Optional[int] = None, heads: int = 8, out_heads: int = 1,
                 attn_dropout: float = 0.0, **kwargs):
        for name, value in (("heads", heads), ("out_heads", out_heads)):
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"GAT: {name} must be a positive int, got {value!r}")
        if hidden_channels % heads:
            raise ValueError(f"hidden_channels={hidden_channels} must be divisible by heads={heads}")
        self.heads, self.out_heads, self.attn_dropout = heads, out_heads, attn_dropout
        super().__init__(in_channels, hidden_channels, num_layers, out_channels, **kwargs)

    def make_conv(self, in_channels, out_channels, final, **kwargs):
        if final:
            return GATConv(in_channels, out_channels, heads=self.out_heads, concat=False,
                           dropout=self.attn_dropout, **kwargs)
        return GATConv(in_channels, out_channels // self.heads, heads=self.heads, concat=True,
                       dropout=self.attn_dropout, **kwargs)


class MLP(nn.Module):
    """A multi-layer perceptron with the same interface as the GNNs (the graph is ignored).

    ``forward(x [N, F_in], graph=None) -> [N, out_channels]``.
    """

    def __init__(self, in_channels: int, hidden_channels: int, num_layers: int,
                 out_channels: Optional[int] = None, dropout: float = 0.0, act: str = "relu",
                 norm: Optional[str] = None, input_dropout: Optional[float] = None,
                 decay_layers: Optional[int] = None):
        super().__init__()
        if num_layers < 1:
            raise ValueError(f"num_layers must be at least 1, got {num_layers}")
        if norm is not None and norm not in _NORMS:
            raise ValueError(f"unknown norm {norm!r}; expected one of {sorted(_NORMS)} or None")
        out_channels = hidden_channels if out_channels is None else out_channels
        widths = [in_channels] + [hidden_channels] * (num_layers - 1) + [out_channels]
        self.lins = nn.ModuleList(nn.Linear(a, b) for a, b in zip(widths[:-1], widths[1:]))
        self.norms = nn.ModuleList(_NORMS[norm](hidden_channels) for _ in range(num_layers - 1)) if norm else None
        self.dropout, self.act = dropout, _activation(act)
        self.input_dropout = dropout if input_dropout is None else input_dropout
        self.decay_layers = decay_layers

    def reset_parameters(self) -> None:
        for module in self.modules():
            if module is not self and hasattr(module, "reset_parameters"):
                module.reset_parameters()

    def parameter_groups(self, weight_decay: float) -> List[dict]:
        """The optimizer's parameter groups: weight decay on the first ``decay_layers`` linear
        layers only, or on every parameter when ``decay_layers`` is ``None``."""
        return _decay_groups(self, self.lins, self.decay_layers, weight_decay)

    def forward(self, x: Tensor, graph=None) -> Tensor:
        """``x`` ``[N, F_in]`` -> ``[N, out_channels]``."""
        check_features(x, finite=debug.enabled())
        for i, lin in enumerate(self.lins):
            x = lin(input_dropout(x, self.input_dropout if i == 0 else self.dropout, self.training, sparse_ok=i == 0))
            if i < len(self.lins) - 1:
                if self.norms is not None:
                    x = self.norms[i](x)
                x = self.act(x)
        return x


MODELS: Dict[str, Callable[..., nn.Module]] = {"gcn": GCN, "sage": GraphSAGE, "gat": GAT, "gin": GIN, "mlp": MLP,
                           "nsd-diag": DiagSheaf, "nsd-bundle": BundleSheaf, "nsd-general": GeneralSheaf,
                           "puresum": _pure("sum"), "puremean": _pure("mean"), "puregcn": _pure("gcn")}


def build_model(name: str, in_channels: int, out_channels: int, **hparams) -> nn.Module:
    """Instantiate a model by name (``gcn``, ``sage``, ``gat``, ``gin``, ``mlp``, ``nsd-diag``,
    ``nsd-bundle``, ``nsd-general``)."""
    key = name.lower()
    if key not in MODELS:
        raise ValueError(f"unknown model {name!r}; expected one of {sorted(MODELS)}")
    return MODELS[key](in_channels=in_channels, out_channels=out_channels, **hparams)
