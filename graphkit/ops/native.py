"""The native backend: graphkit's own C++ (and, where torch has CUDA, CUDA) kernels,
``torch.ops.graphkit``, behind the op API.

Autograd and fake (meta) kernels of every custom op are registered here, in one place, with
``torch.library.register_autograd`` and ``register_fake``, so the ops pass
``torch.library.opcheck`` and work under ``torch.compile``. The ops take their forward inputs
only: a backward that needs the transpose (CSC) of the graph gets it from the autograd context.
The functions below call the differentiable ops through :class:`_WithAdj`, which runs an op's
registered ``setup_context`` and backward with the :class:`Adj` on ``ctx``, so the backward reads
the transpose cached on the Adj; an op called directly (``torch.ops.graphkit.spmm``) builds it from
its CSR arrays in the backward. Backward passes go through the transpose, never through atomics,
so CPU results are deterministic. ``sddmm`` with ``add``/``mul`` and inputs of more than one
feature dimension run the reference implementation. ``random_walk`` draws from its own
counter-based streams, so its walks differ from the reference's (torch.Generator) for the same
seed; both are deterministic given the seed. Every function has the signature of
:mod:`graphkit.ops.reference`.
"""
from __future__ import annotations

import math
from typing import Callable, Dict, Optional, Tuple

import torch
from torch import Tensor

from ..adj import Adj, tensor_cache
from . import reference
from .build import load_native

HAS_CUDA = load_native()  # whether the CUDA kernels were built (torch with CUDA and a toolkit)
_ops = torch.ops.graphkit
_ARG_REDUCTIONS = ("max", "min")  # the reductions whose ops also return the arg entry


# ----------------------------------------------------------------------------- fake kernels
@torch.library.register_fake("graphkit::spmm")
def _spmm_fake(rowptr, col, weight, x, reduce):
    m = rowptr.shape[0] - 1
    out = x.new_empty((m, x.shape[1]))
    arg = x.new_empty((m, x.shape[1]) if reduce in _ARG_REDUCTIONS else (0,), dtype=torch.long)
    return out, arg


@torch.library.register_fake("graphkit::spmm_transpose")
def _spmm_transpose_fake(colptr, row_t, perm, weight, x):
    return x.new_empty((colptr.shape[0] - 1, x.shape[1]))


@torch.library.register_fake("graphkit::spmm_transpose_scatter")
def _spmm_transpose_scatter_fake(rowptr, col, weight, x, num_cols):
    return x.new_empty((num_cols, x.shape[1]))


@torch.library.register_fake("graphkit::spmm_arg_backward")
def _spmm_arg_backward_fake(colptr, row_t, perm, weight, arg, grad_out, num_src):
    return grad_out.new_empty((num_src, grad_out.shape[1]))


@torch.library.register_fake("graphkit::sddmm")
def _sddmm_fake(rowptr, col, a, b, heads):
    return a.new_empty((col.shape[0], heads))


@torch.library.register_fake("graphkit::segment_softmax")
def _segment_softmax_fake(rowptr, scores):
    return torch.empty_like(scores)


@torch.library.register_fake("graphkit::segment_softmax_backward")
def _segment_softmax_backward_fake(rowptr, out, grad):
    return torch.empty_like(out)


@torch.library.register_fake("graphkit::gat_aggregate")
def _gat_aggregate_fake(rowptr, col, x, a_src, a_dst, negative_slope):
    return x.new_empty((rowptr.shape[0] - 1, x.shape[1])), x.new_empty((col.shape[0], a_src.shape[1]))


@torch.library.register_fake("graphkit::gat_aggregate_backward")
def _gat_aggregate_backward_fake(rowptr, col, x, a_src, a_dst, alpha, grad_out, grad_alpha, negative_slope,
                                 colptr, row_t, perm):
    return torch.empty_like(x), torch.empty_like(a_src), torch.empty_like(a_dst)


@torch.library.register_fake("graphkit::segment_reduce")
def _segment_reduce_fake(rowptr, src, reduce):
    m = rowptr.shape[0] - 1
    return src.new_empty((m, src.shape[1])), src.new_empty((m, src.shape[1]) if reduce in _ARG_REDUCTIONS else (0,),
                                                           dtype=torch.long)


