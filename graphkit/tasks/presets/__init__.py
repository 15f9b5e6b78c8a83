"""Presets, resolved in one place: the papers' hyperparameters per model (and per predictor and
dataset for link prediction) from the TOML files beside this module, and the per-dataset tables
of hand searches in ``benchmarks/configs/<dataset>.toml`` (shipped in the wheel as
``graphkit/_configs``). Each function returns one flat dict, which a task splits into its config
dataclass and the model's hyperparameters; the string ``"none"`` is ``None``.

Nothing here is read behind a caller's back: an estimator applies the preset of the model
*name* it was given, and a dataset's table only when asked (``dataset=...``; the command line
asks, and says so).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, Optional

from ...train.config import read_toml

_HERE = Path(__file__).resolve().parent
_DATASET_DIRS = (Path(__file__).resolve().parents[3] / "benchmarks" / "configs",
                 Path(__file__).resolve().parents[2] / "_configs")


def _clean(table: Dict[str, Any]) -> Dict[str, Any]:
    return {k: (None if v == "none" else v) for k, v in table.items() if not isinstance(v, dict)}


def dataset_table_path(dataset: Optional[str]) -> Optional[Path]:
    """``benchmarks/configs/<dataset>.toml`` (or its copy in the wheel), if it exists."""
    if not dataset:
        return None
    for folder in _DATASET_DIRS:
        path = folder / f"{dataset.lower()}.toml"
        if path.is_file():
            return path
    return None


def node_classification(model: str, dataset: Optional[str] = None) -> Dict[str, Any]:
    """The preset of ``model`` (its paper's hyperparameters), updated by ``dataset``'s table when
    ``dataset`` has one for it."""
    presets = read_toml(_HERE / "node_classification.toml")
    key = model.lower()
    if key not in presets:
        raise ValueError(f"unknown model preset {model!r}; expected one of {sorted(presets)}")
    config = _clean(presets[key])
    path = dataset_table_path(dataset)
    if path is not None:
        config.update(_clean(read_toml(path).get(key, {})))
    return config


def link_prediction(predictor: str, dataset: Optional[str] = None) -> Dict[str, Any]:
    """``[default]``, then the predictor's table, the dataset's and ``[dataset.predictor]``."""
    presets = read_toml(_HERE / "link_prediction.toml")
    config = _clean(presets["default"])
    config.update(_clean(presets.get(predictor, {})))
    table = presets.get((dataset or "").lower(), {})
    config.update(_clean(table))
    config.update(_clean(table.get(predictor, {})))
    return config


__all__ = ["dataset_table_path", "link_prediction", "node_classification"]


def graph_prediction(model: str) -> Dict[str, Any]:
    """The graph-level preset of ``model`` (``gin``: Errica et al.'s; ``gin-ogb``, ``gin-virtual``:
    OGB's molecule models), without its grid."""
    presets = read_toml(_HERE / "graph_prediction.toml")
    key = model.lower()
    if key not in presets:
        raise ValueError(f"unknown graph-level model preset {model!r}; expected one of {sorted(presets)}, an "
                         "nn.Module or a factory f(in_channels, out_channels) -> nn.Module")
    return _clean(presets[key])


def graph_prediction_grid(model: str) -> Optional[Dict[str, list]]:
    """The preset's model-selection grid (``[<model>.grid]``), or ``None``."""
    return read_toml(_HERE / "graph_prediction.toml").get(model.lower(), {}).get("grid")
