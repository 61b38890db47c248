"""A queue per model server, shared by the whole process, and several servers per model.

Every request to one server (provider + base URL) first waits for a turn in that server's
`ServerQueue`: at most `max_concurrency` requests are in flight to it, from every chain,
model and thread of the process. The wait happens before the request is handed to httpx,
so it does not count against `timeout_s`: the timeout starts when the request is sent.
Without it, a server that runs one request at a time (Ollama's default
`OLLAMA_NUM_PARALLEL=1`) queues the rest itself, and their time in its queue counts
against the client's timeout.

`base_url` may name several servers (comma-separated). Requests then spread over them
(the least loaded queue first), each server with its own queue; a server that refuses a
connection, or drops one before answering, is skipped until it answers again (it is tried
again after a pause that doubles up to a minute), and the request moves to another server
at once.

The transports also count what a streamed answer delivered, so that a stream cut in the
middle is reported as such (`StreamInterrupted`), not as a server that cannot be reached.

Example:
    >>> servers = server_pool("ollama", ["http://a:11434", "http://b:11434"], limit=1)
    >>> [s.url for s in servers]
    ['http://a:11434', 'http://b:11434']
    >>> server_pool("ollama", ["http://a:11434"], limit=1)[0] is servers[0]
    True

"""

from __future__ import annotations

import functools
import itertools
import logging
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx

from ragloom.providers._drive import Core, adrive, drive
from ragloom.providers._queue import ServerQueue
from ragloom.providers._tls import default_context

__all__ = ["AsyncServerTransport", "Server", "ServerQueue", "ServerTransport",
           "StreamInterrupted", "parse_urls", "server_pool"]

log = logging.getLogger("ragloom.servers")

_DOWN_FIRST_S = 1.0
_DOWN_MAX_S = 60.0


def parse_urls(base_url: str | None) -> list[str]:
    """The servers named by a `base_url`: one URL, or several separated by commas.

    Example:
        >>> parse_urls("http://a:11434, http://b:11434/")
        ['http://a:11434', 'http://b:11434']
        >>> parse_urls(None), parse_urls("127.0.0.1:11434")
        ([], ['http://127.0.0.1:11434'])

    """
    if not base_url:
        return []
    parts = [part.strip().rstrip("/") for part in base_url.split(",") if part.strip()]
    return [part if "://" in part else f"http://{part}" for part in parts]


class StreamInterrupted(httpx.RemoteProtocolError):
    """A streamed answer stopped after part of it arrived (connection closed or reset)."""

    def __init__(self, message: str, *, received: int, url: str) -> None:
        super().__init__(message)
        self.received = received
        """Streamed pieces (tokens) that arrived before the cut."""
        self.url = url


@dataclass(eq=False)
class Server:
    """One model server: its URL, its queue, and whether it answers."""

    provider: str
    url: str
    queue: ServerQueue
    down_until: float = 0.0
    _pause: float = field(default=_DOWN_FIRST_S, repr=False)

    @property
    def up(self) -> bool:
        """False while it is skipped after failing to answer."""
        return time.monotonic() >= self.down_until

    def failed(self, error: Exception) -> None:
        """It did not answer: skip it for a while (longer each time in a row)."""
        self.down_until = time.monotonic() + self._pause
        log.warning("%s at %s did not answer (%s): skipping it for %.0f s", self.provider,
                    self.url, type(error).__name__, self._pause)
        self._pause = min(self._pause * 2, _DOWN_MAX_S)

    def answered(self) -> None:
        """It answered: back in rotation."""
        if self._pause != _DOWN_FIRST_S:
            log.info("%s at %s answers again", self.provider, self.url)
        self.down_until = 0.0
        self._pause = _DOWN_FIRST_S


_servers: dict[tuple[str, str], Server] = {}
_servers_lock = threading.Lock()


def server_pool(provider: str, urls: list[str], limit: int) -> list[Server]:
    """The process-wide `Server` of each URL (created on first use), queues of at least `limit`.

    Two models configured with different limits for one server share one queue with the
    larger limit.
    """
    pool = []
    with _servers_lock:
        for url in urls:
            key = (provider, url.rstrip("/"))
            server = _servers.get(key)
            if server is None:
                server = _servers[key] = Server(provider, key[1], ServerQueue(limit))
            else:
                server.queue.raise_limit(limit)
            pool.append(server)
    return pool


