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
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from typing import Any, TypeVar, cast

import ollama
from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import LangSmithParams
from langchain_core.messages import BaseMessage
from langchain_core.outputs import ChatGenerationChunk, ChatResult
from langchain_ollama import ChatOllama, OllamaEmbeddings

from ragloom._redact import MASK, mask_url
from ragloom.config import EmbeddingsSettings, LLMSettings, ModelSettings, ollama_url
from ragloom.config import keep_alive_seconds as _keep_alive_seconds
from ragloom.errors import ConfigError, ModelNotFound
from ragloom.providers import ModelUse, ProviderChecks, _ollama_checks
from ragloom.providers._errors import translated, translated_aiter, translated_iter
from ragloom.providers._retry import AsyncRetryTransport, RetryTransport

__all__ = ["OllamaProvider", "RagloomChatOllama", "RagloomOllamaEmbeddings", "apull_model",
           "pull_model"]

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


def _retry_kwargs(max_retries: int) -> dict[str, Any]:
    """`sync_client_kwargs` / `async_client_kwargs` carrying the retrying transports."""
    return {"sync_client_kwargs": {"transport": RetryTransport(max_retries=max_retries)},
            "async_client_kwargs": {"transport": AsyncRetryTransport(max_retries=max_retries)}}


def _pull_failed(model: str, url: str, error: object) -> ModelNotFound:
    return ModelNotFound(
        f"could not pull model {model!r} at {url}: {error}. Check the name on"
        " https://ollama.com/library (a tag such as ':1b' may be needed) and that the"
        " server can reach its registry",
        model=model,
    )


def pull_model(
    model: str,
    *,
    base_url: str | None = None,
    client: ollama.Client | None = None,
    on_progress: Callable[[ollama.ProgressResponse], None] | None = None,
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
    with translated(provider="ollama", model=model, base_url=url, section="llm"):
        try:
            for progress in client.pull(model, stream=True):
                if on_progress is not None:
                    on_progress(progress)
        except ollama.ResponseError as exc:
            if exc.status_code == 404 or exc.status_code < 0 or "manifest" in exc.error:
                raise _pull_failed(model, url, exc.error) from exc
            raise


async def apull_model(model: str, *, base_url: str | None = None,
                      client: ollama.AsyncClient | None = None) -> None:
    """Async twin of `pull_model` (no progress callback).

    Example:
        >>> import asyncio
        >>> asyncio.run(apull_model("all-minilm"))  # doctest: +SKIP

    """
    url = ollama_url(base_url)
    client = client if client is not None else ollama.AsyncClient(host=url)
    with translated(provider="ollama", model=model, base_url=url, section="llm"):
        try:
            async for _ in await client.pull(model, stream=True):
                pass
        except ollama.ResponseError as exc:
            if exc.status_code == 404 or exc.status_code < 0 or "manifest" in exc.error:
                raise _pull_failed(model, url, exc.error) from exc
            raise


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

    def _pulled_then(self, call: Callable[[], T]) -> T:
        try:
            return call()
        except ModelNotFound:
            if not self.auto_pull:
                raise
        log.warning("model %r is missing at %s: pulling it (auto_pull)", self.model,
                    mask_url(ollama_url(self.base_url)))
        pull_model(self.model, base_url=self.base_url, client=getattr(self, "_client", None))
        return call()

    async def _apulled_then(self, call: Callable[[], Awaitable[T]]) -> T:
        try:
            return await call()
        except ModelNotFound:
            if not self.auto_pull:
                raise
        log.warning("model %r is missing at %s: pulling it (auto_pull)", self.model,
                    mask_url(ollama_url(self.base_url)))
        await apull_model(self.model, base_url=self.base_url,
                          client=getattr(self, "_async_client", None))
        return await call()


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


class RagloomOllamaEmbeddings(_AutoPull, OllamaEmbeddings):
    """`OllamaEmbeddings` whose errors are ragloom's, each naming the fix.

    Example:
        >>> RagloomOllamaEmbeddings(model="all-minilm").model
        'all-minilm'

    """

    auto_pull: bool = False
    """Pull the model through `/api/pull` when the server says it is missing, then retry once."""

    def _context(self) -> dict[str, Any]:
        return {"provider": "ollama", "model": self.model, "base_url": self.base_url,
                "section": "embeddings"}

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed texts in one `/api/embed` request."""
        def call() -> list[list[float]]:
            with translated(**self._context()):
                return super(RagloomOllamaEmbeddings, self).embed_documents(texts)

        return self._pulled_then(call)

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed texts in one `/api/embed` request, asynchronously."""
        async def call() -> list[list[float]]:
            with translated(**self._context()):
                return await super(RagloomOllamaEmbeddings, self).aembed_documents(texts)

        return await self._apulled_then(call)


class OllamaProvider:
    """Builds `ChatOllama` and `OllamaEmbeddings` from ragloom's config sections.

    Example:
        >>> from ragloom.config import EmbeddingsSettings
        >>> OllamaProvider().embeddings(EmbeddingsSettings(model="all-minilm")).keep_alive
        1800

    """

    name = "ollama"

    def chat_model(self, settings: LLMSettings) -> RagloomChatOllama:
        """Build the chat model; num_ctx, keep_alive, temperature and timeout reach Ollama."""
        extra = dict(settings.extra)
        return RagloomChatOllama(
            model=settings.model,
            base_url=settings.base_url,
            temperature=settings.temperature,
            num_ctx=settings.num_ctx,
            keep_alive=settings.keep_alive,
            client_kwargs=_client_kwargs(settings.timeout_s, settings.header_values()),
            auto_pull=settings.auto_pull,
            **_retry_kwargs(settings.max_retries),
            **extra,
        )

    def embeddings(self, settings: EmbeddingsSettings) -> RagloomOllamaEmbeddings:
        """Build the embeddings model; one `/api/embed` request per batch."""
        return RagloomOllamaEmbeddings(
            model=settings.model,
            base_url=settings.base_url,
            keep_alive=keep_alive_seconds(settings.keep_alive),
            client_kwargs=_client_kwargs(settings.timeout_s, settings.header_values()),
            auto_pull=settings.auto_pull,
            **_retry_kwargs(settings.max_retries),
            **settings.extra,
        )

    # Optional hooks (ragloom.providers.ProviderHooks), in their own module.
    def doctor_checks(self, uses: Sequence[ModelUse], *, timeout_s: float) -> ProviderChecks:
        """Server reachable, models pulled, capabilities, context length."""
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
        """Pull through `/api/pull`; return the server URL."""
        return _ollama_checks.pull(model, settings, on_progress=on_progress)