@torch.library.register_fake("graphkit::gather")
def _gather_fake(x, index):
    return x.new_empty((index.shape[0], x.shape[1]))


@torch.library.register_fake("graphkit::gather_backward")
def _gather_backward_fake(ptr, perm, grad):
    return grad.new_empty((ptr.shape[0] - 1, grad.shape[1]))


@torch.library.register_fake("graphkit::neighbor_sets")
def _neighbor_sets_fake(rowptr, col, first, second, which):
    ctx = torch.library.get_ctx()
    return first.new_empty((first.shape[0] + 1,), dtype=torch.long), \
        col.new_empty((ctx.new_dynamic_size(),))


@torch.library.register_fake("graphkit::csr_transpose")
def _csr_transpose_fake(rowptr, col, num_cols):
    return col.new_empty(num_cols + 1), torch.empty_like(col), torch.empty_like(col)


@torch.library.register_fake("graphkit::sample_neighbors")
def _sample_neighbors_fake(rowptr, nodes, weight, fanout, replace, seed):
    ctx = torch.library.get_ctx()
    return nodes.new_empty(nodes.shape[0] + 1), nodes.new_empty(ctx.new_dynamic_size())


@torch.library.register_fake("graphkit::rmat_edges")
def _rmat_edges_fake(num_nodes, num_edges, a, b, c, seed):
    return torch.empty(2, num_edges, dtype=torch.long)


@torch.library.register_fake("graphkit::edge_csr")
def _edge_csr_fake(src, dst, num_nodes):
    return src.new_empty(num_nodes + 1), torch.empty_like(src), torch.empty_like(src)


@torch.library.register_fake("graphkit::first_seen")
def _first_seen_fake(dst, src):
    ctx = torch.library.get_ctx()
    return dst.new_empty(ctx.new_dynamic_size()), torch.empty_like(src)


@torch.library.register_fake("graphkit::sort_rows")
def _sort_rows_fake(rowptr, col, value):
    return torch.empty_like(col), torch.empty_like(value)


@torch.library.register_fake("graphkit::batch_graphs")
def _batch_graphs_fake(node_ptr, edge_ptr, row_count, col, index):
    ctx = torch.library.get_ctx()
    nodes, edges = ctx.new_dynamic_size(), ctx.new_dynamic_size()
    return (node_ptr.new_empty(nodes + 1), node_ptr.new_empty(edges), node_ptr.new_empty(nodes),
            node_ptr.new_empty(edges), node_ptr.new_empty(nodes), node_ptr.new_empty(index.shape[0] + 1))


@torch.library.register_fake("graphkit::block_spmm")
def _block_spmm_fake(rowptr, col, blocks, x):
    return x.new_empty((rowptr.shape[0] - 1, x.shape[1], x.shape[2]))


@torch.library.register_fake("graphkit::block_spmm_transpose")
def _block_spmm_transpose_fake(colptr, row_t, perm, blocks, grad):
    return grad.new_empty((colptr.shape[0] - 1, grad.shape[1], grad.shape[2]))


@torch.library.register_fake("graphkit::block_spmm_blocks_grad")
def _block_spmm_blocks_grad_fake(rowptr, col, grad, x):
    return x.new_empty((col.shape[0], x.shape[1], x.shape[1]))


@torch.library.register_fake("graphkit::pair_product")
def _pair_product_fake(x, first, second):
    return x.new_empty((first.shape[0], x.shape[1]))


@torch.library.register_fake("graphkit::pair_product_backward")
def _pair_product_backward_fake(ptr, ends, other, x, grad):
    return torch.empty_like(x)


@torch.library.register_fake("graphkit::dropout")
def _dropout_fake(x, p, seed, relu):
    return torch.empty_like(x)


@torch.library.register_fake("graphkit::dropout_backward")
def _dropout_backward_fake(grad, out, p, seed, relu):
    return torch.empty_like(grad)


