"""Link-prediction training: edge splits, mini-batches of edges with PyG's negative sampling,
early stopping on the validation metric, several runs, atomic checkpoints with resume.

Usage::

    data = graphkit.datasets.load("ogbl-ddi")
    report = LinkPrediction("sage", "mlp", runs=3).fit(data)
    print(report.test["hits@20"])          # {"mean": ..., "std": ...}
"""
from __future__ import annotations

import hashlib
import json
import statistics
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Union

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.data import Data
from tqdm.auto import tqdm

from ...adj import Adj, check_edge_index, check_features
from ...evaluate.link_prediction import link_prediction
from ...nn.models import MODELS, build_model
from ...utils import RunCheckpoint, generator_states, peak_rss_mib, seed_everything, set_generator_states
from .heads import DotPredictor, MLPPredictor, NCNCPredictor, NCNPredictor

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

PREDICTORS = ("dot", "mlp", "ncn", "ncnc")
REPORTED = ("hits@20", "hits@50", "hits@100", "mrr", "auc", "ap")
_PRESETS = Path(__file__).with_name("presets.toml")
# Part of every checkpoint's key and of every report: raised whenever a model under the same config
# computes something else, so that a run never resumes from, or joins, another model's runs
# (2: NCN's two branches stopped sharing their last linear layer).
MODEL_VERSION = 2


def default_config(predictor: str, dataset: Optional[str] = None) -> Dict[str, Any]:
    """Hyperparameters from ``presets.toml``: default, predictor, dataset, dataset.predictor."""
    with open(_PRESETS, "rb") as f:
        presets = tomllib.load(f)
    config = dict(presets["default"])
    config.update(presets.get(predictor, {}))
    table = presets.get((dataset or "").lower(), {})
    config.update({k: v for k, v in table.items() if not isinstance(v, dict)})
    config.update(table.get(predictor, {}))
    return config


@dataclass
class LinkSplit:
    """Train edges (one direction each, ``[2, E]``) and the evaluation pairs."""

    num_nodes: int
    train: Tensor
    valid: Tensor
    valid_neg: Tensor
    test: Tensor
    test_neg: Tensor
    official: bool


def link_split(data: Data, val_ratio: float = 0.05, test_ratio: float = 0.1, seed: int = 0) -> LinkSplit:
    """The OGB split of an ``ogbl-*`` dataset (``data.split_edge``), else PyG's
    ``RandomLinkSplit`` (undirected, one negative per evaluation edge) drawn with ``seed``."""
    split_edge = getattr(data, "split_edge", None)
    if split_edge is not None:
        for part, keys in (("train", ("edge",)), ("valid", ("edge", "edge_neg")), ("test", ("edge", "edge_neg"))):
            for key in keys:
                if key not in split_edge.get(part, {}):
                    raise ValueError(f"the dataset's split_edge lacks {part}/{key}: this trainer needs pairs "
                                     "with shared negatives (ogbl-ddi, ogbl-collab, ogbl-ppa)")
        return LinkSplit(data.num_nodes, split_edge["train"]["edge"].t().long(),
                         split_edge["valid"]["edge"].t().long(), split_edge["valid"]["edge_neg"].t().long(),
                         split_edge["test"]["edge"].t().long(), split_edge["test"]["edge_neg"].t().long(), True)
    if getattr(data, "edge_index", None) is None or data.edge_index.numel() == 0:
        raise ValueError("the graph has no edges to split for link prediction")
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


class TrainGraph:
    """The training graph (both directions of every train edge) and, for target-edge removal,
    the same graph without a batch's edges, built by a mask over its CSR entries (no sort)."""

    def __init__(self, train: Tensor, num_nodes: int):
        e = train.shape[1]
        both = torch.cat([train, train.flip(0)], dim=1)
        self.adj = Adj.from_edge_index(both, num_nodes)
        self.position = torch.empty_like(self.adj.perm)
        self.position[self.adj.perm] = torch.arange(both.shape[1])  # input edge -> CSR entry
        self.num_train = e

    def without(self, edges: Tensor) -> Adj:
        keep = torch.ones(self.adj.num_edges, dtype=torch.bool)
        keep[self.position[edges]] = False
        keep[self.position[edges + self.num_train]] = False
        return self.adj.masked(keep)


