"""The provider-agnostic adapter: provider name → chat model and embeddings.

Built-ins: ``ollama`` (langchain-ollama) and ``openai`` (langchain-openai; also any
OpenAI-compatible server through ``base_url``, Ollama's ``/v1`` included). Third
parties add providers through the entry-point group ``ragloom.providers``, whose
entries point at a `Provider` instance or class::

    [project.entry-points."ragloom.providers"]
    mycloud = "ragloom_mycloud:MyCloudProvider"

Besides the two factories, a provider may implement the optional hooks of
`ProviderHooks` (its doctor checks, the hint for a missing model, finding and
pulling missing models); `ragloom doctor` and `ragloom pull` are loops over the
configured providers' hooks, and the built-ins implement them the same way a plugin
does (`ragloom.providers._ollama_checks`, `ragloom.providers._openai_checks`).

Example:
    >>> from ragloom import RagConfig, build_embeddings
    >>> emb = build_embeddings(RagConfig(embeddings={"model": "all-minilm"}))
    >>> type(emb).__name__
    'RagloomOllamaEmbeddings'

"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from typing import Any, Literal, NamedTuple, Protocol, runtime_checkable

from langchain_core.embeddings import Embeddings
from langchain_core.language_models import BaseChatModel

from ragloom._checks import Check
from ragloom.config import EmbeddingsSettings, LLMSettings, ModelSettings, RagConfig, load_config
from ragloom.errors import ConfigError

__all__ = [
    "ENTRY_POINT_GROUP",
    "ModelUse",
    "Provider",
    "ProviderChecks",
    "ProviderHooks",
    "available_providers",
    "build_chat_model",
    "build_embeddings",
    "configured_uses",
    "get_provider",
    "missing_model_hint",
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


class ModelUse(NamedTuple):
    """One configured model: the section it comes from and what it is used for.

    Example:
        >>> use = configured_uses(RagConfig())["ollama"][0]
        >>> use.role, use.section, use.settings.model
        ('chat', 'llm', 'llama3.2')

    """

    role: Literal["chat", "embedding"]
    """`chat` for the `llm` section, `embedding` for `embeddings`."""
    section: Literal["llm", "embeddings"]
    """The config section, for messages that name the setting to change."""
    settings: ModelSettings
    """The section's settings (model, base_url, headers, ...)."""


@dataclass
class ProviderChecks:
    """What a provider's `doctor_checks` hook found.

    Example:
        >>> ProviderChecks([Check("ok", "ok", "fine")], embedding_size=384).embedding_size
        384

    """

    checks: list[Check] = field(default_factory=list)
    """The checks, in the order they ran."""
    embedding_size: int | None = None
    """The embedding model's vector size, if the server reports it (the doctor then
    compares the collection with it)."""


class ProviderHooks(Protocol):
    """Optional hooks a provider may implement besides `Provider`'s two factories.

    A provider without them still works; `ragloom doctor` then says it is not
    checked, and `ragloom pull` that it cannot pull.
    """

    def doctor_checks(self, uses: Sequence[ModelUse], *, timeout_s: float) -> ProviderChecks:
        """Check the server(s) and models of `uses` (every use of this provider)."""
        ...

    def missing_model_hint(self, model: str, section: str) -> str:
        """How to fix a missing `model` (e.g. the pull command), for error messages."""
        ...

    def missing_models(self, uses: Sequence[ModelUse], *,
                       timeout_s: float) -> list[tuple[ModelUse, str]]:
        """The uses whose model the server lacks, each with where (e.g. the server URL)."""
        ...

    def pull_model(self, model: str, settings: ModelSettings, *,
                   on_progress: Callable[[Any], None] | None = None) -> str:
        """Pull `model` to the server `settings` name; return where it was pulled.

        `on_progress` receives objects with `status`, `digest`, `total`, `completed`.
        """
        ...


_BUILTINS = {
    "ollama": "ragloom.providers.ollama:OllamaProvider",
    "openai": "ragloom.providers.openai:OpenAIProvider",
}
"""Built-in providers, imported only when first asked for (as plugins are)."""
_registry: dict[str, Provider] = {}
_broken: dict[str, str] = {}
"""Plugins that failed to load, by name, with the message to raise when one is asked for."""
_plugins: dict[str, EntryPoint] = {}
"""Plugins found in the entry-point group, loaded when first asked for."""
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


