"""Conversions to Qdrant Edge's own types from ragloom's light types or qdrant-client's.

Private module of the `edge` engine (`_edge`): requests (queries, prefetches, filters,
vectors, ids) go in as `ragloom._points` objects (what ragloom's ingest builds) or as
`qdrant_client.models` objects (what langchain-qdrant and users pass), told apart by
class name only, which the two share; so `qdrant_client` is never imported here unless
a filter comes as a plain dict. Points and vectors come back out as `ragloom._points`
objects, which have the attribute names of qdrant-client's.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import qdrant_edge as qe

from ragloom._points import Record, SparseVector

__all__ = [
    "_DISTANCES",
    "_SCHEMAS",
    "_facet_value",
    "_filter",
    "_id",
    "_kind",
    "_out_id",
    "_out_vector",
    "_params",
    "_prefetch",
    "_query",
    "_record",
    "_value",
    "_vector",
    "_with",
]

_DISTANCES = {
    "Cosine": qe.Distance.Cosine,
    "Dot": qe.Distance.Dot,
    "Euclid": qe.Distance.Euclid,
    "Manhattan": qe.Distance.Manhattan,
}
"""By the distance's value: ragloom's `Distance` and qdrant-client's have the same."""
_SCHEMAS = {
    "keyword": qe.PayloadSchemaType.Keyword,
    "integer": qe.PayloadSchemaType.Integer,
    "float": qe.PayloadSchemaType.Float,
    "bool": qe.PayloadSchemaType.Bool,
    "uuid": qe.PayloadSchemaType.Uuid,
}
_RRF_K = 2
"""Qdrant's own default RRF constant (server and qdrant-client local mode): the same
fusion, so a collection ranks the same on every engine."""


def _kind(value: Any) -> str:
    """The class name: the same for a `ragloom._points` type and its qdrant-client twin."""
    return type(value).__name__


def _value(value: Any) -> Any:
    """An enum's value (ragloom's or qdrant-client's), else the value itself."""
    return getattr(value, "value", value)


def _id(value: Any) -> Any:
    return value  # ints and UUID strings, as qdrant-client takes them; Edge parses them


def _out_id(value: Any) -> Any:
    return str(value) if isinstance(value, uuid.UUID) else value


def _facet_value(value: Any) -> Any:
    # Edge 0.9 hands back a `Keyword("x")`-like wrapper; unwrap it to the plain value.
    if isinstance(value, str | int | bool):
        return value
    for attr in ("value", "_0"):
        inner = getattr(value, attr, None)
        if isinstance(inner, str | int | bool):
            return inner
    text = str(value)
    if "(" in text and text.endswith(")"):
        inner_text = text[text.index("(") + 1:-1]
        try:
            return json.loads(inner_text)
        except ValueError:
            return inner_text
    return text


def _with(value: Any) -> Any:
    if isinstance(value, list):
        return qe.PayloadSelector.Include(value)
    return bool(value)


def _vector(value: Any) -> Any:
    if isinstance(value, list):  # a dense vector, the commonest: passed as it is
        return value
    if isinstance(value, dict):
        return {name: v if isinstance(v, list) else _vector(v) for name, v in value.items()}
    if _kind(value) == "SparseVector":  # ragloom's, qdrant-client's or langchain-qdrant's
        return qe.SparseVector(value.indices, value.values)
    return list(value)


def _out_vector(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, dict):
        return {name: _out_vector(v) for name, v in value.items()}
    if isinstance(value, qe.SparseVector):
        return SparseVector(indices=value.indices, values=value.values)
    return value


def _query(query: Any, using: str | None) -> Any:
    if query is None:
        return None
    kind = _kind(query)
    if kind == "FusionQuery":
        if _value(query.fusion) == "rrf":
            return qe.Fusion.Rrf(k=_RRF_K)
        return qe.Fusion.Dbsf()
    if kind == "RrfQuery":
        return qe.Fusion.Rrf(k=query.rrf.k or _RRF_K, weights=query.rrf.weights)
    if kind == "NearestQuery":
        if query.mmr is not None:
            # The server's `diversity` runs the other way from MMR's lambda.
            diversity = query.mmr.diversity if query.mmr.diversity is not None else 0.5
            return qe.Mmr(vector=_vector(query.nearest), lambda_=1.0 - diversity,
                          candidates_limit=query.mmr.candidates_limit or 100,
                          using=using or "")
        query = query.nearest
    if isinstance(query, list) or _kind(query) == "SparseVector":
        return qe.Query.Nearest(_vector(query), using=using or "")
    raise ValueError(f"the edge engine does not support the query {type(query).__name__}")


