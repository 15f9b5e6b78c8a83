"""Maps from free parameters to orthogonal ``d x d`` matrices that are orthogonal by construction
(to rounding), as the bundle sheaf's restriction maps need:

- ``householder`` (the paper's default): ``d (d - 1) / 2`` parameters fill the strictly lower
  triangle of a unit lower-triangular ``V``; ``Q = H_1 ... H_d`` with the reflections
  ``H_k = I - 2 v_k v_k^T / |v_k|^2`` of its columns (``torch.linalg.householder_product``).
- ``matrix_exp``: ``d (d + 1) / 2`` parameters fill a lower triangle ``M``; ``Q = exp(M - M^T)``.
- ``cayley``: the same skew-symmetric ``A``; ``Q = (I - A/2)^-1 (I + A/2)``.
"""
from __future__ import annotations

import torch
from torch import Tensor

ORTHOGONAL_MAPS = ("householder", "matrix_exp", "cayley")


def orthogonal_param_size(d: int, method: str = "householder") -> int:
    """Parameters per matrix of :func:`orthogonal_matrices`."""
    _check_method(method)
    return d * (d - 1) // 2 if method == "householder" else d * (d + 1) // 2


def orthogonal_matrices(params: Tensor, d: int, method: str = "householder") -> Tensor:
    """``[B, P]`` parameters -> ``[B, d, d]`` orthogonal matrices."""
    _check_method(method)
    if params.dim() != 2 or params.shape[1] != orthogonal_param_size(d, method):
        raise ValueError(f"{method} needs [B, {orthogonal_param_size(d, method)}] parameters for d = {d}, "
                         f"got {list(params.shape)}")
    offset = -1 if method == "householder" else 0
    rows, cols = torch.tril_indices(d, d, offset=offset, device=params.device)
    filled = params.new_zeros(params.shape[0], d, d)
    filled[:, rows, cols] = params
    eye = torch.eye(d, dtype=params.dtype, device=params.device)
    if method == "householder":
        vectors = filled + eye
        tau = 2.0 / vectors.square().sum(dim=1)  # column norms: [B, d]
        return torch.linalg.householder_product(vectors, tau)
    skew = filled - filled.transpose(1, 2)
    if method == "matrix_exp":
        return torch.matrix_exp(skew)
    return torch.linalg.solve(eye - 0.5 * skew, eye + 0.5 * skew)


def _check_method(method: str) -> None:
    if method not in ORTHOGONAL_MAPS:
        raise ValueError(f"unknown orthogonal map {method!r}; expected one of {ORTHOGONAL_MAPS}")
