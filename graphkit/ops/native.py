"""The native backend: graphkit's own C++ kernels (``torch.ops.graphkit``) behind the op API.

Autograd and fake (meta) kernels of every custom op are registered here, in one place, with
``torch.library.register_autograd`` and ``register_fake``. Ops without a native kernel yet
(``sddmm`` ``add``/``mul``, ``segment_reduce``, ``gather``) run the reference implementation.
``random_walk`` draws from its own counter-based streams, so its walks differ from the
reference's (torch.Generator) for the same seed; both are deterministic given the seed.
Every function has the signature of :mod:`graphkit.ops.reference`.
"""
from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor

from ..adj import Adj
from . import reference
from .build import load_native

load_native()
_ops = torch.ops.graphkit
_REDUCE = {"sum": 0, "mean": 1, "max": 2, "min": 3}


# ----------------------------------------------------------------------------- fake kernels
@torch.library.register_fake("graphkit::spmm")
def _spmm_fake(rowptr, col, weight, x, reduce, colptr, row_t, perm):
    m = rowptr.shape[0] - 1
    out = x.new_empty((m, x.shape[1]))
    arg = x.new_empty((m, x.shape[1]) if reduce >= 2 else (0,), dtype=torch.long)
    return out, arg


@torch.library.register_fake("graphkit::spmm_arg_backward")
def _spmm_arg_backward_fake(colptr, row_t, perm, weight, arg, grad_out, num_src):
    return grad_out.new_empty((num_src, grad_out.shape[1]))


@torch.library.register_fake("graphkit::sddmm")
def _sddmm_fake(rowptr, col, a, b, heads, colptr, row_t, perm):
    return a.new_empty((col.shape[0], heads))


@torch.library.register_fake("graphkit::segment_softmax")
def _segment_softmax_fake(rowptr, scores):
    return torch.empty_like(scores)


@torch.library.register_fake("graphkit::gat_aggregate")
def _gat_aggregate_fake(rowptr, col, x, a_src, a_dst, negative_slope, colptr, row_t, perm):
    return x.new_empty((rowptr.shape[0] - 1, x.shape[1])), x.new_empty((col.shape[0], a_src.shape[1]))


@torch.library.register_fake("graphkit::random_walk")
def _random_walk_fake(rowptr, col, start, walk_length, p, q, seed):
    return start.new_empty((start.shape[0], walk_length + 1), dtype=torch.long)


@torch.library.register_fake("graphkit::segment_softmax_backward")
def _segment_softmax_backward_fake(rowptr, out, grad):
    return torch.empty_like(out)


# ----------------------------------------------------------------------------- autograd
def _expand_rows(rowptr: Tensor) -> Tensor:
    return torch.repeat_interleave(torch.arange(rowptr.numel() - 1, device=rowptr.device), rowptr.diff())


def _spmm_setup(ctx, inputs, output):
    rowptr, col, weight, x, reduce, colptr, row_t, perm = inputs
    ctx.reduce = reduce
    ctx.num_src = x.shape[0]
    ctx.weight_is_2d = weight is not None and weight.dim() == 2
    ctx.has_weight = weight is not None
    ctx.save_for_backward(rowptr, col, weight if weight is not None else x.new_empty(0), x, colptr, row_t, perm,
                          output[1])


def _spmm_backward(ctx, grad_out, _grad_arg):
    rowptr, col, weight, x, colptr, row_t, perm, arg = ctx.saved_tensors
    weight = weight if ctx.has_weight else None
    empty = col.new_empty(0)  # no transpose needed where no second backward is taken
    heads = weight.shape[1] if ctx.weight_is_2d else 1
    grad_x = grad_weight = None
    if ctx.reduce <= 1:  # sum / mean: the transpose times grad_out, and per-edge dot products
        scale = None
        if ctx.reduce == 1:
            scale = rowptr.diff().clamp(min=1).to(grad_out.dtype).reciprocal()[_expand_rows(rowptr)]
            if ctx.weight_is_2d:
                scale = scale.unsqueeze(-1)
        if ctx.needs_input_grad[3]:
            w = weight if scale is None else (scale if weight is None else weight * scale)
            grad_x = _ops.spmm(colptr, row_t, None if w is None else w[perm], grad_out, 0,
                               rowptr, col, empty)[0]
        if ctx.needs_input_grad[2]:
            grad_weight = _ops.sddmm(rowptr, col, grad_out, x, heads, empty, empty, empty)
            grad_weight = grad_weight if scale is None else grad_weight * (scale if ctx.weight_is_2d
                                                                            else scale.unsqueeze(-1))
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
            x_at_arg = x.gather(0, col[safe])                         # [M, F] source feature of the arg edge
            contrib = (grad_out * x_at_arg).masked_fill(~valid, 0)
            feature = torch.arange(x.shape[1], device=x.device) // (x.shape[1] // heads)
            flat = (safe * heads + feature).view(-1)
            grad_weight = grad_out.new_zeros(num_edges * heads).index_add_(0, flat, contrib.view(-1))
            grad_weight = grad_weight.view(num_edges, heads) if ctx.weight_is_2d else grad_weight
    return None, None, grad_weight, grad_x, None, None, None, None


