"""The native backend: graphkit's own C++ (and, where torch has CUDA, CUDA) kernels,
``torch.ops.graphkit``, behind the op API.

Autograd and fake (meta) kernels of every custom op are registered here, in one place, with
``torch.library.register_autograd`` and ``register_fake``, so the ops work under
``torch.compile``. Backward passes go through the cached transpose (CSC) of the graph, never
through atomics, so CPU results are deterministic. ``sddmm`` with ``add``/``mul`` and inputs of
more than one feature dimension run the reference implementation. ``random_walk`` draws from its
own counter-based streams, so its walks differ from the reference's (torch.Generator) for the
same seed; both are deterministic given the seed. Every function has the signature of
:mod:`graphkit.ops.reference`.
"""
from __future__ import annotations

import math
import weakref
from typing import Dict, Optional, Tuple

import torch
from torch import Tensor

from ..adj import Adj
from . import reference
from .build import load_native

HAS_CUDA = load_native()  # whether the CUDA kernels were built (torch with CUDA and a toolkit)
_ops = torch.ops.graphkit
_REDUCE = {"sum": 0, "mean": 1, "max": 2, "min": 3}


# ----------------------------------------------------------------------------- fake kernels
@torch.library.register_fake("graphkit::spmm")
def _spmm_fake(rowptr, col, weight, x, reduce, colptr, row_t, perm, weight_t=None):
    m = rowptr.shape[0] - 1
    out = x.new_empty((m, x.shape[1]))
    arg = x.new_empty((m, x.shape[1]) if reduce >= 2 else (0,), dtype=torch.long)
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
def _sddmm_fake(rowptr, col, a, b, heads, colptr, row_t, perm):
    return a.new_empty((col.shape[0], heads))


@torch.library.register_fake("graphkit::segment_softmax")
def _segment_softmax_fake(rowptr, scores):
    return torch.empty_like(scores)


@torch.library.register_fake("graphkit::segment_softmax_backward")
def _segment_softmax_backward_fake(rowptr, out, grad):
    return torch.empty_like(out)


@torch.library.register_fake("graphkit::gat_aggregate")
def _gat_aggregate_fake(rowptr, col, x, a_src, a_dst, negative_slope, colptr, row_t, perm):
    return x.new_empty((rowptr.shape[0] - 1, x.shape[1])), x.new_empty((col.shape[0], a_src.shape[1]))


@torch.library.register_fake("graphkit::gat_aggregate_backward")
def _gat_aggregate_backward_fake(rowptr, col, x, a_src, a_dst, alpha, grad_out, grad_alpha, negative_slope,
                                 colptr, row_t, perm):
    return torch.empty_like(x), torch.empty_like(a_src), torch.empty_like(a_dst)


@torch.library.register_fake("graphkit::segment_reduce")
def _segment_reduce_fake(rowptr, src, reduce):
    m = rowptr.shape[0] - 1
    return src.new_empty((m, src.shape[1])), src.new_empty((m, src.shape[1]) if reduce >= 2 else (0,),
                                                           dtype=torch.long)


@torch.library.register_fake("graphkit::gather")
def _gather_fake(x, index):
    return x.new_empty((index.shape[0], x.shape[1]))


@torch.library.register_fake("graphkit::gather_backward")
def _gather_backward_fake(ptr, perm, grad):
    return grad.new_empty((ptr.shape[0] - 1, grad.shape[1]))


@torch.library.register_fake("graphkit::neighbor_sets")
def _neighbor_sets_fake(rowptr, col, first, second, mode):
    ctx = torch.library.get_ctx()
    return first.new_empty((first.shape[0] + 1,), dtype=torch.long), \
        col.new_empty((ctx.new_dynamic_size(),))


@torch.library.register_fake("graphkit::csr_transpose")
def _csr_transpose_fake(rowptr, col, num_cols):
    return col.new_empty(num_cols + 1), torch.empty_like(col), torch.empty_like(col)


@torch.library.register_fake("graphkit::block_spmm")
def _block_spmm_fake(rowptr, col, blocks, x, colptr, row_t, perm):
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


# ----------------------------------------------------------------------------- autograd
def _expand_rows(rowptr: Tensor) -> Tensor:
    return torch.repeat_interleave(torch.arange(rowptr.numel() - 1, device=rowptr.device), rowptr.diff())


def _inverse_degree(rowptr: Tensor, dtype: torch.dtype) -> Tensor:
    return rowptr.diff().clamp(min=1).to(dtype).reciprocal()


def _spmm_setup(ctx, inputs, output):
    rowptr, col, weight, x, reduce, colptr, row_t, perm, weight_t = inputs
    ctx.reduce = reduce
    ctx.num_src = x.shape[0]
    ctx.weight_is_2d = weight is not None and weight.dim() == 2
    ctx.has_weight = weight is not None
    ctx.has_weight_t = weight_t is not None
    none = x.new_empty(0)
    ctx.save_for_backward(rowptr, col, none if weight is None else weight, x, colptr, row_t, perm, output[1],
                          none if weight_t is None else weight_t)


