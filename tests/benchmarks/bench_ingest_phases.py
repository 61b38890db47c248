"""Where a whole-process `ragloom ingest` spends its wall time, phase by phase.

The corpus, the embedder (`--latency-ms` per `/api/embed` request, 384-d) and the fresh
process per run are `bench_process_ingest`'s. The CLI runs under a wrapper that stamps,
from interpreter start: the moment `ingest()` is called (everything before it: imports,
the CLI, the configuration), the building of the vector store, the first embedding
request, the last answer, `ingest()` returning and the process exiting; and each
embedding request's latency and the gaps between requests (a gap: no request in flight
while one could be). Phases whose function a later ragloom renames are left out, not
guessed.

Run: python -m tests.benchmarks.bench_ingest_phases [--files 500] [--latency-ms 75]
     [--runs 3] [--max-concurrency 1 [--max-concurrency 4]] [--one-at-a-time] [--src DIR]
(`--one-at-a-time`: the embedder serves one request after the other, as Ollama runs an
embedding model, instead of all at once: what more requests in flight buy against it.)
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from tests.benchmarks.bench_process_ingest import _env, embedder, make_corpus

# Runs the CLI in this process; argv[1]: where to write the stamps (JSON).
_WRAPPER = """
import atexit, json, runpy, sys, time
T0 = time.time()
out, sys.argv = sys.argv[1], ["ragloom", *sys.argv[2:]]
marks, spans = {}, []

def stamp(obj, name, label):
    if obj is None or not hasattr(obj, name):
        return
    inner = getattr(obj, name)
    def timed(*args, **kwargs):
        start = time.time() - T0
        try:
            return inner(*args, **kwargs)
        finally:
            marks.setdefault(label, (start, time.time() - T0))
    setattr(obj, name, timed)

try:
    import ragloom._ingest_embed as embed
    inner_send = embed.EmbedStage._send
    async def _send(self, texts):
        start = time.time() - T0
        try:
            return await inner_send(self, texts)
        finally:
            spans.append((start, time.time() - T0))
    embed.EmbedStage._send = _send
except (ImportError, AttributeError):
    pass
import ragloom.ingestion as ingestion
stamp(ingestion, "build_vector_store", "build store")  # the store, as ingest() opens it
stamp(ingestion, "open_target", "build store")  # (its name since issue 22)
stamp(ingestion, "ingest", "ingest()")

def save():
    with open(out, "w") as f:
        json.dump({"marks": marks, "spans": spans, "exit": time.time() - T0}, f)
atexit.register(save)
runpy.run_module("ragloom", run_name="__main__", alter_sys=True)
"""


def run_phases(env: dict[str, str], cwd: Path, corpus: Path) -> dict[str, Any]:
    """One first ingest in a fresh process: its stamps, plus the wall time seen from here."""
    stamps = cwd / "phases.json"
    started = time.time()
    proc = subprocess.run([sys.executable, "-c", _WRAPPER, str(stamps), "ingest", str(corpus)],
                          env=env, cwd=cwd, capture_output=True, text=True, check=False)
    wall = time.time() - started
    if proc.returncode != 0:
        raise SystemExit(f"ingest failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    facts: dict[str, Any] = json.loads(stamps.read_text())
    facts["wall_s"] = wall
    return facts


def _phases(facts: dict[str, Any]) -> dict[str, float]:
    marks, spans = facts["marks"], sorted(facts["spans"])
    phases: dict[str, float] = {}
    call = marks.get("ingest()")
    if call:
        phases["interpreter start → ingest() called (imports, CLI, config)"] = call[0]
    if "build store" in marks:
        start, end = marks["build store"]
        phases["building the vector store"] = end - start
    if call and spans:
        phases["ingest() called → first embedding request"] = spans[0][0] - call[0]
        phases["first request → last answer"] = spans[-1][1] - spans[0][0]
        phases["last answer → ingest() returns (last writes, flush)"] = call[1] - spans[-1][1]
        phases["ingest() returns → exit handlers run (report, shard close)"] = \
            facts["exit"] - call[1]
    if spans:
        latencies = [end - start for start, end in spans]
        phases["embedding requests"] = len(spans)
        phases["request latency, mean (ms)"] = 1000 * statistics.mean(latencies)
        busy_until, idle = spans[0][1], 0.0
        for start, end in spans[1:]:  # time with no request in flight, between the first and last
            idle += max(0.0, start - busy_until)
            busy_until = max(busy_until, end)
        phases["no request in flight between first and last (s)"] = idle
    phases["wall time seen by the parent (with interpreter start and teardown)"] = \
        facts["wall_s"]
    return phases


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=500)
    parser.add_argument("--latency-ms", type=float, default=75.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--max-concurrency", action="append", type=int,
                        help="embeddings.max_concurrency to measure (repeat; default 1 and 4)")
    parser.add_argument("--src", default=str(Path(__file__).resolve().parents[2] / "src"))
    parser.add_argument("--one-at-a-time", action="store_true",
                        help="the embedder answers one request after the other, as Ollama"
                             " runs an embedding model (default: all at once)")
    args = parser.parse_args()
    levels = args.max_concurrency or [1, 4]
    with tempfile.TemporaryDirectory() as tmp, \
            embedder(args.latency_ms / 1000, args.one_at_a_time) as (url, _):
        corpus = Path(tmp) / "corpus"
        make_corpus(corpus, args.files)
        results: dict[int, list[dict[str, float]]] = {level: [] for level in levels}
        for run in range(args.runs):
            for level in levels:  # alternating: the machine's load hits all alike
                work = Path(tmp) / f"run{run}-{level}"
                work.mkdir()
                env = {**_env(args.src, url),
                       "RAGLOOM_EMBEDDINGS__MAX_CONCURRENCY": str(level)}
                results[level].append(_phases(run_phases(env, work, corpus)))
    for level, rows in results.items():
        serving = "one request at a time" if args.one_at_a_time else "all requests at once"
        print(f"== first ingest, {args.files} files, embedder {args.latency_ms:.0f} ms/request"
              f" ({serving}), max_concurrency {level}: medians of {args.runs} runs"
              " (seconds unless said)")
        for name in rows[0]:
            values = [row[name] for row in rows if name in row]
            print(f"  {name:70s} {statistics.median(values):8.2f}")


if __name__ == "__main__":
    main()
