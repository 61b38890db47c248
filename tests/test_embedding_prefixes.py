"""Model-aware embedding instructions: the known-models table, the wrapper, the record."""

from __future__ import annotations

import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from langchain_core.embeddings import DeterministicFakeEmbedding, Embeddings

from ragloom._bm25 import BM25SparseEmbeddings
from ragloom._known_models import KNOWN_EMBEDDING_MODELS, known_embedding_model
from ragloom.config import RagConfig
from ragloom.errors import CollectionMismatch
from ragloom.ingestion import ingest
from ragloom.providers import build_embeddings
from ragloom.providers._instructed import InstructedEmbeddings
from ragloom.store import RECORD_KEY, build_vector_store, collection_status, get_client

NOMIC = ("search_query: ", "search_document: ")


class Recording(Embeddings):
    """Fake dense embeddings that remember every text they were given."""

    def __init__(self) -> None:
        self.inner = DeterministicFakeEmbedding(size=8)
        self.documents: list[str] = []
        self.queries: list[str] = []

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        self.documents += texts
        return self.inner.embed_documents(texts)

    def embed_query(self, text: str) -> list[float]:
        self.queries.append(text)
        return self.inner.embed_query(text)


class RecordingBM25(BM25SparseEmbeddings):
    def __init__(self) -> None:
        super().__init__()
        self.seen: list[str] = []

    def embed_documents(self, texts: list[str]) -> Any:
        self.seen += texts
        return super().embed_documents(texts)

    def embed_query(self, text: str) -> Any:
        self.seen.append(text)
        return super().embed_query(text)


@pytest.fixture
def mem(request: pytest.FixtureRequest) -> Iterator[RagConfig]:
    name = "px_" + uuid.uuid5(uuid.NAMESPACE_URL, request.node.nodeid).hex[:12]
    cfg = RagConfig(qdrant={"location": ":memory:", "collection": name},
                    retrieval={"mode": "hybrid"})
    yield cfg
    client = get_client(cfg)
    if client.collection_exists(name):
        client.delete_collection(name)


# --- the table and the config ------------------------------------------------------------

def test_every_known_model_names_its_source() -> None:
    for name, entry in KNOWN_EMBEDDING_MODELS.items():
        assert entry.source.startswith("https://"), name
    assert known_embedding_model("nomic-embed-text:v1.5").query_prefix == NOMIC[0]
    assert known_embedding_model("registry.ollama.ai/library/mxbai-embed-large:335m")
    assert known_embedding_model("embeddinggemma").document_prefix == "title: none | text: "
    assert known_embedding_model("jeffh/intfloat-multilingual-e5-large:f16").query_prefix \
        == "query: "
    assert known_embedding_model("text-embedding-3-small") is None


def test_prefixes_default_from_the_table_and_can_be_set_or_emptied() -> None:
    assert RagConfig().embeddings.prefixes() == NOMIC  # the default model
    assert RagConfig(embeddings={"model": "all-minilm"}).embeddings.prefixes() == ("", "")
    assert RagConfig(embeddings={"model": "unknown"}).embeddings.prefixes() == ("", "")
    assert RagConfig(embeddings={"query_prefix": "", "document_prefix": ""}
                     ).embeddings.prefixes() == ("", "")
    assert RagConfig(embeddings={"model": "x", "query_prefix": "q: "}
                     ).embeddings.prefixes() == ("q: ", "")


def test_prefixes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAGLOOM_EMBEDDINGS__QUERY_PREFIX", "")
    monkeypatch.setenv("RAGLOOM_ANSWER__MIN_RELEVANCE", "0.42")
    cfg = RagConfig()
    assert cfg.embeddings.prefixes() == ("", NOMIC[1])
    assert cfg.relevance_bar() == 0.42


def test_relevance_bar_per_model() -> None:
    assert RagConfig().relevance_bar() == 0.5  # nomic-embed-text, measured
    assert RagConfig(embeddings={"model": "all-minilm:latest"}).relevance_bar() == 0.15
    assert RagConfig(embeddings={"model": "mxbai-embed-large"}).relevance_bar() == 0.2
    assert RagConfig(embeddings={"query_prefix": "", "document_prefix": ""}
                     ).relevance_bar() == 0.4  # nomic measured without its prefixes
    assert RagConfig(embeddings={"query_prefix": "q: "}).relevance_bar() == 0.2  # unmeasured
    assert RagConfig(answer={"min_relevance": 0.35}).relevance_bar() == 0.35
    assert RagConfig(answer={"min_relevance": None}).relevance_bar() is None


