"""Figures for the Ollama-API test server: `python -m tests.benchmarks.bench_server`.

Prints, measured on this machine:
- start-up: thread start (and, separately, a fresh `python -m tests.ollama_server` process)
  to the first 200 on GET /;
- cold first /api/embed (the MiniLM load included) and warm single-text latency;
- embedding throughput for batches of 64 sentences of ~40 words;
- smollm2:135m generation speed: eval_count / eval_duration, and tokens over wall clock.
Takes about a minute; it is a report, not a pass/fail test.
"""

from __future__ import annotations

import random
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.ollama_server.app import OllamaTestServer

CHAT = "smollm2:135m"
EMBED = "all-minilm"
VOCABULARY = ("retrieval augmented generation combines a search step with a language model so "
              "answers cite the documents they come from and stay grounded in the indexed "
              "corpus while vectors capture meaning across paraphrases rotations keys "
              "configuration collections payloads filters")
WORDS = VOCABULARY.split()


def _sentences(n: int, words: int = 40, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choice(WORDS) for _ in range(words)) + "." for _ in range(n)]


def _wait_for_200(url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/", timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.005)
    raise TimeoutError(f"no 200 from {url}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def bench_process_start() -> float:
    """Seconds from spawning `python -m tests.ollama_server` to its first 200 on GET /."""
    port = _free_port()
    root = Path(__file__).resolve().parents[2]
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "tests.ollama_server", "--port", str(port)],
                            cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for_200(f"http://127.0.0.1:{port}")
        return time.perf_counter() - start
    finally:
        proc.terminate()
        proc.wait(10)


def main() -> None:
    """Run every measurement and print one line per figure."""
    print(f"python {sys.version.split()[0]}, {sys.platform}")
    start = time.perf_counter()
    server = OllamaTestServer(port=0).start()
    _wait_for_200(server.url)
    thread_start = time.perf_counter() - start
    print(f"start-up, thread to first 200 on GET /:   {thread_start * 1000:8.1f} ms")
    print(f"start-up, new process to first 200:        {bench_process_start() * 1000:8.1f} ms")
    http = httpx.Client(base_url=server.url, timeout=300)
    try:
        t = time.perf_counter()
        cold = http.post("/api/embed", json={"model": EMBED, "input": "cold start"}).json()
        cold_s = time.perf_counter() - t
        print(f"cold first /api/embed (wall):              {cold_s * 1000:8.1f} ms "
              f"(load_duration {cold['load_duration'] / 1e6:.1f} ms)")
        warm = []
        for i in range(10):
            t = time.perf_counter()
            http.post("/api/embed", json={"model": EMBED, "input": f"warm query {i}"})
            warm.append(time.perf_counter() - t)
        median_ms = statistics.median(warm) * 1000
        print(f"warm single-text /api/embed (median of 10): {median_ms:7.1f} ms")

        batches = [_sentences(64, seed=s) for s in range(6)]
        http.post("/api/embed", json={"model": EMBED, "input": batches[0]})  # warm the shapes
        t = time.perf_counter()
        tokens = 0
        for batch in batches[1:]:
            tokens += http.post("/api/embed", json={"model": EMBED, "input": batch}
                                ).json()["prompt_eval_count"]
        elapsed = time.perf_counter() - t
        texts = 64 * (len(batches) - 1)
        print(f"embedding throughput, 5 batches of 64 x ~40 words: {texts / elapsed:6.1f} texts/s "
              f"({tokens / texts:.0f} word pieces per text)")

        t = time.perf_counter()
        http.post("/api/chat", json={"model": CHAT, "messages": []})
        load_ms = (time.perf_counter() - t) * 1000
        print(f"smollm2:135m cold load (messages: []):     {load_ms:8.1f} ms")
        prompt = [{"role": "user", "content": "Write a short paragraph about rivers."}]
        rates, wall_rates = [], []
        for seed in range(3):
            t = time.perf_counter()
            r = http.post("/api/chat", json={
                "model": CHAT, "messages": prompt, "stream": False,
                "options": {"temperature": 0.7, "seed": seed, "num_predict": 128}}).json()
            wall = time.perf_counter() - t
            rates.append(r["eval_count"] / (r["eval_duration"] / 1e9))
            wall_rates.append(r["eval_count"] / wall)
            print(f"  run {seed}: {r['eval_count']} tokens, prompt {r['prompt_eval_count']} "
                  f"tokens, eval {rates[-1]:.1f} tok/s, wall {wall:.2f} s")
        print(f"smollm2:135m generation: {statistics.median(rates):.1f} tok/s (eval_count / "
              f"eval_duration, median of 3), {statistics.median(wall_rates):.1f} tok/s over wall "
              "clock (prompt evaluation and HTTP included)")
    finally:
        http.close()
        server.stop()


if __name__ == "__main__":
    main()
