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

import asyncio
import logging
import re
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any, Literal, TypeVar, cast

import ollama
from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.messages import BaseMessage
from langchain_core.outputs import ChatGenerationChunk, ChatResult
from langchain_ollama import ChatOllama, OllamaEmbeddings
from pydantic import PrivateAttr

from ragloom.config import EmbeddingsSettings, LLMSettings
from ragloom.errors import ConfigError, IngestError, ModelNotFound
from ragloom.providers._errors import ollama_url, translated, translated_aiter, translated_iter
from ragloom.providers._ollama_api import (
    MIN_OLLAMA_VERSION,
    ModelFacts,
    amodel_facts,
    model_facts,
    version_tuple,
)
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

_DURATION = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


def keep_alive_seconds(value: str | int | None) -> int | None:
    """Ollama's `keep_alive` ("30m", "1h", 300, -1) as whole seconds.

    Example:
        >>> keep_alive_seconds("30m"), keep_alive_seconds(-1), keep_alive_seconds(None)
        (1800, -1, None)

    """
    if value is None or isinstance(value, int):
        return value
    match = _DURATION.match(value)
    if not match:
        raise ConfigError(f"keep_alive {value!r} is not a duration: use e.g. '30m', '1h' or 300")
    return int(float(match.group(1)) * _UNIT_SECONDS[match.group(2)])


def check_ollama_version(version: str | None) -> tuple[Literal["ok", "warn", "fail"], str,
                                                       str | None]:
    """Judge a server's `/api/version`: (status, what was found, the fix or None).

    Example:
        >>> check_ollama_version("0.1.30")[0], check_ollama_version("0.33.0")[0]
        ('fail', 'ok')

    """
    if not version or not version[0].isdigit():
        return ("warn", f"the server reports no usable version ({version!r})",
                f"make sure it is Ollama {MIN_OLLAMA_VERSION} or newer")
    if version_tuple(version) < version_tuple(MIN_OLLAMA_VERSION):
        return ("fail", f"Ollama {version} is older than {MIN_OLLAMA_VERSION}, the oldest"
                        " ragloom works with (no /api/embed)",
                "upgrade Ollama: https://ollama.com/download")
    return "ok", f"Ollama {version} (ragloom needs {MIN_OLLAMA_VERSION} or newer)", None


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


