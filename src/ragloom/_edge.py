"""The `edge` engine: Qdrant Edge shards in a folder, behind qdrant-client's API.

Private module of the storage layer (`ragloom.store`); nothing else imports it.
`EdgeClient` answers the part of `QdrantClient`'s interface that ragloom and
langchain-qdrant use (collections, upsert, delete, retrieve, scroll, count, facet, query_points
with prefetch/RRF/MMR, payload indexes), taking ragloom's light types
(`ragloom._points`) or `qdrant_client.models` objects alike and returning light ones
with the same attribute names (`query_points`: qdrant-client's `ScoredPoint`), so the
point ids, the payload layout and every caller are the same on every engine. Writing and
reading a collection never imports `qdrant_client` (nor `langchain_qdrant`): only
`query_points`, which the LangChain `VectorStore` face calls, and a filter given as a
dict do. `qdrant_edge` is
beta and changes between minor releases: it is pinned, and only this module and its two
helpers import it (`_edge_convert`: ragloom's and qdrant-client's types to Edge types
and back; `_edge_folder`: the folder's layout, lock and errors).

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
from collections.abc import Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import qdrant_edge as qe

from ragloom._edge_convert import (
    _DISTANCES,
    _SCHEMAS,
    _facet_value,
    _filter,
    _id,
    _kind,
    _out_id,
    _out_vector,
    _params,
    _prefetch,
    _query,
    _record,
    _value,
    _vector,
    _with,
)
from ragloom._edge_folder import (
    _RECORD_FILE,
    EDGE_DIR,
    _Collection,
    _edge_error,
    _lock_folder,
    is_edge_folder,
)
from ragloom._points import (
    Distance,
    Modifier,
    Record,
    SparseVectorParams,
    UpdateStatus,
    VectorParams,
)

__all__ = ["EDGE_DIR", "EdgeClient", "is_edge_folder"]

_log = logging.getLogger("ragloom.store")

_SEGMENTS = 8
"""Segments the optimizer keeps before merging. With Edge's default (auto: 2 here) new
data is merged into the big indexed segment and the whole HNSW is rebuilt (+10,000
points on 20,000: 57 s); with 8 only the new segment is indexed (20 s)."""
_FLUSH_POINTS = 10_000
AUTO_OPTIMIZE_POINTS = 30_000
"""A write runs `optimize()` once this many points are unindexed (an ingest always does
at its end): until then they sit in plain segments, which are scanned."""


class EdgeClient:
    """Qdrant Edge collections under one folder, with qdrant-client's method names.

    Example:
        >>> import tempfile
        >>> client = EdgeClient(tempfile.mkdtemp())
        >>> client.create_collection("c", vectors_config={
        ...     "": VectorParams(size=2, distance=Distance.COSINE)})
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
            name: VectorParams(size=v["size"], distance=Distance(v["distance"]))
            for name, v in (config.get("vectors") or {}).items()
        }
        sparse = {
            name: SparseVectorParams(
                modifier=Modifier.IDF if (v or {}).get("modifier") == "idf" else None)
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
        vectors_config: Any = None,
        sparse_vectors_config: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
        quantization_config: Any = None,
        **_server_only: Any,
    ) -> bool:
        if _kind(vectors_config) == "VectorParams":  # ragloom's or qdrant-client's
            vectors_config = {"": vectors_config}
        vectors = {
            name: qe.EdgeVectorParams(size=p.size, distance=_DISTANCES[_value(p.distance)],
                                      on_disk=p.on_disk or None)
            for name, p in (vectors_config or {}).items()
        }
        sparse = {
            name: qe.EdgeSparseVectorParams(
                modifier=qe.Modifier.Idf if _value(p.modifier) == "idf" else None)
            for name, p in (sparse_vectors_config or {}).items()
        }
        quantization = None
        if _kind(quantization_config) == "ScalarQuantization":
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
        if _kind(field_schema) == "KeywordIndexParams":
            # The tenant key: Edge takes the server's `is_tenant` flag as it is.
            edge_schema: Any = qe.KeywordIndexParams(is_tenant=field_schema.is_tenant)
        else:
            edge_schema = _SCHEMAS[str(getattr(field_schema, "value", field_schema) or "keyword")]
        with coll.lock:
            if field_name not in coll.shard.info().payload_schema:
                coll.shard.update(qe.UpdateOperation.create_field_index(field_name, edge_schema))
        return SimpleNamespace(status=UpdateStatus.COMPLETED)

    # -- writes --------------------------------------------------------------------
    def upsert(self, collection_name: str, points: Sequence[Any],
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
        return SimpleNamespace(status=UpdateStatus.COMPLETED)

    def delete(self, collection_name: str, points_selector: Any, **_ignored: Any) -> Any:
        coll = self._get(collection_name)
        if _kind(points_selector) == "PointIdsList":
            operation = qe.UpdateOperation.delete_points([_id(i) for i in points_selector.points])
        elif isinstance(points_selector, list):
            operation = qe.UpdateOperation.delete_points([_id(i) for i in points_selector])
        else:
            flt = (points_selector.filter
                   if _kind(points_selector) == "FilterSelector" else points_selector)
            operation = qe.UpdateOperation.delete_points_by_filter(_filter(flt) or qe.Filter())
        with coll.lock:
            coll.shard.update(operation)
            coll.unflushed += 1
        return SimpleNamespace(status=UpdateStatus.COMPLETED)

    def set_payload(self, collection_name: str, payload: dict[str, Any], points: Any,
                    key: str | None = None, **_ignored: Any) -> Any:
        coll = self._get(collection_name)
        with coll.lock:
            coll.shard.update(qe.UpdateOperation.set_payload_by_filter(
                _filter(points) or qe.Filter(), payload, key))
            coll.unflushed += 1
        return SimpleNamespace(status=UpdateStatus.COMPLETED)

    def delete_payload(self, collection_name: str, keys: list[str], points: Any,
                       **_ignored: Any) -> Any:
        coll = self._get(collection_name)
        with coll.lock:
            coll.shard.update(qe.UpdateOperation.delete_payload_by_filter(
                _filter(points) or qe.Filter(), list(keys)))
            coll.unflushed += 1
        return SimpleNamespace(status=UpdateStatus.COMPLETED)

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
                 with_vectors: Any = False, **_ignored: Any) -> list[Record]:
        coll = self._get(collection_name)
        records = coll.shard.retrieve([_id(i) for i in ids], _with(with_payload),
                                      bool(with_vectors))
        return [_record(r) for r in records]

    def scroll(self, collection_name: str, scroll_filter: Any = None,
               limit: int = 10, offset: Any = None, with_payload: Any = True,
               with_vectors: Any = False, **_ignored: Any) -> tuple[list[Record], Any]:
        coll = self._get(collection_name)
        records, next_offset = coll.shard.scroll(qe.ScrollRequest(
            offset=_id(offset) if offset is not None else None, limit=limit,
            filter=_filter(scroll_filter), with_payload=_with(with_payload),
            with_vector=bool(with_vectors)))
        return [_record(r) for r in records], _out_id(next_offset)

    def count(self, collection_name: str, count_filter: Any = None,
              exact: bool = True, **_ignored: Any) -> Any:
        coll = self._get(collection_name)
        return SimpleNamespace(count=coll.shard.count(
            qe.CountRequest(filter=_filter(count_filter), exact=exact)))

    def facet(self, collection_name: str, key: str, facet_filter: Any = None,
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
        query_filter: Any = None,
        search_params: Any = None,
        limit: int = 10,
        offset: int | None = None,
        with_payload: Any = True,
        with_vectors: Any = False,
        score_threshold: float | None = None,
        **_ignored: Any,
    ) -> Any:
        # The VectorStore face's call (langchain-qdrant reads qdrant-client's points):
        # qdrant-client is imported by then.
        from qdrant_client import models

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
