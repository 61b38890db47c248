"""ragloom.store: collection creation and validation, client cache, locking, ids; BM25."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from langchain_core.documents import Document
from langchain_core.embeddings import DeterministicFakeEmbedding, Embeddings
from langchain_qdrant import RetrievalMode
from qdrant_client import QdrantClient, models

from ragloom._bm25 import BM25SparseEmbeddings
from ragloom.config import RagConfig
from ragloom.errors import CollectionMismatch, StoreLocked
from ragloom.store import (
    RECORD_KEY,
    RagloomVectorStore,
    build_vector_store,
    close_clients,
    get_client,
    point_id,
)


class CountingEmbeddings(Embeddings):
    """DeterministicFakeEmbedding that counts the requests made to it."""

    def __init__(self, size: int = 6) -> None:
        self.inner = DeterministicFakeEmbedding(size=size)
        self.size = size
        self.calls = 0

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        self.calls += 1
        return self.inner.embed_documents(texts)

    def embed_query(self, text: str) -> list[float]:
        self.calls += 1
        return self.inner.embed_query(text)


def memory_cfg(request: pytest.FixtureRequest, **sections: Any) -> RagConfig:
    name = "st_" + uuid.uuid5(uuid.NAMESPACE_URL, request.node.nodeid).hex[:12]
    qdrant = {"location": ":memory:", "collection": name, **sections.pop("qdrant", {})}
    return RagConfig(qdrant=qdrant, **sections)


@pytest.fixture
def cfg(request: pytest.FixtureRequest) -> Iterator[RagConfig]:
    config = memory_cfg(request, retrieval={"mode": "dense"})  # the default is hybrid
    yield config
    client = get_client(config)
    if client.collection_exists(config.qdrant.collection):
        client.delete_collection(config.qdrant.collection)


@pytest.fixture
def disk_cfg(tmp_path: Path) -> Iterator[RagConfig]:
    yield RagConfig(qdrant={"location": str(tmp_path / "qdrant"), "collection": "docs"})
    close_clients()  # unlock the folder


DOCS = [
    Document(page_content="Rotate the API keys every month.", metadata={"source": "keys.md"}),
    Document(page_content="The cat sat on the mat.", metadata={"source": "cats.md"}),
    Document(page_content="Backups run nightly at two.", metadata={"source": "ops.md"}),
]


# --- collection creation and validation -------------------------------------------------


def test_creates_dense_collection_with_record(cfg: RagConfig) -> None:
    emb = CountingEmbeddings(6)
    store = build_vector_store(cfg, embeddings=emb)
    assert isinstance(store, RagloomVectorStore)
    assert store.retrieval_mode == RetrievalMode.DENSE
    info = store.client.get_collection(cfg.qdrant.collection).config
    vectors = info.params.vectors
    assert isinstance(vectors, dict)
    assert vectors[""].size == 6
    assert vectors[""].distance == models.Distance.COSINE
    assert not info.params.sparse_vectors
    assert info.metadata == {RECORD_KEY: {"embeddings": "CountingEmbeddings[6]", "dim": 6,
                                          "query_prefix": "", "document_prefix": ""}}
    assert emb.calls == 1  # the one size probe


def test_server_options_passed_on_create(request: pytest.FixtureRequest) -> None:
    cfg = memory_cfg(
        request,
        qdrant={
            "distance": "dot",
            "shard_number": 2,
            "replication_factor": 3,
            "on_disk": True,
            "quantization": "scalar",
        },
        retrieval={"mode": "hybrid"},
    )
    client = mock.MagicMock(wraps=QdrantClient(location=":memory:"))
    client.create_payload_index = mock.MagicMock()  # a server's; local mode only warns
    build_vector_store(cfg, embeddings=CountingEmbeddings(6), client=client)
    kwargs = client.create_collection.call_args.kwargs
    indexed = {c.args[1] for c in client.create_payload_index.call_args_list}
    assert indexed == {"metadata.source", "metadata.file_hash", "ingest", "metadata.tenant",
                       "metadata.groups", "metadata.classification"}
    assert kwargs["shard_number"] == 2
    assert kwargs["replication_factor"] == 3
    assert kwargs["vectors_config"] == {
        "": models.VectorParams(size=6, distance=models.Distance.DOT, on_disk=True)
    }
    sparse = kwargs["sparse_vectors_config"]["langchain-sparse"]
    assert sparse.modifier == models.Modifier.IDF
    assert sparse.index == models.SparseIndexParams(on_disk=True)
    quantization = kwargs["quantization_config"]
    assert isinstance(quantization, models.ScalarQuantization)
    assert quantization.scalar.type == models.ScalarType.INT8


def test_reopen_with_same_embeddings_makes_no_embedding_call(cfg: RagConfig) -> None:
    build_vector_store(cfg, embeddings=CountingEmbeddings(6)).add_documents(DOCS)
    again = CountingEmbeddings(6)
    store = build_vector_store(cfg, embeddings=again)
    assert again.calls == 0
    assert len(store.get_by_ids([])) == 0
    assert again.calls == 0


def test_reopen_with_other_size_raises_and_keeps_data(cfg: RagConfig) -> None:
    ids = build_vector_store(cfg, embeddings=DeterministicFakeEmbedding(size=6)).add_documents(DOCS)
    with pytest.raises(CollectionMismatch) as info:
        build_vector_store(cfg, embeddings=DeterministicFakeEmbedding(size=8))
    message = str(info.value)
    assert "6-dimensional" in message and "8-dimensional" in message
    assert "recreate=True" in message and "qdrant.collection" in message
    store = build_vector_store(cfg, embeddings=DeterministicFakeEmbedding(size=6))
    assert len(store.get_by_ids(ids)) == 3


def test_recreate_drops_and_rebuilds(cfg: RagConfig) -> None:
    build_vector_store(cfg, embeddings=DeterministicFakeEmbedding(size=6)).add_documents(DOCS)
    store = build_vector_store(cfg, embeddings=DeterministicFakeEmbedding(size=8), recreate=True)
    info = store.client.get_collection(cfg.qdrant.collection)
    assert info.config.params.vectors[""].size == 8
    assert info.points_count == 0
    assert info.config.metadata[RECORD_KEY]["dim"] == 8


def test_unrecorded_collection_is_probed_once_then_recorded(cfg: RagConfig) -> None:
    client = get_client(cfg)
    client.create_collection(
        cfg.qdrant.collection,
        vectors_config=models.VectorParams(size=6, distance=models.Distance.COSINE),
    )
    first = CountingEmbeddings(6)
    build_vector_store(cfg, embeddings=first)
    assert first.calls == 1
    second = CountingEmbeddings(6)
    build_vector_store(cfg, embeddings=second)
    assert second.calls == 0


def test_distance_mismatch(cfg: RagConfig) -> None:
    build_vector_store(cfg, embeddings=DeterministicFakeEmbedding(size=6))
    dot = cfg.model_copy(update={"qdrant": cfg.qdrant.model_copy(update={"distance": "dot"})})
    with pytest.raises(CollectionMismatch, match=r"Cosine distance.*'dot'.*recreate=True"):
        build_vector_store(dot, embeddings=DeterministicFakeEmbedding(size=6))


def test_hybrid_on_dense_collection_needs_sparse_vector(cfg: RagConfig) -> None:
    build_vector_store(cfg, embeddings=DeterministicFakeEmbedding(size=6))
    hybrid = cfg.model_copy(
        update={"retrieval": cfg.retrieval.model_copy(update={"mode": "hybrid"})}
    )
    with pytest.raises(CollectionMismatch, match=r"no sparse vector.*hybrid.*recreate=True"):
        build_vector_store(hybrid, embeddings=DeterministicFakeEmbedding(size=6))


# --- sparse and hybrid ------------------------------------------------------------------


def test_hybrid_collection_and_search(request: pytest.FixtureRequest) -> None:
    cfg = memory_cfg(request, retrieval={"mode": "hybrid"})
    store = build_vector_store(cfg, embeddings=DeterministicFakeEmbedding(size=6))
    assert store.retrieval_mode == RetrievalMode.HYBRID
    assert isinstance(store.sparse_embeddings, BM25SparseEmbeddings)
    params = store.client.get_collection(cfg.qdrant.collection).config.params
    assert params.vectors[""].size == 6
    assert params.sparse_vectors["langchain-sparse"].modifier == models.Modifier.IDF
    ids = store.add_documents(DOCS, ids=["keys", "cats", "ops"])
    # k covers every document, so the keyword match leads the RRF fusion for certain.
    found = store.similarity_search("rotating keys", k=3)
    assert found[0].id == "keys" and sorted(d.id or "" for d in found) == sorted(ids)
    assert found[0].metadata == {"source": "keys.md"}
    # the same store reopened in dense mode is fine
    dense = cfg.model_copy(update={"retrieval": cfg.retrieval.model_copy(update={"mode": "dense"})})
    build_vector_store(dense, embeddings=DeterministicFakeEmbedding(size=6))
    get_client(cfg).delete_collection(cfg.qdrant.collection)


def test_sparse_mode_needs_no_dense_embeddings(request: pytest.FixtureRequest) -> None:
    cfg = memory_cfg(request, retrieval={"mode": "sparse"})
    with mock.patch("ragloom.providers.build_embeddings", side_effect=AssertionError):
        store = build_vector_store(cfg)
    params = store.client.get_collection(cfg.qdrant.collection).config.params
    assert not params.vectors
    assert params.sparse_vectors["langchain-sparse"].modifier == models.Modifier.IDF
    store.add_documents(DOCS, ids=["keys", "cats", "ops"])
    found = store.similarity_search("cats sitting on mats", k=3)
    assert [d.id for d in found] == ["cats"]  # sparse search returns term matches only
    get_client(cfg).delete_collection(cfg.qdrant.collection)


def test_embeddings_from_config_are_built_lazily(cfg: RagConfig) -> None:
    built = CountingEmbeddings(6)
    with mock.patch("ragloom.providers.build_embeddings", return_value=built) as factory:
        store = build_vector_store(cfg)
    factory.assert_called_once_with(cfg)
    assert store.embeddings is built
    record = store.client.get_collection(cfg.qdrant.collection).config.metadata[RECORD_KEY]
    assert record["embeddings"] == "ollama:nomic-embed-text[6]"


# --- ids and documents ------------------------------------------------------------------


def test_string_ids_round_trip(cfg: RagConfig) -> None:
    store = build_vector_store(cfg, embeddings=DeterministicFakeEmbedding(size=6))
    upper_uuid = "A1B2C3D4-E5F6-4711-8899-AABBCCDDEEFF"
    given: list[str | int | None] = ["docs/a.md#0", "42", 7, upper_uuid, None]
    texts = ["alpha", "beta", "gamma", "delta", "epsilon"]
    metadatas: list[dict[str, Any]] = [{"n": i, "nested": {"k": [i]}} for i in range(5)]
    ids = store.add_texts(texts, metadatas=metadatas, ids=given)
    assert ids[:4] == ["docs/a.md#0", "42", "7", upper_uuid]
    assert uuid.UUID(ids[4])
    docs = store.get_by_ids(["missing", *ids])
    assert [(d.id, d.page_content, d.metadata) for d in docs] == list(
        zip(ids, texts, metadatas, strict=True)
    )
    points = {p.id for p in store.client.scroll(cfg.qdrant.collection, limit=10)[0]}
    assert points == {point_id("docs/a.md#0"), 42, 7, upper_uuid.lower(), ids[4]}
    for doc in store.similarity_search("alpha", k=5):
        assert doc.id in ids and set(doc.metadata) == {"n", "nested"}
    for doc in store.max_marginal_relevance_search("alpha", k=2, fetch_k=5):
        assert doc.id in ids
    assert store.delete(["docs/a.md#0", "7", "never-added"]) is True
    assert [d.id for d in store.get_by_ids(ids)] == ["42", upper_uuid, ids[4]]
    with pytest.raises(ValueError, match="recreate=True"):
        store.delete(None)


def test_point_id_mapping() -> None:
    assert point_id(42) == point_id("42") == 42
    assert isinstance(point_id("042"), str) and point_id("042") != point_id("42")
    upper = "A1B2C3D4-E5F6-4711-8899-AABBCCDDEEFF"
    assert point_id(upper) == upper.lower()
    assert uuid.UUID(str(point_id("a.md#0"))).version == 5
    assert point_id("a.md#0") == point_id("a.md#0") != point_id("a.md#1")
    assert point_id(-1) == point_id("-1") and isinstance(point_id(-1), str)
    assert point_id(2**64) == point_id(str(2**64)) and isinstance(point_id(2**64), str)


def test_mmr_makes_only_the_query_embedding_call(cfg: RagConfig) -> None:
    emb = CountingEmbeddings(6)
    store = build_vector_store(cfg, embeddings=emb)
    store.add_documents(DOCS)
    emb.calls = 0
    assert len(store.max_marginal_relevance_search("keys", k=2, fetch_k=3)) == 2
    assert emb.calls == 1


# --- clients, disk, locking -------------------------------------------------------------


def test_one_client_per_location(tmp_path: Path) -> None:
    memory = RagConfig(qdrant={"location": ":memory:"})
    assert get_client(memory) is get_client(memory.qdrant)
    first = RagConfig(qdrant={"location": str(tmp_path / "a")})
    same = RagConfig(qdrant={"location": str(tmp_path / "x" / ".." / "a")})
    other = RagConfig(qdrant={"location": str(tmp_path / "b")})
    try:
        assert get_client(first) is get_client(same)
        assert get_client(first) is not get_client(other)
    finally:
        close_clients()
    assert get_client(first) is not None  # reopens after close
    close_clients()


def test_server_client_from_url() -> None:
    server = {
        "url": "https://qdrant.example:6333",
        "api_key": "s3cret",
        "prefer_grpc": True,
        "timeout_s": 2.5,
        "location": "ignored",
    }
    with mock.patch("qdrant_client.QdrantClient") as factory:  # imported when a server is used
        factory.return_value._client.closed = False
        client = get_client(RagConfig(qdrant=server))
        assert get_client(RagConfig(qdrant=server)) is client
        factory.assert_called_once_with(
            url="https://qdrant.example:6333", api_key="s3cret", prefer_grpc=True, timeout=3
        )
        get_client(RagConfig(qdrant={**server, "api_key": "other"}))
        assert factory.call_count == 2
        close_clients()


def test_memory_data_shared_between_builds(cfg: RagConfig) -> None:
    build_vector_store(cfg, embeddings=DeterministicFakeEmbedding(size=6)).add_documents(
        DOCS, ids=["keys", "cats", "ops"]
    )
    store = build_vector_store(cfg, embeddings=DeterministicFakeEmbedding(size=6))
    assert [d.id for d in store.get_by_ids(["ops"])] == ["ops"]


def test_on_disk_store_persists_across_close(disk_cfg: RagConfig) -> None:
    ids = build_vector_store(disk_cfg, embeddings=CountingEmbeddings(6)).add_documents(DOCS)
    close_clients()
    emb = CountingEmbeddings(6)
    store = build_vector_store(disk_cfg, embeddings=emb)
    assert emb.calls == 0  # the record survived on disk
    assert [d.page_content for d in store.get_by_ids(ids)] == [d.page_content for d in DOCS]


def test_locked_folder_raises_store_locked(disk_cfg: RagConfig) -> None:
    folder = disk_cfg.qdrant.location
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(f"""
            import sys
            from qdrant_client import QdrantClient
            client = QdrantClient(path={folder!r})
            print("ready", flush=True)
            sys.stdin.read()
            client.close()
        """),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        with pytest.raises(StoreLocked) as info:
            build_vector_store(disk_cfg, embeddings=DeterministicFakeEmbedding(size=6))
        message = str(info.value)
        assert str(Path(folder).resolve()) in message
        assert "qdrant.url" in message and "qdrant.location" in message
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(timeout=30)
    # once the other process is gone the folder opens
    build_vector_store(disk_cfg, embeddings=DeterministicFakeEmbedding(size=6))


def test_unclosed_on_disk_store_exits_cleanly(tmp_path: Path) -> None:
    script = textwrap.dedent(f"""
        from langchain_core.embeddings import DeterministicFakeEmbedding
        from ragloom.config import RagConfig
        from ragloom.store import build_vector_store
        cfg = RagConfig(qdrant={{"location": {str(tmp_path / "q")!r}}})
        store = build_vector_store(cfg, embeddings=DeterministicFakeEmbedding(size=6))
        store.add_texts(["kept on disk"], ids=["a"])
    """)
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""


# --- BM25 -------------------------------------------------------------------------------


def test_bm25_term_ids_are_stable_hashes_of_stems() -> None:
    bm25 = BM25SparseEmbeddings()
    expected = int.from_bytes(hashlib.blake2b(b"run", digest_size=4).digest(), "big")
    assert BM25SparseEmbeddings.term_id("run") == expected
    assert bm25.tokenize("running runs run") == ["run", "run", "run"]
    assert bm25.embed_query("running").indices == bm25.embed_query("runs").indices == [expected]


def test_bm25_document_weights_by_hand() -> None:
    # "running runs run": one stem, tf=3, len=3; avgdl=3 makes the length factor 1:
    # 3 * 2.2 / (3 + 1.2 * (0.25 + 0.75 * 3/3)) = 6.6 / 4.2
    vec = BM25SparseEmbeddings(avgdl=3).embed_documents(["running runs run"])[0]
    assert vec.indices == [BM25SparseEmbeddings.term_id("run")]
    assert vec.values == pytest.approx([6.6 / 4.2])
    # stop words (the, on, with) go; stems cat x2, sat, mat; len=4, avgdl=4:
    # cat: 2 * 2.2 / (2 + 1.2) = 1.375; sat, mat: 2.2 / (1 + 1.2) = 1.0
    vec = BM25SparseEmbeddings(avgdl=4).embed_documents(["The cat sat on the mat with the cats"])[0]
    weights = dict(zip(vec.indices, vec.values, strict=True))
    term = BM25SparseEmbeddings.term_id
    assert weights == pytest.approx({term("cat"): 1.375, term("sat"): 1.0, term("mat"): 1.0})
    assert vec.indices == sorted(vec.indices)
    # a longer document saturates less: len=8 against avgdl=4 for one "cat"
    # 2.2 / (1 + 1.2 * (0.25 + 0.75 * 2)) = 2.2 / 3.1
    vec = BM25SparseEmbeddings(avgdl=4).embed_documents(["cat dog emu fox gnu hen ibis jay"])[0]
    assert dict(zip(vec.indices, vec.values, strict=True))[term("cat")] == pytest.approx(2.2 / 3.1)


def test_bm25_query_and_determinism() -> None:
    text = "Rotating the API_KEYS: don't wait, rotate the keys!"
    first, second = BM25SparseEmbeddings(), BM25SparseEmbeddings()
    assert first.tokenize(text) == ["rotat", "api", "key", "wait", "rotat", "key"]
    query = first.embed_query(text)
    assert query.values == [1.0] * 4  # rotat, api, key, wait
    assert query == second.embed_query(text)
    assert first.embed_documents([text]) == second.embed_documents([text])
    assert first.tokenize("Café CAFÉ ﬁle") == ["café", "café", "file"]
    assert first.embed_documents([""])[0].indices == []


def test_bm25_cached_weights_equal_the_tokenizer_on_any_text() -> None:
    # embed_documents looks words up in a cache (and skips NFKC for ASCII text): its
    # terms must be exactly tokenize's, cold and warm, ASCII or not.
    texts = ["The runners were running; don't stop", "Straße ﬁle café CAFÉ don\u2019t",
             "API_KEY o'clock \uff12\uff10\uff12\uff16 the the", "", "THE AND"]
    bm25 = BM25SparseEmbeddings()
    term = BM25SparseEmbeddings.term_id
    for _ in range(2):
        for text, vec in zip(texts, bm25.embed_documents(texts), strict=True):
            assert vec.indices == sorted({term(stem) for stem in bm25.tokenize(text)})
            assert bm25.embed_query(text).indices == vec.indices


def test_bm25_weights_are_the_same_once_its_word_cache_is_full(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import ragloom._bm25

    texts = ["The runners were running; don't stop the runner", "cats sat on mats, a cat sat"]
    expected = BM25SparseEmbeddings().embed_documents(texts)
    monkeypatch.setattr(ragloom._bm25, "_CACHE_WORDS", 2)  # full after the first words
    small = BM25SparseEmbeddings()
    for _ in range(2):
        assert small.embed_documents(texts) == expected
    assert len(small._ids) <= 2


def test_bm25_rejects_unknown_language() -> None:
    with pytest.raises(ValueError, match="no Snowball stemmer"):
        BM25SparseEmbeddings(language="klingon")
    assert BM25SparseEmbeddings(language="french").tokenize("les chats") == ["le", "chat"]
