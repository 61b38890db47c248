"""The storage layer's engines: edge (Qdrant Edge), local, server; moving between them.

Also the read-side guarantees: a read creates nothing, a collection remembers the
embeddings model that wrote it, an unreachable server and an MMR `k` beyond Qdrant's
limit are ragloom errors, and async retrieval runs without a thread per call.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from langchain_core.documents import Document
from langchain_core.embeddings import DeterministicFakeEmbedding, Embeddings
from typer.testing import CliRunner

from ragloom import (
    CollectionMismatch,
    CollectionNotFound,
    ConfigError,
    ProviderUnavailable,
    RagConfig,
    RagloomError,
    build_retriever,
    build_vector_store,
    copy_collection,
    ingest,
)
from ragloom.cli import app
from ragloom.store import close_clients, collection_status, get_client, resolve_engine

TEXTS = [
    "Rotate the API keys from Settings > Security; old keys stop after 24 hours.",
    "Backups run nightly at 02:00 UTC and are kept for 30 days.",
    "The cafeteria serves lunch from noon to 2 pm.",
    "Invoices are sent on the first working day of each month.",
]


class CountingEmbeddings(Embeddings):
    """Deterministic fake vectors; counts calls, and answers async calls natively."""

    def __init__(self, size: int = 8, model: str = "fake-a") -> None:
        self.inner = DeterministicFakeEmbedding(size=size)
        self.size, self.model, self.calls = size, model, 0

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        self.calls += 1
        return self.inner.embed_documents(texts)

    def embed_query(self, text: str) -> list[float]:
        self.calls += 1
        return self.inner.embed_query(text)

    async def aembed_query(self, text: str) -> list[float]:
        return self.embed_query(text)


@pytest.fixture(autouse=True)
def _closed_after() -> Iterator[None]:
    yield
    close_clients()


def edge_cfg(folder: Path, collection: str = "docs", **retrieval: Any) -> RagConfig:
    return RagConfig(qdrant={"location": str(folder), "collection": collection},
                     retrieval=retrieval or {"mode": "hybrid"})


def fill(cfg: RagConfig, embeddings: Embeddings | None = None) -> Any:
    store = build_vector_store(cfg, embeddings=embeddings or CountingEmbeddings())
    store.add_texts(TEXTS, metadatas=[{"source": f"doc{i}.md"} for i in range(len(TEXTS))],
                    ids=[f"doc{i}" for i in range(len(TEXTS))])
    return store


# --- engines -------------------------------------------------------------------------------

def test_engine_is_inferred(tmp_path: Path) -> None:
    assert resolve_engine(RagConfig(qdrant={"location": str(tmp_path / "new")})) == "edge"
    assert resolve_engine(RagConfig(qdrant={"location": ":memory:"})) == "local"
    assert resolve_engine(RagConfig(qdrant={"url": "http://q:6333"})) == "server"
    assert resolve_engine(RagConfig(qdrant={"engine": "local", "location": "x"})) == "local"
    with pytest.raises(RagloomError, match="edge engine needs a folder"):
        get_client(RagConfig(qdrant={"engine": "edge", "location": ":memory:"}))


def test_edge_store_searches_filters_and_survives_a_reopen(tmp_path: Path) -> None:
    cfg = edge_cfg(tmp_path / "store")
    store = fill(cfg)
    assert type(store.client).__name__ == "EdgeClient"
    for mode in ("dense", "sparse", "hybrid"):
        retriever = build_retriever(cfg.model_copy(update={"retrieval": cfg.retrieval.model_copy(
            update={"mode": mode})}), store=_with_mode(store, mode))
        assert retriever.invoke(TEXTS[1], k=1)[0].id == "doc1", mode
        hits = retriever.invoke("cafeteria backups", k=4, filter={"source": "doc2.md"})
        assert [d.id for d in hits] == ["doc2"], mode
    close_clients()
    again = build_vector_store(cfg, embeddings=CountingEmbeddings())
    assert again.client.count("docs").count == 4
    assert {d.id for d in again.get_by_ids(["doc0", "doc3"])} == {"doc0", "doc3"}


def _with_mode(store: Any, mode: str) -> Any:
    from langchain_qdrant import RetrievalMode

    store.retrieval_mode = RetrievalMode(mode)
    return store


def test_same_point_ids_and_payload_on_edge_and_local(tmp_path: Path) -> None:
    edge = fill(edge_cfg(tmp_path / "store"))
    local = fill(RagConfig(qdrant={"location": ":memory:", "collection": "same"},
                           retrieval={"mode": "hybrid"}))

    def points(store: Any) -> list[tuple[Any, Any]]:
        records, _ = store.client.scroll(store.collection_name, limit=100, with_payload=True)
        return sorted((str(r.id), r.payload) for r in records)

    assert points(edge) == points(local)


def test_edge_locked_by_another_process(tmp_path: Path) -> None:
    cfg = edge_cfg(tmp_path / "store")
    fill(cfg)
    script = textwrap.dedent(f"""
        from ragloom import StoreLocked
        from ragloom.store import get_client
        from ragloom.config import QdrantSettings
        try:
            get_client(QdrantSettings(location={str(tmp_path / "store")!r})).count("docs")
        except StoreLocked as exc:
            print("StoreLocked:", exc)
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=120, check=True, env={**os.environ, "PYTHONPATH": _pythonpath()})
    assert out.stdout.startswith("StoreLocked:") and "another process" in out.stdout
    assert get_client(cfg).count("docs").count == 4


