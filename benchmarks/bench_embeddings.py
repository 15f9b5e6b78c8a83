"""Node-embedding speed, memory and quality: FastRP and node2vec, graphkit against its peers.

FastRP (Chen et al., CIKM 2019), each run in a process of its own after one warm-up run on a
200-node graph (imports, kernel loading): wall seconds of ``fit`` and the process's peak RSS, under
an address-space limit of ``--memory-limit`` so that the point where an implementation runs out of
memory shows):
- ``graphkit``: ``graphkit.embed.FastRP`` (native spmm, column blocks, multi-threaded);
- ``scipy``: the paper's own way, written here: scikit-learn's ``SparseRandomProjection`` and
  scipy sparse products, dense per-power normalisation (single-threaded, as the authors' code);
- ``torch.sparse``: the same algorithm with a torch CSR matrix and ``torch.sparse.mm``.
Graphs: BlogCatalog (dim 512, the paper's weights 1, 1, 7.81, 45.28 and beta = -0.628) and R-MAT
graphs of 100k and 1M nodes with 10 undirected edges per node (dim 256, 3 powers, weights 1, 1, 1).
On BlogCatalog the embeddings of graphkit and of the scipy version are also scored with the
DeepWalk protocol (10/50/90 %, ``--f1-repeats`` shuffles) in two set-ups: the FastRP authors'
(standardised columns, C = 0.1, liblinear's penalised intercept), against the figures of their
notebook, and the plain one (raw embedding, C = 1).

node2vec (Grover & Leskovec, KDD 2016) on BlogCatalog, p = q = 0.25, d = 128, 10 walks of 80,
window 10, 1 epoch: graphkit's walk op with its own skip-gram kernel (``graphkit-native``) and with
gensim's Word2Vec (``graphkit-gensim``) against PecanPy's SparseOTF mode (when ``pecanpy`` is
installed), walks and training timed apart, Macro/Micro-F1 at 50 % (5 shuffles, C = 1).

    python benchmarks/bench_embeddings.py                       # everything (about 15 minutes)
    python benchmarks/bench_embeddings.py --graphs blogcatalog --skip-node2vec
    python benchmarks/bench_embeddings.py --graphs rmat-1m --skip-node2vec --memory-limit 4GiB \
        --out benchmarks/results/embeddings-limit-4gib.json     # which implementations stop there
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results" / "embeddings.json"
GRAPHS = ("blogcatalog", "rmat-100k", "rmat-1m")
FASTRP_IMPLS = ("graphkit", "scipy", "torch.sparse")
PAPER = {"dim": 512, "weights": [1.0, 1.0, 7.81, 45.28], "beta": -0.628}
LARGE = {"dim": 256, "weights": [1.0, 1.0, 1.0], "beta": 0.0}


def load_graph(name: str):
    """``(A scipy CSR float32 symmetric, labels or None)``."""
    import numpy as np
    import scipy.sparse as sp
    if name == "blogcatalog":
        from graphkit import datasets
        data = datasets.load("blogcatalog")
        ei = data.edge_index.numpy()
        a = sp.csr_matrix((np.ones(ei.shape[1], dtype=np.float32), (ei[0], ei[1])), shape=(data.num_nodes,) * 2)
        return a, data.y.numpy()
    saved = Path(os.environ["GK_BENCH_TMP"]) / f"{name}.npz" if os.environ.get("GK_BENCH_TMP") else None
    if saved is not None and saved.is_file():  # made once by the parent: runs load it as a user would
        return sp.load_npz(saved).tocsr(), None
    from graphkit.datasets.synthetic import rmat_edges
    n = {"rmat-100k": 100_000, "rmat-1m": 1_000_000}[name]
    ei = rmat_edges(n, 10 * n, seed=0).numpy()
    a = sp.csr_matrix((np.ones(ei.shape[1], dtype=np.float32), (ei[0], ei[1])), shape=(n, n))
    a = ((a + a.T) > 0).astype(np.float32).tocsr()  # undirected, no duplicates
    if saved is not None:
        sp.save_npz(saved, a, compressed=False)
    return a, None


def config(graph: str) -> dict:
    return PAPER if graph == "blogcatalog" else LARGE


def fastrp_scipy(a, dim, weights, beta, seed=0):
    """The paper's algorithm as its authors run it: scikit-learn projection, scipy products."""
    import numpy as np
    import scipy.sparse as sp
    from sklearn.preprocessing import normalize
    from sklearn.random_projection import SparseRandomProjection
    n = a.shape[0]
    degree = np.asarray(a.sum(axis=1)).ravel()
    inv = np.divide(1.0, degree, out=np.zeros_like(degree), where=degree > 0)
    m = sp.diags(inv) @ a
    transformer = SparseRandomProjection(n_components=dim, density="auto", random_state=seed).fit(m)
    reweight = np.power(degree, beta, out=np.zeros_like(degree), where=degree > 0)
    transformer.components_ = transformer.components_ @ sp.diags(reweight)
    u = transformer.transform(m)
    out = np.zeros((n, dim))
    for k, w in enumerate(weights):
        if k > 0:
            u = m @ u
        dense = u.toarray() if sp.issparse(u) else np.asarray(u)
        out += w * normalize(dense, norm="l2", axis=1)
    return out