def test_build_embeddings_wraps_only_models_with_instructions() -> None:
    nomic = build_embeddings(RagConfig())
    assert isinstance(nomic, InstructedEmbeddings)
    assert (nomic.query_prefix, nomic.document_prefix) == NOMIC
    assert nomic.model == "nomic-embed-text"  # the wrapped model's attributes show through
    plain = build_embeddings(RagConfig(embeddings={"model": "all-minilm"}))
    assert not isinstance(plain, InstructedEmbeddings)
    off = build_embeddings(RagConfig(embeddings={"query_prefix": "", "document_prefix": ""}))
    assert not isinstance(off, InstructedEmbeddings)


# --- what each side sees -----------------------------------------------------------------

def test_dense_side_gets_prefixes_bm25_and_payload_never_do(mem: RagConfig,
                                                            tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text("Rotate the API keys every month.")
    dense, bm25 = Recording(), RecordingBM25()
    emb = InstructedEmbeddings(dense, query_prefix=NOMIC[0], document_prefix=NOMIC[1])
    store = build_vector_store(mem, embeddings=emb, sparse_embeddings=bm25)
    report = ingest([tmp_path / "a.md"], mem, store=store)
    assert report.added == 1
    chunk = "Rotate the API keys every month."
    assert dense.documents[-1] == NOMIC[1] + chunk
    docs = store.similarity_search("rotate keys", k=1)
    assert dense.queries[-1] == NOMIC[0] + "rotate keys"
    assert docs[0].page_content == chunk  # stored text is the chunk as written
    assert bm25.seen and not any(s.startswith(("search_", "search")) for s in bm25.seen)
    assert chunk in bm25.seen and "rotate keys" in bm25.seen
    record = store.client.get_collection(mem.qdrant.collection).config.metadata[RECORD_KEY]
    assert (record["query_prefix"], record["document_prefix"]) == NOMIC
    assert record["embeddings"] == "Recording"  # the model, without the wrapper


# --- the record ---------------------------------------------------------------------------

def _build(cfg: RagConfig, prefixes: tuple[str, str]) -> Any:
    inner = DeterministicFakeEmbedding(size=8)
    emb: Embeddings = InstructedEmbeddings(inner, query_prefix=prefixes[0],
                                           document_prefix=prefixes[1]) \
        if any(prefixes) else inner
    return build_vector_store(cfg, embeddings=emb)


@pytest.mark.parametrize(("built", "opened"), [(NOMIC, ("", "")), (("", ""), NOMIC),
                                               (NOMIC, (NOMIC[0], ""))])
def test_other_prefixes_are_a_collection_mismatch_naming_the_fix(
        mem: RagConfig, built: tuple[str, str], opened: tuple[str, str]) -> None:
    _build(mem, built)
    with pytest.raises(CollectionMismatch) as err:
        _build(mem, opened)
    text = str(err.value)
    assert f"query prefix {built[0]!r} and document prefix {built[1]!r}" in text
    assert f"embeddings.query_prefix: {built[0]!r}" in text
    assert "recreate=True" in text and "qdrant.collection" in text
    _build(mem, built)  # the same prefixes open it


def test_collection_recorded_before_prefixes_warns_not_fails(mem: RagConfig) -> None:
    store = _build(mem, ("", ""))
    name = mem.qdrant.collection
    store.client.update_collection(name, metadata={RECORD_KEY: {
        "embeddings": "DeterministicFakeEmbedding[8]", "dim": 8}})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _build(mem, ("", ""))  # built without, asked without: silent
    with pytest.warns(UserWarning, match="embeddings.query_prefix: '' and"):
        _build(mem, NOMIC)


def test_doctor_status_lists_a_prefix_mismatch(mem: RagConfig) -> None:
    store = _build(mem, ("", ""))
    store.client.update_collection(mem.qdrant.collection, metadata={RECORD_KEY: {
        "embeddings": "ollama:nomic-embed-text", "dim": 8, "query_prefix": "",
        "document_prefix": ""}})
    status = collection_status(mem, embed_dim=8)  # configured: nomic-embed-text, auto
    assert any("query prefix ''" in p for p in status.problems), status.problems