def test_edge_size_mismatch_is_a_collection_mismatch(tmp_path: Path) -> None:
    cfg = edge_cfg(tmp_path / "store")
    fill(cfg)
    close_clients()
    with pytest.raises(CollectionMismatch, match="8-dimensional"):
        build_vector_store(cfg, embeddings=CountingEmbeddings(size=16))
    assert get_client(cfg).count("docs").count == 4  # nothing dropped


def test_an_unreadable_shard_says_what_to_do(tmp_path: Path) -> None:
    cfg = edge_cfg(tmp_path / "store")
    fill(cfg)
    close_clients()
    for segment in (tmp_path / "store" / "edge" / "docs" / "shard" / "segments").iterdir():
        for path in segment.rglob("*"):
            if path.is_file():
                path.write_bytes(b"garbage")
    with pytest.raises(RagloomError) as info:
        build_vector_store(cfg, embeddings=CountingEmbeddings()).similarity_search("keys")
    assert "ragloom ingest" in str(info.value) and "docs" in str(info.value)


def test_kill_9_during_ingest_then_rerun_is_complete_without_duplicates(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    for n in range(60):
        (docs / f"f{n:02}.txt").write_text(" ".join(f"word{n}_{i}" for i in range(400)))
    store_dir = tmp_path / "store"
    script = textwrap.dedent(f"""
        import sys, time
        from langchain_core.embeddings import DeterministicFakeEmbedding
        from ragloom import RagConfig, build_vector_store, ingest

        class Slow(DeterministicFakeEmbedding):
            def embed_documents(self, texts):
                time.sleep(0.05)
                return super().embed_documents(texts)

        cfg = RagConfig(qdrant={{"location": {str(store_dir)!r}}},
                        embeddings={{"batch_size": 8}}, ingest={{"chunk_size": 300,
                        "chunk_overlap": 0}})
        store = build_vector_store(cfg, embeddings=Slow(size=8))
        def progress(event):
            if event.chunks_done >= 40:
                print("written", flush=True)
        ingest([{str(docs)!r}], cfg, store=store, on_progress=progress)
        print("finished", flush=True)
    """)
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True,
                             cwd=tmp_path, env={**os.environ, "PYTHONPATH": _pythonpath()})
    assert child.stdout is not None
    line = child.stdout.readline()
    assert line.strip() == "written", line
    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=60)
    cfg = RagConfig(qdrant={"location": str(store_dir)}, embeddings={"batch_size": 8},
                    ingest={"chunk_size": 300, "chunk_overlap": 0})

    class Slow(DeterministicFakeEmbedding):  # the same model as the killed run's
        pass

    store = build_vector_store(cfg, embeddings=Slow(size=8))
    partial = store.client.count("ragloom").count
    os.chdir(tmp_path)
    report = ingest([docs], cfg, store=store)
    assert report.ok and partial < report.chunks_written + partial
    fresh_cfg = RagConfig(qdrant={"engine": "local", "location": ":memory:",
                                  "collection": "fresh"},
                          embeddings={"batch_size": 8},
                          ingest={"chunk_size": 300, "chunk_overlap": 0})
    fresh = build_vector_store(fresh_cfg, embeddings=DeterministicFakeEmbedding(size=8))
    expected = ingest([docs], fresh_cfg, store=fresh).chunks_written
    records, _ = store.client.scroll("ragloom", limit=100_000, with_payload=True)
    keys = [(r.payload["metadata"]["source"], r.payload["metadata"]["chunk_index"])
            for r in records]
    assert len(keys) == len(set(keys)) == expected  # complete, and no duplicates


