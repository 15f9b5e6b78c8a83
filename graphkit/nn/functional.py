"""Functional helpers shared by the models."""
from __future__ import annotations

import warnings
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor

from ..adj import tensor_cache

SPARSE_INPUT_DENSITY = 0.1  # inputs with fewer non-zeros than this fraction go through a CSR product


def _csr_copy(x: Tensor) -> Optional[Tensor]:
    """The CSR form of ``x`` ``[N, F]`` when at most 10 % of it is non-zero, else ``None``; kept in
    :func:`graphkit.adj.tensor_cache` (counted and converted once per feature matrix)."""
    cache = tensor_cache(x)
    if "sparse_csr" not in cache:
        nnz = int(torch.count_nonzero(x))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "sparse CSR support is in beta"
            cache["sparse_csr"] = x.to_sparse_csr() if nnz <= SPARSE_INPUT_DENSITY * x.numel() else None
    return cache["sparse_csr"]


def input_dropout(x: Tensor, p: float, training: bool, sparse_ok: bool) -> Tensor:
    """Dropout of a model's input features, sparse-aware.

    Bag-of-words features are mostly zeros. When the consumer accepts a sparse input
    (``sparse_ok``: its first operation is a linear map) and ``x`` is a constant leaf tensor with at
    most 10 % non-zeros, the result is a CSR tensor whose non-zeros are dropped (set to 0) and
    rescaled by ``1 / (1 - p)`` — the distribution of ``F.dropout``, since a zero stays zero —
    and the linear map becomes a sparse product (Kipf & Welling's sparse dropout). Otherwise
    this is ``F.dropout``.
    """
    if not sparse_ok or x.requires_grad or x.dim() != 2 or x.layout != torch.strided or not x.is_floating_point():
        return F.dropout(x, p, training)
    csr = _csr_copy(x)
    if csr is None:
        return F.dropout(x, p, training)
    if not training or p == 0.0:
        return csr
    values = csr.values()
    keep = torch.rand(values.shape, device=values.device, dtype=values.dtype) >= p
    values = values * keep / (1.0 - p) if p < 1.0 else torch.zeros_like(values)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return torch.sparse_csr_tensor(csr.crow_indices(), csr.col_indices(), values, csr.shape)
