"""`ServerQueue`: a first-come-first-served limit on requests in flight to one server.

Threads wait on an `Event`, coroutines on a future of their own event loop; a released
turn goes to the longest waiter, whichever kind it is. `ragloom.providers._servers`
keeps one queue per server for the whole process.

Example:
    >>> q = ServerQueue(limit=2)
    >>> q.acquire(); q.load
    0.5

"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from dataclasses import dataclass

__all__ = ["ServerQueue"]


@dataclass(eq=False)
class _Waiter:
    event: threading.Event | None = None
    loop: asyncio.AbstractEventLoop | None = None
    future: asyncio.Future[None] | None = None
    granted: bool = False

    def grant(self) -> bool:
        """Hand the slot to this waiter; False if it can no longer take it."""
        if self.event is not None:
            self.granted = True
            self.event.set()
            return True
        assert self.loop is not None and self.future is not None
        future = self.future

        def wake() -> None:
            if not future.done():
                future.set_result(None)

        try:
            self.loop.call_soon_threadsafe(wake)
        except RuntimeError:  # its event loop is closed: nobody is waiting any more
            return False
        self.granted = True
        return True


class ServerQueue:
    """A first-come-first-served limit on requests in flight, for threads and event loops.

    Example:
        >>> q = ServerQueue(limit=1)
        >>> q.acquire(); q.in_flight
        1
        >>> q.release(); q.in_flight
        0

    """

    def __init__(self, limit: int) -> None:
        self.limit = max(limit, 1)
        self._lock = threading.Lock()
        self._active = 0
        self._waiters: deque[_Waiter] = deque()

    @property
    def in_flight(self) -> int:
        """Requests holding a turn now."""
        return self._active

    @property
    def load(self) -> float:
        """Requests in flight or waiting, per slot."""
        return (self._active + len(self._waiters)) / self.limit

    def _take(self) -> bool:
        if self._active < self.limit and not self._waiters:
            self._active += 1
            return True
        return False

    def acquire(self) -> None:
        """Wait (blocking this thread) for a turn."""
        with self._lock:
            if self._take():
                return
            waiter = _Waiter(event=threading.Event())
            self._waiters.append(waiter)
        assert waiter.event is not None
        waiter.event.wait()

    async def aacquire(self) -> None:
        """Wait (without blocking the event loop) for a turn."""
        loop = asyncio.get_running_loop()
        with self._lock:
            if self._take():
                return
            waiter = _Waiter(loop=loop, future=loop.create_future())
            self._waiters.append(waiter)
        assert waiter.future is not None
        try:
            await waiter.future
        except asyncio.CancelledError:
            with self._lock:
                granted = waiter.granted
                if not granted:
                    self._waiters.remove(waiter)
            if granted:  # the turn arrived as the caller gave up: pass it on
                self.release()
            raise

    def release(self) -> None:
        """End a turn; the longest waiter, if any, gets it."""
        with self._lock:
            while self._waiters:
                if self._waiters.popleft().grant():
                    return
            self._active = max(self._active - 1, 0)

    def raise_limit(self, limit: int) -> None:
        """Allow more at once (a second model configured with a higher limit)."""
        with self._lock:
            extra = limit - self.limit
            if extra <= 0:
                return
            self.limit = limit
            while extra and self._waiters:
                if self._waiters.popleft().grant():
                    self._active += 1
                    extra -= 1
