"""The Qdrant wiring: one client per location, collections built from config and checked.

`build_vector_store(cfg)` returns a `RagloomVectorStore` (a
`langchain_qdrant.QdrantVectorStore`), creating the collection on first use:
a dense vector sized by the embeddings model and/or a sparse BM25 vector with
Qdrant's IDF modifier, per `retrieval.mode`. How the collection was built is
recorded in its metadata, so opening it again costs no embedding call; an
existing collection that does not fit (vector size, distance, missing sparse
vector) raises `CollectionMismatch` and is never dropped without `recreate=True`.

This module (with its private engine modules `_edge`, `_ledger`, `_qdrant_store`)
is the storage layer: the only code that talks to Qdrant. Engines, by `qdrant.engine`:
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

import atexit
import contextlib
import hashlib
import logging
import math
import os
import threading
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast

from langchain_core.embeddings import Embeddings
from langchain_qdrant import RetrievalMode, SparseEmbeddings
from qdrant_client import AsyncQdrantClient, QdrantClient, models

from ragloom._access import access_indexes
from ragloom._bm25 import BM25SparseEmbeddings
from ragloom._ledger import INGEST_KEY, Ledger
from ragloom._qdrant_store import RagloomVectorStore, point_id
from ragloom.config import QdrantSettings, RagConfig, load_config
from ragloom.errors import (
    CollectionMismatch,
    CollectionNotFound,
    ConfigError,
    InvalidInput,
    ProviderUnavailable,
    RagloomError,
    StoreLocked,
)

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

RECORD_KEY = "ragloom"
"""Collection metadata key under which ragloom records how it built the collection."""

Engine = Literal["edge", "local", "server"]
_log = logging.getLogger("ragloom.store")
_PROBE_TEXT = "ragloom vector size probe"
_DISTANCES = {
    "cosine": models.Distance.COSINE,
    "dot": models.Distance.DOT,
    "euclid": models.Distance.EUCLID,
}

_clients: dict[tuple[str, str, str | None, bool], QdrantClient] = {}
_async_clients: dict[tuple[str, str | None, bool, int], AsyncQdrantClient] = {}
_clients_lock = threading.Lock()
_warned_legacy: set[str] = set()


def _settings(settings: QdrantSettings | RagConfig | None) -> QdrantSettings:
    if settings is None:
        settings = load_config()
    return settings.qdrant if isinstance(settings, RagConfig) else settings


def _is_local_mode_folder(folder: Path) -> bool:
    # qdrant-client local mode writes meta.json (and collection/<name>/storage.sqlite).
    return (folder / "meta.json").is_file()


def _has_edge_collections(folder: Path) -> bool:
    # An `edge` folder holding no collection (made by a client that never wrote) does
    # not hide the local-mode data beside it.
    edge = folder / "edge"
    return edge.is_dir() and any((c / "shard" / "edge_config.json").is_file()
                                 for c in edge.iterdir() if c.is_dir())


def _refuse_edge_beside_local(settings: QdrantSettings, folder: str) -> None:
    """The edge engine would create a second, empty store beside local-mode data."""
    path = Path(folder)
    if _is_local_mode_folder(path) and not _has_edge_collections(path):
        raise ConfigError(
            f"qdrant.engine is 'edge' but {folder!r} holds a store written by qdrant-client's"
            " local mode (ragloom before Qdrant Edge); the edge engine would start an empty"
            " store beside it. Set qdrant.engine to 'local' (or leave it unset) to use the"
            " data as it is, or convert it without re-embedding:"
            " ragloom.copy_collection(RagConfig(qdrant={'engine': 'local'}),"
            " RagConfig(qdrant={'engine': 'edge'})) (see docs/qdrant.md)")


def resolve_engine(settings: QdrantSettings | RagConfig | None = None) -> Engine:
    """The engine these settings select: `qdrant.engine`, else inferred.

    `url` set → server; `:memory:` → local; a folder written by qdrant-client's local
    mode (ragloom before Edge) and holding no Edge data → local, so existing stores
    keep working (convert with `copy_collection`, see docs/qdrant.md); else edge.

    Example:
        >>> resolve_engine(RagConfig(qdrant={"location": ":memory:"}))
        'local'
        >>> resolve_engine(RagConfig(qdrant={"url": "http://qdrant:6333"}))
        'server'

    """
    q = _settings(settings)
    if q.engine is not None:
        return q.engine
    if q.url:
        return "server"
    if q.location == ":memory:":
        return "local"
    folder = Path(q.location).expanduser()
    if _is_local_mode_folder(folder) and not _has_edge_collections(folder):
        key = str(folder.resolve())
        if key not in _warned_legacy:
            _warned_legacy.add(key)
            _log.warning(
                "%s was written by qdrant-client's local mode (ragloom before Qdrant Edge);"
                " using it as it is (engine local: brute-force search, slow past ~20,000"
                " chunks). To convert it to the faster edge engine without re-embedding:"
                " ragloom.copy_collection(RagConfig(qdrant={'engine': 'local'}),"
                " RagConfig(qdrant={'engine': 'edge'})); see docs/qdrant.md.", key)
        return "local"
    return "edge"


def mask_url(url: str) -> str:
    """`url` with any password (or lone token) in its user part masked.

    Example:
        >>> mask_url("http://admin:s3cret@qdrant:6333")
        'http://admin:****@qdrant:6333'

    """
    from ragloom._redact import mask_url as redact_url  # one masking rule everywhere

    return redact_url(url) or url


def get_client(settings: QdrantSettings | RagConfig | None = None) -> QdrantClient:
    """The process's Qdrant client for these settings, created on first use.

    One client per (engine, url or resolved folder or `:memory:`, api key,
    prefer_grpc). On the edge engine this is an `EdgeClient`, which answers the
    same methods (typed as `QdrantClient` for the callers).

    Args:
        settings: The `qdrant` section or a whole `RagConfig`; default `load_config()`.

    Returns:
        The cached client, opened on first use.

    Raises:
        StoreLocked: The folder is already open in another process or client.

    Example:
        >>> from ragloom import RagConfig
        >>> cfg = RagConfig(qdrant={"location": ":memory:"})
        >>> get_client(cfg) is get_client(cfg.qdrant)
        True

    """
    return _client(_settings(settings))


def _client(settings: QdrantSettings, *, converting: bool = False) -> QdrantClient:
    """`get_client`; `converting`: `copy_collection` may write edge beside local mode."""
    engine = resolve_engine(settings)
    secret = settings.api_key.get_secret_value() if settings.api_key else None
    if engine == "server":
        if not settings.url:
            raise RagloomError("qdrant.engine is 'server' but qdrant.url is not set: set"
                               " qdrant.url (e.g. http://localhost:6333)")
        where = settings.url
    elif settings.location == ":memory:":
        if engine == "edge":
            raise RagloomError("the edge engine needs a folder: set qdrant.location to a"
                               " path, or qdrant.engine to 'local' for ':memory:'")
        where = ":memory:"
    else:
        where = str(Path(settings.location).expanduser().resolve())
        if engine == "edge" and not converting:
            _refuse_edge_beside_local(settings, where)
    # The secret itself stays out of the key (and out of any repr of the cache).
    key = (
        engine,
        where,
        hashlib.sha256(secret.encode()).hexdigest() if secret else None,
        settings.prefer_grpc,
    )
    with _clients_lock:
        client = _clients.get(key)
        if client is not None and not _closed(client):
            return client
        if engine == "server":
            timeout = math.ceil(settings.timeout_s) if settings.timeout_s else None
            client = QdrantClient(
                url=settings.url, api_key=secret, prefer_grpc=settings.prefer_grpc, timeout=timeout
            )
        elif where == ":memory:":
            client = QdrantClient(location=":memory:")
        else:
            client = _open_folder(engine, where)
        _clients[key] = client
        return client


def _closed(client: Any) -> bool:
    if getattr(client, "engine", None) == "edge":
        return bool(client.closed)
    return bool(getattr(client._client, "closed", False))


def get_async_client(
    settings: QdrantSettings | RagConfig | None = None,
) -> AsyncQdrantClient | None:
    """The async client for a Qdrant server (one per event loop), or None if embedded.

    Embedded engines run in this process: their calls are made inline, no client needed.

    Example:
        >>> get_async_client(RagConfig(qdrant={"location": ":memory:"})) is None
        True

    """
    import asyncio

    settings = _settings(settings)
    if resolve_engine(settings) != "server" or not settings.url:
        return None
    secret = settings.api_key.get_secret_value() if settings.api_key else None
    try:
        loop_id = id(asyncio.get_running_loop())
    except RuntimeError:
        loop_id = 0
    key = (settings.url, hashlib.sha256(secret.encode()).hexdigest() if secret else None,
           settings.prefer_grpc, loop_id)
    with _clients_lock:
        client = _async_clients.get(key)
        if client is None:
            timeout = math.ceil(settings.timeout_s) if settings.timeout_s else None
            client = AsyncQdrantClient(url=settings.url, api_key=secret,
                                       prefer_grpc=settings.prefer_grpc, timeout=timeout)
            _async_clients[key] = client
        return client


def _open_folder(engine: str, folder: str) -> QdrantClient:
    """Open an embedded store's folder.

    A file, or a folder that cannot be made or written, is an error naming it and the fix.
    """
    if os.path.exists(folder) and not os.path.isdir(folder):
        raise ConfigError(f"qdrant.location {folder!r} is a file, not a folder: set"
                          " qdrant.location to a folder (created if missing)")
    try:
        if engine == "edge":
            from ragloom._edge import EdgeClient  # the Edge bindings load only when used

            return cast(QdrantClient, EdgeClient(folder))
        return _open_embedded(folder)
    except PermissionError as exc:
        raise ConfigError(
            f"the Qdrant folder {folder!r} cannot be written ({exc.strerror}): the embedded"
            " store writes a lock file and its log even to answer a question. Make it"
            " writable, or copy the folder somewhere writable and point qdrant.location"
            " there") from None
    except (FileNotFoundError, NotADirectoryError, FileExistsError) as exc:
        raise ConfigError(
            f"the Qdrant folder {folder!r} cannot be created ({exc.strerror}: a part of the"
            " path is missing or is a file): set qdrant.location to a folder that can be"
            " created") from None


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
        _async_clients.clear()
    for client in clients:
        client.close()


# An on-disk client left to the garbage collector at shutdown prints a traceback
# (its lock-file module is already torn down); atexit runs before that.
atexit.register(close_clients)


_PROVIDER_CLASSES = {"OllamaEmbeddings": "ollama", "OpenAIEmbeddings": "openai"}


def embeddings_identity(embeddings: Embeddings, cfg: RagConfig | None = None) -> str:
    """What ragloom records as "the embeddings" of a collection: provider and model.

    `provider:model` from the config when the embeddings were built from it; else
    the provider of a known class (`OllamaEmbeddings` → `ollama`) or the class name,
    and its `model`/`model_name`; `[N]` is added when the object declares its output
    size (`dimensions`, `size`), which can differ per model.

    Example:
        >>> from langchain_core.embeddings import DeterministicFakeEmbedding
        >>> embeddings_identity(DeterministicFakeEmbedding(size=8))
        'DeterministicFakeEmbedding[8]'

    """
    from ragloom.providers._instructed import InstructedEmbeddings

    if isinstance(embeddings, InstructedEmbeddings):  # prefixes are recorded on their own
        embeddings = embeddings.inner
    if cfg is not None:
        identity = f"{cfg.embeddings.provider}:{cfg.embeddings.model}"
    else:
        model = getattr(embeddings, "model", None) or getattr(embeddings, "model_name", None)
        name = type(embeddings).__name__
        identity = _PROVIDER_CLASSES.get(name, name) + (
            f":{model}" if isinstance(model, str) else "")
    for attr in ("dimensions", "size"):
        size = getattr(embeddings, attr, None)
        if isinstance(size, int) and not isinstance(size, bool):
            return f"{identity}[{size}]"
    return identity


def _mode_defaulted(cfg: RagConfig) -> bool:
    return "mode" not in cfg.retrieval.model_fields_set


def retrieval_mode(cfg: RagConfig) -> str:
    """The retrieval mode in effect: `retrieval.mode` when set, else hybrid.

    Left unset, it is dense when the search needs it (`mmr`, a score threshold), so
    a config written before hybrid became the default keeps working; and
    `build_vector_store` keeps a collection built without sparse vectors dense.

    Example:
        >>> retrieval_mode(RagConfig()), retrieval_mode(RagConfig(retrieval={"search": "mmr"}))
        ('hybrid', 'dense')

    """
    settings = cfg.retrieval
    if not _mode_defaulted(cfg):
        return settings.mode
    if settings.search in ("mmr", "threshold") or settings.score_threshold is not None:
        return "dense"
    return settings.mode


def _unreachable(q: QdrantSettings, exc: Exception) -> ProviderUnavailable:
    url = mask_url(q.url or "")
    return ProviderUnavailable(
        f"cannot reach the Qdrant server at {url} ({type(exc).__name__}). Start it (e.g."
        " `docker run -p 6333:6333 qdrant/qdrant`), fix qdrant.url / qdrant.api_key, or"
        " unset qdrant.url to use the embedded store in qdrant.location.")


@contextlib.contextmanager
def _talking_to(q: QdrantSettings) -> Any:
    """Turn a server that cannot be reached into `ProviderUnavailable` naming its URL."""
    try:
        yield
    except RagloomError:
        raise
    except Exception as exc:
        if q.url and _is_connection_error(exc):
            raise _unreachable(q, exc) from None
        raise


def _is_connection_error(exc: BaseException) -> bool:
    import httpx
    from qdrant_client.http.exceptions import ResponseHandlingException

    if isinstance(exc, ResponseHandlingException | httpx.TransportError | ConnectionError):
        return True
    # gRPC: the channel never came up.
    return type(exc).__name__ in {"_InactiveRpcError", "AioRpcError"} and "UNAVAILABLE" in str(exc)


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
    mode = RetrievalMode(retrieval_mode(cfg))
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
    store = RagloomVectorStore(
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
    store.settings = cfg.qdrant
    if not exists and not create:
        # A read: nothing is created. The check runs again at the first search, so
        # an app may build its chain before the first ingest.
        store.pending_check = lambda: _check_exists(client, cfg, mode, embeddings, identity)
    return store


def _check_exists(client: QdrantClient, cfg: RagConfig, mode: RetrievalMode,
                  embeddings: Embeddings | None, identity: str | None) -> None:
    q = cfg.qdrant
    with _talking_to(q):
        if not client.collection_exists(q.collection):
            raise CollectionNotFound(
                f"the Qdrant collection {q.collection!r} does not exist in {_where(q)}:"
                " nothing has been ingested into it. Run `ragloom ingest PATH...` first,"
                " or check qdrant.collection (e.g. RAGLOOM_QDRANT__COLLECTION) and"
                " qdrant.location / qdrant.url.")
        _validate(client, cfg, mode, embeddings, identity)


def _where(q: QdrantSettings) -> str:
    return mask_url(q.url) if q.url else repr(q.location)


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
        metadata[RECORD_KEY] = _record(identity, size)
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
    _index_payload(client, q.collection)


def _index_payload(client: QdrantClient, name: str) -> None:
    """Keyword indexes on what filters, the ingest ledger and access use (not in local mode)."""
    from ragloom._ledger import _is_local_mode

    if _is_local_mode(client):
        return
    for key in (f"{RagloomVectorStore.METADATA_KEY}.source",
                f"{RagloomVectorStore.METADATA_KEY}.file_hash", INGEST_KEY):
        client.create_payload_index(name, key, models.PayloadSchemaType.KEYWORD)
    for key, schema in access_indexes(RagloomVectorStore.METADATA_KEY):
        client.create_payload_index(name, key, schema)


class _Identity(str):
    """An embeddings identity (`provider:model[N]`) that also carries its prefixes."""

    prefixes: tuple[str, str]

    def __new__(cls, identity: str, prefixes: tuple[str, str]) -> _Identity:
        obj = super().__new__(cls, identity)
        obj.prefixes = prefixes
        return obj


def embedding_prefixes(embeddings: Embeddings | None) -> tuple[str, str]:
    """The (query, document) prefixes dense vectors are made with ("" when none).

    Example:
        >>> from langchain_core.embeddings import DeterministicFakeEmbedding
        >>> embedding_prefixes(DeterministicFakeEmbedding(size=4))
        ('', '')

    """
    from ragloom.providers._instructed import prefixes_of

    return prefixes_of(embeddings) if embeddings is not None else ("", "")


def _record(identity: str | None, size: int) -> dict[str, Any]:
    """The collection's record of its embeddings: model, size and task prefixes."""
    record: dict[str, Any] = {"embeddings": identity, "dim": size}
    if isinstance(identity, _Identity):
        record["query_prefix"], record["document_prefix"] = identity.prefixes
    return record


