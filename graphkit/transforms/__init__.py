"""Graph transforms, ``Data``/``Adj`` in, ``Data``/``Adj`` out: edge dropping and row sampling,
link splits (augmentations, rewiring and positional encodings join them)."""
from .edges import drop_edges, sample_rows
from .link_split import LinkSplit, link_split

__all__ = ["LinkSplit", "drop_edges", "link_split", "sample_rows"]
