"""The full graph as a loader of one batch."""
from __future__ import annotations

from typing import Iterator

from .batch import Batch


class FullGraphLoader:
    """Yields ``batch`` once per pass: full-batch training is a loader of one batch.

    Usage::

        train = FullGraphLoader(Batch(adj, x=data.x, y=data.y, mask=data.train_mask))
    """

    def __init__(self, batch: Batch):
        self.batch = batch

    def __iter__(self) -> Iterator[Batch]:
        yield self.batch

    def __len__(self) -> int:
        return 1
