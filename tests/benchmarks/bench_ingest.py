"""Ingestion throughput and memory: `ragloom.ingestion` against stock `add_documents`.

Both pipelines read and split the same generated corpus (chunk_size 1000, overlap 150);
ragloom writes to its `--engine` (edge, a folder, by default), stock to in-memory
Qdrant. Stock is the LangChain docs' pattern: split everything,
then `QdrantVectorStore.add_documents` (sequential batches of 64). Collection creation
(and ragloom's one vector-size probe) happen before the clock starts, for both.

1. Simulated latency: embeddings that sleep `--latency-ms` per request (time.sleep in
   the sync API, asyncio.sleep in the async one) and cost nothing else: what a fast
   embedding server (a GPU Ollama) looks like from the client.
2. The project's Ollama-API test server over real HTTP: a fault adds `--latency-ms` to
   every /api/embed request, and the server's real all-minilm (numpy, on this CPU) runs
   one request at a time, as Ollama does by default. Slow: minutes on 2 cores.
3. Peak RSS ingesting `--rss-chunks` small chunks with zero-cost embeddings, measured in
   a fresh subprocess with resource.getrusage (ru_maxrss): once with the points kept in
   the store (`--engine`), once with upserts discarded (the pipeline's own footprint).

Run: .venv/bin/python -m tests.benchmarks.bench_ingest [--chunks 2000] [--latency-ms 75]
     [--only simulated|server|rss]
"""

from __future__ import annotations

import argparse
import asyncio
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

from langchain_core.embeddings import DeterministicFakeEmbedding, Embeddings
from langchain_qdrant import QdrantVectorStore
from langchain_text_splitters import RecursiveCharacterTextSplitter
from qdrant_client import QdrantClient, models

from ragloom import RagConfig
from ragloom.ingestion import ingest
from ragloom.store import build_vector_store, close_clients

CHUNK_SIZE, OVERLAP = 1000, 150


class LatencyEmbeddings(Embeddings):
    """Fake 384-d embeddings that take `latency_s` per request and next to nothing per text.

    Vectors are lists of Python floats, as parsed from an HTTP server's JSON
    (DeterministicFakeEmbedding's numpy scalars make qdrant-client inspect every float).
    """

    def __init__(self, latency_s: float, size: int = 384) -> None:
        self.latency_s = latency_s
        self.inner = DeterministicFakeEmbedding(size=size)
        self.requests = 0

    def _vectors(self, texts: list[str]) -> list[list[float]]:
        return [[float(x) for x in vector] for vector in self.inner.embed_documents(texts)]

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        self.requests += 1
        time.sleep(self.latency_s)
        return self._vectors(texts)

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        self.requests += 1
        await asyncio.sleep(self.latency_s)
        return self._vectors(texts)

    def embed_query(self, text: str) -> list[float]:
        return self._vectors([text])[0]


class ZeroCostEmbeddings(Embeddings):
    """The same precomputed vector for every text: no time, no memory per call."""

    def __init__(self, size: int = 384) -> None:
        self.vector = [1.0 / size**0.5] * size

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [self.vector] * len(texts)

    def embed_query(self, text: str) -> list[float]:
        return self.vector