def fastrp_torch_sparse(a, dim, weights, beta, seed=0):
    """The same algorithm with a torch CSR matrix and torch.sparse.mm (dense Gaussian-free very
    sparse projection drawn with torch)."""
    import math

    import numpy as np
    import torch
    n = a.shape[0]
    degree = torch.from_numpy(np.asarray(a.sum(axis=1)).ravel().astype(np.float32))
    csr = a.tocsr()
    rows = torch.from_numpy(np.diff(csr.indptr)).long()
    inv = torch.where(degree > 0, 1.0 / degree.clamp(min=1e-30), torch.zeros_like(degree))
    values = torch.from_numpy(csr.data.astype(np.float32)) * inv.repeat_interleave(rows)
    m = torch.sparse_csr_tensor(torch.from_numpy(csr.indptr).long(), torch.from_numpy(csr.indices).long(),
                                values, (n, n))
    gen = torch.Generator().manual_seed(seed)
    s = math.sqrt(n)
    r = (torch.rand(n, dim, generator=gen) < 1 / s).float()
    r *= (torch.randint(0, 2, (n, dim), generator=gen) * 2 - 1).float() * math.sqrt(s / dim)
    r *= torch.where(degree > 0, degree.clamp(min=1e-30).pow(beta), torch.zeros_like(degree)).unsqueeze(1)
    out = torch.zeros(n, dim)
    u = r
    for w in weights:
        u = torch.sparse.mm(m, u)
        out += w * torch.nn.functional.normalize(u, dim=1)
    return out.numpy()


