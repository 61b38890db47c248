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

from collections.abc import Mapping
from typing import Any, Literal

from langchain_core.callbacks import (
    AsyncCallbackManagerForRetrieverRun,
    CallbackManagerForRetrieverRun,
)
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.language_models import BaseLanguageModel
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables import RunnableConfig
from langchain_qdrant import RetrievalMode
from pydantic import ConfigDict, Field, model_validator
from qdrant_client import models

from ragloom._access import User, access_filter
from ragloom._data_settings import _check_exact_filter
from ragloom._identity import resolve_user
from ragloom._multi_query import (
    DEFAULT_MULTI_QUERY_TEMPLATE,
    MultiQueryRetriever,
    reciprocal_rank_fusion,
)
from ragloom.config import RagConfig, RetrievalSettings, load_config
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


_KEYWORDS = ("search", "k", "fetch_k", "lambda_mult", "score_threshold", "filter")
"""The `RetrievalSettings` fields the retriever reads, also accepted as keywords."""


class RagloomRetriever(BaseRetriever):
    """A retriever over a `QdrantVectorStore` with exact `k`, filters and scores.

    The store's `retrieval_mode` decides what is searched: dense vectors, sparse
    BM25 vectors, or both fused by Qdrant's RRF (`fetch_k` candidates from each).
    How to search is a `RetrievalSettings` (`cfg.retrieval`); its fields are also
    accepted as keywords (`k=2`, `search="mmr"`, ...), over `settings` when both are
    given, and read back as attributes (`retriever.k`).

    Example:
        >>> from langchain_core.embeddings import DeterministicFakeEmbedding
        >>> from ragloom import RagConfig, build_vector_store
        >>> cfg = RagConfig(qdrant={"location": ":memory:", "collection": "doc_rr"})
        >>> store = build_vector_store(cfg, embeddings=DeterministicFakeEmbedding(size=8))
        >>> RagloomRetriever(store=store, k=2, search="mmr").k
        2
        >>> RagloomRetriever(store=store, settings=cfg.retrieval).fetch_k
        20

    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    store: RagloomVectorStore
    """The vector store searched (what `build_vector_store` returns)."""
    settings: RetrievalSettings = Field(default_factory=RetrievalSettings)
    """How to search (`search`, `k`, `fetch_k`, `lambda_mult`, `score_threshold`,
    `filter`); `mode` is the store's, `multi_query` is `build_retriever`'s to apply."""
    user: User | None = None
    """The user every query is made for (see docs/multi-user.md); else per call."""
    require_user: bool = False
    """Refuse a call that names no user (`IdentityRequired`)."""

    @model_validator(mode="before")
    @classmethod
    def _settings_from_keywords(cls, data: Any) -> Any:
        """Fold the keywords of the settings' fields into `settings` (they win)."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        given = {name: data.pop(name) for name in _KEYWORDS if name in data}
        base = data.get("settings")
        if isinstance(base, RetrievalSettings):  # a copy: a later change to cfg does not leak in
            base = base.model_dump()
        if base is not None or given:
            data["settings"] = {**(base or {}), **given}
        return data

    def _updated(self, given: dict[str, Any]) -> RetrievalSettings:
        return RetrievalSettings.model_validate({**self.settings.model_dump(), **given})

    def model_copy(self, *, update: Mapping[str, Any] | None = None,
                   deep: bool = False) -> RagloomRetriever:
        """A copy; `update` may name the settings' fields too (`{"search": "mmr"}`)."""
        update = dict(update or {})
        given = {name: update.pop(name) for name in _KEYWORDS if name in update}
        if given:
            update["settings"] = self._updated(given)
        return super().model_copy(update=update, deep=deep)

    def __setattr__(self, name: str, value: Any) -> None:
        # `retriever.k = 2` as before the settings were one field: checked, never shared.
        if name in _KEYWORDS:
            name, value = "settings", self._updated({name: value})
        super().__setattr__(name, value)

    @property
    def search(self) -> Literal["similarity", "mmr", "threshold"]:
        """`settings.search`: plain similarity, maximal marginal relevance, or a threshold."""
        return self.settings.search

    @property
    def k(self) -> int:
        """`settings.k`: documents returned (fewer when the store holds fewer)."""
        return self.settings.k

    @property
    def fetch_k(self) -> int:
        """`settings.fetch_k`: MMR candidates, or hybrid candidates from each side."""
        return self.settings.fetch_k

    @property
    def lambda_mult(self) -> float:
        """`settings.lambda_mult`: MMR, 1 favours relevance, 0 favours diversity."""
        return self.settings.lambda_mult

    @property
    def score_threshold(self) -> float | None:
        """`settings.score_threshold`: the lowest score kept."""
        return self.settings.score_threshold

    @property
    def filter(self) -> dict[str, Any] | None:
        """`settings.filter`: applied to every query; see `to_qdrant_filter`."""
        return self.settings.filter

    def invoke(self, input: str, config: RunnableConfig | None = None,
               **kwargs: Any) -> list[Document]:
        """Retrieve for `input`, for the user in `config` (see `_identity`)."""
        return super().invoke(input, config, **self._with_user(config, kwargs))

    async def ainvoke(self, input: str, config: RunnableConfig | None = None,
                      **kwargs: Any) -> list[Document]:
        """Async `invoke`."""
        return await super().ainvoke(input, config, **self._with_user(config, kwargs))

    def _with_user(self, config: RunnableConfig | None, kwargs: dict[str, Any]) -> dict[str, Any]:
        kwargs["user"] = resolve_user(config, self.user, require=self.require_user,
                                      given=kwargs.get("user"))
        return kwargs

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
        settings = self.settings
        k = int(kwargs.pop("k", settings.k))
        if k < 1:
            raise ConfigError(f"k must be at least 1 (got {k})")
        fetch_k = max(int(kwargs.pop("fetch_k", settings.fetch_k)), k)
        # The access rule is ANDed with every other filter: they can only narrow it.
        user = resolve_user(None, self.user, require=self.require_user,
                            given=kwargs.pop("user", None))
        query_filter = _merge(
            to_qdrant_filter(settings.filter), to_qdrant_filter(kwargs.pop("filter", None)),
            access_filter(user, self.store.metadata_payload_key) if user else None,
        )
        threshold = kwargs.pop("score_threshold", settings.score_threshold)
        lambda_mult = float(kwargs.pop("lambda_mult", settings.lambda_mult))
        if kwargs:
            raise ConfigError(f"unknown retriever arguments: {', '.join(sorted(kwargs))}"
                              " (known: k, fetch_k, filter, score_threshold, lambda_mult, user)")
        mode = RetrievalMode(self.store.retrieval_mode)
        if settings.search == "threshold" and threshold is None:
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
        if settings.search == "mmr":
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
        store=store, settings=settings, require_user=require_user,
        user=User.parse(user, where="user") if user is not None else None)
    if not settings.multi_query:
        return retriever
    if llm is None:
        # Imported here: only multi-query needs a chat model to retrieve.
        from ragloom.providers import build_chat_model

        llm = build_chat_model(cfg)
    # The rewording request carries the question: redacted like every other model call.
    return MultiQueryRetriever(retriever=retriever, llm=redacting(
        llm, cfg.guards.redact, cfg.guards.phone_region), k=settings.k)