def _find_plugins() -> None:
    """Read the entry-point group once (reading is cheap; loading waits for a request)."""
    global _entry_points_loaded, _plugins
    if _entry_points_loaded:
        return
    _entry_points_loaded = True
    _plugins = {entry.name: entry for entry in entry_points(group=ENTRY_POINT_GROUP)}


def _load(name: str) -> Provider | None:
    """The provider `name`, imported on first use: a built-in, else a plugin; None if unknown."""
    if name in _registry:
        return _registry[name]
    if name in _BUILTINS:
        module, _, attr = _BUILTINS[name].partition(":")
        provider = getattr(importlib.import_module(module), attr)()
        return _registry.setdefault(name, provider)
    _find_plugins()
    entry = _plugins.get(name)
    if entry is None or name in _broken:
        return None
    try:
        loaded = entry.load()
        provider = loaded() if isinstance(loaded, type) else loaded
    except Exception as exc:  # a broken plugin fails when asked for, not for everyone
        _broken[name] = (
            f"provider plugin {name!r} ({entry.value}) failed to load: {exc};"
            " reinstall or uninstall the package that provides it"
        )
        return None
    return _registry.setdefault(name, provider)


def available_providers() -> list[str]:
    """Names of every registered provider, built-ins and plugins (this imports them all).

    Returns:
        The sorted names (plugins that failed to load are left out).

    Example:
        >>> {"ollama", "openai"} <= set(available_providers())
        True

    """
    _find_plugins()
    return sorted(name for name in {*_registry, *_BUILTINS, *_plugins}
                  if _load(name) is not None)


def get_provider(name: str) -> Provider:
    """The provider registered under `name`, imported on first use.

    Only the providers a configuration names are imported: an Ollama-only run never
    imports `langchain_openai`.

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
    provider = _load(name)
    if provider is not None:
        return provider
    if name in _broken:
        raise ConfigError(_broken[name])
    known = ", ".join(sorted({*_registry, *_BUILTINS, *_plugins} - set(_broken)))
    raise ConfigError(
        f"unknown provider {name!r}: choose one of {known}, or install a plugin that"
        f" registers it under the {ENTRY_POINT_GROUP!r} entry-point group"
    )


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
        A LangChain `Embeddings` (`OllamaEmbeddings`, `OpenAIEmbeddings`, or a plugin's),
        wrapped in `InstructedEmbeddings` when the model takes query/document prefixes
        (`embeddings.query_prefix` / `document_prefix`; `auto` from the known models).

    Raises:
        ConfigError: Unknown provider or unusable settings.

    Example:
        >>> emb = build_embeddings(RagConfig(embeddings={"model": "all-minilm"}))
        >>> emb.model
        'all-minilm'

    """
    cfg = cfg if cfg is not None else load_config()
    embeddings = get_provider(cfg.embeddings.provider).embeddings(cfg.embeddings)
    query_prefix, document_prefix = cfg.embeddings.prefixes()
    if query_prefix or document_prefix:  # the model's task instructions (nomic-embed-text...)
        from ragloom.providers._instructed import InstructedEmbeddings

        return InstructedEmbeddings(embeddings, query_prefix=query_prefix,
                                    document_prefix=document_prefix)
    return embeddings


def configured_uses(cfg: RagConfig) -> dict[str, list[ModelUse]]:
    """The models `cfg` uses, grouped by provider name (the chat model's provider first).

    The embeddings model is left out when retrieval is sparse-only (it is never called).

    Example:
        >>> uses = configured_uses(RagConfig(embeddings={"provider": "openai"}))
        >>> {name: [u.role for u in group] for name, group in uses.items()}
        {'ollama': ['chat'], 'openai': ['embedding']}

    """
    uses: dict[str, list[ModelUse]] = {}
    uses.setdefault(cfg.llm.provider, []).append(ModelUse("chat", "llm", cfg.llm))
    if cfg.retrieval.mode != "sparse":
        uses.setdefault(cfg.embeddings.provider, []).append(
            ModelUse("embedding", "embeddings", cfg.embeddings))
    return uses


def missing_model_hint(provider: str, model: str, section: str) -> str:
    """How to fix a missing model, from the provider's `missing_model_hint` hook.

    Example:
        >>> missing_model_hint("ollama", "m", "llm")
        'run: ollama pull m (or ragloom pull, or set llm.auto_pull)'
        >>> missing_model_hint("nosuch", "m", "llm")
        'check the model name'

    """
    try:
        hook = getattr(get_provider(provider), "missing_model_hint", None)
    except ConfigError:
        hook = None
    return str(hook(model, section)) if hook is not None else "check the model name"
