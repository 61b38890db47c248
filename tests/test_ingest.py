"""ragloom.ingestion: incremental, interrupt-safe ingestion.

Pure-logic tests use fake deterministic embeddings that count their calls; the tests
marked `vcr` go through real all-minilm embeddings (cassettes recorded against the
project's Ollama-API test server: `pytest tests/test_ingest.py --record-mode=rewrite`).
"""

from __future__ import annotations

import asyncio
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from langchain_core.embeddings import DeterministicFakeEmbedding, Embeddings
from langchain_qdrant import QdrantVectorStore
from qdrant_client import models

from ragloom import _ledger
from ragloom.config import RagConfig
from ragloom.errors import ConfigError
from ragloom.ingestion import IngestProgress, aingest, chunk_id, ingest
from ragloom.store import RagloomVectorStore, build_vector_store
from tests.conftest import unique_collection
from tests.test_ingest_loaders import make_pdf

DATA = Path(__file__).parent / "data" / "docs"


class CountingEmbeddings(Embeddings):
    """Deterministic fake embeddings that count requests and can fail or stall on cue."""

    def __init__(self, size: int = 16, fail_on_call: int | None = None) -> None:
        self.inner = DeterministicFakeEmbedding(size=size)
        self.size = size
        self.calls = 0
        self.texts = 0
        self.fail_on_call = fail_on_call
        self.in_flight = self.max_in_flight = 0
        self.sync_calls = self.async_calls = 0
        self._lock = threading.Lock()

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        self._count(texts)
        self.sync_calls += 1
        self._enter()
        try:
            time.sleep(0.002)  # let the other requests in flight overlap
            return self.inner.embed_documents(texts)
        finally:
            self._leave()

    def embed_query(self, text: str) -> list[float]:
        return self.inner.embed_query(text)

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        self._count(texts)
        self.async_calls += 1
        self._enter()
        try:
            await asyncio.sleep(0.002)
            return self.inner.embed_documents(texts)
        finally:
            self._leave()

    def _count(self, texts: list[str]) -> None:
        with self._lock:
            self.calls += 1
            self.texts += len(texts)
            calls = self.calls
        if self.fail_on_call is not None and calls >= self.fail_on_call:
            raise ConnectionError(f"embedding server went away on call {calls}")

    def _enter(self) -> None:
        with self._lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)

    def _leave(self) -> None:
        with self._lock:
            self.in_flight -= 1


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    """A copy of tests/data/docs in the test's cwd (so sources are `docs/...`)."""
    shutil.copytree(DATA, tmp_path / "docs")
    return Path("docs")


def fake_cfg(request: pytest.FixtureRequest, suffix: str = "", **overrides: Any) -> RagConfig:
    settings: dict[str, Any] = {
        "qdrant": {"location": ":memory:", "collection": unique_collection(request) + suffix},
        "ingest": {"chunk_size": 120, "chunk_overlap": 20},
        "embeddings": {"batch_size": 4, "max_concurrency": 2},
    }
    settings.update(overrides)
    return RagConfig(**settings)


def fake_store(cfg: RagConfig, embeddings: Embeddings | None = None) -> RagloomVectorStore:
    return build_vector_store(cfg, embeddings=embeddings or CountingEmbeddings(),
                              recreate=True)


@pytest.fixture
def cfg_fake(request: pytest.FixtureRequest) -> RagConfig:
    return fake_cfg(request)


def points(store: RagloomVectorStore) -> dict[str, dict[str, Any]]:
    """Every point of the collection: id → payload."""
    records, _ = store.client.scroll(store.collection_name, limit=10_000, with_payload=True)
    return {str(r.id): r.payload or {} for r in records}


def by_source(store: RagloomVectorStore) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for point, payload in points(store).items():
        found.setdefault(payload["metadata"]["source"], set()).add(point)
    return found


