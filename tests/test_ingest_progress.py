"""Ingest progress is visible from the first second: files found, chunks queued."""

from __future__ import annotations

import uuid
from pathlib import Path

from langchain_core.embeddings import DeterministicFakeEmbedding

from ragloom import RagConfig, build_vector_store, ingest
from ragloom.ingestion import IngestProgress


def test_progress_reports_files_and_queued_chunks_before_any_embedding(tmp_path: Path) -> None:
    for i in range(3):
        (tmp_path / f"f{i}.md").write_text(f"# Page {i}\n\n" + "A sentence about cats. " * 80)
    cfg = RagConfig(qdrant={"location": ":memory:", "collection": f"pg_{uuid.uuid4().hex[:8]}"},
                    ingest={"chunk_size": 300, "chunk_overlap": 0})
    events: list[IngestProgress] = []
    embedded: list[int] = []

    class Watching(DeterministicFakeEmbedding):
        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            embedded.append(len(events))  # how many events were out before this call
            return super().embed_documents(texts)

    store = build_vector_store(cfg, embeddings=Watching(size=8))
    report = ingest([tmp_path], cfg, store=store, on_progress=events.append)
    assert events[0].files_total == 3 and events[0].chunks_done == 0
    before = events[:embedded[0]]  # what a user saw before the first embedding answer
    assert max(e.chunks_queued for e in before) > 0
    assert all(e.chunks_done == 0 for e in before)
    assert events[-1].chunks_queued == events[-1].chunks_done == report.chunks_written > 3