def _prefix_problem(name: str, record: dict[str, Any], prefixes: tuple[str, str]
                    ) -> str | None:
    """Vectors made with other task prefixes than the configured ones: what to do.

    A collection recorded before ragloom recorded prefixes was built without them: a
    warning (not an error) when the configuration now adds some.
    """
    query, document = prefixes
    if "query_prefix" not in record and "document_prefix" not in record:
        if query or document:
            warnings.warn(
                f"Qdrant collection {name!r} was built by a ragloom that sent no embedding"
                f" prefixes, but embeddings.query_prefix/document_prefix now add {query!r} /"
                f" {document!r} (the model's instructions): its stored vectors and new"
                " questions differ. Set embeddings.query_prefix: '' and"
                " embeddings.document_prefix: '' to keep using it as built, or re-ingest"
                " into a new collection (qdrant.collection) to get the better vectors.",
                UserWarning, stacklevel=4)
        return None
    was = (record.get("query_prefix", ""), record.get("document_prefix", ""))
    if was == (query, document):
        return None
    return (f"was embedded with query prefix {was[0]!r} and document prefix {was[1]!r}, but"
            f" the configuration gives {query!r} and {document!r}; vectors made with and"
            " without a model's instructions do not compare. Set"
            f" embeddings.query_prefix: {was[0]!r} and embeddings.document_prefix:"
            f" {was[1]!r} to use it as built")


