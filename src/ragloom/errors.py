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

from typing import Any

from ragloom._redact import mask_url, redact

__all__ = [
    "CollectionMismatch",
    "ConfigError",
    "IdentityRequired",
    "IngestError",
    "InvalidInput",
    "ModelNotFound",
    "ProviderTimeout",
    "ProviderUnavailable",
    "RagloomError",
    "StoreLocked",
]


class RagloomError(Exception):
    """Base class of every error ragloom raises on purpose.

    Example:
        >>> from ragloom import RagloomError, load_config
        >>> try:
        ...     load_config(llm={"temprature": 0.2})
        ... except RagloomError as exc:
        ...     print(type(exc).__name__)
        ConfigError

    A password or token inside a URL never reaches the message: it is shown as `****`.

    """

    def __init__(self, *args: Any) -> None:
        super().__init__(*(redact(arg) if isinstance(arg, str) else arg for arg in args))


class ConfigError(RagloomError, ValueError):
    """The configuration is invalid: an unknown key, a wrong type, an unknown provider.

    Example:
        >>> from ragloom import ConfigError, RagConfig, build_chat_model
        >>> try:
        ...     build_chat_model(RagConfig(llm={"provider": "nosuch"}))
        ... except ConfigError as exc:
        ...     print("nosuch" in str(exc))
        True

    """


class InvalidInput(RagloomError, ValueError):
    """One call got input it cannot use (a chain payload, a filter); the config is fine.

    Example:
        >>> from ragloom import InvalidInput, build_rag_chain
        >>> try:  # doctest: +SKIP
        ...     build_rag_chain().invoke({"question": "Why?", "chat_history": "earlier"})
        ... except InvalidInput as exc:
        ...     print(exc)  # chat_history must be a list of messages or (role, text) pairs

    """


class ProviderUnavailable(RagloomError, ConnectionError):
    """The model server (Ollama, OpenAI, ...) could not be reached.

    Example:
        >>> from ragloom import ProviderUnavailable, build_rag_chain
        >>> try:  # doctest: +SKIP
        ...     build_rag_chain().invoke("hi")
        ... except ProviderUnavailable as exc:
        ...     print(exc.url)  # is `ollama serve` running there?
        http://127.0.0.1:11434

    """

    def __init__(self, message: str, *, url: str | None = None) -> None:
        super().__init__(message)
        self.url = mask_url(url)
        """The URL that could not be reached, if known (a password in it masked)."""


class ProviderTimeout(ProviderUnavailable, TimeoutError):
    """The model server did not answer in time (often a model still loading).

    Example:
        >>> from ragloom import ProviderTimeout, RagConfig, build_rag_chain
        >>> try:  # doctest: +SKIP
        ...     build_rag_chain().invoke("hi")
        ... except ProviderTimeout:
        ...     chain = build_rag_chain(RagConfig(llm={"timeout_s": 600}))  # cold load

    """


class ModelNotFound(RagloomError, LookupError):
    """The model is not available on the server (not pulled, or misspelt).

    Example:
        >>> from ragloom import ModelNotFound, build_rag_chain
        >>> try:  # doctest: +SKIP
        ...     build_rag_chain().invoke("hi")
        ... except ModelNotFound as exc:
        ...     print(exc.model)  # then: ragloom pull, or set llm.auto_pull
        llama3.2

    """

    def __init__(self, message: str, *, model: str | None = None) -> None:
        super().__init__(message)
        self.model = model
        """The model name that was asked for."""


class CollectionMismatch(RagloomError):
    """An existing Qdrant collection does not fit the configured embeddings or mode.

    Nothing is dropped: choose another `qdrant.collection`, or rebuild the collection
    on purpose with `build_vector_store(cfg, recreate=True)`.

    Example:
        >>> from ragloom import CollectionMismatch, build_vector_store
        >>> try:  # doctest: +SKIP
        ...     build_vector_store(cfg)  # collection made with another embedding model
        ... except CollectionMismatch as exc:
        ...     print(exc)

    """


class StoreLocked(RagloomError):
    """An embedded Qdrant folder is already open in another process or client.

    Example:
        >>> from ragloom import StoreLocked, build_vector_store
        >>> try:  # doctest: +SKIP
        ...     build_vector_store(cfg)  # while `ragloom ingest` runs on the same folder
        ... except StoreLocked:
        ...     ...  # wait, or run a Qdrant server and set qdrant.url

    """


class IngestError(RagloomError):
    """Ingestion failed for a reason that is not one file's fault.

    For example, the embeddings model returned fewer vectors than texts. Unusable files
    are not raised: they are listed in `IngestReport.failed` and the rest still lands.

    Example:
        >>> from ragloom import IngestError, ingest
        >>> try:  # doctest: +SKIP
        ...     report = ingest("docs/")
        ... except IngestError as exc:
        ...     print(exc)

    """


class CollectionNotFound(RagloomError, LookupError):
    """A read (`ask`, `build_retriever`, `eval`) named a collection that does not exist.

    Reads never create collections; `ragloom ingest PATH...` does.

    Example:
        >>> from ragloom import CollectionNotFound, build_retriever
        >>> try:  # doctest: +SKIP
        ...     build_retriever(cfg)  # qdrant.collection misspelled
        ... except CollectionNotFound as exc:
        ...     print(exc)

    """


class IdentityRequired(RagloomError, PermissionError):
    """A chain or retriever built with `require_user=True` was called without a user.

    Example:
        >>> from ragloom.errors import IdentityRequired
        >>> issubclass(IdentityRequired, RagloomError)
        True

    """
