"""The `ollama` provider: local chat and embedding models through langchain-ollama.

The server is `base_url`, else `OLLAMA_HOST`, else http://127.0.0.1:11434. The
classes returned are `ChatOllama` / `OllamaEmbeddings` subclasses that differ only
in turning client errors into ragloom's (`ModelNotFound` with the `ollama pull`
command, `ProviderUnavailable` with the URL, `ProviderTimeout` with the setting).

Example:
    >>> from ragloom.config import LLMSettings
    >>> llm = OllamaProvider().chat_model(LLMSettings(model="smollm2:135m", num_ctx=4096))
    >>> llm.num_ctx
    4096

"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from typing import Any, cast

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.messages import BaseMessage
from langchain_core.outputs import ChatGenerationChunk, ChatResult
from langchain_ollama import ChatOllama, OllamaEmbeddings

from ragloom.config import EmbeddingsSettings, LLMSettings
from ragloom.errors import ConfigError
from ragloom.providers._errors import translated, translated_aiter, translated_iter

__all__ = ["OllamaProvider", "RagloomChatOllama", "RagloomOllamaEmbeddings"]

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


def _client_kwargs(timeout_s: float, headers: dict[str, str]) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"timeout": timeout_s}
    if headers:
        kwargs["headers"] = dict(headers)
    return kwargs


class RagloomChatOllama(ChatOllama):
    """`ChatOllama` whose errors are ragloom's, each naming the fix.

    Example:
        >>> RagloomChatOllama(model="smollm2:135m").model
        'smollm2:135m'

    """

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
        with translated(**self._context()):
            return super()._generate(messages, stop, run_manager, **kwargs)

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        with translated(**self._context()):
            return await super()._agenerate(messages, stop, run_manager, **kwargs)

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        chunks = super()._stream(messages, stop, run_manager, **kwargs)
        return cast(Iterator[ChatGenerationChunk], translated_iter(chunks, **self._context()))

    def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        chunks = super()._astream(messages, stop, run_manager, **kwargs)
        return cast(
            AsyncIterator[ChatGenerationChunk], translated_aiter(chunks, **self._context())
        )


class RagloomOllamaEmbeddings(OllamaEmbeddings):
    """`OllamaEmbeddings` whose errors are ragloom's, each naming the fix.

    Example:
        >>> RagloomOllamaEmbeddings(model="all-minilm").model
        'all-minilm'

    """

    def _context(self) -> dict[str, Any]:
        return {"provider": "ollama", "model": self.model, "base_url": self.base_url,
                "section": "embeddings"}

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed texts in one `/api/embed` request."""
        with translated(**self._context()):
            return super().embed_documents(texts)

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed texts in one `/api/embed` request, asynchronously."""
        with translated(**self._context()):
            return await super().aembed_documents(texts)


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
            client_kwargs=_client_kwargs(settings.timeout_s, settings.headers),
            **extra,
        )

    def embeddings(self, settings: EmbeddingsSettings) -> RagloomOllamaEmbeddings:
        """Build the embeddings model; one `/api/embed` request per batch."""
        return RagloomOllamaEmbeddings(
            model=settings.model,
            base_url=settings.base_url,
            keep_alive=keep_alive_seconds(settings.keep_alive),
            client_kwargs=_client_kwargs(settings.timeout_s, settings.headers),
            **settings.extra,
        )
