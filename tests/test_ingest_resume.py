"""Resuming an interrupted update when a chunk is the same in the old and new version.

A chunk id is UUIDv5 of (source, index, text), so a chunk whose text and position did
not change keeps its id across versions of a file. This was the cause of the flaky
`test_interrupted_run_then_rerun_equals_a_clean_run[update-4]`: when the interrupted run
had written some new chunks but not that one (which chunks land before the failure
depends on thread timing), the rerun took the old version's point for an already
written new one and kept its stale payload (old file_hash, chunk_count and record).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ragloom.ingestion import ingest
from tests.test_ingest import CountingEmbeddings, fake_cfg, fake_store, points


def test_rerun_rewrites_an_unchanged_chunk_that_the_interrupted_run_did_not_reach(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    monkeypatch.chdir(tmp_path)
    tail = "The tail paragraph stays exactly the same in both versions of the file."
    note = Path("note.txt")
    note.write_text("Version one says hello.\n\n" + tail)
    # One chunk per request and one request at a time: the order is deterministic.
    settings: dict[str, Any] = {"ingest": {"chunk_size": 80, "chunk_overlap": 0},
                                "embeddings": {"batch_size": 1, "max_concurrency": 1}}
    cfg = fake_cfg(request, **settings)
    embeddings = CountingEmbeddings()
    store = fake_store(cfg, embeddings)
    ingest([note], cfg, store=store)
    assert len(points(store)) == 2

    note.write_text("Version two says goodbye.\n\n" + tail)  # chunk 1 keeps its id
    embeddings.calls, embeddings.fail_on_call = 0, 2  # chunk 0 is written, chunk 1 is not
    with pytest.raises(ConnectionError):
        ingest([note], cfg, store=store)
    embeddings.fail_on_call = None
    assert ingest([note], cfg, store=store).updated == 1

    clean = fake_store(fake_cfg(request, "_clean", **settings))
    ingest([note], cfg, store=clean)
    assert points(store) == points(clean)
    assert ingest([note], cfg, store=store).unchanged == 1