def _pythonpath() -> str:
    return os.pathsep.join(p for p in sys.path if p)


# --- moving up, and existing data ----------------------------------------------------------

def test_copy_an_edge_collection_to_a_server_without_re_embedding(tmp_path: Path) -> None:
    source = edge_cfg(tmp_path / "store")
    fill(source)
    # qdrant-client's local mode stands in for the server: the client API is the same.
    target = RagConfig(qdrant={"engine": "local", "location": ":memory:", "collection": "up"},
                       retrieval={"mode": "hybrid"})
    assert copy_collection(source, target) == 4
    embeddings = CountingEmbeddings()
    moved = build_vector_store(target, embeddings=embeddings)
    assert embeddings.calls == 0  # the record came along: no probe call
    assert moved.similarity_search(TEXTS[1], k=1)[0].id == "doc1"
    with pytest.raises(CollectionMismatch, match="already holds points"):
        copy_collection(source, target)


def test_a_folder_written_by_local_mode_keeps_working_and_converts(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = tmp_path / "qdrant"
    old = RagConfig(qdrant={"engine": "local", "location": str(folder)},
                    retrieval={"mode": "hybrid"})
    fill(old)
    close_clients()
    cfg = RagConfig(qdrant={"location": str(folder)}, retrieval={"mode": "hybrid"})
    with caplog.at_level(logging.WARNING, logger="ragloom.store"):
        assert resolve_engine(cfg) == "local"
    assert "copy_collection" in caplog.text and "local mode" in caplog.text
    store = build_vector_store(cfg, embeddings=CountingEmbeddings())
    assert store.client.count("ragloom").count == 4
    close_clients()
    assert copy_collection(old, cfg.model_copy(update={"qdrant": cfg.qdrant.model_copy(
        update={"engine": "edge"})})) == 4
    close_clients()
    assert resolve_engine(cfg) == "edge"
    assert (folder / "meta.json").exists()  # the old files stay until the user deletes them
    assert build_vector_store(cfg, embeddings=CountingEmbeddings()).client.count(
        "ragloom").count == 4


# --- reads create nothing; the embeddings model is recorded --------------------------------

def test_a_read_of_a_missing_collection_is_an_error_and_creates_nothing(tmp_path: Path) -> None:
    cfg = edge_cfg(tmp_path / "store", collection="typo")
    retriever = build_retriever(cfg, embeddings=CountingEmbeddings())
    with pytest.raises(CollectionNotFound) as info:
        retriever.invoke("anything")
    assert "'typo'" in str(info.value) and "ragloom ingest" in str(info.value)
    assert not get_client(cfg).collection_exists("typo")


def test_ragloom_ask_on_a_missing_collection_exits_1_and_creates_nothing(tmp_path: Path) -> None:
    env = {"RAGLOOM_QDRANT__LOCATION": str(tmp_path / "store"),
           "RAGLOOM_QDRANT__COLLECTION": "nope"}
    result = CliRunner().invoke(app, ["ask", "what?"], env=env)
    assert result.exit_code == 1
    assert "'nope'" in result.output and "ragloom ingest" in result.output
    close_clients()
    assert not get_client(RagConfig(qdrant={"location": str(tmp_path / "store")})
                          ).collection_exists("nope")


def test_another_embeddings_model_of_the_same_size_is_refused(tmp_path: Path) -> None:
    cfg = edge_cfg(tmp_path / "store")
    fill(cfg, CountingEmbeddings(model="fake-a"))
    with pytest.raises(CollectionMismatch) as info:
        build_vector_store(cfg, embeddings=CountingEmbeddings(model="fake-b"))
    message = str(info.value)
    assert "fake-a" in message and "fake-b" in message
    assert "qdrant.collection" in message and "recreate=True" in message
    status = collection_status(cfg)
    assert status.embeddings is not None and "fake-a" in status.embeddings


# --- errors on the read path ---------------------------------------------------------------

@pytest.mark.allow_hosts(["127.0.0.1"])
def test_an_unreachable_server_names_the_url_with_the_password_masked() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again: nothing listens there
    cfg = RagConfig(qdrant={"url": f"http://admin:s3cret@127.0.0.1:{port}", "timeout_s": 2})
    with pytest.raises(ProviderUnavailable) as info:
        build_vector_store(cfg, embeddings=CountingEmbeddings())
    message = str(info.value)
    assert f"http://admin:****@127.0.0.1:{port}" in message and "s3cret" not in message
    assert "qdrant.url" in message


@pytest.mark.parametrize("engine", ["local", "edge"])
def test_mmr_with_a_huge_k(tmp_path: Path, engine: str) -> None:
    location = ":memory:" if engine == "local" else str(tmp_path / "store")
    cfg = RagConfig(qdrant={"engine": engine, "location": location, "collection": "mmr"},
                    retrieval={"mode": "dense", "search": "mmr"})
    store = fill(cfg)
    retriever = build_retriever(cfg, store=store)
    assert {d.id for d in retriever.invoke("keys", k=16_384)} == {f"doc{i}" for i in range(4)}
    with pytest.raises(ConfigError, match="at most 16,384"):
        retriever.invoke("keys", k=10**9)


@pytest.mark.parametrize("engine", ["local", "edge"])
def test_async_retrieval_runs_on_the_event_loop_thread(tmp_path: Path, engine: str) -> None:
    location = ":memory:" if engine == "local" else str(tmp_path / "store")
    cfg = RagConfig(qdrant={"engine": engine, "location": location, "collection": "aio"},
                    retrieval={"mode": "hybrid"})
    store = fill(cfg)
    threads: list[int] = []
    query_points = store.client.query_points

    def spy(*args: Any, **kwargs: Any) -> Any:
        threads.append(threading.get_ident())
        return query_points(*args, **kwargs)

    store.client.query_points = spy  # type: ignore[method-assign]
    retriever = build_retriever(cfg, store=store)

    async def main() -> tuple[int, list[list[Document]]]:
        results = await asyncio.gather(*(retriever.ainvoke(TEXTS[1], k=2) for _ in range(5)))
        return threading.get_ident(), list(results)

    loop_thread, results = asyncio.run(main())
    assert all(len(r) == 2 and r[0].id == "doc1" for r in results)
    assert threads and set(threads) == {loop_thread}


def test_edge_optimize_runs_at_the_end_of_a_write_and_only_then(tmp_path: Path) -> None:
    cfg = edge_cfg(tmp_path / "store")
    store = fill(cfg)  # add_texts: below AUTO_OPTIMIZE_POINTS, no optimize yet
    assert store.client.finish_writes("docs") is True  # what an ingest runs at its end
    assert store.client.finish_writes("docs") is False  # nothing new: no rebuild
    info = store.client.get_collection("docs")
    assert info.points_count == 4
    assert {"metadata.source", "metadata.file_hash", "ingest"} <= set(info.payload_schema)


def test_ingest_into_edge_ends_with_the_index_built(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("Backups run nightly.")
    cfg = RagConfig(qdrant={"location": str(tmp_path / "store")})
    store = build_vector_store(cfg, embeddings=CountingEmbeddings())
    assert ingest([docs], cfg, store=store).added == 1
    assert store.client.finish_writes("ragloom") is False  # the ingest already ran it


# --- hybrid by default ---------------------------------------------------------------------

def test_hybrid_is_the_default_and_older_configs_keep_working(tmp_path: Path) -> None:
    cfg = RagConfig(qdrant={"location": str(tmp_path / "store")})
    assert cfg.retrieval.mode == "hybrid"
    store = fill(cfg)
    assert store.client.get_collection("ragloom").config.params.sparse_vectors
    # search=mmr or a threshold with the mode left unset: dense, as before.
    mmr = RagConfig(qdrant={"location": str(tmp_path / "store")}, retrieval={"search": "mmr"})
    assert build_retriever(mmr, embeddings=CountingEmbeddings()).invoke(TEXTS[1], k=1)


def test_a_dense_collection_from_before_keeps_working_with_the_new_default(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "qdrant"
    fill(RagConfig(qdrant={"engine": "local", "location": str(folder)},
                   retrieval={"mode": "dense"}))
    close_clients()
    cfg = RagConfig(qdrant={"location": str(folder)})  # everything default, as users had
    retriever = build_retriever(cfg, embeddings=CountingEmbeddings())
    assert retriever.invoke(TEXTS[1], k=1)[0].id == "doc1"
    with pytest.raises(CollectionMismatch, match="no sparse vector"):  # asked explicitly
        build_retriever(RagConfig(qdrant={"location": str(folder)},
                                  retrieval={"mode": "hybrid"}),
                        embeddings=CountingEmbeddings())
