"""The `edge` engine: Qdrant Edge shards in a folder, behind qdrant-client's API.

Private module of the storage layer (`ragloom.store`); nothing else imports it.
`EdgeClient` answers the part of `QdrantClient`'s interface that ragloom and
langchain-qdrant use (collections, upsert, delete, retrieve, scroll, count, facet,
query_points with prefetch/RRF/MMR, payload indexes), taking and returning
`qdrant_client.models` objects, so the point ids, the payload layout and every
caller are the same on every engine. `qdrant_edge` is beta and changes between
minor releases: it is pinned, and this is the only module that imports it.

Layout: `<location>/edge/<collection>/shard/` (the Edge shard: segments and WAL)
and `<location>/edge/<collection>/collection.json` (what ragloom recorded about it:
the collection metadata a server keeps for us).

Indexing: Edge builds its HNSW index only when `optimize()` runs; until then points
sit in plain segments that are scanned. `optimize()` runs at the end of every ingest
that wrote something (`finish_writes`), after `copy_collection`, and during any write
once `AUTO_OPTIMIZE_POINTS` are unindexed (a big ingest is indexed in parts, which
halves the peak memory of the build). The optimizers index only segments past
Edge's indexing threshold (about 6,500 384-d vectors), so a small addition costs
nothing and stays a fast scan, and with `_SEGMENTS` segments allowed a bigger one is
indexed as a segment of its own instead of being merged into (and rebuilding) the
big one. Filters use keyword payload indexes on `metadata.source`,
`metadata.file_hash`, `ingest` and the access keys (`metadata.tenant` marked as the
tenant key, `metadata.groups`, `metadata.classification`), created with the collection.
"""

from __future__ import annotations

import json
import logging
import shutil
import threading
import uuid
from collections.abc import Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import IO, Any

import qdrant_edge as qe
from qdrant_client import models

from ragloom.errors import CollectionMismatch, RagloomError, StoreLocked

__all__ = ["EDGE_DIR", "EdgeClient", "is_edge_folder"]

EDGE_DIR = "edge"
_log = logging.getLogger("ragloom.store")
_RECORD_FILE = "collection.json"
_DISTANCES = {
    models.Distance.COSINE: qe.Distance.Cosine,
    models.Distance.DOT: qe.Distance.Dot,
    models.Distance.EUCLID: qe.Distance.Euclid,
    models.Distance.MANHATTAN: qe.Distance.Manhattan,
}
_FROM_EDGE_DISTANCE = {"Cosine": models.Distance.COSINE, "Dot": models.Distance.DOT,
                       "Euclid": models.Distance.EUCLID, "Manhattan": models.Distance.MANHATTAN}
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
_SEGMENTS = 8
"""Segments the optimizer keeps before merging. With Edge's default (auto: 2 here) new
data is merged into the big indexed segment and the whole HNSW is rebuilt (+10,000
points on 20,000: 57 s); with 8 only the new segment is indexed (20 s)."""
_FLUSH_POINTS = 10_000
AUTO_OPTIMIZE_POINTS = 30_000
"""A write runs `optimize()` once this many points are unindexed (an ingest always does
at its end): until then they sit in plain segments, which are scanned."""


def is_edge_folder(location: str | Path) -> bool:
    """Whether `location` holds (or was made for) Edge collections."""
    return (Path(location) / EDGE_DIR).is_dir()


class _Collection:
    """One open shard and its record; writes counted until the next `optimize()`."""

    def __init__(self, folder: Path, shard: qe.EdgeShard, record: dict[str, Any]) -> None:
        self.folder, self.shard, self.record = folder, shard, record
        self.lock = threading.RLock()
        self.unoptimized = self.unflushed = 0

    def save_record(self) -> None:
        tmp = self.folder / (_RECORD_FILE + ".tmp")
        tmp.write_text(json.dumps(self.record, indent=1, sort_keys=True))
        tmp.replace(self.folder / _RECORD_FILE)


