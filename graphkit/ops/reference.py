"""Pure-torch reference implementation of graphkit's operators.

Vectorised over edges (torch sparse CSR products, ``index_add_``, ``scatter_reduce``),
with hand-written autograd where the generic one would be wasteful or ambiguous:

* ``spmm`` sum: forward is a CSR x dense product; backward uses the cached transpose
  for ``dL/dx`` and a chunked edge-wise dot product for ``dL/dweight``.
* max/min reductions route the gradient to one arg index per output entry (the first
  edge reaching the extremum), as torch-scatter does, instead of splitting it among ties.
* ``sddmm`` ``dot``: backward is two ``spmm`` calls, so no ``[E, F]`` tensor is saved.

Every function here has the signature of its public counterpart in :mod:`graphkit.ops`,
which validates the arguments before calling it.
"""
from __future__ import annotations

import warnings
from typing import Optional

import torch
from torch import Tensor

from ..adj import Adj
from ..utils.checksum import checksum_torch as checksum  # noqa: F401  (the content checksum, pure torch)
from ..utils.checksum import splitmix64, stream_uniform, stream_words

_EDGE_CHUNK_ELEMENTS = 1 << 24  # bound on the [chunk, F] temporaries of edge-wise products


# ----------------------------------------------------------------------------- helpers
def _ones(adj: Adj, dtype: torch.dtype) -> Tensor:
    return adj.structure_cached(("ones", dtype), lambda: torch.ones(adj.num_edges, dtype=dtype, device=adj.device))


def _csr_matmul(adj: Adj, value: Optional[Tensor], x: Tensor) -> Tensor:
    """``A @ x`` for ``x`` ``[num_src, F]`` with entry values ``value`` ``[E]`` (None = ones)."""
    value = _ones(adj, x.dtype) if value is None else value.to(x.dtype).contiguous()
    x = x.contiguous()
    if x.dtype in (torch.float32, torch.float64) and adj.num_edges > 0 and x.size(1) > 0:
        rowptr, col = adj.int32()
        with warnings.catch_warnings(), torch.autocast(x.device.type, enabled=False):
            warnings.simplefilter("ignore")  # "sparse CSR support is in beta"
            matrix = torch.sparse_csr_tensor(rowptr, col, value, adj.shape, check_invariants=False)
            return torch.sparse.mm(matrix, x)  # in x's dtype, as the native kernels (autocast has no sparse bf16)
    out = x.new_zeros(adj.shape[0], x.size(1))
    if adj.num_edges > 0:
        out.index_add_(0, adj.row, x.index_select(0, adj.col) * value.unsqueeze(-1))
    return out


