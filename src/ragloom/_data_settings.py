"""The data sections: `qdrant` (where vectors live), `retrieval`, and `ingest`.

Example:
    >>> from ragloom.config import RetrievalSettings
    >>> RetrievalSettings(k=6, filter={"lang": "en"}).filter
    {'lang': 'en'}

"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator

from ragloom._access import AccessRule
from ragloom._section import _Section


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