@torch.library.register_fake("graphkit::random_walk")
def _random_walk_fake(rowptr, col, start, walk_length, p, q, seed):
    return start.new_empty((start.shape[0], walk_length + 1), dtype=torch.long)


@torch.library.register_fake("graphkit::sgns_train")
def _sgns_train_fake(walks, num_nodes, dim, window, negative, epochs, alpha, min_alpha, sample, seed):
    return walks.new_empty((num_nodes, dim), dtype=torch.float32)


# ----------------------------------------------------------------------------- autograd
_AUTOGRAD: Dict[str, Tuple[Callable, Callable]] = {}


def _register_autograd(name: str, backward: Callable, setup_context: Callable) -> None:
    """``torch.library.register_autograd`` for ``graphkit::<name>``, keeping the pair for :class:`_WithAdj`."""
    torch.library.register_autograd(f"graphkit::{name}", backward, setup_context=setup_context)
    _AUTOGRAD[name] = (setup_context, backward)


class _WithAdj(torch.autograd.Function):
    """A differentiable op called from an :class:`Adj`: the op's registered ``setup_context`` and
    backward, with the Adj (and the other attributes given) set on ``ctx`` after the setup, so
    that the backward reads the transpose cached on the Adj rather than taking it as an op input.
    Arguments: the op's inputs, then ``(name, attributes)``."""

    @staticmethod
    def forward(ctx, *args):
        *inputs, (name, attributes) = args
        with torch._C._AutoDispatchBelowAutograd():  # straight to the kernel: the gradient is this Function's
            output = getattr(_ops, name).default(*inputs)
        _AUTOGRAD[name][0](ctx, tuple(inputs), output)
        ctx.op_name = name
        for key, value in attributes.items():
            setattr(ctx, key, value)
        return output

    @staticmethod
    def backward(ctx, *grads):
        needs_input_grad = ctx.needs_input_grad
        try:  # the op's backward sees its own inputs only, as under register_autograd
            ctx.needs_input_grad = needs_input_grad[:-1]
            return (*_AUTOGRAD[ctx.op_name][1](ctx, *grads), None)
        finally:
            ctx.needs_input_grad = needs_input_grad


def _call(name: str, adj: Optional[Adj], *inputs, **attributes):
    """``torch.ops.graphkit.<name>(*inputs)`` on the structure of ``adj`` (``None`` for an op on no
    graph), differentiable through :class:`_WithAdj` (``ctx.adj = adj`` and ``attributes``) when an
    input requires grad. Either way the kernel is called below the autograd dispatch, skipping the
    Python wrapper that ``register_autograd`` puts in front of it (tens of microseconds a call)."""
    if torch.is_grad_enabled() and any(isinstance(t, Tensor) and t.requires_grad for t in inputs):
        return _WithAdj.apply(*inputs, (name, dict(attributes, adj=adj)))
    with torch._C._AutoDispatchBelowAutograd():
        return getattr(_ops, name).default(*inputs)


def _graph(ctx, rowptr: Tensor, col: Tensor, num_cols: int) -> Adj:
    """The Adj a differentiable op was called from (``ctx.adj``: its caches hold the transpose), or,
    for an op called directly, the graph of its CSR arrays (the transpose is then built here)."""
    return ctx.adj if ctx.adj is not None else Adj.trusted(rowptr, col, None, (rowptr.shape[0] - 1, num_cols))


def _transpose(adj: Adj, col: Tensor) -> Tuple[Tensor, ...]:
    """``(colptr, row, perm)`` of ``adj`` in the index dtype of the op's ``col`` (that of
    ``adj.int32()`` for an op called from ``adj``, so nothing is converted there)."""
    csc = _csc_int32(adj)
    return csc if csc[0].dtype == col.dtype else tuple(t.to(col.dtype) for t in csc)


def _inverse_degree(rowptr: Tensor, dtype: torch.dtype) -> Tensor:
    return rowptr.diff().clamp(min=1).to(dtype).reciprocal()


