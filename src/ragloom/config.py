"""`RagConfig`: every setting ragloom reads, in one place.

Sources, highest first: keyword arguments, environment variables (prefix
``RAGLOOM_``, ``__`` between nested keys, e.g. ``RAGLOOM_LLM__MODEL``), a YAML or
TOML file (``RAGLOOM_CONFIG``, else ``./ragloom.yaml`` / ``./ragloom.toml`` when
present), then the defaults below. Nested sections merge key by key across sources.

Example:
    >>> from ragloom import RagConfig
    >>> cfg = RagConfig(qdrant={"location": ":memory:"}, retrieval={"k": 6})
    >>> cfg.retrieval.k, cfg.llm.provider
    (6, 'ollama')

"""

from __future__ import annotations

import difflib
import os
import warnings
from typing import Any

import yaml
from pydantic import BaseModel, Field, ValidationError
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
    YamlConfigSettingsSource,
)

# The sections and the sources live in private modules (one concept each); every name
# stays importable from here, the public face.
from ragloom._answer_settings import AnswerSettings as AnswerSettings
from ragloom._answer_settings import GuardSettings as GuardSettings
from ragloom._answer_settings import PromptSettings as PromptSettings
from ragloom._config_sources import CONFIG_ENV_VAR as CONFIG_ENV_VAR
from ragloom._config_sources import DEFAULT_CONFIG_FILES as DEFAULT_CONFIG_FILES
from ragloom._config_sources import ENV_PREFIX as ENV_PREFIX
from ragloom._config_sources import _env_error, _explain, _FileRelative, _using_file
from ragloom._config_sources import config_file as config_file
from ragloom._data_settings import DOCUMENT_SUFFIXES as DOCUMENT_SUFFIXES
from ragloom._data_settings import IngestSettings as IngestSettings
from ragloom._data_settings import QdrantSettings as QdrantSettings
from ragloom._data_settings import RetrievalSettings as RetrievalSettings
from ragloom._keep_alive import keep_alive_seconds as keep_alive_seconds
from ragloom._keep_alive import parse_keep_alive as parse_keep_alive
from ragloom._known_models import DEFAULT_RELEVANCE_BAR, known_embedding_model
from ragloom._model_settings import EmbeddingsSettings as EmbeddingsSettings
from ragloom._model_settings import LLMSettings as LLMSettings
from ragloom._model_settings import ModelSettings as ModelSettings
from ragloom._model_settings import RouteModel as RouteModel
from ragloom._model_settings import RoutingSettings as RoutingSettings
from ragloom._redact import mask_url
from ragloom.errors import ConfigError

__all__ = [
    "AnswerSettings",
    "EmbeddingsSettings",
    "GuardSettings",
    "IngestSettings",
    "LLMSettings",
    "ModelSettings",
    "PromptSettings",
    "QdrantSettings",
    "RagConfig",
    "RetrievalSettings",
    "keep_alive_seconds",
    "load_config",
    "ollama_url",
    "parse_keep_alive",
]


