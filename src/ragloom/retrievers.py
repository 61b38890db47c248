"""Retrievers over the Qdrant store: dense, sparse or hybrid; similarity, MMR or threshold.

`k` is honoured exactly, per retriever and per call (`retriever.invoke(q, k=2)`),
filters come from config or per call (`filter={"source": "a.md"}`), and every
returned document carries its relevance in `metadata["score"]` (cosine similarity
for dense, the BM25 score for sparse, the RRF score for hybrid) and, where dense vectors
are searched, `metadata["relevance"]`: the cosine similarity of the chunk's dense vector
to the question's, on the same scale in dense and hybrid mode (what `answer.min_relevance`
compares). Hybrid search asks
Qdrant for `fetch_k` dense and `fetch_k` sparse candidates and fuses them with
Qdrant's reciprocal rank fusion. With `retrieval.multi_query`, the chat model writes
variants of the question, each is retrieved, and the lists are fused (RRF again).

Example:
    >>> from ragloom import RagConfig, build_retriever, build_vector_store
    >>> from langchain_core.embeddings import DeterministicFakeEmbedding
    >>> cfg = RagConfig(qdrant={"location": ":memory:", "collection": "doc_retr"})
    >>> store = build_vector_store(cfg, embeddings=DeterministicFakeEmbedding(size=8))
    >>> retriever = build_retriever(cfg, store)
    >>> retriever.k
    4

"""

from __future__ import annotations

import asyncio
import re
from typing import Any, Literal

from langchain_core.callbacks import (
    AsyncCallbackManagerForRetrieverRun,
    CallbackManagerForRetrieverRun,
)
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.language_models import BaseLanguageModel
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import BasePromptTemplate, ChatPromptTemplate
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables import Runnable, RunnableConfig
from langchain_qdrant import RetrievalMode
from pydantic import ConfigDict, Field
from qdrant_client import models

from ragloom._access import User, access_filter
from ragloom._data_settings import _check_exact_filter
from ragloom._identity import resolve_user
from ragloom.config import RagConfig, load_config
from ragloom.errors import ConfigError, InvalidInput
from ragloom.redaction import redacting
from ragloom.store import RagloomVectorStore, build_vector_store, retrieval_mode

__all__ = [
    "DEFAULT_MULTI_QUERY_TEMPLATE",
    "MultiQueryRetriever",
    "RagloomRetriever",
    "build_retriever",
    "reciprocal_rank_fusion",
    "to_qdrant_filter",
]

