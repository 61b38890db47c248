"""Collections: created from config, checked against it, and what does not fit.

Private module of the storage layer; `open_target` (`ragloom._target`), under
`build_vector_store` and `ingest`, uses it. It builds ragloom's light Qdrant types
(`ragloom._points`), so creating an Edge collection imports neither `qdrant_client`
nor `langchain_qdrant`; a `QdrantClient` gets them converted (`speaking`).
"""

from __future__ import annotations

import contextlib
from typing import Any

from langchain_core.embeddings import Embeddings

from ragloom._access import access_indexes
from ragloom._clients import _talking_to, _where
from ragloom._embeddings_record import (
    RECORD_KEY,
    _Identity,
    _model_part,
    _prefix_problem,
    _record,
)
from ragloom._ledger import INGEST_KEY
from ragloom._points import (
    METADATA_KEY,
    SPARSE_VECTOR_NAME,
    VECTOR_NAME,
    Distance,
    Modifier,
    PayloadSchemaType,
    RetrievalMode,
    ScalarQuantization,
    ScalarQuantizationConfig,
    ScalarType,
    SparseIndexParams,
    SparseVectorParams,
    VectorParams,
    speaking,
)
from ragloom.config import RagConfig
from ragloom.errors import CollectionMismatch, CollectionNotFound

__all__ = ["retrieval_mode"]

_PROBE_TEXT = "ragloom vector size probe"
_DISTANCES = {
    "cosine": Distance.COSINE,
    "dot": Distance.DOT,
    "euclid": Distance.EUCLID,
}


def _mode_defaulted(cfg: RagConfig) -> bool:
    return "mode" not in cfg.retrieval.model_fields_set


def retrieval_mode(cfg: RagConfig) -> str:
    """The retrieval mode in effect: `retrieval.mode` when set, else hybrid.

    Left unset, it is dense when the search needs it (`mmr`, a score threshold), so
    a config written before hybrid became the default keeps working; and
    `build_vector_store` keeps a collection built without sparse vectors dense.

    Example:
        >>> retrieval_mode(RagConfig()), retrieval_mode(RagConfig(retrieval={"search": "mmr"}))
        ('hybrid', 'dense')

    """
    settings = cfg.retrieval
    if not _mode_defaulted(cfg):
        return settings.mode
    if settings.search in ("mmr", "threshold") or settings.score_threshold is not None:
        return "dense"
    return settings.mode


def _check_exists(client: Any, cfg: RagConfig, mode: RetrievalMode,
                  embeddings: Embeddings | None, identity: str | None) -> None:
    q = cfg.qdrant
    with _talking_to(q):
        if not client.collection_exists(q.collection):
            raise CollectionNotFound(
                f"the Qdrant collection {q.collection!r} does not exist in {_where(q)}:"
                " nothing has been ingested into it. Run `ragloom ingest PATH...` first,"
                " or check qdrant.collection (e.g. RAGLOOM_QDRANT__COLLECTION) and"
                " qdrant.location / qdrant.url.")
        _validate(client, cfg, mode, embeddings, identity)



def _probe_size(embeddings: Embeddings) -> int:
    return len(embeddings.embed_query(_PROBE_TEXT))


def _create(
    client: Any,
    cfg: RagConfig,
    mode: RetrievalMode,
    embeddings: Embeddings | None,
    identity: str | None,
) -> None:
    q = cfg.qdrant
    client = speaking(client)
    vectors: dict[str, VectorParams] = {}
    sparse: dict[str, SparseVectorParams] = {}
    metadata: dict[str, Any] = {}
    if mode is not RetrievalMode.SPARSE:
        assert embeddings is not None  # build_vector_store built them for dense/hybrid
        size = _probe_size(embeddings)
        vectors[VECTOR_NAME] = VectorParams(
            size=size, distance=_DISTANCES[q.distance], on_disk=q.on_disk or None
        )
        metadata[RECORD_KEY] = _record(identity, size)
    if mode is not RetrievalMode.DENSE:
        sparse[SPARSE_VECTOR_NAME] = SparseVectorParams(
            modifier=Modifier.IDF,
            index=SparseIndexParams(on_disk=True) if q.on_disk else None,
        )
    quantization = (
        ScalarQuantization(
            scalar=ScalarQuantizationConfig(type=ScalarType.INT8, always_ram=True)
        )
        if q.quantization == "scalar"
        else None
    )
    client.create_collection(
        q.collection,
        vectors_config=vectors,
        sparse_vectors_config=sparse or None,
        shard_number=q.shard_number,
        replication_factor=q.replication_factor,
        quantization_config=quantization,
        metadata=metadata or None,
    )
    _index_payload(client, q.collection)