torch.library.register_autograd("graphkit::spmm", _spmm_backward, setup_context=_spmm_setup)


def _sddmm_setup(ctx, inputs, output):
    rowptr, col, a, b, heads, colptr, row_t, perm = inputs
    ctx.heads = heads
    ctx.save_for_backward(rowptr, col, a, b, colptr, row_t, perm)


def _sddmm_backward(ctx, grad):
    rowptr, col, a, b, colptr, row_t, perm = ctx.saved_tensors
    grad_a = grad_b = None
    empty = col.new_empty(0)
    if ctx.needs_input_grad[2]:
        grad_a = _ops.spmm(rowptr, col, grad if ctx.heads > 1 else grad.view(-1), b, 0, empty, empty, empty)[0]
    if ctx.needs_input_grad[3]:
        g = grad[perm]
        grad_b = _ops.spmm(colptr, row_t, g if ctx.heads > 1 else g.view(-1), a, 0, empty, empty, empty)[0]
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
    empty = col.new_empty(0)
    heads = a_src.shape[1]
    g_alpha = _ops.sddmm(rowptr, col, grad_out, x, heads, empty, empty, empty)   # [E, H]
    if grad_alpha is not None:
        g_alpha = g_alpha + grad_alpha
    grad_x = _ops.spmm(colptr, row_t, alpha[perm], grad_out, 0, rowptr, col, empty)[0]
    g_score = _ops.segment_softmax_backward(rowptr, alpha, g_alpha)
    row = _expand_rows(rowptr)
    raw = a_dst[row] + a_src[col]
    g_raw = g_score * torch.where(raw > 0, 1.0, ctx.negative_slope).to(g_score.dtype)
    grad_a_dst = torch.zeros_like(a_dst).index_add_(0, row, g_raw)
    grad_a_src = torch.zeros_like(a_src).index_add_(0, col, g_raw)
    return None, None, grad_x, grad_a_src, grad_a_dst, None, None, None, None


torch.library.register_autograd("graphkit::gat_aggregate", _gat_backward, setup_context=_gat_setup)


# ----------------------------------------------------------------------------- backend API
def spmm(adj: Adj, x: Tensor, reduce: str = "sum", weight: Optional[Tensor] = None) -> Tensor:
    colptr, row_t, perm = adj.csc()
    rowptr, col = adj.int32()  # half the index traffic of int64
    flat = x.reshape(x.shape[0], -1)
    out, _ = _ops.spmm(rowptr, col, weight, flat, _REDUCE[reduce], colptr, row_t, perm)
    return out.view((adj.shape[0],) + tuple(x.shape[1:]))


def sddmm(adj: Adj, a: Tensor, b: Tensor, op: str = "dot") -> Tensor:
    if op != "dot" or a.dim() > 3:
        return reference.sddmm(adj, a, b, op)
    heads = a.shape[1] if a.dim() == 3 else 1
    colptr, row_t, perm = adj.csc()
    out = _ops.sddmm(adj.rowptr, adj.col, a.reshape(a.shape[0], -1), b.reshape(b.shape[0], -1), heads,
                     colptr, row_t, perm)
    return out if a.dim() == 3 else out.view(-1)


def segment_softmax(adj: Adj, scores: Tensor) -> Tensor:
    if scores.dim() > 2:
        return reference.segment_softmax(adj, scores)
    return _ops.segment_softmax(adj.rowptr, scores)


def gat_aggregate(adj: Adj, x: Tensor, score_src: Tensor, score_dst: Tensor, negative_slope: float = 0.2):
    colptr, row_t, perm = adj.csc()
    rowptr, col = adj.int32()
    out, alpha = _ops.gat_aggregate(rowptr, col, x.reshape(x.shape[0], -1), score_src, score_dst,
                                    float(negative_slope), colptr, row_t, perm)
    return out.view((adj.shape[0],) + tuple(x.shape[1:])), alpha


def random_walk(adj: Adj, start: Tensor, walk_length: int, p: float = 1.0, q: float = 1.0,
                seed: int = 0) -> Tensor:
    colptr, row_t, _ = adj.csc()  # out-neighbour lists, sorted
    return _ops.random_walk(colptr, row_t, start, walk_length, float(p), float(q), int(seed))


segment_reduce = reference.segment_reduce
gather = reference.gather