def _prefetch(prefetch: Any) -> qe.Prefetch:
    nested = prefetch.prefetch
    nested_list = nested if isinstance(nested, list) else [nested] if nested else []
    return qe.Prefetch(limit=prefetch.limit or 10, query=_query(prefetch.query, prefetch.using),
                       prefetches=[_prefetch(p) for p in nested_list] or None,
                       params=_params(prefetch.params), filter=_filter(prefetch.filter),
                       score_threshold=prefetch.score_threshold)


def _params(params: Any) -> qe.SearchParams | None:
    if params is None:
        return None
    return qe.SearchParams(hnsw_ef=params.hnsw_ef, exact=bool(params.exact))


def _record(record: Any) -> Record:
    return Record(id=_out_id(record.id), payload=record.payload,
                  vector=_out_vector(record.vector))


def _filter(flt: Any) -> qe.Filter | None:
    if flt is None:
        return None
    if _kind(flt) != "Filter":  # a dict, as qdrant-client takes it too
        from qdrant_client import models

        flt = models.Filter.model_validate(flt)

    def many(value: Any) -> list[Any] | None:
        if value is None:
            return None
        return [_condition(c) for c in (value if isinstance(value, list) else [value])]

    min_should = None
    if flt.min_should is not None:
        min_should = qe.MinShould(conditions=[_condition(c) for c in flt.min_should.conditions],
                                  min_count=flt.min_should.min_count)
    return qe.Filter(must=many(flt.must), should=many(flt.should), must_not=many(flt.must_not),
                     min_should=min_should)


def _condition(condition: Any) -> Any:
    kind = _kind(condition)
    if kind == "Filter":
        return _filter(condition)
    if kind == "HasIdCondition":
        return qe.HasIdCondition({_id(i) for i in condition.has_id})
    if kind == "IsEmptyCondition":
        return qe.IsEmptyCondition(condition.is_empty.key)
    if kind == "IsNullCondition":
        return qe.IsNullCondition(condition.is_null.key)
    if kind == "HasVectorCondition":
        return qe.HasVectorCondition(condition.has_vector)
    if kind == "NestedCondition":
        return qe.NestedCondition(condition.nested.key,
                                  _filter(condition.nested.filter) or qe.Filter())
    if kind == "FieldCondition":
        return qe.FieldCondition(
            key=condition.key, match=_match(condition.match), range=_range(condition.range),
            is_empty=condition.is_empty, is_null=condition.is_null,
            values_count=qe.ValuesCount(lt=condition.values_count.lt,
                                        gt=condition.values_count.gt,
                                        lte=condition.values_count.lte,
                                        gte=condition.values_count.gte)
            if condition.values_count else None)
    raise ValueError(f"the edge engine does not support the filter condition {condition!r}")


def _match(match: Any) -> Any:
    if match is None:
        return None
    kind = _kind(match)
    if kind == "MatchValue":
        return qe.MatchValue(match.value)
    if kind == "MatchAny":
        return qe.MatchAny(list(match.any))
    if kind == "MatchExcept":
        return qe.MatchExcept(list(match.except_))
    if kind == "MatchText":
        return qe.MatchText(match.text)
    if kind == "MatchPhrase":
        return qe.MatchPhrase(match.phrase)
    raise ValueError(f"the edge engine does not support the match {match!r}")


def _range(value: Any) -> Any:
    if value is None:
        return None
    if _kind(value) == "DatetimeRange":
        def text(v: Any) -> str | None:
            return None if v is None else (v if isinstance(v, str) else v.isoformat())
        return qe.RangeDateTime(gte=text(value.gte), gt=text(value.gt), lte=text(value.lte),
                                lt=text(value.lt))
    return qe.RangeFloat(gte=value.gte, gt=value.gt, lte=value.lte, lt=value.lt)
