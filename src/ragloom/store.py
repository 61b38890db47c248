"""The Qdrant wiring: one client per location, collections built from config and checked.

`build_vector_store(cfg)` returns a `RagloomVectorStore` (a
`langchain_qdrant.QdrantVectorStore`), creating the collection on first use:
a dense vector sized by the embeddings model and/or a sparse BM25 vector with
Qdrant's IDF modifier, per `retrieval.mode`. How the collection was built is
recorded in its metadata, so opening it again costs no embedding call; an
existing collection that does not fit (vector size, distance, missing sparse
vector) raises `CollectionMismatch` and is never dropped without `recreate=True`.

This module and its private modules are the storage layer, the only code that talks
to Qdrant: `_clients` (engine resolution, the client cache), `_collection` (creation
and validation), `_embeddings_record` (which model and prefixes made the vectors),
`_status` (for `doctor`), `_copy` (`copy_collection`), `_target` (the collection
opened for writing, which `ingest` uses without this module), `_qdrant_store`
(`RagloomVectorStore`, search) with `_ranking` and `_point_ids`, and the engines'
`_edge` (with `_edge_convert`) and `_ledger`. Engines, by `qdrant.engine`:
`edge` (Qdrant Edge shards under `<location>/edge/`: the default for a folder),
`local` (qdrant-client local mode: `:memory:`, and folders written by ragloom before
Edge), `server` (`qdrant.url`). Point ids and the payload layout are the same on all
of them, so `copy_collection` moves a collection between engines without
re-embedding. Clients are cached, one per engine and location (`:memory:` included,
so `ingest` and `build_retriever` on the same config see the same data), and
embedded ones are closed at interpreter exit. When to move to a server: see
docs/qdrant.md.

Example:
    >>> from langchain_core.embeddings import DeterministicFakeEmbedding
    >>> from ragloom import RagConfig
    >>> from ragloom.store import build_vector_store
    >>> cfg = RagConfig(qdrant={"location": ":memory:", "collection": "doc_mod"},
    ...                 retrieval={"mode": "hybrid"})
    >>> store = build_vector_store(cfg, embeddings=DeterministicFakeEmbedding(size=8))
    >>> store.add_texts(["Rotate API keys monthly."], ids=["keys.md#0"])
    ['keys.md#0']
    >>> store.similarity_search("rotating keys", k=1)[0].id
    'keys.md#0'

"""


from __future__ import annotations

from langchain_core.embeddings import Embeddings
from langchain_qdrant import RetrievalMode, SparseEmbeddings
from qdrant_client import QdrantClient, models

from ragloom._clients import (
    close_clients,
    get_async_client,
    get_client,
    resolve_engine,
)
from ragloom._clients import (
    mask_url as mask_url,  # re-exported: doctor masks the server URL with it
)
from ragloom._collection import _DISTANCES, retrieval_mode
from ragloom._copy import copy_collection
from ragloom._embeddings_record import RECORD_KEY, embedding_prefixes, embeddings_identity
from ragloom._ledger import INGEST_KEY, Ledger
from ragloom._point_ids import point_id
from ragloom._qdrant_store import RagloomVectorStore
from ragloom._status import CollectionStatus, collection_status
from ragloom._target import open_target
from ragloom.config import RagConfig, load_config

__all__ = [
    "INGEST_KEY",
    "RECORD_KEY",
    "CollectionStatus",
    "Ledger",
    "RagloomVectorStore",
    "build_vector_store",
    "close_clients",
    "collection_status",
    "copy_collection",
    "embedding_prefixes",
    "embeddings_identity",
    "get_async_client",
    "get_client",
    "point_id",
    "resolve_engine",
    "retrieval_mode",
]


def build_vector_store(
    cfg: RagConfig | None = None,
    *,
    embeddings: Embeddings | None = None,
    client: QdrantClient | None = None,
    sparse_embeddings: SparseEmbeddings | None = None,
    recreate: bool = False,
    create: bool = True,
) -> RagloomVectorStore:
    """The vector store described by `cfg.qdrant` and `cfg.retrieval.mode`.

    Creates the collection if needed (dense and/or sparse vectors, with
    `shard_number`, `replication_factor`, `on_disk` and `quantization` from the
    config), else checks that it fits.

    Args:
        cfg: Configuration; default `load_config()`.
        embeddings: Dense embeddings; default `ragloom.providers.build_embeddings(cfg)`
            (not built in `sparse` mode).
        client: A Qdrant client; default the cached one for `cfg.qdrant`.
        sparse_embeddings: For `sparse`/`hybrid` mode; default `BM25SparseEmbeddings()`.
        recreate: Drop the collection and its points first, then create it anew.
        create: Create the collection when it does not exist; `False` for reads
            (`build_retriever`): nothing is created, and the first search raises
            `CollectionNotFound` if the collection still does not exist then.

    Returns:
        A `RagloomVectorStore` (a `langchain_qdrant.QdrantVectorStore`) over the collection.

    Raises:
        CollectionMismatch: The existing collection has another vector size or
            distance, was written by another embeddings model, or lacks the vector
            the mode needs.
        StoreLocked: The embedded folder is open in another process.
        ProviderUnavailable: The Qdrant server cannot be reached.

    Example:
        >>> from langchain_core.embeddings import DeterministicFakeEmbedding
        >>> from ragloom import RagConfig
        >>> cfg = RagConfig(qdrant={"location": ":memory:", "collection": "doc_build"})
        >>> store = build_vector_store(cfg, embeddings=DeterministicFakeEmbedding(size=8))
        >>> store.client.get_collection("doc_build").config.params.vectors[""].size
        8

    """
    cfg = cfg if cfg is not None else load_config()
    target = open_target(cfg, embeddings=embeddings, client=client,
                         sparse_embeddings=sparse_embeddings, recreate=recreate, create=create)
    store = RagloomVectorStore(
        client=target.client,
        collection_name=target.collection_name,
        embedding=target.embeddings,
        retrieval_mode=RetrievalMode(target.mode.value),
        distance=models.Distance(_DISTANCES[cfg.qdrant.distance].value),
        sparse_embedding=target.sparse_embeddings,
        # The parent would embed "dummy_text" on every construction to learn the
        # size: a hidden request that also lands in every cassette. Checked above.
        validate_collection_config=False,
    )
    store.settings = cfg.qdrant
    store.pending_check = target.pending_check
    return store
