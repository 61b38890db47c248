"""The `ollama` provider: local chat and embedding models through langchain-ollama.

The server is `base_url`, else `OLLAMA_HOST`, else http://127.0.0.1:11434. The
classes returned are `ChatOllama` / `OllamaEmbeddings` subclasses that differ only
in turning client errors into ragloom's (`ModelNotFound` with the `ollama pull`
command, `ProviderUnavailable` with the URL, `ProviderTimeout` with the setting),
in retrying transient failures (429, 5xx, dropped connections; `llm.max_retries`)
with backoff at the httpx transport, and, with `auto_pull`, in pulling a missing
model through `/api/pull` and trying once more.

Example:
    >>> from ragloom.config import LLMSettings
    >>> llm = OllamaProvider().chat_model(LLMSettings(model="smollm2:135m", num_ctx=4096))
    >>> llm.num_ctx
    4096

"""

from __future__ import annotations

import contextlib
import itertools
import logging
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from typing import Any, TypeVar, cast

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import LangSmithParams
from langchain_core.messages import BaseMessage
from langchain_core.outputs import ChatGenerationChunk, ChatResult
from langchain_ollama import ChatOllama

from ragloom.config import EmbeddingsSettings, LLMSettings, ModelSettings, ollama_url
from ragloom.config import keep_alive_seconds as _keep_alive_seconds
from ragloom.errors import ConfigError
from ragloom.providers import ModelUse, ProviderChecks, _ollama_checks
from ragloom.providers._errors import translated, translated_aiter, translated_iter
from ragloom.providers._ollama_api import MIN_OLLAMA_VERSION, check_ollama_version
from ragloom.providers._ollama_embeddings import RagloomOllamaEmbeddings
from ragloom.providers._ollama_pull import _AutoPull, apull_model, pull_model
from ragloom.providers._retry import AsyncRetryTransport, RetryTransport
from ragloom.providers._servers import (
    AsyncServerTransport,
    ServerTransport,
    parse_urls,
    server_pool,
)

__all__ = ["MIN_OLLAMA_VERSION", "OllamaProvider", "RagloomChatOllama",
           "RagloomOllamaEmbeddings", "apull_model", "check_ollama_version", "pull_model"]

log = logging.getLogger("ragloom.ollama")
T = TypeVar("T")



def keep_alive_seconds(value: str | int | None) -> int | None:
    """Ollama's `keep_alive` ("30m", "1h30m", 300, -1) as whole seconds.

    Example:
        >>> keep_alive_seconds("30m"), keep_alive_seconds(-1), keep_alive_seconds(None)
        (1800, -1, None)

    """
    try:
        return _keep_alive_seconds(value)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def _client_kwargs(timeout_s: float, headers: dict[str, str]) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"timeout": timeout_s}
    if headers:
        kwargs["headers"] = dict(headers)
    return kwargs


def _transport_kwargs(settings: LLMSettings | EmbeddingsSettings) -> dict[str, Any]:
    """`base_url` and the client kwargs carrying the transports.

    Retries outside, then the per-server queue (each attempt waits for its own turn),
    spread over the servers `base_url` names.
    """
    servers = server_pool("ollama", parse_urls(settings.base_url) or [ollama_url(None)],
                          settings.max_concurrency)
    retries = settings.max_retries
    return {
        "base_url": servers[0].url,
        "sync_client_kwargs": {"transport": RetryTransport(
            ServerTransport(servers), max_retries=retries)},
        "async_client_kwargs": {"transport": AsyncRetryTransport(
            AsyncServerTransport(servers), max_retries=retries)},
    }


def _started(chunks: Iterator[T]) -> Iterator[T]:
    """`chunks` with its first item already fetched, so a missing model raises here."""
    try:
        head = next(chunks)
    except StopIteration:
        return iter(())
    return itertools.chain((head,), chunks)


async def _astarted(chunks: AsyncIterator[T]) -> AsyncIterator[T]:
    """Async twin of `_started`."""
    first: list[T] = []
    with contextlib.suppress(StopAsyncIteration):
        first.append(await chunks.__anext__())

    async def chained() -> AsyncIterator[T]:
        for chunk in first:
            yield chunk
        async for chunk in chunks:
            yield chunk

    return chained()


