"""The Qdrant wiring: one client per location, collections built from config and checked.

`build_vector_store(cfg)` returns a `RagloomVectorStore` (a
`langchain_qdrant.QdrantVectorStore`), creating the collection on first use:
a dense vector sized by the embeddings model and/or a sparse BM25 vector with
Qdrant's IDF modifier, per `retrieval.mode`. How the collection was built is
recorded in its metadata, so opening it again costs no embedding call; an
existing collection that does not fit (vector size, distance, missing sparse
vector) raises `CollectionMismatch` and is never dropped without `recreate=True`.

Clients are cached, one per location (`:memory:` included, so `ingest` and
`build_retriever` on the same config see the same data), and embedded ones are
closed at interpreter exit.

Embedded → server → cluster. The embedded folder is one process at a time and
searches by brute force (fine to ~20,000 chunks). To move on:

1. Start a server (`docker run -p 6333:6333 qdrant/qdrant`) and set `qdrant.url`
   (and `qdrant.api_key`; `prefer_grpc: true` for gRPC on 6334).
2. Move the points, either by re-running `ragloom ingest PATH...` against the server
   (point ids are deterministic, so the same points come back; costs the embedding
   calls again) or without re-embedding by copying them:
   `QdrantClient(path=".ragloom/qdrant").migrate(QdrantClient(url=...),
   collection_names=["ragloom"])`. `migrate` recreates the collection with the
   *source's* parameters (one shard, no quantization) and copies its metadata, so
   ragloom opens it without an embedding call; `on_disk`/quantization can be set
   afterwards with `update_collection`. Embedded Qdrant has no snapshots.
3. For a cluster, decide `shard_number` (fixed at creation; at least the number of
   nodes you plan) and `replication_factor` (2+ survives a node loss) before the
   collection exists: point `qdrant.url` at the cluster with those set and let
   `build_vector_store` create it, then copy points in (`scroll` from the old store,
   `upload_points` to the new; `migrate` would recreate it with the source's one
   shard) or re-ingest. From one server to a cluster, `create_snapshot` on the
   server and `recover_snapshot` on a cluster node restore the collection as it was
   (same shard count); more shards need the create-then-copy path.

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

import atexit
import contextlib
import hashlib
import math
import threading
from pathlib import Path
from typing import Any

from langchain_core.embeddings import Embeddings
from langchain_qdrant import RetrievalMode, SparseEmbeddings
from qdrant_client import QdrantClient, models

from ragloom._bm25 import BM25SparseEmbeddings
from ragloom._qdrant_store import RagloomVectorStore, point_id
from ragloom.config import QdrantSettings, RagConfig, load_config
from ragloom.errors import CollectionMismatch, StoreLocked

__all__ = [
    "RECORD_KEY",
    "RagloomVectorStore",
    "build_vector_store",
    "close_clients",
    "embeddings_identity",
    "get_client",
    "point_id",
]

RECORD_KEY = "ragloom"
"""Collection metadata key under which ragloom records how it built the collection."""

_PROBE_TEXT = "ragloom vector size probe"
_DISTANCES = {
    "cosine": models.Distance.COSINE,
    "dot": models.Distance.DOT,
    "euclid": models.Distance.EUCLID,
}

_clients: dict[tuple[str, str | None, bool], QdrantClient] = {}
_clients_lock = threading.Lock()


def get_client(settings: QdrantSettings | RagConfig | None = None) -> QdrantClient:
    """The process's Qdrant client for these settings, created on first use.

    `url` set: a server client. Otherwise embedded: `:memory:` or a folder. One
    client per (url or resolved folder or `:memory:`, api key, prefer_grpc).

    Args:
        settings: The `qdrant` section or a whole `RagConfig`; default `load_config()`.

    Returns:
        The cached `QdrantClient`, opened on first use.

    Raises:
        StoreLocked: The folder is already open in another process or client.

    Example:
        >>> from ragloom import RagConfig
        >>> cfg = RagConfig(qdrant={"location": ":memory:"})
        >>> get_client(cfg) is get_client(cfg.qdrant)
        True

    """
    if settings is None:
        settings = load_config()
    if isinstance(settings, RagConfig):
        settings = settings.qdrant
    secret = settings.api_key.get_secret_value() if settings.api_key else None
    if settings.url:
        where = settings.url
    elif settings.location == ":memory:":
        where = ":memory:"
    else:
        where = str(Path(settings.location).expanduser().resolve())
    # The secret itself stays out of the key (and out of any repr of the cache).
    key = (
        where,
        hashlib.sha256(secret.encode()).hexdigest() if secret else None,
        settings.prefer_grpc,
    )
    with _clients_lock:
        client = _clients.get(key)
        if client is not None and not getattr(client._client, "closed", False):
            return client
        if settings.url:
            timeout = math.ceil(settings.timeout_s) if settings.timeout_s else None
            client = QdrantClient(
                url=settings.url, api_key=secret, prefer_grpc=settings.prefer_grpc, timeout=timeout
            )
        elif where == ":memory:":
            client = QdrantClient(location=":memory:")
        else:
            client = _open_embedded(where)
        _clients[key] = client
        return client


def _open_embedded(folder: str) -> QdrantClient:
    try:
        # Async store methods run the sync ones in executor threads; the embedded
        # SQLite storage must accept that.
        return QdrantClient(path=folder, force_disable_check_same_thread=True)
    except RuntimeError as exc:
        if "already accessed by another instance" not in str(exc):
            raise
        raise StoreLocked(
            f"the Qdrant folder {folder!r} is already open in another process (or another"
            " client in this one), and embedded Qdrant allows one at a time. Close the"
            " other process, run a Qdrant server and set qdrant.url for shared access,"
            " or set qdrant.location to another folder."
        ) from None


def close_clients() -> None:
    """Close every cached client and forget them (embedded folders are unlocked).

    Stores built on them stop working; the next `build_vector_store` opens anew.

    Example:
        >>> close_clients()

    """
    with _clients_lock:
        clients = list(_clients.values())
        _clients.clear()
    for client in clients:
        client.close()


# An on-disk client left to the garbage collector at shutdown prints a traceback
# (its lock-file module is already torn down); atexit runs before that.
atexit.register(close_clients)


def embeddings_identity(embeddings: Embeddings, cfg: RagConfig | None = None) -> str:
    """What ragloom records as "the embeddings" of a collection.

    `provider:model` from the config when the embeddings were built from it, else
    the class name and its `model`/`model_name`; `[N]` is added when the object
    declares its output size (`dimensions`, `size`), which can differ per model.

    Example:
        >>> from langchain_core.embeddings import DeterministicFakeEmbedding
        >>> embeddings_identity(DeterministicFakeEmbedding(size=8))
        'DeterministicFakeEmbedding[8]'

    """
    if cfg is not None:
        identity = f"{cfg.embeddings.provider}:{cfg.embeddings.model}"
    else:
        model = getattr(embeddings, "model", None) or getattr(embeddings, "model_name", None)
        identity = type(embeddings).__name__ + (f":{model}" if isinstance(model, str) else "")
    for attr in ("dimensions", "size"):
        size = getattr(embeddings, attr, None)
        if isinstance(size, int) and not isinstance(size, bool):
            return f"{identity}[{size}]"
    return identity


def build_vector_store(
    cfg: RagConfig | None = None,
    *,
    embeddings: Embeddings | None = None,
    client: QdrantClient | None = None,
    sparse_embeddings: SparseEmbeddings | None = None,
    recreate: bool = False,
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

    Returns:
        A `RagloomVectorStore` (a `langchain_qdrant.QdrantVectorStore`) over the collection.

    Raises:
        CollectionMismatch: The existing collection has another vector size or
            distance, or lacks the vector the mode needs.
        StoreLocked: The embedded folder is open in another process.

    Example:
        >>> from langchain_core.embeddings import DeterministicFakeEmbedding
        >>> from ragloom import RagConfig
        >>> cfg = RagConfig(qdrant={"location": ":memory:", "collection": "doc_build"})
        >>> store = build_vector_store(cfg, embeddings=DeterministicFakeEmbedding(size=8))
        >>> store.client.get_collection("doc_build").config.params.vectors[""].size
        8

    """
    cfg = cfg if cfg is not None else load_config()
    mode = RetrievalMode(cfg.retrieval.mode)
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
    if mode is not RetrievalMode.DENSE and sparse_embeddings is None:
        sparse_embeddings = BM25SparseEmbeddings()
    client = client if client is not None else get_client(cfg.qdrant)
    name = cfg.qdrant.collection
    if recreate and client.collection_exists(name):
        client.delete_collection(name)
    if client.collection_exists(name):
        _validate(client, cfg, mode, embeddings, identity)
    else:
        _create(client, cfg, mode, embeddings, identity)
    return RagloomVectorStore(
        client=client,
        collection_name=name,
        embedding=embeddings,
        retrieval_mode=mode,
        distance=_DISTANCES[cfg.qdrant.distance],
        sparse_embedding=sparse_embeddings,
        # The parent would embed "dummy_text" on every construction to learn the
        # size: a hidden request that also lands in every cassette. Checked above.
        validate_collection_config=False,
    )


