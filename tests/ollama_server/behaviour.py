"""How this server behaves like a given Ollama: its version, parallelism, queue and latency.

    python -m tests.ollama_server --parallel 1 --latency-ms 75 --ollama-version 0.1.30

- `version`: what `/api/version` answers, and the version-dependent behaviour that goes
  with it: below 0.2.6 there is no `/api/embed` nor `/v1/embeddings` (gin's plain-text
  `404 page not found`); from 0.13.5 to 0.24.x `/api/embed` rejects an input longer than the
  context even without `"truncate": false` (other versions cut it silently); before 0.12
  the rejection reads "input length exceeds maximum context length".
- `parallel`: OLLAMA_NUM_PARALLEL, requests one model runs at once (Ollama's default is 1
  since 0.10); the others wait in the scheduler's queue.
- `max_queue`: OLLAMA_MAX_QUEUE (default 512): a request arriving when that many wait gets
  503 `server busy, please try again.  maximum pending requests exceeded`.
- `latency_s`: simulated model time added to every chat and embed request while it holds
  its slot (a GPU box's per-request cost, for throughput benchmarks).

The scheduler also measures the server's busy time: the wall time during which at least one
request held a slot (`Scheduler.busy_s`).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

from .wire import OLLAMA_VERSION, ApiError

__all__ = ["EMBED_ROUTES_SINCE", "ERR_MAX_QUEUE", "Behaviour", "Scheduler", "version_tuple"]

ERR_MAX_QUEUE = "server busy, please try again.  maximum pending requests exceeded"
"""server/sched.go ErrMaxQueue, answered with status 503."""

EMBED_ROUTES_SINCE = (0, 2, 6)
"""/api/embed and /v1/embeddings appeared in Ollama 0.2.6."""


def version_tuple(version: str) -> tuple[int, ...]:
    """'0.13.5' → (0, 13, 5); a suffix such as '-rc1' is ignored."""
    parts = []
    for piece in version.split("-", 1)[0].split("."):
        digits = "".join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits or 0))
    return tuple(parts)


@dataclass
class Behaviour:
    """The selectable traits of the Ollama this server imitates."""

    version: str = OLLAMA_VERSION
    parallel: int = 1
    max_queue: int = 512
    latency_s: float = 0.0

    @property
    def has_embed_routes(self) -> bool:
        """Whether /api/embed and /v1/embeddings exist."""
        return version_tuple(self.version) >= EMBED_ROUTES_SINCE

    @property
    def rejects_long_embed_input(self) -> bool:
        """0.13.5 to 0.24.x reject over-long inputs even when truncation was not refused."""
        return (0, 13, 5) <= version_tuple(self.version) < (0, 25)

    @property
    def too_long_message(self) -> str:
        """The text of the 400 for an input longer than the context, as this version says it."""
        if version_tuple(self.version) < (0, 12):
            return "input length exceeds maximum context length"
        return "the input length exceeds the context length"


class Scheduler:
    """Ollama's scheduler in miniature: `parallel` slots per model, a bounded wait queue."""

    def __init__(self, behaviour: Behaviour) -> None:
        self.behaviour = behaviour
        self._slots: dict[str, asyncio.Semaphore] = {}
        self._lock = threading.Lock()
        self._pending = 0
        self._active = 0
        self._busy_since: float | None = None
        self._busy_total = 0.0
        self.requests = 0
        """Requests that held a slot."""
        self.max_active = 0
        """The most requests ever running at once."""

    def _slot(self, model: str) -> asyncio.Semaphore:
        if model not in self._slots:
            self._slots[model] = asyncio.Semaphore(max(self.behaviour.parallel, 1))
        return self._slots[model]

    @property
    def busy_s(self) -> float:
        """Seconds during which at least one request was running."""
        with self._lock:
            extra = time.perf_counter() - self._busy_since if self._busy_since else 0.0
            return self._busy_total + extra

    def _started(self) -> None:
        with self._lock:
            if self._active == 0:
                self._busy_since = time.perf_counter()
            self._active += 1
            self.requests += 1
            self.max_active = max(self.max_active, self._active)

    def _ended(self) -> None:
        with self._lock:
            self._active -= 1
            if self._active == 0 and self._busy_since is not None:
                self._busy_total += time.perf_counter() - self._busy_since
                self._busy_since = None

    async def acquire(self, model: str) -> Callable[[], None]:
        """Wait for a slot of `model`; returns the (thread-safe, idempotent) release."""
        slot = self._slot(model)
        if slot.locked():
            if self._pending >= self.behaviour.max_queue:
                raise ApiError(503, ERR_MAX_QUEUE)
            self._pending += 1
            try:
                await slot.acquire()
            finally:
                self._pending -= 1
        else:
            await slot.acquire()
        self._started()
        loop = asyncio.get_running_loop()
        released = threading.Event()

        def release() -> None:
            if released.is_set():
                return
            released.set()
            self._ended()
            loop.call_soon_threadsafe(slot.release)

        try:
            if self.behaviour.latency_s > 0:
                await asyncio.sleep(self.behaviour.latency_s)
        except BaseException:
            release()
            raise
        return release

    @asynccontextmanager
    async def running(self, model: str) -> AsyncIterator[None]:
        """Hold a slot of `model` for the duration of the block."""
        release = await self.acquire(model)
        try:
            yield
        finally:
            release()
