"""ogbl-ddi link prediction: graphkit's GraphSAGE + MLP predictor (the ``LinkPrediction`` trainer,
as ``graphkit train link-prediction`` runs it) against PyG's own OGB example model
(``examples/linkproppred/ddi/gnn.py --use_sage``: SAGEConv + LinkPredictor), in the same process.

Same hyperparameters on both sides (OGB's): learnable 256-d node embeddings (Xavier), two SAGE
layers of 256, dropout 0.5, a two-layer MLP on ``h_i * h_j``, Adam with lr 0.005, batches of 65,536
training edges and as many PyG-sampled negatives, gradient norms clipped at 1 (embedding, GNN and
predictor apart), Hits@20 by OGB's Evaluator every 5 epochs, test taken at the best validation.

For every seed graphkit, then PyG, trains ``--epochs`` epochs. Reported: the median seconds of a
training epoch (negative sampling included, evaluation excluded) and the ratio, Hits@20 after the
same number of epochs, and the peak resident memory of each side (the kernel's high-water mark is
reset between sides, so both include the same loaded dataset and libraries)::

    python benchmarks/bench_link_prediction.py                 # 10 epochs, seeds 0 and 1
    python benchmarks/bench_link_prediction.py --epochs 20 --seeds 3
"""
from __future__ import annotations

import argparse
import gc
import json
import platform
import statistics
import time
from pathlib import Path

import torch
import torch.nn.functional as F

RESULTS = Path(__file__).resolve().parent / "results" / "link_prediction.json"
HYPER = dict(hidden=256, num_layers=2, dropout=0.5, lr=0.005, batch_size=65536, eval_every=5, clip=1.0)


def reset_peak_rss() -> bool:
    """Reset the process's resident-set high-water mark (Linux: ``/proc/self/clear_refs``)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def peak_rss_mib() -> float:
    """The high-water mark since :func:`reset_peak_rss` (``VmHWM``), else the process's peak."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    from graphkit.utils import peak_rss_mib as process_peak
    return process_peak()


# ----------------------------------------------------------------------------- graphkit
def run_graphkit(data, seed: int, epochs: int) -> dict:
    from graphkit.tasks import LinkPrediction
    config = {"epochs": epochs, "eval_every": HYPER["eval_every"], "patience": None}
    report = LinkPrediction("sage", "mlp", runs=1, seed=seed, config=config, progress=False).fit(data)
    run = report.runs[0]
    return {"epoch_seconds": run.history["epoch_seconds"], "valid_hits20": run.valid["hits@20"],
            "test_hits20": run.test["hits@20"], "best_epoch": run.best_epoch}


