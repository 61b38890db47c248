"""Point ids: the Qdrant id of a document id, and the id of a document added without one.

Private module of the storage layer; the same on every engine, so `copy_collection`
moves points without re-embedding. `point_id` is public as `ragloom.store.point_id`.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any

__all__ = ["ID_NAMESPACE", "content_id", "point_id"]

ID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://ragloom.invalid/document-id")
"""Namespace of the UUIDv5 point ids made from document ids that Qdrant cannot take."""

_MAX_POINT_INT = 2**64 - 1


def content_id(text: str, metadata: dict[str, Any] | None, occurrence: int = 0) -> str:
    """The id given to a document added without one: UUIDv5 of its text and metadata.

    Deterministic, so the same texts send the same upsert requests in every run (and
    re-adding them overwrites instead of duplicating); `occurrence` tells apart equal
    documents given in the same call. Metadata key order does not matter.

    Example:
        >>> content_id("a", {"x": 1, "y": 2}) == content_id("a", {"y": 2, "x": 1})
        True
        >>> content_id("a", None) != content_id("a", None, occurrence=1)
        True

    """
    try:
        meta = json.dumps(metadata, sort_keys=True, ensure_ascii=False, default=repr)
    except TypeError:  # keys that do not sort together
        meta = repr(sorted((repr(k), repr(v)) for k, v in (metadata or {}).items()))
    digest = hashlib.sha256(f"{text}\0{meta}".encode()).hexdigest()
    return str(uuid.uuid5(ID_NAMESPACE, f"content:{digest}:{occurrence}"))


def point_id(doc_id: str | int) -> str | int:
    """The Qdrant point id for a document id.

    Qdrant takes only unsigned integers and UUIDs. The mapping depends only on
    `str(doc_id)`, so the `Document.id` a search returns (always a string) finds the
    same point again: a canonical decimal ("42" or 42) is that integer, a UUID in any
    spelling is that UUID, anything else is UUIDv5 of `ID_NAMESPACE`.

    Example:
        >>> point_id(42), point_id("42")
        (42, 42)
        >>> point_id("a.md#0") == point_id("a.md#0") != point_id("a.md#1")
        True

    """
    text = str(doc_id)
    if text.isdecimal() and text.isascii() and str(int(text)) == text:
        number = int(text)
        if number <= _MAX_POINT_INT:
            return number
    try:
        return str(uuid.UUID(text))
    except ValueError:
        return str(uuid.uuid5(ID_NAMESPACE, text))
