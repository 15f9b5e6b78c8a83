"""The message-passing base class: propagate -> message -> aggregate -> update.

A layer subclasses :class:`MessagePassing` and writes the maths of one edge
(:meth:`MessagePassing.message`) and of one node (:meth:`MessagePassing.update`).
:meth:`MessagePassing.propagate` picks the execution path:

* fused: :meth:`MessagePassing.message_and_aggregate` computes the aggregation in one step, no
  ``[E, F]`` message tensor ever built. Its default, used when ``message`` is not overridden, is
  the (optionally weighted) sum/mean/max/min of the neighbour features ``w_ij * x_j``, a single
  sparse-times-dense product, ``ops.spmm``; a layer with a fused kernel of its own overrides it
  (``GATConv``: ``ops.gat_aggregate``), as in PyG;
* gather-reduce: otherwise the arguments ``message`` asks for (``x_j``, ``x_i``,
  ``edge_weight``, any ``*_j``/``*_i`` suffixed tensor, per-edge ``edge_*`` tensors) are gathered
  per edge with ``ops.gather`` and reduced with ``ops.segment_reduce``.

Per-edge tensors: ``edge_weight`` (the aggregation's weights, default ``adj.value``) is in CSR
order, like ``adj.value`` and like the per-edge outputs of the ops (``sddmm``,
``segment_softmax``). Any other keyword argument of ``propagate`` named ``edge_*`` (``edge_attr``,
``edge_type``, ...) is a dataset's per-edge tensor, in the order of the ``edge_index`` the ``Adj``
was built from, and is permuted into CSR order with ``adj.perm`` before ``message`` or
``message_and_aggregate`` sees it (an ``Adj`` without ``perm``, built from CSR arrays, takes it in
CSR order).

Capabilities are class flags that a model reads (as PyG's ``supports_edge_weight``):
``supports_edge_weight``, ``supports_sparse_input``, and the :attr:`MessagePassing.projects_first`
rule with its inputs ``projection`` and ``root_term``.
"""
from __future__ import annotations

import inspect
from typing import Any, Dict, List, Optional, Tuple

from torch import Tensor, nn

from .. import ops
from ..adj import Adj, to_adj

LINEAR_AGGREGATIONS = ("sum", "mean")  # the aggregations a linear map commutes with