def _edge_error(exc: Exception, folder: Path) -> RagloomError:
    text = str(exc)
    if "WouldBlock" in text or "lock" in text.lower():
        return StoreLocked(
            f"the Qdrant Edge collection {str(folder)!r} is open in another process, and an"
            " embedded store takes one process at a time. Close the other process (a"
            " running `ragloom chat`, a notebook), set qdrant.location to another folder,"
            " or run a Qdrant server and set qdrant.url for shared access.")
    if "incompatible" in text.lower():
        return CollectionMismatch(
            f"the Qdrant Edge collection {str(folder)!r} does not fit the configuration"
            f" ({text}). Use another collection (qdrant.collection), or rebuild this one"
            " with build_vector_store(cfg, recreate=True), which deletes its points.")
    return RagloomError(
        f"the Qdrant Edge collection {str(folder)!r} cannot be read ({text}). If a copy"
        " exists elsewhere restore it; otherwise move the folder away (nothing is deleted"
        " for you) and run `ragloom ingest PATH...` to rebuild it from the files.")


class EdgeClient:
    """Qdrant Edge collections under one folder, with qdrant-client's method names.

    Example:
        >>> import tempfile
        >>> client = EdgeClient(tempfile.mkdtemp())
        >>> client.create_collection("c", vectors_config={
        ...     "": models.VectorParams(size=2, distance=models.Distance.COSINE)})
        True
        >>> client.count("c").count
        0
        >>> client.close()

    """

    engine = "edge"

    def __init__(self, location: str | Path) -> None:
        self.root = Path(location) / EDGE_DIR
        self.location = str(location)
        self._open: dict[str, _Collection] = {}
        self._lock = threading.RLock()
        self.closed = False
        self._folder_lock = _lock_folder(self.root)

    # -- collections ---------------------------------------------------------------
    def _folder(self, name: str) -> Path:
        return self.root / name

    def collection_exists(self, collection_name: str) -> bool:
        return (self._folder(collection_name) / "shard" / "edge_config.json").is_file()

    def get_collections(self) -> Any:
        names = sorted(p.name for p in self.root.iterdir()
                       if self.collection_exists(p.name)) if self.root.is_dir() else []
        return SimpleNamespace(collections=[SimpleNamespace(name=n) for n in names])

    def _get(self, name: str) -> _Collection:
        with self._lock:
            if self.closed:
                raise RuntimeError("this EdgeClient is closed")
            found = self._open.get(name)
            if found is not None:
                return found
            folder = self._folder(name)
            if not self.collection_exists(name):
                raise ValueError(f"Collection {name} not found")
            try:
                shard = qe.EdgeShard.load(str(folder / "shard"))
            except Exception as exc:
                raise _edge_error(exc, folder / "shard") from None
            try:
                record = json.loads((folder / _RECORD_FILE).read_text())
            except (OSError, ValueError):
                record = {}
            self._open[name] = found = _Collection(folder, shard, record)
            return found

    def get_collection(self, collection_name: str) -> Any:
        coll = self._get(collection_name)
        config = json.loads((coll.folder / "shard" / "edge_config.json").read_text())
        vectors = {
            name: models.VectorParams(size=v["size"],
                                      distance=_FROM_EDGE_DISTANCE[v["distance"]])
            for name, v in (config.get("vectors") or {}).items()
        }
        sparse = {
            name: models.SparseVectorParams(
                modifier=models.Modifier.IDF if (v or {}).get("modifier") == "idf" else None)
            for name, v in (config.get("sparse_vectors") or {}).items()
        }
        info = coll.shard.info()
        params = SimpleNamespace(vectors=vectors, sparse_vectors=sparse or None)
        return SimpleNamespace(
            config=SimpleNamespace(params=params, metadata=dict(coll.record.get("metadata", {}))),
            points_count=info.points_count,
            indexed_vectors_count=info.indexed_vectors_count,
            segments_count=info.segments_count,
            payload_schema={k: str(v.data_type) for k, v in info.payload_schema.items()},
        )

    def create_collection(
        self,
        collection_name: str,
        vectors_config: dict[str, models.VectorParams] | models.VectorParams | None = None,
        sparse_vectors_config: dict[str, models.SparseVectorParams] | None = None,
        metadata: dict[str, Any] | None = None,
        quantization_config: Any = None,
        **_server_only: Any,
    ) -> bool:
        if isinstance(vectors_config, models.VectorParams):
            vectors_config = {"": vectors_config}
        vectors = {
            name: qe.EdgeVectorParams(size=p.size, distance=_DISTANCES[p.distance],
                                      on_disk=p.on_disk or None)
            for name, p in (vectors_config or {}).items()
        }
        sparse = {
            name: qe.EdgeSparseVectorParams(
                modifier=qe.Modifier.Idf if p.modifier == models.Modifier.IDF else None)
            for name, p in (sparse_vectors_config or {}).items()
        }
        quantization = None
        if isinstance(quantization_config, models.ScalarQuantization):
            quantization = qe.ScalarQuantizationConfig(type=qe.ScalarType.Int8,
                                                       always_ram=True)
        folder = self._folder(collection_name)
        with self._lock:
            if self.collection_exists(collection_name):
                raise ValueError(f"Collection {collection_name} already exists")
            folder.mkdir(parents=True, exist_ok=True)
            try:
                shard = qe.EdgeShard.create(str(folder / "shard"), qe.EdgeConfig(
                    vectors=vectors, sparse_vectors=sparse or None,
                    quantization_config=quantization,
                    optimizers=qe.EdgeOptimizersConfig(
                        default_segment_number=_SEGMENTS)))
            except Exception as exc:
                raise _edge_error(exc, folder / "shard") from None
            coll = _Collection(folder, shard, {"metadata": dict(metadata or {})})
            coll.save_record()
            self._open[collection_name] = coll
        return True

    def update_collection(self, collection_name: str, metadata: dict[str, Any] | None = None,
                          **_ignored: Any) -> bool:
        coll = self._get(collection_name)
        if metadata:
            coll.record.setdefault("metadata", {}).update(metadata)
            coll.save_record()
        return True

    def delete_collection(self, collection_name: str) -> bool:
        with self._lock:
            coll = self._open.pop(collection_name, None)
            if coll is not None:
                coll.shard.close()
            folder = self._folder(collection_name)
            if not folder.exists():
                return False
            shutil.rmtree(folder)
            return True

    def create_payload_index(self, collection_name: str, field_name: str,
                             field_schema: Any = None, **_ignored: Any) -> Any:
        coll = self._get(collection_name)
        if isinstance(field_schema, models.KeywordIndexParams):
            # The tenant key: Edge takes the server's `is_tenant` flag as it is.
            edge_schema: Any = qe.KeywordIndexParams(is_tenant=field_schema.is_tenant)
        else:
            edge_schema = _SCHEMAS[str(getattr(field_schema, "value", field_schema) or "keyword")]
        with coll.lock:
            if field_name not in coll.shard.info().payload_schema:
                coll.shard.update(qe.UpdateOperation.create_field_index(field_name, edge_schema))
        return SimpleNamespace(status=models.UpdateStatus.COMPLETED)

    # -- writes --------------------------------------------------------------------
    def upsert(self, collection_name: str, points: Sequence[models.PointStruct],
               **_ignored: Any) -> Any:
        coll = self._get(collection_name)
        edge_points = [qe.Point(id=_id(p.id), vector=_vector(p.vector), payload=p.payload)
                       for p in points]
        with coll.lock:
            coll.shard.update(qe.UpdateOperation.upsert_points(edge_points))
            coll.unoptimized += len(edge_points)
            coll.unflushed += len(edge_points)
            if coll.unflushed >= _FLUSH_POINTS:
                # Persist the segments so the WAL can be trimmed: bounds memory in a
                # big ingest (the WAL is memory-mapped).
                coll.shard.flush()
                coll.unflushed = 0
            if coll.unoptimized >= AUTO_OPTIMIZE_POINTS:
                # Index a big write in parts: the HNSW build copies what it indexes,
                # so building 100,000 points at once peaks at twice the memory.
                coll.shard.optimize()
                coll.unoptimized = 0
        return SimpleNamespace(status=models.UpdateStatus.COMPLETED)

    def delete(self, collection_name: str, points_selector: Any, **_ignored: Any) -> Any:
        coll = self._get(collection_name)
        if isinstance(points_selector, models.PointIdsList):
            operation = qe.UpdateOperation.delete_points([_id(i) for i in points_selector.points])
        elif isinstance(points_selector, list):
            operation = qe.UpdateOperation.delete_points([_id(i) for i in points_selector])
        else:
            flt = (points_selector.filter
                   if isinstance(points_selector, models.FilterSelector) else points_selector)
            operation = qe.UpdateOperation.delete_points_by_filter(_filter(flt) or qe.Filter())
        with coll.lock:
            coll.shard.update(operation)
            coll.unflushed += 1
        return SimpleNamespace(status=models.UpdateStatus.COMPLETED)

    def set_payload(self, collection_name: str, payload: dict[str, Any], points: Any,
                    key: str | None = None, **_ignored: Any) -> Any:
        coll = self._get(collection_name)
        with coll.lock:
            coll.shard.update(qe.UpdateOperation.set_payload_by_filter(
                _filter(points) or qe.Filter(), payload, key))
            coll.unflushed += 1
        return SimpleNamespace(status=models.UpdateStatus.COMPLETED)

    def delete_payload(self, collection_name: str, keys: list[str], points: Any,
                       **_ignored: Any) -> Any:
        coll = self._get(collection_name)
        with coll.lock:
            coll.shard.update(qe.UpdateOperation.delete_payload_by_filter(
                _filter(points) or qe.Filter(), list(keys)))
            coll.unflushed += 1
        return SimpleNamespace(status=models.UpdateStatus.COMPLETED)

    def finish_writes(self, collection_name: str, *, min_points: int = 1) -> bool:
        """Flush, and build the indexes of what was written since the last build.

        `optimize()` runs when at least `min_points` were written since the last one
        (0: always). Qdrant's optimizers then index only segments past their size
        thresholds, so a small addition costs next to nothing. Returns whether it ran.
        """
        coll = self._get(collection_name)
        with coll.lock:
            if coll.unflushed or coll.unoptimized:  # a run that wrote nothing costs nothing
                coll.shard.flush()
                coll.unflushed = 0
            if coll.unoptimized < min_points:
                return False
            coll.shard.optimize()
            coll.unoptimized = 0
            return True

    # -- reads ---------------------------------------------------------------------
    def retrieve(self, collection_name: str, ids: Sequence[Any], with_payload: Any = True,
                 with_vectors: Any = False, **_ignored: Any) -> list[models.Record]:
        coll = self._get(collection_name)
        records = coll.shard.retrieve([_id(i) for i in ids], _with(with_payload),
                                      bool(with_vectors))
        return [_record(r) for r in records]

    def scroll(self, collection_name: str, scroll_filter: models.Filter | None = None,
               limit: int = 10, offset: Any = None, with_payload: Any = True,
               with_vectors: Any = False, **_ignored: Any) -> tuple[list[models.Record], Any]:
        coll = self._get(collection_name)
        records, next_offset = coll.shard.scroll(qe.ScrollRequest(
            offset=_id(offset) if offset is not None else None, limit=limit,
            filter=_filter(scroll_filter), with_payload=_with(with_payload),
            with_vector=bool(with_vectors)))
        return [_record(r) for r in records], _out_id(next_offset)

    def count(self, collection_name: str, count_filter: models.Filter | None = None,
              exact: bool = True, **_ignored: Any) -> Any:
        coll = self._get(collection_name)
        return SimpleNamespace(count=coll.shard.count(
            qe.CountRequest(filter=_filter(count_filter), exact=exact)))

    def facet(self, collection_name: str, key: str, facet_filter: models.Filter | None = None,
              limit: int = 10, exact: bool = False, **_ignored: Any) -> Any:
        coll = self._get(collection_name)
        response = coll.shard.facet(qe.FacetRequest(key=key, limit=limit, exact=exact,
                                                    filter=_filter(facet_filter)))
        # Edge 0.9's exact facet also lists values whose points were all deleted, with
        # a count of 0; a server lists only values that are there.
        return SimpleNamespace(hits=[SimpleNamespace(value=_facet_value(h.value), count=h.count)
                                     for h in response.hits if h.count > 0])

    def query_points(
        self,
        collection_name: str,
        query: Any = None,
        using: str | None = None,
        prefetch: Any = None,
        query_filter: models.Filter | None = None,
        search_params: models.SearchParams | None = None,
        limit: int = 10,
        offset: int | None = None,
        with_payload: Any = True,
        with_vectors: Any = False,
        score_threshold: float | None = None,
        **_ignored: Any,
    ) -> Any:
        coll = self._get(collection_name)
        prefetches = prefetch if isinstance(prefetch, list) else [prefetch] if prefetch else []
        request = qe.QueryRequest(
            limit=limit, offset=offset or None, query=_query(query, using),
            prefetches=[_prefetch(p) for p in prefetches] or None,
            with_vector=bool(with_vectors), with_payload=_with(with_payload),
            filter=_filter(query_filter), score_threshold=score_threshold,
            params=_params(search_params))
        points = [
            models.ScoredPoint.model_construct(
                id=_out_id(p.id), version=p.version, score=p.score, payload=p.payload,
                vector=_out_vector(p.vector), order_value=None, shard_key=None)
            for p in coll.shard.query(request)
        ]
        return SimpleNamespace(points=points)

    def close(self) -> None:
        with self._lock:
            collections = list(self._open.values())
            self._open.clear()
            self.closed = True
        for coll in collections:
            with coll.lock:
                try:
                    coll.shard.flush()
                    coll.shard.close()
                except Exception as exc:  # e.g. the folder was deleted under us
                    _log.warning("closing the Qdrant Edge shard in %s failed: %s",
                                 coll.folder, exc)
        if self._folder_lock is not None:
            self._folder_lock.close()  # releases the flock
            self._folder_lock = None


