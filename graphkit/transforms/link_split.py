"""Edge splits for link prediction: OGB's official split, else PyG's ``RandomLinkSplit``."""
from __future__ import annotations

import math
from dataclasses import dataclass

from torch import Tensor
from torch_geometric.data import Data

from ..utils import generator_states, seed_everything, set_generator_states


@dataclass
class LinkSplit:
    """Train edges (one direction each, ``[2, E]``) and the evaluation pairs ``[2, P]``."""

    num_nodes: int
    train: Tensor
    valid: Tensor
    valid_neg: Tensor
    test: Tensor
    test_neg: Tensor
    official: bool


def link_split(data: Data, val_ratio: float = 0.05, test_ratio: float = 0.1, seed: int = 0) -> LinkSplit:
    """The OGB split of an ``ogbl-*`` dataset (``data.split_edge``), else PyG's
    ``RandomLinkSplit`` (undirected, one negative per evaluation edge) drawn with ``seed``; the
    global generators are left as they were."""
    split_edge = getattr(data, "split_edge", None)
    if split_edge is not None:
        for part, keys in (("train", ("edge",)), ("valid", ("edge", "edge_neg")), ("test", ("edge", "edge_neg"))):
            for key in keys:
                if key not in split_edge.get(part, {}):
                    raise ValueError(f"the dataset's split_edge lacks {part}/{key}: this task needs pairs "
                                     "with shared negatives (ogbl-ddi, ogbl-collab, ogbl-ppa)")
        return LinkSplit(data.num_nodes, split_edge["train"]["edge"].t().long(),
                         split_edge["valid"]["edge"].t().long(), split_edge["valid"]["edge_neg"].t().long(),
                         split_edge["test"]["edge"].t().long(), split_edge["test"]["edge_neg"].t().long(), True)
    if getattr(data, "edge_index", None) is None or data.edge_index.numel() == 0:
        raise ValueError("the graph has no edges to split for link prediction")
    pairs = int((data.edge_index[0] <= data.edge_index[1]).sum())  # RandomLinkSplit's undirected edges
    num_val, num_test = int(val_ratio * pairs), int(test_ratio * pairs)
    if min(num_val, num_test, pairs - num_val - num_test) < 1:
        need = math.ceil(1 / min(val_ratio, test_ratio)) if min(val_ratio, test_ratio) > 0 else "more"
        raise ValueError(f"the graph has {pairs} undirected edge(s): too few for a link split with "
                         f"{val_ratio:g} of them for validation and {test_ratio:g} for test (each part needs at "
                         f"least one edge, so at least {need} edges)")
    from torch_geometric.transforms import RandomLinkSplit
    states = generator_states()
    seed_everything(seed)  # PyG's negative sampling draws from Python's and torch's generators
    try:
        train, val, test = RandomLinkSplit(num_val=val_ratio, num_test=test_ratio, is_undirected=True,
                                           add_negative_train_samples=False, split_labels=True)(
            Data(edge_index=data.edge_index, num_nodes=data.num_nodes))
    finally:
        set_generator_states(states)
    return LinkSplit(data.num_nodes, train.pos_edge_label_index, val.pos_edge_label_index,
                     val.neg_edge_label_index, test.pos_edge_label_index, test.neg_edge_label_index, False)