class WriteCounter:
    """Counts upserts and deletes on a Qdrant client (patched for one test)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, client: Any) -> None:
        self.upserts = self.deletes = 0
        for name in ("upsert", "delete"):
            original = getattr(client, name)
            monkeypatch.setattr(client, name, self._counting(name, original))

    def _counting(self, name: str, original: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            setattr(self, name + "s", getattr(self, name + "s") + 1)
            return original(*args, **kwargs)
        return wrapper


# --- incremental behaviour -------------------------------------------------------------

def test_first_ingest_lands_every_file_with_its_metadata(docs: Path, cfg_fake: RagConfig) -> None:
    store = fake_store(cfg_fake)
    report = ingest([docs], cfg_fake, store=store)
    assert (report.added, report.updated, report.unchanged, report.deleted) == (4, 0, 0, 0)
    assert report.ok and report.failed == [] and report.duration_s > 0
    stored = points(store)
    assert report.chunks_written == len(stored) > 4
    metas = [p["metadata"] for p in stored.values()]
    assert {m["source"] for m in metas} == {
        "docs/backups.txt", "docs/billing.pdf", "docs/onboarding.html",
        "docs/security/api-keys.md"}
    for point, payload in stored.items():
        meta = payload["metadata"]
        assert point == chunk_id(meta["source"], meta["chunk_index"], payload["page_content"])
        assert len(meta["file_hash"]) == 64 and 0 <= meta["chunk_index"] < meta["chunk_count"]
    pdf = sorted((m["chunk_index"], m["page"]) for m in metas if m["source"].endswith(".pdf"))
    assert {page for _, page in pdf} == {1, 2} and pdf == sorted(pdf, key=lambda x: x[1])
    md = [m for m in metas if m["source"].endswith(".md")]
    assert {"h1": "Security handbook", "h2": "Rotating API keys"}.items() <= next(
        m for m in md if m.get("h2") == "Rotating API keys").items()
    html = [m for m in metas if m["source"].endswith(".html")]
    assert html and all(m["title"] == "Onboarding guide" for m in html)


@pytest.mark.parametrize("facets", [True, False], ids=["facet", "old-server-scroll"])
def test_reingest_unchanged_costs_no_embedding_and_no_write(
    docs: Path, cfg_fake: RagConfig, monkeypatch: pytest.MonkeyPatch, facets: bool
) -> None:
    embeddings = CountingEmbeddings()
    store = fake_store(cfg_fake, embeddings)
    ingest([docs], cfg_fake, store=store)
    if not facets:  # Qdrant servers before 1.12 have no facet API: a scroll tallies instead
        def no_facets(*args: Any, **kwargs: Any) -> Any:
            raise RuntimeError("404 Not Found")
        monkeypatch.setattr(store.client, "facet", no_facets)
    before, calls = points(store), embeddings.calls
    writes = WriteCounter(monkeypatch, store.client)
    report = ingest([docs], cfg_fake, store=store)
    assert (report.added, report.updated, report.unchanged) == (0, 0, 4)
    assert (report.chunks_written, report.chunks_deleted) == (0, 0)
    assert embeddings.calls == calls
    assert (writes.upserts, writes.deletes) == (0, 0)
    assert points(store) == before


def test_changed_file_replaces_only_its_own_chunks(docs: Path, cfg_fake: RagConfig) -> None:
    store = fake_store(cfg_fake)
    ingest([docs], cfg_fake, store=store)
    before = by_source(store)
    backups = docs / "backups.txt"
    backups.write_text(backups.read_text().replace("35 days", "60 days") + "\nNew line.\n")
    report = ingest([docs], cfg_fake, store=store)
    assert (report.added, report.updated, report.unchanged) == (0, 1, 3)
    after = by_source(store)
    for source in before:
        if source != "docs/backups.txt":
            assert after[source] == before[source]
    stored = points(store)
    new = [stored[p] for p in after["docs/backups.txt"]]
    assert all(p["metadata"]["chunk_count"] == len(new) for p in new)
    assert any("60 days" in p["page_content"] for p in new)
    assert not any("35 days" in p["page_content"] for p in stored.values())
    assert report.chunks_deleted == len(before["docs/backups.txt"] - after["docs/backups.txt"])


def test_prune_deletes_removed_files_and_nothing_outside_the_paths(
    docs: Path, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    cfg = fake_cfg(request)
    store = fake_store(cfg)
    other = tmp_path / "other"
    other.mkdir()
    (other / "keep.txt").write_text("Outside the pruned folder.")
    (other / "gone.txt").write_text("Deleted, but not under the pruned path.")
    ingest([docs, "other"], cfg, store=store)
    before = by_source(store)
    (docs / "billing.pdf").unlink()
    (other / "gone.txt").unlink()

    report = ingest([docs], cfg, store=store)  # without prune: nothing is deleted
    assert report.deleted == 0 and by_source(store) == before

    events: list[IngestProgress] = []
    report = ingest([docs], cfg, store=store, prune=True, on_progress=events.append)
    assert (report.deleted, report.unchanged) == (1, 3)
    assert [e.path for e in events if e.status == "deleted"] == ["docs/billing.pdf"]
    assert events[-1].files_done == events[-1].files_total == 3
    assert report.chunks_deleted == len(before["docs/billing.pdf"])
    after = by_source(store)
    assert "docs/billing.pdf" not in after
    assert after == {s: ids for s, ids in before.items() if s != "docs/billing.pdf"}


def test_prune_of_a_deleted_folder_is_not_a_failure(
    docs: Path, request: pytest.FixtureRequest
) -> None:
    cfg = fake_cfg(request)
    store = fake_store(cfg)
    ingest([docs], cfg, store=store)
    shutil.rmtree(docs / "security")
    report = ingest([docs / "security"], cfg, store=store, prune=True)
    assert report.ok and report.deleted == 1
    assert "docs/security/api-keys.md" not in by_source(store)
    assert not ingest(["nowhere"], cfg, store=store).ok  # a missing path without prune


def test_bad_files_are_reported_and_the_rest_lands(docs: Path, cfg_fake: RagConfig) -> None:
    (docs / "scan.pdf").write_bytes(b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R")
    (docs / "logo.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00")
    (docs / "empty.md").write_bytes(b"")
    (docs / "latin1.txt").write_bytes("Crème brûlée".encode("latin-1"))
    store = fake_store(cfg_fake)
    report = ingest([docs], cfg_fake, store=store)
    reasons = {f.path: f.reason for f in report.failed}
    assert set(reasons) == {"docs/scan.pdf", "docs/logo.txt", "docs/empty.md",
                            "docs/latin1.txt"}
    assert reasons["docs/scan.pdf"].startswith("corrupt PDF")
    assert reasons["docs/logo.txt"].startswith("binary file")
    assert reasons["docs/empty.md"] == "empty file"
    assert reasons["docs/latin1.txt"].startswith("encoding problem")
    assert not report.ok and report.added == 4
    assert len(by_source(store)) == 4


def test_a_file_turned_unreadable_keeps_its_chunks(docs: Path, cfg_fake: RagConfig) -> None:
    store = fake_store(cfg_fake)
    ingest([docs], cfg_fake, store=store)
    before = points(store)
    (docs / "backups.txt").write_bytes(b"\x00\x01 now a binary blob")
    report = ingest([docs], cfg_fake, store=store)
    assert [f.path for f in report.failed] == ["docs/backups.txt"]
    assert points(store) == before  # reported, and nothing lost


def test_new_chunk_size_rechunks_without_leftovers(
    docs: Path, request: pytest.FixtureRequest
) -> None:
    store = fake_store(fake_cfg(request))
    ingest([docs], fake_cfg(request), store=store)
    bigger = fake_cfg(request, ingest={"chunk_size": 400, "chunk_overlap": 0})
    report = ingest([docs], bigger, store=store)
    assert report.updated == 4
    clean = fake_store(fake_cfg(request, "_clean"))
    ingest([docs], bigger, store=clean)
    assert points(store) == points(clean)


# --- interruption ----------------------------------------------------------------------

@pytest.mark.parametrize("fail_on_call", [1, 2, 4])
@pytest.mark.parametrize("scenario", ["first-ingest", "update"])
def test_interrupted_run_then_rerun_equals_a_clean_run(
    docs: Path, request: pytest.FixtureRequest, fail_on_call: int, scenario: str
) -> None:
    cfg = fake_cfg(request)
    store = fake_store(cfg)
    if scenario == "update":
        ingest([docs], cfg, store=store)
        for path in sorted(docs.rglob("*.*"))[:3]:
            if path.suffix != ".pdf":
                path.write_text(path.read_text().replace("e", "E") + "\nmore text " * 30)
    store.embeddings.fail_on_call = fail_on_call  # type: ignore[union-attr]
    store.embeddings.calls = 0  # type: ignore[union-attr]
    with pytest.raises(ConnectionError):
        ingest([docs], cfg, store=store)
    store.embeddings.fail_on_call = None  # type: ignore[union-attr]
    rerun = ingest([docs], cfg, store=store)
    assert rerun.ok

    clean = fake_store(fake_cfg(request, "_clean"))
    ingest([docs], cfg, store=clean)
    assert points(store) == points(clean)
    assert ingest([docs], cfg, store=store).unchanged == 4


async def test_cancelled_run_leaves_old_or_new_data_and_rerun_converges(
    docs: Path, cfg_fake: RagConfig
) -> None:
    """Ctrl-C: asyncio.run cancels the main task; nothing half-done may remain."""
    embeddings = CountingEmbeddings()
    store = fake_store(cfg_fake, embeddings)
    await aingest([docs], cfg_fake, store=store)
    old = by_source(store)
    for path in docs.rglob("*.txt"):
        path.write_text("Rewritten. " * 50)
    started = asyncio.Event()
    original = embeddings.aembed_documents

    async def stall(texts: list[str]) -> list[list[float]]:
        if embeddings.calls >= 1:
            started.set()
            await asyncio.sleep(3600)
        return await original(texts)

    embeddings.aembed_documents = stall  # type: ignore[method-assign]
    task = asyncio.create_task(aingest([docs], cfg_fake, store=store))
    await asyncio.wait_for(started.wait(), 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    mid = by_source(store)
    assert mid["docs/backups.txt"] >= old["docs/backups.txt"]  # old data still all there
    embeddings.aembed_documents = original  # type: ignore[method-assign]
    report = await aingest([docs], cfg_fake, store=store)
    assert report.updated == 1
    assert not by_source(store)["docs/backups.txt"] & old["docs/backups.txt"]


@pytest.mark.parametrize("entry", ["ingest", "aingest"])
async def test_no_request_goes_out_once_one_has_failed(
    tmp_path: Path, request: pytest.FixtureRequest, entry: str
) -> None:
    """The slot a failed request frees must not send a batch whose vectors are never stored.

    (Besides the waste, a replayed cassette would see a request it never recorded.)
    """
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for i in range(6):
        (corpus / f"f{i}.txt").write_text(f"File {i}. " + "word " * 100)
    cfg = fake_cfg(request, embeddings={"batch_size": 2, "max_concurrency": 1})
    embeddings = CountingEmbeddings(fail_on_call=2)
    store = fake_store(cfg, embeddings)
    with pytest.raises(ConnectionError, match="call 2"):
        if entry == "ingest":
            ingest(["corpus"], cfg, store=store)
        else:
            await aingest(["corpus"], cfg, store=store)
    assert embeddings.calls == 2  # the batch that landed and the one that failed
    assert store.client.count(cfg.qdrant.collection).count == 2


# --- throughput plumbing ---------------------------------------------------------------

@pytest.mark.parametrize("entry", ["ingest", "aingest"])
async def test_batches_and_concurrency_follow_config(
    tmp_path: Path, request: pytest.FixtureRequest, entry: str
) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for i in range(30):
        (corpus / f"f{i:02}.txt").write_text(f"File {i}. " + "word " * 100)
    cfg = fake_cfg(request, embeddings={"batch_size": 8, "max_concurrency": 3})
    embeddings = CountingEmbeddings()
    store = fake_store(cfg, embeddings)
    events: list[IngestProgress] = []
    if entry == "ingest":  # sync API from worker threads
        report = ingest(["corpus"], cfg, store=store, on_progress=events.append)
        assert embeddings.async_calls == 0
    else:  # the model's async API on the caller's loop
        report = await aingest(["corpus"], cfg, store=store, on_progress=events.append)
        assert embeddings.sync_calls == 0
    assert embeddings.calls == -(-report.chunks_written // 8)
    assert 1 < embeddings.max_in_flight <= 3
    assert events[-1].files_done == events[-1].files_total == 30
    assert events[-1].chunks_done == report.chunks_written
    done = [e.chunks_done for e in events]
    assert done == sorted(done)
    assert sorted(e.path for e in events if e.status == "added") == [
        f"corpus/f{i:02}.txt" for i in range(30)]


def test_hybrid_mode_writes_sparse_vectors_too(docs: Path, request: pytest.FixtureRequest) -> None:
    cfg = fake_cfg(request, retrieval={"mode": "hybrid"})
    store = fake_store(cfg)
    ingest([docs], cfg, store=store)
    records, _ = store.client.scroll(store.collection_name, limit=1, with_vectors=True)
    vector = records[0].vector
    assert isinstance(vector, dict)
    assert set(vector) == {store.vector_name, store.sparse_vector_name}
    assert isinstance(vector[store.sparse_vector_name], models.SparseVector)


def test_sparse_mode_needs_no_dense_embedding(docs: Path, request: pytest.FixtureRequest) -> None:
    cfg = fake_cfg(request, retrieval={"mode": "sparse"})
    embeddings = CountingEmbeddings()
    store = fake_store(cfg, embeddings)
    ingest([docs], cfg, store=store)
    assert embeddings.calls == 0
    top = store.similarity_search("rotating production API keys", k=1)[0]
    assert top.metadata["source"] == "docs/security/api-keys.md"


async def test_sync_ingest_works_inside_a_running_event_loop(
    docs: Path, cfg_fake: RagConfig
) -> None:
    report = ingest([docs], cfg_fake, store=fake_store(cfg_fake))  # as in a Jupyter cell
    assert report.added == 4


def test_a_stock_qdrant_vector_store_works_too(docs: Path, cfg_fake: RagConfig) -> None:
    store = QdrantVectorStore.construct_instance(
        embedding=DeterministicFakeEmbedding(size=8), client_options={"location": ":memory:"},
        collection_name="stock")
    assert ingest([docs], cfg_fake, store=store).added == 4
    assert ingest([docs], cfg_fake, store=store).unchanged == 4
    hit = store.similarity_search("anything", k=1)[0]
    assert hit.metadata["source"].startswith("docs/")


def test_server_code_path(docs: Path, cfg_fake: RagConfig, monkeypatch: pytest.MonkeyPatch) -> None:
    """Client calls in threads, per-source facet filters, payload indexes (as on a server)."""
    monkeypatch.setattr(_ledger, "is_embedded", lambda client: False)
    store = fake_store(cfg_fake)
    lock = threading.Lock()  # an embedded client is not thread-safe; a server is
    calls: list[str] = []

    def locked(name: str, original: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            with lock:
                calls.append(name)
                return original(*args, **kwargs)
        return call

    for name in ("upsert", "delete", "scroll", "facet", "retrieve", "create_payload_index"):
        monkeypatch.setattr(store.client, name, locked(name, getattr(store.client, name)))
    with pytest.warns(UserWarning, match="Payload indexes have no effect"):
        assert ingest([docs], cfg_fake, store=store).added == 4
    assert calls.count("create_payload_index") == 3
    (docs / "backups.txt").write_text("Backups run hourly.")
    report = ingest([docs], cfg_fake, store=store)
    assert (report.updated, report.unchanged) == (1, 3)
    assert {p["metadata"]["source"] for p in points(store).values()} == {
        "docs/backups.txt", "docs/billing.pdf", "docs/onboarding.html",
        "docs/security/api-keys.md"}


def test_overlap_not_below_size_is_a_config_error(request: pytest.FixtureRequest) -> None:
    cfg = fake_cfg(request, ingest={"chunk_size": 100, "chunk_overlap": 100})
    with pytest.raises(ConfigError, match="chunk_overlap"):
        ingest(["."], cfg, store=fake_store(cfg))


def test_pdf_built_here_lands_with_page_numbers(tmp_path: Path, cfg_fake: RagConfig) -> None:
    (tmp_path / "two.pdf").write_bytes(make_pdf(["Alpha page.", "Beta page."]))
    store = fake_store(cfg_fake)
    ingest(["two.pdf"], cfg_fake, store=store)
    got = sorted((p["metadata"]["page"], p["page_content"].strip())
                 for p in points(store).values())
    assert got == [(1, "Alpha page."), (2, "Beta page.")]


# --- real embeddings (all-minilm), replayed from cassettes ------------------------------

@pytest.mark.vcr
def test_ingest_then_search_finds_the_right_file(docs: Path, cfg: RagConfig) -> None:
    report = ingest([docs], cfg)
    assert (report.added, report.failed) == (4, [])
    store = build_vector_store(cfg)
    cases = {
        "How often are production API keys rotated?": "docs/security/api-keys.md",
        "When do nightly database backups run?": "docs/backups.txt",
        "How many days do customers have to ask for a refund?": "docs/billing.pdf",
        "Where do new employees get their laptop?": "docs/onboarding.html",
    }
    for question, source in cases.items():
        top = store.similarity_search(question, k=1)[0]
        assert top.metadata["source"] == source, question
    refund = store.similarity_search("refund within 14 days", k=1)[0]
    assert refund.metadata["page"] == 2


def http_calls(cassette: Any) -> Callable[[], int]:
    """Requests made so far under a cassette, whether replaying or recording."""
    preloaded = len(cassette.data)
    return lambda: cassette.play_count + len(cassette.data) - preloaded


@pytest.mark.vcr
def test_real_embeddings_reingest_and_update(docs: Path, cfg: RagConfig, vcr: Any) -> None:
    calls = http_calls(vcr)
    ingest([docs], cfg)
    first = calls()
    assert first >= 2  # the store's vector-size probe, then the chunks
    report = ingest([docs], cfg)
    assert (report.unchanged, report.chunks_written) == (4, 0)
    assert calls() == first  # re-ingest: no embedding request at all
    (docs / "backups.txt").write_text(
        "Backup policy\n\nDatabases are backed up every hour. Snapshots are kept for 7 days.\n")
    report = ingest([docs], cfg)
    assert (report.updated, report.unchanged, report.chunks_written) == (1, 3, 1)
    # /api/show (the context length, once per embeddings object), then one batch: the
    # changed file's single chunk.
    assert calls() == first + 2
    top = build_vector_store(cfg).similarity_search("How often are databases backed up?", k=1)
    assert "every hour" in top[0].page_content