def _lock_folder(root: Path) -> IO[str] | None:
    """Hold an exclusive lock on the folder for this client's lifetime.

    Each shard's WAL is locked too, but only when the shard is first used; this lock
    makes a second process fail at once, naming the folder, as local mode does.
    """
    try:
        import fcntl
    except ImportError:  # Windows: the WAL locks still keep a second process out
        return None
    root.mkdir(parents=True, exist_ok=True)
    handle = open(root / ".lock", "a+")  # noqa: SIM115 (held until close())
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        raise StoreLocked(
            f"the Qdrant folder {str(root.parent)!r} is already open in another process (or"
            " another client in this one), and the embedded store takes one at a time."
            " Close the other process (a running `ragloom chat`, a notebook), set"
            " qdrant.location to another folder, or run a Qdrant server and set qdrant.url"
            " for shared access.") from None
    return handle


# -- conversions from qdrant_client.models --------------------------------------------
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
    if isinstance(value, dict):
        return {name: _vector(v) for name, v in value.items()}
    if isinstance(value, models.SparseVector):
        return qe.SparseVector(value.indices, value.values)
    return value if isinstance(value, list) else list(value)


def _out_vector(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, dict):
        return {name: _out_vector(v) for name, v in value.items()}
    if isinstance(value, qe.SparseVector):
        return models.SparseVector(indices=value.indices, values=value.values)
    return value


