"""Retrieval modes, searches, filters, condensing and multi-query, replayed from cassettes.

Recorded against the project's Ollama-API test server (all-minilm embeddings,
smollm2:135m chat): `pytest tests/test_retrieval.py --record-mode=rewrite`.
Sparse retrieval makes no HTTP call at all (BM25 runs in process), so its tests have
no cassette.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.documents import Document

from ragloom import (
    ConfigError,
    MultiQueryRetriever,
    RagConfig,
    RagloomRetriever,
    build_rag_chain,
    build_retriever,
    build_vector_store,
    ingest,
)
from ragloom.config import RetrievalSettings
from ragloom.retrievers import reciprocal_rank_fusion

DOCS = [
    Document("To rotate the API keys, open Settings > Security and press 'Rotate keys'. "
             "Old keys stop working after 24 hours.",
             metadata={"source": "keys.md", "tenant": "acme"}),
    Document("API keys can be rotated in Settings > Security with the 'Rotate keys' button; "
             "the previous keys expire after 24 hours.",
             metadata={"source": "keys-copy.md", "tenant": "globex"}),
    Document("Backups run nightly at 02:00 UTC and are kept for 30 days.",
             metadata={"source": "backups.md", "tenant": "acme"}),
    Document("The office cafeteria serves lunch from noon to 2 pm.",
             metadata={"source": "cafeteria.md", "tenant": "globex"}),
    Document("Error ERR-4711 means the licence server rejected the request.",
             metadata={"source": "errors.md", "tenant": "acme"}),
]
IDS = ["keys", "keys-copy", "backups", "cafeteria", "errors"]
QUESTION = "How do I rotate the API keys?"


def with_retrieval(cfg: RagConfig, **settings: Any) -> RagConfig:
    return cfg.model_copy(update={"retrieval": RetrievalSettings(**settings)})


def seeded(cfg: RagConfig, mode: str = "dense", **settings: Any) -> RagloomRetriever:
    cfg = with_retrieval(cfg, mode=mode, **settings)
    store = build_vector_store(cfg)
    store.add_documents(DOCS, ids=IDS)
    retriever = build_retriever(cfg, store)
    assert isinstance(retriever, RagloomRetriever)
    return retriever


def sources(docs: list[Document]) -> list[str]:
    return [doc.metadata["source"] for doc in docs]


class Recorder(BaseCallbackHandler):
    def __init__(self) -> None:
        self.queries: list[str] = []
        self.chat_prompts: list[str] = []

    def on_retriever_start(self, serialized: Any, query: str, *, run_id: UUID,
                           **kwargs: Any) -> None:
        self.queries.append(query)

    def on_chat_model_start(self, serialized: Any, messages: Any, **kwargs: Any) -> None:
        self.chat_prompts.append(str(messages))


# dense -------------------------------------------------------------------------------

@pytest.mark.vcr
def test_dense_similarity_honours_k_exactly_with_scores(cfg: RagConfig) -> None:
    retriever = seeded(cfg, k=3)
    docs = retriever.invoke(QUESTION)
    assert len(docs) == 3
    assert set(sources(docs[:2])) == {"keys.md", "keys-copy.md"}
    scores = [doc.metadata["score"] for doc in docs]
    assert scores == sorted(scores, reverse=True) and all(-1 <= s <= 1 for s in scores)
    assert all(doc.id in IDS for doc in docs)
    assert len(retriever.invoke(QUESTION, k=1)) == 1  # per call
    assert len(retriever.invoke(QUESTION, k=5)) == 5


@pytest.mark.vcr
def test_mmr_skips_the_near_duplicate(cfg: RagConfig) -> None:
    similar = seeded(cfg, k=2)
    assert set(sources(similar.invoke(QUESTION))) == {"keys.md", "keys-copy.md"}
    mmr = similar.model_copy(update={"search": "mmr", "lambda_mult": 0.5})
    docs = mmr.invoke(QUESTION)
    assert len(docs) == 2
    assert len({"keys.md", "keys-copy.md"} & set(sources(docs))) == 1, sources(docs)


@pytest.mark.vcr
def test_threshold_drops_low_scores_and_never_exceeds_k(cfg: RagConfig) -> None:
    retriever = seeded(cfg, search="threshold", score_threshold=0.3, k=4)
    docs = retriever.invoke(QUESTION)
    assert 1 <= len(docs) < 4
    assert "keys.md" in sources(docs) and "cafeteria.md" not in sources(docs)
    assert all(doc.metadata["score"] >= 0.3 for doc in docs)
    everything = retriever.invoke(QUESTION, score_threshold=-1.0)
    assert len(everything) == 4  # the per-call threshold wins; k still caps


# sparse (no HTTP: BM25 runs in process) ----------------------------------------------

def test_sparse_matches_exact_terms_and_codes(cfg: RagConfig) -> None:
    retriever = seeded(cfg, mode="sparse", k=2)
    docs = retriever.invoke("What does ERR-4711 mean?")
    assert sources(docs)[0] == "errors.md"
    assert len(docs) == 1  # only one text shares a term with the query
    assert docs[0].metadata["score"] > 0
    rotate = retriever.invoke("rotating keys")
    assert set(sources(rotate)) == {"keys.md", "keys-copy.md"}  # stemmed: rotating → rotat
    assert retriever.invoke("nothing matches zzzqqq") == []


def test_sparse_filter_per_call(cfg: RagConfig) -> None:
    retriever = seeded(cfg, mode="sparse", k=4)
    docs = retriever.invoke("rotate keys", filter={"tenant": "globex"})
    assert sources(docs) == ["keys-copy.md"]


# hybrid ------------------------------------------------------------------------------

@pytest.mark.vcr
def test_hybrid_is_qdrant_rrf_of_dense_and_sparse(cfg: RagConfig) -> None:
    hybrid = seeded(cfg, mode="hybrid", k=3, fetch_k=5)
    query = "What does error ERR-4711 mean for the licence?"
    fused = hybrid.invoke(query)
    assert len(fused) == 3
    # The same collection searched each way alone, as the two prefetches see it.
    dense = build_retriever(with_retrieval(cfg, mode="dense", k=5))
    sparse = build_retriever(with_retrieval(cfg, mode="sparse", k=5))
    dense_docs, sparse_docs = dense.invoke(query), sparse.invoke(query)
    # Qdrant's RRF: 1 / (rank + 1) per list (its default constant k=2 on 0-based ranks).
    expected = {doc.id: doc.metadata["score"]
                for doc in reciprocal_rank_fusion([dense_docs, sparse_docs], constant=1)}
    for doc in fused:
        assert doc.metadata["score"] == pytest.approx(expected[doc.id])
    best = sorted(expected.values(), reverse=True)[:3]
    assert [doc.metadata["score"] for doc in fused] == pytest.approx(best)
    assert fused[0].metadata["source"] == "errors.md"


@pytest.mark.vcr
def test_hybrid_filter_from_config_applies_to_both_searches(cfg: RagConfig) -> None:
    retriever = seeded(cfg, mode="hybrid", k=4, filter={"tenant": "acme"})
    docs = retriever.invoke(QUESTION)
    assert set(sources(docs)) == {"keys.md", "backups.md", "errors.md"}
    assert sources(docs)[0] == "keys.md"


def test_hybrid_rejects_threshold_and_sparse_rejects_mmr(cfg: RagConfig) -> None:
    with pytest.raises(ConfigError, match="RRF"):
        build_retriever(with_retrieval(cfg, mode="hybrid", search="threshold",
                                       score_threshold=0.5))
    with pytest.raises(ConfigError, match=r"retrieval\.mode=dense"):
        build_retriever(with_retrieval(cfg, mode="sparse", search="mmr"))


# filters -----------------------------------------------------------------------------

@pytest.mark.vcr
def test_filters_from_config_and_per_call_combine(cfg: RagConfig) -> None:
    retriever = seeded(cfg, k=4, filter={"tenant": "acme"})
    assert set(sources(retriever.invoke(QUESTION))) == {"keys.md", "backups.md", "errors.md"}
    # per call: ANDed with the config filter
    assert sources(retriever.invoke(QUESTION, filter={"source": ["backups.md", "cafeteria.md"]})
                   ) == ["backups.md"]
    # a full Qdrant filter mapping
    docs = retriever.invoke(QUESTION, filter={"must_not": [
        {"key": "metadata.source", "match": {"value": "keys.md"}}]})
    assert set(sources(docs)) == {"backups.md", "errors.md"}


# conversation ------------------------------------------------------------------------

@pytest.mark.vcr
def test_condensed_question_is_what_retrieval_sees(cfg: RagConfig) -> None:
    cfg.prompt.condense_template = (
        "Rewrite the last question so it stands alone.\n{chat_history}\n"
        "Last question: {question}\nStandalone question:")
    cfg.answer.min_relevance = None  # both retrieved chunks count, whatever their relevance
    retriever = seeded(cfg, k=2)
    chain = build_rag_chain(cfg, retriever=retriever)
    recorder = Recorder()
    result = chain.invoke(
        {"question": "And how long are they kept?",
         "chat_history": [("human", "When do backups run?"),
                          ("ai", "Backups run nightly at 02:00 UTC [1].")]},
        {"callbacks": [recorder]},
    )
    assert "Rewrite the last question so it stands alone." in recorder.chat_prompts[0]
    assert len(recorder.queries) == 1
    condensed = recorder.queries[0]
    assert condensed and condensed != "And how long are they kept?"
    assert result["question"] == "And how long are they kept?"
    assert len(result["sources"]) == 2


@pytest.mark.vcr
def test_multi_query_fuses_variants_from_the_chat_model(cfg: RagConfig) -> None:
    mq_cfg = with_retrieval(cfg, k=2, multi_query=True)
    store = build_vector_store(mq_cfg)
    store.add_documents(DOCS, ids=IDS)
    retriever = build_retriever(mq_cfg, store)
    assert isinstance(retriever, MultiQueryRetriever)
    recorder = Recorder()
    docs = retriever.invoke(QUESTION, {"callbacks": [recorder]})
    assert len(recorder.chat_prompts) == 1  # one call writes every variant
    outer, *searched = recorder.queries
    assert outer == QUESTION and searched[0] == QUESTION
    assert 1 <= len(searched) <= 1 + retriever.n_queries
    assert len(set(searched)) == len(searched)
    assert len(docs) == 2
    assert {"keys.md", "keys-copy.md"} & set(sources(docs))
    scores = [doc.metadata["score"] for doc in docs]
    assert scores == sorted(scores, reverse=True)
    assert len(retriever.invoke(QUESTION, k=1)) == 1


# ingestion into a hybrid collection --------------------------------------------------

@pytest.mark.vcr
def test_dense_ingest_into_hybrid_collection_writes_sparse_vectors(
    cfg: RagConfig, tmp_path: Path
) -> None:
    build_vector_store(with_retrieval(cfg, mode="hybrid"))  # the collection has both
    folder = tmp_path / "kb"
    folder.mkdir()
    (folder / "errors.md").write_text("Error ERR-4711 means the licence server said no.\n")
    (folder / "lunch.md").write_text("Lunch is served from noon.\n")
    report = ingest([folder], with_retrieval(cfg, mode="dense"))
    assert report.added == 2
    sparse = build_retriever(with_retrieval(cfg, mode="sparse"))
    assert [Path(s).name for s in sources(sparse.invoke("ERR-4711"))] == ["errors.md"]


# the retriever holds a RetrievalSettings ----------------------------------------------

def test_retriever_holds_the_retrieval_settings_and_keeps_its_keywords() -> None:
    from langchain_core.embeddings import DeterministicFakeEmbedding
    from pydantic import ValidationError

    cfg = RagConfig(qdrant={"location": ":memory:", "collection": "settings_held"},
                    retrieval={"mode": "dense", "k": 3, "fetch_k": 9, "filter": {"tenant": "acme"}})
    store = build_vector_store(cfg, embeddings=DeterministicFakeEmbedding(size=8))
    built = build_retriever(cfg, store)
    assert isinstance(built, RagloomRetriever)
    assert built.settings == cfg.retrieval and built.settings is not cfg.retrieval
    cfg.retrieval.k = 5  # a later change to the config does not reach a built retriever
    assert built.k == 3
    # the old keywords: the same retriever, read back as attributes
    old = RagloomRetriever(store=store, search="mmr", k=2, fetch_k=7, lambda_mult=0.3)
    assert isinstance(old.settings, RetrievalSettings)
    assert (old.search, old.k, old.fetch_k, old.lambda_mult, old.score_threshold,
            old.filter) == ("mmr", 2, 7, 0.3, None, None)
    # keywords over settings; model_copy and assignment take the fields' names too
    both = RagloomRetriever(store=store, settings=cfg.retrieval, k=1)
    assert (both.k, both.fetch_k, both.filter) == (1, 9, {"tenant": "acme"})
    copy = both.model_copy(update={"search": "mmr", "k": 2})
    assert (copy.search, copy.k, both.search, both.k) == ("mmr", 2, "similarity", 1)
    copy.k = 4
    assert (copy.k, both.k) == (4, 1)
    with pytest.raises(ValidationError, match="greater than or equal to 1"):
        copy.k = 0
    with pytest.raises(ValidationError, match="k"):
        RagloomRetriever(store=store, k=0)