def _mismatch(name: str, problem: str) -> CollectionMismatch:
    return CollectionMismatch(
        f"Qdrant collection {name!r} {problem}. Use another collection (qdrant.collection,"
        " e.g. RAGLOOM_QDRANT__COLLECTION), or rebuild this one with"
        " build_vector_store(cfg, recreate=True), which deletes its points."
    )


def _model_part(identity: str) -> str:
    return identity.split("[", 1)[0]


def _problems(
    client: QdrantClient,
    cfg: RagConfig,
    mode: RetrievalMode,
    identity: str | None,
    size_of: Any,
) -> tuple[list[str], dict[str, Any], int | None]:
    """What does not fit, the ragloom record, and the dense size (if any)."""
    name = cfg.qdrant.collection
    config = client.get_collection(name).config
    problems: list[str] = []
    record = (config.metadata or {}).get(RECORD_KEY)
    record = record if isinstance(record, dict) else {}
    if mode is not RetrievalMode.DENSE:
        sparse_name = RagloomVectorStore.SPARSE_VECTOR_NAME
        if sparse_name not in (config.params.sparse_vectors or {}):
            problems.append(f"has no sparse vector {sparse_name!r}, which"
                            f" retrieval.mode={mode.value!r} needs")
    if mode is RetrievalMode.SPARSE:
        return problems, record, None
    vectors = config.params.vectors
    params = vectors.get(RagloomVectorStore.VECTOR_NAME) if isinstance(vectors, dict) else vectors
    if params is None:
        problems.append(f"has no unnamed dense vector, which retrieval.mode={mode.value!r} needs")
        return problems, record, None
    if params.distance != _DISTANCES[cfg.qdrant.distance]:
        problems.append(f"uses {params.distance.value} distance but qdrant.distance is"
                        f" {cfg.qdrant.distance!r}")
    size = size_of(record)
    if size is not None and size != params.size:
        problems.append(f"holds {params.size}-dimensional vectors but the embeddings"
                        f" {identity} produce {size}-dimensional ones")
    recorded = record.get("embeddings")
    if (not problems and identity and isinstance(recorded, str)
            and _model_part(recorded) != _model_part(identity)):
        problems.append(
            f"was written by the embeddings model {recorded} but the configured one is"
            f" {identity}; vectors of two models in one collection do not compare. Set"
            f" embeddings.provider/embeddings.model back to {recorded}")
    if not problems and isinstance(identity, _Identity) and isinstance(recorded, str):
        problem = _prefix_problem(cfg.qdrant.collection, record, identity.prefixes)
        if problem:
            problems.append(problem)
    return problems, record, params.size


