"""Retries with exponential backoff for transient HTTP failures, at the httpx transport.

Retried: connection refused/reset before any answer (`httpx.ConnectError`,
`httpx.RemoteProtocolError`, `httpx.ReadError`, `httpx.WriteError`), status 429 and
5xx (500, 502, 503, 504). Never retried: any other 4xx (a missing model stays
missing), timeouts (a cold model load would only start over; raise `timeout_s`
instead), and failures after a streamed body has started (the transport has handed
the response on by then). `Retry-After` (seconds) is honoured, capped at
`max_backoff_s`.

httpx's own `HTTPTransport(retries=n)` retries connect errors only; the ollama client
has no retries at all; the openai client has its own (`max_retries`), so this module
is used for Ollama only.

Example:
    >>> import httpx
    >>> client = httpx.Client(transport=RetryTransport(max_retries=2))
    >>> client._transport.max_retries
    2

"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from typing import Any

import httpx

from ragloom.providers._drive import Core, adrive, drive
from ragloom.providers._tls import default_context

__all__ = ["RETRY_STATUSES", "AsyncRetryTransport", "RetryTransport", "backoff_delay"]

log = logging.getLogger("ragloom.retry")

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
"""HTTP statuses worth another try."""

_RETRY_ERRORS = (httpx.ConnectError, httpx.RemoteProtocolError, httpx.ReadError,
                 httpx.WriteError)


def backoff_delay(attempt: int, *, base_s: float, max_s: float,
                  retry_after: str | None = None) -> float:
    """Seconds to wait before retry number `attempt` (1-based): exponential with jitter.

    Example:
        >>> backoff_delay(1, base_s=0.0, max_s=5.0)
        0.0
        >>> backoff_delay(3, base_s=1.0, max_s=5.0, retry_after="2")
        2.0

    """
    if retry_after is not None:
        try:
            return min(max(float(retry_after), 0.0), max_s)
        except ValueError:
            pass
    delay = base_s * (2 ** (attempt - 1))
    return float(min(delay + random.uniform(0, base_s / 2), max_s)) if base_s else 0.0


def _describe(request: httpx.Request, outcome: httpx.Response | Exception) -> str:
    what = (f"status {outcome.status_code}" if isinstance(outcome, httpx.Response)
            else type(outcome).__name__)
    # Only method and path: a query string could carry a key.
    return f"{request.method} {request.url.path}: {what}"


class _RetryPolicy:
    """The decisions both transports share, free of I/O: attempt, wait, give up."""

    _io_class: Any
    """The operations' driver-side implementation (`_SyncIO` or `_AsyncIO`)."""

    @staticmethod
    def _default_inner() -> Any:
        raise NotImplementedError

    def __init__(self, inner: Any = None, *, max_retries: int = 2, backoff_s: float = 0.5,
                 max_backoff_s: float = 8.0) -> None:
        self.inner = inner if inner is not None else self._default_inner()
        """The transport that sends each attempt."""
        self._io = self._io_class(self)
        self.max_retries = max_retries
        """Extra attempts after the first (0 turns retrying off)."""
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s

    def _gives_up(self, attempt: int, outcome: httpx.Response | Exception) -> bool:
        if isinstance(outcome, httpx.Response) and outcome.status_code not in RETRY_STATUSES:
            return True
        return attempt >= self.max_retries

    def _delay(self, request: httpx.Request, attempt: int,
               outcome: httpx.Response | Exception) -> float:
        retry_after = (outcome.headers.get("retry-after")
                       if isinstance(outcome, httpx.Response) else None)
        delay = backoff_delay(attempt, base_s=self.backoff_s, max_s=self.max_backoff_s,
                              retry_after=retry_after)
        log.warning("retry %d/%d in %.1f s after %s", attempt, self.max_retries, delay,
                    _describe(request, outcome))
        return delay

    def _attempts(self, request: httpx.Request) -> Core[httpx.Response]:
        """The retry loop as a core (`ragloom.providers._drive`): send, discard, sleep."""
        attempt = 0
        while True:
            try:
                outcome: httpx.Response | Exception = yield ("send", request)
            except _RETRY_ERRORS as exc:
                outcome = exc
            if self._gives_up(attempt, outcome):
                if isinstance(outcome, Exception):
                    raise outcome
                return outcome
            if isinstance(outcome, httpx.Response):
                yield ("discard", outcome)
            attempt += 1
            yield ("sleep", self._delay(request, attempt, outcome))


class _SyncIO:
    """The operations of `_RetryPolicy._attempts`, blocking."""

    def __init__(self, transport: Any) -> None:
        self.transport = transport

    def send(self, request: httpx.Request) -> httpx.Response:
        response: httpx.Response = self.transport.inner.handle_request(request)
        return response

    @staticmethod
    def sleep(seconds: float) -> None:
        time.sleep(seconds)

    @staticmethod
    def discard(response: httpx.Response) -> None:
        response.read()
        response.close()


class _AsyncIO:
    """The operations of `_RetryPolicy._attempts`, awaited."""

    def __init__(self, transport: Any) -> None:
        self.transport = transport

    async def send(self, request: httpx.Request) -> httpx.Response:
        response: httpx.Response = await self.transport.inner.handle_async_request(request)
        return response

    @staticmethod
    async def sleep(seconds: float) -> None:
        await asyncio.sleep(seconds)

    @staticmethod
    async def discard(response: httpx.Response) -> None:
        await response.aread()
        await response.aclose()


class RetryTransport(_RetryPolicy, httpx.BaseTransport):
    """A sync httpx transport that retries transient failures of an inner transport.

    Example:
        >>> import httpx
        >>> t = RetryTransport(max_retries=3, backoff_s=0.1)
        >>> httpx.Client(transport=t).close()

    """

    inner: httpx.BaseTransport
    _io_class = _SyncIO

    @staticmethod
    def _default_inner() -> httpx.BaseTransport:
        return httpx.HTTPTransport(verify=default_context())

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Send `request`, retrying 429/5xx answers and dropped connections."""
        return drive(self._attempts(request), self._io)

    def close(self) -> None:
        """Close the inner transport."""
        self.inner.close()


class AsyncRetryTransport(_RetryPolicy, httpx.AsyncBaseTransport):
    """The async driver of `RetryTransport`'s decisions.

    Example:
        >>> import httpx
        >>> client = httpx.AsyncClient(transport=AsyncRetryTransport(max_retries=1))

    """

    inner: httpx.AsyncBaseTransport
    _io_class = _AsyncIO

    @staticmethod
    def _default_inner() -> httpx.AsyncBaseTransport:
        return httpx.AsyncHTTPTransport(verify=default_context())

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send `request`, retrying 429/5xx answers and dropped connections."""
        return await adrive(self._attempts(request), self._io)

    async def aclose(self) -> None:
        """Close the inner transport."""
        await self.inner.aclose()
