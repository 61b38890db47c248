"""A hybrid search reads payloads and vectors for its `k` winners only.

Both sides of a hybrid search (dense and sparse, `fetch_k` each) return ids and scores;
the fused winners' payloads and dense vectors are then read in one `retrieve`. Reading
every candidate's vectors made hybrid queries 2-3x slower than last round's
(`python -m tests.benchmarks.bench_store`). The answers stay the same: the winners, in
fused order, each with its relevance (the cosine of the query and its dense vector).
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from langchain_core.embeddings import DeterministicFakeEmbedding

from ragloom import RagConfig, build_retriever, build_vector_store
from ragloom.store import close_clients

TEXTS = [f"Document {i}: rotate the API keys every {i} days, or back up at {i}:00."
         for i in range(30)]


@pytest.fixture(params=["local", "edge"])
def cfg(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RagConfig]:
    location = ":memory:" if request.param == "local" else str(tmp_path / "store")
    yield RagConfig(qdrant={"engine": request.param, "location": location,
                            "collection": "hybrid_reads"},
                    retrieval={"mode": "hybrid", "k": 3, "fetch_k": 12})
    close_clients()


def _spied(cfg: RagConfig, calls: list[tuple[str, dict[str, Any]]]) -> Any:
    store = build_vector_store(cfg, embeddings=DeterministicFakeEmbedding(size=16))
    store.add_texts(TEXTS, ids=[f"d{i}" for i in range(len(TEXTS))])
    client = store.client
    for name in ("query_points", "retrieve"):
        method = getattr(client, name)

        def spy(*args: Any, _name: str = name, _method: Any = method, **kwargs: Any) -> Any:
            calls.append((_name, kwargs))
            return _method(*args, **kwargs)

        setattr(client, name, spy)
    return store


@pytest.mark.parametrize("path", ["sync", "async"])
def test_hybrid_search_reads_vectors_and_payloads_of_the_winners_only(
        cfg: RagConfig, path: str) -> None:
    calls: list[tuple[str, dict[str, Any]]] = []
    store = _spied(cfg, calls)
    retriever = build_retriever(cfg, store=store)
    docs = (retriever.invoke("rotate the API keys") if path == "sync"
            else asyncio.run(retriever.ainvoke("rotate the API keys")))

    searches = [kwargs for name, kwargs in calls if name == "query_points"]
    reads = [kwargs for name, kwargs in calls if name == "retrieve"]
    assert len(searches) == 2  # the dense side and the sparse side
    assert all(s["limit"] == 12 and not s["with_vectors"] and not s["with_payload"]
               for s in searches)
    assert len(reads) == 1 and len(reads[0]["ids"]) == 3 == len(docs)

    # The documents are whole, and each relevance is the cosine of the query and the
    # winner's stored dense vector, as when every candidate's vector was read.
    query = DeterministicFakeEmbedding(size=16).embed_query("rotate the API keys")
    records = store.client.retrieve(store.collection_name, reads[0]["ids"], with_vectors=True)
    stored = {str(r.payload.get(store.ID_PAYLOAD_KEY, r.id)): r for r in records}
    for doc in docs:
        assert doc.page_content in TEXTS
        assert doc.page_content == TEXTS[int(doc.id[1:])]
        vector = stored[doc.id].vector
        vector = vector.get(store.vector_name) if isinstance(vector, dict) else vector
        cosine = (sum(a * b for a, b in zip(query, vector, strict=True))
                  / math.sqrt(sum(a * a for a in query) * sum(b * b for b in vector)))
        assert doc.metadata["relevance"] == pytest.approx(cosine, abs=1e-6)


def test_hybrid_search_with_nothing_found_reads_nothing(cfg: RagConfig) -> None:
    calls: list[tuple[str, dict[str, Any]]] = []
    store = _spied(cfg, calls)
    docs = build_retriever(cfg, store=store).invoke(
        "rotate the API keys", filter={"source": "no-such-file.md"})
    assert docs == []
    assert [name for name, _ in calls] == ["query_points", "query_points"]