class _AutoPull:
    """Mixin: on `ModelNotFound`, pull the model once (if `auto_pull`) and try again."""

    model: str
    base_url: str | None
    auto_pull: bool

    def __repr_args__(self) -> Any:
        # llm.headers may carry a bearer token for an Ollama behind a proxy: never show it.
        for name, value in super().__repr_args__():  # type: ignore[misc]
            if name == "client_kwargs" and isinstance(value, dict) and "headers" in value:
                value = {**value, "headers": dict.fromkeys(value["headers"], "**********")}
            yield name, value

    def _pulled_then(self, call: Callable[[], T]) -> T:
        try:
            return call()
        except ModelNotFound:
            if not self.auto_pull:
                raise
        log.warning("model %r is missing at %s: pulling it (auto_pull)", self.model,
                    ollama_url(self.base_url))
        pull_model(self.model, base_url=self.base_url, client=getattr(self, "_client", None))
        return call()

    async def _apulled_then(self, call: Callable[[], Awaitable[T]]) -> T:
        try:
            return await call()
        except ModelNotFound:
            if not self.auto_pull:
                raise
        log.warning("model %r is missing at %s: pulling it (auto_pull)", self.model,
                    ollama_url(self.base_url))
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

        first = attempt()
        try:
            head = next(first)
        except StopIteration:
            return
        except ModelNotFound:
            if not self.auto_pull:
                raise
            pull_model(self.model, base_url=self.base_url, client=getattr(self, "_client", None))
            yield from attempt()
            return
        yield head
        yield from first

    def _astream(
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

        return self._astream_pulled(attempt)

    async def _astream_pulled(
        self, attempt: Callable[[], AsyncIterator[ChatGenerationChunk]]
    ) -> AsyncIterator[ChatGenerationChunk]:
        first = attempt()
        try:
            head = await first.__anext__()
        except StopAsyncIteration:
            return
        except ModelNotFound:
            if not self.auto_pull:
                raise
            await apull_model(self.model, base_url=self.base_url,
                              client=getattr(self, "_async_client", None))
            async for chunk in attempt():
                yield chunk
            return
        yield head
        async for chunk in first:
            yield chunk


def _is_too_long(exc: ollama.ResponseError) -> bool:
    text = str(exc.error).lower()
    return exc.status_code == 400 and "exceeds" in text and "context length" in text


def _halves(text: str) -> list[str]:
    """Two pieces of `text`, cut at the whitespace nearest the middle."""
    middle = len(text) // 2
    left, right = text.rfind(" ", 0, middle), text.find(" ", middle)
    candidates = [i for i in (left, right) if i > 0]
    cut = min(candidates, key=lambda i: abs(i - middle)) if candidates else middle
    return [text[:cut], text[cut:]]


def _pieces(text: str, max_chars: int) -> list[str]:
    if len(text) <= max_chars:
        return [text]
    return [piece for half in _halves(text) for piece in _pieces(half, max_chars)]


def _mean(vectors: list[list[float]], weights: list[int]) -> list[float]:
    """The weighted mean of the pieces' vectors, scaled back to unit length."""
    total = float(sum(weights)) or 1.0
    mean = [sum(w * v[i] for v, w in zip(vectors, weights, strict=True)) / total
            for i in range(len(vectors[0]))]
    norm = sum(x * x for x in mean) ** 0.5 or 1.0
    return [x / norm for x in mean]


_CHARS_PER_TOKEN = 4
"""A text this many characters per context token is surely too long (English runs at ~4)."""


class RagloomOllamaEmbeddings(_AutoPull, OllamaEmbeddings):
    """`OllamaEmbeddings` whose errors are ragloom's, each naming the fix.

    Texts longer than the model's context never reach the server's silent truncation
    (`truncate: false` is sent): with `too_long="split"` such a text is embedded in pieces
    whose vectors are averaged (obviously long texts are split before sending, judged by
    the context length `/api/show` reports; others when the server refuses them), with
    `too_long="fail"` it is an `IngestError` naming the text and the setting to change.
    A chat-only model is refused with a `ConfigError` (Ollama would embed with it).

    Example:
        >>> RagloomOllamaEmbeddings(model="all-minilm").model
        'all-minilm'

    """

    auto_pull: bool = False
    """Pull the model through `/api/pull` when the server says it is missing, then retry once."""
    request_keep_alive: str | int | None = None
    """`keep_alive` as configured, sent as is (the same JSON type the chat model sends)."""
    too_long: Literal["split", "fail"] = "split"
    """What to do with a text longer than the model's context."""
    _facts: ModelFacts | None = PrivateAttr(default=None)
    _facts_lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    def _context(self) -> dict[str, Any]:
        return {"provider": "ollama", "model": self.model, "base_url": self.base_url,
                "section": "embeddings"}

    def _show_kwargs(self) -> dict[str, Any]:
        kwargs = self.client_kwargs or {}
        return {"headers": kwargs.get("headers"), "timeout_s": kwargs.get("timeout", 10.0)}

    def _learned(self, facts: ModelFacts | None) -> None:
        if facts is None:
            return
        self._facts = facts
        if facts.is_chat_only:
            raise ConfigError(
                f"model {self.model!r} at {ollama_url(self.base_url)} is a chat model, not an"
                f" embedding model ({', '.join(facts.capabilities or ())}): set"
                " embeddings.model (RAGLOOM_EMBEDDINGS__MODEL) to an embedding model such as"
                f" nomic-embed-text; {self.model!r} belongs in llm.model"
            )

    async def _alearn(self) -> None:
        # One /api/show however many calls start at once; the others wait for its answer
        # without blocking the event loop (a threading lock: the model may serve many loops).
        while not self._facts_lock.acquire(blocking=False):
            await asyncio.sleep(0.005)
        try:
            if self._facts is None:
                self._learned(await amodel_facts(ollama_url(self.base_url), self.model,
                                                 **self._show_kwargs()))
        finally:
            self._facts_lock.release()

    def _max_chars(self) -> int | None:
        context = self._facts.context_length if self._facts else None
        return context * _CHARS_PER_TOKEN if context else None

    def _too_long_error(self, text: str) -> IngestError:
        context = self._facts.context_length if self._facts else None
        limit = f"context of {context} tokens" if context else "context"
        return IngestError(
            f"a text of {len(text)} characters starting {text[:60]!r} is longer than"
            f" {self.model!r}'s {limit} at {ollama_url(self.base_url)}: lower"
            " ingest.chunk_size (RAGLOOM_INGEST__CHUNK_SIZE) so that chunks fit, or set"
            " embeddings.too_long: split (RAGLOOM_EMBEDDINGS__TOO_LONG=split) to embed such"
            " a text in pieces whose vectors are averaged"
        )

    def _plan(self, texts: list[str]) -> list[list[str]]:
        """Each text as the pieces to send (one piece unless obviously too long)."""
        max_chars = self._max_chars()
        if max_chars is None:
            return [[t] for t in texts]
        plan = []
        for text in texts:
            if len(text) > max_chars and self.too_long == "fail":
                raise self._too_long_error(text)
            plan.append(_pieces(text, max_chars))
        return plan

    def _send(self, texts: list[str]) -> list[list[float]]:
        assert self._client is not None  # built by OllamaEmbeddings' validator
        response = self._client.embed(self.model, texts, truncate=False,
                                      dimensions=self.dimensions,
                                      options=self._default_params,
                                      keep_alive=self.request_keep_alive)
        return [list(v) for v in response["embeddings"]]

    async def _asend(self, texts: list[str]) -> list[list[float]]:
        assert self._async_client is not None
        response = await self._async_client.embed(self.model, texts, truncate=False,
                                                  dimensions=self.dimensions,
                                                  options=self._default_params,
                                                  keep_alive=self.request_keep_alive)
        return [list(v) for v in response["embeddings"]]

    def _refused(self, texts: list[str], exc: ollama.ResponseError) -> list[str] | None:
        """The halves to try after a refusal of one text, or None if it is not that."""
        if not _is_too_long(exc) or len(texts) > 1:
            return None
        if self.too_long == "fail" or len(texts[0]) < 2:
            raise self._too_long_error(texts[0]) from exc
        return _halves(texts[0])

    def _embed_fitting(self, texts: list[str]) -> list[list[float]]:
        """Embed, bisecting a refused batch until the too-long text is found and split."""
        try:
            return self._send(texts)
        except ollama.ResponseError as exc:
            if not _is_too_long(exc):
                raise
            halves = self._refused(texts, exc)
            if halves is None:
                middle = len(texts) // 2
                return self._embed_fitting(texts[:middle]) + self._embed_fitting(
                    texts[middle:])
            return [_mean(self._embed_fitting(halves), [len(h) for h in halves])]

    async def _aembed_fitting(self, texts: list[str]) -> list[list[float]]:
        try:
            return await self._asend(texts)
        except ollama.ResponseError as exc:
            if not _is_too_long(exc):
                raise
            halves = self._refused(texts, exc)
            if halves is None:
                middle = len(texts) // 2
                return (await self._aembed_fitting(texts[:middle])
                        + await self._aembed_fitting(texts[middle:]))
            return [_mean(await self._aembed_fitting(halves), [len(h) for h in halves])]

    @staticmethod
    def _joined(plan: list[list[str]], vectors: list[list[float]]) -> list[list[float]]:
        out, at = [], 0
        for pieces in plan:
            part = vectors[at:at + len(pieces)]
            at += len(pieces)
            out.append(part[0] if len(part) == 1 else _mean(part, [len(p) for p in pieces]))
        return out

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed texts in one `/api/embed` request (more if some are too long)."""
        def call() -> list[list[float]]:
            with translated(**self._context()):
                if self._facts is None:
                    with self._facts_lock:  # one /api/show, however many threads start
                        if self._facts is None:
                            self._learned(model_facts(ollama_url(self.base_url), self.model,
                                                      **self._show_kwargs()))
                if not texts:
                    return []
                plan = self._plan(texts)
                return self._joined(plan, self._embed_fitting(
                    [p for pieces in plan for p in pieces]))

        return self._pulled_then(call)

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed texts in one `/api/embed` request, asynchronously."""
        async def call() -> list[list[float]]:
            with translated(**self._context()):
                if self._facts is None:
                    await self._alearn()
                if not texts:
                    return []
                plan = self._plan(texts)
                return self._joined(plan, await self._aembed_fitting(
                    [p for pieces in plan for p in pieces]))

        return await self._apulled_then(call)


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
            client_kwargs=_client_kwargs(settings.timeout_s, settings.headers),
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
            client_kwargs=_client_kwargs(settings.timeout_s, settings.headers),
            auto_pull=settings.auto_pull,
            too_long=settings.too_long,
            **_transport_kwargs(settings),
            **settings.extra,
        )
