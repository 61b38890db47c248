"""Ingestion over two test servers against one: `python -m tests.benchmarks.bench_multi_server`.

Each server is its own process imitating an Ollama that runs one request at a time
(`--parallel 1`) and needs 75 ms of model time per request on top of the real MiniLM work
(`--latency-ms 75`, as a remote GPU box). The same corpus is ingested through one server,
then through both (`embeddings.base_url: "a,b"`), with ragloom's defaults otherwise.
Prints the wall times and their ratio; a report, not a pass/fail test.

    python -m tests.benchmarks.bench_multi_server [--files 60] [--latency-ms 75]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import httpx
from qdrant_client import QdrantClient

from ragloom import RagConfig, build_vector_store
from ragloom.ingestion import ingest
from tests.ollama_server.process import server_process


def write_corpus(folder: Path, files: int) -> None:
    folder.mkdir(parents=True)
    for n in range(files):
        paragraphs = [f"Document {n}, part {p}: " + " ".join(
            f"word{(n * 7 + p * 3 + w) % 97}" for w in range(40)) for p in range(4)]
        (folder / f"doc{n:03d}.txt").write_text("\n\n".join(paragraphs))


def timed_ingest(urls: list[str], folder: Path, collection: str) -> tuple[float, int]:
    cfg = RagConfig(embeddings={"model": "all-minilm", "base_url": ",".join(urls),
                                "batch_size": 8},
                    ingest={"chunk_size": 300, "chunk_overlap": 0},
                    qdrant={"location": ":memory:", "collection": collection})
    store = build_vector_store(cfg, client=QdrantClient(location=":memory:"))
    started = time.perf_counter()
    report = ingest([str(folder)], cfg, store=store)
    wall = time.perf_counter() - started
    assert not report.failed
    return wall, report.chunks_written


def warm(url: str) -> None:
    httpx.post(f"{url}/api/embed", json={"model": "all-minilm", "input": ["warm"]},
               timeout=120).raise_for_status()


def main(argv: list[str] | None = None) -> None:
    """Print the figures."""
    parser = argparse.ArgumentParser(prog="python -m tests.benchmarks.bench_multi_server")
    parser.add_argument("--files", type=int, default=60)
    parser.add_argument("--latency-ms", type=float, default=75.0)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "docs"
        write_corpus(folder, args.files)
        with server_process(latency_ms=args.latency_ms) as a, \
                server_process(latency_ms=args.latency_ms) as b:
            warm(a.url)
            warm(b.url)
            one, chunks = timed_ingest([a.url], folder, "one")
            two, chunks_two = timed_ingest([a.url, b.url], folder, "two")
            busy = (a.snapshot()["busy_s"], b.snapshot()["busy_s"])
    assert chunks == chunks_two
    print(f"{args.files} files, {chunks} chunks, batches of 8, {args.latency_ms:.0f} ms"
          f" simulated latency per request, servers --parallel 1:")
    print(f"  one server:  {one:6.2f} s")
    print(f"  two servers: {two:6.2f} s   ratio two/one = {two / one:.2f}")
    print(f"  server busy time (whole run): a {busy[0]:.2f} s, b {busy[1]:.2f} s")


if __name__ == "__main__":
    main()
