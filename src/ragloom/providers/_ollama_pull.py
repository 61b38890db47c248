"""Pulling Ollama models, and the mixin that pulls a missing model once (`auto_pull`).

Example:
    >>> pull_model("all-minilm", on_progress=lambda p: print(p.status))  # doctest: +SKIP
    pulling manifest
    ...
    success

"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, cast

import ollama

from ragloom._redact import MASK, mask_url
from ragloom.config import ollama_url
from ragloom.errors import ModelNotFound
from ragloom.providers._drive import Core, adrive, drive
from ragloom.providers._errors import translated

__all__ = ["apull_model", "pull_model"]

log = logging.getLogger("ragloom.ollama")
T = TypeVar("T")


def _pull_failed(model: str, url: str, error: object) -> ModelNotFound:
    return ModelNotFound(
        f"could not pull model {model!r} at {url}: {error}. Check the name on"
        " https://ollama.com/library (a tag such as ':1b' may be needed) and that the"
        " server can reach its registry",
        model=model,
    )


def _pulling_model(model: str, url: str) -> Core[None]:
    """Pulling as a core (`ragloom.providers._drive`): `pull`, and what its errors mean."""
    with translated(provider="ollama", model=model, base_url=url, section="llm"):
        try:
            yield ("pull", model)
        except ollama.ResponseError as exc:
            if exc.status_code == 404 or exc.status_code < 0 or "manifest" in exc.error:
                raise _pull_failed(model, url, exc.error) from exc
            raise


Progress = Callable[[ollama.ProgressResponse], None]


def pull_model(
    model: str,
    *,
    base_url: str | None = None,
    client: ollama.Client | None = None,
    on_progress: Progress | None = None,
    headers: dict[str, str] | None = None,
) -> None:
    """Pull `model` through Ollama's `/api/pull`, streaming progress to `on_progress`.

    Raises:
        ModelNotFound: The registry has no such model (the message says what to check).
        ProviderUnavailable: The server cannot be reached.

    Example:
        >>> pull_model("all-minilm", on_progress=lambda p: print(p.status))  # doctest: +SKIP
        pulling manifest
        ...
        success

    """
    url = ollama_url(base_url)
    client = client if client is not None else ollama.Client(host=url, headers=headers)
    drive(_pulling_model(model, url), _SyncPull(client, on_progress))


async def apull_model(model: str, *, base_url: str | None = None,
                      client: ollama.AsyncClient | None = None,
                      on_progress: Progress | None = None,
                      headers: dict[str, str] | None = None) -> None:
    """Async driver of `pull_model`'s decisions, with the same arguments.

    Example:
        >>> import asyncio
        >>> asyncio.run(apull_model("all-minilm"))  # doctest: +SKIP

    """
    url = ollama_url(base_url)
    client = client if client is not None else ollama.AsyncClient(host=url, headers=headers)
    await adrive(_pulling_model(model, url), _AsyncPull(client, on_progress))


class _SyncPull:
    def __init__(self, client: ollama.Client, on_progress: Progress | None) -> None:
        self.client, self.on_progress = client, on_progress

    def pull(self, model: str) -> None:
        for progress in self.client.pull(model, stream=True):
            if self.on_progress is not None:
                self.on_progress(progress)


class _AsyncPull:
    def __init__(self, client: ollama.AsyncClient, on_progress: Progress | None) -> None:
        self.client, self.on_progress = client, on_progress

    async def pull(self, model: str) -> None:
        async for progress in await self.client.pull(model, stream=True):
            if self.on_progress is not None:
                self.on_progress(progress)


class _AutoPull:
    """Mixin: on `ModelNotFound`, pull the model once (if `auto_pull`) and try again."""

    model: str
    base_url: str | None
    auto_pull: bool

    def __repr_args__(self) -> Any:
        # llm.headers may carry a bearer token for an Ollama behind a proxy: never show it.
        for name, value in super().__repr_args__():  # type: ignore[misc]
            if name == "client_kwargs" and isinstance(value, dict) and "headers" in value:
                value = {**value, "headers": dict.fromkeys(value["headers"], MASK)}
            elif name == "base_url" and isinstance(value, str):
                value = mask_url(value)
            yield name, value

    @property
    def lc_secrets(self) -> dict[str, str]:
        """Should LangChain ever serialize these models: the client kwargs carry headers."""
        secrets = {}
        if (getattr(self, "client_kwargs", None) or {}).get("headers"):
            secrets["client_kwargs"] = "RAGLOOM_OLLAMA_CLIENT_KWARGS"
        if self.base_url is not None and mask_url(self.base_url) != self.base_url:
            secrets["base_url"] = "RAGLOOM_OLLAMA_BASE_URL"
        return secrets

    def _pulling(self) -> Core[Any]:
        """A core (`ragloom.providers._drive`): `call`; if the model is missing, `pull`, `call`."""
        try:
            return (yield ("call",))
        except ModelNotFound:
            if not self.auto_pull:
                raise
        log.warning("model %r is missing at %s: pulling it (auto_pull)", self.model,
                    mask_url(ollama_url(self.base_url)))
        yield ("pull",)
        return (yield ("call",))

    def _pulled_then(self, call: Callable[[], T]) -> T:
        io = _PullIO(call=call, pull=lambda: pull_model(
            self.model, base_url=self.base_url, client=getattr(self, "_client", None)))
        return cast(T, drive(self._pulling(), io))

    async def _apulled_then(self, call: Callable[[], Awaitable[T]]) -> T:
        io = _PullIO(call=call, pull=lambda: apull_model(
            self.model, base_url=self.base_url, client=getattr(self, "_async_client", None)))
        return cast(T, await adrive(self._pulling(), io))


class _PullIO:
    """The two operations of `_AutoPull._pulling` (blocking or awaitable alike)."""

    def __init__(self, call: Callable[[], Any], pull: Callable[[], Any]) -> None:
        self.call, self.pull = call, pull