class _Router:
    """Picks the server for each request and rewrites the request's URL to it."""

    def __init__(self, servers: list[Server]) -> None:
        self.servers = servers
        self.primary = httpx.URL(servers[0].url)
        self._turn = itertools.count()

    def candidates(self) -> list[Server]:
        """Servers in the order to try them: answering ones by load, then skipped ones."""
        if len(self.servers) == 1:
            return list(self.servers)
        start = next(self._turn)
        rotated = [self.servers[(start + i) % len(self.servers)]
                   for i in range(len(self.servers))]
        up = sorted((s for s in rotated if s.up), key=lambda s: s.queue.load)
        down = sorted((s for s in rotated if not s.up), key=lambda s: s.down_until)
        return up + down

    def relative(self, request: Any) -> str:
        """The request's path below the first server's base URL (e.g. `/api/embed`)."""
        base_path = self.primary.path.rstrip("/")
        path = str(request.url.path)
        return path[len(base_path):] if base_path and path.startswith(base_path) else path

    def aim(self, request: Any, server: Server, relative: str) -> None:
        """Point `request` at `server` (a no-op for a single server)."""
        if len(self.servers) == 1:
            return
        target = httpx.URL(server.url)
        request.url = request.url.copy_with(
            scheme=target.scheme, host=target.host, port=target.port,
            path=target.path.rstrip("/") + relative)
        request.headers["Host"] = request.url.netloc.decode("ascii")

    def route(self, request: Any,
              unanswered: tuple[type[Exception], ...]) -> Core[tuple[Any, Server]]:
        """The failover loop as a core (`ragloom.providers._drive`): acquire a turn, send.

        Returns the response and the server whose turn it holds (released when the
        response's body is closed). A server that does not answer is skipped for a
        while and the request moves to the next one; the last one's error is raised.
        """
        candidates = self.candidates()
        relative = self.relative(request)
        for n, server in enumerate(candidates):
            self.aim(request, server, relative)
            yield ("acquire", server.queue)
            try:
                response = yield ("send", request)
            except unanswered as exc:
                server.queue.release()
                if len(candidates) == 1:
                    raise
                server.failed(exc)
                if n == len(candidates) - 1:
                    raise
                continue
            except BaseException:
                server.queue.release()
                raise
            server.answered()
            return response, server
        raise AssertionError("unreachable: there is always one server")


def _count_pieces(chunk: bytes, sse: bool) -> int:
    # NDJSON: one object per line (the last one carries no token); SSE: one `data:` per event.
    return chunk.count(b"\ndata:") + chunk.startswith(b"data:") if sse else chunk.count(b"\n")


def _release_once(released: threading.Event, queue: ServerQueue) -> None:
    if not released.is_set():
        released.set()
        queue.release()


@functools.cache
def _stream_classes(http: Any) -> tuple[type, type, tuple[type[Exception], ...],
                                        tuple[type[Exception], ...]]:
    """Body wrappers and error classes for an httpx-like module (httpx, or httpx2).

    A module's `Response` checks that a stream is its own `SyncByteStream` or
    `AsyncByteStream`; openai >= 3 uses the httpx2 fork.
    """
    cut = (http.RemoteProtocolError, http.ReadError)
    unanswered = (http.ConnectError, http.ConnectTimeout, http.RemoteProtocolError,
                  http.ReadError, http.WriteError)

    class Releasing(http.SyncByteStream):  # type: ignore[misc]
        def __init__(self, inner: Any, queue: ServerQueue, url: str, sse: bool) -> None:
            self.inner, self.queue, self.url, self.sse = inner, queue, url, sse
            self.released = threading.Event()

        def __iter__(self) -> Iterator[bytes]:
            pieces = 0
            try:
                for chunk in self.inner:
                    pieces += _count_pieces(chunk, self.sse)
                    yield chunk
            except cut as exc:
                raise StreamInterrupted(str(exc), received=pieces, url=self.url) from exc

        def close(self) -> None:
            try:
                self.inner.close()
            finally:
                _release_once(self.released, self.queue)

    class AsyncReleasing(http.AsyncByteStream):  # type: ignore[misc]
        def __init__(self, inner: Any, queue: ServerQueue, url: str, sse: bool) -> None:
            self.inner, self.queue, self.url, self.sse = inner, queue, url, sse
            self.released = threading.Event()

        async def __aiter__(self) -> AsyncIterator[bytes]:
            pieces = 0
            try:
                async for chunk in self.inner:
                    pieces += _count_pieces(chunk, self.sse)
                    yield chunk
            except cut as exc:
                raise StreamInterrupted(str(exc), received=pieces, url=self.url) from exc

        async def aclose(self) -> None:
            try:
                await self.inner.aclose()
            finally:
                _release_once(self.released, self.queue)

    return Releasing, AsyncReleasing, cut, unanswered


