"""The embeddings record: which model and task prefixes a collection's vectors were made with.

Private module of the storage layer; import its public names from `ragloom.store`.
"""

from __future__ import annotations

import warnings
from typing import Any

from langchain_core.embeddings import Embeddings

from ragloom.config import RagConfig

__all__ = ["RECORD_KEY", "embedding_prefixes", "embeddings_identity"]

RECORD_KEY = "ragloom"
"""Collection metadata key under which ragloom records how it built the collection."""


_PROVIDER_CLASSES = {"OllamaEmbeddings": "ollama", "OpenAIEmbeddings": "openai"}


def embeddings_identity(embeddings: Embeddings, cfg: RagConfig | None = None) -> str:
    """What ragloom records as "the embeddings" of a collection: provider and model.

    `provider:model` from the config when the embeddings were built from it; else
    the provider of a known class (`OllamaEmbeddings` → `ollama`) or the class name,
    and its `model`/`model_name`; `[N]` is added when the object declares its output
    size (`dimensions`, `size`), which can differ per model.

    Example:
        >>> from langchain_core.embeddings import DeterministicFakeEmbedding
        >>> embeddings_identity(DeterministicFakeEmbedding(size=8))
        'DeterministicFakeEmbedding[8]'

    """
    from ragloom.providers._instructed import InstructedEmbeddings

    if isinstance(embeddings, InstructedEmbeddings):  # prefixes are recorded on their own
        embeddings = embeddings.inner
    if cfg is not None:
        identity = f"{cfg.embeddings.provider}:{cfg.embeddings.model}"
    else:
        model = getattr(embeddings, "model", None) or getattr(embeddings, "model_name", None)
        name = type(embeddings).__name__
        identity = _PROVIDER_CLASSES.get(name, name) + (
            f":{model}" if isinstance(model, str) else "")
    for attr in ("dimensions", "size"):
        size = getattr(embeddings, attr, None)
        if isinstance(size, int) and not isinstance(size, bool):
            return f"{identity}[{size}]"
    return identity


class _Identity(str):
    """An embeddings identity (`provider:model[N]`) that also carries its prefixes."""

    prefixes: tuple[str, str]

    def __new__(cls, identity: str, prefixes: tuple[str, str]) -> _Identity:
        obj = super().__new__(cls, identity)
        obj.prefixes = prefixes
        return obj


def embedding_prefixes(embeddings: Embeddings | None) -> tuple[str, str]:
    """The (query, document) prefixes dense vectors are made with ("" when none).

    Example:
        >>> from langchain_core.embeddings import DeterministicFakeEmbedding
        >>> embedding_prefixes(DeterministicFakeEmbedding(size=4))
        ('', '')

    """
    from ragloom.providers._instructed import prefixes_of

    return prefixes_of(embeddings) if embeddings is not None else ("", "")


def _record(identity: str | None, size: int) -> dict[str, Any]:
    """The collection's record of its embeddings: model, size and task prefixes."""
    record: dict[str, Any] = {"embeddings": identity, "dim": size}
    if isinstance(identity, _Identity):
        record["query_prefix"], record["document_prefix"] = identity.prefixes
    return record


def _prefix_problem(name: str, record: dict[str, Any], prefixes: tuple[str, str]
                    ) -> str | None:
    """Vectors made with other task prefixes than the configured ones: what to do.

    A collection recorded before ragloom recorded prefixes was built without them: a
    warning (not an error) when the configuration now adds some.
    """
    query, document = prefixes
    if "query_prefix" not in record and "document_prefix" not in record:
        if query or document:
            warnings.warn(
                f"Qdrant collection {name!r} was built by a ragloom that sent no embedding"
                f" prefixes, but embeddings.query_prefix/document_prefix now add {query!r} /"
                f" {document!r} (the model's instructions): its stored vectors and new"
                " questions differ. Set embeddings.query_prefix: '' and"
                " embeddings.document_prefix: '' to keep using it as built, or re-ingest"
                " into a new collection (qdrant.collection) to get the better vectors.",
                UserWarning, stacklevel=4)
        return None
    was = (record.get("query_prefix", ""), record.get("document_prefix", ""))
    if was == (query, document):
        return None
    return (f"was embedded with query prefix {was[0]!r} and document prefix {was[1]!r}, but"
            f" the configuration gives {query!r} and {document!r}; vectors made with and"
            " without a model's instructions do not compare. Set"
            f" embeddings.query_prefix: {was[0]!r} and embeddings.document_prefix:"
            f" {was[1]!r} to use it as built")


def _model_part(identity: str) -> str:
    return identity.split("[", 1)[0]