def fastrp_child(impl: str, graph: str, threads: int) -> dict:
    import numpy as np
    import scipy.sparse as sp
    import torch
    torch.set_num_threads(threads)
    a, _ = load_graph(graph)
    cfg = config(graph)

    def run(graph_matrix):
        if impl == "graphkit":
            from graphkit.embed import FastRP
            return FastRP(dim=cfg["dim"], weights=cfg["weights"], normalization_strength=cfg["beta"],
                          seed=0).fit_transform(graph_matrix)
        if impl == "scipy":
            return fastrp_scipy(graph_matrix, cfg["dim"], cfg["weights"], cfg["beta"])
        return fastrp_torch_sparse(graph_matrix, cfg["dim"], cfg["weights"], cfg["beta"])

    run(sp.random(200, 200, density=0.05, format="csr", dtype=np.float32, random_state=0))  # imports, kernel load
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    start = time.perf_counter()
    try:
        emb = run(a)
    except MemoryError:
        return {"status": "out of memory", "seconds": time.perf_counter() - start,
                "input_rss_mib": base, "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    seconds = time.perf_counter() - start
    if graph == "blogcatalog":
        np.save(Path(os.environ["GK_BENCH_TMP"]) / f"fastrp-{impl}.npy", np.asarray(emb, dtype=np.float32))
    return {"status": "ok", "seconds": seconds, "input_rss_mib": base,
            "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


# The FastRP authors' notebook (fast-random-projection-blogcatalog.ipynb, GTmac/FastRP): this
# configuration, 5 shuffles, C = 0.1 on the standardised embedding; Micro-F1, Macro-F1.
NOTEBOOK_F1 = {0.1: (0.3711, 0.2315), 0.5: (0.4079, 0.2797), 0.9: (0.4251, 0.2965)}
F1_SETUPS = {"authors": dict(C=0.1, standardize=True), "plain": dict(C=1.0)}


def f1_child(path: str, repeats: int, threads: int) -> dict:
    import numpy as np
    import torch
    torch.set_num_threads(threads)
    from graphkit.evaluate import node_classification_f1
    _, labels = load_graph("blogcatalog")
    out = {}
    for name, setup in F1_SETUPS.items():
        start = time.perf_counter()
        report = node_classification_f1(np.load(path), labels, train_ratios=(0.1, 0.5, 0.9), repeats=repeats,
                                        seed=0, **setup)
        report["seconds"] = time.perf_counter() - start
        if name == "authors":
            for r in report["results"]:
                micro, macro = NOTEBOOK_F1[r["train_ratio"]]
                r["notebook"] = {"micro_f1": micro, "macro_f1": macro,
                                 "micro_diff": r["micro_f1"]["mean"] - micro,
                                 "macro_diff": r["macro_f1"]["mean"] - macro}
        out[name] = report
    return out


def node2vec_child(impl: str, threads: int) -> dict:
    import torch
    torch.set_num_threads(threads)
    from graphkit.evaluate import node_classification_f1
    a, labels = load_graph("blogcatalog")
    settings = dict(p=0.25, q=0.25, dim=128, walk_length=80, walks_per_node=10, window=10, epochs=1)
    start = time.perf_counter()
    if impl.startswith("graphkit"):
        from graphkit.embed import Node2Vec
        model = Node2Vec(**settings, seed=0, workers=threads, trainer=impl.split("-")[1])
        emb = model.fit_transform(a)
        walk_s, train_s = model.walk_seconds_, model.train_seconds_
    else:
        emb, walk_s, train_s = _pecanpy(a, settings, threads)
    total = time.perf_counter() - start
    report = node_classification_f1(emb, labels, train_ratios=(0.5,), repeats=5, seed=0)["results"][0]
    return {"seconds": total, "walk_seconds": walk_s, "train_seconds": train_s,
            "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "micro_f1_50": report["micro_f1"], "macro_f1_50": report["macro_f1"]}


def _numpy1_aliases() -> None:
    """PecanPy's typing dependency (nptyping) still names NumPy 1 aliases that NumPy 2 removed."""
    import numpy as np
    for old, new in {"bool8": np.bool_, "object0": np.object_, "int0": np.intp, "uint0": np.uintp,
                     "float_": np.float64, "complex_": np.complex128, "unicode_": np.str_, "string_": np.bytes_,
                     "void0": np.void, "longfloat": np.longdouble, "singlecomplex": np.complex64,
                     "cfloat": np.complex128, "longcomplex": np.clongdouble, "clongfloat": np.clongdouble,
                     "str0": np.str_, "bytes0": np.bytes_}.items():
        if old not in np.__dict__:
            setattr(np, old, new)


def _pecanpy(a, settings, threads):
    """PecanPy's SparseOTF mode: its own walks, then gensim's Word2Vec with the same settings (what
    ``SparseOTF.embed`` does, timed apart)."""
    import numpy as np
    _numpy1_aliases()
    from gensim.models import Word2Vec
    from pecanpy import pecanpy as pp
    g = pp.SparseOTF(p=settings["p"], q=settings["q"], workers=threads, verbose=False, random_state=0)
    g.set_node_ids([str(i) for i in range(a.shape[0])])
    csr = a.tocsr()
    g.indptr = csr.indptr.astype(np.uint32)
    g.indices = csr.indices.astype(np.uint32)
    g.data = csr.data.astype(np.float32)
    start = time.perf_counter()
    g.preprocess_transition_probs()
    walks = g.simulate_walks(num_walks=settings["walks_per_node"], walk_length=settings["walk_length"])
    walk_s = time.perf_counter() - start
    start = time.perf_counter()
    w2v = Word2Vec(walks, vector_size=settings["dim"], window=settings["window"], min_count=0, sg=1,
                   workers=threads, epochs=settings["epochs"], seed=0)
    train_s = time.perf_counter() - start
    return np.asarray(w2v.wv[g.nodes], dtype=np.float32), walk_s, train_s


def _run(args, *what, limit: int = 0):
    cmd = [sys.executable, __file__, "--threads", str(args.threads), *what]

    def cap():
        if limit:
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, preexec_fn=cap, timeout=args.timeout,
                              env={**os.environ, "PYTHONWARNINGS": "ignore"})
    except subprocess.TimeoutExpired:
        print(f"  {' '.join(what)}: stopped after {args.timeout} s", file=sys.stderr)
        return {"status": f"timeout ({args.timeout} s)"}
    if done.returncode != 0:
        tail = done.stderr[-1500:]
        status = "out of memory" if "MemoryError" in tail or "memory" in tail.lower() else "failed"
        print(f"  {' '.join(what)}: {status}\n{tail}", file=sys.stderr)
        return {"status": status}
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--graphs", nargs="+", default=list(GRAPHS), choices=GRAPHS)
    parser.add_argument("--impls", nargs="+", default=list(FASTRP_IMPLS), choices=FASTRP_IMPLS)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--f1-repeats", type=int, default=5)
    parser.add_argument("--memory-limit", default="16GiB", help="address-space limit of every FastRP run")
    parser.add_argument("--skip-node2vec", action="store_true")
    parser.add_argument("--timeout", type=int, default=900, help="seconds before a run is stopped")
    parser.add_argument("--out", default=str(RESULTS))
    parser.add_argument("--fastrp-child", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--f1-child", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--node2vec-child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.fastrp_child:
        print(json.dumps(fastrp_child(*args.fastrp_child, args.threads)))
        return
    if args.f1_child:
        print(json.dumps(f1_child(args.f1_child[0], int(args.f1_child[1]), args.threads)))
        return
    if args.node2vec_child:
        print(json.dumps(node2vec_child(args.node2vec_child, args.threads)))
        return

    import tempfile

    from graphkit.utils import atomic_write_text, parse_bytes
    limit = parse_bytes(args.memory_limit)
    tmp = tempfile.mkdtemp(prefix="gk-bench-emb-")
    os.environ["GK_BENCH_TMP"] = tmp
    fastrp, f1, node2vec = [], {}, []
    for graph in args.graphs:
        if graph.startswith("rmat"):
            load_graph(graph)  # generated once, saved for the runs
    for graph in args.graphs:
        for impl in args.impls:
            row = {"graph": graph, "impl": impl, **config(graph), **_run(args, "--fastrp-child", impl, graph,
                                                                        limit=limit)}
            fastrp.append(row)
            print(f"FastRP {graph:12s} {impl:13s} {row.get('status')}: {row.get('seconds', float('nan')):8.2f} s, "
                  f"peak {row.get('peak_rss_mib', float('nan')):8.0f} MiB", flush=True)
    for row in fastrp:
        same = [r for r in fastrp if r["graph"] == row["graph"] and r["impl"] == "graphkit" and r.get("status") == "ok"]
        if same and row.get("status") == "ok":
            row["graphkit_speedup"] = row["seconds"] / same[0]["seconds"]
    if "blogcatalog" in args.graphs:
        for impl in ("graphkit", "scipy"):
            path = Path(tmp) / f"fastrp-{impl}.npy"
            if path.is_file():
                f1[impl] = _run(args, "--f1-child", str(path), str(args.f1_repeats))
                for name, setup in F1_SETUPS.items():
                    report = f1[impl].get(name, {})
                    print(f"F1 of the {impl} FastRP embedding, {name} set-up {setup} "
                          f"({report.get('seconds', 0):.1f} s):", flush=True)
                    for r in report.get("results", []):
                        ref = r.get("notebook")
                        versus = (f"   notebook {ref['micro_f1']:.4f}/{ref['macro_f1']:.4f} "
                                  f"(diff {ref['micro_diff']:+.4f}/{ref['macro_diff']:+.4f})" if ref else "")
                        print(f"  {100 * r['train_ratio']:3.0f} %  Micro {r['micro_f1']['mean']:.4f} ± "
                              f"{r['micro_f1']['std']:.4f}  Macro {r['macro_f1']['mean']:.4f} ± "
                              f"{r['macro_f1']['std']:.4f}{versus}")
    if not args.skip_node2vec:
        for impl in ("graphkit-native", "graphkit-gensim", "pecanpy"):
            if impl == "pecanpy":
                try:
                    _numpy1_aliases()
                    import pecanpy  # noqa: F401
                except Exception:
                    print("node2vec pecanpy: not installed (pip install --no-deps pecanpy numba)", flush=True)
                    continue
            row = {"impl": impl, **_run(args, "--node2vec-child", impl)}
            node2vec.append(row)
            print(f"node2vec {impl:15s} {row.get('seconds', float('nan')):7.1f} s "
                  f"(walks {row.get('walk_seconds', 0):.1f}, train {row.get('train_seconds', 0):.1f}), Macro-F1 50 % "
                  f"{row.get('macro_f1_50', {}).get('mean', float('nan')):.4f}", flush=True)
    import torch
    result = {"machine": {"cpu": platform.processor() or platform.machine(), "threads": args.threads,
                          "torch": torch.__version__, "python": platform.python_version()},
              "memory_limit": args.memory_limit, "fastrp": fastrp, "fastrp_f1": f1, "node2vec": node2vec}
    atomic_write_text(json.dumps(result, indent=2) + "\n", args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