def _wrap(http: Any, response: Any, stream: Any) -> Any:
    return http.Response(status_code=response.status_code, headers=response.headers,
                         stream=stream, extensions=response.extensions)


def _is_sse(request: Any) -> bool:
    return bool(request.url.path.endswith("/chat/completions"))


class _SyncIO:
    """The operations of `_Router.route`, blocking."""

    def __init__(self, transport: ServerTransport) -> None:
        self.transport = transport

    @staticmethod
    def acquire(queue: ServerQueue) -> None:
        queue.acquire()

    def send(self, request: Any) -> Any:
        return self.transport.inner.handle_request(request)


class _AsyncIO:
    """The operations of `_Router.route`, awaited."""

    def __init__(self, transport: AsyncServerTransport) -> None:
        self.transport = transport

    @staticmethod
    async def acquire(queue: ServerQueue) -> None:
        await queue.aacquire()

    async def send(self, request: Any) -> Any:
        return await self.transport.inner.handle_async_request(request)


def _shared_tls(http: Any) -> dict[str, Any]:
    """The process's one TLS context, for httpx transports (httpx2's build their own)."""
    return {"verify": default_context()} if http is httpx else {}


class ServerTransport(httpx.BaseTransport):
    """A sync transport: wait for the server's turn, send, fail over if it does not answer.

    Example:
        >>> t = ServerTransport(server_pool("ollama", ["http://127.0.0.1:9"], limit=2))
        >>> t.close()

    """

    def __init__(self, servers: list[Server], inner: Any = None, *, http: Any = httpx) -> None:
        self.router = _Router(servers)
        self.http = http
        """The httpx-like module of the client using this transport (httpx or httpx2)."""
        self.inner = inner if inner is not None else http.HTTPTransport(
            **_shared_tls(http))
        self._io = _SyncIO(self)

    def handle_request(self, request: Any) -> Any:
        """Send `request` to the first server that answers, in its turn."""
        releasing, _, _, unanswered = _stream_classes(self.http)
        response, server = drive(self.router.route(request, unanswered), self._io)
        return _wrap(self.http, response, releasing(response.stream, server.queue, server.url,
                                                    _is_sse(request)))

    def close(self) -> None:
        """Close the inner transport."""
        self.inner.close()


class AsyncServerTransport(httpx.AsyncBaseTransport):
    """The async driver of `ServerTransport`'s decisions.

    Example:
        >>> t = AsyncServerTransport(server_pool("ollama", ["http://127.0.0.1:9"], limit=2))

    """

    def __init__(self, servers: list[Server], inner: Any = None, *, http: Any = httpx) -> None:
        self.router = _Router(servers)
        self.http = http
        self.inner = inner if inner is not None else http.AsyncHTTPTransport(
            **_shared_tls(http))
        self._io = _AsyncIO(self)

    async def handle_async_request(self, request: Any) -> Any:
        """Send `request` to the first server that answers, in its turn."""
        _, releasing, _, unanswered = _stream_classes(self.http)
        response, server = await adrive(self.router.route(request, unanswered), self._io)
        return _wrap(self.http, response, releasing(response.stream, server.queue, server.url,
                                                    _is_sse(request)))

    async def aclose(self) -> None:
        """Close the inner transport."""
        await self.inner.aclose()