class LinkModel(nn.Module):
    """Encoder (a graphkit GNN, on features or learnable embeddings) + predictor head."""

    def __init__(self, model: str, predictor: str, in_channels: Optional[int], num_nodes: int,
                 config: Dict[str, Any]):
        super().__init__()
        hidden = config["hidden"]
        self.embedding = None
        if in_channels is None or config["embedding"]:
            self.embedding = nn.Embedding(num_nodes, hidden)
            if config["embedding_init"] not in ("xavier", "orthogonal"):
                raise ValueError(f"embedding_init must be 'xavier' or 'orthogonal', got {config['embedding_init']!r}")
            (nn.init.orthogonal_ if config["embedding_init"] == "orthogonal" else nn.init.xavier_uniform_)(
                self.embedding.weight)
            in_channels = hidden
        extra = {} if config["input_dropout"] < 0 else {"input_dropout": config["input_dropout"]}
        self.encoder = build_model(model, in_channels, hidden, hidden_channels=hidden,
                                   num_layers=config["num_layers"], dropout=config["dropout"], **extra)
        common = dict(dropout=config["pred_dropout"], edge_dropout=config["edge_dropout"],
                      layer_norm=config["layer_norm"], use_xlin=config["use_xlin"], tail_act=config["tail_act"],
                      two_layer_lin=config["two_layer_lin"])
        if predictor == "dot":
            self.head = DotPredictor()
        elif predictor == "mlp":
            self.head = MLPPredictor(hidden, hidden, config["pred_layers"], config["dropout"])
        elif predictor == "ncn":
            self.head = NCNPredictor(hidden, **common)
        else:
            self.head = NCNCPredictor(hidden, alpha=config["alpha"], prob_scale=config["prob_scale"],
                                      prob_offset=config["prob_offset"], pt=config["pt"],
                                      train_degree=config["train_degree"], test_degree=config["test_degree"],
                                      **common)

    def encode(self, x: Optional[Tensor], adj: Adj) -> Tensor:
        return self.encoder(self.embedding.weight if self.embedding is not None else x, adj)

    def score(self, h: Tensor, adj: Adj, pairs: Tensor, batch_size: int) -> Tensor:
        return torch.cat([self.head(h, adj, pairs[:, s:s + batch_size]) for s in range(0, pairs.shape[1], batch_size)])


@dataclass
class LinkRunResult:
    seed: int
    valid: Dict[str, float]
    test: Dict[str, float]
    epochs: int
    best_epoch: int
    seconds: float
    seconds_per_epoch: float
    history: Dict[str, List[float]] = field(default_factory=dict)
    peak_rss_mib: Optional[float] = None  # peak resident memory of the process that finished the run


def _mean_std(values: Sequence[float]) -> Dict[str, float]:
    return {"mean": statistics.fmean(values), "std": statistics.pstdev(values) if len(values) > 1 else 0.0}


@dataclass
class LinkPredictionReport:
    dataset: str
    model: str
    predictor: str
    metric: str
    config: Dict[str, Any]
    runs: List[LinkRunResult]
    peak_rss_mib: Optional[float] = None  # the highest of the fitting process's and the runs' peaks

    def _summary(self, part: str) -> Dict[str, Dict[str, float]]:
        keys = getattr(self.runs[0], part).keys()
        return {k: _mean_std([getattr(r, part)[k] for r in self.runs]) for k in keys}

    @property
    def valid(self) -> Dict[str, Dict[str, float]]:
        return self._summary("valid")

    @property
    def test(self) -> Dict[str, Dict[str, float]]:
        return self._summary("test")

    @property
    def epoch_seconds_median(self) -> Optional[float]:
        """The median training time of one epoch over every epoch of every run."""
        times = [t for r in self.runs for t in r.history.get("epoch_seconds", [])]
        return round(statistics.median(times), 4) if times else None

    def to_dict(self) -> Dict[str, Any]:
        return {"task": "link-prediction", "dataset": self.dataset, "model": self.model,
                "predictor": self.predictor, "model_version": MODEL_VERSION, "metric": self.metric,
                "config": self.config, "runs": [asdict(r) for r in self.runs], "valid": self.valid, "test": self.test,
                "seconds_per_epoch": _mean_std([r.seconds_per_epoch for r in self.runs]),
                # robust to epochs slowed by other work on the machine or by a resume's warm-up
                "epoch_seconds_median": self.epoch_seconds_median,
                "peak_rss_mib": self.peak_rss_mib}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)


