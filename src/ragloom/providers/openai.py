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

import importlib
import os
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from langchain_openai import ChatOpenAI, OpenAIEmbeddings
from pydantic import BaseModel, SecretStr, field_serializer

from ragloom._redact import MASK, mask_url
from ragloom.config import EmbeddingsSettings, LLMSettings
from ragloom.errors import ConfigError
from ragloom.providers import ModelUse, ProviderChecks, _openai_checks
from ragloom.providers._errors import translating
from ragloom.providers._servers import (
    AsyncServerTransport,
    ServerTransport,
    parse_urls,
    server_pool,
)

__all__ = ["OpenAIProvider", "RagloomChatOpenAI", "RagloomOpenAIEmbeddings"]

_OPENAI_HOST = "api.openai.com"
# OpenAI-compatible servers such as Ollama ignore the key but the client insists on one.
_PLACEHOLDER_KEY = "not-needed"


def _is_openai(base_url: str | None) -> bool:
    return base_url is None or _OPENAI_HOST in base_url


def _server_kwargs(settings: LLMSettings | EmbeddingsSettings) -> dict[str, Any]:
    """`base_url` (the first server) and httpx clients queueing per server, spread over all.

    The openai client keeps its own retries and timeouts; the wait for a turn happens
    before either starts.
    """
    import openai

    urls = parse_urls(settings.base_url) or ["https://api.openai.com/v1"]
    servers = server_pool("openai", urls, settings.max_concurrency)
    http = importlib.import_module(openai.DefaultHttpxClient.__mro__[1].__module__.split(".")[0])
    sync_transport: Any = ServerTransport(servers, http=http)  # openai >= 3 uses httpx2
    async_transport: Any = AsyncServerTransport(servers, http=http)
    return {
        "base_url": servers[0].url if settings.base_url else None,
        "http_client": openai.DefaultHttpxClient(transport=sync_transport),
        "http_async_client": openai.DefaultAsyncHttpxClient(transport=async_transport),
    }


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


def _secret_fields(headers: Mapping[str, str] | None, base_url: str | None,
                   section: str) -> dict[str, str]:
    """`lc_secrets` entries for the configured headers and a URL carrying a password.

    LangChain's serializer (`dumpd`, and the `serialized` dict tracers receive) then
    writes a secret reference (`RAGLOOM_LLM__HEADERS`, `RAGLOOM_LLM__BASE_URL`) in their
    place; `langchain_core.load.loads(..., secrets_map={"RAGLOOM_LLM__HEADERS": {...}})`
    puts them back. The headers are one secret as a whole: LangChain escapes a secret
    nested inside a dict, so it could not be revived.
    """
    prefix = f"RAGLOOM_{section.upper()}"
    secrets = {"default_headers": f"{prefix}__HEADERS"} if headers else {}
    if base_url is not None and mask_url(base_url) != base_url:
        secrets["openai_api_base"] = f"{prefix}__BASE_URL"
    return secrets


def _masked_repr_args(args: Any) -> Any:
    """`__repr_args__` with header values and URL passwords masked."""
    for name, value in args:
        if name == "default_headers" and isinstance(value, dict):
            value = dict.fromkeys(value, MASK)
        elif name == "openai_api_base" and isinstance(value, str):
            value = mask_url(value)
        yield name, value


def _masked_value(value: Any) -> Any:
    if isinstance(value, dict):
        return dict.fromkeys(value, MASK)
    return mask_url(value) if isinstance(value, str) else value


class _Masked(BaseModel):
    """What both OpenAI classes add: masked reprs and dumps, and the error context."""

    _section: ClassVar[str]

    def __repr_args__(self) -> Any:
        return _masked_repr_args(super().__repr_args__())

    @field_serializer("openai_api_base", "default_headers", check_fields=False)
    def _masked_field(self, value: Any) -> Any:
        """`model_dump()` and JSON show no URL password and no header value."""
        return _masked_value(value)

    def _context(self) -> dict[str, Any]:
        model = getattr(self, "model_name", None) or getattr(self, "model", None)
        return {"provider": "openai", "model": model,
                "base_url": getattr(self, "openai_api_base", None), "section": self._section}


