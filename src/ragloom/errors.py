"""One exception hierarchy for everything ragloom raises on purpose.

Catch :class:`RagloomError` to handle any of them; every message says what went
wrong and how to fix it.

Example:
    >>> from ragloom.errors import RagloomError, ModelNotFound
    >>> try:
    ...     raise ModelNotFound("model 'x' is not pulled: run ollama pull x", model="x")
    ... except RagloomError as exc:
    ...     print(exc)
    model 'x' is not pulled: run ollama pull x

"""

from __future__ import annotations

__all__ = [
    "CollectionMismatch",
    "ConfigError",
    "IngestError",
    "ModelNotFound",
    "ProviderTimeout",
    "ProviderUnavailable",
    "RagloomError",
    "StoreLocked",
]


class RagloomError(Exception):
    """Base class of every error ragloom raises on purpose."""


class ConfigError(RagloomError, ValueError):
    """The configuration is invalid: an unknown key, a wrong type, an unknown provider."""


class ProviderUnavailable(RagloomError, ConnectionError):
    """The model server (Ollama, OpenAI, ...) could not be reached."""

    def __init__(self, message: str, *, url: str | None = None) -> None:
        super().__init__(message)
        self.url = url
        """The URL that could not be reached, if known."""


class ProviderTimeout(ProviderUnavailable, TimeoutError):
    """The model server did not answer in time (often a model still loading)."""


class ModelNotFound(RagloomError, LookupError):
    """The model is not available on the server (not pulled, or misspelt)."""

    def __init__(self, message: str, *, model: str | None = None) -> None:
        super().__init__(message)
        self.model = model
        """The model name that was asked for."""


class CollectionMismatch(RagloomError):
    """An existing Qdrant collection does not fit the configured embeddings or mode."""


class StoreLocked(RagloomError):
    """An embedded Qdrant folder is already open in another process or client."""


class IngestError(RagloomError):
    """A file could not be loaded, split or written during ingestion."""
