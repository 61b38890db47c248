"""Multi-query retrieval: chat-model rewordings of the question, each searched, fused by RRF.

Private module; import `MultiQueryRetriever`, `reciprocal_rank_fusion` and
`DEFAULT_MULTI_QUERY_TEMPLATE` from `ragloom.retrievers`. The sync and the async path
share one core (`MultiQueryRetriever._fused`, driven by `ragloom.providers._drive`):
only how the searches are run differs, one after another or concurrently.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from typing import Any

from langchain_core.callbacks import (
    AsyncCallbackManagerForRetrieverRun,
    CallbackManagerForRetrieverRun,
)
from langchain_core.documents import Document
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import BasePromptTemplate, ChatPromptTemplate
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables import Runnable, RunnableConfig
from pydantic import ConfigDict, Field

from ragloom._identity import resolve_user
from ragloom.providers._drive import Core, adrive, drive

__all__ = ["DEFAULT_MULTI_QUERY_TEMPLATE", "MultiQueryRetriever", "reciprocal_rank_fusion"]

DEFAULT_MULTI_QUERY_TEMPLATE = (
    "You help a search engine. Write {n} different rewordings of the question below,"
    " using other words and synonyms while keeping its meaning. Reply with one rewording"
    " per line and nothing else.\n\nQuestion: {question}"
)
"""Prompt asking the chat model for `{n}` variants of `{question}` (multi-query)."""

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
        >>> from ragloom import RagConfig, RagloomRetriever, build_vector_store
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
        return drive(self._queries(question, config), _SYNC)

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
        return drive(self._fused(query, {"callbacks": run_manager.get_child()}, kwargs), _SYNC)

    async def _aget_relevant_documents(
        self, query: str, *, run_manager: AsyncCallbackManagerForRetrieverRun, **kwargs: Any
    ) -> list[Document]:
        # The searches run concurrently here (`_AsyncIO.each`), one after another in sync.
        return await adrive(
            self._fused(query, {"callbacks": run_manager.get_child()}, kwargs), _ASYNC)

    def _queries(self, question: str, config: Any) -> Core[list[str]]:
        """The core of `generate_queries`: ask the chat model once, parse the variants."""
        chain = (self.prompt | self.llm | StrOutputParser()).with_config(
            run_name="multi_query_variants"
        )
        reply = yield ("invoke", chain, {"question": question, "n": self.n_queries}, config)
        return _variants(question, reply, self.n_queries)

    def _fused(self, query: str, config: RunnableConfig,
               kwargs: dict[str, Any]) -> Core[list[Document]]:
        """The one source of both paths: variants, a search for each, fused by RRF."""
        k = int(kwargs.pop("k", self.k))
        if kwargs.get("user") is None:
            kwargs.pop("user", None)
        queries = yield from self._queries(query, config)
        rankings = yield ("each", self.retriever, queries, config, {"k": k, **kwargs})
        return reciprocal_rank_fusion(list(rankings), k=k)


class _SyncIO:
    """Runs a core's operations blocking: `invoke` once, `each` one after another."""

    @staticmethod
    def invoke(runnable: Runnable[Any, Any], input: Any, config: Any) -> Any:
        return runnable.invoke(input, config)

    @staticmethod
    def each(runnable: Runnable[Any, Any], inputs: Sequence[Any], config: Any,
             kwargs: dict[str, Any]) -> list[Any]:
        return [runnable.invoke(item, config, **kwargs) for item in inputs]


class _AsyncIO:
    """Awaits a core's operations: `invoke` once, `each` concurrently (`asyncio.gather`)."""

    @staticmethod
    async def invoke(runnable: Runnable[Any, Any], input: Any, config: Any) -> Any:
        return await runnable.ainvoke(input, config)

    @staticmethod
    async def each(runnable: Runnable[Any, Any], inputs: Sequence[Any], config: Any,
                   kwargs: dict[str, Any]) -> list[Any]:
        return list(await asyncio.gather(*(runnable.ainvoke(item, config, **kwargs)
                                           for item in inputs)))


_SYNC, _ASYNC = _SyncIO(), _AsyncIO()


def _variants(question: str, reply: str, limit: int) -> list[str]:
    seen = {question.strip().casefold()}
    queries = [question]
    for line in reply.splitlines():
        text = _NUMBERING.sub("", line).strip().strip('"').strip()
        if text and text.casefold() not in seen and len(queries) <= limit:
            seen.add(text.casefold())
            queries.append(text)
    return queries
