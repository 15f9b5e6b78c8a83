"""Sizes written by people: ``"2GiB"``, ``"512 MB"``, ``1e9``."""
from __future__ import annotations

import re
from typing import Union

_UNITS = {"": 1, "b": 1, "k": 2 ** 10, "kb": 10 ** 3, "kib": 2 ** 10, "m": 2 ** 20, "mb": 10 ** 6,
          "mib": 2 ** 20, "g": 2 ** 30, "gb": 10 ** 9, "gib": 2 ** 30}


def parse_bytes(value: Union[int, float, str]) -> int:
    """``2147483648``, ``"2GiB"``, ``"512 MB"`` -> bytes."""
    if isinstance(value, (int, float)):
        return int(value)
    match = re.fullmatch(r"\s*([0-9.]+)\s*([a-zA-Z]*)\s*", str(value))
    if not match or match.group(2).lower() not in _UNITS:
        raise ValueError(f"cannot read a memory size from {value!r} (examples: 2GiB, 512MB, 1e9)")
    return int(float(match.group(1)) * _UNITS[match.group(2).lower()])
