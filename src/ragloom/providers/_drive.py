"""One source for a sync and an async path: an I/O-free core and two thin drivers.

A *core* is a generator that makes every decision (retry or stop, which server next, how
to split a batch the server refused) and does no I/O itself: it yields each operation it
needs as a tuple `(name, *args)`, e.g. `("send", request)` or `("sleep", 0.5)`, and gets
back the operation's result, or has its exception raised at the `yield`. `drive` performs
the operations by calling `getattr(io, name)(*args)`; `adrive` awaits them. The same core
then runs under both, so the two paths cannot drift apart (tenacity's `iter()` and h11's
state machine work the same way).

Example:
    >>> def core(n):
    ...     got = yield ("double", n)
    ...     return got + 1
    >>> class SyncIO:
    ...     def double(self, n): return 2 * n
    >>> drive(core(20), SyncIO())
    41
    >>> import asyncio
    >>> class AsyncIO:
    ...     async def double(self, n): return 2 * n
    >>> asyncio.run(adrive(core(20), AsyncIO()))
    41

"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any, TypeVar

__all__ = ["Core", "adrive", "drive"]

R = TypeVar("R")

Core = Generator[tuple[Any, ...], Any, R]
"""A core: yields `(operation name, *args)`, receives the result, returns the answer."""


def _advance(core: Core[R], result: Any, error: BaseException | None) -> tuple[bool, Any]:
    """Resume `core` with a result (or an error): (True, its answer) or (False, next op)."""
    try:
        return False, core.send(result) if error is None else core.throw(error)
    except StopIteration as stop:
        return True, stop.value


def drive(core: Core[R], io: Any) -> R:
    """Run `core` to its answer, performing each operation with `io`'s method of that name.

    Example:
        >>> def core():
        ...     return (yield ("now",))
        >>> drive(core(), type("IO", (), {"now": lambda self: 7})())
        7

    """
    outcome: tuple[Any, BaseException | None] = (None, None)
    while True:
        done, value = _advance(core, *outcome)
        if done:
            return value  # type: ignore[no-any-return]
        try:
            outcome = (getattr(io, value[0])(*value[1:]), None)
        except BaseException as exc:  # raised at the core's yield: the core decides
            outcome = (None, exc)


async def adrive(core: Core[R], io: Any) -> R:
    """Async twin of `drive`: each operation is awaited (`io`'s methods are coroutines).

    Example:
        >>> import asyncio
        >>> async def sleep(self, s): return s
        >>> def core():
        ...     return (yield ("sleep", 0.0))
        >>> asyncio.run(adrive(core(), type("IO", (), {"sleep": sleep})()))
        0.0

    """
    outcome: tuple[Any, BaseException | None] = (None, None)
    while True:
        done, value = _advance(core, *outcome)
        if done:
            return value  # type: ignore[no-any-return]
        try:
            outcome = (await getattr(io, value[0])(*value[1:]), None)
        except BaseException as exc:
            outcome = (None, exc)