class RagConfig(BaseSettings):
    """The whole configuration of a ragloom pipeline.

    Example:
        >>> cfg = RagConfig(llm={"provider": "openai", "model": "gpt-4o-mini"})
        >>> cfg.llm.model
        'gpt-4o-mini'

    """

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        extra="forbid",
        use_attribute_docstrings=True,
        nested_model_default_partial_update=True,
    )

    llm: LLMSettings = Field(default_factory=LLMSettings)
    """The chat model."""
    embeddings: EmbeddingsSettings = Field(default_factory=EmbeddingsSettings)
    """The embedding model."""
    qdrant: QdrantSettings = Field(default_factory=QdrantSettings)
    """The vector store."""
    retrieval: RetrievalSettings = Field(default_factory=RetrievalSettings)
    """Retrieval of context."""
    prompt: PromptSettings = Field(default_factory=PromptSettings)
    """Prompts."""
    ingest: IngestSettings = Field(default_factory=IngestSettings)
    """Loading and splitting files."""
    answer: AnswerSettings = Field(default_factory=AnswerSettings)
    """Grounding: the relevance bar, abstention and the sources footer."""
    guards: GuardSettings = Field(default_factory=GuardSettings)
    """Checks around the chat model: redaction, screening, output checks."""
    routing: RoutingSettings = Field(default_factory=RoutingSettings)
    """Chat models picked per question by policy (confidential context stays local)."""

    def __init__(self, **values: Any) -> None:
        _check_environment()
        try:
            super().__init__(**values)
        except ValidationError as exc:
            raise ConfigError(_explain(exc, config_file())) from None
        except ConfigError:
            raise
        except (OSError, ValueError, yaml.YAMLError) as exc:  # unreadable or malformed file
            from_env = _env_error(exc)
            if from_env is not None:
                raise ConfigError(from_env) from None
            raise ConfigError(
                f"could not read config file {str(config_file())!r}: {exc}"
            ) from None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Order the sources: keyword arguments, environment, config file."""
        path = config_file()
        if path is None:
            return (init_settings, env_settings)
        if path.suffix == ".toml":
            file_source: PydanticBaseSettingsSource = TomlConfigSettingsSource(settings_cls, path)
        else:
            file_source = YamlConfigSettingsSource(settings_cls, path)
        return (init_settings, env_settings, _FileRelative(settings_cls, file_source, path))

    def relevance_bar(self) -> float | None:
        """`answer.min_relevance` in effect: `auto` resolved for the embedding model.

        Example:
            >>> RagConfig(embeddings={"model": "nomic-embed-text"}).relevance_bar()
            0.5
            >>> RagConfig(embeddings={"model": "unknown-model"}).relevance_bar()
            0.2
            >>> RagConfig(answer={"min_relevance": None}).relevance_bar() is None
            True

        """
        bar = self.answer.min_relevance
        if bar != "auto":
            return bar
        known = known_embedding_model(self.embeddings.model)
        measured = known.bar_for(self.embeddings.prefixes()) if known is not None else None
        return DEFAULT_RELEVANCE_BAR if measured is None else measured

    def masked(self) -> dict[str, Any]:
        """The configuration as plain data with every secret shown as `**********`.

        Secrets are the API keys, the values of `headers` (often a bearer token) and a
        password or token inside `base_url` / `qdrant.url`.

        Example:
            >>> RagConfig(llm={"api_key": "sk-123"}).masked()["llm"]["api_key"]
            '**********'

        """
        data = self.model_dump(mode="json")  # SecretStr (api keys, header values) masked
        for section in data.values():
            for key in ("base_url", "url"):  # a password inside a URL
                if isinstance(section.get(key), str):
                    section[key] = mask_url(section[key])
        return data


# RAGLOOM_* variables ragloom reads that are not settings.
_NON_SETTING_ENV = {CONFIG_ENV_VAR}


def _setting_paths() -> list[str]:
    """Every settable path, as `section` and `section__key` (lower case)."""
    paths = []
    for section, field in RagConfig.model_fields.items():
        paths.append(section)
        model = field.annotation
        if isinstance(model, type) and issubclass(model, BaseModel):
            paths += [f"{section}__{key}" for key in model.model_fields]
    return paths


def _keys(section: str) -> set[str]:
    model = RagConfig.model_fields[section].annotation
    return set(model.model_fields) if isinstance(model, type) and issubclass(
        model, BaseModel) else set()


def _check_environment() -> None:
    """Refuse a `RAGLOOM_SECTION__KEY` variable naming no section: it would do nothing.

    pydantic-settings silently ignores such a variable (a misspelt section such as
    `RAGLOOM_RETRIVAL__K`); an unknown key inside a known section is already an error.
    A variable without `__` that resembles a section is only warned about: other tools
    may use the prefix for their own variables.
    """
    sections = list(RagConfig.model_fields)
    for name in os.environ:
        upper = name.upper()
        if not upper.startswith(ENV_PREFIX) or upper in _NON_SETTING_ENV:
            continue
        path = upper.removeprefix(ENV_PREFIX).lower()
        section, sep, _ = path.partition("__")
        if section in sections:
            continue
        if sep:
            closest = difflib.get_close_matches(path, _setting_paths(), n=1, cutoff=0.6)
            hint = (f"did you mean {ENV_PREFIX}{closest[0].upper()}?" if closest
                    else f"the sections are: {', '.join(sections)}.")
            raise ConfigError(
                f"environment variable {name} names no ragloom setting ({section!r} is not"
                f" a section); {hint} Rename or unset it"
            )
        single = [f"{name}__{path[len(name) + 1:]}" for name in sections
                  if path.startswith(name + "_") and path[len(name) + 1:] in _keys(name)]
        if single:
            warnings.warn(
                f"environment variable {name} is not a ragloom setting and is ignored:"
                f" nested keys take two underscores, {ENV_PREFIX}{single[0].upper()}",
                UserWarning, stacklevel=3)
            continue
        closest = difflib.get_close_matches(path, [*sections, "config"], n=1, cutoff=0.75)
        if closest:
            warnings.warn(
                f"environment variable {name} is not a ragloom setting; did you mean"
                f" {ENV_PREFIX}{closest[0].upper()}?", UserWarning, stacklevel=3)


def load_config(path: str | os.PathLike[str] | None = None, **overrides: Any) -> RagConfig:
    """Load the configuration from a file, the environment and keyword overrides.

    Args:
        path: A `.yaml`/`.yml`/`.toml` file. Default: `RAGLOOM_CONFIG`, else
            `./ragloom.yaml` or `./ragloom.toml` if present, else none.
        **overrides: Sections or values that win over every other source.

    Returns:
        The validated `RagConfig`.

    Raises:
        ConfigError: The file is missing or unreadable, or a key is unknown or mistyped.

    Example:
        >>> cfg = load_config(qdrant={"location": ":memory:"})
        >>> cfg.qdrant.location
        ':memory:'

    """
    with _using_file(path):
        return RagConfig(**overrides)


def ollama_url(base_url: str | None) -> str:
    """The Ollama server in force: `base_url` (its first URL), else `OLLAMA_HOST`, else the default.

    Lives with the config because it resolves a setting's default (`llm.base_url`,
    `embeddings.base_url`), like the other sources read here.

    Example:
        >>> ollama_url("http://gpu:11434")
        'http://gpu:11434'
        >>> ollama_url("http://gpu1:11434,http://gpu2:11434")
        'http://gpu1:11434'

    """
    url = base_url or os.environ.get("OLLAMA_HOST") or "http://127.0.0.1:11434"
    url = url.split(",", 1)[0].strip().rstrip("/")
    return url if "://" in url else f"http://{url}"