def _validate(
    client: QdrantClient,
    cfg: RagConfig,
    mode: RetrievalMode,
    embeddings: Embeddings | None,
    identity: str | None,
) -> None:
    def size_of(record: dict[str, Any]) -> int | None:
        if record.get("embeddings") == identity and isinstance(record.get("dim"), int):
            return int(record["dim"])  # built with these embeddings: no embedding call
        assert embeddings is not None  # dense/hybrid modes have them
        return _probe_size(embeddings)

    name = cfg.qdrant.collection
    problems, record, size = _problems(client, cfg, mode, identity, size_of)
    if problems:
        raise _mismatch(name, problems[0])
    if not record.get("embeddings") and identity and size is not None:
        # Built by something else but fits: record it so the next open costs nothing.
        # Best effort: servers before Qdrant 1.16 have no collection metadata.
        with contextlib.suppress(Exception):
            client.update_collection(name, metadata={RECORD_KEY: _record(identity, size)})


@dataclass
class CollectionStatus:
    """What `collection_status` found: for `ragloom doctor`."""

    engine: str
    where: str
    exists: bool = False
    points: int | None = None
    dim: int | None = None
    distance: str | None = None
    embeddings: str | None = None
    problems: list[str] = field(default_factory=list)
    tenants: dict[str, int] = field(default_factory=dict)
    """Points per `metadata.tenant` value (empty when no chunk has a tenant)."""