def make_corpus(folder: Path, min_chunks: int, chunk_size: int = CHUNK_SIZE,
                overlap: int = OVERLAP, words_per_file: int = 1500) -> int:
    """Write .txt files of seeded pseudo-words until they split into >= min_chunks."""
    rng = random.Random(42)
    syllables = ["ka", "lo", "mi", "ne", "ru", "sa", "te", "vo", "zi", "pe", "da", "gu"]
    vocab = ["".join(rng.choice(syllables) for _ in range(rng.randint(2, 4)))
             for _ in range(3000)]
    splitter = RecursiveCharacterTextSplitter(chunk_size=chunk_size, chunk_overlap=overlap)
    folder.mkdir(parents=True, exist_ok=True)
    chunks = n = 0
    while chunks < min_chunks:
        paragraphs = []
        for _ in range(max(1, words_per_file // 60)):
            sentences = [" ".join(rng.choices(vocab, k=rng.randint(6, 14))).capitalize() + "."
                         for _ in range(6)]
            paragraphs.append(" ".join(sentences))
        text = "\n\n".join(paragraphs)
        (folder / f"doc{n:05}.txt").write_text(text)
        chunks += len(splitter.split_text(text))
        n += 1
    return chunks


def cpu_s() -> float:
    """CPU seconds used by this process so far (the test server runs in it too)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def stock_ingest(corpus: Path, embeddings: Embeddings, name: str, dim: int) -> float:
    """LangChain's documented way: split all, then add_documents (batches of 64)."""
    client = QdrantClient(":memory:")
    client.create_collection(name, vectors_config=models.VectorParams(
        size=dim, distance=models.Distance.COSINE))
    store = QdrantVectorStore(client=client, collection_name=name, embedding=embeddings,
                              validate_collection_config=False)
    splitter = RecursiveCharacterTextSplitter(chunk_size=CHUNK_SIZE, chunk_overlap=OVERLAP)
    start = time.perf_counter()
    docs = []
    for path in sorted(corpus.glob("*.txt")):
        docs += splitter.create_documents([path.read_text()], [{"source": str(path)}])
    store.add_documents(docs)
    elapsed = time.perf_counter() - start
    assert client.count(name).count == len(docs)
    return elapsed


def ragloom_ingest(corpus: Path, cfg: RagConfig, embeddings: Embeddings,
                   repeats: int = 5) -> tuple[float, float]:
    """First ingest, then re-ingests of the unchanged corpus: (seconds, median seconds)."""
    store = build_vector_store(cfg, embeddings=embeddings, recreate=True)
    start = time.perf_counter()
    first = ingest([corpus], cfg, store=store)
    first_s = time.perf_counter() - start
    again_s = []
    for _ in range(repeats):
        start = time.perf_counter()
        again = ingest([corpus], cfg, store=store)
        again_s.append(time.perf_counter() - start)
        assert first.ok and again.unchanged == first.added and again.chunks_written == 0
    return first_s, statistics.median(again_s)


def compare(label: str, corpus: Path, chunks: int, embeddings: Embeddings, cfg: RagConfig,
            dim: int, rounds: int) -> None:
    """Median over `rounds` of each pipeline, alternating them so drift hits both."""
    stock, first, again, cpu = [], [], [], {"stock": 0.0, "ragloom": 0.0}
    for _ in range(rounds):
        start = cpu_s()
        stock.append(stock_ingest(corpus, embeddings, "bench_stock", dim))
        cpu["stock"] += cpu_s() - start
        start = cpu_s()
        ragloom_first, ragloom_again = ragloom_ingest(corpus, cfg, embeddings)
        cpu["ragloom"] += cpu_s() - start
        first.append(ragloom_first)
        again.append(ragloom_again)
    stock_s, first_s, again_s = (statistics.median(x) for x in (stock, first, again))
    print(f"[{label}] {chunks} chunks, max_concurrency={cfg.embeddings.max_concurrency},"
          f" batch_size={cfg.embeddings.batch_size}, median of {rounds} round(s)")
    print(f"  stock add_documents : {stock_s:8.2f} s  ({chunks / stock_s:7.1f} chunks/s,"
          f" process CPU {cpu['stock'] / rounds:.1f} s)")
    print(f"  ragloom.ingest      : {first_s:8.2f} s  ({chunks / first_s:7.1f} chunks/s,"
          f" process CPU {cpu['ragloom'] / rounds:.1f} s incl. re-ingests)")
    print(f"  wall-time ratio ragloom/stock: {first_s / stock_s:.3f}  (target <= 0.35)")
    print(f"  re-ingest unchanged : {again_s:8.3f} s (median of 5) = {100 * again_s / first_s:.2f}%"
          f" of the first ingest  (target <= 5%)")


def store_location(engine: str, tmp: str) -> str:
    """Where ragloom's pipeline writes: a folder for edge, in memory for local."""
    return str(Path(tmp) / "store") if engine == "edge" else ":memory:"


def rss_child(chunks: int, keep: bool, engine: str = "edge") -> None:
    """In a fresh process: generate, ingest, print peak RSS figures as JSON."""
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "corpus"
        made = make_corpus(corpus, chunks, chunk_size=200, overlap=0, words_per_file=3000)
        cfg = RagConfig(qdrant={"engine": engine, "location": store_location(engine, tmp),
                                "collection": "bench_rss"},
                        ingest={"chunk_size": 200, "chunk_overlap": 0})
        store = build_vector_store(cfg, embeddings=ZeroCostEmbeddings())
        if not keep:
            store.client.upsert = lambda *a, **k: None  # type: ignore[method-assign]
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # local mode's >20k points advice
            report = ingest([corpus], cfg, store=store)
        elapsed = time.perf_counter() - start
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        assert report.chunks_written == made, (report.chunks_written, made)
        close_clients()
    print(json.dumps({"chunks": made, "before_kb": before, "peak_kb": peak,
                      "seconds": elapsed}))


def rss(chunks: int, keep: bool, engine: str = "edge") -> dict[str, Any]:
    child = [sys.executable, "-m", "tests.benchmarks.bench_ingest", "--rss-child", str(chunks),
             "--engine", engine]
    # Linux carries a process's peak RSS across fork+exec, so a child started from this
    # (by now large) process would report our peak as its own; a small launcher between
    # the two starts the child with a clean slate.
    launcher = [sys.executable, "-c",
                "import subprocess, sys; sys.exit(subprocess.run(sys.argv[1:]).returncode)"]
    out = subprocess.run([*launcher, *child] + ([] if keep else ["--discard"]), check=True,
                         capture_output=True, text=True)
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chunks", type=int, default=2000)
    parser.add_argument("--latency-ms", type=float, default=75.0)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3, help="simulated-latency rounds")
    parser.add_argument("--rss-chunks", type=int, default=100_000)
    parser.add_argument("--only", choices=["simulated", "server", "rss"], action="append",
                        help="run only these parts (repeatable); default all")
    parser.add_argument("--engine", choices=["edge", "local"], default="edge",
                        help="ragloom's store: edge (a folder; the default) or local (memory)")
    parser.add_argument("--rss-child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--discard", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.rss_child:
        rss_child(args.rss_child, keep=not args.discard, engine=args.engine)
        return

    parts = set(args.only or ["simulated", "server", "rss"])
    latency = args.latency_ms / 1000
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "corpus"
        chunks = make_corpus(corpus, args.chunks)
        files = len(list(corpus.glob("*.txt")))
        print(f"corpus: {files} files, {chunks} chunks (chunk_size {CHUNK_SIZE}, overlap"
              f" {OVERLAP}); per-request latency {args.latency_ms:.0f} ms")
        cfg = RagConfig(qdrant={"engine": args.engine, "collection": "bench_ragloom",
                                "location": store_location(args.engine, tmp)},
                        embeddings={"max_concurrency": args.concurrency, "batch_size": 64})
        if "simulated" in parts:
            compare("simulated latency: fake embeddings sleeping per request", corpus, chunks,
                    LatencyEmbeddings(latency), cfg, 384, rounds=args.rounds)
        if "server" in parts:
            from ragloom.providers import build_embeddings
            from tests.ollama_server.fixtures import running_server

            with running_server() as server:
                server.faults.add("/api/embed", delay_s=latency, times=None)
                served = cfg.model_copy(update={"embeddings": cfg.embeddings.model_copy(
                    update={"model": "all-minilm", "base_url": server.url})})
                embeddings = build_embeddings(served)
                embeddings.embed_query("warm up: load the model")
                compare("test server over HTTP: all-minilm on this CPU + latency fault",
                        corpus, chunks, embeddings, served, 384, rounds=1)
        close_clients()  # the Edge shard closes (and flushes) before its folder is deleted

    for keep, label in ((True, f"points kept in the {args.engine} store"),
                        (False, "upserts discarded: the pipeline alone")):
        if "rss" not in parts:
            break
        got = rss(args.rss_chunks, keep, args.engine)
        print(f"[peak RSS, zero-cost embeddings, {label}] {got['chunks']} chunks in"
              f" {got['seconds']:.1f} s: peak {got['peak_kb'] / 1024:.0f} MB (after imports"
              f" and corpus generation {got['before_kb'] / 1024:.0f} MB)  (target < 1024 MB)")


if __name__ == "__main__":
    main()
