"""In-process fault injection: errors, slow answers and dropped connections, set from Python.

    server.faults.add("/api/chat", status=500, times=1)          # one 500, then normal
    server.faults.add("/api/embed", delay_s=2.0)                 # a cold-load-like first answer
    server.faults.add("/api/tags", drop=True)                    # connection closed, no answer
    server.faults.add("/api/chat", drop_after_chunks=2)          # stream cut after two chunks
    server.faults.add("/api/chat", status=500, message=RUNNER_TERMINATED, times=None)

There is deliberately no HTTP admin route: recorded traffic must contain only Ollama's API.
"""

from __future__ import annotations

import asyncio
import fnmatch
import threading
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

from .wire import go_json, openai_error_body

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

__all__ = ["RUNNER_TERMINATED", "Fault", "FaultMiddleware", "Faults"]

RUNNER_TERMINATED = "llama runner process has terminated: signal: killed"
"""What Ollama answers (500) when the model runner dies, usually killed for lack of memory."""


@dataclass
class Fault:
    """One rule. `path` may be a glob (`/api/*`); `times=None` applies to every match."""

    path: str
    method: str | None = None
    status: int | None = None
    body: Any = None
    message: str | None = None
    headers: dict[str, str] | None = None
    times: int | None = 1
    delay_s: float = 0.0
    drop: bool = False
    drop_after_chunks: int | None = None
    hits: int = field(default=0, init=False)

    def matches(self, method: str, path: str) -> bool:
        """Whether this rule applies to a request (ignoring how many times it has left)."""
        if self.method and self.method.upper() != method.upper():
            return False
        return fnmatch.fnmatchcase(path, self.path)

    @property
    def exhausted(self) -> bool:
        """True once the rule has fired `times` times."""
        return self.times is not None and self.hits >= self.times


class Faults:
    """The rules a running server applies, first match wins; safe to change from any thread."""

    def __init__(self) -> None:
        self._rules: list[Fault] = []
        self._lock = threading.Lock()

    def add(
        self,
        path: str,
        *,
        status: int | None = None,
        body: Any = None,
        message: str | None = None,
        headers: dict[str, str] | None = None,
        times: int | None = 1,
        delay_s: float = 0.0,
        drop: bool = False,
        drop_after_chunks: int | None = None,
        method: str | None = None,
    ) -> Fault:
        """Add a rule.

        status: answer with this status instead of the real handler (`body` is a dict sent as
            JSON, or str/bytes; default: Ollama's `{"error": message}`, OpenAI's shape under /v1).
        message: the error text of the default body.
        delay_s: wait first; alone, the real answer follows the delay.
        drop: close the connection without any answer.
        drop_after_chunks: run the real handler, then cut the connection after that many body
            chunks (0 = right after the headers).
        """
        if status is None and not drop and drop_after_chunks is None and delay_s <= 0:
            raise ValueError("a fault needs status, delay_s, drop or drop_after_chunks")
        if status is not None and (drop or drop_after_chunks is not None):
            raise ValueError("status and drop/drop_after_chunks exclude each other")
        rule = Fault(path=path, method=method, status=status, body=body, message=message,
                     headers=headers,
                     times=times, delay_s=delay_s, drop=drop,
                     drop_after_chunks=drop_after_chunks)
        with self._lock:
            self._rules.append(rule)
        return rule

    def clear(self) -> None:
        """Remove every rule."""
        with self._lock:
            self._rules.clear()

    @property
    def rules(self) -> list[Fault]:
        """A snapshot of the rules, exhausted ones included (their `hits` stay readable)."""
        with self._lock:
            return list(self._rules)

    def take(self, method: str, path: str) -> Fault | None:
        """The first live rule matching the request, counted as used."""
        with self._lock:
            for rule in self._rules:
                if not rule.exhausted and rule.matches(method, path):
                    rule.hits += 1
                    return rule
        return None


class _Dropped(Exception):
    """Raised into the app once its connection has been cut on purpose."""


def _contains_dropped(exc: BaseException) -> bool:
    if isinstance(exc, _Dropped):
        return True
    inner = getattr(exc, "exceptions", None)  # anyio task groups wrap it in an ExceptionGroup
    return bool(inner) and any(_contains_dropped(e) for e in inner)


async def _abort_connection(send: Send) -> None:
    """Reset the TCP connection under uvicorn (its `send` is a bound method of the cycle)."""
    cycle = getattr(send, "__self__", None)
    transport = getattr(cycle, "transport", None)
    if transport is None:
        raise RuntimeError("drop faults need uvicorn as the server")
    transport.abort()
    await asyncio.sleep(0)  # let connection_lost run so uvicorn sees the disconnect


class FaultMiddleware:
    """Outermost ASGI layer: applies `Faults` before the Ollama routes see the request."""

    def __init__(self, app: ASGIApp, faults: Faults) -> None:
        self.app = app
        self.faults = faults

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one request, unless a rule says otherwise."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rule = self.faults.take(scope["method"], scope["path"])
        if rule is None:
            await self.app(scope, receive, send)
            return
        if rule.delay_s > 0:
            await asyncio.sleep(rule.delay_s)
        if rule.drop:
            await _abort_connection(send)
            return
        if rule.status is not None:
            await self._canned(scope, send, rule)
            return
        if rule.drop_after_chunks is None:
            await self.app(scope, receive, send)
            return
        await self._cut(scope, receive, send, rule.drop_after_chunks)

    async def _canned(self, scope: Scope, send: Send, rule: Fault) -> None:
        status = rule.status or 500
        body = rule.body
        if body is None:
            message = rule.message or f"injected fault (status {status})"
            v1 = scope["path"].startswith("/v1/")
            body = openai_error_body(message, status) if v1 else {"error": message}
        raw = body if isinstance(body, bytes) else body.encode() if isinstance(body, str) \
            else go_json(body)
        headers = {"content-type": "application/json; charset=utf-8",
                   **{k.lower(): v for k, v in (rule.headers or {}).items()}}
        headers["content-length"] = str(len(raw))
        await send({"type": "http.response.start", "status": status,
                    "headers": [(k.encode(), v.encode()) for k, v in headers.items()]})
        await send({"type": "http.response.body", "body": raw})

    async def _cut(self, scope: Scope, receive: Receive, send: Send, after: int) -> None:
        chunks = 0

        async def cutting_send(message: Message) -> None:
            nonlocal chunks
            if message["type"] == "http.response.body":
                if chunks >= after:
                    await _abort_connection(send)
                    raise _Dropped
                chunks += 1
            await send(message)
            if message["type"] == "http.response.start" and after == 0:
                await _abort_connection(send)
                raise _Dropped

        try:
            await self.app(scope, receive, cutting_send)
        except Exception as exc:
            if not _contains_dropped(exc):
                raise
