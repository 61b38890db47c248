"""`RagloomVectorStore`: `QdrantVectorStore` with LangChain's full `VectorStore` contract.

Private module; import `RagloomVectorStore` from `ragloom.store`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from langchain_core.documents import Document
from langchain_qdrant import QdrantVectorStore, RetrievalMode
from qdrant_client import AsyncQdrantClient, models

from ragloom._bm25 import register_sparse_embeddings
from ragloom._clients import get_async_client
from ragloom._point_ids import ID_NAMESPACE, content_id, point_id
from ragloom._points import ID_PAYLOAD_KEY
from ragloom._ranking import _cosine, _cosine_from_score, _fuse, _ranked, _sides
from ragloom._search_io import AsyncSearch, SyncSearch
from ragloom.config import QdrantSettings
from ragloom.errors import ConfigError
from ragloom.providers._drive import Core, adrive, drive

__all__ = ["ID_NAMESPACE", "MMR_MAX_CANDIDATES", "RagloomVectorStore", "content_id", "point_id"]

register_sparse_embeddings()  # isinstance(BM25SparseEmbeddings(), SparseEmbeddings) holds

MMR_MAX_CANDIDATES = 16_384
"""Qdrant's ceiling on MMR candidates (`candidates_limit`)."""


class RagloomVectorStore(QdrantVectorStore):
    """A `QdrantVectorStore` that takes any string id and returns documents as stored.

    Differences from the parent, all needed by LangChain's standard
    `VectorStoreIntegrationTests`: ids may be any string (see `point_id`; the id
    given is kept in the payload under `ID_PAYLOAD_KEY` and comes back as
    `Document.id`), every returned document has its `id`, metadata comes back exactly
    as stored (no `_id`/`_collection_name`), deleting or fetching missing ids is not
    an error, and MMR search makes no extra embedding call. Build it with
    `ragloom.store.build_vector_store`, which creates or validates the collection.

    Example:
        >>> from langchain_core.embeddings import DeterministicFakeEmbedding
        >>> from ragloom import RagConfig
        >>> from ragloom.store import build_vector_store
        >>> store = build_vector_store(
        ...     RagConfig(qdrant={"location": ":memory:", "collection": "doc_store"}),
        ...     embeddings=DeterministicFakeEmbedding(size=8))
        >>> store.add_texts(["hello"], ids=["greeting"])
        ['greeting']
        >>> store.get_by_ids(["greeting"])[0].id
        'greeting'

    """

    ID_PAYLOAD_KEY: str = ID_PAYLOAD_KEY
    """Top-level payload key holding the document id as the user gave it."""
    settings: QdrantSettings | None = None
    """The `qdrant` section it was built from (`build_vector_store` sets it)."""
    pending_check: Callable[[], None] | None = None
    """Set when built for a read of a collection not there yet: run before a search."""

    def add_texts(  # type: ignore[override]
        self,
        texts: Iterable[str],
        metadatas: list[dict[str, Any]] | None = None,
        ids: Sequence[str | int | None] | None = None,
        batch_size: int = 64,
        **kwargs: Any,
    ) -> list[str]:
        """Embed and upsert texts; ids may be any strings, `None` entries get `content_id`.

        The generated ids are deterministic (never random), so the same call sends the
        same request to a Qdrant server every time.

        Returns:
            The document ids as strings, in order: the ones given, or generated.

        Example:
            >>> from langchain_core.embeddings import DeterministicFakeEmbedding
            >>> from ragloom import RagConfig
            >>> from ragloom.store import build_vector_store
            >>> store = build_vector_store(
            ...     RagConfig(qdrant={"location": ":memory:", "collection": "doc_add_texts"}),
            ...     embeddings=DeterministicFakeEmbedding(size=8))
            >>> ids = store.add_texts(["a", "b"], metadatas=[{"n": 1}, {"n": 2}], ids=["x", None])
            >>> ids[0], ids[1] == store.add_texts(["b"], metadatas=[{"n": 2}])[0]
            ('x', True)

        """
        texts = list(texts)
        if metadatas is not None and len(metadatas) != len(texts):
            raise ValueError(f"got {len(metadatas)} metadatas for {len(texts)} texts")
        given = list(ids) if ids is not None else [None] * len(texts)
        if len(given) != len(texts):
            raise ValueError(f"got {len(given)} ids for {len(texts)} texts")
        seen: dict[str, int] = {}
        doc_ids: list[str] = []
        for index, (given_id, text) in enumerate(zip(given, texts, strict=True)):
            if given_id is not None:
                doc_ids.append(str(given_id))
                continue
            metadata = metadatas[index] if metadatas is not None else None
            first = content_id(text, metadata)
            occurrence = seen.get(first, 0)
            seen[first] = occurrence + 1
            doc_ids.append(first if occurrence == 0 else content_id(text, metadata, occurrence))
        for start in range(0, len(texts), batch_size):
            batch = texts[start : start + batch_size]
            vectors = self._build_vectors(batch)
            points = [
                models.PointStruct(
                    id=point_id(doc_id),
                    vector=vector,
                    payload={
                        self.content_payload_key: text,
                        self.metadata_payload_key: (
                            metadatas[start + offset] if metadatas is not None else None
                        ),
                        self.ID_PAYLOAD_KEY: doc_id,
                    },
                )
                for offset, (doc_id, text, vector) in enumerate(
                    zip(doc_ids[start : start + batch_size], batch, vectors, strict=True)
                )
            ]
            self.client.upsert(collection_name=self.collection_name, points=points, **kwargs)
        return doc_ids

    def delete(self, ids: Sequence[str | int] | None = None, **kwargs: Any) -> bool:
        """Delete documents by id; ids that are not there are ignored.

        `ids=None` raises instead of emptying the collection: dropping data takes
        `build_vector_store(..., recreate=True)`.

        Example:
            >>> from langchain_core.embeddings import DeterministicFakeEmbedding
            >>> from ragloom import RagConfig
            >>> from ragloom.store import build_vector_store
            >>> store = build_vector_store(
            ...     RagConfig(qdrant={"location": ":memory:", "collection": "doc_delete"}),
            ...     embeddings=DeterministicFakeEmbedding(size=8))
            >>> store.add_texts(["hello"], ids=["greeting"])
            ['greeting']
            >>> store.delete(["greeting", "never-added"])
            True
            >>> store.get_by_ids(["greeting"])
            []

        """
        if ids is None:
            raise ValueError(
                "delete() needs the ids to delete; to empty the whole collection use "
                "build_vector_store(cfg, recreate=True)"
            )
        if not ids:
            return True
        result = self.client.delete(
            collection_name=self.collection_name,
            points_selector=models.PointIdsList(points=[point_id(i) for i in ids]),
            **kwargs,
        )
        return bool(result.status == models.UpdateStatus.COMPLETED)

    def get_by_ids(self, ids: Sequence[str | int], /) -> list[Document]:
        """The documents with these ids, in the order asked; missing ids are skipped.

        Example:
            >>> from langchain_core.embeddings import DeterministicFakeEmbedding
            >>> from ragloom import RagConfig
            >>> from ragloom.store import build_vector_store
            >>> store = build_vector_store(
            ...     RagConfig(qdrant={"location": ":memory:", "collection": "doc_get_by_ids"}),
            ...     embeddings=DeterministicFakeEmbedding(size=8))
            >>> store.add_texts(["a", "b"], ids=["x", "y"])
            ['x', 'y']
            >>> [d.page_content for d in store.get_by_ids(["x", "missing"])]
            ['a']

        """
        wanted = list(dict.fromkeys(point_id(i) for i in ids))
        if not wanted:
            return []
        records = self.client.retrieve(
            self.collection_name, wanted, with_payload=True, with_vectors=False
        )
        found = {record.id: record for record in records}
        return [
            self._document_from_point(
                found[pid],
                self.collection_name,
                self.content_payload_key,
                self.metadata_payload_key,
            )
            for pid in wanted
            if pid in found
        ]

    def max_marginal_relevance_search(
        self,
        query: str,
        k: int = 4,
        fetch_k: int = 20,
        lambda_mult: float = 0.5,
        filter: models.Filter | None = None,
        search_params: models.SearchParams | None = None,
        score_threshold: float | None = None,
        consistency: models.ReadConsistency | None = None,
        **kwargs: Any,
    ) -> list[Document]:
        """MMR search over the dense vectors, with one embedding call (the query's).

        The parent embeds a probe text on every call to check the collection again;
        `build_vector_store` has already checked it.

        Example:
            >>> from langchain_core.embeddings import DeterministicFakeEmbedding
            >>> from ragloom import RagConfig
            >>> from ragloom.store import build_vector_store
            >>> store = build_vector_store(
            ...     RagConfig(qdrant={"location": ":memory:", "collection": "doc_mmr"}),
            ...     embeddings=DeterministicFakeEmbedding(size=8))
            >>> store.add_texts(["a", "b"], ids=["x", "y"])
            ['x', 'y']
            >>> [d.id for d in store.max_marginal_relevance_search("a", k=1, fetch_k=2)]
            ['x']

        """
        embedding = self._require_embeddings("max_marginal_relevance_search").embed_query(query)
        return self.max_marginal_relevance_search_by_vector(
            embedding,
            k=k,
            fetch_k=fetch_k,
            lambda_mult=lambda_mult,
            filter=filter,
            search_params=search_params,
            score_threshold=score_threshold,
            consistency=consistency,
            **kwargs,
        )

    def retrieve_with_scores(
        self,
        query: str,
        *,
        k: int,
        fetch_k: int,
        filter: models.Filter | None = None,
        score_threshold: float | None = None,
        mmr_lambda: float | None = None,
    ) -> list[tuple[Document, float]]:
        """The `k` best documents and their scores, by the store's retrieval mode.

        Dense: cosine (or the distance's) similarity; sparse: BM25 over the sparse
        vectors; hybrid: `fetch_k` candidates from each, fused by Qdrant's RRF. With
        `mmr_lambda` (1 favours relevance, 0 diversity; dense only), maximal marginal
        relevance over `fetch_k` candidates. One embedding call per vector kind.

        Example:
            >>> from langchain_core.embeddings import DeterministicFakeEmbedding
            >>> from ragloom import RagConfig
            >>> from ragloom.store import build_vector_store
            >>> store = build_vector_store(
            ...     RagConfig(qdrant={"location": ":memory:", "collection": "doc_retrieve"}),
            ...     embeddings=DeterministicFakeEmbedding(size=8))
            >>> store.add_texts(["hello", "goodbye"], ids=["greeting", "farewell"])
            ['greeting', 'farewell']
            >>> [d.id for d, _ in store.retrieve_with_scores("hello", k=1, fetch_k=4)]
            ['greeting']

        """
        return drive(self._retrieving(query, k, fetch_k, filter, score_threshold, mmr_lambda),
                     SyncSearch(self.client))

    async def aretrieve_with_scores(
        self,
        query: str,
        *,
        k: int,
        fetch_k: int,
        filter: models.Filter | None = None,
        score_threshold: float | None = None,
        mmr_lambda: float | None = None,
    ) -> list[tuple[Document, float]]:
        """`retrieve_with_scores` without a thread per call.

        The embeddings' async call, then the async Qdrant client for a server; an
        embedded engine (in this process, and fast) is queried inline.

        Example:
            >>> from langchain_core.embeddings import DeterministicFakeEmbedding
            >>> from ragloom import RagConfig
            >>> from ragloom.store import build_vector_store
            >>> store = build_vector_store(
            ...     RagConfig(qdrant={"location": ":memory:", "collection": "doc_aretrieve"}),
            ...     embeddings=DeterministicFakeEmbedding(size=8))
            >>> store.add_texts(["hello", "goodbye"], ids=["greeting", "farewell"])
            ['greeting', 'farewell']
            >>> import asyncio
            >>> [d.id for d, _ in asyncio.run(store.aretrieve_with_scores("hello", k=1, fetch_k=4))]
            ['greeting']

        """
        return await adrive(
            self._retrieving(query, k, fetch_k, filter, score_threshold, mmr_lambda),
            AsyncSearch(self.client, self._async_client))

    def _retrieving(
        self, query: str, k: int, fetch_k: int, query_filter: models.Filter | None,
        threshold: float | None, mmr_lambda: float | None,
    ) -> Core[list[tuple[Document, float]]]:
        """The one source of both: embed the query, search (one request a side), rank."""
        self._check_ready()
        mode = RetrievalMode(self.retrieval_mode)
        dense = sparse = None
        if mode is not RetrievalMode.SPARSE or mmr_lambda is not None:
            embeddings = self._require_embeddings("retrieve_with_scores")
            dense = yield ("embed_query", embeddings, query)
        if mode is not RetrievalMode.DENSE and mmr_lambda is None:
            sparse = self._sparse_query(query)
        request = self._request(dense, sparse, k, fetch_k, query_filter, threshold, mmr_lambda)
        hybrid = "prefetch" in request
        found = yield ("query_points", _sides(request) if hybrid else [request])
        if hybrid:  # fused here, ties broken by point id
            return self._pairs(_fuse(found, k), dense, sparse)
        return self._pairs(_ranked(found[0], request), dense, sparse)

    def _check_ready(self) -> None:
        if self.pending_check is not None:
            self.pending_check()  # raises CollectionNotFound while it is still missing
            self.pending_check = None

    def _async_client(self) -> AsyncQdrantClient | None:
        if self.settings is None:
            return None
        return get_async_client(self.settings)

    def _sparse_query(self, query: str) -> models.SparseVector:
        terms = self.sparse_embeddings.embed_query(query)
        return models.SparseVector(indices=terms.indices, values=terms.values)

    def _request(
        self,
        dense: list[float] | None,
        sparse: models.SparseVector | None,
        k: int,
        fetch_k: int,
        query_filter: models.Filter | None,
        threshold: float | None,
        mmr_lambda: float | None,
    ) -> dict[str, Any]:
        if k < 1:
            raise ConfigError(f"k must be at least 1 (got {k})")
        fetch_k = max(fetch_k, k)
        request: dict[str, Any] = {
            "collection_name": self.collection_name, "query_filter": query_filter,
            "limit": k, "with_payload": True, "with_vectors": False,
            "score_threshold": threshold,
        }
        if mmr_lambda is not None:
            if k > MMR_MAX_CANDIDATES:
                raise ConfigError(
                    f"MMR search returns at most {MMR_MAX_CANDIDATES:,} documents (Qdrant's"
                    f" limit on MMR candidates) and k={k:,} was asked. Lower k (e.g."
                    " RAGLOOM_RETRIEVAL__K=8), or use retrieval.search=similarity")
            # Qdrant's `diversity` runs the other way from MMR's lambda (1 = most diverse).
            request.update(using=self.vector_name, query=models.NearestQuery(
                nearest=dense, mmr=models.Mmr(diversity=1.0 - mmr_lambda,
                                              candidates_limit=min(fetch_k, MMR_MAX_CANDIDATES))))
        elif dense is not None and sparse is not None:
            # langchain-qdrant prefetches only k per side, leaving RRF little to fuse;
            # take fetch_k from each and let RRF pick the k. The winners' dense vectors
            # give each a relevance on the dense scale (RRF scores are ranks).
            request.update(with_vectors=[self.vector_name])
            request.update(query=models.FusionQuery(fusion=models.Fusion.RRF), prefetch=[
                models.Prefetch(using=self.vector_name, query=dense, filter=query_filter,
                                limit=fetch_k),
                models.Prefetch(using=self.sparse_vector_name, query=sparse,
                                filter=query_filter, limit=fetch_k),
            ])
        elif dense is not None:
            request.update(using=self.vector_name, query=dense)
        else:
            request.update(using=self.sparse_vector_name, query=sparse)
        return request

    def _pairs(
        self, points: Sequence[Any], dense: list[float] | None = None,
        sparse: models.SparseVector | None = None,
    ) -> list[tuple[Document, float]]:
        pairs = []
        for p in points:
            doc = self._document_from_point(p, self.collection_name, self.content_payload_key,
                                            self.metadata_payload_key)
            if dense is not None and sparse is not None:  # hybrid: from the dense vectors
                vector = p.vector.get(self.vector_name) if isinstance(p.vector, dict) else p.vector
                if isinstance(vector, list) and vector:
                    doc.metadata["relevance"] = _cosine(dense, vector)
            elif dense is not None:
                doc.metadata["relevance"] = _cosine_from_score(p.score, self.distance)
            pairs.append((doc, p.score))
        return pairs

    @classmethod
    def _document_from_point(
        cls,
        scored_point: Any,
        collection_name: str,
        content_payload_key: str,
        metadata_payload_key: str,
    ) -> Document:
        # Every search, MMR and get_by_ids result goes through here.
        payload = scored_point.payload or {}
        doc_id = payload.get(cls.ID_PAYLOAD_KEY)
        return Document(
            id=str(doc_id if doc_id is not None else scored_point.id),
            page_content=payload.get(content_payload_key) or "",
            metadata=dict(payload.get(metadata_payload_key) or {}),
        )