class LinkPrediction:
    """Link-prediction trainer (a scikit-learn-like estimator).

    Args:
        model: encoder, one of ``graphkit.nn.models.MODELS`` (gcn, sage, gat, gin, mlp).
        predictor: ``"dot"``, ``"mlp"``, ``"ncn"`` or ``"ncnc"``.
        runs: seeds ``seed .. seed + runs - 1`` (a new random split per seed for graphs without an
            official one).
        config: overrides of :func:`default_config`.
        checkpoint_dir: each run's checkpoint, written atomically every ``checkpoint_every``
            epochs and after any epoch ending ``checkpoint_seconds`` or more after the last write;
            finished runs are read back, an interrupted one resumes where it would have been.
        runs_from: reports of earlier fits (their :meth:`LinkPredictionReport.to_dict`, or JSON
            files of it, e.g. one per seed from separate machines) whose runs are taken instead of
            training those seeds; each must be of the same model, predictor, dataset, config and
            :data:`MODEL_VERSION`.
    """

    def __init__(self, model: str = "sage", predictor: str = "mlp", runs: int = 1, seed: int = 0,
                 config: Optional[Dict[str, Any]] = None, checkpoint_dir: Optional[str] = None,
                 checkpoint_every: int = 5, checkpoint_seconds: float = 60.0, progress: bool = True,
                 runs_from: Sequence[Union[str, Path, Dict[str, Any]]] = ()):
        if model.lower() not in MODELS:
            raise ValueError(f"unknown model {model!r}; expected one of {sorted(MODELS)}")
        if predictor not in PREDICTORS:
            raise ValueError(f"unknown predictor {predictor!r}; expected one of {PREDICTORS}")
        if runs < 1:
            raise ValueError(f"runs must be >= 1, got {runs}")
        self.model, self.predictor, self.runs, self.seed = model.lower(), predictor, runs, seed
        self.overrides = dict(config or {})
        self.checkpoint_dir = Path(checkpoint_dir) if checkpoint_dir else None
        self.checkpoint_every, self.checkpoint_seconds, self.progress = checkpoint_every, checkpoint_seconds, progress
        self.runs_from = list(runs_from)

    def fit(self, data: Data) -> LinkPredictionReport:
        name = getattr(data, "name", "graph")
        config = default_config(self.predictor, name)
        unknown = set(self.overrides) - set(config)
        if unknown:
            raise ValueError(f"unknown hyperparameters {sorted(unknown)}; known: {sorted(config)}")
        config.update(self.overrides)
        check_edge_index(data.edge_index, data.num_nodes)
        x = getattr(data, "x", None)
        if x is not None:
            check_features(x, data.num_nodes)
            x = x.float()
        reported = self._reported_runs(name, config)
        results = [reported.get(seed) or self._run(data, x, config, seed)
                   for seed in range(self.seed, self.seed + self.runs)]
        # runs read back from checkpoints may have trained in other processes: keep their peaks
        peaks = [peak_rss_mib()] + [r.peak_rss_mib for r in results if r.peak_rss_mib is not None]
        return LinkPredictionReport(name, self.model, self.predictor, config["metric"], config, results, max(peaks))

    def _reported_runs(self, dataset: str, config: Dict[str, Any]) -> Dict[int, LinkRunResult]:
        """The runs of ``runs_from`` by seed, after checking that they are runs of this fit."""
        runs: Dict[int, LinkRunResult] = {}
        expected = {"task": "link-prediction", "dataset": dataset, "model": self.model, "predictor": self.predictor,
                    "model_version": MODEL_VERSION, "config": config}
        for source in self.runs_from:
            if isinstance(source, dict):
                where, report = "a report", source
            elif Path(source).is_file():
                where, report = str(source), json.loads(Path(source).read_text())
            else:
                raise FileNotFoundError(f"report not found: {source}")
            for key, value in expected.items():
                got = report.get(key)
                if got != value:
                    if key == "config" and isinstance(got, dict):
                        differ = sorted(k for k in set(got) | set(value) if got.get(k) != value.get(k))
                        detail = f" ({', '.join(differ)} differ)"
                    else:
                        detail = f": {got!r}, this fit {value!r}"
                    raise ValueError(f"{where} holds runs of another {key}{detail}; its runs cannot join this fit")
            for run in report["runs"]:
                if run["seed"] in runs:
                    raise ValueError(f"seed {run['seed']} is reported twice (again in {where})")
                runs[run["seed"]] = LinkRunResult(**run)
        return runs

    # ------------------------------------------------------------------ one run
    def _checkpoint_path(self, data: Data, config: Dict[str, Any], seed: int) -> Optional[Path]:
        if self.checkpoint_dir is None:
            return None
        key = json.dumps({"model": self.model, "predictor": self.predictor, "config": config,
                          "dataset": getattr(data, "name", ""), "version": MODEL_VERSION}, sort_keys=True)
        tag = hashlib.sha1(key.encode()).hexdigest()[:10]
        return self.checkpoint_dir / f"{self.model}-{self.predictor}-{getattr(data, 'name', 'graph')}-{tag}" / \
            f"seed{seed}.pt"

    @staticmethod
    def _evaluate(model: LinkModel, h: Tensor, graph: TrainGraph, split: LinkSplit, part: str,
                  config: Dict[str, Any]) -> Dict[str, float]:
        """Metrics of ``part`` (``"valid"`` or ``"test"``) from the eval-mode embeddings ``h``."""
        bs = config["eval_batch_size"]
        pos = model.score(h, graph.adj, getattr(split, part), bs)
        neg = model.score(h, graph.adj, getattr(split, f"{part}_neg"), bs)
        return link_prediction(pos, neg, sorted(set(REPORTED) | {config["metric"]}))

    def _run(self, data: Data, x: Optional[Tensor], config: Dict[str, Any], seed: int) -> LinkRunResult:
        split = link_split(data, seed=seed)
        graph = TrainGraph(split.train, split.num_nodes)
        seed_everything(seed)
        model = LinkModel(self.model, self.predictor, None if x is None else x.shape[1], split.num_nodes, config)
        head = set(map(id, model.head.parameters()))  # the predictor may learn at its own rate (NCN)
        optimizer = torch.optim.Adam(
            [{"params": [p for p in model.parameters() if id(p) not in head]},
             {"params": list(model.head.parameters()),
              "lr": config["lr"] if config["pred_lr"] < 0 else config["pred_lr"]}], lr=config["lr"])
        checkpoint = RunCheckpoint(self._checkpoint_path(data, config, seed), self.checkpoint_every,
                                   self.checkpoint_seconds)
        finished, state = checkpoint.resume(model, optimizer)
        if finished is not None:
            return LinkRunResult(**finished)
        state = state or {"epoch": 0, "best": None, "bad_evals": 0, "seconds": 0.0, "train_seconds": 0.0,
                          "history": {"loss": [], "valid": [], "epoch_seconds": []}}

        from torch_geometric.utils import negative_sampling
        train, metric = split.train, config["metric"]
        both = torch.cat([train, train.flip(0)], dim=1)
        bar = tqdm(range(state["epoch"], config["epochs"]), initial=state["epoch"], total=config["epochs"],
                   desc=f"{self.model}+{self.predictor} seed {seed}", unit="epoch", disable=not self.progress,
                   leave=False)
        for epoch in bar:
            start = time.perf_counter()
            model.train()
            negatives = negative_sampling(both, split.num_nodes, num_neg_samples=train.shape[1])
            perm = torch.randperm(train.shape[1])
            total, count = 0.0, 0
            for s in range(0, perm.numel(), config["batch_size"]):
                batch = perm[s:s + config["batch_size"]]
                adj = graph.without(batch) if config["mask_input"] else graph.adj
                optimizer.zero_grad(set_to_none=True)
                h = model.encode(x, adj)
                pos = model.head(h, adj, train[:, batch])
                neg = model.head(h, adj, negatives[:, batch[batch < negatives.shape[1]]])
                loss = -F.logsigmoid(pos).mean() - F.logsigmoid(-neg).mean()
                loss.backward()
                if config["clip_grad_norm"] > 0:  # OGB's ddi recipe: embedding, encoder, predictor apart
                    for part in (model.embedding, model.encoder, model.head):
                        if part is not None:
                            nn.utils.clip_grad_norm_(part.parameters(), config["clip_grad_norm"])
                optimizer.step()
                total, count = total + loss.item() * batch.numel(), count + batch.numel()
            state["train_seconds"] += time.perf_counter() - start
            state["history"]["epoch_seconds"].append(round(time.perf_counter() - start, 4))
            state["history"]["loss"].append(total / count)
            state["epoch"] = epoch + 1
            if (epoch + 1) % config["eval_every"] == 0 or epoch + 1 == config["epochs"]:
                model.eval()
                with torch.no_grad():
                    h = model.encode(x, graph.adj)
                    valid = self._evaluate(model, h, graph, split, "valid", config)
                    state["history"]["valid"].append(valid[metric])
                    best = state["best"]
                    if best is None or valid[metric] > best["valid"][metric]:
                        # the test pairs are scored only where the run's reported epoch may change
                        test = self._evaluate(model, h, graph, split, "test", config)
                        state["best"] = {"valid": valid, "test": test, "epoch": epoch + 1}
                        state["bad_evals"] = 0
                    else:
                        state["bad_evals"] += 1
                bar.set_postfix(loss=f"{total / count:.4f}", val=f"{valid[metric]:.4f}",
                                best_test=f"{state['best']['test'][metric]:.4f}")
            state["seconds"] += time.perf_counter() - start
            if 0 < config["patience"] <= state["bad_evals"]:  # patience <= 0: train every epoch
                break
            checkpoint.epoch_done(model, optimizer, state, epoch + 1)
        bar.close()
        best = state["best"]
        result = LinkRunResult(seed=seed, valid=best["valid"], test=best["test"], epochs=state["epoch"],
                               best_epoch=best["epoch"], seconds=round(state["seconds"], 3),
                               seconds_per_epoch=round(state["train_seconds"] / max(state["epoch"], 1), 4),
                               history=state["history"], peak_rss_mib=peak_rss_mib())
        checkpoint.save(model, optimizer, state, asdict(result))
        return result