def _spmm_setup(ctx, inputs, output):
    rowptr, col, weight, x, reduce = inputs
    ctx.reduce = reduce
    ctx.num_src = x.shape[0]
    ctx.weight_is_2d = weight is not None and weight.dim() == 2
    ctx.adj = None
    # the weights are the Adj's own values (or none) and need no gradient: the backward of the sum
    # and mean may read them in CSC order from the Adj's cache (set by spmm below)
    ctx.weights_in_adj = False
    ctx.save_for_backward(rowptr, col, weight, x, output[1])


def _spmm_grad_x(adj: Adj, rowptr: Tensor, col: Tensor, weight: Optional[Tensor], grad_out: Tensor, reduce: str,
                 num_src: int, weights_in_adj: bool) -> Tensor:
    """The gradient of a sum/mean ``spmm`` with respect to ``x``: the transposed product of
    ``grad_out``, through the transpose cached on ``adj`` (its weights, the mean's 1 / degree folded
    in, read in CSC order from the Adj's cache when they are its own), or scattered through the CSR
    for a tall matrix (:func:`_scatter_backward`)."""
    if _scatter_backward(adj, grad_out, reduce):
        if reduce == "mean":
            grad_out = grad_out * _inverse_degree(rowptr, grad_out.dtype).unsqueeze(-1)
        return _ops.spmm_transpose_scatter(rowptr, col, weight, grad_out, num_src)
    colptr, row_t, perm = _transpose(adj, col)
    if weights_in_adj:  # cached, read in sequence (None for an unweighted sum)
        weight_t = adj.csc_weights(mean=reduce == "mean", weighted=weight is not None, dtype=grad_out.dtype)
        return _ops.spmm_transpose(colptr, row_t, col.new_empty(0) if weight_t is not None else perm, weight_t,
                                   grad_out)
    if reduce == "mean":
        grad_out = grad_out * _inverse_degree(rowptr, grad_out.dtype).unsqueeze(-1)
    return _ops.spmm_transpose(colptr, row_t, perm, weight, grad_out)


class _SpmmFromAdj(torch.autograd.Function):
    """``spmm`` sum/mean from an :class:`Adj` whose weights need no gradient (GIN, GCN, SAGE): the
    same kernels as the op's registered autograd, with nothing saved but the Adj (which holds the
    transpose) and the lighter bookkeeping of one differentiable input."""

    @staticmethod
    def forward(ctx, x, adj, rowptr, col, weight, reduce, weights_in_adj, self_weight):
        with torch._C._AutoDispatchBelowAutograd():
            out = _ops.spmm.default(rowptr, col, weight, x, reduce)[0]
            if self_weight is not None:  # in place on the fresh output: no node, no tensor more
                out.add_(x, alpha=self_weight)
        ctx.args = (adj, rowptr, col, weight, reduce, x.shape[0], weights_in_adj)
        ctx.self_weight = self_weight
        return out

    @staticmethod
    @torch.autograd.function.once_differentiable  # a second derivative would need the op's own autograd
    def backward(ctx, grad_out):
        grad_x = _spmm_grad_x(*ctx.args[:4], grad_out, *ctx.args[4:])
        if ctx.self_weight is not None:
            grad_x.add_(grad_out, alpha=ctx.self_weight)
        return grad_x, None, None, None, None, None, None, None


