"""What a loader yields and a task's step reads: :class:`Batch`."""
from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import List, Optional, Union

import torch
from torch import Tensor

from ..adj import Adj, mark_graph_count


@dataclass
class Batch:
    """One step's input.

    Attributes:
        adj: the graph the forward pass sees, ``(N_dst, N_src)``, or a sampled batch's blocks, one
            per layer, input layer first (:class:`~graphkit.loader.NeighborLoader`).
        x: ``[N_src, F]`` features of the nodes the batch covers (``None``: a featureless graph).
        y: targets (``[N]`` node labels, ...).
        mask: ``[N]`` bool, the nodes whose outputs the loss and metrics read (node tasks; ``None``:
            every output row, as for sampled batches, whose outputs are the seeds').
        n_id: ``[N_src]`` global ids of the covered nodes (``None``: every node of the graph, in order).
        pos: ``[2, P]`` positive node pairs (link tasks).
        neg: ``[2, Q]`` negative node pairs (link tasks).
        batch: ``[N]`` the graph of each node, sorted (batches of many graphs).
        num_graphs: how many graphs the batch holds (graphs without nodes included).
        edge_attr: ``[E, *D]`` edge features in the order of ``adj``'s input edges (its CSR order
            when ``adj.perm`` is ``None``).
    """

    adj: Union[Adj, List[Adj]]
    x: Optional[Tensor] = None
    y: Optional[Tensor] = None
    mask: Optional[Tensor] = None
    n_id: Optional[Tensor] = None
    pos: Optional[Tensor] = None
    neg: Optional[Tensor] = None
    batch: Optional[Tensor] = None
    num_graphs: Optional[int] = None
    edge_attr: Optional[Tensor] = None

    def to(self, device) -> "Batch":
        """The batch on ``device`` (itself when it is there already)."""
        device = torch.device(device)
        blocks = isinstance(self.adj, list)
        if (self.adj[0] if blocks else self.adj).device == device:
            return self
        moved = {f.name: getattr(self, f.name) for f in fields(self)}
        moved = {k: (v.to(device) if isinstance(v, (Tensor, Adj)) else v) for k, v in moved.items()}
        if blocks:
            moved["adj"] = [b.to(device) for b in self.adj]
        if self.batch is not None and self.num_graphs is not None:
            mark_graph_count(moved["batch"], self.num_graphs)
        return replace(self, **moved)