def _probe_size(embeddings: Embeddings) -> int:
    return len(embeddings.embed_query(_PROBE_TEXT))


def _create(
    client: QdrantClient,
    cfg: RagConfig,
    mode: RetrievalMode,
    embeddings: Embeddings | None,
    identity: str | None,
) -> None:
    q = cfg.qdrant
    vectors: dict[str, models.VectorParams] = {}
    sparse: dict[str, models.SparseVectorParams] = {}
    metadata: dict[str, Any] = {}
    if mode is not RetrievalMode.SPARSE:
        assert embeddings is not None  # build_vector_store built them for dense/hybrid
        size = _probe_size(embeddings)
        vectors[RagloomVectorStore.VECTOR_NAME] = models.VectorParams(
            size=size, distance=_DISTANCES[q.distance], on_disk=q.on_disk or None
        )
        metadata[RECORD_KEY] = {"embeddings": identity, "dim": size}
    if mode is not RetrievalMode.DENSE:
        sparse[RagloomVectorStore.SPARSE_VECTOR_NAME] = models.SparseVectorParams(
            modifier=models.Modifier.IDF,
            index=models.SparseIndexParams(on_disk=True) if q.on_disk else None,
        )
    quantization = (
        models.ScalarQuantization(
            scalar=models.ScalarQuantizationConfig(type=models.ScalarType.INT8, always_ram=True)
        )
        if q.quantization == "scalar"
        else None
    )
    client.create_collection(
        q.collection,
        vectors_config=vectors,
        sparse_vectors_config=sparse or None,
        shard_number=q.shard_number,
        replication_factor=q.replication_factor,
        quantization_config=quantization,
        metadata=metadata or None,
    )


