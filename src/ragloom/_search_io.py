"""The I/O of one store search, blocking or awaited: the operations `_retrieving` yields.

`RagloomVectorStore._retrieving` decides everything (which vectors, which requests, how
the results are ranked and fused) and yields only `("embed_query", embeddings, query)`,
`("query_points", requests)` and `("retrieve", request)` (a hybrid search's winners);
`drive` runs them with `SyncSearch`, `adrive` with `AsyncSearch` (see
`ragloom.providers._drive`). These classes decide nothing.

Example:
    >>> from langchain_core.embeddings import DeterministicFakeEmbedding
    >>> len(SyncSearch(client=None).embed_query(DeterministicFakeEmbedding(size=4), "q"))
    4

"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from langchain_core.embeddings import Embeddings

__all__ = ["AsyncSearch", "SyncSearch"]


class SyncSearch:
    """Blocking: the embeddings' `embed_query`, the Qdrant client's `query_points`."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def embed_query(self, embeddings: Embeddings, query: str) -> list[float]:
        """The query's dense vector."""
        return embeddings.embed_query(query)

    def query_points(self, requests: list[dict[str, Any]]) -> list[list[Any]]:
        """The points each request finds, one request after another."""
        return [self.client.query_points(**r).points for r in requests]

    def retrieve(self, request: dict[str, Any]) -> list[Any]:
        """The records of these ids."""
        return list(self.client.retrieve(**request))


class AsyncSearch:
    """Awaited: `aembed_query`, then the async client for a server, or inline when embedded.

    An embedded engine runs in this process, and fast: no thread per call either way.
    """

    def __init__(self, client: Any, async_client: Callable[[], Any]) -> None:
        self.client = client
        self.async_client = async_client

    async def embed_query(self, embeddings: Embeddings, query: str) -> list[float]:
        """The query's dense vector."""
        return await embeddings.aembed_query(query)

    async def query_points(self, requests: list[dict[str, Any]]) -> list[list[Any]]:
        """The points each request finds, one request after another."""
        client = self.async_client()
        if client is None:
            return SyncSearch(self.client).query_points(requests)
        return [(await client.query_points(**r)).points for r in requests]

    async def retrieve(self, request: dict[str, Any]) -> list[Any]:
        """The records of these ids."""
        client = self.async_client()
        if client is None:
            return SyncSearch(self.client).retrieve(request)
        return list(await client.retrieve(**request))
