"""Embeddings with task instructions: a query prefix and a document prefix.

`build_embeddings` wraps the provider's embeddings in `InstructedEmbeddings` when
`embeddings.query_prefix` / `document_prefix` (resolved from ragloom's table of known
models for `auto`) are not empty. Only the dense embeddings see the prefixes: BM25 gets
the text as written, and the chunks stored in Qdrant keep their own text.

Example:
    >>> from langchain_core.embeddings import DeterministicFakeEmbedding
    >>> inner = DeterministicFakeEmbedding(size=4)
    >>> emb = InstructedEmbeddings(inner, query_prefix="search_query: ",
    ...                            document_prefix="search_document: ")
    >>> emb.embed_query("cats") == inner.embed_query("search_query: cats")
    True
    >>> emb.size                                    # the wrapped model's attributes show
    4

"""

from __future__ import annotations

from typing import Any

from langchain_core.embeddings import Embeddings

__all__ = ["InstructedEmbeddings"]


class InstructedEmbeddings(Embeddings):
    """Prefix questions and documents before the wrapped embeddings model sees them."""

    def __init__(self, inner: Embeddings, *, query_prefix: str = "",
                 document_prefix: str = "") -> None:
        self.inner = inner
        self.query_prefix = query_prefix
        self.document_prefix = document_prefix

    def __getattr__(self, name: str) -> Any:
        # Only called for attributes this object lacks: `model`, `dimensions`, clients...
        if name == "inner":
            raise AttributeError(name)
        return getattr(self.inner, name)

    def __repr__(self) -> str:
        return (f"InstructedEmbeddings({self.inner!r}, query_prefix={self.query_prefix!r}, "
                f"document_prefix={self.document_prefix!r})")

    def _documents(self, texts: list[str]) -> list[str]:
        return [self.document_prefix + t for t in texts]

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed chunks, each with the document prefix in front."""
        return self.inner.embed_documents(self._documents(texts))

    def embed_query(self, text: str) -> list[float]:
        """Embed a question with the query prefix in front."""
        return self.inner.embed_query(self.query_prefix + text)

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        """Async `embed_documents`."""
        return await self.inner.aembed_documents(self._documents(texts))

    async def aembed_query(self, text: str) -> list[float]:
        """Async `embed_query`."""
        return await self.inner.aembed_query(self.query_prefix + text)


def prefixes_of(embeddings: Embeddings) -> tuple[str, str]:
    """The (query, document) prefixes an embeddings object adds; ("", "") for plain ones.

    Example:
        >>> from langchain_core.embeddings import DeterministicFakeEmbedding
        >>> prefixes_of(DeterministicFakeEmbedding(size=4))
        ('', '')

    """
    if isinstance(embeddings, InstructedEmbeddings):
        return embeddings.query_prefix, embeddings.document_prefix
    return "", ""
