"""The model sections: `llm`, `embeddings`, and the chat models of `routing`.

Example:
    >>> from ragloom.config import EmbeddingsSettings
    >>> EmbeddingsSettings(model="nomic-embed-text").prefixes()
    ('search_query: ', 'search_document: ')

"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from ragloom._keep_alive import parse_keep_alive
from ragloom._known_models import known_embedding_model
from ragloom._section import _Section


class ModelSettings(_Section):
    """What the `llm` and `embeddings` sections share: which model, where, how to reach it.

    The header values are secrets; `keep_alive` is checked as Ollama reads it.
    """

    provider: str = "ollama"
    """Provider name: `ollama`, `openai`, or any provider registered by a plugin."""
    model: str
    """Model name as the provider knows it."""
    base_url: str | None = None
    """Server URL. Ollama: `OLLAMA_HOST` or http://127.0.0.1:11434; OpenAI: the API's own.
    Several servers, comma-separated, share the calls (a dead one is skipped)."""
    api_key: SecretStr | None = None
    """API key. `openai` falls back to `OPENAI_API_KEY`; never logged or recorded."""
    headers: dict[str, SecretStr] = Field(default_factory=dict, repr=False)
    """Extra HTTP headers for every request (e.g. auth for an Ollama behind a proxy); masked."""
    keep_alive: str | int | None = "30m"
    """Ollama only: how long the model stays loaded ("30m", "1h30m", 300; -1: for ever)."""
    timeout_s: float = Field(120.0, gt=0)
    """Request timeout in seconds; covers a cold model load."""
    max_retries: int = Field(2, ge=0)
    """Retries for transient failures (connection reset, 5xx, 429)."""
    max_concurrency: int = Field(1, ge=1)
    """Requests in flight to one server from this process (Ollama's OLLAMA_NUM_PARALLEL,
    1 by default); the others wait their turn, which `timeout_s` does not count."""
    auto_pull: bool = False
    """Ollama only: pull the model when the server says it is missing."""
    extra: dict[str, Any] = Field(default_factory=dict)
    """Passed through unchanged to the LangChain chat model class."""

    @field_validator("keep_alive", mode="before")
    @classmethod
    def _check_keep_alive(cls, value: Any) -> str | int | None:
        return parse_keep_alive(value)

    @field_validator("base_url")
    @classmethod
    def _add_scheme(cls, value: str | None) -> str | None:
        # "127.0.0.1:11434" (as OLLAMA_HOST is often written) means http://127.0.0.1:11434.
        if not value:
            return value
        return ",".join(part if "://" in part else f"http://{part}"
                        for part in (p.strip() for p in value.split(",")) if part)

    def header_values(self) -> dict[str, str]:
        """The `headers` in clear, for the HTTP client only (never print them).

        Example:
            >>> LLMSettings(headers={"X-Token": "t"}).header_values()
            {'X-Token': 't'}

        """
        return {name: value.get_secret_value() if isinstance(value, SecretStr) else str(value)
                for name, value in self.headers.items()}


class LLMSettings(ModelSettings):
    """The chat model."""

    model: str = "llama3.2"
    """Model name as the provider knows it (`llama3.2`, `gpt-4o-mini`, ...)."""
    temperature: float = 0.1
    """Sampling temperature."""
    num_ctx: int | None = 8192
    """Ollama only: context window in tokens (Ollama's default is small and truncates silently)."""


class EmbeddingsSettings(ModelSettings):
    """The embedding model."""

    model: str = "nomic-embed-text"
    """Embedding model name as the provider knows it."""
    base_url: str | None = None
    """Server URL (or several, comma-separated); same defaults as `llm.base_url`."""
    headers: dict[str, SecretStr] = Field(default_factory=dict, repr=False)
    """Extra HTTP headers for every request; masked like the API key."""
    batch_size: int = Field(64, ge=1)
    """Texts per embedding request."""
    too_long: Literal["split", "fail"] = "split"
    """Ollama: a text longer than the model's context is embedded in pieces whose vectors
    are averaged (`split`), or is an error naming it (`fail`); never cut silently."""
    query_prefix: str = "auto"
    """Put in front of a question before it is embedded (`search_query: ` for
    nomic-embed-text). `auto`: what the model's authors state, from ragloom's table of
    known models (docs/retrieval.md), none for others; "" for none. Recorded with the
    collection: changing it needs a new collection."""
    document_prefix: str = "auto"
    """Put in front of each chunk before it is embedded (`search_document: ` for
    nomic-embed-text); `auto` and "" as for `query_prefix`. BM25 never sees either."""
    extra: dict[str, Any] = Field(default_factory=dict)
    """Passed through unchanged to the LangChain embeddings class."""

    def prefixes(self) -> tuple[str, str]:
        """The (query, document) prefixes in effect, `auto` resolved.

        Example:
            >>> EmbeddingsSettings(model="nomic-embed-text").prefixes()
            ('search_query: ', 'search_document: ')
            >>> EmbeddingsSettings(model="all-minilm", query_prefix="q: ").prefixes()
            ('q: ', '')

        """
        known = known_embedding_model(self.model)
        query = (known.query_prefix if known else "") if self.query_prefix == "auto" \
            else self.query_prefix
        document = (known.document_prefix if known else "") \
            if self.document_prefix == "auto" else self.document_prefix
        return query, document


class RouteModel(LLMSettings):
    """One chat model the router may pick: an `llm` section with a name."""

    name: str = Field(min_length=1)
    """The name used in `routing.default` and reported in the output's `checks["model"]`."""
    local: bool | None = None
    """Whether its server is on this machine; null: decided from provider and `base_url`."""


class RoutingSettings(_Section):
    """Which chat model answers each question (docs/multi-user.md); off while `models` is empty."""

    models: list[RouteModel] = Field(default_factory=list)
    """The chat models in fallback order; replaces `llm` for answers when not empty."""
    default: str | None = None
    """The model for context that may leave the machine; null: the first of `models`."""
    sensitive: Literal["local", "refuse"] = "local"
    """Confidential context (or a redaction finding): answer with a local model, or refuse."""
    on_redaction: bool = True
    """Treat context in which redaction finds a secret or personal data as sensitive."""
    refuse_text: str = (
        "This question touches confidential documents that no allowed model may read.")
    """The answer given, without calling a model, when the chain refuses."""

    @model_validator(mode="after")
    def _default_is_a_model(self) -> RoutingSettings:
        names = [m.name for m in self.models]
        if len(set(names)) != len(names):
            raise ValueError(f"routing.models names must be unique (got {names})")
        if self.default is not None and self.default not in names:
            raise ValueError(f"routing.default {self.default!r} is not one of routing.models"
                             f" ({', '.join(names) or 'none'})")
        return self