def _query(query: Any, using: str | None) -> Any:
    if query is None:
        return None
    if isinstance(query, models.FusionQuery):
        if query.fusion == models.Fusion.RRF:
            return qe.Fusion.Rrf(k=_RRF_K)
        return qe.Fusion.Dbsf()
    if isinstance(query, models.RrfQuery):
        return qe.Fusion.Rrf(k=query.rrf.k or _RRF_K, weights=query.rrf.weights)
    if isinstance(query, models.NearestQuery):
        if query.mmr is not None:
            # The server's `diversity` runs the other way from MMR's lambda.
            diversity = query.mmr.diversity if query.mmr.diversity is not None else 0.5
            return qe.Mmr(vector=_vector(query.nearest), lambda_=1.0 - diversity,
                          candidates_limit=query.mmr.candidates_limit or 100,
                          using=using or "")
        query = query.nearest
    if isinstance(query, models.SparseVector | list):
        return qe.Query.Nearest(_vector(query), using=using or "")
    raise ValueError(f"the edge engine does not support the query {type(query).__name__}")


def _prefetch(prefetch: models.Prefetch) -> qe.Prefetch:
    nested = prefetch.prefetch
    nested_list = nested if isinstance(nested, list) else [nested] if nested else []
    return qe.Prefetch(limit=prefetch.limit or 10, query=_query(prefetch.query, prefetch.using),
                       prefetches=[_prefetch(p) for p in nested_list] or None,
                       params=_params(prefetch.params), filter=_filter(prefetch.filter),
                       score_threshold=prefetch.score_threshold)


