"""Qdrant clients: engine resolution and one cached client per engine and location.

Private module of the storage layer; import its public names from `ragloom.store`.
`qdrant_client` is imported only when a local-mode or server client is opened: the
edge engine (the default) never needs it.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import logging
import math
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast

from ragloom.config import QdrantSettings, RagConfig, load_config
from ragloom.errors import ConfigError, ProviderUnavailable, RagloomError, StoreLocked

if TYPE_CHECKING:
    from qdrant_client import AsyncQdrantClient, QdrantClient

__all__ = ["Engine", "close_clients", "get_async_client", "get_client", "mask_url",
           "resolve_engine"]

Engine = Literal["edge", "local", "server"]
_log = logging.getLogger("ragloom.store")

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
            from qdrant_client import QdrantClient

            timeout = math.ceil(settings.timeout_s) if settings.timeout_s else None
            client = QdrantClient(
                url=settings.url, api_key=secret, prefer_grpc=settings.prefer_grpc, timeout=timeout
            )
        elif where == ":memory:":
            from qdrant_client import QdrantClient

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
            from qdrant_client import AsyncQdrantClient

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

            return cast("QdrantClient", EdgeClient(folder))
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
    from qdrant_client import QdrantClient

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


def _where(q: QdrantSettings) -> str:
    return mask_url(q.url) if q.url else repr(q.location)
