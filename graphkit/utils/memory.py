"""Peak memory of the running process, for reports."""
from __future__ import annotations

import resource
import sys


def peak_rss_mib() -> float:
    """The process's peak resident set size so far, in MiB (``getrusage``'s ``ru_maxrss``, which
    Linux gives in KiB and macOS in bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (1024 * 1024 if sys.platform == "darwin" else 1024), 1)