def _arguments(method, skip: int) -> Tuple[List[str], bool]:
    """The named parameters of a bound ``method`` after the first ``skip``, and whether it also
    takes ``**kwargs``."""
    params = list(inspect.signature(method).parameters.values())[skip:]
    names = [p.name for p in params if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    return names, any(p.kind is p.VAR_KEYWORD for p in params)


class MessagePassing(nn.Module):
    """Base class of graphkit's graph layers.

    Args:
        aggr: ``'sum'``, ``'mean'``, ``'max'`` or ``'min'``.

    Class flags, declared by each layer:
        supports_edge_weight: ``forward`` takes ``edge_weight`` ``[E]`` (``edge_index`` order);
            :meth:`adj` refuses edge weights for a layer without it.
        supports_sparse_input: ``forward`` accepts ``x`` as a sparse CSR matrix when it
            :attr:`projects_first` (its first operation on ``x`` is then a matrix product).
        supports_bipartite: ``forward`` accepts ``x`` as a pair ``(x_src [N_src, F], x_dst
            [N_dst, F])`` with a graph ``(N_dst, N_src)``: a sampled block, whose targets are its
            first ``N_dst`` sources (:func:`graphkit.ops.sample_neighbors`).
        blocks_exact: a block holding whole neighbourhoods gives the full graph's outputs at its
            targets (so layer-wise inference may run the layer by blocks); ``False`` for a layer
            that reads more of the graph than a target's own row (GCN's source degrees).
        projection: how the layer's weight meets its aggregation, the input of
            :attr:`projects_first`: ``None`` (no input projection, or one applied after
            aggregating, as GIN's MLP), ``"commutes"`` (a linear map ``in_channels ->
            out_channels`` that commutes with a sum or mean aggregation, ``A (X W) = (A X) W``, as
            GCN's and SAGE's) or ``"required"`` (the aggregation needs ``X W``, as GAT's attention
            scores do).
        root_term: the output adds a term of the root features (SAGE's ``W_r h_i + b``) that the
            projection absorbs (one ``addmm``) when the layer aggregates first.
    """

    supports_edge_weight: bool = False
    supports_sparse_input: bool = False
    supports_bipartite: bool = False
    blocks_exact: bool = True
    projection: Optional[str] = None
    root_term: bool = False

    def __init__(self, aggr: str = "sum"):
        super().__init__()
        if aggr not in ops.REDUCTIONS:
            raise ValueError(f"unknown aggregation {aggr!r}; expected one of {ops.REDUCTIONS}")
        self.aggr = aggr
        self._message_args, _ = _arguments(self.message, 0)
        self._fused_args, self._fused_takes_all = _arguments(self.message_and_aggregate, 2)

    @property
    def fused(self) -> bool:
        """True when :meth:`propagate` builds no per-edge messages: the layer has its own
        :meth:`message_and_aggregate`, or its message is the default ``w_ij * x_j`` (one ``spmm``)."""
        cls = type(self)
        return (cls.message_and_aggregate is not MessagePassing.message_and_aggregate
                or cls.message is MessagePassing.message)

    @property
    def projects_first(self) -> bool:
        """Whether ``forward`` multiplies ``x`` by the layer's weight before aggregating (then ``x``
        may be a sparse CSR matrix, see ``supports_sparse_input``). One rule for every layer:

        * project first when the aggregation needs the projected features (``projection ==
          "required"``);
        * otherwise only when the linear map commutes with the aggregation (``projection ==
          "commutes"`` and a sum or mean) and shrinks the width (``out_channels < in_channels``:
          the sparse product then runs on the narrower side);
        * at equal widths both orders run the same sparse product, and the dense part decides: a
          layer with a ``root_term`` aggregates first (the root term, the projection and the bias
          are one ``addmm``), any other projects first (its input may then be sparse).
        """
        if self.projection == "required":
            return True
        if self.projection != "commutes" or self.aggr not in LINEAR_AGGREGATIONS:
            return False
        if self.out_channels != self.in_channels:
            return self.out_channels < self.in_channels
        return not self.root_term

    def adj(self, graph, num_nodes: Optional[int] = None, edge_weight: Optional[Tensor] = None,
            num_dst: Optional[int] = None) -> Adj:
        """Turn an ``edge_index`` / ``Adj`` / ``Data`` argument into an :class:`Adj` (cached, see
        :func:`graphkit.to_adj`); ``edge_weight`` ``[E]`` in ``edge_index`` order, only for a layer
        that ``supports_edge_weight``."""
        if edge_weight is not None and not self.supports_edge_weight:
            raise TypeError(f"{type(self).__name__} does not take edge weights (supports_edge_weight is False)")
        return to_adj(graph, num_nodes=num_nodes, edge_weight=edge_weight, num_dst=num_dst)

    def propagate(self, adj: Adj, x: Tensor, edge_weight: Optional[Tensor] = None,
                  self_weight: Optional[float] = None, **kwargs) -> Any:
        """Run message -> aggregate -> update over ``adj``.

        Args:
            adj: graph ``(M, N)``.
            x: ``[N, *F]`` node features (sources; targets too for square graphs).
            edge_weight: ``[E]`` or ``[E, H]`` weights of the aggregation in CSR order (default
                ``adj.value``).
            self_weight: a number ``s`` adding ``s * x[i]`` to the aggregation of node ``i`` before
                :meth:`update` (GIN's self term): inside the aggregation op when it is the default
                one (``ops.spmm(..., self_weight=s)``), after it otherwise.
            **kwargs: further arguments of ``message`` / ``message_and_aggregate`` / ``update``:
                node tensors named ``foo`` are passed to ``message`` as ``foo_j`` / ``foo_i`` when
                it asks for those; tensors named ``edge_*`` are per-edge, ``[E, ...]`` in
                ``edge_index`` order, and are passed in CSR order (permuted with ``adj.perm``).
        Returns:
            the output of :meth:`update`: ``[M, *F']`` by default (or whatever the layer's
            ``message_and_aggregate`` returns, as GATConv's ``(out, alpha)``).
        """
        if self_weight is not None and type(self).message_and_aggregate is MessagePassing.message_and_aggregate \
                and type(self).message is MessagePassing.message:  # the default aggregation: one spmm
            out = ops.spmm(adj, x, self.aggr, edge_weight, self_weight=self_weight)
            return self.update(out, **kwargs)
        if self.fused:
            args = self._collect(self._fused_args, adj, x, edge_weight, kwargs, per_edge=False,
                                 take_all=self._fused_takes_all)
            out = self.message_and_aggregate(adj, x, **args)
        else:
            messages = self.message(**self._collect(self._message_args, adj, x, edge_weight, kwargs))
            out = ops.segment_reduce(messages, adj, self.aggr)
        if self_weight is not None:
            if not isinstance(out, Tensor):
                raise TypeError(f"{type(self).__name__}'s aggregation returns {type(out).__name__}, not one tensor: "
                                "self_weight cannot be added to it")
            out = out + self_weight * x
        return self.update(out, **kwargs)

    def _collect(self, names: List[str], adj: Adj, x: Tensor, edge_weight: Optional[Tensor], kwargs: dict,
                 per_edge: bool = True, take_all: bool = False) -> Dict[str, Any]:
        """The arguments ``names`` of ``message`` (``per_edge``: ``*_j``/``*_i`` node tensors gathered
        at the entries' sources/targets) or of ``message_and_aggregate``; ``take_all`` adds every
        keyword argument of ``propagate``. Per-edge ``edge_*`` tensors come in CSR order."""
        nodes = dict(kwargs, x=x)
        wanted = list(names) + ([k for k in kwargs if k not in names] if take_all else [])
        args = {}
        for name in wanted:
            if name == "edge_weight":
                args[name] = edge_weight if edge_weight is not None else adj.value
            elif per_edge and name.endswith("_j") and name[:-2] in nodes:
                args[name] = ops.gather(nodes[name[:-2]], adj.col)  # [E, *F] source features
            elif per_edge and name.endswith("_i") and name[:-2] in nodes:
                args[name] = ops.gather(nodes[name[:-2]], adj.row)  # [E, *F] target features
            elif name in kwargs:
                args[name] = _csr_order(adj, name, kwargs[name]) if name.startswith("edge_") else kwargs[name]
            else:
                raise TypeError(f"{type(self).__name__}.{'message' if per_edge else 'message_and_aggregate'} "
                                f"needs {name!r}, which propagate was not given")
        return args

    def message(self, x_j: Tensor, edge_weight: Optional[Tensor] = None) -> Tensor:
        """Per-edge message ``[E, *F]``; the default is ``w_ij * x_j`` (enables the fused path)."""
        if edge_weight is None:
            return x_j
        return x_j * edge_weight.view(edge_weight.shape + (1,) * (x_j.dim() - edge_weight.dim()))

    def message_and_aggregate(self, adj: Adj, x: Tensor, edge_weight: Optional[Tensor] = None) -> Any:
        """Messages and their aggregation in one step, ``[M, *F]``, without an ``[E, *F]`` message
        tensor. The default, the aggregation of the default :meth:`message`, is one ``ops.spmm``.
        A layer overrides it for a fused kernel of its own; it receives ``x`` and the keyword
        arguments of :meth:`propagate` that it names (``edge_weight`` defaults to ``adj.value``,
        ``edge_*`` tensors come in CSR order), and what it returns goes to :meth:`update`."""
        return ops.spmm(adj, x, self.aggr, edge_weight)

    def update(self, aggregated: Any, **kwargs) -> Any:
        """Per-node update of the aggregated messages; identity by default."""
        return aggregated

    def extra_repr(self) -> str:
        return f"aggr={self.aggr!r}"


def _csr_order(adj: Adj, name: str, value: Any) -> Any:
    """A per-edge tensor ``[E, ...]`` given in ``edge_index`` order, in the CSR order of ``adj``."""
    if not isinstance(value, Tensor):
        return value
    if value.dim() == 0 or value.size(0) != adj.num_edges:
        raise ValueError(f"{name} must have one row per edge of the graph ({adj.num_edges}), "
                         f"got shape {list(value.shape)}")
    return value if adj.perm is None else value[adj.perm]


__all__ = ["MessagePassing"]
