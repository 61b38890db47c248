"""The provider-agnostic adapter: provider name → chat model and embeddings.

Built-ins: ``ollama`` (langchain-ollama) and ``openai`` (langchain-openai; also any
OpenAI-compatible server through ``base_url``, Ollama's ``/v1`` included). Third
parties add providers through the entry-point group ``ragloom.providers``, whose
entries point at a `Provider` instance or class::

    [project.entry-points."ragloom.providers"]
    mycloud = "ragloom_mycloud:MyCloudProvider"

Example:
    >>> from ragloom import RagConfig, build_embeddings
    >>> emb = build_embeddings(RagConfig(embeddings={"model": "all-minilm"}))
    >>> type(emb).__name__
    'OllamaEmbeddings'

"""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import Protocol, runtime_checkable

from langchain_core.embeddings import Embeddings
from langchain_core.language_models import BaseChatModel

from ragloom.config import EmbeddingsSettings, LLMSettings, RagConfig, load_config
from ragloom.errors import ConfigError

__all__ = [
    "ENTRY_POINT_GROUP",
    "Provider",
    "available_providers",
    "build_chat_model",
    "build_embeddings",
    "get_provider",
    "register_provider",
    "request_slots",
]

ENTRY_POINT_GROUP = "ragloom.providers"


@runtime_checkable
class Provider(Protocol):
    """What a provider plugin implements: two factories from config sections.

    Example:
        >>> from langchain_core.embeddings import DeterministicFakeEmbedding
        >>> class FakeProvider:
        ...     name = "fake"
        ...     def chat_model(self, settings): raise NotImplementedError
        ...     def embeddings(self, settings): return DeterministicFakeEmbedding(size=8)
        >>> register_provider(FakeProvider())

    """

    name: str
    """The name used in `llm.provider` / `embeddings.provider`."""

    def chat_model(self, settings: LLMSettings) -> BaseChatModel:
        """Build the chat model described by the `llm` section."""
        ...

    def embeddings(self, settings: EmbeddingsSettings) -> Embeddings:
        """Build the embeddings model described by the `embeddings` section."""
        ...


_registry: dict[str, Provider] = {}
_broken: dict[str, str] = {}
"""Plugins that failed to load, by name, with the message to raise when one is asked for."""
_entry_points_loaded = False


def register_provider(provider: Provider, *, name: str | None = None) -> None:
    """Make a provider available under `name` (default: `provider.name`).

    Args:
        provider: An object with `name`, `chat_model(settings)` and `embeddings(settings)`.
        name: The name `llm.provider` / `embeddings.provider` selects it by.

    Raises:
        TypeError: `provider` lacks part of the `Provider` protocol.

    Example:
        >>> from ragloom.providers.ollama import OllamaProvider
        >>> register_provider(OllamaProvider(), name="my-ollama")

    """
    if not isinstance(provider, Provider):
        raise TypeError(f"{provider!r} lacks name/chat_model/embeddings; see ragloom.Provider")
    _registry[name or provider.name] = provider


def _load_builtins_and_plugins() -> None:
    global _entry_points_loaded
    if _entry_points_loaded:
        return
    _entry_points_loaded = True
    from ragloom.providers.ollama import OllamaProvider
    from ragloom.providers.openai import OpenAIProvider

    _registry.setdefault("ollama", OllamaProvider())
    _registry.setdefault("openai", OpenAIProvider())
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        try:
            loaded = entry.load()
            provider = loaded() if isinstance(loaded, type) else loaded
        except Exception as exc:  # a broken plugin fails when asked for, not for everyone
            _broken[entry.name] = (
                f"provider plugin {entry.name!r} ({entry.value}) failed to load: {exc};"
                " reinstall or uninstall the package that provides it"
            )
            continue
        _registry.setdefault(entry.name, provider)


def available_providers() -> list[str]:
    """Names of every registered provider, built-ins and plugins.

    Returns:
        The sorted names (plugins that failed to load are left out).

    Example:
        >>> {"ollama", "openai"} <= set(available_providers())
        True

    """
    _load_builtins_and_plugins()
    return sorted(_registry)


def get_provider(name: str) -> Provider:
    """The provider registered under `name`.

    Args:
        name: A built-in (`ollama`, `openai`) or a plugin's entry-point name.

    Returns:
        The registered `Provider`.

    Raises:
        ConfigError: No provider has that name, or its plugin failed to load.

    Example:
        >>> get_provider("ollama").name
        'ollama'

    """
    _load_builtins_and_plugins()
    try:
        return _registry[name]
    except KeyError:
        if name in _broken:
            raise ConfigError(_broken[name]) from None
        known = ", ".join(sorted(_registry))
        raise ConfigError(
            f"unknown provider {name!r}: choose one of {known}, or install a plugin that"
            f" registers it under the {ENTRY_POINT_GROUP!r} entry-point group"
        ) from None


def request_slots(settings: LLMSettings | EmbeddingsSettings) -> int:
    """Requests worth keeping in flight for a section: `max_concurrency` per server named.

    Example:
        >>> request_slots(EmbeddingsSettings(base_url="http://a:11434,http://b:11434"))
        2

    """
    from ragloom.providers._servers import parse_urls

    return settings.max_concurrency * max(len(parse_urls(settings.base_url)), 1)


def build_chat_model(cfg: RagConfig | None = None) -> BaseChatModel:
    """Build the chat model named by `cfg.llm`.

    Args:
        cfg: The configuration; default `load_config()`.

    Returns:
        A LangChain chat model (`ChatOllama`, `ChatOpenAI`, or a plugin's).

    Raises:
        ConfigError: Unknown provider or unusable settings.

    Example:
        >>> llm = build_chat_model(RagConfig(llm={"model": "smollm2:135m"}))
        >>> llm.model
        'smollm2:135m'

    """
    cfg = cfg if cfg is not None else load_config()
    return get_provider(cfg.llm.provider).chat_model(cfg.llm)


def build_embeddings(cfg: RagConfig | None = None) -> Embeddings:
    """Build the embeddings model named by `cfg.embeddings`.

    Args:
        cfg: The configuration; default `load_config()`.

    Returns:
        A LangChain `Embeddings` (`OllamaEmbeddings`, `OpenAIEmbeddings`, or a plugin's).

    Raises:
        ConfigError: Unknown provider or unusable settings.

    Example:
        >>> emb = build_embeddings(RagConfig(embeddings={"model": "all-minilm"}))
        >>> emb.model
        'all-minilm'

    """
    cfg = cfg if cfg is not None else load_config()
    return get_provider(cfg.embeddings.provider).embeddings(cfg.embeddings)
