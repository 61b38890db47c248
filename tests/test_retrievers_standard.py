"""LangChain's standard `RetrieversIntegrationTests` against what `build_retriever` returns.

Offline and without cassettes: the dense vectors come from langchain-core's
`DeterministicFakeEmbedding` (a hash of the text seeds the vector), the sparse ones
from ragloom's BM25 embedder, and Qdrant runs in memory. The tests only check the
retriever contract (k honoured from the constructor and per call, lists of Documents,
sync and async), which does not depend on the embedding model.

Stock `VectorStoreRetriever` is measured alongside: it reads `k` only from
`search_kwargs`, so `VectorStoreRetriever(vectorstore=..., k=3)` is accepted and
silently returns its default 4; the constructor test fails (4 of 5, xfail strict).
"""

from __future__ import annotations

import functools
import tempfile
from typing import Any

import pytest
from langchain_core.documents import Document
from langchain_core.embeddings import DeterministicFakeEmbedding
from langchain_core.language_models import FakeListChatModel
from langchain_core.retrievers import BaseRetriever
from langchain_core.vectorstores import VectorStoreRetriever
from langchain_qdrant import QdrantVectorStore
from langchain_tests.integration_tests import RetrieversIntegrationTests

from ragloom import RagConfig, build_retriever, build_vector_store

TEXTS = [
    "Rotate the API keys from Settings > Security; old keys stop after 24 hours.",
    "Backups run nightly at 02:00 UTC and are kept for 30 days.",
    "The cafeteria serves lunch from noon to 2 pm.",
    "Invoices are sent on the first working day of each month.",
    "New employees get a laptop and an access badge on their first day.",
    "Security incidents are reported to the on-call engineer by phone.",
]


@functools.cache
def _edge_folder() -> str:
    return tempfile.mkdtemp(prefix="ragloom-std-edge-")


def _config(mode: str, search: str = "similarity", engine: str = "local",
            **retrieval: Any) -> RagConfig:
    location = ":memory:" if engine == "local" else _edge_folder()
    return RagConfig(
        qdrant={"engine": engine, "location": location, "collection": f"std_retr_{mode}"},
        retrieval={"mode": mode, "search": search, **retrieval},
    )


@functools.cache
def _store(mode: str, engine: str = "local") -> QdrantVectorStore:
    store = build_vector_store(_config(mode, engine=engine),
                               embeddings=DeterministicFakeEmbedding(size=16), recreate=True)
    store.add_documents(
        [Document(text, metadata={"source": f"doc{n}.md"}) for n, text in enumerate(TEXTS)],
        ids=[f"doc{n}" for n in range(len(TEXTS))],
    )
    return store


def _build(mode: str, search: str = "similarity", multi_query: bool = False,
           engine: str = "local", **params: Any) -> BaseRetriever:
    """What a user gets from `build_retriever(cfg)`, with `k` set through the config."""
    cfg = _config(mode, search, engine=engine, multi_query=multi_query, **params)
    llm = FakeListChatModel(responses=["1. API key rotation\n2. changing credentials"])
    return build_retriever(cfg, _store(mode, engine), llm=llm if multi_query else None)


class _Ragloom(RetrieversIntegrationTests):
    mode = "dense"
    search = "similarity"
    multi_query = False
    engine = "local"

    @property
    def retriever_constructor(self) -> Any:
        return functools.partial(_build, self.mode, self.search, self.multi_query, self.engine)

    @property
    def retriever_constructor_params(self) -> dict[str, Any]:
        return {"k": 2}

    @property
    def retriever_query_example(self) -> str:
        return "How do I rotate the API keys?"


class TestDenseSimilarity(_Ragloom):
    pass


class TestDenseMMR(_Ragloom):
    search = "mmr"


class TestSparse(_Ragloom):
    mode = "sparse"
    # BM25 returns only documents sharing a stem with the query; this query shares one
    # with every text, so k=3 can be filled.
    @property
    def retriever_query_example(self) -> str:
        return "keys backups lunch invoices laptop incidents"


class TestHybrid(_Ragloom):
    mode = "hybrid"


class TestMultiQuery(_Ragloom):
    multi_query = True


# The same five classes on the edge engine (Qdrant Edge shards in a folder).
class TestEdgeDenseSimilarity(TestDenseSimilarity):
    engine = "edge"


class TestEdgeDenseMMR(TestDenseMMR):
    engine = "edge"


class TestEdgeSparse(TestSparse):
    engine = "edge"


class TestEdgeHybrid(TestHybrid):
    engine = "edge"


class TestEdgeMultiQuery(TestMultiQuery):
    engine = "edge"


def _stock(**params: Any) -> VectorStoreRetriever:
    return VectorStoreRetriever(vectorstore=_store("dense"), **params)


class TestStockVectorStoreRetriever(RetrieversIntegrationTests):
    """The baseline: LangChain's own retriever over the same store."""

    @property
    def retriever_constructor(self) -> Any:
        return _stock

    @property
    def retriever_constructor_params(self) -> dict[str, Any]:
        return {}

    @property
    def retriever_query_example(self) -> str:
        return "How do I rotate the API keys?"

    @pytest.mark.xfail(strict=True, reason="VectorStoreRetriever reads k only from "
                       "search_kwargs and silently ignores k=3: it returns 4 documents")
    def test_k_constructor_param(self) -> None:
        super().test_k_constructor_param()