# ----------------------------------------------------------------------------- PyG's OGB example
def run_pyg(data, seed: int, epochs: int) -> dict:
    """The OGB ddi example's model and loops (SAGEConv on adj_t, LinkPredictor with a sigmoid, the
    loss on log-probabilities, per-batch dense negative sampling, clipping), driven the same way."""
    import torch_geometric.transforms as T
    from ogb.linkproppred import Evaluator
    from torch_geometric.nn import SAGEConv
    from torch_geometric.utils import negative_sampling

    h, dropout = HYPER["hidden"], HYPER["dropout"]

    class SAGE(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.convs = torch.nn.ModuleList([SAGEConv(h, h) for _ in range(HYPER["num_layers"])])

        def forward(self, x, adj_t):
            for conv in self.convs[:-1]:
                x = F.dropout(F.relu(conv(x, adj_t)), p=dropout, training=self.training)
            return self.convs[-1](x, adj_t)

    class LinkPredictor(torch.nn.Module):
        def __init__(self):
            super().__init__()
            widths = [h] * HYPER["num_layers"] + [1]
            self.lins = torch.nn.ModuleList(torch.nn.Linear(a, b) for a, b in zip(widths[:-1], widths[1:]))

        def forward(self, x_i, x_j):
            x = x_i * x_j
            for lin in self.lins[:-1]:
                x = F.dropout(F.relu(lin(x)), p=dropout, training=self.training)
            return torch.sigmoid(self.lins[-1](x))

    torch.manual_seed(seed)
    adj_t = T.ToSparseTensor()(data.__class__(edge_index=data.edge_index, num_nodes=data.num_nodes)).adj_t
    edge_index = data.edge_index
    split = data.split_edge
    emb = torch.nn.Embedding(data.num_nodes, h)
    torch.nn.init.xavier_uniform_(emb.weight)
    model, predictor = SAGE(), LinkPredictor()
    optimizer = torch.optim.Adam(list(model.parameters()) + list(emb.parameters()) + list(predictor.parameters()),
                                 lr=HYPER["lr"])
    evaluator = Evaluator(name="ogbl-ddi")
    train_edge = split["train"]["edge"]

    def train_epoch() -> None:
        model.train()
        predictor.train()
        for perm in torch.randperm(train_edge.size(0)).split(HYPER["batch_size"]):
            optimizer.zero_grad()
            out = model(emb.weight, adj_t)
            edge = train_edge[perm].t()
            pos_loss = -torch.log(predictor(out[edge[0]], out[edge[1]]) + 1e-15).mean()
            edge = negative_sampling(edge_index, num_nodes=data.num_nodes, num_neg_samples=perm.size(0),
                                     method="dense")
            neg_loss = -torch.log(1 - predictor(out[edge[0]], out[edge[1]]) + 1e-15).mean()
            (pos_loss + neg_loss).backward()
            for part in (emb, model, predictor):
                torch.nn.utils.clip_grad_norm_(part.parameters(), HYPER["clip"])
            optimizer.step()

    @torch.no_grad()
    def evaluate() -> dict:
        model.eval()
        predictor.eval()
        out = model(emb.weight, adj_t)

        def scores(pairs):
            return torch.cat([predictor(out[p[:, 0]], out[p[:, 1]]).squeeze(-1)
                              for p in pairs.split(HYPER["batch_size"])])
        evaluator.K = 20
        return {part: evaluator.eval({"y_pred_pos": scores(split[part]["edge"]),
                                      "y_pred_neg": scores(split[part]["edge_neg"])})["hits@20"]
                for part in ("valid", "test")}

    times, best = [], None
    for epoch in range(1, epochs + 1):
        start = time.perf_counter()
        train_epoch()
        times.append(round(time.perf_counter() - start, 4))
        if epoch % HYPER["eval_every"] == 0 or epoch == epochs:
            result = evaluate()
            if best is None or result["valid"] > best["valid"]:
                best = {**result, "epoch": epoch}
    return {"epoch_seconds": times, "valid_hits20": best["valid"], "test_hits20": best["test"],
            "best_epoch": best["epoch"]}


# ----------------------------------------------------------------------------- driver
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=10, help="training epochs per side and seed")
    parser.add_argument("--seeds", type=int, default=2, help="seeds 0 .. seeds-1")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--data-root", default=None, help="dataset root (default: GRAPHKIT_DATA, then the cache)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    import torch_geometric

    import graphkit.datasets
    data = graphkit.datasets.load("ogbl-ddi", root=args.data_root)
    runners = {"graphkit": run_graphkit, "pyg-ogb-example": run_pyg}
    runs = {name: [] for name in runners}
    for seed in range(args.seeds):
        for name, runner in runners.items():
            gc.collect()
            reset_peak_rss()
            result = runner(data, seed, args.epochs)
            result.update(seed=seed, peak_rss_mib=round(peak_rss_mib(), 1))
            runs[name].append(result)
            print(f"seed {seed} {name:16s} median {statistics.median(result['epoch_seconds']):6.2f} s/epoch  "
                  f"Hits@20 valid {100 * result['valid_hits20']:5.2f} test {100 * result['test_hits20']:5.2f}  "
                  f"peak {result['peak_rss_mib']:7.0f} MiB", flush=True)

    rows = []
    for name, results in runs.items():
        seconds = [s for r in results for s in r["epoch_seconds"]]
        tests = [100 * r["test_hits20"] for r in results]
        valids = [100 * r["valid_hits20"] for r in results]
        rows.append({"impl": name, "median_epoch_s": statistics.median(seconds), "epochs_timed": len(seconds),
                     "valid_hits20_mean": statistics.fmean(valids),
                     "test_hits20_mean": statistics.fmean(tests),
                     "test_hits20_std": statistics.pstdev(tests) if len(tests) > 1 else 0.0,
                     "peak_rss_mib": max(r["peak_rss_mib"] for r in results)})
    peer = next(r for r in rows if r["impl"] == "pyg-ogb-example")
    for r in rows:
        r["epoch_time_vs_pyg"] = r["median_epoch_s"] / peer["median_epoch_s"]
    print(f"\nogbl-ddi, GraphSAGE + MLP, {args.epochs} epochs x {args.seeds} seeds, {args.threads} threads")
    print(f"{'implementation':18s} {'s/epoch':>8s} {'vs PyG':>7s} {'Hits@20 test':>14s} {'peak MiB':>9s}")
    for r in rows:
        print(f"{r['impl']:18s} {r['median_epoch_s']:8.2f} {r['epoch_time_vs_pyg']:7.2f} "
              f"{r['test_hits20_mean']:7.2f} ± {r['test_hits20_std']:4.2f} {r['peak_rss_mib']:9.0f}")
    try:
        import torch_sparse
        sparse_version = torch_sparse.__version__
    except ImportError:
        sparse_version = None
    out = {"dataset": "ogbl-ddi", "model": "sage+mlp", "epochs": args.epochs, "seeds": args.seeds,
           "hyperparameters": HYPER, "rows": rows, "runs": runs,
           "command": f"python benchmarks/bench_link_prediction.py --epochs {args.epochs} --seeds {args.seeds}",
           "machine": {"torch": torch.__version__, "torch_geometric": torch_geometric.__version__,
                       "torch_sparse": sparse_version, "threads": args.threads, "cpu": platform.processor()
                       or platform.machine()}}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_suffix(".tmp")
    tmp.write_text(json.dumps(out, indent=2))
    tmp.replace(args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
