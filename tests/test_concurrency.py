"""50 concurrent `ainvoke` calls on one chain, over real HTTP to the test server (live tier).

The server runs as its own process with `--parallel 1` (Ollama's default
OLLAMA_NUM_PARALLEL), so it runs one model request at a time, and ragloom runs with its
default settings (no raised timeout). The server reports its busy time (the wall time
during which a model request was running); threads are sampled in this process only.

    pytest -m live tests/test_concurrency.py -s      # prints the figures
"""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
from langchain_core.documents import Document

from ragloom import RagConfig, build_rag_chain, build_retriever, build_vector_store
from tests.conftest import CHAT_MODEL, EMBED_MODEL

CALLS = 50
HANDFUL = 12
"""The most threads the 50 calls may add to the process."""
DOCS = [
    Document("To rotate the API keys, open Settings > Security and press 'Rotate keys'.",
             metadata={"source": "keys.md"}),
    Document("Backups run nightly at 02:00 UTC and are kept for 30 days.",
             metadata={"source": "backups.md"}),
    Document("The office cafeteria serves lunch from noon to 2 pm.",
             metadata={"source": "cafeteria.md"}),
]
QUESTIONS = ["How do I rotate the API keys?", "When do backups run?",
             "When is lunch served?"]
EXPECTED = ["keys.md", "backups.md", "cafeteria.md"]


class ThreadSampler:
    """Samples this process's threads every few milliseconds while it runs."""

    def __init__(self) -> None:
        self.seen: set[int] = set()
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="thread-sampler", daemon=True)

    def _run(self) -> None:
        me = threading.get_ident()
        while not self._stop.is_set():
            alive = [t.ident for t in threading.enumerate() if t.ident != me]
            self.seen.update(i for i in alive if i is not None)
            self.peak = max(self.peak, len(alive))
            time.sleep(0.002)

    def __enter__(self) -> ThreadSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


@pytest.mark.live
async def test_50_concurrent_ainvoke_with_default_settings_all_succeed() -> None:
    from tests.ollama_server.process import server_process

    with server_process(parallel=1) as server:
        cfg = RagConfig(  # ragloom's defaults, but for the models and a short answer
            llm={"model": CHAT_MODEL, "base_url": server.url, "extra": {"num_predict": 8}},
            embeddings={"model": EMBED_MODEL, "base_url": server.url},
            qdrant={"location": ":memory:", "collection": "concurrency"},
            retrieval={"k": 1})
        assert cfg.llm.timeout_s == 120.0 and cfg.llm.max_concurrency == 1
        store = build_vector_store(cfg)
        await store.aadd_documents(DOCS, ids=["keys", "backups", "cafeteria"])
        chain = build_rag_chain(cfg, retriever=build_retriever(cfg, store))
        await chain.ainvoke(QUESTIONS[0])  # both models loaded before the clock starts
        questions = [QUESTIONS[n % 3] for n in range(CALLS)]

        before = server.snapshot()
        threads_before = {t.ident for t in threading.enumerate()}
        with ThreadSampler() as sampler:
            started = time.perf_counter()
            results = await asyncio.gather(*(chain.ainvoke(q) for q in questions),
                                           return_exceptions=True)
            wall = time.perf_counter() - started
        after = server.snapshot()

    busy = after["busy_s"] - before["busy_s"]
    new_threads = len(sampler.seen - threads_before)
    errors = [r for r in results if isinstance(r, BaseException)]
    print(f"\n{CALLS} concurrent ainvoke, server --parallel 1, default settings:"
          f" {CALLS - len(errors)}/{CALLS} ok; wall {wall:.2f} s, server busy {busy:.2f} s"
          f" (ratio {wall / busy:.3f}), {after['requests'] - before['requests']} model"
          f" requests, at most {after['max_active']} at once; threads: {len(threads_before)}"
          f" before, peak {sampler.peak} (sampler excluded), {new_threads} new during the"
          " calls")
    assert not errors, f"{len(errors)} of {CALLS} failed; first: {errors[0]!r}"
    for n, result in enumerate(results):
        assert not isinstance(result, BaseException)
        assert result["question"] == questions[n]
        assert result["answer"].strip()
        assert [d.metadata["source"] for d in result["sources"]] == [EXPECTED[n % 3]]
    assert after["max_active"] == 1  # the server really ran one request at a time
    assert wall <= 1.2 * busy, "the server sat idle while calls were waiting"
    assert new_threads <= HANDFUL
