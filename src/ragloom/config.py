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

import contextvars
import difflib
import os
import re
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_serializer,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
    YamlConfigSettingsSource,
)

from ragloom._access import AccessRule
from ragloom._known_models import DEFAULT_RELEVANCE_BAR, known_embedding_model
from ragloom._redact import mask_url, redact
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

ENV_PREFIX = "RAGLOOM_"
CONFIG_ENV_VAR = "RAGLOOM_CONFIG"
DEFAULT_CONFIG_FILES = ("ragloom.yaml", "ragloom.yml", "ragloom.toml")

_URL_FIELDS = frozenset({"base_url", "url"})

_explicit_file: contextvars.ContextVar[Path | None] = contextvars.ContextVar(
    "ragloom_config_file", default=None
)


class _Section(BaseModel):
    # validate_assignment: `cfg.llm.headers = {...}` stores secrets too, and is checked.
    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True, validate_default=True,
                              validate_assignment=True)

    @field_serializer("base_url", "url", when_used="json", check_fields=False)
    def _mask_url_password(self, value: str | None) -> str | None:
        # JSON output is for people and files, like SecretStr's: no password in a URL.
        return mask_url(value)

    def __repr_args__(self) -> Any:
        # A URL may carry a password (http://user:pw@host): the repr shows it masked.
        for name, value in super().__repr_args__():
            yield name, mask_url(value) if name in _URL_FIELDS and isinstance(value, str) else value


# Ollama reads keep_alive as a number of seconds or a Go duration ("5m", "1h30m", "-1m");
# any negative value keeps the model loaded for ever.
_GO_DURATION = re.compile(r"^[-+]?((\d+(\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h))+$")
_NUMBER = re.compile(r"^[-+]?\d+(\.\d*)?$")
_GO_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0,
                    "h": 3600.0}
_KEEP_ALIVE_FORMS = ("a duration such as '30m', '1h30m' or '90s', a number of seconds"
                     " such as 300, 0 to unload at once, or -1 to keep the model loaded")


def parse_keep_alive(value: str | int | float | None) -> str | int | None:
    """Check an Ollama `keep_alive`; a number written as text ("-1") becomes a number.

    Raises:
        ValueError: Not a form Ollama accepts (the message lists them).

    Example:
        >>> parse_keep_alive("1h30m"), parse_keep_alive("-1"), parse_keep_alive(300)
        ('1h30m', -1, 300)

    """
    if value is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _bounded_seconds(value)
    if isinstance(value, str):
        text = value.strip()
        if _NUMBER.match(text):
            return _bounded_seconds(float(text))
        if _GO_DURATION.match(text):
            return text
    raise ValueError(
        f"keep_alive {value!r} is not a duration Ollama accepts: use {_KEEP_ALIVE_FORMS}")


_MAX_KEEP_ALIVE_S = 9_223_372_036
"""Go's longest duration (2**63 ns, about 292 years): Ollama reads nothing longer."""


def _bounded_seconds(value: float) -> int:
    if value != value or abs(value) > _MAX_KEEP_ALIVE_S:  # NaN, infinite, or too long
        raise ValueError(
            f"keep_alive {str(value)[:24]} is out of range: at most {_MAX_KEEP_ALIVE_S:,} seconds"
            " (Ollama's longest duration); use -1 to keep the model loaded for ever")
    return int(value)


def keep_alive_seconds(value: str | int | None) -> int | None:
    """`keep_alive` in whole seconds (negative: for ever), for clients that want a number.

    Example:
        >>> keep_alive_seconds("1h30m"), keep_alive_seconds("-1m"), keep_alive_seconds(None)
        (5400, -1, None)

    """
    value = parse_keep_alive(value)
    if not isinstance(value, str):
        return value
    sign = -1 if value.startswith("-") else 1
    parts = re.findall(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)", value)
    seconds = sum(float(number) * _GO_UNIT_SECONDS[unit] for number, unit in parts)
    return -1 if sign < 0 and seconds > 0 else int(seconds)


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


