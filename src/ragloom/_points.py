"""The few Qdrant types ragloom builds itself, light: points, filters, collection params.

Private module of the storage layer, free of I/O and of heavy imports (no `qdrant_client`,
no `langchain_qdrant`): what the ingest, the ledger, access and collection creation
build to write, filter and create. Each class has the name and the attribute names of
its `qdrant_client.models` twin, so the Edge engine (`_edge_convert`) reads either the
same way, and `speaking(client)` hands a real `QdrantClient` (local mode, a server) the
`qdrant_client.models` objects it expects, converted at the call. The payload layout
(`CONTENT_KEY`, `METADATA_KEY`, the vector names) is langchain-qdrant's, kept here so
writing a collection does not import it.

Example:
    >>> flt = Filter(must=[FieldCondition(key="metadata.source",
    ...                                   match=MatchAny(any=["a.md"]))])
    >>> to_qdrant(flt).must[0].match.any
    ['a.md']
    >>> Distance.COSINE == "Cosine", RetrievalMode("hybrid") is RetrievalMode.HYBRID
    (True, True)

"""

from __future__ import annotations

from dataclasses import dataclass, fields
from enum import Enum
from typing import Any

__all__ = ["CONTENT_KEY", "ID_PAYLOAD_KEY", "METADATA_KEY", "SPARSE_VECTOR_NAME", "VECTOR_NAME",
           "Condition", "Distance", "FieldCondition", "Filter", "FilterSelector",
           "HasIdCondition", "IsEmptyCondition", "KeywordIndexParams", "KeywordIndexType",
           "MatchAny", "MatchExcept", "MatchValue", "Modifier", "PayloadField",
           "PayloadSchemaType", "PointIdsList", "PointStruct", "Record", "RetrievalMode",
           "ScalarQuantization", "ScalarQuantizationConfig", "ScalarType", "SparseIndexParams",
           "SparseVector", "SparseVectorParams", "UpdateStatus", "VectorParams", "mode_of",
           "speaking", "to_qdrant"]

CONTENT_KEY = "page_content"
"""Top-level payload key of a chunk's text (langchain-qdrant's `CONTENT_KEY`)."""
METADATA_KEY = "metadata"
"""Top-level payload key of a chunk's metadata (langchain-qdrant's `METADATA_KEY`)."""
VECTOR_NAME = ""
"""The dense vector's name: unnamed (langchain-qdrant's `VECTOR_NAME`)."""
SPARSE_VECTOR_NAME = "langchain-sparse"
"""The sparse vector's name (langchain-qdrant's `SPARSE_VECTOR_NAME`)."""
ID_PAYLOAD_KEY = "doc_id"
"""Top-level payload key of the id as given (`RagloomVectorStore.ID_PAYLOAD_KEY`)."""


class RetrievalMode(str, Enum):
    """Dense, sparse or hybrid: langchain-qdrant's `RetrievalMode` values."""

    DENSE = "dense"
    SPARSE = "sparse"
    HYBRID = "hybrid"


def mode_of(value: Any) -> RetrievalMode:
    """The `RetrievalMode` of a string, or of an enum with its values (langchain-qdrant's).

    Example:
        >>> mode_of("dense") is RetrievalMode.DENSE
        True

    """
    return RetrievalMode(getattr(value, "value", value))


class Distance(str, Enum):
    """Vector distance (values as Qdrant's)."""

    COSINE = "Cosine"
    EUCLID = "Euclid"
    DOT = "Dot"
    MANHATTAN = "Manhattan"


class Modifier(str, Enum):
    """Sparse vector modifier."""

    NONE = "none"
    IDF = "idf"


class PayloadSchemaType(str, Enum):
    """Payload index kinds."""

    KEYWORD = "keyword"
    INTEGER = "integer"
    FLOAT = "float"
    BOOL = "bool"
    UUID = "uuid"


class KeywordIndexType(str, Enum):
    """The keyword index kind of `KeywordIndexParams`."""

    KEYWORD = "keyword"


class ScalarType(str, Enum):
    """Scalar quantization type."""

    INT8 = "int8"


class UpdateStatus(str, Enum):
    """A write's status."""

    ACKNOWLEDGED = "acknowledged"
    COMPLETED = "completed"


class _Light:
    """Marks ragloom's light types (converted by `to_qdrant`)."""

    __slots__ = ()


@dataclass(slots=True)
class SparseVector(_Light):
    """A sparse vector: term ids and weights."""

    indices: list[int]
    values: list[float]


@dataclass(slots=True)
class PointStruct(_Light):
    """A point to write: id, named vectors, payload."""

    id: Any
    vector: Any
    payload: dict[str, Any] | None = None


@dataclass(slots=True)
class Record(_Light):
    """A point read back."""

    id: Any
    payload: dict[str, Any] | None = None
    vector: Any = None
    shard_key: Any = None
    order_value: Any = None