def _index_payload(client: Any, name: str) -> None:
    """Keyword indexes on what filters, the ingest ledger and access use (not in local mode)."""
    from ragloom._ledger import _is_local_mode

    if _is_local_mode(client):
        return
    client = speaking(client)
    for key in (f"{METADATA_KEY}.source", f"{METADATA_KEY}.file_hash", INGEST_KEY):
        client.create_payload_index(name, key, PayloadSchemaType.KEYWORD)
    for key, schema in access_indexes(METADATA_KEY):
        client.create_payload_index(name, key, schema)


def _mismatch(name: str, problem: str) -> CollectionMismatch:
    return CollectionMismatch(
        f"Qdrant collection {name!r} {problem}. Use another collection (qdrant.collection,"
        " e.g. RAGLOOM_QDRANT__COLLECTION), or rebuild this one with"
        " build_vector_store(cfg, recreate=True), which deletes its points."
    )


def _problems(
    client: Any,
    cfg: RagConfig,
    mode: RetrievalMode,
    identity: str | None,
    size_of: Any,
) -> tuple[list[str], dict[str, Any], int | None]:
    """What does not fit, the ragloom record, and the dense size (if any)."""
    name = cfg.qdrant.collection
    config = client.get_collection(name).config
    problems: list[str] = []
    record = (config.metadata or {}).get(RECORD_KEY)
    record = record if isinstance(record, dict) else {}
    if mode is not RetrievalMode.DENSE:
        sparse_name = SPARSE_VECTOR_NAME
        if sparse_name not in (config.params.sparse_vectors or {}):
            problems.append(f"has no sparse vector {sparse_name!r}, which"
                            f" retrieval.mode={mode.value!r} needs")
    if mode is RetrievalMode.SPARSE:
        return problems, record, None
    vectors = config.params.vectors
    params = vectors.get(VECTOR_NAME) if isinstance(vectors, dict) else vectors
    if params is None:
        problems.append(f"has no unnamed dense vector, which retrieval.mode={mode.value!r} needs")
        return problems, record, None
    if params.distance != _DISTANCES[cfg.qdrant.distance]:  # str enums: by value
        problems.append(f"uses {params.distance.value} distance but qdrant.distance is"
                        f" {cfg.qdrant.distance!r}")
    size = size_of(record)
    if size is not None and size != params.size:
        problems.append(f"holds {params.size}-dimensional vectors but the embeddings"
                        f" {identity} produce {size}-dimensional ones")
    recorded = record.get("embeddings")
    if (not problems and identity and isinstance(recorded, str)
            and _model_part(recorded) != _model_part(identity)):
        problems.append(
            f"was written by the embeddings model {recorded} but the configured one is"
            f" {identity}; vectors of two models in one collection do not compare. Set"
            f" embeddings.provider/embeddings.model back to {recorded}")
    if not problems and isinstance(identity, _Identity) and isinstance(recorded, str):
        problem = _prefix_problem(cfg.qdrant.collection, record, identity.prefixes)
        if problem:
            problems.append(problem)
    return problems, record, params.size


def _validate(
    client: Any,
    cfg: RagConfig,
    mode: RetrievalMode,
    embeddings: Embeddings | None,
    identity: str | None,
) -> None:
    def size_of(record: dict[str, Any]) -> int | None:
        if record.get("embeddings") == identity and isinstance(record.get("dim"), int):
            return int(record["dim"])  # built with these embeddings: no embedding call
        assert embeddings is not None  # dense/hybrid modes have them
        return _probe_size(embeddings)

    name = cfg.qdrant.collection
    problems, record, size = _problems(client, cfg, mode, identity, size_of)
    if problems:
        raise _mismatch(name, problems[0])
    if not record.get("embeddings") and identity and size is not None:
        # Built by something else but fits: record it so the next open costs nothing.
        # Best effort: servers before Qdrant 1.16 have no collection metadata.
        with contextlib.suppress(Exception):
            client.update_collection(name, metadata={RECORD_KEY: _record(identity, size)})
