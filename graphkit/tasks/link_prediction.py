"""Link prediction: the step (binary cross-entropy of a batch's edges against as many negatives),
the evaluation (Hits@K, MRR, AUC, AP of a split's pairs) and the estimator that runs seeds on the
engine, with an encoder (a preset, or the user's module) and a predictor head.

Usage::

    data = graphkit.datasets.load("ogbl-ddi")
    report = LinkPrediction("sage", "mlp", runs=3).fit(data)
    report = LinkPrediction(my_encoder, "ncn").fit(data)        # encoder(x, adj) -> [N, hidden]
    print(report.test["hits@20"])                                # {"mean": ..., "std": ...}
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence, Union

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.data import Data

from ..adj import Adj, check_edge_index, check_features
from ..evaluate.link_prediction import link_prediction
from ..loader import Batch, EdgeBatchLoader, LinkNeighborLoader, pair_loader
from ..nn.link import DotPredictor, MLPPredictor, NCNCPredictor, NCNPredictor
from ..train import Report, Task, TrainConfig, layer, split_config
from ..transforms import link_split
from ..utils import fingerprint, seed_everything
from . import presets
from .base import (
    ModelSpec,
    TaskEstimator,
    check_model_spec,
    check_sampling,
    instantiate,
    model_fingerprint,
    model_name,
    reported_runs,
)

PREDICTORS = ("dot", "mlp", "ncn", "ncnc")
REPORTED = ("hits@20", "hits@50", "hits@100", "mrr", "auc", "ap")
# Part of every checkpoint's key and of every report: raised whenever a model under the same config
# computes something else, so that a run never resumes from, or joins, another model's runs
# (2: NCN's two branches stopped sharing their last linear layer).
MODEL_VERSION = 2
# The hyperparameters of the model around the encoder: its learnable input and the predictor's.
_EMBEDDING_KEYS = ("embedding", "embedding_init", "pred_lr")
_ENCODER_KEYS = ("hidden_channels", "num_layers", "dropout", "input_dropout")
_PREDICTOR_KEYS = ("pred_layers", "pred_dropout", "edge_dropout", "layer_norm", "use_xlin", "tail_act", "two_layer_lin",
                   "alpha", "prob_scale", "prob_offset", "pt", "train_degree", "test_degree")


@dataclass
class LinkPredictionConfig(TrainConfig):
    """:class:`~graphkit.train.TrainConfig` plus the task's keys.

    Attributes:
        metric: the validation metric that picks the reported epoch.
        batch_size: training edges per step (with as many negatives).
        eval_batch_size: pairs scored per predictor call when evaluating.
        mask_input: remove a batch's target edges from the graph its forward pass sees (NCN).
        fanouts: ``None``: the encoder runs over the whole graph at every step; else over the
            sampled neighbourhoods of the batch's endpoints (:class:`~graphkit.loader.LinkNeighborLoader`),
            one hop per layer, and evaluation encodes all nodes layer by layer
            (``inference_batch_size`` targets per batch). Predictors ``dot`` and ``mlp`` (NCN and
            NCNC read common neighbours of the whole graph).
        inference_batch_size, num_workers: as :class:`~graphkit.tasks.NodeClassification`'s config.
    """

    metric: str = "hits@100"
    batch_size: int = 65536
    eval_batch_size: int = 65536
    mask_input: bool = False
    fanouts: Optional[List[int]] = None
    inference_batch_size: int = 4096
    num_workers: int = 0

    def __post_init__(self):
        super().__post_init__()
        if self.eval_batch_size < 1:
            raise ValueError(f"eval_batch_size must be at least 1, got {self.eval_batch_size}")
        check_sampling(self)
        if self.fanouts is not None and self.mask_input:
            raise ValueError("mask_input removes a batch's edges from the whole graph the encoder sees; with fanouts "
                             "the encoder sees sampled neighbourhoods: set one of them")


class LinkModel(nn.Module):
    """Encoder (on features, or on learnable node embeddings) + predictor head.

    Args:
        encoder: ``encoder(x [N, F], adj) -> [N, hidden]``.
        head: ``head(h, adj, pairs [2, P]) -> [P]`` logits.
        embedding: ``[N, F]`` learnable node embeddings fed to the encoder (``None``: the features).
        pred_lr: the head's learning rate (``None``: the optimizer's).
    """

    def __init__(self, encoder: nn.Module, head: nn.Module, embedding: Optional[nn.Embedding] = None,
                 pred_lr: Optional[float] = None):
        super().__init__()
        self.embedding, self.encoder, self.head, self.pred_lr = embedding, encoder, head, pred_lr

    def parameter_groups(self, weight_decay: float) -> List[dict]:
        """The embedding, the encoder and the head apart (gradient clipping is per group, as OGB's
        ddi recipe clips them); the head at ``pred_lr`` when set (NCN)."""
        head = {"params": list(self.head.parameters())}
        if self.pred_lr is not None:
            head["lr"] = self.pred_lr
        parts = [self.embedding, self.encoder]
        return [{"params": list(part.parameters())} for part in parts if part is not None] + [head]

    def encode(self, x: Optional[Tensor], adj, n_id: Optional[Tensor] = None,
               inference_batch_size: Optional[int] = None) -> Tensor:
        """The encoder's output: over the whole graph, over a sampled batch's blocks (``adj`` a
        list; ``n_id`` the input layer's nodes, whose embedding rows are read), or layer by layer
        over the whole graph (``inference_batch_size``, for an encoder with ``inference``)."""
        if self.embedding is not None:
            x = self.embedding.weight if n_id is None else self.embedding.weight.index_select(0, n_id)
        inference = getattr(self.encoder, "inference", None)
        if inference_batch_size is not None and callable(inference) and not isinstance(adj, list):
            return inference(x, adj, batch_size=inference_batch_size)
        return self.encoder(x, adj)

    def score(self, h: Tensor, adj: Adj, pairs: Tensor, batch_size: int) -> Tensor:
        return torch.cat([self.head(h, adj, pairs[:, s:s + batch_size]) for s in range(0, pairs.shape[1], batch_size)])


def build_head(predictor: str, channels: int, hparams: Dict[str, Any]) -> nn.Module:
    """A predictor preset of width ``channels`` from the flat hyperparameters."""
    common = dict(dropout=hparams["pred_dropout"], edge_dropout=hparams["edge_dropout"],
                  layer_norm=hparams["layer_norm"], use_xlin=hparams["use_xlin"], tail_act=hparams["tail_act"],
                  two_layer_lin=hparams["two_layer_lin"])
    if predictor == "dot":
        return DotPredictor()
    if predictor == "mlp":
        return MLPPredictor(channels, channels, hparams["pred_layers"], hparams["dropout"])
    if predictor == "ncn":
        return NCNPredictor(channels, **common)
    return NCNCPredictor(channels, alpha=hparams["alpha"], prob_scale=hparams["prob_scale"],
                         prob_offset=hparams["prob_offset"], pt=hparams["pt"], train_degree=hparams.get("train_degree"),
                         test_degree=hparams.get("test_degree"), **common)


def build_link_model(encoder: ModelSpec, predictor: Union[str, nn.Module], in_channels: Optional[int], num_nodes: int,
                     hparams: Dict[str, Any]) -> LinkModel:
    """The encoder with its input (learnable embeddings for featureless graphs, or when asked)
    and the head; ``hparams`` are the flat model hyperparameters of the link presets."""
    hidden = hparams["hidden_channels"]
    embedding = None
    if in_channels is None or hparams.get("embedding"):
        init = hparams.get("embedding_init", "xavier")
        if init not in ("xavier", "orthogonal"):
            raise ValueError(f"embedding_init must be 'xavier' or 'orthogonal', got {init!r}")
        embedding = nn.Embedding(num_nodes, hidden)
        (nn.init.orthogonal_ if init == "orthogonal" else nn.init.xavier_uniform_)(embedding.weight)
        in_channels = hidden
    if isinstance(encoder, str):
        extra = {} if hparams.get("input_dropout") is None else {"input_dropout": hparams["input_dropout"]}
        encoder = instantiate(encoder, in_channels, hidden,
                              dict(hidden_channels=hidden, num_layers=hparams["num_layers"], dropout=hparams["dropout"],
                                   **extra))
    else:
        encoder = instantiate(encoder, in_channels, hidden, {})
    head = (build_head(predictor, hidden, hparams) if isinstance(predictor, str)
            else instantiate(predictor, hidden, 1, {}))
    return LinkModel(encoder, head, embedding, hparams.get("pred_lr"))


class LinkPredictionTask(Task):
    """``-log sigmoid(pos) - log sigmoid(-neg)`` (means over a batch's edges and negatives);
    evaluation: :func:`graphkit.evaluate.link_prediction` of a split's positive and negative pairs."""

    def __init__(self, metric: str, eval_batch_size: int, inference_batch_size: Optional[int] = None):
        self.monitor = ((metric, "max"),)
        self.metrics = sorted(set(REPORTED) | {metric})
        self.eval_batch_size, self.inference_batch_size = eval_batch_size, inference_batch_size

    def training_step(self, model: LinkModel, batch: Batch) -> Tensor:
        sampled = isinstance(batch.adj, list)  # pairs index the batch's endpoints; the head gets no graph
        h = model.encode(batch.x, batch.adj, batch.n_id if sampled else None)
        graph = None if sampled else batch.adj
        pos = model.head(h, graph, batch.pos)
        neg = model.head(h, graph, batch.neg)
        return -F.logsigmoid(pos).mean() - F.logsigmoid(-neg).mean()

    def batch_size(self, batch: Batch) -> int:
        return batch.pos.shape[1]

    def evaluate(self, model: LinkModel, loader: Iterable[Batch]) -> Dict[str, float]:
        [batch] = list(loader)
        h = model.encode(batch.x, batch.adj, inference_batch_size=self.inference_batch_size)
        pos = model.score(h, batch.adj, batch.pos, self.eval_batch_size)
        neg = model.score(h, batch.adj, batch.neg, self.eval_batch_size)
        return link_prediction(pos, neg, self.metrics)


class LinkPrediction(TaskEstimator):
    """Link prediction on the engine (a scikit-learn estimator).

    Args:
        model: the encoder: a preset name (gcn, sage, gat, gin, mlp, puresum, ...), an ``nn.Module``
            (``encoder(x, adj) -> [N, hidden_channels]``; copied and re-initialised per run) or a
            factory ``f(in_channels, hidden_channels) -> nn.Module``.
        predictor: ``"dot"``, ``"mlp"``, ``"ncn"``, ``"ncnc"`` or an ``nn.Module``
            ``head(h, adj, pairs [2, P]) -> [P]`` (or a factory ``f(hidden_channels, 1)``).
        config: overrides of the presets (:func:`graphkit.tasks.presets.link_prediction` of the
            predictor and the dataset, which ``fit`` applies: they are the protocols of the
            predictors' papers and of OGB).
        runs: seeds ``seed .. seed + runs - 1`` (a new random split per seed for graphs without an
            official one).
        checkpoint_dir, checkpoint_every, checkpoint_seconds, ledger: as :class:`NodeClassification`.
        runs_from: reports of earlier fits (``Report.to_dict()`` or JSON files of it, e.g. one per
            seed from separate machines) whose runs are taken instead of training those seeds;
            each must be of the same model, predictor, dataset, config and :data:`MODEL_VERSION`.

    Fitted: ``config_``, ``report_``, ``model_`` (the last trained run's :class:`LinkModel`).
    """

    def __init__(self, model: ModelSpec = "sage", predictor: Union[str, nn.Module] = "mlp",
                 config: Optional[Dict[str, Any]] = None, runs: int = 1, seed: int = 0,
                 checkpoint_dir: Optional[str] = None, checkpoint_every: int = 5, checkpoint_seconds: float = 60.0,
                 progress: bool = True, runs_from: Sequence[Union[str, Path, Dict[str, Any]]] = (),
                 device: str = "cpu", ledger: Optional[str] = None):
        self.model, self.predictor, self.config, self.runs, self.seed = model, predictor, config, runs, seed
        self.checkpoint_dir, self.checkpoint_every, self.checkpoint_seconds = (checkpoint_dir, checkpoint_every,
                                                                               checkpoint_seconds)
        self.progress, self.runs_from, self.device, self.ledger = progress, runs_from, device, ledger

    def _predictor_name(self) -> str:
        return self.predictor if isinstance(self.predictor, str) else model_name(self.predictor)

    def resolve_config(self, dataset: Optional[str] = None):
        """``(LinkPredictionConfig, model hyperparameters)`` for a graph named ``dataset``."""
        check_model_spec(self.model)
        if isinstance(self.predictor, str) and self.predictor not in PREDICTORS:
            raise ValueError(f"unknown predictor {self.predictor!r}; expected one of {PREDICTORS} or an nn.Module")
        preset = presets.link_prediction(self.predictor if isinstance(self.predictor, str) else "", dataset)
        unknown = set(self.config or {}) - set(preset) - set(LinkPredictionConfig.keys()) - set(_EMBEDDING_KEYS) \
            - set(_ENCODER_KEYS) - set(_PREDICTOR_KEYS)
        if unknown:
            raise ValueError(f"unknown hyperparameters {sorted(unknown)}; known: {sorted(preset)}")
        merged = layer(preset, self.config)
        if merged.get("fanouts") is not None and self._predictor_name() in ("ncn", "ncnc"):
            raise ValueError(f"predictor {self._predictor_name()!r} reads the common neighbours of the whole graph; "
                             "mini-batch training (fanouts) takes 'dot' or 'mlp'")
        return split_config(LinkPredictionConfig, merged)

    def fit(self, data: Data) -> Report:
        if self.runs < 1:
            raise ValueError(f"runs must be >= 1, got {self.runs}")
        name = getattr(data, "name", "graph")
        train, hparams = self.resolve_config(name)
        self.config_ = {**train.to_dict(), **hparams}
        check_edge_index(data.edge_index, data.num_nodes)
        x = getattr(data, "x", None)
        if x is not None:
            check_features(x, data.num_nodes)
            x = x.float()
        meta = {"dataset": name, "model": model_name(self.model), "predictor": self._predictor_name(),
                "model_version": MODEL_VERSION}
        reported = reported_runs(self.runs_from, {"task": "link-prediction", **meta, "config": self.config_})
        identity = {"task": "link-prediction", **meta, "config": self.config_,
                    "model_spec": [model_fingerprint(self.model), model_fingerprint(self.predictor)],
                    "data": fingerprint(data.edge_index, x, getattr(data, "split_edge", None))}
        task = LinkPredictionTask(train.metric, train.eval_batch_size,
                                  None if train.fanouts is None else train.inference_batch_size)

        def run(seed: int):
            if seed in reported:
                return reported[seed]
            split = link_split(data, seed=seed)
            seed_everything(seed)
            model = build_link_model(self.model, self.predictor, None if x is None else x.shape[1], split.num_nodes,
                                     hparams)
            loader = EdgeBatchLoader(split.train, split.num_nodes, train.batch_size, x, train.mask_input)
            adj = loader.graph.adj
            if train.fanouts is not None:
                loader = LinkNeighborLoader(adj, split.train, train.fanouts, train.batch_size, x,
                                            num_workers=train.num_workers, seed=seed, progress=self.progress)
            engine = self._engine(train, identity, f"seed{seed}", f"{meta['model']}+{meta['predictor']} seed {seed}")
            result = engine.fit(task, model, loader, pair_loader(adj, split.valid, split.valid_neg, x),
                                pair_loader(adj, split.test, split.test_neg, x), seed=seed)
            self.model_ = None if engine.from_ledger else model
            return result

        results = self._run_all([(s,) for s in range(self.seed, self.seed + self.runs)], run,
                                f"{meta['model']}+{meta['predictor']} on {name}")
        return self._report("link-prediction", meta, train.metric, self.config_, results)