def _spmm_backward(ctx, grad_out, _grad_arg):
    rowptr, col, weight, x, arg = ctx.saved_tensors
    heads = weight.shape[1] if ctx.weight_is_2d else 1
    grad_x = grad_weight = None
    if ctx.reduce not in _ARG_REDUCTIONS:  # sum / mean: the transpose times grad_out, and per-edge dot products
        if ctx.needs_input_grad[3]:
            grad_x = _spmm_grad_x(_graph(ctx, rowptr, col, ctx.num_src), rowptr, col, weight, grad_out, ctx.reduce,
                                  ctx.num_src, ctx.weights_in_adj)
        if ctx.needs_input_grad[2]:
            if ctx.reduce == "mean":
                grad_out = grad_out * _inverse_degree(rowptr, grad_out.dtype).unsqueeze(-1)
            grad_weight = _ops.sddmm(rowptr, col, grad_out, x, heads)
            grad_weight = grad_weight if ctx.weight_is_2d else grad_weight.view(-1)
    else:  # max / min: the gradient goes to the arg entry of each output element
        if ctx.needs_input_grad[3]:
            colptr, row_t, perm = _transpose(_graph(ctx, rowptr, col, ctx.num_src), col)
            grad_x = _ops.spmm_arg_backward(colptr, row_t, perm, weight, arg, grad_out, ctx.num_src)
        if ctx.needs_input_grad[2] and col.numel() == 0:
            grad_weight = torch.zeros_like(weight)
        elif ctx.needs_input_grad[2]:
            num_edges = col.numel()
            valid = arg < num_edges
            safe = arg.clamp(max=max(num_edges - 1, 0))
            x_at_arg = x.gather(0, col.long()[safe])                  # [M, F] source feature of the arg edge
            contrib = (grad_out * x_at_arg).masked_fill(~valid, 0)
            feature = torch.arange(x.shape[1], device=x.device) // (x.shape[1] // heads)
            flat = (safe * heads + feature).view(-1)
            grad_weight = grad_out.new_zeros(num_edges * heads).index_add_(0, flat, contrib.view(-1))
            grad_weight = grad_weight.view(num_edges, heads) if ctx.weight_is_2d else grad_weight
    return None, None, grad_weight, grad_x, None


_register_autograd("spmm", _spmm_backward, _spmm_setup)


def _sddmm_setup(ctx, inputs, output):
    rowptr, col, a, b, heads = inputs
    ctx.heads = heads
    ctx.adj = None
    ctx.save_for_backward(rowptr, col, a, b)


def _sddmm_backward(ctx, grad):
    rowptr, col, a, b = ctx.saved_tensors
    grad_a = grad_b = None
    weight = grad if ctx.heads > 1 else grad.view(-1)
    if ctx.needs_input_grad[2]:
        grad_a = _ops.spmm(rowptr, col, weight, b, "sum")[0]
    if ctx.needs_input_grad[3]:
        grad_b = _ops.spmm_transpose(*_transpose(_graph(ctx, rowptr, col, b.shape[0]), col), weight, a)
    return None, None, grad_a, grad_b, None


_register_autograd("sddmm", _sddmm_backward, _sddmm_setup)


def _softmax_setup(ctx, inputs, output):
    ctx.save_for_backward(inputs[0], output)


def _softmax_backward(ctx, grad):
    rowptr, out = ctx.saved_tensors
    return None, _ops.segment_softmax_backward(rowptr, out, grad)


_register_autograd("segment_softmax", _softmax_backward, _softmax_setup)


def _gat_setup(ctx, inputs, output):
    rowptr, col, x, a_src, a_dst, negative_slope = inputs
    ctx.negative_slope = negative_slope
    ctx.adj = None
    ctx.save_for_backward(rowptr, col, x, a_src, a_dst, output[1])


def _gat_backward(ctx, grad_out, grad_alpha):
    rowptr, col, x, a_src, a_dst, alpha = ctx.saved_tensors
    grad_out = x.new_zeros((rowptr.numel() - 1, x.shape[1])) if grad_out is None else grad_out
    grad_alpha = alpha.new_empty(0) if grad_alpha is None else grad_alpha
    colptr, row_t, perm = _transpose(_graph(ctx, rowptr, col, x.shape[0]), col)
    grad_x, grad_src, grad_dst = _ops.gat_aggregate_backward(rowptr, col, x, a_src, a_dst, alpha, grad_out,
                                                             grad_alpha, ctx.negative_slope, colptr, row_t, perm)
    return None, None, grad_x, grad_src, grad_dst, None


_register_autograd("gat_aggregate", _gat_backward, _gat_setup)


def _segment_reduce_setup(ctx, inputs, output):
    rowptr, src, reduce = inputs
    ctx.reduce, ctx.num_edges = reduce, src.shape[0]
    ctx.adj = None
    ctx.save_for_backward(rowptr, output[1])


