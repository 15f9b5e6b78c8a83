"""A ledger of finished runs: each finished run's result (its figures and history, no weights)
under the run's key, in one small JSON file.

Checkpoints (:mod:`graphkit.train.checkpoint`) hold a run's model and optimizer, megabytes each;
a ledger holds only what a report needs, a few kilobytes a run, so it can be kept with the code
(committed, copied to another machine) while the checkpoints stay where the runs trained. The
engine looks a run up before it trains and records it when it finishes, so a long benchmark of
many runs carries on across machines and sessions from the ledger alone: runs found there are
read back, not retrained (their trained models are not kept: an estimator whose last run came
from the ledger has ``model_ = None``).

Keys are the engine's ``checkpoint_key`` (a fingerprint of the task, data, model, config, split
and run name), so an entry never answers for another run. The file is rewritten atomically under
a lock: processes sharing one ledger merge their entries.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, Optional

from ..utils.io import PathLike, atomic_write_text, file_lock


class RunLedger:
    """Finished runs' result dicts by run key, in the JSON file ``path`` (created on the first
    record).

    File layout: ``{"ledger": "graphkit-runs", "runs": {key: {"label": str, "result": dict}}}``,
    one run a line.
    """

    FORMAT = "graphkit-runs"

    def __init__(self, path: PathLike):
        self.path = Path(path)
        if self.path.exists() and not self.path.is_file():
            raise IsADirectoryError(f"ledger {str(self.path)!r} is a folder, not a JSON file")

    def _read(self) -> Dict[str, Dict[str, Any]]:
        if not self.path.exists():
            return {}
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError) as err:
            raise ValueError(f"ledger {str(self.path)!r} cannot be read as JSON ({err})") from err
        if not isinstance(data, dict) or data.get("ledger") != self.FORMAT or not isinstance(data.get("runs"), dict):
            raise ValueError(f"{str(self.path)!r} is not a run ledger (expected {{'ledger': {self.FORMAT!r}, "
                             "'runs': {...}})")
        return data["runs"]

    def entries(self) -> Dict[str, Dict[str, Any]]:
        """Every run: ``{key: {"label": ..., "result": ...}}`` (empty while the file is absent)."""
        return self._read()

    def __len__(self) -> int:
        return len(self._read())

    def __contains__(self, key: str) -> bool:
        return key in self._read()

    def get(self, key: str) -> Optional[Dict[str, Any]]:
        """The finished run's result dict, or ``None`` when the ledger has no run of that key."""
        entry = self._read().get(key)
        return None if entry is None else entry["result"]

    def record(self, key: str, result: Dict[str, Any], label: str = "") -> None:
        """Add (or replace) the run ``key``; other processes' entries written meanwhile are kept."""
        with file_lock(self.path.with_name(f".{self.path.name}.lock")):
            runs = self._read()
            runs[key] = {"label": label, "result": result}
            # one run a line: a new run is a new line, so versions of the file differ by their new runs
            lines = ",\n".join(f"{json.dumps(k)}: {json.dumps(v)}" for k, v in sorted(runs.items()))
            atomic_write_text(f'{{"ledger": "{self.FORMAT}", "runs": {{\n{lines}\n}}}}\n', self.path)
