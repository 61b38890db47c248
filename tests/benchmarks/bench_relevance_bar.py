"""The relevance distributions behind `answer.min_relevance: auto`, per embedding model.

For each model it ingests the evaluation corpus (tests/data/eval/corpus), asks the 40
questions (30 answerable, 10 not: 4 far off topic, 6 near it) through ragloom's
retriever (hybrid, k=4) and prints, for answerable and unanswerable questions apart, the
top chunk's relevance (cosine of the question's dense vector to the chunk's, what the bar
compares). The bar it proposes is, among the multiples of 0.05 that let every answerable
question through (a wrong refusal is the failure users see first; rounding down to 0.05
leaves a margin), the one that stops the most unanswerable questions before the chat
model, the lowest on a tie.

Needs the test server with the real models (`python -m tests.ollama_server.fetch_models`):
started here on a free port, or the Ollama at `OLLAMA_HOST`.

Run: python -m tests.benchmarks.bench_relevance_bar [--models nomic-embed-text all-minilm]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import statistics
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ragloom import RagConfig, build_retriever, ingest
from ragloom.store import close_clients

EVAL = Path(__file__).resolve().parents[1] / "data" / "eval"


@contextlib.contextmanager
def _server() -> Iterator[str]:
    host = os.environ.get("OLLAMA_HOST")
    if host:
        yield host if "://" in host else f"http://{host}"
        return
    from tests.ollama_server.fixtures import running_server

    with running_server(real_models=True) as server:
        yield str(server.url)


def top_relevances(model: str, url: str, folder: Path, prefixes: bool = True
                   ) -> list[tuple[dict[str, Any], float]]:
    """(question, top relevance) for every question of the evaluation set."""
    embeddings: dict[str, Any] = {"model": model, "base_url": url}
    if not prefixes:
        embeddings.update(query_prefix="", document_prefix="")
    cfg = RagConfig(embeddings=embeddings, retrieval={"mode": "hybrid", "k": 4},
                    qdrant={"location": str(folder / model.replace(":", "_")),
                            "collection": "bar"})
    ingest([EVAL / "corpus"], cfg)
    retriever = build_retriever(cfg)
    out = []
    for line in (EVAL / "questions.jsonl").read_text().splitlines():
        if not line.strip():
            continue
        item = json.loads(line)
        docs = retriever.invoke(item["question"])
        out.append((item, max(d.metadata["relevance"] for d in docs)))
    return out


def proposed_bar(answerable: list[float], unanswerable: list[float]) -> float:
    """Among multiples of 0.05 passing every answerable question, the one stopping most."""
    passing = [round(step * 0.05, 2) for step in range(0, 20)
               if all(v >= step * 0.05 for v in answerable)]
    return max(passing, key=lambda bar: (sum(v < bar for v in unanswerable), -bar))


def _line(label: str, values: list[float]) -> str:
    q = statistics.quantiles(values, n=4) if len(values) > 1 else values * 3
    return (f"  {label:<24} n={len(values):>2}  min {min(values):.3f}  q1 {q[0]:.3f}  "
            f"median {q[1]:.3f}  q3 {q[2]:.3f}  max {max(values):.3f}")


def report(model: str, rows: list[tuple[dict[str, Any], float]]) -> float:
    """Print the distributions and the bar; return the bar."""
    answerable = [v for item, v in rows if item["relevant_sources"]]
    unanswerable = [v for item, v in rows if not item["relevant_sources"]]
    bar = proposed_bar(answerable, unanswerable)
    print(f"{model}:")
    print(_line("answerable", answerable))
    print(_line("unanswerable", unanswerable))
    print("  unanswerable, one by one: " + ", ".join(
        f"{v:.3f} {item['question'][:38]!r}" for item, v in rows
        if not item["relevant_sources"]))
    for candidate in sorted({bar, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.6}):
        passed = sum(v >= candidate for v in answerable)
        stopped = sum(v < candidate for v in unanswerable)
        mark = "  <- proposed" if math.isclose(candidate, bar) else ""
        print(f"  bar {candidate:.2f}: answerable let through {passed}/{len(answerable)}, "
              f"unanswerable stopped {stopped}/{len(unanswerable)}{mark}")
    return bar


def main() -> None:
    """Measure each model, print its distributions and proposed bar."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=["nomic-embed-text", "all-minilm"])
    parser.add_argument("--no-prefixes", action="store_true",
                        help="embed without the models' query/document prefixes")
    args = parser.parse_args()
    with _server() as url, tempfile.TemporaryDirectory() as tmp:
        for model in args.models:
            start = time.perf_counter()
            rows = top_relevances(model, url, Path(tmp), prefixes=not args.no_prefixes)
            report(model, rows)
            print(f"  ({time.perf_counter() - start:.0f} s with ingest, {url})")
        close_clients()  # before the folder goes


if __name__ == "__main__":
    main()