def _segment_reduce_backward(ctx, grad_out, _grad_arg):
    rowptr, arg = ctx.saved_tensors
    if ctx.reduce not in _ARG_REDUCTIONS:  # every message of row i receives grad_out[i] (/ deg i for the mean)
        if ctx.reduce == "mean":
            grad_out = grad_out * _inverse_degree(rowptr, grad_out.dtype).unsqueeze(-1)
        if ctx.adj is not None:  # the row of every entry, cached on the Adj (a readout's batch vector)
            return None, grad_out.index_select(0, ctx.adj.row), None
        return None, torch.repeat_interleave(grad_out, rowptr.diff(), dim=0, output_size=ctx.num_edges), None
    width = grad_out.shape[1]
    grad_src = grad_out.new_zeros((ctx.num_edges + 1) * width)  # row E collects empty rows' zeros
    target = arg * width + torch.arange(width, device=arg.device)
    grad_src.scatter_(0, target.view(-1), grad_out.reshape(-1))  # each (edge, feature) at most once
    return None, grad_src[: ctx.num_edges * width].view(ctx.num_edges, width), None


_register_autograd("segment_reduce", _segment_reduce_backward, _segment_reduce_setup)

def _index_groups(index: Tensor, num_rows: int) -> Tuple[Tensor, Tensor]:
    """``(ptr [num_rows + 1], perm [K])``: the positions of ``index`` grouped by value (stable), kept
    with the tensor (:func:`graphkit.adj.tensor_cache`, like the Adj of :func:`graphkit.to_adj`)."""
    cache = tensor_cache(index)
    entry = cache.get("index_groups")
    if entry is None or entry[0] != num_rows:
        perm = torch.argsort(index, stable=True)
        ptr = torch.zeros(num_rows + 1, dtype=torch.long, device=index.device)
        torch.cumsum(torch.bincount(index, minlength=num_rows), 0, out=ptr[1:])
        small = index.numel() < 2 ** 31 and num_rows < 2 ** 31
        entry = cache["index_groups"] = (num_rows, (ptr.int(), perm.int()) if small else (ptr, perm))
    return entry[1]


def _gather_setup(ctx, inputs, output):
    x, index = inputs
    ctx.save_for_backward(*_index_groups(index, x.shape[0]))


def _gather_backward(ctx, grad):
    ptr, perm = ctx.saved_tensors
    return _ops.gather_backward(ptr, perm, grad), None


_register_autograd("gather", _gather_backward, _gather_setup)


def _block_spmm_setup(ctx, inputs, output):
    rowptr, col, blocks, x = inputs
    ctx.adj = None
    ctx.save_for_backward(rowptr, col, blocks, x)


def _block_spmm_backward(ctx, grad):
    rowptr, col, blocks, x = ctx.saved_tensors
    grad_blocks = _ops.block_spmm_blocks_grad(rowptr, col, grad, x) if ctx.needs_input_grad[2] else None
    grad_x = None
    if ctx.needs_input_grad[3]:
        colptr, row_t, perm = _transpose(_graph(ctx, rowptr, col, x.shape[0]), col)
        grad_x = _ops.block_spmm_transpose(colptr, row_t, perm, blocks, grad)
    return None, None, grad_blocks, grad_x


_register_autograd("block_spmm", _block_spmm_backward, _block_spmm_setup)


def _pair_product_setup(ctx, inputs, output):
    x, first, second = inputs
    ends = torch.cat([first, second])
    ptr, perm = _index_groups(ends, x.shape[0])
    ctx.save_for_backward(ptr, perm, torch.cat([second, first]), x)


def _pair_product_backward(ctx, grad):
    ptr, perm, other, x = ctx.saved_tensors
    return _ops.pair_product_backward(ptr, perm, other, x, grad), None, None


_register_autograd("pair_product", _pair_product_backward, _pair_product_setup)


def _dropout_setup(ctx, inputs, output):
    _, ctx.p, ctx.seed, ctx.relu = inputs
    ctx.save_for_backward(output if ctx.relu else None)


def _dropout_backward(ctx, grad):
    out, = ctx.saved_tensors
    return _ops.dropout_backward(grad, grad if out is None else out, ctx.p, ctx.seed, ctx.relu), None, None, None


_register_autograd("dropout", _dropout_backward, _dropout_setup)