def collection_status(cfg: RagConfig | None = None,
                      embed_dim: int | None = None) -> CollectionStatus:
    """Whether the configured collection exists and fits the configuration (no writes).

    `embed_dim` is the size the embeddings model produces, when known (doctor asks
    the server); else the recorded size is trusted. No embedding call is made.

    Raises:
        StoreLocked: The embedded folder is open in another process.
        ProviderUnavailable: The Qdrant server cannot be reached.

    Example:
        >>> status = collection_status(RagConfig(qdrant={"location": ":memory:",
        ...                                              "collection": "doc_status"}))
        >>> status.exists, status.problems
        (False, [])

    """
    cfg = cfg if cfg is not None else load_config()
    q = cfg.qdrant
    status = CollectionStatus(engine=resolve_engine(q), where=_where(q))
    client = get_client(q)
    mode = RetrievalMode(retrieval_mode(cfg))
    identity = _Identity(f"{cfg.embeddings.provider}:{cfg.embeddings.model}",
                         cfg.embeddings.prefixes())
    with _talking_to(q):
        status.exists = client.collection_exists(q.collection)
        if not status.exists:
            return status

        def size_of(record: dict[str, Any]) -> int | None:
            dim = record.get("dim")
            return embed_dim if embed_dim is not None else dim if isinstance(dim, int) else None

        status.problems, record, status.dim = _problems(client, cfg, mode, identity, size_of)
        info = client.get_collection(q.collection)
        status.points = info.points_count
        vectors = info.config.params.vectors
        params = vectors.get("") if isinstance(vectors, dict) else vectors
        status.distance = params.distance.value if params is not None else None
        embeddings = record.get("embeddings")
        status.embeddings = embeddings if isinstance(embeddings, str) else None
        status.tenants = _tenant_counts(client, q.collection)
    return status