@dataclass(slots=True)
class PayloadField(_Light):
    """A payload key (of an `IsEmptyCondition`)."""

    key: str


@dataclass(slots=True)
class MatchValue(_Light):
    """Match one value."""

    value: Any


@dataclass(slots=True)
class MatchAny(_Light):
    """Match any of the values."""

    any: list[Any]


@dataclass(slots=True)
class MatchExcept(_Light):
    """Match a value outside these."""

    except_: list[Any]


@dataclass(slots=True)
class FieldCondition(_Light):
    """A condition on a payload key."""

    key: str
    match: MatchValue | MatchAny | MatchExcept | None = None
    range: Any = None
    values_count: Any = None
    is_empty: bool | None = None
    is_null: bool | None = None


@dataclass(slots=True)
class HasIdCondition(_Light):
    """The point's id is one of these."""

    has_id: list[Any]


@dataclass(slots=True)
class IsEmptyCondition(_Light):
    """The payload key is missing, null or empty."""

    is_empty: PayloadField


@dataclass(slots=True)
class Filter(_Light):
    """Conditions: all of `must`, one of `should`, none of `must_not`."""

    must: list[Any] | None = None
    should: list[Any] | None = None
    must_not: list[Any] | None = None
    min_should: Any = None


Condition = FieldCondition | HasIdCondition | IsEmptyCondition | Filter


@dataclass(slots=True)
class PointIdsList(_Light):
    """Select points by id."""

    points: list[Any]


@dataclass(slots=True)
class FilterSelector(_Light):
    """Select points by filter."""

    filter: Filter


@dataclass(slots=True)
class VectorParams(_Light):
    """A dense vector's size and distance."""

    size: int
    distance: Any
    on_disk: bool | None = None


@dataclass(slots=True)
class SparseIndexParams(_Light):
    """Where a sparse vector's index lives."""

    on_disk: bool | None = None


@dataclass(slots=True)
class SparseVectorParams(_Light):
    """A sparse vector's modifier and index."""

    modifier: Any = None
    index: SparseIndexParams | None = None


@dataclass(slots=True)
class ScalarQuantizationConfig(_Light):
    """Scalar quantization settings."""

    type: ScalarType
    always_ram: bool | None = None


@dataclass(slots=True)
class ScalarQuantization(_Light):
    """Scalar quantization of the dense vectors."""

    scalar: ScalarQuantizationConfig


@dataclass(slots=True)
class KeywordIndexParams(_Light):
    """A keyword payload index, possibly the tenant key."""

    type: KeywordIndexType
    is_tenant: bool | None = None


def to_qdrant(value: Any) -> Any:
    """`value` with ragloom's light types replaced by their `qdrant_client.models` twins.

    Anything else (qdrant-client models, payload values, vectors) is left as it is.

    Example:
        >>> type(to_qdrant(Distance.DOT)).__module__
        'qdrant_client.http.models.models'

    """
    if isinstance(value, _Light):
        return _model(value)
    if isinstance(value, Enum) and type(value).__module__ == __name__:
        from qdrant_client import models

        return getattr(models, type(value).__name__)(value.value)
    if isinstance(value, list | tuple):
        if value and isinstance(value[0], _Light | Enum | list | tuple | dict):
            return [to_qdrant(v) for v in value]
        return value
    if isinstance(value, dict):
        return {k: to_qdrant(v) for k, v in value.items()}
    return value


def _model(value: Any) -> Any:
    """The `qdrant_client.models` twin of one light object."""
    from qdrant_client import models

    cls = getattr(models, type(value).__name__)
    if isinstance(value, PointStruct):
        # Unvalidated, as ragloom built them before: vectors are checked by the server.
        return cls.model_construct(id=value.id, vector=to_qdrant(value.vector),
                                   payload=value.payload)
    if isinstance(value, SparseVector | Record):
        return cls.model_construct(**{f.name: to_qdrant(getattr(value, f.name))
                                      for f in fields(value)})
    given = {f.name: to_qdrant(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, MatchExcept):
        return cls.model_validate({"except": given["except_"]})
    # Unset, not None: the REST client leaves unset fields out of the request.
    return cls(**{k: v for k, v in given.items() if v is not None})


class _Speaking:
    """A real Qdrant client taking ragloom's light types (converted at each call)."""

    def __init__(self, client: Any) -> None:
        self.inner = client

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.inner, name)
        if not callable(attr):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            return attr(*(to_qdrant(a) for a in args),
                        **{k: to_qdrant(v) for k, v in kwargs.items()})

        return call


def speaking(client: Any) -> Any:
    """`client`, taking ragloom's light types: the Edge engine as it is, others converting.

    Example:
        >>> class Fake:
        ...     engine = "edge"
        >>> fake = Fake()
        >>> speaking(fake) is fake
        True

    """
    if getattr(client, "engine", None) == "edge" or isinstance(client, _Speaking):
        return client
    return _Speaking(client)
