"""LangChain's standard VectorStore suite against what `build_vector_store` returns.

Run on both embedded engines: `local` (qdrant-client local mode, in memory) and
`edge` (Qdrant Edge shards in a folder).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from langchain_core.vectorstores import VectorStore
from langchain_tests.integration_tests import VectorStoreIntegrationTests

from ragloom.config import RagConfig
from ragloom.store import RagloomVectorStore, build_vector_store, get_client


class TestRagloomVectorStore(VectorStoreIntegrationTests):
    @pytest.fixture(params=["local", "edge"])
    def vectorstore(self, request: pytest.FixtureRequest,
                    tmp_path: Path) -> Iterator[VectorStore]:
        name = "std_" + uuid.uuid5(uuid.NAMESPACE_URL, request.node.nodeid).hex[:12]
        engine = request.param
        location = ":memory:" if engine == "local" else str(tmp_path / "store")
        cfg = RagConfig(qdrant={"engine": engine, "location": location, "collection": name})
        store = build_vector_store(cfg, embeddings=self.get_embeddings(), recreate=True)
        assert isinstance(store, RagloomVectorStore)
        assert type(store.client).__name__ == ("EdgeClient" if engine == "edge" else "QdrantClient")
        try:
            yield store
        finally:
            store.client.delete_collection(name)
            if engine == "edge":
                get_client(cfg).close()
