"""The training engine every task runs on: one fit loop (device, optimizer and parameter groups,
step, evaluation cadence, model selection, checkpoint/resume, progress, history, report), which
knows no task: a :class:`Task` supplies the step and the evaluation."""
from .checkpoint import RunCheckpoint
from .config import TrainConfig, layer, parse_assignments, read_toml, split_config
from .engine import Engine, Selection, build_optimizer, parameter_groups
from .ledger import RunLedger
from .report import Report, RunResult, mean_std
from .task import Task

__all__ = ["Engine", "Report", "RunCheckpoint", "RunLedger", "RunResult", "Selection", "Task", "TrainConfig",
           "build_optimizer", "layer", "mean_std", "parameter_groups", "parse_assignments", "read_toml", "split_config"]
