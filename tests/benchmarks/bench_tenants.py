"""Tenants at scale on the edge engine: the cost of the identity filter, and of access at ingest.

1. Query: 100,000 chunks (60 random words, random unit 384-d vectors, as in
   `bench_store`) spread over 100 tenants (each chunk also in one of 5 groups, a tenth
   of them shared: no tenant), hybrid collection, indexed (`finish_writes`). Then the
   p50/p95 of a hybrid query through `build_retriever(...).invoke` without identity
   and with one (a random user: a tenant and two groups), `--queries` each,
   interleaved so both see the same machine load. Target: with ≤ 1.2 times without.
2. Ingest: `ingest()` of `--files` small Markdown files into a fresh collection with a
   fast deterministic embedder, without `access=` and with
   `access={"tenant", "groups", "classification"}`, `--rounds` times each (alternated);
   the median wall time of each.

Run: python -m tests.benchmarks.bench_tenants [--chunks 100000] [--tenants 100]
     [--queries 200] [--files 2000] [--rounds 3]
Figures are printed as JSON; they depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from ragloom import RagConfig, build_retriever, build_vector_store, close_clients, ingest
from tests.benchmarks.bench_store import RandomEmbeddings, percentiles, text

GROUPS = ["hr", "sales", "it", "legal", "ops"]


def query_bench(chunks: int, tenants: int, queries: int) -> dict[str, Any]:
    folder = Path(tempfile.mkdtemp(prefix="ragloom-bench-tenants-"))
    cfg = RagConfig(qdrant={"engine": "edge", "location": str(folder), "collection": "bench"},
                    retrieval={"mode": "hybrid", "k": 4, "fetch_k": 20})
    store = build_vector_store(cfg, embeddings=RandomEmbeddings())
    rng = random.Random(7)
    started = time.perf_counter()
    for start in range(0, chunks, 1000):
        ids = range(start, min(chunks, start + 1000))
        metadatas = []
        for i in ids:
            meta: dict[str, Any] = {"source": f"t{i % tenants}/f{i % 200}.md"}
            if rng.random() >= 0.1:
                meta["tenant"] = f"t{i % tenants}"
                meta["groups"] = [rng.choice(GROUPS)]
            metadatas.append(meta)
        store.add_texts([text(i) for i in ids], metadatas=metadatas,
                        ids=[str(i) for i in ids])
    store.client.finish_writes("bench")  # type: ignore[attr-defined]
    build_s = time.perf_counter() - started
    retriever = build_retriever(cfg, store)
    plain: list[float] = []
    filtered: list[float] = []
    returned = 0
    for q in range(queries):
        question = " ".join(rng.choice(text(q).split()) for _ in range(6))
        user = {"tenant": f"t{rng.randrange(tenants)}", "groups": rng.sample(GROUPS, 2)}
        config = {"configurable": {"ragloom_user": user}}
        pairs = [(plain, None), (filtered, config)]
        if q % 2:
            pairs.reverse()
        for samples, call in pairs:
            started = time.perf_counter()
            docs = retriever.invoke(question, call)  # type: ignore[arg-type]
            samples.append(time.perf_counter() - started)
            if call is not None:
                returned += len(docs)
                assert all(d.metadata.get("tenant") in (None, user["tenant"]) for d in docs)
    close_clients()
    shutil.rmtree(folder, ignore_errors=True)
    p50, p95 = percentiles(plain)
    f50, f95 = percentiles(filtered)
    return {"chunks": chunks, "tenants": tenants, "queries": queries, "build_s": round(build_s, 1),
            "hybrid_ms": {"p50": round(p50, 2), "p95": round(p95, 2)},
            "hybrid_with_identity_ms": {"p50": round(f50, 2), "p95": round(f95, 2)},
            "ratio": {"p50": round(f50 / p50, 2), "p95": round(f95 / p95, 2)},
            "mean_docs_with_identity": round(returned / queries, 2)}


def ingest_bench(files: int, rounds: int) -> dict[str, Any]:
    source = Path(tempfile.mkdtemp(prefix="ragloom-bench-docs-"))
    for i in range(files):
        (source / f"doc{i}.md").write_text(text(i) + "\n\n" + text(i + files))
    times: dict[str, list[float]] = {"without": [], "with": []}
    access = {"tenant": "acme", "groups": ["hr", "legal"], "classification": "internal"}
    for r in range(rounds):
        order = ["without", "with"] if r % 2 == 0 else ["with", "without"]
        for kind in order:
            folder = Path(tempfile.mkdtemp(prefix="ragloom-bench-ingest-"))
            cfg = RagConfig(qdrant={"engine": "edge", "location": str(folder),
                                    "collection": "bench"},
                            ingest={"root": str(source)}, retrieval={"mode": "hybrid"})
            store = build_vector_store(cfg, embeddings=RandomEmbeddings())
            started = time.perf_counter()
            report = ingest([source], cfg, store=store,
                            access=access if kind == "with" else None)
            times[kind].append(time.perf_counter() - started)
            assert report.added == files, report
            close_clients()
            shutil.rmtree(folder, ignore_errors=True)
    shutil.rmtree(source, ignore_errors=True)
    without, with_ = statistics.median(times["without"]), statistics.median(times["with"])
    return {"files": files, "rounds": rounds, "without_s": round(without, 2),
            "with_access_s": round(with_, 2), "ratio": round(with_ / without, 2),
            "all_s": {k: [round(t, 2) for t in v] for k, v in times.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=100_000)
    parser.add_argument("--tenants", type=int, default=100)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    print(json.dumps({"ingest": ingest_bench(args.files, args.rounds)}, indent=1), flush=True)
    print(json.dumps({"query": query_bench(args.chunks, args.tenants, args.queries)}, indent=1),
          flush=True)


if __name__ == "__main__":
    main()
