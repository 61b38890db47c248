"""Whole-process ingest: `python -m ragloom ingest` from start to exit, as a user runs it.

A generated corpus of `--files` text files (500 by default, about 2,330 chunks at the
default chunk size 1000 / overlap 150) is ingested by the CLI into the default Edge store
(a folder) against a loopback Ollama-API embedder that takes `--latency-ms` (75) per
`/api/embed` request and answers 384-d vectors. Measured, each in a fresh process:

1. first ingest (an empty store), wall time of the whole process;
2. unchanged re-ingest, wall time of the whole process;
3. teardown: from the moment the CLI's command returns (caught around `runpy`) to the
   moment the process has exited (shard close, thread pools, module teardown);
4. import time: the sum of `-X importtime`'s self times in a first ingest and in
   `ragloom ingest --help`, and whether `langchain_openai` / `langchain_qdrant` /
   `qdrant_client` were imported.

Run: python -m tests.benchmarks.bench_process_ingest [--files 500] [--latency-ms 75]
     [--runs 3] [--src DIR [--src DIR2]] [--max-concurrency N]
(DIR: the ragloom sources to measure, default ./src; with two, runs alternate between them
so that the machine's load hits both alike.)
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, HTTPServer, ThreadingHTTPServer
from pathlib import Path
from typing import Any

DIM = 384
_WORDS = [f"w{i}{s}" for i in range(400) for s in ("a", "er", "ing")]


def make_corpus(folder: Path, files: int, words_per_file: int = 520, seed: int = 7) -> None:
    """`files` text files of seeded pseudo-words in paragraphs (about 4.7 chunks a file)."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for n in range(files):
        words = [rng.choice(_WORDS) for _ in range(rng.randint(words_per_file - 150,
                                                                words_per_file + 150))]
        paragraphs = [" ".join(words[i:i + 60]) + "." for i in range(0, len(words), 60)]
        (folder / f"doc{n:04d}.txt").write_text("\n\n".join(paragraphs), encoding="utf-8")


def _vector(text: str) -> list[float]:
    seed = int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")
    rng = random.Random(seed)
    values = [rng.uniform(-1.0, 1.0) for _ in range(DIM)]
    norm = sum(v * v for v in values) ** 0.5
    return [v / norm for v in values]


_POOL: list[str] = []


def _pooled_vectors(texts: list[str]) -> str:
    """The JSON array of the texts' vectors, each one of 512 made once (picked by hash)."""
    if not _POOL:
        _POOL.extend(json.dumps(_vector(f"pool {i}")) for i in range(512))
    return "[" + ",".join(_POOL[int.from_bytes(hashlib.blake2b(
        t.encode(), digest_size=2).digest(), "big") % 512] for t in texts) + "]"