@translating("_generate", "_agenerate", "_stream", "_astream")
class RagloomChatOpenAI(_Masked, ChatOpenAI):
    """`ChatOpenAI` whose errors are ragloom's (after the client's own `max_retries`).

    Example:
        >>> RagloomChatOpenAI(model="gpt-4o-mini", api_key="sk-x").model_name
        'gpt-4o-mini'

    """

    @classmethod
    def lc_id(cls) -> list[str]:
        """ChatOpenAI's id: `dumps` labels this model as a `ChatOpenAI`, which `load` accepts.

        Its own class name under ChatOpenAI's namespace would name a class `load`
        refuses. Loaded, it is a stock `ChatOpenAI` with the same settings (ragloom's
        error translation is behaviour, not configuration).
        """
        return ChatOpenAI.lc_id()

    @property
    def lc_secrets(self) -> dict[str, str]:
        """The API key, every configured header and a password-carrying base URL."""
        return {**super().lc_secrets,
                **_secret_fields(self.default_headers, self.openai_api_base, "llm")}

    _section: ClassVar[str] = "llm"


@translating("embed_documents", "aembed_documents")
class RagloomOpenAIEmbeddings(_Masked, OpenAIEmbeddings):
    """`OpenAIEmbeddings` whose errors are ragloom's.

    Example:
        >>> RagloomOpenAIEmbeddings(model="text-embedding-3-small", api_key="sk-x").model
        'text-embedding-3-small'

    """

    _section: ClassVar[str] = "embeddings"


def _first_url(settings: LLMSettings | EmbeddingsSettings) -> str | None:
    return parse_urls(settings.base_url)[0] if settings.base_url else None


def _common_kwargs(settings: LLMSettings | EmbeddingsSettings, section: str) -> dict[str, Any]:
    """The keyword arguments both LangChain classes take alike."""
    kwargs: dict[str, Any] = {
        "model": settings.model,
        "api_key": _api_key(settings.api_key, _first_url(settings), section),
        "timeout": settings.timeout_s,
        "max_retries": settings.max_retries,
        **_server_kwargs(settings),
    }
    if settings.headers:
        kwargs["default_headers"] = settings.header_values()
    return kwargs


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

    def chat_model(self, settings: LLMSettings) -> RagloomChatOpenAI:
        """Build the chat model; Ollama-only settings (num_ctx, keep_alive) do not apply."""
        kwargs = _common_kwargs(settings, "llm")
        kwargs["temperature"] = settings.temperature
        # Token usage in streamed answers too (stream_options.include_usage), which
        # langchain-openai leaves off for any server but OpenAI's; Ollama's /v1 has it.
        kwargs["stream_usage"] = True
        return RagloomChatOpenAI(**{**kwargs, **settings.extra})

    def embeddings(self, settings: EmbeddingsSettings) -> RagloomOpenAIEmbeddings:
        """Build the embeddings model; strings, not token arrays, for non-OpenAI servers."""
        kwargs = _common_kwargs(settings, "embeddings")
        kwargs["chunk_size"] = settings.batch_size
        kwargs["check_embedding_ctx_length"] = _is_openai(_first_url(settings))
        return RagloomOpenAIEmbeddings(**{**kwargs, **settings.extra})

    # Optional hooks (ragloom.providers.ProviderHooks), in their own module.
    def doctor_checks(self, uses: Sequence[ModelUse], *, timeout_s: float) -> ProviderChecks:
        """`GET <base_url>/models`: reachable, key accepted, model listed."""
        return _openai_checks.doctor_checks(uses, timeout_s=timeout_s)

    def missing_model_hint(self, model: str, section: str) -> str:
        """Check the model name (a hosted API cannot pull)."""
        return _openai_checks.missing_model_hint(model, section)
