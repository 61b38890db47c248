"""The `openai` provider: OpenAI, or any OpenAI-compatible server via `base_url`.

Point `base_url` at Ollama's `/v1` (e.g. http://127.0.0.1:11434/v1), vLLM,
LM Studio or a gateway, and the same code runs there. For a server other than
OpenAI, embeddings are sent as strings (`check_embedding_ctx_length=False`):
OpenAI's client would otherwise send token arrays, which Ollama's `/v1/embeddings`
rejects.

Example:
    >>> from ragloom.config import LLMSettings
    >>> llm = OpenAIProvider().chat_model(
    ...     LLMSettings(provider="openai", model="smollm2:135m",
    ...                 base_url="http://127.0.0.1:11434/v1"))
    >>> llm.model_name
    'smollm2:135m'

"""

from __future__ import annotations

import os
from typing import Any

from langchain_openai import ChatOpenAI, OpenAIEmbeddings
from pydantic import SecretStr

from ragloom.config import EmbeddingsSettings, LLMSettings
from ragloom.errors import ConfigError

__all__ = ["OpenAIProvider"]

_OPENAI_HOST = "api.openai.com"
# OpenAI-compatible servers such as Ollama ignore the key but the client insists on one.
_PLACEHOLDER_KEY = "not-needed"


def _is_openai(base_url: str | None) -> bool:
    return base_url is None or _OPENAI_HOST in base_url


def _api_key(api_key: SecretStr | None, base_url: str | None, section: str) -> SecretStr:
    if api_key is not None:
        return api_key
    if os.environ.get("OPENAI_API_KEY"):
        return SecretStr(os.environ["OPENAI_API_KEY"])
    if not _is_openai(base_url):
        return SecretStr(_PLACEHOLDER_KEY)
    raise ConfigError(
        f"the openai provider needs an API key: set OPENAI_API_KEY or {section}.api_key"
        f" (RAGLOOM_{section.upper()}__API_KEY), or set {section}.base_url to an"
        " OpenAI-compatible server"
    )


class OpenAIProvider:
    """Builds `ChatOpenAI` and `OpenAIEmbeddings` from ragloom's config sections.

    Example:
        >>> from ragloom.config import EmbeddingsSettings
        >>> emb = OpenAIProvider().embeddings(EmbeddingsSettings(
        ...     provider="openai", model="all-minilm", base_url="http://127.0.0.1:11434/v1"))
        >>> emb.check_embedding_ctx_length
        False

    """

    name = "openai"

    def chat_model(self, settings: LLMSettings) -> ChatOpenAI:
        """Build the chat model; Ollama-only settings (num_ctx, keep_alive) do not apply."""
        kwargs: dict[str, Any] = {
            "model": settings.model,
            "base_url": settings.base_url,
            "api_key": _api_key(settings.api_key, settings.base_url, "llm"),
            "temperature": settings.temperature,
            "timeout": settings.timeout_s,
            "max_retries": settings.max_retries,
        }
        if settings.headers:
            kwargs["default_headers"] = dict(settings.headers)
        return ChatOpenAI(**kwargs, **settings.extra)

    def embeddings(self, settings: EmbeddingsSettings) -> OpenAIEmbeddings:
        """Build the embeddings model; strings, not token arrays, for non-OpenAI servers."""
        kwargs: dict[str, Any] = {
            "model": settings.model,
            "base_url": settings.base_url,
            "api_key": _api_key(settings.api_key, settings.base_url, "embeddings"),
            "chunk_size": settings.batch_size,
            "timeout": settings.timeout_s,
            "check_embedding_ctx_length": _is_openai(settings.base_url),
        }
        if settings.headers:
            kwargs["default_headers"] = dict(settings.headers)
        return OpenAIEmbeddings(**kwargs, **settings.extra)