def _spmm_backward(ctx, grad_out, _grad_arg):
    rowptr, col, weight, x, colptr, row_t, perm, arg, weight_t = ctx.saved_tensors
    weight = weight if ctx.has_weight else None
    empty = col.new_empty(0)
    heads = weight.shape[1] if ctx.weight_is_2d else 1
    grad_x = grad_weight = None
    if ctx.reduce <= 1:  # sum / mean: the transpose times grad_out, and per-edge dot products
        if ctx.reduce == 1 and not ctx.has_weight_t:  # (weight_t has the 1 / degree folded in)
            grad_out = grad_out * _inverse_degree(rowptr, grad_out.dtype).unsqueeze(-1)
        if ctx.needs_input_grad[3] and colptr.numel() == 0:  # no transpose: scatter through the CSR
            grad_x = _ops.spmm_transpose_scatter(rowptr, col, weight, grad_out, ctx.num_src)
        elif ctx.needs_input_grad[3] and ctx.has_weight_t:  # weights already in CSC order
            grad_x = _ops.spmm_transpose(colptr, row_t, perm.new_empty(0), weight_t, grad_out)
        elif ctx.needs_input_grad[3]:
            grad_x = _ops.spmm_transpose(colptr, row_t, perm, weight, grad_out)
        if ctx.needs_input_grad[2]:
            grad_weight = _ops.sddmm(rowptr, col, grad_out, x, heads, empty, empty, empty)
            grad_weight = grad_weight if ctx.weight_is_2d else grad_weight.view(-1)
    else:  # max / min: the gradient goes to the arg entry of each output element
        if ctx.needs_input_grad[3]:
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
    return None, None, grad_weight, grad_x, None, None, None, None, None


torch.library.register_autograd("graphkit::spmm", _spmm_backward, setup_context=_spmm_setup)


def _sddmm_setup(ctx, inputs, output):
    rowptr, col, a, b, heads, colptr, row_t, perm = inputs
    ctx.heads = heads
    ctx.save_for_backward(rowptr, col, a, b, colptr, row_t, perm)


def _sddmm_backward(ctx, grad):
    rowptr, col, a, b, colptr, row_t, perm = ctx.saved_tensors
    grad_a = grad_b = None
    empty = col.new_empty(0)
    weight = grad if ctx.heads > 1 else grad.view(-1)
    if ctx.needs_input_grad[2]:
        grad_a = _ops.spmm(rowptr, col, weight, b, 0, empty, empty, empty)[0]
    if ctx.needs_input_grad[3]:
        grad_b = _ops.spmm_transpose(colptr, row_t, perm, weight, a)
    return None, None, grad_a, grad_b, None, None, None, None


torch.library.register_autograd("graphkit::sddmm", _sddmm_backward, setup_context=_sddmm_setup)


def _softmax_setup(ctx, inputs, output):
    ctx.save_for_backward(inputs[0], output)


def _softmax_backward(ctx, grad):
    rowptr, out = ctx.saved_tensors
    return None, _ops.segment_softmax_backward(rowptr, out, grad)


torch.library.register_autograd("graphkit::segment_softmax", _softmax_backward, setup_context=_softmax_setup)


def _gat_setup(ctx, inputs, output):
    rowptr, col, x, a_src, a_dst, negative_slope, colptr, row_t, perm = inputs
    ctx.negative_slope = negative_slope
    ctx.save_for_backward(rowptr, col, x, a_src, a_dst, colptr, row_t, perm, output[1])


def _gat_backward(ctx, grad_out, grad_alpha):
    rowptr, col, x, a_src, a_dst, colptr, row_t, perm, alpha = ctx.saved_tensors
    grad_out = x.new_zeros((rowptr.numel() - 1, x.shape[1])) if grad_out is None else grad_out
    grad_alpha = alpha.new_empty(0) if grad_alpha is None else grad_alpha
    grad_x, grad_src, grad_dst = _ops.gat_aggregate_backward(rowptr, col, x, a_src, a_dst, alpha, grad_out,
                                                             grad_alpha, ctx.negative_slope, colptr, row_t, perm)
    return None, None, grad_x, grad_src, grad_dst, None, None, None, None


torch.library.register_autograd("graphkit::gat_aggregate", _gat_backward, setup_context=_gat_setup)


def _segment_reduce_setup(ctx, inputs, output):
    rowptr, src, reduce = inputs
    ctx.reduce, ctx.num_edges = reduce, src.shape[0]
    ctx.save_for_backward(rowptr, output[1])


