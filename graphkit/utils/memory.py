"""Process memory: peak resident size for reports, and glibc's malloc set to keep freed memory."""
from __future__ import annotations

import ctypes
import resource
import sys

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3


def peak_rss_mib() -> float:
    """The process's peak resident set size so far, in MiB (``getrusage``'s ``ru_maxrss``, which
    Linux gives in KiB and macOS in bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (1024 * 1024 if sys.platform == "darwin" else 1024), 1)


def retain_freed_memory() -> bool:
    """Make glibc's malloc serve large blocks from its heap and keep what is freed for reuse.

    By default every block above 32 MiB is a fresh ``mmap``: training that allocates and frees
    ``[65536, 256]`` activations every step page-faults and zeroes gigabytes per epoch (a quarter
    of an ogbl-ddi epoch on 2 cores). With the mmap threshold and the trim threshold raised, freed
    blocks are reused; the peak resident size is unchanged. Called by the ``graphkit`` command
    line; a no-op (``False``) where the C library is not glibc."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    limit = 2 ** 31 - 1
    return bool(mallopt(_M_MMAP_THRESHOLD, limit)) and bool(mallopt(_M_TRIM_THRESHOLD, limit))
