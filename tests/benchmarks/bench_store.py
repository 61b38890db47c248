"""The embedded store at scale, per engine, through ragloom's public API.

For each engine (`edge`, `local`) and size (default 10,000 and 100,000 chunks of 60
random words with random unit 384-d vectors, hybrid collection, 200 sources):

- add: `add_texts` in batches of 1,000, then the end-of-write step an ingest runs
  (`finish_writes`: flush + Edge's `optimize()`, the HNSW build), all timed together;
- a follow-up "ten more files": 100 chunks added to the big collection, with its
  end-of-write step (what a small incremental `ragloom ingest` pays);
- dense, hybrid and hybrid + filter (one source of 200) query latency, p50 and p95
  over 50 queries through `build_retriever(...).invoke` (query embedding included);
- open + first query: close everything, then `build_vector_store` + `build_retriever`
  + one query, as a fresh process would;
- disk size of the folder, and peak RSS of the process (each run in a fresh
  subprocess, started through a launcher so it does not inherit our peak).

Run: python -m tests.benchmarks.bench_store [--sizes 10000 100000] [--engines edge local]
     [--local-max 10000]
The local engine (qdrant-client local mode) takes about 17 minutes at 100,000 chunks on
a 2-core machine (3.5 minutes to add them, the rest in 4 to 9 s hybrid queries and a 21 s
reopen); by default it runs only up to `--local-max` chunks.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from langchain_core.embeddings import Embeddings

from ragloom import RagConfig, build_retriever, build_vector_store, close_clients

DIM = 384
SOURCES = 200
QUERIES = 50
WORDS = [f"w{i}" for i in range(5000)]


class RandomEmbeddings(Embeddings):
    """Unit vectors seeded by the text: ~0.1 ms each, like a fast embedding server."""

    def _vector(self, text: str) -> list[float]:
        rng = np.random.default_rng(abs(hash(text)) % (2**32))
        v = rng.standard_normal(DIM)
        return [float(x) for x in v / np.linalg.norm(v)]

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [self._vector(t) for t in texts]

    def embed_query(self, text: str) -> list[float]:
        return self._vector(text)


def text(i: int) -> str:
    rng = random.Random(i)
    return " ".join(rng.choice(WORDS) for _ in range(60))


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return (statistics.median(ordered) * 1000,
            ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))] * 1000)


def disk_mb(folder: Path) -> float:
    """Space actually used (allocated blocks: Edge preallocates sparse files)."""
    return sum(p.stat().st_blocks * 512 for p in folder.rglob("*") if p.is_file()) / 2**20


def child(engine: str, n: int) -> dict[str, Any]:
    folder = Path(tempfile.mkdtemp(prefix=f"ragloom-bench-{engine}-"))
    base = {"engine": engine, "location": str(folder), "collection": "bench"}

    def cfg(mode: str) -> RagConfig:
        return RagConfig(qdrant=base, retrieval={"mode": mode, "k": 4, "fetch_k": 20})

    embeddings = RandomEmbeddings()
    store = build_vector_store(cfg("hybrid"), embeddings=embeddings)
    finish = getattr(store.client, "finish_writes", None)

    def add(start: int, stop: int) -> None:
        for s in range(start, stop, 1000):
            ids = range(s, min(stop, s + 1000))
            store.add_texts([text(i) for i in ids],
                            metadatas=[{"source": f"f{i % SOURCES}.md"} for i in ids],
                            ids=[str(i) for i in ids])

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # local mode's advice above 20,000 points
        started = time.perf_counter()
        add(0, n)
        if finish is not None:
            finish("bench")
        add_s = time.perf_counter() - started
        started = time.perf_counter()
        add(n, n + 100)
        if finish is not None:
            finish("bench")
        more_s = time.perf_counter() - started

        queries = [text(10**7 + i)[:80] for i in range(QUERIES)]
        results: dict[str, Any] = {"engine": engine, "chunks": n, "add_s": add_s,
                                   "add_per_s": n / add_s, "ten_more_files_s": more_s}
        for label, mode, flt in (("dense", "dense", None), ("hybrid", "hybrid", None),
                                 ("hybrid_filter", "hybrid", {"source": "f7.md"})):
            retriever = build_retriever(cfg(mode), store=build_vector_store(
                cfg(mode), embeddings=embeddings, client=store.client))
            retriever.invoke(queries[0], filter=flt)  # warm
            samples = []
            for q in queries:
                t = time.perf_counter()
                docs = retriever.invoke(q, filter=flt)
                samples.append(time.perf_counter() - t)
                assert len(docs) == 4
            results[label + "_p50_ms"], results[label + "_p95_ms"] = percentiles(samples)
        del retriever
        close_clients()
        gc.collect()
        started = time.perf_counter()
        reopened = build_vector_store(cfg("hybrid"), embeddings=embeddings)
        build_retriever(cfg("hybrid"), store=reopened).invoke(queries[1])
        results["open_first_query_s"] = time.perf_counter() - started
        close_clients()
    results["disk_mb"] = disk_mb(folder)
    results["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return results


def run(engine: str, n: int) -> dict[str, Any]:
    launcher = [sys.executable, "-c",
                "import subprocess, sys; sys.exit(subprocess.run(sys.argv[1:]).returncode)"]
    out = subprocess.run([*launcher, sys.executable, "-m", "tests.benchmarks.bench_store",
                          "--child", engine, str(n)], check=True, capture_output=True, text=True)
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--engines", nargs="+", default=["edge", "local"],
                        choices=["edge", "local"])
    parser.add_argument("--local-max", type=int, default=10_000)
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child[0], int(args.child[1]))))
        return
    header = (f"{'engine':6} {'chunks':>7} {'add/s':>7} {'add s':>7} {'+100 s':>6}"
              f" {'dense p50/p95 ms':>17} {'hybrid p50/p95':>15} {'hyb+filt p50/p95':>17}"
              f" {'open+1q s':>9} {'disk MB':>8} {'RSS MB':>7}")
    print(header)
    for engine in args.engines:
        for n in args.sizes:
            if engine == "local" and n > args.local_max:
                print(f"{engine:6} {n:>7} skipped (--local-max {args.local_max})")
                continue
            r = run(engine, n)
            print(f"{engine:6} {n:>7} {r['add_per_s']:>7.0f} {r['add_s']:>7.1f}"
                  f" {r['ten_more_files_s']:>6.2f}"
                  f" {r['dense_p50_ms']:>8.1f}/{r['dense_p95_ms']:<8.1f}"
                  f" {r['hybrid_p50_ms']:>7.1f}/{r['hybrid_p95_ms']:<7.1f}"
                  f" {r['hybrid_filter_p50_ms']:>8.1f}/{r['hybrid_filter_p95_ms']:<8.1f}"
                  f" {r['open_first_query_s']:>9.2f} {r['disk_mb']:>8.1f}"
                  f" {r['peak_rss_mb']:>7.0f}", flush=True)


if __name__ == "__main__":
    main()