def _segment_reduce_backward(ctx, grad_out, _grad_arg):
    rowptr, arg = ctx.saved_tensors
    if ctx.reduce <= 1:  # every message of row i receives grad_out[i] (/ deg i for the mean)
        if ctx.reduce == 1:
            grad_out = grad_out * _inverse_degree(rowptr, grad_out.dtype).unsqueeze(-1)
        return None, _ops.gather(grad_out, _expand_rows(rowptr)), None
    width = grad_out.shape[1]
    grad_src = grad_out.new_zeros((ctx.num_edges + 1) * width)  # row E collects empty rows' zeros
    target = arg * width + torch.arange(width, device=arg.device)
    grad_src.scatter_(0, target.view(-1), grad_out.reshape(-1))  # each (edge, feature) at most once
    return None, grad_src[: ctx.num_edges * width].view(ctx.num_edges, width), None


torch.library.register_autograd("graphkit::segment_reduce", _segment_reduce_backward,
                                setup_context=_segment_reduce_setup)

_GROUPS: Dict[int, tuple] = {}


def _index_groups(index: Tensor, num_rows: int) -> Tuple[Tensor, Tensor]:
    """``(ptr [num_rows + 1], perm [K])``: the positions of ``index`` grouped by value (stable), cached
    on the tensor's identity and version like :func:`graphkit.to_adj`."""
    key = id(index)
    entry = _GROUPS.get(key)
    if entry is not None and entry[0]() is index and entry[1] == index._version and entry[2] == num_rows:
        return entry[3]
    perm = torch.argsort(index, stable=True)
    ptr = torch.zeros(num_rows + 1, dtype=torch.long, device=index.device)
    torch.cumsum(torch.bincount(index, minlength=num_rows), 0, out=ptr[1:])
    small = index.numel() < 2 ** 31 and num_rows < 2 ** 31
    groups = (ptr.int(), perm.int()) if small else (ptr, perm)
    _GROUPS[key] = (weakref.ref(index, lambda _, k=key: _GROUPS.pop(k, None)), index._version, num_rows, groups)
    return groups


def _gather_setup(ctx, inputs, output):
    x, index = inputs
    ctx.save_for_backward(*_index_groups(index, x.shape[0]))


def _gather_backward(ctx, grad):
    ptr, perm = ctx.saved_tensors
    return _ops.gather_backward(ptr, perm, grad), None


torch.library.register_autograd("graphkit::gather", _gather_backward, setup_context=_gather_setup)


def _block_spmm_setup(ctx, inputs, output):
    rowptr, col, blocks, x, colptr, row_t, perm = inputs
    ctx.save_for_backward(rowptr, col, blocks, x, colptr, row_t, perm)


def _block_spmm_backward(ctx, grad):
    rowptr, col, blocks, x, colptr, row_t, perm = ctx.saved_tensors
    grad_blocks = _ops.block_spmm_blocks_grad(rowptr, col, grad, x) if ctx.needs_input_grad[2] else None
    grad_x = _ops.block_spmm_transpose(colptr, row_t, perm, blocks, grad) if ctx.needs_input_grad[3] else None
    return None, None, grad_blocks, grad_x, None, None, None


torch.library.register_autograd("graphkit::block_spmm", _block_spmm_backward, setup_context=_block_spmm_setup)


def _pair_product_setup(ctx, inputs, output):
    x, first, second = inputs
    ends = torch.cat([first, second])
    ptr, perm = _index_groups(ends, x.shape[0])
    ctx.save_for_backward(ptr, perm, torch.cat([second, first]), x)


def _pair_product_backward(ctx, grad):
    ptr, perm, other, x = ctx.saved_tensors
    return _ops.pair_product_backward(ptr, perm, other, x, grad), None, None


torch.library.register_autograd("graphkit::pair_product", _pair_product_backward, setup_context=_pair_product_setup)


def _dropout_setup(ctx, inputs, output):
    _, ctx.p, ctx.seed, ctx.relu = inputs
    ctx.save_for_backward(output if ctx.relu else None)


def _dropout_backward(ctx, grad):
    out, = ctx.saved_tensors
    return _ops.dropout_backward(grad, grad if out is None else out, ctx.p, ctx.seed, ctx.relu), None, None, None


torch.library.register_autograd("graphkit::dropout", _dropout_backward, setup_context=_dropout_setup)


# ----------------------------------------------------------------------------- backend API
def supports(device: torch.device) -> bool:
    """Whether this backend has kernels for tensors on ``device``."""
    return device.type == "cpu" or (device.type == "cuda" and HAS_CUDA)


def _flat(t: Tensor) -> Tensor:
    """``[K, *F]`` as ``[K, prod(F)]`` (also for K == 0)."""
    return t.reshape(t.shape[0], math.prod(t.shape[1:]))


