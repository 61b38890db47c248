"""Ingestion under failing model servers: nothing lost, nothing duplicated."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ragloom import (
    ProviderUnavailable,
    RagConfig,
    build_vector_store,
)
from ragloom.ingestion import ingest
from tests.helpers import faults


@pytest.mark.vcr
def test_ingest_interrupted_by_5xx_then_rerun_loses_and_duplicates_nothing(
    cfg: RagConfig, ollama_test_server: Any, tmp_path: Path
) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    for n, topic in enumerate(["backups", "api keys", "billing"]):
        (docs / f"{n}.txt").write_text(
            "\n\n".join(f"Section {i} about {topic}: " + f"{topic} detail {i}. " * 12
                        for i in range(4)))
    cfg.ingest.chunk_size, cfg.ingest.chunk_overlap = 200, 0
    cfg.embeddings.batch_size, cfg.embeddings.max_concurrency = 4, 1
    store = build_vector_store(cfg)  # the size probe happens here, before any fault
    # The first embedding batch lands; the second fails 3 times (1 try + 2 retries).
    faults(ollama_test_server).add("/api/embed", delay_s=0.01, times=1)
    faults(ollama_test_server).add("/api/embed", status=500, times=3)
    with pytest.raises(ProviderUnavailable, match="status 500"):
        ingest([str(docs)], cfg, store=store)
    interrupted = store.client.count(cfg.qdrant.collection).count
    assert interrupted > 0  # the first batch was stored

    report = ingest([str(docs)], cfg, store=store)
    assert report.ok and report.added == 3
    points, _ = store.client.scroll(cfg.qdrant.collection, limit=1000, with_payload=True)
    keys = [(p.payload["metadata"]["source"], p.payload["metadata"]["chunk_index"])
            for p in points]
    expected = {p.payload["metadata"]["source"]: p.payload["metadata"]["chunk_count"]
                for p in points}
    assert len(keys) == len(set(keys)), "a chunk is stored twice"
    assert len(keys) == sum(expected.values()), "a chunk is missing"
    assert len(expected) == 3

    again = ingest([str(docs)], cfg, store=store)  # nothing left to do
    assert (again.unchanged, again.chunks_written) == (3, 0)
    assert store.client.count(cfg.qdrant.collection).count == len(keys)
