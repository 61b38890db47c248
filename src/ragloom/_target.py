"""The collection an ingest writes to: opened from config, or read off a vector store.

Private module of the storage layer. `open_target(cfg)` does what `build_vector_store`
does short of building the LangChain `VectorStore`: resolves the retrieval mode, opens
the client, builds the embeddings, and creates the collection or checks that it fits.
`build_vector_store` wraps its result in a `RagloomVectorStore`; `ingest` writes to it
directly, so an ingest into the Edge engine imports neither `langchain_qdrant` nor
`qdrant_client`. `Target.of_store` reads the same facts off a vector store a caller
passed (`ingest(..., store=...)`).

Example:
    >>> from langchain_core.embeddings import DeterministicFakeEmbedding
    >>> from ragloom import RagConfig
    >>> cfg = RagConfig(qdrant={"location": ":memory:", "collection": "doc_target"},
    ...                 retrieval={"mode": "dense"})
    >>> target = open_target(cfg, embeddings=DeterministicFakeEmbedding(size=8))
    >>> target.mode.value, target.client.collection_exists("doc_target")
    ('dense', True)

"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from langchain_core.embeddings import Embeddings

from ragloom._bm25 import BM25SparseEmbeddings
from ragloom._clients import _log, _talking_to, get_client
from ragloom._collection import _check_exists, _create, _mode_defaulted, _validate, retrieval_mode
from ragloom._embeddings_record import _Identity, embedding_prefixes, embeddings_identity
from ragloom._points import (
    CONTENT_KEY,
    ID_PAYLOAD_KEY,
    METADATA_KEY,
    SPARSE_VECTOR_NAME,
    VECTOR_NAME,
    RetrievalMode,
    mode_of,
)
from ragloom.config import RagConfig, load_config

__all__ = ["Target", "open_target"]


@dataclass
class Target:
    """A collection to write: its client, names, payload layout, mode and embedders."""

    client: Any
    """An `EdgeClient` or a `QdrantClient`."""
    collection_name: str
    """The collection."""
    mode: RetrievalMode
    """Which vectors the collection is searched (and written) with."""
    embeddings: Embeddings | None
    """The dense embeddings (None in sparse mode)."""
    sparse_embeddings: Any
    """The sparse embedder (None in dense mode)."""
    content_payload_key: str = CONTENT_KEY
    """Top-level payload key of the chunk text."""
    metadata_payload_key: str = METADATA_KEY
    """Top-level payload key of the chunk metadata."""
    vector_name: str = VECTOR_NAME
    """The dense vector's name."""
    sparse_vector_name: str = SPARSE_VECTOR_NAME
    """The sparse vector's name."""
    id_key: str | None = ID_PAYLOAD_KEY
    """Top-level payload key of the document id (None: not written)."""
    pending_check: Callable[[], None] | None = None
    """Set when opened for a read of a collection not there yet: run before a search."""

    @classmethod
    def of_store(cls, store: Any) -> Target:
        """The target a `QdrantVectorStore` (or `RagloomVectorStore`) writes to.

        Example:
            >>> from langchain_core.embeddings import DeterministicFakeEmbedding
            >>> from ragloom import RagConfig
            >>> from ragloom.store import build_vector_store
            >>> store = build_vector_store(RagConfig(qdrant={"location": ":memory:",
            ...     "collection": "doc_of_store"}), embeddings=DeterministicFakeEmbedding(size=8))
            >>> Target.of_store(store).id_key
            'doc_id'

        """
        mode = mode_of(store.retrieval_mode)
        return cls(
            client=store.client, collection_name=store.collection_name, mode=mode,
            embeddings=store.embeddings if mode is not RetrievalMode.SPARSE else None,
            sparse_embeddings=(store.sparse_embeddings if mode is not RetrievalMode.DENSE
                               else None),
            content_payload_key=store.content_payload_key,
            metadata_payload_key=store.metadata_payload_key,
            vector_name=store.vector_name, sparse_vector_name=store.sparse_vector_name,
            id_key=getattr(store, "ID_PAYLOAD_KEY", None))


def open_target(
    cfg: RagConfig | None = None,
    *,
    embeddings: Embeddings | None = None,
    client: Any = None,
    sparse_embeddings: Any = None,
    recreate: bool = False,
    create: bool = True,
) -> Target:
    """The collection of `cfg.qdrant`, created if needed or checked to fit.

    Takes `build_vector_store`'s arguments, with its defaults and errors (see there).

    Example:
        >>> from langchain_core.embeddings import DeterministicFakeEmbedding
        >>> from ragloom import RagConfig
        >>> cfg = RagConfig(qdrant={"location": ":memory:", "collection": "doc_open"})
        >>> open_target(cfg, embeddings=DeterministicFakeEmbedding(size=8)).mode.value
        'hybrid'

    """
    cfg = cfg if cfg is not None else load_config()
    mode = mode_of(retrieval_mode(cfg))
    client = client if client is not None else get_client(cfg.qdrant)
    name = cfg.qdrant.collection
    with _talking_to(cfg.qdrant):
        if recreate and client.collection_exists(name):
            client.delete_collection(name)
        exists = client.collection_exists(name)
        if exists and mode is RetrievalMode.HYBRID and _mode_defaulted(cfg) and not (
                client.get_collection(name).config.params.sparse_vectors):
            # Built in dense mode (the default before hybrid): keep using it that way.
            _log.info("collection %r has no sparse vectors (built for dense retrieval):"
                      " retrieving dense. For hybrid, ingest into a new collection.", name)
            mode = RetrievalMode.DENSE
    identity: str | None
    if mode is RetrievalMode.SPARSE:
        identity = embeddings_identity(embeddings) if embeddings is not None else None
    elif embeddings is None:
        # Imported here: the providers pull in langchain-ollama/-openai, which a caller
        # passing its own embeddings never needs.
        from ragloom.providers import build_embeddings

        embeddings = build_embeddings(cfg)
        identity = embeddings_identity(embeddings, cfg)
    else:
        identity = embeddings_identity(embeddings)
    if mode is not RetrievalMode.SPARSE and identity is not None:
        # What the dense vectors are made of besides the model: its task instructions.
        identity = _Identity(identity, embedding_prefixes(embeddings))
    if mode is not RetrievalMode.DENSE and sparse_embeddings is None:
        sparse_embeddings = BM25SparseEmbeddings()
    with _talking_to(cfg.qdrant):
        if exists:
            _validate(client, cfg, mode, embeddings, identity)
        elif create:
            _create(client, cfg, mode, embeddings, identity)
    target = Target(client=client, collection_name=name, mode=mode, embeddings=embeddings,
                    sparse_embeddings=sparse_embeddings)
    if not exists and not create:
        # A read: nothing is created. The check runs again at the first search, so
        # an app may build its chain before the first ingest.
        target.pending_check = lambda: _check_exists(client, cfg, mode, embeddings, identity)
    return target