def _params(params: models.SearchParams | None) -> qe.SearchParams | None:
    if params is None:
        return None
    return qe.SearchParams(hnsw_ef=params.hnsw_ef, exact=bool(params.exact))


def _record(record: Any) -> models.Record:
    return models.Record.model_construct(id=_out_id(record.id), payload=record.payload,
                                         vector=_out_vector(record.vector), shard_key=None,
                                         order_value=None)


def _filter(flt: Any) -> qe.Filter | None:
    if flt is None:
        return None
    if not isinstance(flt, models.Filter):
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
    if isinstance(condition, models.Filter):
        return _filter(condition)
    if isinstance(condition, models.HasIdCondition):
        return qe.HasIdCondition({_id(i) for i in condition.has_id})
    if isinstance(condition, models.IsEmptyCondition):
        return qe.IsEmptyCondition(condition.is_empty.key)
    if isinstance(condition, models.IsNullCondition):
        return qe.IsNullCondition(condition.is_null.key)
    if isinstance(condition, models.HasVectorCondition):
        return qe.HasVectorCondition(condition.has_vector)
    if isinstance(condition, models.NestedCondition):
        return qe.NestedCondition(condition.nested.key,
                                  _filter(condition.nested.filter) or qe.Filter())
    if isinstance(condition, models.FieldCondition):
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
    if isinstance(match, models.MatchValue):
        return qe.MatchValue(match.value)
    if isinstance(match, models.MatchAny):
        return qe.MatchAny(list(match.any))  # type: ignore[arg-type]
    if isinstance(match, models.MatchExcept):
        return qe.MatchExcept(list(match.except_))  # type: ignore[arg-type]
    if isinstance(match, models.MatchText):
        return qe.MatchText(match.text)
    if isinstance(match, models.MatchPhrase):
        return qe.MatchPhrase(match.phrase)
    raise ValueError(f"the edge engine does not support the match {match!r}")


def _range(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, models.DatetimeRange):
        def text(v: Any) -> str | None:
            return None if v is None else (v if isinstance(v, str) else v.isoformat())
        return qe.RangeDateTime(gte=text(value.gte), gt=text(value.gt), lte=text(value.lte),
                                lt=text(value.lt))
    return qe.RangeFloat(gte=value.gte, gt=value.gt, lte=value.lte, lt=value.lt)