# ----------------------------------------------------------------------------- backend API
def supports(device: torch.device) -> bool:
    """Whether this backend has kernels for tensors on ``device``."""
    return device.type == "cpu" or (device.type == "cuda" and HAS_CUDA)


def _flat(t: Tensor) -> Tensor:
    """``[K, *F]`` as ``[K, prod(F)]`` (also for K == 0); a 2-D tensor as it is."""
    return t if t.dim() == 2 else t.reshape(t.shape[0], math.prod(t.shape[1:]))


def _csc_int32(adj: Adj) -> Tuple[Tensor, Tensor, Tensor]:
    """``adj.csc_int32()``, built on the CPU by the counting-sort kernel (O(E + N)) instead of a
    comparison sort, and kept in the Adj's structure cache."""
    if adj.device.type == "cpu" and adj.num_edges:
        return adj.csc_int32(lambda: _ops.csr_transpose(*adj.int32(), adj.shape[1]))
    return adj.csc_int32()


# The scatter backward (spmm_transpose_scatter) keeps kScatterChunks accumulators of [N, F]; it is
# chosen for matrices with at least this many times more rows than columns, averaging at least
# this many entries per column, whose accumulators fit in this many bytes.
_SCATTER_CHUNKS, _SCATTER_MIN_ROWS_PER_COLUMN, _SCATTER_MIN_PER_COLUMN, _SCATTER_MAX_BYTES = 8, 2, 8, 64 << 20


def _scatter_backward(adj: Adj, x: Tensor, reduce: str) -> bool:
    """Whether the gradient of ``spmm(adj, x)`` should scatter through the CSR instead of going
    through the transpose: on the CPU, for sum/mean, for a tall matrix with few columns and many
    entries each, such as the common-neighbour sets of a batch of pairs in a dense graph. There the
    CSC product gathers rows of a large gradient while the scatter adds into accumulators that
    stay in cache (ogbl-ddi, 24,576 pairs: 3x faster than even a cached transpose); for square
    graphs, which are often reused, the cached transpose is faster."""
    if adj.device.type != "cpu" or reduce not in ("sum", "mean") or adj.num_edges == 0:
        return False
    m, n, width = adj.shape[0], adj.shape[1], math.prod(x.shape[1:])
    return (m >= _SCATTER_MIN_ROWS_PER_COLUMN * n and adj.num_edges >= _SCATTER_MIN_PER_COLUMN * n
            and _SCATTER_CHUNKS * n * width * max(x.element_size(), 4) <= _SCATTER_MAX_BYTES)


def checksum(t: Tensor) -> int:
    return _ops.checksum(t) if t.device.type == "cpu" else reference.checksum(t)


def spmm(adj: Adj, x: Tensor, reduce: str = "sum", weight: Optional[Tensor] = None,
         self_weight: Optional[float] = None) -> Tensor:
    rowptr, col = adj.int32()  # half the index traffic of int64
    weights_in_adj = weight is None or (weight is adj.value and not weight.requires_grad)
    if (reduce in ("sum", "mean") and x.requires_grad and torch.is_grad_enabled()
            and (weight is None or not weight.requires_grad)):
        out = _SpmmFromAdj.apply(_flat(x), adj, rowptr, col, weight, reduce, weights_in_adj, self_weight)
    else:
        out, _ = _call("spmm", adj, rowptr, col, weight, _flat(x), reduce, weights_in_adj=weights_in_adj)
        if self_weight is not None:
            out = out + self_weight * _flat(x)
    return out if x.dim() == 2 else out.view((adj.shape[0],) + tuple(x.shape[1:]))


def sddmm(adj: Adj, a: Tensor, b: Tensor, op: str = "dot") -> Tensor:
    if op != "dot" or a.dim() > 3:
        return reference.sddmm(adj, a, b, op)
    heads = a.shape[1] if a.dim() == 3 else 1
    rowptr, col = adj.int32()
    out = _call("sddmm", adj, rowptr, col, _flat(a), _flat(b), heads)
    return out if a.dim() == 3 else out.view(-1)


def segment_softmax(adj: Adj, scores: Tensor) -> Tensor:
    if scores.dim() > 2:
        return reference.segment_softmax(adj, scores)
    return _call("segment_softmax", adj, adj.int32()[0], scores)


