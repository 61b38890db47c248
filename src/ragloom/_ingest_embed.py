"""The embedding stage of an ingestion run: texts in, dense and sparse vectors out.

The only place where `ingest` and `aingest` differ is how one embedding request is sent:
`aingest` awaits the model's `aembed_documents`, `ingest` calls its sync
`embed_documents` from a thread pool (an async HTTP client is bound to the event loop it
first ran on, and each `ingest` call runs a loop of its own). Both go through
`EmbedStage.vectors`, which holds every decision: a request slot per request, no request
after one failed (the slot it frees must not send a batch that would never be stored),
the vector count checked, the sparse vectors added.

Example:
    >>> import asyncio
    >>> from langchain_core.embeddings import DeterministicFakeEmbedding
    >>> stage = EmbedStage(DeterministicFakeEmbedding(size=2), None, slots=1,
    ...                    dense_name="", sparse_name="sparse")
    >>> vectors = asyncio.run(stage.vectors(["a", "b"]))
    >>> [len(v[""]) for v in vectors]
    [2, 2]

"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from langchain_core.embeddings import Embeddings

from ragloom._bm25 import BM25SparseEmbeddings
from ragloom._points import SparseVector
from ragloom.errors import IngestError

__all__ = ["EmbedStage"]


class EmbedStage:
    """Embeds batches with at most `slots` requests in flight; threaded when given a pool."""

    def __init__(self, embeddings: Embeddings | None, sparse: Any, *, slots: int,
                 dense_name: str, sparse_name: str,
                 pool: ThreadPoolExecutor | None = None) -> None:
        self.embeddings, self.sparse = embeddings, sparse
        self.dense_name, self.sparse_name = dense_name, sparse_name
        self.semaphore = asyncio.Semaphore(slots)
        self.pool = pool
        self.stopping = False  # an embedding request failed: send no more

    async def _send(self, texts: list[str]) -> list[list[float]]:
        """One embedding request: the one step the sync and the async path do differently."""
        assert self.embeddings is not None
        if self.pool is None:
            return await self.embeddings.aembed_documents(texts)
        return await asyncio.get_running_loop().run_in_executor(
            self.pool, self.embeddings.embed_documents, texts)

    async def vectors(self, texts: list[str]) -> list[dict[str, Any]]:
        """The named vectors of `texts`, in order."""
        vectors: list[dict[str, Any]] = [{} for _ in texts]
        if self.embeddings is not None:
            async with self.semaphore:
                if self.stopping:
                    # A request failed and the run is ending: the slot it freed must not
                    # send another batch, whose vectors would never be stored.
                    raise asyncio.CancelledError
                try:
                    dense = await self._send(texts)
                except BaseException:
                    self.stopping = True  # set before the slot is released
                    raise
            # The slot is free: let the next request go out before the CPU work below
            # (which holds the loop, and the GIL, for milliseconds).
            await asyncio.sleep(0)
            if len(dense) != len(texts):
                raise IngestError(f"the embeddings model returned {len(dense)} vectors for"
                                  f" {len(texts)} texts")
            for vector, values in zip(vectors, dense, strict=True):
                vector[self.dense_name] = values
        if self.sparse is not None:
            if isinstance(self.sparse, BM25SparseEmbeddings):
                # Pure Python under the GIL: a thread would only add the hop.
                sparse = self.sparse.embed_documents(texts)
            else:  # a model (fastembed's ONNX) may run outside the GIL: off the loop
                sparse = await self.sparse.aembed_documents(texts)
            for vector, terms in zip(vectors, sparse, strict=True):
                vector[self.sparse_name] = SparseVector(indices=terms.indices,
                                                        values=terms.values)
        return vectors