def _mismatch(name: str, problem: str) -> CollectionMismatch:
    return CollectionMismatch(
        f"Qdrant collection {name!r} {problem}. Use another collection (qdrant.collection,"
        " e.g. RAGLOOM_QDRANT__COLLECTION), or rebuild this one with"
        " build_vector_store(cfg, recreate=True), which deletes its points."
    )


def _validate(
    client: QdrantClient,
    cfg: RagConfig,
    mode: RetrievalMode,
    embeddings: Embeddings | None,
    identity: str | None,
) -> None:
    name = cfg.qdrant.collection
    config = client.get_collection(name).config
    if mode is not RetrievalMode.DENSE:
        sparse_name = RagloomVectorStore.SPARSE_VECTOR_NAME
        if sparse_name not in (config.params.sparse_vectors or {}):
            raise _mismatch(
                name,
                f"has no sparse vector {sparse_name!r}, which retrieval.mode={mode.value!r} needs",
            )
    if mode is RetrievalMode.SPARSE:
        return
    assert embeddings is not None  # build_vector_store built them for dense/hybrid
    vectors = config.params.vectors
    params = vectors.get(RagloomVectorStore.VECTOR_NAME) if isinstance(vectors, dict) else vectors
    if params is None:
        raise _mismatch(
            name, f"has no unnamed dense vector, which retrieval.mode={mode.value!r} needs"
        )
    wanted = _DISTANCES[cfg.qdrant.distance]
    if params.distance != wanted:
        raise _mismatch(
            name,
            f"uses {params.distance.value} distance but qdrant.distance is {cfg.qdrant.distance!r}",
        )
    record = (config.metadata or {}).get(RECORD_KEY)
    record = record if isinstance(record, dict) else {}
    if record.get("embeddings") == identity and isinstance(record.get("dim"), int):
        size = record["dim"]  # built with these embeddings: no embedding call needed
    else:
        size = _probe_size(embeddings)
    if size != params.size:
        raise _mismatch(
            name,
            f"holds {params.size}-dimensional vectors but the embeddings {identity}"
            f" produce {size}-dimensional ones",
        )
    if not record:
        # Built by something else but fits: record it so the next open costs nothing.
        # Best effort: servers before Qdrant 1.16 have no collection metadata.
        with contextlib.suppress(Exception):
            client.update_collection(
                name, metadata={RECORD_KEY: {"embeddings": identity, "dim": size}}
            )