class _Embedder(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    latency_s = 0.075
    pooled = False

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._send({"version": "0.12.0"} if self.path == "/api/version" else
                   {"models": [{"name": "all-minilm:latest", "model": "all-minilm:latest"}]})

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if self.path == "/api/show":
            self._send({"model_info": {"bert.context_length": 512,
                                       "bert.embedding_length": DIM},
                        "capabilities": ["embedding"]})
            return
        time.sleep(self.latency_s)
        texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
        self.server.requests += 1  # type: ignore[attr-defined]
        if self.pooled:
            self._send(f'{{"model": {json.dumps(body["model"])}, "embeddings": '
                       f'{_pooled_vectors(texts)}}}')
            return
        self._send({"model": body["model"], "embeddings": [_vector(t) for t in texts]})

    def _send(self, payload: Any) -> None:
        data = (payload if isinstance(payload, str) else json.dumps(payload)).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class _Server(ThreadingHTTPServer):
    # A real Ollama queues up to 512 requests (OLLAMA_MAX_QUEUE); the default listen
    # backlog of 5 would reset a client that sends every batch at once.
    request_queue_size = 128


class _OneAtATime(HTTPServer):
    request_queue_size = 128  # waiting requests queue, as in Ollama's own queue


@contextmanager
def embedder(latency_s: float, one_at_a_time: bool = False,
             pooled: bool = False) -> Iterator[tuple[str, HTTPServer]]:
    """An Ollama-API embedder on 127.0.0.1 taking `latency_s` per `/api/embed` request.

    `one_at_a_time`: it answers one request after the other (closing each connection), as
    Ollama runs an embedding model (one slot whatever OLLAMA_NUM_PARALLEL says); else
    all at once. `pooled`: each vector is one of 512 made beforehand (picked by the
    text's hash), so answering costs the benchmark's process almost no CPU, as a server on
    another machine; else each is computed in Python (~23 ms of this process's CPU for a
    batch of 64), which the ingest being measured competes with on a small machine.
    """
    if one_at_a_time:
        handler = type("Handler", (_Embedder,), {"latency_s": latency_s, "pooled": pooled,
                                                 "protocol_version": "HTTP/1.0"})
        server: HTTPServer = _OneAtATime(("127.0.0.1", 0), handler)
    else:
        handler = type("Handler", (_Embedder,), {"latency_s": latency_s, "pooled": pooled})
        server = _Server(("127.0.0.1", 0), handler)
    if isinstance(server, ThreadingHTTPServer):
        server.daemon_threads = True
    server.requests = 0  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", server
    finally:
        server.shutdown()
        server.server_close()


# Runs the CLI in this process and writes the moment its command returned to argv[1].
_WRAPPER = """
import runpy, sys, time
stamp = sys.argv[1]
sys.argv = ["ragloom", *sys.argv[2:]]
try:
    runpy.run_module("ragloom", run_name="__main__", alter_sys=True)
finally:
    with open(stamp, "w") as f:
        f.write(repr(time.time()))
"""


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_cli(args: list[str], env: dict[str, str], cwd: Path,
            importtime: bool = False) -> dict[str, Any]:
    """Run the CLI in a fresh process: wall seconds, teardown seconds, import facts."""
    stamp = cwd / "returned.txt"
    cmd = [sys.executable, *(["-X", "importtime"] if importtime else []), "-c", _WRAPPER,
           str(stamp), *args]
    cpu_before = _children_cpu_s()
    started = time.time()
    proc = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, check=False)
    ended = time.time()
    cpu_s = _children_cpu_s() - cpu_before
    if proc.returncode != 0:
        raise SystemExit(f"{args} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    out: dict[str, Any] = {"wall_s": ended - started, "cpu_s": cpu_s,
                           "teardown_s": ended - float(stamp.read_text())}
    written = re.search(r"(\d+)\s*│\s*(\d+)\s*│\s*$", proc.stdout, re.M)
    out["chunks"] = int(written.group(1)) if written else None
    if importtime:
        self_us, modules = 0, set()
        for line in proc.stderr.splitlines():
            match = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|\s+(\S.*)$", line)
            if match:
                self_us += int(match.group(1))
                modules.add(match.group(3).strip())
        out["import_s"] = self_us / 1e6
        out["heavy"] = sorted(m for m in ("langchain_openai", "openai", "langchain_qdrant",
                                          "qdrant_client", "langchain_ollama") if m in modules)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=500)
    parser.add_argument("--latency-ms", type=float, default=75.0)
    parser.add_argument("--pooled-vectors", action="store_true",
                        help="the embedder answers from 512 vectors made beforehand: almost no"
                             " CPU of its own, as a server on another machine")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--src", action="append",
                        help="ragloom sources to measure (repeat to compare: runs alternate)")
    parser.add_argument("--max-concurrency", type=int, default=None,
                        help="embeddings.max_concurrency for every run (default: ragloom's)")
    args = parser.parse_args()
    sources = args.src or [str(Path(__file__).resolve().parents[2] / "src")]
    with tempfile.TemporaryDirectory() as tmp, embedder(args.latency_ms / 1000,
                                                        pooled=args.pooled_vectors) as (url, srv):
        corpus = Path(tmp) / "corpus"
        make_corpus(corpus, args.files)
        results: dict[str, dict[str, list[dict[str, Any]]]] = {
            src: {"first": [], "again": [], "help": []} for src in sources}
        for run in range(args.runs):
            for n, src in enumerate(sources):  # alternating: the machine's load hits all alike
                env = _env(src, url, args.max_concurrency)
                work = Path(tmp) / f"run{run}-{n}"
                work.mkdir()
                rows: dict[str, list[dict[str, Any]]] = results[src]
                before = srv.requests  # type: ignore[attr-defined]
                rows["first"].append(run_cli(["ingest", str(corpus)], env, work))
                rows["first"][-1]["requests"] = srv.requests - before  # type: ignore[attr-defined]
                rows["again"].append(run_cli(["ingest", str(corpus)], env, work))
                rows["help"].append(run_cli(["ingest", "--help"], env, work))
        for n, src in enumerate(sources):
            # one more first ingest and --help under -X importtime (slower: not timed above)
            work = Path(tmp) / f"imports-{n}"
            work.mkdir()
            results[src]["imports"] = [
                run_cli(["ingest", str(corpus)], _env(src, url, args.max_concurrency), work,
                        importtime=True)]
            results[src]["help imports"] = [
                run_cli(["ingest", "--help"], _env(src, url), work, importtime=True)]
        for src in sources:
            _print(src, results[src], args)


def _env(src: str, url: str, max_concurrency: int | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAGLOOM_")}
    # Absolute: the CLI runs in a work folder, where a relative `--src` would name
    # nothing and the installed ragloom would be measured instead.
    env.update(PYTHONPATH=str(Path(src).resolve()), RAGLOOM_EMBEDDINGS__BASE_URL=url,
               RAGLOOM_EMBEDDINGS__MODEL="all-minilm", NO_COLOR="1", COLUMNS="100")
    if max_concurrency is not None:
        env["RAGLOOM_EMBEDDINGS__MAX_CONCURRENCY"] = str(max_concurrency)
    return env


def _print(src: str, results: dict[str, list[dict[str, Any]]], args: Any) -> None:
    first = results["first"][0]
    print(f"== sources {src}: {args.files} files, {first['chunks']} chunks, {first['requests']}"
          f" embed requests; embedder {args.latency_ms:.0f} ms/request; default (edge) store;"
          f" max_concurrency {args.max_concurrency or 'default'}")
    for name, rows in results.items():
        walls = [r["wall_s"] for r in rows]
        line = (f"{name:12s} wall median {statistics.median(walls):.2f} s, min {min(walls):.2f}"
                f" (runs {', '.join(f'{w:.2f}' for w in walls)});"
                f" cpu median {statistics.median(r['cpu_s'] for r in rows):.2f} s;"
                f" teardown median"
                f" {statistics.median(r['teardown_s'] for r in rows) * 1000:.0f} ms")
        if "import_s" in rows[0]:
            line = (f"{name:12s} imports {rows[0]['import_s']:.2f} s (sum of -X importtime self"
                    f" times); heavy modules imported: {', '.join(rows[0]['heavy']) or 'none'}")
        print(line)


if __name__ == "__main__":
    main()
