"""Retrievers over the Qdrant store: similarity, MMR or score threshold, with filters.

`k` is honoured exactly, per retriever and per call (`retriever.invoke(q, k=2)`),
filters come from config or per call (`filter={"source": "a.md"}`), and every
returned document carries its relevance in `metadata["score"]`.

Example:
    >>> from ragloom import RagConfig, build_retriever
    >>> from langchain_core.embeddings import DeterministicFakeEmbedding
    >>> cfg = RagConfig(qdrant={"location": ":memory:", "collection": "doc_retr"})
    >>> retriever = build_retriever(cfg, embeddings=DeterministicFakeEmbedding(size=8))
    >>> retriever.k
    4

"""

from __future__ import annotations

from typing import Any, Literal

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.retrievers import BaseRetriever
from langchain_qdrant import QdrantVectorStore
from pydantic import ConfigDict, Field
from qdrant_client import models

from ragloom.config import RagConfig, load_config
from ragloom.errors import ConfigError
from ragloom.store import build_vector_store

__all__ = ["RagloomRetriever", "build_retriever", "to_qdrant_filter"]

_FILTER_CLAUSES = {"must", "should", "must_not", "min_should"}


def to_qdrant_filter(spec: dict[str, Any] | models.Filter | None) -> models.Filter | None:
    """Turn a filter mapping into a Qdrant filter.

    A mapping with `must`/`should`/`must_not` is a full Qdrant filter (payload keys as
    stored, e.g. `metadata.source`); any other mapping means exact matches on
    document metadata, a list value meaning "any of".

    Example:
        >>> f = to_qdrant_filter({"source": "a.md", "lang": ["en", "fr"]})
        >>> [c.key for c in f.must]
        ['metadata.source', 'metadata.lang']

    """
    if spec is None or isinstance(spec, models.Filter):
        return spec
    if _FILTER_CLAUSES & set(spec):
        try:
            return models.Filter.model_validate(spec)
        except ValueError as exc:
            raise ConfigError(f"retrieval.filter is not a valid Qdrant filter: {exc}") from None
    conditions: list[models.Condition] = []
    for key, value in spec.items():
        match: models.MatchAny | models.MatchValue = (
            models.MatchAny(any=list(value))
            if isinstance(value, list | tuple | set)
            else models.MatchValue(value=value)
        )
        conditions.append(models.FieldCondition(key=f"metadata.{key}", match=match))
    return models.Filter(must=conditions)


def _merge(*filters: models.Filter | None) -> models.Filter | None:
    present = [f for f in filters if f is not None]
    if len(present) <= 1:
        return present[0] if present else None
    return models.Filter(must=list(present))


class RagloomRetriever(BaseRetriever):
    """A retriever over a `QdrantVectorStore` with exact `k`, filters and scores.

    Example:
        >>> from langchain_core.embeddings import DeterministicFakeEmbedding
        >>> from ragloom import RagConfig, build_vector_store
        >>> store = build_vector_store(
        ...     RagConfig(qdrant={"location": ":memory:", "collection": "doc_rr"}),
        ...     embeddings=DeterministicFakeEmbedding(size=8))
        >>> RagloomRetriever(store=store, k=2, search="mmr").k
        2

    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    store: QdrantVectorStore
    """The vector store searched."""
    search: Literal["similarity", "mmr", "threshold"] = "similarity"
    """Plain similarity, maximal marginal relevance, or a score threshold."""
    k: int = Field(4, ge=1)
    """Documents returned (at most; fewer when the store holds fewer)."""
    fetch_k: int = Field(20, ge=1)
    """MMR: candidates considered before re-ranking."""
    lambda_mult: float = Field(0.5, ge=0.0, le=1.0)
    """MMR: 1 favours relevance, 0 favours diversity."""
    score_threshold: float | None = None
    """The lowest score kept (`threshold` search; also honoured by the others if set)."""
    filter: dict[str, Any] | None = None
    """Filter applied to every query; see `to_qdrant_filter`."""

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun, **kwargs: Any
    ) -> list[Document]:
        k = int(kwargs.pop("k", self.k))
        query_filter = _merge(
            to_qdrant_filter(self.filter), to_qdrant_filter(kwargs.pop("filter", None))
        )
        threshold = kwargs.pop("score_threshold", self.score_threshold)
        if self.search == "threshold" and threshold is None:
            raise ConfigError("threshold search needs retrieval.score_threshold to be set")
        if self.search == "mmr":
            vector = self.store.embeddings.embed_query(query)  # type: ignore[union-attr]
            # langchain-qdrant hands lambda_mult to Qdrant's Mmr.diversity, whose scale
            # runs the other way (1 = most diverse); flip it to keep LangChain's meaning.
            pairs = self.store.max_marginal_relevance_search_with_score_by_vector(
                vector,
                k=k,
                fetch_k=max(int(kwargs.pop("fetch_k", self.fetch_k)), k),
                lambda_mult=1.0 - float(kwargs.pop("lambda_mult", self.lambda_mult)),
                filter=query_filter,
                score_threshold=threshold,
                **kwargs,
            )
        else:
            pairs = self.store.similarity_search_with_score(
                query, k=k, filter=query_filter, score_threshold=threshold, **kwargs
            )
        documents = []
        for doc, score in pairs[:k]:
            doc.metadata["score"] = score
            documents.append(doc)
        return documents


def build_retriever(
    cfg: RagConfig | None = None,
    store: QdrantVectorStore | None = None,
    *,
    embeddings: Embeddings | None = None,
) -> RagloomRetriever:
    """Build the retriever described by `cfg.retrieval` over the configured store.

    Args:
        cfg: Configuration; default `load_config()`.
        store: A ready vector store; default `build_vector_store(cfg, embeddings=...)`.
        embeddings: Embeddings for the store when `store` is not given.

    Returns:
        A LangChain `BaseRetriever`.

    Raises:
        ConfigError: MMR asked for with sparse or hybrid retrieval.

    Example:
        >>> from langchain_core.embeddings import DeterministicFakeEmbedding
        >>> cfg = RagConfig(qdrant={"location": ":memory:", "collection": "doc_br"},
        ...                 retrieval={"search": "mmr", "k": 3})
        >>> build_retriever(cfg, embeddings=DeterministicFakeEmbedding(size=8)).search
        'mmr'

    """
    cfg = cfg if cfg is not None else load_config()
    settings = cfg.retrieval
    if settings.search == "mmr" and settings.mode != "dense":
        raise ConfigError(
            f"retrieval.search=mmr needs retrieval.mode=dense (got {settings.mode!r}):"
            " MMR re-ranks dense vectors"
        )
    if store is None:
        store = build_vector_store(cfg, embeddings=embeddings)
    return RagloomRetriever(
        store=store,
        search=settings.search,
        k=settings.k,
        fetch_k=settings.fetch_k,
        lambda_mult=settings.lambda_mult,
        score_threshold=settings.score_threshold,
        filter=settings.filter,
    )