class RagloomChatOllama(_AutoPull, ChatOllama):
    """`ChatOllama` whose errors are ragloom's, each naming the fix.

    Example:
        >>> RagloomChatOllama(model="smollm2:135m", auto_pull=True).auto_pull
        True

    """

    auto_pull: bool = False
    """Pull the model through `/api/pull` when the server says it is missing, then retry once."""

    def _context(self) -> dict[str, Any]:
        return {"provider": "ollama", "model": self.model, "base_url": self.base_url,
                "section": "llm"}

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> LangSmithParams:
        # ChatOllama traces self.model even when a call passes model=... (which it sends).
        params = super()._get_ls_params(stop=stop, **kwargs)
        params["ls_model_name"] = kwargs.get("model", self.model)
        return params

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        def call() -> ChatResult:
            with translated(**self._context()):
                return super(RagloomChatOllama, self)._generate(
                    messages, stop, run_manager, **kwargs)

        return self._pulled_then(call)

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        async def call() -> ChatResult:
            with translated(**self._context()):
                return await super(RagloomChatOllama, self)._agenerate(
                    messages, stop, run_manager, **kwargs)

        return await self._apulled_then(call)

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        def attempt() -> Iterator[ChatGenerationChunk]:
            chunks = super(RagloomChatOllama, self)._stream(messages, stop, run_manager, **kwargs)
            return cast(Iterator[ChatGenerationChunk],
                        translated_iter(chunks, **self._context()))

        yield from self._pulled_then(lambda: _started(attempt()))

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        def attempt() -> AsyncIterator[ChatGenerationChunk]:
            chunks = super(RagloomChatOllama, self)._astream(messages, stop, run_manager,
                                                             **kwargs)
            return cast(AsyncIterator[ChatGenerationChunk],
                        translated_aiter(chunks, **self._context()))

        async for chunk in await self._apulled_then(lambda: _astarted(attempt())):
            yield chunk


class OllamaProvider:
    """Builds `ChatOllama` and `OllamaEmbeddings` from ragloom's config sections.

    Example:
        >>> from ragloom.config import EmbeddingsSettings
        >>> OllamaProvider().embeddings(EmbeddingsSettings(model="all-minilm")).request_keep_alive
        '30m'

    """

    name = "ollama"

    def chat_model(self, settings: LLMSettings) -> RagloomChatOllama:
        """Build the chat model; num_ctx, keep_alive, temperature and timeout reach Ollama."""
        extra = dict(settings.extra)
        keep_alive_seconds(settings.keep_alive)  # a malformed duration is a ConfigError
        return RagloomChatOllama(
            model=settings.model,
            temperature=settings.temperature,
            num_ctx=settings.num_ctx,
            keep_alive=settings.keep_alive,
            client_kwargs=_client_kwargs(settings.timeout_s, settings.header_values()),
            auto_pull=settings.auto_pull,
            **_transport_kwargs(settings),
            **extra,
        )

    def embeddings(self, settings: EmbeddingsSettings) -> RagloomOllamaEmbeddings:
        """Build the embeddings model; one `/api/embed` request per batch."""
        keep_alive_seconds(settings.keep_alive)  # a malformed duration is a ConfigError
        return RagloomOllamaEmbeddings(
            model=settings.model,
            # Sent as given, like the chat model does: one value, one JSON type for both.
            request_keep_alive=settings.keep_alive,
            client_kwargs=_client_kwargs(settings.timeout_s, settings.header_values()),
            auto_pull=settings.auto_pull,
            too_long=settings.too_long,
            **_transport_kwargs(settings),
            **settings.extra,
        )

    # Optional hooks (ragloom.providers.ProviderHooks), in their own module.
    def doctor_checks(self, uses: Sequence[ModelUse], *, timeout_s: float) -> ProviderChecks:
        """Server reachable and recent enough, models pulled, capabilities, context length."""
        return _ollama_checks.doctor_checks(uses, timeout_s=timeout_s)

    def missing_model_hint(self, model: str, section: str) -> str:
        """The `ollama pull` command."""
        return _ollama_checks.missing_model_hint(model, section)

    def missing_models(self, uses: Sequence[ModelUse], *,
                       timeout_s: float) -> list[tuple[ModelUse, str]]:
        """The uses whose model `/api/tags` does not list, with the server URL."""
        return _ollama_checks.missing_models(uses, timeout_s=timeout_s)

    def pull_model(self, model: str, settings: ModelSettings, *,
                   on_progress: Callable[[Any], None] | None = None) -> str:
        """Pull through `/api/pull` on each server; return the server URLs."""
        return _ollama_checks.pull(model, settings, on_progress=on_progress)
