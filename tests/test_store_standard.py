"""LangChain's standard VectorStore suite against what `build_vector_store` returns."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from langchain_core.vectorstores import VectorStore
from langchain_tests.integration_tests import VectorStoreIntegrationTests

from ragloom.config import RagConfig
from ragloom.store import RagloomVectorStore, build_vector_store


class TestRagloomVectorStore(VectorStoreIntegrationTests):
    @pytest.fixture
    def vectorstore(self, request: pytest.FixtureRequest) -> Iterator[VectorStore]:
        name = "std_" + uuid.uuid5(uuid.NAMESPACE_URL, request.node.nodeid).hex[:12]
        cfg = RagConfig(qdrant={"location": ":memory:", "collection": name})
        store = build_vector_store(cfg, embeddings=self.get_embeddings(), recreate=True)
        assert isinstance(store, RagloomVectorStore)
        try:
            yield store
        finally:
            store.client.delete_collection(name)