class QdrantSettings(_Section):
    """Where vectors live."""

    engine: Literal["edge", "local", "server"] | None = None
    """`edge` (Qdrant Edge shards in `location`), `local` (qdrant-client local mode), or
    `server` (`url`). Null: server if `url` is set, local for `:memory:` or a folder
    written by local mode, else edge."""
    location: str = ".ragloom/qdrant"
    """A folder (embedded, persistent: Qdrant Edge) or `:memory:`; ignored when `url` is set.
    Relative: to the config file's folder when set there, else to the working directory."""
    url: str | None = None
    """`http(s)://host:6333`: a Qdrant server or cluster. Overrides `location`."""
    api_key: SecretStr | None = None
    """Qdrant server API key."""
    prefer_grpc: bool = False
    """Talk gRPC to the server (port 6334) instead of REST."""
    collection: str = "ragloom"
    """Collection name."""
    distance: Literal["cosine", "dot", "euclid"] = "cosine"
    """Vector distance, fixed when the collection is created."""
    shard_number: int | None = None
    """Server only: shards for a new collection."""
    replication_factor: int | None = None
    """Server only: replicas of each shard for a new collection."""
    on_disk: bool = False
    """Keep vectors on disk instead of in RAM (new collections)."""
    quantization: Literal["scalar"] | None = None
    """`scalar`: int8 scalar quantization for a new collection."""
    timeout_s: float | None = Field(None, gt=0)
    """Request timeout for a Qdrant server, in seconds."""


