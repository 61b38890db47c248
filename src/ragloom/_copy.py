"""`copy_collection`: points, vectors and record moved between engines, no re-embedding.

Private module of the storage layer; import `copy_collection` from `ragloom.store`.
"""

from __future__ import annotations

import logging

from ragloom._clients import _client, _settings, _talking_to, _where, get_client
from ragloom._collection import _index_payload
from ragloom._points import (
    PointStruct,
    ScalarQuantization,
    ScalarQuantizationConfig,
    ScalarType,
    SparseVectorParams,
    VectorParams,
    speaking,
)
from ragloom.config import QdrantSettings, RagConfig
from ragloom.errors import CollectionMismatch, CollectionNotFound, InvalidInput

__all__ = ["copy_collection"]

_log = logging.getLogger("ragloom.store")


def copy_collection(
    source: RagConfig | QdrantSettings,
    target: RagConfig | QdrantSettings,
    *,
    batch_size: int = 512,
) -> int:
    """Copy a collection, vectors and payloads as stored, into another engine or place.

    No embedding call: the points move with their ids, dense and sparse vectors and
    payloads, and the collection record (which embeddings wrote it) goes along, so
    ragloom opens the copy without re-embedding. Uses: moving up from the embedded
    store to a Qdrant server (`target` with `qdrant.url`); converting a folder
    written by local mode to edge (`source` engine `local`, `target` engine `edge`,
    same location: the old files stay until you delete them). The target collection
    is created with the source's vectors and the target's settings (shards,
    replication, on-disk, quantization); a target that already holds points is
    refused, so nothing is mixed or overwritten.

    Args:
        source: The `qdrant` section (or a config) to read; its `collection` is copied.
        target: Where to write; the collection name is the target's `collection`.
        batch_size: Points per request.

    Returns:
        The number of points copied.

    Raises:
        CollectionNotFound: The source collection does not exist.
        CollectionMismatch: The target collection exists and is not empty.

    Example:
        >>> import tempfile
        >>> from langchain_core.embeddings import DeterministicFakeEmbedding
        >>> from ragloom.store import build_vector_store
        >>> src = RagConfig(qdrant={"location": ":memory:", "collection": "doc_copy"})
        >>> build_vector_store(src, embeddings=DeterministicFakeEmbedding(size=8)
        ...                    ).add_texts(["hello"], ids=["h"])
        ['h']
        >>> copy_collection(src, RagConfig(qdrant={"location": tempfile.mkdtemp(),
        ...                                        "collection": "doc_copy"}))
        1

    """
    src, dst = _settings(source), _settings(target)
    if batch_size < 1:
        raise InvalidInput(f"copy_collection(batch_size={batch_size!r}): batch_size must be"
                           " at least 1 (points per request; the default is 512)")
    reader, raw_writer = get_client(src), _client(dst, converting=True)
    writer = speaking(raw_writer)  # the points below are light; a QdrantClient converts
    if reader is raw_writer and src.collection == dst.collection:
        raise CollectionMismatch("copy_collection needs a different target: the source and"
                                 " the target are the same collection")
    with _talking_to(src):
        if not reader.collection_exists(src.collection):
            raise CollectionNotFound(f"the Qdrant collection {src.collection!r} does not exist"
                                     f" in {_where(src)}: nothing to copy")
        info = reader.get_collection(src.collection)
    with _talking_to(dst):
        if writer.collection_exists(dst.collection):
            if writer.count(dst.collection, exact=True).count:
                raise CollectionMismatch(
                    f"the target collection {dst.collection!r} in {_where(dst)} already holds"
                    " points; copy into a new collection name, or delete that one first")
            writer.delete_collection(dst.collection)
        params = info.config.params
        vectors = params.vectors if isinstance(params.vectors, dict) else (
            {"": params.vectors} if params.vectors is not None else {})
        quantization = (ScalarQuantization(scalar=ScalarQuantizationConfig(
            type=ScalarType.INT8, always_ram=True)) if dst.quantization == "scalar"
            else None)
        writer.create_collection(
            dst.collection,
            vectors_config={n: VectorParams(size=v.size, distance=v.distance,
                                                   on_disk=dst.on_disk or None)
                            for n, v in vectors.items()},
            sparse_vectors_config={n: SparseVectorParams(modifier=v.modifier)
                                   for n, v in (params.sparse_vectors or {}).items()} or None,
            shard_number=dst.shard_number, replication_factor=dst.replication_factor,
            quantization_config=quantization, metadata=info.config.metadata or None)
        _index_payload(raw_writer, dst.collection)
    copied, offset = 0, None
    while True:
        with _talking_to(src):
            records, offset = reader.scroll(src.collection, limit=batch_size, offset=offset,
                                            with_payload=True, with_vectors=True)
        if records:
            points = [PointStruct(id=r.id, vector=r.vector or {}, payload=r.payload)
                      for r in records]
            with _talking_to(dst):
                writer.upsert(dst.collection, points=points, wait=True)
            copied += len(points)
        if offset is None:
            break
    finish = getattr(raw_writer, "finish_writes", None)
    if finish is not None:
        finish(dst.collection)
    _log.info("copied %d points from %s to %s", copied, _where(src), _where(dst))
    return copied
