"""Several servers for one model: calls spread, a dead server is skipped until it answers again.

Offline tests use loopback stand-ins (one request at a time, 0.15 s each). The live tests
ingest over two real test-server processes, one of them killed in the middle.

    pytest -m live tests/test_multi_server.py -s
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from qdrant_client import QdrantClient

from ragloom import RagConfig, build_vector_store
from ragloom.ingestion import IngestProgress, ingest
from ragloom.providers import build_embeddings, request_slots
from ragloom.providers._servers import server_pool
from tests.loopback_servers import SPANS, one_at_a_time_server

CALLS = 8


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def embed_concurrently(cfg: RagConfig, calls: int = CALLS) -> tuple[list[Any], float]:
    embeddings = build_embeddings(cfg)
    started = time.monotonic()
    with ThreadPoolExecutor(calls) as pool:
        results = list(pool.map(lambda n: embeddings.embed_query(f"text {n}"), range(calls)))
    return results, time.monotonic() - started


@pytest.mark.allow_hosts(["127.0.0.1"])
def test_calls_spread_over_every_server() -> None:
    with one_at_a_time_server() as (a, served_a), one_at_a_time_server() as (b, served_b):
        cfg = RagConfig(embeddings={"model": "all-minilm", "base_url": f"{a}, {b}"})
        results, _ = embed_concurrently(cfg)
        spans_a, spans_b = SPANS[a], SPANS[b]
    assert results == [[0.6, 0.8]] * CALLS
    embeds = served_a.count("/api/embed"), served_b.count("/api/embed")
    assert sum(embeds) == CALLS and min(embeds) >= CALLS // 2 - 1  # both did their share
    # ... at the same time: most of b's requests ran while one of a's was running
    overlapping = [s for s in spans_b if any(s[0] < e and t < s[1] for t, e in spans_a)]
    assert len(overlapping) >= len(spans_b) // 2
    assert request_slots(cfg.embeddings) == 2  # ingestion keeps both busy


@pytest.mark.allow_hosts(["127.0.0.1"])
def test_a_dead_server_is_skipped_and_nothing_fails(caplog: pytest.LogCaptureFixture) -> None:
    dead = f"http://127.0.0.1:{closed_port()}"
    with one_at_a_time_server() as (live, served), \
            caplog.at_level(logging.WARNING, logger="ragloom.servers"):
        cfg = RagConfig(embeddings={"model": "all-minilm", "base_url": f"{dead},{live}",
                                    "max_retries": 0})
        results, _ = embed_concurrently(cfg)
    assert results == [[0.6, 0.8]] * CALLS  # no call failed, none was retried by the user
    assert served.count("/api/embed") == CALLS
    assert server_pool("ollama", [dead], limit=1)[0].down_until > 0  # it was skipped
    assert f"at {dead} did not answer" in caplog.text


@pytest.mark.allow_hosts(["127.0.0.1"])
def test_a_server_that_answers_again_gets_calls_again() -> None:
    port = closed_port()
    with one_at_a_time_server() as (a, _):
        b = f"http://127.0.0.1:{port}"
        cfg = RagConfig(embeddings={"model": "all-minilm", "base_url": f"{a},{b}",
                                    "max_retries": 0})
        embed_concurrently(cfg, 4)  # b is down: skipped
        b_server = server_pool("ollama", [b], limit=1)[0]
        assert not b_server.up
        with one_at_a_time_server(port) as (_, served_b):  # b comes back
            time.sleep(max(b_server.down_until - time.monotonic(), 0) + 0.05)
            results, _ = embed_concurrently(cfg, 6)
        assert results == [[0.6, 0.8]] * 6
        assert served_b.count("/api/embed") >= 2 and b_server.up


# --- live: ingestion over two test-server processes ----------------------------------------

def write_corpus(folder: Path, files: int) -> None:
    folder.mkdir()
    for n in range(files):
        paragraphs = [f"Document {n}, part {p}: " + " ".join(
            f"word{(n * 7 + p * 3 + w) % 97}" for w in range(40)) for p in range(4)]
        (folder / f"doc{n:03d}.txt").write_text("\n\n".join(paragraphs))


def multi_cfg(urls: list[str], collection: str) -> RagConfig:
    return RagConfig(embeddings={"model": "all-minilm", "base_url": ",".join(urls),
                                 "batch_size": 8},
                     ingest={"chunk_size": 300, "chunk_overlap": 0},
                     qdrant={"location": ":memory:", "collection": collection})


def stored(cfg: RagConfig) -> dict[str, list[int]]:
    """source → sorted chunk indexes of the points stored."""
    store = build_vector_store(cfg, client=CLIENT)
    out: dict[str, list[int]] = {}
    offset = None
    while True:
        points, offset = store.client.scroll(store.collection_name, limit=256, offset=offset,
                                             with_payload=True)
        for point in points:
            meta = point.payload[store.metadata_payload_key]  # type: ignore[index]
            out.setdefault(meta["source"], []).append(meta["chunk_index"])
        if offset is None:
            return {s: sorted(v) for s, v in out.items()}


CLIENT = QdrantClient(location=":memory:")


@pytest.mark.live
def test_live_ingest_survives_one_of_two_servers_killed_midway(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.ollama_server.process import server_process

    write_corpus(tmp_path / "docs", 30)
    monkeypatch.chdir(tmp_path)
    with server_process(latency_ms=75) as a, server_process(latency_ms=75) as b:
        cfg = multi_cfg([a.url, b.url], "killed_midway")
        killed = threading.Event()

        def progress(p: IngestProgress) -> None:
            if p.chunks_done >= 24 and not killed.is_set():
                killed.set()
                b.kill()  # as a crashed pod: connections in flight drop

        report = ingest(["docs"], cfg, store=build_vector_store(cfg, client=CLIENT),
                        on_progress=progress)
    assert killed.is_set(), "the kill happened after the ingest ended: nothing was tested"
    assert report.failed == [] and report.added == 30
    chunks = stored(cfg)
    assert len(chunks) == 30  # nothing lost
    for indexes in chunks.values():
        assert indexes == list(range(len(indexes))) and len(indexes) >= 2  # nothing twice
    # the same corpus through one server stores exactly the same chunks
    with server_process() as single:
        control = multi_cfg([single.url], "control")
        ingest(["docs"], control, store=build_vector_store(control, client=CLIENT))
    assert stored(control) == chunks
