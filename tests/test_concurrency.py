"""50 concurrent `ainvoke` calls on one chain, over real HTTP to the test server (live tier).

    pytest -m live tests/test_concurrency.py -s      # prints the wall time
"""

from __future__ import annotations

import asyncio
import time

import pytest
from langchain_core.documents import Document

from ragloom import RagConfig, build_rag_chain, build_retriever, build_vector_store

CALLS = 50
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


@pytest.mark.live
async def test_50_concurrent_ainvoke_on_one_chain_all_succeed(cfg: RagConfig) -> None:
    # Short prompts and answers: this measures concurrency, not prose. The server, like
    # Ollama with OLLAMA_NUM_PARALLEL=1, runs one generation at a time, so the last call
    # waits for the 49 before it: the client timeout must cover the whole queue (with the
    # default 120 s, measured here: 37 of 50 calls ended in ProviderTimeout on 2 busy cores).
    cfg.llm.extra = {"num_predict": 8}
    cfg.llm.timeout_s = 1200.0
    cfg.retrieval.k = 1
    store = build_vector_store(cfg)
    await store.aadd_documents(DOCS, ids=["keys", "backups", "cafeteria"])
    chain = build_rag_chain(cfg, retriever=build_retriever(cfg, store))
    questions = [QUESTIONS[n % 3] for n in range(CALLS)]

    started = time.perf_counter()
    results = await asyncio.gather(*(chain.ainvoke(q) for q in questions),
                                   return_exceptions=True)
    wall = time.perf_counter() - started

    errors = [r for r in results if isinstance(r, BaseException)]
    print(f"\n{CALLS} calls in {wall:.1f} s; errors: {[type(e).__name__ for e in errors]}")
    assert not errors, f"{len(errors)} of {CALLS} failed; first: {errors[0]!r}"
    ok = [r for r in results if not isinstance(r, BaseException)]
    assert len(ok) == CALLS
    for n, result in enumerate(ok):
        assert result["question"] == questions[n]
        assert result["answer"].strip()
        assert [d.metadata["source"] for d in result["sources"]] == [EXPECTED[n % 3]]
    print(f"\n{CALLS} concurrent ainvoke: {wall:.1f} s wall, {wall / CALLS * 1000:.0f} ms/call")