DEFAULT_MULTI_QUERY_TEMPLATE = (
    "You help a search engine. Write {n} different rewordings of the question below,"
    " using other words and synonyms while keeping its meaning. Reply with one rewording"
    " per line and nothing else.\n\nQuestion: {question}"
)
"""Prompt asking the chat model for `{n}` variants of `{question}` (multi-query)."""

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
    try:
        _check_exact_filter(spec)
    except ValueError as exc:
        raise InvalidInput(f"filter {exc}") from None
    conditions: list[models.Condition] = []
    for key, value in spec.items():
        if value is None:  # MatchValue(value=None) would fail deep inside pydantic
            raise InvalidInput(
                f"filter value of {key!r} is null: an exact match needs a value. To keep"
                f" documents without {key!r}, write a full Qdrant filter:"
                f" {{'must': [{{'is_empty': {{'key': 'metadata.{key}'}}}}]}}"
            )
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

    The store's `retrieval_mode` decides what is searched: dense vectors, sparse
    BM25 vectors, or both fused by Qdrant's RRF (`fetch_k` candidates from each).

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

    store: RagloomVectorStore
    """The vector store searched (what `build_vector_store` returns)."""
    search: Literal["similarity", "mmr", "threshold"] = "similarity"
    """Plain similarity, maximal marginal relevance, or a score threshold."""
    k: int = Field(4, ge=1)
    """Documents returned (at most; fewer when the store holds fewer)."""
    fetch_k: int = Field(20, ge=1)
    """MMR: candidates re-ranked; hybrid: candidates taken from each of dense and sparse."""
    lambda_mult: float = Field(0.5, ge=0.0, le=1.0)
    """MMR: 1 favours relevance, 0 favours diversity."""
    score_threshold: float | None = None
    """The lowest score kept (`threshold` search; also honoured by the others if set)."""
    filter: dict[str, Any] | None = None
    """Filter applied to every query; see `to_qdrant_filter`."""
    user: User | None = None
    """The user every query is made for (see docs/multi-user.md); else per call."""
    require_user: bool = False
    """Refuse a call that names no user (`IdentityRequired`)."""

    def invoke(self, input: str, config: RunnableConfig | None = None,
               **kwargs: Any) -> list[Document]:
        """Retrieve for `input`, for the user in `config` (see `_identity`)."""
        kwargs["user"] = resolve_user(config, self.user, require=self.require_user,
                                      given=kwargs.get("user"))
        return super().invoke(input, config, **kwargs)

    async def ainvoke(self, input: str, config: RunnableConfig | None = None,
                      **kwargs: Any) -> list[Document]:
        """Async `invoke`."""
        kwargs["user"] = resolve_user(config, self.user, require=self.require_user,
                                      given=kwargs.get("user"))
        return await super().ainvoke(input, config, **kwargs)

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun, **kwargs: Any
    ) -> list[Document]:
        return _scored(self.store.retrieve_with_scores(query, **self._search_args(kwargs)))

    async def _aget_relevant_documents(
        self, query: str, *, run_manager: AsyncCallbackManagerForRetrieverRun, **kwargs: Any
    ) -> list[Document]:
        # Native async: no executor thread per call (see RagloomVectorStore.aretrieve_with_scores).
        return _scored(await self.store.aretrieve_with_scores(query, **self._search_args(kwargs)))

    def _search_args(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        k = int(kwargs.pop("k", self.k))
        if k < 1:
            raise ConfigError(f"k must be at least 1 (got {k})")
        fetch_k = max(int(kwargs.pop("fetch_k", self.fetch_k)), k)
        # The access rule is ANDed with every other filter: they can only narrow it.
        user = resolve_user(None, self.user, require=self.require_user,
                            given=kwargs.pop("user", None))
        query_filter = _merge(
            to_qdrant_filter(self.filter), to_qdrant_filter(kwargs.pop("filter", None)),
            access_filter(user, self.store.metadata_payload_key) if user else None,
        )
        threshold = kwargs.pop("score_threshold", self.score_threshold)
        lambda_mult = float(kwargs.pop("lambda_mult", self.lambda_mult))
        if kwargs:
            raise ConfigError(f"unknown retriever arguments: {', '.join(sorted(kwargs))}"
                              " (known: k, fetch_k, filter, score_threshold, lambda_mult, user)")
        mode = RetrievalMode(self.store.retrieval_mode)
        if self.search == "threshold" and threshold is None:
            raise ConfigError(
                "threshold search needs a score threshold: set retrieval.score_threshold"
                " (e.g. RAGLOOM_RETRIEVAL__SCORE_THRESHOLD=0.5) or pass score_threshold="
            )
        if threshold is not None and mode is RetrievalMode.HYBRID:
            raise ConfigError(
                "a score threshold cannot apply to hybrid retrieval: its scores are RRF"
                " ranks, not similarities. Use retrieval.mode=dense or sparse for"
                " threshold search, or unset retrieval.score_threshold"
            )
        mmr_lambda = None
        if self.search == "mmr":
            if mode is not RetrievalMode.DENSE:
                raise ConfigError(_MMR_NEEDS_DENSE.format(mode=mode.value))
            mmr_lambda = lambda_mult
        return {"k": k, "fetch_k": fetch_k, "filter": query_filter,
                "score_threshold": threshold, "mmr_lambda": mmr_lambda}


def _scored(pairs: list[tuple[Document, float]]) -> list[Document]:
    documents = []
    for doc, score in pairs:
        doc.metadata["score"] = score
        documents.append(doc)
    return documents


_MMR_NEEDS_DENSE = (
    "retrieval.search=mmr needs retrieval.mode=dense (got {mode!r}): MMR re-ranks dense"
    " vectors. Set retrieval.mode=dense, or use search=similarity with sparse or hybrid"
)
_RRF_K = 60


def reciprocal_rank_fusion(
    rankings: list[list[Document]], *, k: int | None = None, constant: int = _RRF_K
) -> list[Document]:
    """Fuse ranked lists: each document scores the sum of `1 / (constant + rank)`.

    Documents are the same when their `id` is (else source and text are). The fused
    score replaces `metadata["score"]` in the returned copies; best first.

    Example:
        >>> a, b, c = (Document(t, id=t) for t in "abc")
        >>> [d.id for d in reciprocal_rank_fusion([[a, b], [b, c]])]
        ['b', 'a', 'c']

    """
    scores: dict[Any, float] = {}
    first: dict[Any, Document] = {}
    for ranking in rankings:
        for rank, doc in enumerate(ranking, start=1):
            key = doc.id or (doc.metadata.get("source"), doc.page_content)
            first.setdefault(key, doc)
            scores[key] = scores.get(key, 0.0) + 1.0 / (constant + rank)
    order = sorted(scores, key=lambda key: scores[key], reverse=True)[:k]
    fused = []
    for key in order:
        doc = first[key].model_copy(deep=True)
        doc.metadata["score"] = scores[key]
        fused.append(doc)
    return fused


_NUMBERING = re.compile(r"^\s*(?:[-*\u2022]|\d+[.)]|\(\d+\))\s*")


class MultiQueryRetriever(BaseRetriever):
    """Retrieve for the question and for chat-model rewordings of it, fused by RRF.

    LangChain's own `MultiQueryRetriever` lives in `langchain-classic`, which ragloom
    does not depend on; this is the same idea as one LCEL step (prompt, chat model,
    one variant per line) plus reciprocal rank fusion instead of a plain union, so
    `k` stays exact. Per-call arguments (`k`, `filter`, ...) reach every search.

    Example:
        >>> from langchain_core.embeddings import DeterministicFakeEmbedding
        >>> from langchain_core.language_models import FakeListChatModel
        >>> from ragloom import RagConfig, build_vector_store
        >>> store = build_vector_store(
        ...     RagConfig(qdrant={"location": ":memory:", "collection": "doc_mq"}),
        ...     embeddings=DeterministicFakeEmbedding(size=8))
        >>> _ = store.add_texts(["cats purr", "dogs bark"], ids=["c", "d"])
        >>> mq = MultiQueryRetriever(retriever=RagloomRetriever(store=store, k=2),
        ...                          llm=FakeListChatModel(responses=["1. felines"]), k=1)
        >>> len(mq.invoke("cats?"))
        1

    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    retriever: BaseRetriever
    """The retriever run once per query (the question and each variant)."""
    llm: Runnable[Any, Any]
    """The chat model (or any Runnable from a prompt to text) that writes the variants."""
    k: int = Field(4, ge=1)
    """Documents returned after fusion."""
    n_queries: int = Field(3, ge=1)
    """Variants asked of the chat model (the original question is always searched too)."""
    prompt: BasePromptTemplate[Any] = Field(
        default_factory=lambda: ChatPromptTemplate.from_template(DEFAULT_MULTI_QUERY_TEMPLATE)
    )
    """Prompt with `{question}` and `{n}`; the reply holds one variant per line."""

    def generate_queries(self, question: str, config: Any = None) -> list[str]:
        r"""The question followed by up to `n_queries` distinct variants of it.

        Example:
            >>> from langchain_core.language_models import FakeListChatModel
            >>> mq = MultiQueryRetriever.model_construct(
            ...     llm=FakeListChatModel(responses=["1. Felines?\n2. cats?\n- Kittens"]),
            ...     n_queries=3, prompt=ChatPromptTemplate.from_template("{n} {question}"))
            >>> mq.generate_queries("cats?")
            ['cats?', 'Felines?', 'Kittens']

        """
        chain = (self.prompt | self.llm | StrOutputParser()).with_config(
            run_name="multi_query_variants"
        )
        reply = chain.invoke({"question": question, "n": self.n_queries}, config)
        return _variants(question, reply, self.n_queries)

    def invoke(self, input: str, config: RunnableConfig | None = None,
               **kwargs: Any) -> list[Document]:
        """Retrieve for `input`, for the user in `config` (passed to every search)."""
        kwargs["user"] = resolve_user(config, given=kwargs.get("user"))
        return super().invoke(input, config, **kwargs)

    async def ainvoke(self, input: str, config: RunnableConfig | None = None,
                      **kwargs: Any) -> list[Document]:
        """Async `invoke`."""
        kwargs["user"] = resolve_user(config, given=kwargs.get("user"))
        return await super().ainvoke(input, config, **kwargs)

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun, **kwargs: Any
    ) -> list[Document]:
        k = int(kwargs.pop("k", self.k))
        if kwargs.get("user") is None:
            kwargs.pop("user", None)
        config = {"callbacks": run_manager.get_child()}
        queries = self.generate_queries(query, config)
        rankings = [
            self.retriever.invoke(q, config, k=k, **kwargs)  # type: ignore[arg-type]
            for q in queries
        ]
        return reciprocal_rank_fusion(rankings, k=k)

    async def _aget_relevant_documents(
        self, query: str, *, run_manager: AsyncCallbackManagerForRetrieverRun, **kwargs: Any
    ) -> list[Document]:
        k = int(kwargs.pop("k", self.k))
        if kwargs.get("user") is None:
            kwargs.pop("user", None)
        config: RunnableConfig = {"callbacks": run_manager.get_child()}
        chain = (self.prompt | self.llm | StrOutputParser()).with_config(
            run_name="multi_query_variants"
        )
        reply = await chain.ainvoke({"question": query, "n": self.n_queries}, config)
        queries = _variants(query, reply, self.n_queries)
        rankings = await asyncio.gather(*(
            self.retriever.ainvoke(q, config, k=k, **kwargs)
            for q in queries
        ))
        return reciprocal_rank_fusion(list(rankings), k=k)


def _variants(question: str, reply: str, limit: int) -> list[str]:
    seen = {question.strip().casefold()}
    queries = [question]
    for line in reply.splitlines():
        text = _NUMBERING.sub("", line).strip().strip('"').strip()
        if text and text.casefold() not in seen and len(queries) <= limit:
            seen.add(text.casefold())
            queries.append(text)
    return queries


def build_retriever(
    cfg: RagConfig | None = None,
    store: RagloomVectorStore | None = None,
    *,
    embeddings: Embeddings | None = None,
    llm: BaseLanguageModel[Any] | None = None,
    user: User | dict[str, Any] | None = None,
    require_user: bool = False,
) -> RagloomRetriever | MultiQueryRetriever:
    """Build the retriever described by `cfg.retrieval` over the configured store.

    Args:
        cfg: Configuration; default `load_config()`.
        store: A ready vector store; default `build_vector_store(cfg, embeddings=...)`.
        embeddings: Embeddings for the store when `store` is not given.
        llm: Chat model for `retrieval.multi_query`; default `build_chat_model(cfg)`;
            wrapped in `ragloom.redaction.RedactingChatModel` as `guards.redact` says.
        user: The user every query is made for (`{"tenant": ..., "groups": [...]}`);
            default: the call's `config["configurable"]["ragloom_user"]`, if any.
        require_user: Refuse calls without a user (`IdentityRequired`).

    Returns:
        A LangChain `BaseRetriever`: a `RagloomRetriever`, wrapped in a
        `MultiQueryRetriever` when `retrieval.multi_query` is set.

    Raises:
        ConfigError: MMR asked for with sparse or hybrid retrieval, or a score
            threshold with hybrid retrieval.
        CollectionNotFound: At the first search, when the collection still does not
            exist (nothing ingested yet); a read never creates it.

    Example:
        >>> from langchain_core.embeddings import DeterministicFakeEmbedding
        >>> cfg = RagConfig(qdrant={"location": ":memory:", "collection": "doc_br"},
        ...                 retrieval={"search": "mmr", "k": 3})
        >>> store = build_vector_store(cfg, embeddings=DeterministicFakeEmbedding(size=8))
        >>> build_retriever(cfg, store).search
        'mmr'

    """
    cfg = cfg if cfg is not None else load_config()
    settings = cfg.retrieval
    mode = retrieval_mode(cfg)
    if settings.search == "mmr" and mode != "dense":
        raise ConfigError(_MMR_NEEDS_DENSE.format(mode=mode))
    if mode == "hybrid" and (
        settings.search == "threshold" or settings.score_threshold is not None
    ):
        raise ConfigError(
            "retrieval.mode=hybrid cannot use a score threshold: hybrid scores are RRF"
            " ranks, not similarities. Use search=similarity, or mode=dense or sparse"
        )
    if store is None:
        # A read never creates the collection: a typo in its name is an error.
        store = build_vector_store(cfg, embeddings=embeddings, create=False)
    retriever = RagloomRetriever(
        store=store,
        search=settings.search,
        k=settings.k,
        fetch_k=settings.fetch_k,
        lambda_mult=settings.lambda_mult,
        score_threshold=settings.score_threshold,
        filter=settings.filter,
        user=User.parse(user, where="user") if user is not None else None,
        require_user=require_user,
    )
    if not settings.multi_query:
        return retriever
    if llm is None:
        # Imported here: only multi-query needs a chat model to retrieve.
        from ragloom.providers import build_chat_model

        llm = build_chat_model(cfg)
    # The rewording request carries the question: redacted like every other model call.
    return MultiQueryRetriever(retriever=retriever, llm=redacting(
        llm, cfg.guards.redact, cfg.guards.phone_region), k=settings.k)
