"""GINConv: Xu, Hu, Leskovec & Jegelka, "How Powerful are Graph Neural Networks?", ICLR 2019,
eq. (4.1): ``h_i' = MLP((1 + eps) . h_i + sum_{j in N(i)} h_j)``."""
from __future__ import annotations

from typing import Tuple, Union

import torch
from torch import Tensor, nn

from ...adj import tensor_cache
from ..message_passing import MessagePassing
from ._checks import check_input


class GINConv(MessagePassing):
    """Graph isomorphism layer.

    Args:
        mlp: the network applied after aggregation, ``[N, F_in] -> [N, F_out]``.
        eps: initial ``eps``.
        train_eps: learn ``eps``.

    On a sampled block ``(N_dst, N_src)``, ``x`` is the pair ``(x_src, x_dst)`` and the root term
    reads ``x_dst`` -> ``[N_dst, F_out]``.
    """

    supports_bipartite = True

    def __init__(self, mlp: nn.Module, eps: float = 0.0, train_eps: bool = False):
        if not isinstance(mlp, nn.Module):
            raise TypeError(f"{type(self).__name__}: mlp must be a torch.nn.Module (the network applied after the "
                            f"aggregation), got {type(mlp).__name__}")
        super().__init__(aggr="sum")
        self.nn = mlp
        self.initial_eps = eps
        if train_eps:
            self.eps = nn.Parameter(torch.tensor([float(eps)]))
        else:
            self.register_buffer("eps", torch.tensor([float(eps)]))

    def reset_parameters(self) -> None:
        _reset(self.nn)
        with torch.no_grad():  # in place through autograd's counter, so the cached 1 + eps is read again
            self.eps.fill_(self.initial_eps)

    def forward(self, x: Union[Tensor, Tuple[Tensor, Tensor]], graph) -> Tensor:
        """``x`` ``[N, F_in]`` -> ``[N, F_out]`` (the MLP runs after the aggregation, so ``x`` is dense)."""
        weight = next(self.nn.parameters(), None)
        weight = weight if weight is not None and weight.is_floating_point() else None
        if isinstance(x, tuple):  # a block: (1 + eps) x_dst + the sum over the sampled sources
            x, x_dst = x
            check_input(x, "GINConv", weight, _in_features(self.nn))
            check_input(x_dst, "GINConv", weight, _in_features(self.nn), name="x_dst")
            adj = self.adj(graph, x.size(0), num_dst=x_dst.size(0))
            return self.nn(self.propagate(adj, x) + (1 + self.eps) * x_dst)
        check_input(x, "GINConv", weight, _in_features(self.nn))
        adj = self.adj(graph, x.size(0))
        if isinstance(self.eps, nn.Parameter) or torch.compiler.is_compiling():
            return self.nn(self.propagate(adj, x) + (1 + self.eps) * x)
        return self.nn(self.propagate(adj, x, self_weight=self._fixed_scale()))  # A x + (1 + eps) x in one op

    def _fixed_scale(self) -> float:
        """``1 + eps`` of a fixed ``eps`` (a buffer), read once per change of the buffer (kept with
        it by :func:`graphkit.adj.tensor_cache`): no host synchronisation per call."""
        cache = tensor_cache(self.eps)
        if "scale" not in cache:
            cache["scale"] = 1.0 + float(self.eps)
        return cache["scale"]

    def extra_repr(self) -> str:
        return f"eps={float(self.eps):g}"


def _in_features(module: nn.Module):
    """The input width of ``module`` when its first layer is an ``nn.Linear``, else ``None``."""
    while isinstance(module, nn.Sequential) and len(module) > 0:
        module = module[0]
    return module.in_features if isinstance(module, nn.Linear) else None


def _reset(module: nn.Module) -> None:
    """``module.reset_parameters()`` when it has one (a bare ``nn.Linear`` included), else the
    same for each of its children, recursively (as PyG's ``reset``)."""
    if hasattr(module, "reset_parameters"):
        module.reset_parameters()
    else:
        for child in module.children():
            _reset(child)