class RetrievalSettings(_Section):
    """How context is fetched for a question."""

    mode: Literal["dense", "sparse", "hybrid"] = "hybrid"
    """Dense vectors, sparse BM25-style vectors, or both fused with RRF. Left unset: hybrid,
    but dense for `mmr`/threshold search and for a collection built without sparse vectors."""
    search: Literal["similarity", "mmr", "threshold"] = "similarity"
    """Plain similarity, maximal marginal relevance, or a score threshold."""
    k: int = Field(4, ge=1)
    """Documents returned, exactly."""
    fetch_k: int = Field(20, ge=1)
    """Candidates fetched before MMR re-ranking, and per side (dense, sparse) before hybrid RRF."""
    lambda_mult: float = Field(0.5, ge=0.0, le=1.0)
    """MMR: 1 favours relevance, 0 favours diversity."""
    score_threshold: float | None = None
    """`threshold` search: the lowest relevance score kept."""
    filter: dict[str, Any] | None = None
    """A Qdrant filter as a mapping, or `{"key": value}` for exact payload matches."""
    multi_query: bool = False
    """Ask the chat model for variants of the question and merge their results."""

    @field_validator("filter")
    @classmethod
    def _no_null_match(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value and not {"must", "should", "must_not", "min_should"} & set(value):
            _check_exact_filter(value)
            nulls = [key for key, match in value.items() if match is None]
            if nulls:
                empty = {"must": [{"is_empty": {"key": f"metadata.{nulls[0]}"}}]}
                raise ValueError(f"{nulls[0]!r} is null: an exact match needs a value; to"
                                 f" select documents without it write {empty}")
        return value


def _check_exact_filter(value: dict[str, Any]) -> None:
    """An exact-match filter names metadata keys, and matches text, integers or booleans."""
    for key, match in value.items():
        if key.startswith("metadata."):
            short = key.removeprefix("metadata.")
            raise ValueError(
                f"{key!r}: the keys of an exact-match filter are metadata keys already (it"
                f" would look for 'metadata.{key}'); write {{{short!r}: ...}}, or a full"
                f" Qdrant filter {{'must': [{{'key': {key!r}, 'match': {{'value': ...}}}}]}}")
        for item in match if isinstance(match, list | tuple | set) else [match]:
            if item is not None and not isinstance(item, str | int | bool):
                raise ValueError(
                    f"{key!r}: {type(item).__name__} value {item!r} cannot be matched"
                    " exactly; use text, an integer or true/false (a list means any of"
                    " them), or a full Qdrant filter with a `range` for numbers")


class PromptSettings(_Section):
    """The prompts sent to the chat model."""

    template: str | None = None
    """Answer prompt template text or a path to a file; null means the built-in one."""
    condense_template: str | None = None
    """Prompt that turns a follow-up plus chat history into a standalone question."""


class AnswerSettings(_Section):
    """What counts as grounded, and what the chain says when nothing does."""

    min_relevance: Annotated[float, Field(ge=-1.0, le=1.0)] | Literal["auto"] | None = "auto"
    """Lowest cosine similarity of a chunk's dense vector to the question's for the chunk
    to count, the same in every retrieval mode (not the mode's own score). When none
    counts the chain abstains without calling the chat model. `auto`: the bar measured for
    the embedding model and its prefixes (nomic-embed-text 0.5, or 0.4 without prefixes;
    all-minilm 0.15), 0.2 for a model ragloom has not measured; `ragloom eval --answers`
    suggests one for your data. Null: off."""
    abstain_text: str = "The documents do not contain the answer to this question."
    """The answer given, without calling the chat model, when no chunk counts."""
    sources_footer: bool = False
    """Append `[Sources: a.md, b.md]` listing the cited files to the answer."""
    max_context_tokens: int | None = Field(1500, ge=1)
    """Bound on the sources' tokens in the prompt (estimated, 4 characters a token), so
    prefill time on a CPU stays predictable; chunks that do not fit are dropped lowest-
    ranked first (the best one is always kept) and counted in `checks`. null: no bound."""
    disputed_text: str = "The sources disagree."
    """Put before the answer when the sources it rests on disagree (`mode: disputed`)."""
    conflict_check: bool = True
    """Call the answer `disputed` when two sources give different values for what the
    question asks: quantities with the same unit, years, versions, a setting's value, yes
    or no (a check on the retrieved text before the model is called, no model call); the
    answer then starts by naming each side with its citation."""
    number_check: bool = True
    """Call the answer `abstained` when it states a number no source gives (a price or a
    date the model made up); `invoke` then returns `abstain_text` instead."""
    self_check: bool = False
    """Ask the chat model, in a second short call with the sources, whether they state the
    answer (JSON held to a schema by Ollama's `format`); when they do not, the answer is
    `abstained` (`checks["mode_by"]: self_check`) and `invoke` returns `abstain_text`.
    Costs a second prefill of the sources (its time is in `checks["decision_s"]`)."""
    attribute_citations: bool = True
    """Cite the source of answer sentences the model left uncited: the one source holding
    most of the sentence's own words and numbers (no model call). Such citations carry
    `metadata["attributed"]` and are listed in `checks["attributed"]`; the answer text is
    not changed."""


class GuardSettings(_Section):
    """Checks around the chat model (see docs/chains.md)."""

    redact: Literal["auto", "on", "off"] = "auto"
    """Mask e-mails, phones, IBANs, card numbers, keys, tokens and passwords in every chat
    model request; `auto`: decided per request, on when any server of the model called is
    not loopback (or unknown), off for a local Ollama. Only the user's own values come back
    in the answer, and never inside URLs, links, HTML or code (docs/security.md)."""
    screen: Literal["off", "fence", "drop"] = "fence"
    """Retrieved chunks that carry instructions: `fence` keeps them marked as untrusted,
    `drop` removes them; either way they are reported in the output's `checks`."""
    screen_level: Literal["standard", "strict"] = "standard"
    """How eagerly `screen` flags: `strict` catches more planted instructions and flags
    more ordinary text about prompts (measured rates: docs/security.md, "Screening")."""
    phone_region: str | None = None
    """Redaction: ISO 3166 two-letter region (`US`, `DE`, ...; any case) for phone numbers
    written without `+country`."""

    @field_validator("phone_region")
    @classmethod
    def _known_region(cls, value: str | None) -> str | None:
        if value is None:
            return None
        from ragloom._detectors import valid_region

        return valid_region(value)
    check_output: bool = True
    """Report an empty answer, or one that only repeats the prompt, instead of returning it."""


DOCUMENT_SUFFIXES = (".txt", ".md", ".markdown", ".html", ".htm", ".pdf", ".docx", ".odt",
                     ".pptx", ".xlsx", ".csv", ".tsv", ".epub", ".eml", ".mbox")
"""Suffixes `ingest.glob` picks up by default. Code, notebooks, JSON and images have
loaders too, but are opted into: a docs folder's scripts, notebooks, data files and
screenshots are rarely meant as its content (this repository's `docs/` holds all four)."""


class IngestSettings(_Section):
    """How files become chunks."""

    chunk_size: int = Field(1000, ge=1)
    """Target chunk size in characters."""
    chunk_overlap: int = Field(150, ge=0)
    """Characters shared by neighbouring chunks."""
    glob: list[str] = Field(
        default_factory=lambda: [f"**/*{suffix}" for suffix in DOCUMENT_SUFFIXES]
    )
    """Patterns of files picked up inside a folder (default: the document formats; code,
    notebooks, JSON and images are read too when added, e.g. `**/*.py`). Other files found
    there are counted in the ingest report by suffix."""
    ocr: Literal["auto", "on", "off"] = "auto"
    """OCR (Tesseract) of PDF pages without a text layer and of images: auto (when
    Tesseract is installed; else the report names the pages), on (required), off."""
    ocr_language: str = Field("eng", pattern=r"^[A-Za-z_]+(\+[A-Za-z_]+)*$")
    """Tesseract language data to read with, e.g. `eng` or `eng+deu`."""
    notebook_outputs: bool = False
    """Keep the text outputs of notebook cells (images and binary outputs never)."""
    root: str | None = None
    """Folder that stored sources are relative to; null: the folder holding the store.
    Relative: to the config file's folder when set there. Changing it renames what is
    stored (recorded in the collection), never deletes or duplicates it."""
    access: list[AccessRule] = Field(default_factory=list)
    """Access metadata per file pattern: entries `{glob, tenant, groups, classification}`
    matched on the stored source in order, later ones overriding (docs/multi-user.md)."""


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


_FILE_RELATIVE = (("qdrant", "location"), ("ingest", "root"))
"""Paths in a config file that are relative to the file's folder, not the working one."""


class _FileRelative(PydanticBaseSettingsSource):
    """A config file's values, relative `qdrant.location` and `ingest.root` resolved.

    They are relative to the file's folder, so an app finds its store from any
    working directory.
    """

    def __init__(self, settings_cls: type[BaseSettings], inner: PydanticBaseSettingsSource,
                 path: Path) -> None:
        super().__init__(settings_cls)
        self.inner, self.folder = inner, path.resolve().parent

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return self.inner.get_field_value(field, field_name)

    def __call__(self) -> dict[str, Any]:
        data = self.inner()
        for section, key in _FILE_RELATIVE:
            values = data.get(section)
            if not isinstance(values, dict):
                continue
            value = values.get(key)
            if isinstance(value, str) and value and value != ":memory:":
                expanded = os.path.expanduser(value)
                if not os.path.isabs(expanded):
                    data[section] = {**values, key: str(self.folder / expanded)}
        return data


def config_file() -> Path | None:
    """The config file in force: `load_config(path)`, `RAGLOOM_CONFIG`, or one in the cwd."""
    explicit = _explicit_file.get() or os.environ.get(CONFIG_ENV_VAR)
    if explicit:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise ConfigError(
                f"config file {str(path)!r} does not exist: fix the path"
                f" (or unset {CONFIG_ENV_VAR})"
            )
        if path.suffix not in {".yaml", ".yml", ".toml"}:
            raise ConfigError(f"config file {str(path)!r} must end in .yaml, .yml or .toml")
        return path
    present = [Path.cwd() / name for name in DEFAULT_CONFIG_FILES if (Path.cwd() / name).is_file()]
    if len(present) > 1:
        names = " and ".join(str(path) for path in present)
        raise ConfigError(
            f"found {names}: ragloom reads one config file. Choose it with"
            f" {CONFIG_ENV_VAR}=<file> (or `--config <file>`), or remove the other"
        )
    return present[0] if present else None


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


def _env_error(exc: Exception) -> str | None:
    """The error for a variable pydantic-settings could not parse, else None.

    A section given as text or bad JSON (`RAGLOOM_QDRANT=x`): named, with the fix.
    """
    match = re.search(r'field "(\w+)" from source "EnvSettingsSource"', str(exc))
    if match is None:
        return None
    variable = ENV_PREFIX + match.group(1).upper()
    return (f"environment variable {variable} is not valid JSON for the"
            f" {match.group(1)!r} section: give one key per variable"
            f" ({variable}__KEY=value) or a JSON object ({variable}='{{\"key\": ...}}'),"
            " or unset it")


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


@contextmanager
def _using_file(path: str | os.PathLike[str] | None) -> Iterator[None]:
    token = _explicit_file.set(Path(path) if path is not None else None)
    try:
        yield
    finally:
        _explicit_file.reset(token)


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


_SECRET_KEYS = ("api_key", "apikey", "headers", "password", "secret", "token")


def _shown(error: Any) -> str:
    """What a message may say about the bad value: never the value of a secret field."""
    value = error.get("input")
    if any(name in str(part).lower() for part in error["loc"] for name in _SECRET_KEYS):
        return f"got a {type(value).__name__}; the value is not shown, it is a secret"
    return f"got {redact(repr(value))}"


def _explain(exc: ValidationError, path: Path | None) -> str:
    lines = []
    for error in exc.errors():
        key = ".".join(str(part) for part in error["loc"])
        env_name = ENV_PREFIX + "__".join(str(part) for part in error["loc"]).upper()
        where = f" (environment variable {env_name})" if env_name in os.environ else ""
        if error["type"] == "extra_forbidden":
            lines.append(f"  {key}: unknown key{where}; check the spelling against the reference")
        else:
            lines.append(f"  {key}: {error['msg']} ({_shown(error)}){where}")
    source = f" in {str(path)!r} or the environment" if path else ""
    return f"invalid ragloom configuration{source}:\n" + "\n".join(lines)


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