def _csc_int32(adj: Adj) -> Tuple[Tensor, Tensor, Tensor]:
    """``adj.csc_int32()``, built on the CPU by the counting-sort kernel (O(E + N)) instead of a
    comparison sort, and kept in the Adj's structure cache."""
    shared = adj._structure_cache()
    if adj.device.type == "cpu" and "csc_int32" not in shared and "csc" not in shared and adj.num_edges:
        rowptr, col = adj.int32()
        adj.adopt_csc(*_ops.csr_transpose(rowptr, col, adj.shape[1]))
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


def spmm(adj: Adj, x: Tensor, reduce: str = "sum", weight: Optional[Tensor] = None) -> Tensor:
    rowptr, col = adj.int32()  # half the index traffic of int64
    weight_t = None
    needs_grad = torch.is_grad_enabled() and x.requires_grad
    if needs_grad and _scatter_backward(adj, x, reduce):
        colptr = row_t = perm = col.new_empty(0)  # the backward scatters through the CSR
    elif needs_grad:  # the transpose serves only the gradient of x
        colptr, row_t, perm = _csc_int32(adj)
        if reduce in ("sum", "mean") and (weight is None or (weight is adj.value and not weight.requires_grad)):
            weight_t = adj.csc_weights(mean=reduce == "mean", weighted=weight is not None)  # cached; in sequence
            weight_t = None if weight_t is None else weight_t.to(x.dtype)
    else:
        colptr = row_t = perm = col.new_empty(0)
    out, _ = _ops.spmm(rowptr, col, weight, _flat(x), _REDUCE[reduce], colptr, row_t, perm, weight_t)
    return out.view((adj.shape[0],) + tuple(x.shape[1:]))


def sddmm(adj: Adj, a: Tensor, b: Tensor, op: str = "dot") -> Tensor:
    if op != "dot" or a.dim() > 3:
        return reference.sddmm(adj, a, b, op)
    heads = a.shape[1] if a.dim() == 3 else 1
    colptr, row_t, perm = _csc_int32(adj)
    rowptr, col = adj.int32()
    out = _ops.sddmm(rowptr, col, _flat(a), _flat(b), heads,
                     colptr, row_t, perm)
    return out if a.dim() == 3 else out.view(-1)


def segment_softmax(adj: Adj, scores: Tensor) -> Tensor:
    if scores.dim() > 2:
        return reference.segment_softmax(adj, scores)
    return _ops.segment_softmax(adj.int32()[0], scores)


def gat_aggregate(adj: Adj, x: Tensor, score_src: Tensor, score_dst: Tensor, negative_slope: float = 0.2):
    colptr, row_t, perm = _csc_int32(adj)
    rowptr, col = adj.int32()
    out, alpha = _ops.gat_aggregate(rowptr, col, _flat(x), score_src, score_dst,
                                    float(negative_slope), colptr, row_t, perm)
    return out.view((adj.shape[0],) + tuple(x.shape[1:])), alpha


def segment_reduce(src: Tensor, adj: Adj, reduce: str = "sum") -> Tensor:
    out, _ = _ops.segment_reduce(adj.int32()[0], _flat(src), _REDUCE[reduce])
    return out.view((adj.shape[0],) + tuple(src.shape[1:]))


def gather(x: Tensor, index: Tensor) -> Tensor:
    return _ops.gather(_flat(x), index).view((index.shape[0],) + tuple(x.shape[1:]))


def random_walk(adj: Adj, start: Tensor, walk_length: int, p: float = 1.0, q: float = 1.0,
                seed: int = 0) -> Tensor:
    colptr, row_t, _ = adj.csc()  # out-neighbour lists, sorted
    return _ops.random_walk(colptr, row_t, start, walk_length, float(p), float(q), int(seed))


def neighbor_sets(adj: Adj, first: Tensor, second: Tensor, which: str = "common") -> Adj:
    rowptr, col = adj.int32()
    ptr, nodes = _ops.neighbor_sets(rowptr, col, first, second, reference.NEIGHBOR_SETS.index(which))
    return Adj(ptr, nodes, None, (first.shape[0], adj.shape[1]))


def dropout(x: Tensor, p: float, seed: int, relu: bool = False) -> Tensor:
    return _ops.dropout(x, float(p), int(seed), bool(relu))


def pair_product(x: Tensor, first: Tensor, second: Tensor) -> Tensor:
    return _ops.pair_product(_flat(x), first, second).view((first.shape[0],) + tuple(x.shape[1:]))


def block_spmm(adj: Adj, blocks: Tensor, x: Tensor) -> Tensor:
    rowptr, col = adj.int32()
    colptr, row_t, perm = _csc_int32(adj) if adj.device.type == "cpu" else adj.csc_int32()
    return _ops.block_spmm(rowptr, col, blocks, x, colptr, row_t, perm)