def _edge_dot(adj: Adj, a: Tensor, b: Tensor) -> Tensor:
    """``out[e] = <a[row[e]], b[col[e]]>`` over the last dim, for ``a`` ``[M, *S, F]``,
    ``b`` ``[N, *S, F]``; returns ``[E, *S]``. Chunked over edges to bound memory."""
    row, col = adj.row, adj.col
    out = a.new_empty((adj.num_edges,) + tuple(a.shape[1:-1]))
    step = max(1, _EDGE_CHUNK_ELEMENTS // max(1, a[0].numel()))
    for start in range(0, adj.num_edges, step):
        r, c = row[start:start + step], col[start:start + step]
        out[start:start + step] = (a.index_select(0, r) * b.index_select(0, c)).sum(-1)
    return out


def _spmm_sum_forward(adj: Adj, x: Tensor, weight: Optional[Tensor]) -> Tensor:
    if weight is not None and weight.dim() == 2:  # per-head weights [E, H] with x [N, H, C]
        heads = [_csr_matmul(adj, weight[:, h], x[:, h].reshape(x.size(0), -1)) for h in range(weight.size(1))]
        return torch.stack(heads, dim=1).view(adj.shape[0], *x.shape[1:])
    out = _csr_matmul(adj, weight, x.reshape(x.size(0), -1))
    return out.view(adj.shape[0], *x.shape[1:])


class _SpmmSum(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: Tensor, weight: Optional[Tensor], adj: Adj) -> Tensor:
        ctx.adj = adj
        ctx.save_for_backward(x, weight)
        return _spmm_sum_forward(adj, x, weight)

    @staticmethod
    def backward(ctx, grad_out: Tensor):
        x, weight = ctx.saved_tensors
        adj: Adj = ctx.adj
        grad_x = grad_weight = None
        if ctx.needs_input_grad[0]:
            _, _, perm = adj.csc()
            adj_t = adj.t()
            grad_x = _spmm_sum_forward(adj_t, grad_out, None if weight is None else weight[perm])
        if ctx.needs_input_grad[1]:
            if weight.dim() == 2:
                grad_weight = _edge_dot(adj, grad_out, x)  # [E, H]
            else:
                g = grad_out.reshape(grad_out.size(0), -1)
                grad_weight = _edge_dot(adj, g, x.reshape(x.size(0), -1))
        return grad_x, grad_weight, None


class _ArgReduce(torch.autograd.Function):
    """max/min over CSR segments of ``src`` ``[E, *F]``; the gradient goes to the arg index."""

    @staticmethod
    def forward(ctx, src: Tensor, adj: Adj, reduce: str) -> Tensor:
        num_rows, num_entries = adj.shape[0], src.size(0)
        index = adj.row.view(-1, *([1] * (src.dim() - 1))).expand_as(src)
        out = src.new_zeros((num_rows,) + tuple(src.shape[1:]))
        out.scatter_reduce_(0, index, src, "amax" if reduce == "max" else "amin", include_self=False)
        position = torch.arange(num_entries, device=src.device).view(-1, *([1] * (src.dim() - 1)))
        chosen = out.index_select(0, adj.row)
        hit = (src == chosen) | (src.isnan() & chosen.isnan())  # a NaN result comes from the first NaN entry
        candidate = torch.where(hit, position.expand_as(src), num_entries)
        arg = torch.full_like(out, num_entries, dtype=torch.long)
        arg.scatter_reduce_(0, index, candidate, "amin", include_self=True)
        ctx.save_for_backward(arg)
        ctx.num_entries = num_entries
        ctx.mark_non_differentiable(arg)
        return out, arg

    @staticmethod
    def backward(ctx, grad_out: Tensor, _grad_arg=None):
        (arg,) = ctx.saved_tensors
        grad_src = grad_out.new_zeros((ctx.num_entries + 1,) + tuple(grad_out.shape[1:]))
        grad_src.scatter_(0, arg, grad_out)  # each non-sentinel arg is unique per column
        return grad_src[:-1], None, None


# ----------------------------------------------------------------------------- operators
def spmm(adj: Adj, x: Tensor, reduce: str = "sum", weight: Optional[Tensor] = None,
         self_weight: Optional[float] = None) -> Tensor:
    out = _spmm(adj, x, reduce, weight)
    return out if self_weight is None else out + self_weight * x


def _spmm(adj: Adj, x: Tensor, reduce: str, weight: Optional[Tensor]) -> Tensor:
    if reduce == "sum":
        return _SpmmSum.apply(x, weight, adj)
    if reduce == "mean":
        inv_deg = adj.in_degree().clamp(min=1).to(x.dtype).reciprocal().index_select(0, adj.row)
        if weight is not None:
            inv_deg = weight * (inv_deg if weight.dim() == 1 else inv_deg.unsqueeze(-1))
        return _SpmmSum.apply(x, inv_deg, adj)
    message = gather(x, adj.col)
    if weight is not None:
        message = message * weight.view(weight.shape + (1,) * (x.dim() - weight.dim()))
    return segment_reduce(message, adj, reduce)


def segment_reduce(src: Tensor, adj: Adj, reduce: str = "sum") -> Tensor:
    if reduce in ("max", "min"):
        out, _ = _ArgReduce.apply(src, adj, reduce)
        return out
    out = src.new_zeros((adj.shape[0],) + tuple(src.shape[1:])).index_add(0, adj.row, src)
    if reduce == "mean":
        count = adj.in_degree().clamp(min=1).to(src.dtype)
        out = out / count.view(-1, *([1] * (src.dim() - 1)))
    return out


class _SddmmDot(torch.autograd.Function):
    @staticmethod
    def forward(ctx, a: Tensor, b: Tensor, adj: Adj) -> Tensor:
        ctx.adj = adj
        ctx.save_for_backward(a, b)
        return _edge_dot(adj, a, b)

    @staticmethod
    def backward(ctx, grad: Tensor):
        a, b = ctx.saved_tensors
        adj: Adj = ctx.adj
        grad_a = grad_b = None
        # d<a_i, b_j>/da_i = b_j: a weighted sum over each row; likewise for b over columns.
        if ctx.needs_input_grad[0]:
            grad_a = _spmm_sum_forward(adj, b, grad.contiguous())
        if ctx.needs_input_grad[1]:
            _, _, perm = adj.csc()
            grad_b = _spmm_sum_forward(adj.t(), a, grad[perm].contiguous())
        return grad_a, grad_b, None


def sddmm(adj: Adj, a: Tensor, b: Tensor, op: str = "dot") -> Tensor:
    if op == "dot":
        if a.dim() > 3:
            raise ValueError("sddmm 'dot' supports inputs [N, F] or [N, H, F]")
        return _SddmmDot.apply(a, b, adj)
    left, right = gather(a, adj.row), gather(b, adj.col)
    return left + right if op == "add" else left * right


def segment_softmax(adj: Adj, scores: Tensor) -> Tensor:
    row = adj.row
    index = row.view(-1, *([1] * (scores.dim() - 1))).expand_as(scores)
    shape = (adj.shape[0],) + tuple(scores.shape[1:])
    row_max = scores.new_full(shape, float("-inf")).scatter_reduce_(0, index, scores.detach(), "amax")
    exp = (scores - row_max.index_select(0, row)).exp()
    row_sum = scores.new_zeros(shape).index_add_(0, row, exp)
    return exp / row_sum.index_select(0, row)


def gather(x: Tensor, index: Tensor) -> Tensor:
    return x.index_select(0, index)


def block_spmm(adj: Adj, blocks: Tensor, x: Tensor) -> Tensor:
    """Per-entry ``d x d`` blocks times the gathered source stalks, summed over each row."""
    return segment_reduce(torch.bmm(blocks, x.index_select(0, adj.col)), adj, "sum")


def pair_product(x: Tensor, first: Tensor, second: Tensor) -> Tensor:
    return x.index_select(0, first) * x.index_select(0, second)


def random_walk(adj: Adj, start: Tensor, walk_length: int, p: float = 1.0, q: float = 1.0,
                seed: int = 0) -> Tensor:
    """Walks along out-edges, vectorised over walks (a loop over steps and rejection rounds)."""
    out_adj = adj.t()  # row u lists the targets of u's out-edges, sorted
    rowptr, col, num_nodes = out_adj.rowptr, out_adj.col, adj.shape[1]
    degree = rowptr.diff()
    keys = out_adj.row * num_nodes + col  # sorted: membership by binary search
    gen = torch.Generator(device=start.device).manual_seed(seed)
    inv_p, inv_q = 1.0 / p, 1.0 / q
    bound = max(inv_p, 1.0, inv_q)
    biased = p != 1.0 or q != 1.0

    def draw(nodes: Tensor) -> Tensor:
        offset = (torch.rand(nodes.numel(), generator=gen, device=nodes.device) * degree[nodes]).long()
        return col[rowptr[nodes] + offset]

    def is_edge(src: Tensor, dst: Tensor) -> Tensor:
        key = src * num_nodes + dst
        pos = torch.searchsorted(keys, key).clamp(max=max(keys.numel() - 1, 0))
        return keys[pos] == key if keys.numel() else torch.zeros_like(key, dtype=torch.bool)

    if start.numel() == 0:  # nothing to walk: no loop of walk_length empty steps
        return start.new_empty((0, walk_length + 1), dtype=torch.long)
    current, previous, steps = start.long(), None, [start.long()]
    for _ in range(walk_length):
        nxt = current.clone()
        pending = (degree[current] > 0).nonzero().view(-1)
        candidate = draw(current[pending])
        while pending.numel() > 0:
            if biased and previous is not None:
                before = previous[pending]
                weight = torch.where(candidate == before, inv_p,
                                     torch.where(is_edge(before, candidate), 1.0, inv_q))
                accept = torch.rand(pending.numel(), generator=gen, device=start.device) * bound < weight
            else:
                accept = torch.ones_like(pending, dtype=torch.bool)
            nxt[pending[accept]] = candidate[accept]
            pending = pending[~accept]
            candidate = draw(current[pending])
        previous, current = current, nxt
        steps.append(current)
    return torch.stack(steps, dim=1)


def gat_aggregate(adj: Adj, x: Tensor, score_src: Tensor, score_dst: Tensor,
                  negative_slope: float = 0.2):
    scores = sddmm(adj, score_dst, score_src, "add")
    alpha = segment_softmax(adj, torch.nn.functional.leaky_relu(scores, negative_slope))
    return spmm(adj, x, "sum", alpha), alpha


NEIGHBOR_SETS = ("common", "first_only", "second_only")


def neighbor_sets(adj: Adj, first: Tensor, second: Tensor, which: str = "common") -> Adj:
    """Per-pair sets of row ids, vectorised: every entry of the two rows becomes a key
    ``pair * N + id``; the sets are the keys of one side found (or not) among the other's."""
    num_pairs, n = first.numel(), adj.shape[1]
    rowptr, col = adj.rowptr, adj.col
    first, second = first.long(), second.long()

    def keys(rows: Tensor) -> Tensor:
        counts = rowptr[rows + 1] - rowptr[rows]
        pair = torch.repeat_interleave(torch.arange(num_pairs, device=rows.device), counts)
        starts = torch.repeat_interleave(rowptr[rows] - torch.cumsum(counts, 0) + counts, counts)
        entry = starts + torch.arange(pair.numel(), device=rows.device)
        return torch.unique(pair * n + col[entry])  # sorted, repeated ids once

    a, b = keys(first), keys(second)
    if which == "common":
        kept = a[torch.isin(a, b)]
    elif which == "first_only":
        kept = a[~torch.isin(a, b)]
    else:
        kept = b[~torch.isin(b, a)]
    ptr = torch.zeros(num_pairs + 1, dtype=torch.long, device=first.device)
    torch.cumsum(torch.bincount(kept // n, minlength=num_pairs), 0, out=ptr[1:])
    return Adj.trusted(ptr, kept % n, None, (num_pairs, n))


_SEED_MIX, _NODE_MIX = 0xD1B54A32D192ED03 - 2 ** 64, 0x9E3779B97F4A7C15 - 2 ** 64  # walk_step.h's stream start


def sample_hop(rowptr: Tensor, nodes: Tensor, weight: Optional[Tensor], fanout: int, replace: bool, seed: int):
    """The native ``sample_neighbors`` kernel's draws, bit for bit, vectorised over the nodes: Floyd's
    steps over all rows at once (uniform), or the weighted successive draws over the concatenated
    rows' integer prefix sums (weighted, ``weight`` float32 per CSR entry)."""
    start, deg = rowptr[nodes], rowptr[nodes + 1] - rowptr[nodes]
    q = None
    if weight is not None:  # the rows' quantised weights, concatenated: [sum(deg)]
        offsets = _offsets(deg)
        at = _ranges(start, offsets[:-1], deg, int(offsets[-1]))
        w = weight[at].to(torch.float64)
        row = torch.repeat_interleave(torch.arange(nodes.numel(), device=nodes.device), deg, output_size=w.numel())
        top = torch.zeros(nodes.numel(), dtype=torch.float64, device=nodes.device).scatter_reduce(0, row, w, "amax")
        q = torch.where(w > 0, (w / top[row] * _WEIGHT_SCALE + 0.5).floor().long().clamp(min=1), 0)
        avail = torch.zeros_like(deg).scatter_add_(0, row, (q > 0).long())
    else:
        avail = deg
    count = avail if fanout < 0 else (torch.where(avail > 0, fanout, 0) if replace else avail.clamp(max=fanout))
    ptr = _offsets(count)
    whole = (avail == count) & (not replace or fanout < 0)
    out = torch.empty(int(ptr[-1]), dtype=torch.long, device=nodes.device)
    rows = (whole & (count > 0)).nonzero().view(-1)  # whole rows: the row's (positive) positions in order
    if q is None:
        counts = count[rows]
        offsets, total = _offsets(counts)[:-1], int(counts.sum())
        out[_ranges(ptr[rows], offsets, counts, total)] = _ranges(start[rows], offsets, counts, total)
    else:
        keep = whole[row] & (q > 0)
        out[_ranges(ptr[rows], _offsets(count[rows])[:-1], count[rows], int(count[rows].sum()))] = at[keep]
    rows = (~whole & (count > 0)).nonzero().view(-1)  # drawn rows: exactly fanout draws each
    if rows.numel():
        state = (torch.tensor(seed, dtype=torch.int64) * _SEED_MIX) ^ (nodes[rows] * _NODE_MIX)  # wrapping int64
        uniform = stream_uniform(state, fanout)  # [rows, fanout]
        chosen = (_weighted_draws(q, deg, rows, uniform, replace) if q is not None
                  else _uniform_draws(deg[rows], uniform, replace))
        picks = chosen.sort(1).values + start[rows].unsqueeze(1)
        out[(ptr[rows].unsqueeze(1) + torch.arange(fanout, device=nodes.device)).view(-1)] = picks.view(-1)
    return ptr, out


_WEIGHT_SCALE = 2.0 ** 24  # the weights' per-row quantisation, as the native kernel's


def _uniform_draws(deg: Tensor, uniform: Tensor, replace: bool) -> Tensor:
    """``[rows, fanout]`` positions within each row: uniform with replacement, or Floyd's."""
    d, fanout = deg.to(torch.float64), uniform.shape[1]
    chosen = torch.empty(uniform.shape, dtype=torch.long, device=deg.device)
    for i in range(fanout):
        if replace:
            chosen[:, i] = (uniform[:, i] * d).long()
            continue
        j = deg - fanout + i
        t = (uniform[:, i] * (j + 1).to(torch.float64)).long()
        taken = (chosen[:, :i] == t.unsqueeze(1)).any(1)
        chosen[:, i] = torch.where(taken, j, t)
    return chosen


def _weighted_draws(q: Tensor, deg: Tensor, rows: Tensor, uniform: Tensor, replace: bool) -> Tensor:
    """``[rows, fanout]`` positions within each row drawn in proportion to the quantised weights
    ``q`` (of every node's row, concatenated): ``r`` uniform in ``[0, remaining total)``, the first
    entry whose inclusive prefix sum exceeds ``r``; without replacement the entry then leaves."""
    offsets = _offsets(deg)
    counts = deg[rows]
    local = _offsets(counts)
    q = q[_ranges(offsets[rows], local[:-1], counts, int(local[-1]))].clone()  # the drawn rows' weights
    chosen = torch.empty(uniform.shape, dtype=torch.long, device=q.device)
    for i in range(uniform.shape[1]):
        prefix = torch.cumsum(q, 0)  # int64: exact
        base = torch.cat([prefix.new_zeros(1), prefix])[local]  # [rows + 1]: each row's prefix before it
        total = base[1:] - base[:-1]
        r = torch.minimum((uniform[:, i] * total.to(torch.float64)).floor().long(), total - 1)
        at = torch.searchsorted(prefix, base[:-1] + r, right=True)  # first entry with prefix > r
        chosen[:, i] = at - local[:-1]
        if not replace:
            q[at] = 0
    return chosen


def rmat_edges(num_nodes: int, num_edges: int, a: float, b: float, c: float, seed: int) -> Tensor:
    """The native ``rmat_edges`` kernel's edges, bit for bit: every pending edge descends the
    levels at once, two levels a draw of its stream (the high, then the low 32 bits); those out of
    range descend again."""
    scale = 0
    while (1 << scale) < num_nodes:
        scale += 1
    out = torch.empty(2, num_edges, dtype=torch.long)
    state = (torch.tensor(seed, dtype=torch.int64) * _SEED_MIX) ^ (torch.arange(num_edges) * _NODE_MIX)
    pending, attempt, draws = torch.arange(num_edges), 0, (scale + 1) // 2
    while pending.numel():
        words = stream_words(state[pending], draws, skip=attempt * draws)  # [P, ceil(scale / 2)]
        halves = torch.stack([(words >> 32) & 0xFFFFFFFF, words & 0xFFFFFFFF], dim=2).reshape(len(pending), 2 * draws)
        u = halves[:, :scale].to(torch.float64) * 2.0 ** -32  # [P, scale]
        q = torch.where(u < a, 0, torch.where(u < a + b, 1, torch.where(u < a + b + c, 2, 3)))
        weights = 2 ** torch.arange(scale - 1, -1, -1, dtype=torch.int64)
        src, dst = ((q >> 1) * weights).sum(1), ((q & 1) * weights).sum(1)
        ok = (src < num_nodes) & (dst < num_nodes)
        out[0, pending[ok]], out[1, pending[ok]] = src[ok], dst[ok]
        pending, attempt = pending[~ok], attempt + 1
    return out


def edge_order(src: Tensor, dst: Tensor, num_nodes: int) -> Tensor:
    """The permutation that sorts edges by ``(target, source)``, stably."""
    return torch.argsort(dst * num_nodes + src, stable=True)


def sort_rows(rowptr: Tensor, col: Tensor, value: Tensor):
    """Each CSR row's entries in ascending ``(col, value)`` order: ``(col, value)``."""
    row = torch.repeat_interleave(torch.arange(rowptr.numel() - 1, device=col.device), rowptr.diff(),
                                  output_size=col.numel())
    by_value = torch.argsort(value, stable=True)
    order = by_value[torch.argsort((row * (int(col.max()) + 1 if col.numel() else 1) + col)[by_value], stable=True)]
    return col[order], value[order]


def first_seen(dst: Tensor, src: Tensor):
    """``(n_id, local)``: the distinct ids of ``dst`` (distinct) then ``src``, in order of first
    appearance, and each ``src`` entry's position in ``n_id``."""
    ids = torch.cat([dst, src])
    uniq, inverse = torch.unique(ids, return_inverse=True)
    first = torch.full((uniq.numel(),), ids.numel(), dtype=torch.long, device=ids.device)
    first.scatter_reduce_(0, inverse, torch.arange(ids.numel(), device=ids.device), "amin")
    order = torch.argsort(first)
    rank = torch.empty_like(order)
    rank[order] = torch.arange(order.numel(), device=ids.device)
    return uniq[order], rank[inverse[dst.numel():]]


def batch_graphs(node_ptr: Tensor, edge_ptr: Tensor, row_count: Tensor, col: Tensor, index: Tensor):
    nodes = node_ptr[index + 1] - node_ptr[index]
    edges = edge_ptr[index + 1] - edge_ptr[index]
    num_nodes, num_edges = int(nodes.sum()), int(edges.sum())
    graph_ptr, edge_off = _offsets(nodes), _offsets(edges)
    node_index = _ranges(node_ptr[index], graph_ptr[:-1], nodes, num_nodes)
    edge_index = _ranges(edge_ptr[index], edge_off[:-1], edges, num_edges)
    out_col = col[edge_index] + torch.repeat_interleave(graph_ptr[:-1], edges, output_size=num_edges)
    graph = torch.repeat_interleave(torch.arange(index.numel()), nodes, output_size=num_nodes)
    return _offsets(row_count[node_index]), out_col, node_index, edge_index, graph, graph_ptr


def _offsets(counts: Tensor) -> Tensor:
    """``[0, cumsum(counts)]``, ``[K + 1]`` int64."""
    out = torch.zeros(counts.numel() + 1, dtype=torch.long, device=counts.device)
    torch.cumsum(counts, 0, out=out[1:])
    return out


def _ranges(starts: Tensor, offsets: Tensor, counts: Tensor, total: int) -> Tensor:
    """The concatenation of ``arange(starts[k], starts[k] + counts[k])`` (``offsets`` = the exclusive
    cumsum of ``counts``), ``[total]``."""
    return torch.arange(total) + torch.repeat_interleave(starts - offsets, counts, output_size=total)


def dropout_keep(numel: int, p: float, seed: int, device: torch.device) -> Tensor:
    """``[numel]`` bool: the elements graphkit's dropout keeps for ``seed`` (the native kernels'
    draw, ``kernels/csrc/dropout_mask.h``): element ``4g + l`` is kept when the 16-bit lane ``l``
    of ``splitmix64(seed + (g + 1) * phi)`` is at least ``floor(p * 2^16)``."""
    z = splitmix64(seed, (numel + 3) // 4, device)
    lanes = (z.unsqueeze(1) >> torch.tensor([0, 16, 32, 48], device=device)) & 0xFFFF
    return lanes.view(-1)[:numel] >= int(p * 65536.0)


def dropout(x: Tensor, p: float, seed: int, relu: bool = False) -> Tensor:
    if relu:
        x = torch.relu(x)
    keep = dropout_keep(x.numel(), p, seed, x.device).view(x.shape)
    return x * keep.to(x.dtype) * (1.0 / (1.0 - p))


_SGNS_BATCH = 1024  # (context, centre) pairs per SGD step of the reference skip-gram


def sgns_train(walks: Tensor, num_nodes: int, dim: int, window: int = 5, negative: int = 5, epochs: int = 1,
               alpha: float = 0.025, min_alpha: float = 0.0001, sample: float = 1e-3, seed: int = 0) -> Tensor:
    """Skip-gram with negative sampling, word2vec's model as the native kernel trains it (subsampling
    of frequent nodes, each position's window shrunk by a random ``b``, every context node predicting
    the centre against ``negative`` unigram^0.75 draws, a linearly decaying learning rate), by SGD
    on batches of (context, centre) pairs in a random order. A batch is updated at once rather than
    pair after pair, so the vectors differ from the kernel's for the same seed."""
    device = walks.device
    walks = walks.long()
    if walks.numel() and (int(walks.min()) < 0 or int(walks.max()) >= num_nodes):
        raise ValueError(f"sgns_train: walks hold node ids outside [0, {num_nodes})")
    gen = torch.Generator(device=device).manual_seed(seed)
    count = torch.bincount(walks.view(-1), minlength=num_nodes).double()
    noise = count.pow(0.75)
    threshold = sample * walks.numel()
    keep = ((count / threshold).sqrt() + 1) * threshold / count.clamp(min=1) if sample > 0 else None
    syn0 = (torch.rand(num_nodes, dim, generator=gen, device=device) - 0.5) / dim
    syn1 = torch.zeros(num_nodes, dim, device=device)
    rows = torch.arange(walks.shape[0], device=device).unsqueeze(1).expand_as(walks)
    for epoch in range(epochs):
        kept = torch.ones_like(walks, dtype=torch.bool) if keep is None else \
            torch.rand(walks.shape, generator=gen, device=device) < keep[walks]
        sentences = torch.full_like(walks, -1)  # the kept nodes of each walk, moved to its front
        sentences[rows[kept], kept.cumsum(1)[kept] - 1] = walks[kept]
        reach = window - torch.randint(0, window, walks.shape, generator=gen, device=device)  # window - b
        centres, contexts = [], []
        for offset in range(1, window + 1):
            left, right = sentences[:, :-offset], sentences[:, offset:]
            both = (left >= 0) & (right >= 0)
            for centre, context, span in ((left, right, reach[:, :-offset]), (right, left, reach[:, offset:])):
                valid = both & (span >= offset)
                centres.append(centre[valid])
                contexts.append(context[valid])
        centre, context = torch.cat(centres), torch.cat(contexts)
        order = torch.randperm(centre.numel(), generator=gen, device=device)
        for start in range(0, order.numel(), _SGNS_BATCH):
            batch = order[start:start + _SGNS_BATCH]
            lr = max(min_alpha, alpha - (alpha - min_alpha) * (epoch + start / order.numel()) / epochs)
            draws = torch.multinomial(noise, batch.numel() * negative, replacement=True, generator=gen) \
                if negative else batch.new_empty(0)
            targets = torch.cat([centre[batch, None], draws.view(batch.numel(), negative)], 1)  # [B, 1 + negative]
            label = (torch.arange(negative + 1, device=device) == 0).float()
            skip = targets[:, 1:] == targets[:, :1]  # a negative equal to the centre is skipped
            h, out = syn0[context[batch]], syn1[targets]  # [B, D], [B, 1 + negative, D]
            g = (label - torch.sigmoid(torch.einsum("bd,bkd->bk", h, out))) * lr
            g[:, 1:].masked_fill_(skip, 0.0)
            syn0.index_add_(0, context[batch], torch.einsum("bk,bkd->bd", g, out))
            syn1.index_add_(0, targets.view(-1), (g.unsqueeze(-1) * h.unsqueeze(1)).view(-1, dim))
    return syn0