def gat_aggregate(adj: Adj, x: Tensor, score_src: Tensor, score_dst: Tensor, negative_slope: float = 0.2):
    rowptr, col = adj.int32()
    out, alpha = _call("gat_aggregate", adj, rowptr, col, _flat(x), score_src, score_dst, float(negative_slope))
    return out.view((adj.shape[0],) + tuple(x.shape[1:])), alpha


def segment_reduce(src: Tensor, adj: Adj, reduce: str = "sum") -> Tensor:
    out, _ = _call("segment_reduce", adj, adj.int32()[0], _flat(src), reduce)
    return out if src.dim() == 2 else out.view((adj.shape[0],) + tuple(src.shape[1:]))


def gather(x: Tensor, index: Tensor) -> Tensor:
    out = _call("gather", None, _flat(x), index)
    return out if x.dim() == 2 else out.view((index.shape[0],) + tuple(x.shape[1:]))


def sample_hop(rowptr: Tensor, nodes: Tensor, weight: Optional[Tensor], fanout: int, replace: bool, seed: int):
    return _ops.sample_neighbors(rowptr, nodes, weight, fanout, replace, seed)


def sort_rows(rowptr: Tensor, col: Tensor, value: Tensor):
    return _ops.sort_rows(rowptr, col, value)


def rmat_edges(num_nodes: int, num_edges: int, a: float, b: float, c: float, seed: int) -> Tensor:
    return _ops.rmat_edges(num_nodes, num_edges, a, b, c, seed)


def edge_order(src: Tensor, dst: Tensor, num_nodes: int) -> Tensor:
    """A stable parallel counting sort by target, then each target's edges by source: O(E + N),
    no comparison sort."""
    rowptr, col, perm = _ops.edge_csr(src, dst, num_nodes)
    return _ops.sort_rows(rowptr, col, perm)[1]


def first_seen(dst: Tensor, src: Tensor):
    return _ops.first_seen(dst, src)


def batch_graphs(node_ptr: Tensor, edge_ptr: Tensor, row_count: Tensor, col: Tensor, index: Tensor):
    return _ops.batch_graphs(node_ptr, edge_ptr, row_count, col, index)


def random_walk(adj: Adj, start: Tensor, walk_length: int, p: float = 1.0, q: float = 1.0,
                seed: int = 0) -> Tensor:
    colptr, row_t, _ = adj.csc()  # out-neighbour lists, sorted
    return _ops.random_walk(colptr, row_t, start, walk_length, float(p), float(q), int(seed))


def neighbor_sets(adj: Adj, first: Tensor, second: Tensor, which: str = "common") -> Adj:
    rowptr, col = adj.int32()
    ptr, nodes = _ops.neighbor_sets(rowptr, col, first, second, which)
    return Adj.trusted(ptr, nodes, None, (first.shape[0], adj.shape[1]))


def dropout(x: Tensor, p: float, seed: int, relu: bool = False) -> Tensor:
    return _call("dropout", None, x, float(p), int(seed), bool(relu))


def pair_product(x: Tensor, first: Tensor, second: Tensor) -> Tensor:
    out = _call("pair_product", None, _flat(x), first, second)
    return out if x.dim() == 2 else out.view((first.shape[0],) + tuple(x.shape[1:]))


def block_spmm(adj: Adj, blocks: Tensor, x: Tensor) -> Tensor:
    rowptr, col = adj.int32()
    return _call("block_spmm", adj, rowptr, col, blocks, x)


def sgns_train(walks: Tensor, num_nodes: int, dim: int, window: int = 5, negative: int = 5, epochs: int = 1,
               alpha: float = 0.025, min_alpha: float = 0.0001, sample: float = 1e-3, seed: int = 0) -> Tensor:
    """The kernel runs on the CPU (Hogwild threads): walks on another device are trained there and
    the vectors returned to the walks' device."""
    vectors = _ops.sgns_train(walks.cpu(), num_nodes, dim, window, negative, epochs, alpha, min_alpha, sample, seed)
    return vectors.to(walks.device)