def _tenant_counts(client: QdrantClient, name: str) -> dict[str, int]:
    key = f"{RagloomVectorStore.METADATA_KEY}.tenant"
    try:
        hits = client.facet(name, key, limit=10_000, exact=True).hits
    except Exception:  # servers before Qdrant 1.12 have no facets: a count per tenant is
        return {}      # not worth a full scroll in a health check
    return {str(h.value): int(h.count) for h in hits}


def copy_collection(
    source: RagConfig | QdrantSettings,
    target: RagConfig | QdrantSettings,
    *,
    batch_size: int = 512,
) -> int:
    """Copy a collection, vectors and payloads as stored, into another engine or place.

    No embedding call: the points move with their ids, dense and sparse vectors and
    payloads, and the collection record (which embeddings wrote it) goes along, so
    ragloom opens the copy without re-embedding. Uses: moving up from the embedded
    store to a Qdrant server (`target` with `qdrant.url`); converting a folder
    written by local mode to edge (`source` engine `local`, `target` engine `edge`,
    same location: the old files stay until you delete them). The target collection
    is created with the source's vectors and the target's settings (shards,
    replication, on-disk, quantization); a target that already holds points is
    refused, so nothing is mixed or overwritten.

    Args:
        source: The `qdrant` section (or a config) to read; its `collection` is copied.
        target: Where to write; the collection name is the target's `collection`.
        batch_size: Points per request.

    Returns:
        The number of points copied.

    Raises:
        CollectionNotFound: The source collection does not exist.
        CollectionMismatch: The target collection exists and is not empty.

    Example:
        >>> import tempfile
        >>> from langchain_core.embeddings import DeterministicFakeEmbedding
        >>> src = RagConfig(qdrant={"location": ":memory:", "collection": "doc_copy"})
        >>> build_vector_store(src, embeddings=DeterministicFakeEmbedding(size=8)
        ...                    ).add_texts(["hello"], ids=["h"])
        ['h']
        >>> copy_collection(src, RagConfig(qdrant={"location": tempfile.mkdtemp(),
        ...                                        "collection": "doc_copy"}))
        1

    """
    src, dst = _settings(source), _settings(target)
    if batch_size < 1:
        raise InvalidInput(f"copy_collection(batch_size={batch_size!r}): batch_size must be"
                           " at least 1 (points per request; the default is 512)")
    reader, writer = get_client(src), _client(dst, converting=True)
    if reader is writer and src.collection == dst.collection:
        raise CollectionMismatch("copy_collection needs a different target: the source and"
                                 " the target are the same collection")
    with _talking_to(src):
        if not reader.collection_exists(src.collection):
            raise CollectionNotFound(f"the Qdrant collection {src.collection!r} does not exist"
                                     f" in {_where(src)}: nothing to copy")
        info = reader.get_collection(src.collection)
    with _talking_to(dst):
        if writer.collection_exists(dst.collection):
            if writer.count(dst.collection, exact=True).count:
                raise CollectionMismatch(
                    f"the target collection {dst.collection!r} in {_where(dst)} already holds"
                    " points; copy into a new collection name, or delete that one first")
            writer.delete_collection(dst.collection)
        params = info.config.params
        vectors = params.vectors if isinstance(params.vectors, dict) else (
            {"": params.vectors} if params.vectors is not None else {})
        quantization = (models.ScalarQuantization(scalar=models.ScalarQuantizationConfig(
            type=models.ScalarType.INT8, always_ram=True)) if dst.quantization == "scalar"
            else None)
        writer.create_collection(
            dst.collection,
            vectors_config={n: models.VectorParams(size=v.size, distance=v.distance,
                                                   on_disk=dst.on_disk or None)
                            for n, v in vectors.items()},
            sparse_vectors_config={n: models.SparseVectorParams(modifier=v.modifier)
                                   for n, v in (params.sparse_vectors or {}).items()} or None,
            shard_number=dst.shard_number, replication_factor=dst.replication_factor,
            quantization_config=quantization, metadata=info.config.metadata or None)
        _index_payload(writer, dst.collection)
    copied, offset = 0, None
    while True:
        with _talking_to(src):
            records, offset = reader.scroll(src.collection, limit=batch_size, offset=offset,
                                            with_payload=True, with_vectors=True)
        if records:
            points = [models.PointStruct(id=r.id, vector=r.vector or {}, payload=r.payload)
                      for r in records]
            with _talking_to(dst):
                writer.upsert(dst.collection, points=points, wait=True)
            copied += len(points)
        if offset is None:
            break
    finish = getattr(writer, "finish_writes", None)
    if finish is not None:
        finish(dst.collection)
    _log.info("copied %d points from %s to %s", copied, _where(src), _where(dst))
    return copied
