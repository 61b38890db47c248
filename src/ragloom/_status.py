"""`collection_status`: whether the configured collection exists and fits, for `doctor`.

Private module of the storage layer; import its public names from `ragloom.store`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ragloom._clients import _talking_to, _where, get_client, resolve_engine
from ragloom._collection import _problems, retrieval_mode
from ragloom._embeddings_record import _Identity
from ragloom._points import METADATA_KEY, mode_of
from ragloom.config import RagConfig, load_config

__all__ = ["CollectionStatus", "collection_status"]


@dataclass
class CollectionStatus:
    """What `collection_status` found: for `ragloom doctor`."""

    engine: str
    where: str
    exists: bool = False
    points: int | None = None
    dim: int | None = None
    distance: str | None = None
    embeddings: str | None = None
    problems: list[str] = field(default_factory=list)
    tenants: dict[str, int] = field(default_factory=dict)
    """Points per `metadata.tenant` value (empty when no chunk has a tenant)."""


def collection_status(cfg: RagConfig | None = None,
                      embed_dim: int | None = None) -> CollectionStatus:
    """Whether the configured collection exists and fits the configuration (no writes).

    `embed_dim` is the size the embeddings model produces, when known (doctor asks
    the server); else the recorded size is trusted. No embedding call is made.

    Raises:
        StoreLocked: The embedded folder is open in another process.
        ProviderUnavailable: The Qdrant server cannot be reached.

    Example:
        >>> status = collection_status(RagConfig(qdrant={"location": ":memory:",
        ...                                              "collection": "doc_status"}))
        >>> status.exists, status.problems
        (False, [])

    """
    cfg = cfg if cfg is not None else load_config()
    q = cfg.qdrant
    status = CollectionStatus(engine=resolve_engine(q), where=_where(q))
    client = get_client(q)
    mode = mode_of(retrieval_mode(cfg))
    identity = _Identity(f"{cfg.embeddings.provider}:{cfg.embeddings.model}",
                         cfg.embeddings.prefixes())
    with _talking_to(q):
        status.exists = client.collection_exists(q.collection)
        if not status.exists:
            return status

        def size_of(record: dict[str, Any]) -> int | None:
            dim = record.get("dim")
            return embed_dim if embed_dim is not None else dim if isinstance(dim, int) else None

        status.problems, record, status.dim = _problems(client, cfg, mode, identity, size_of)
        info = client.get_collection(q.collection)
        status.points = info.points_count
        vectors = info.config.params.vectors
        params = vectors.get("") if isinstance(vectors, dict) else vectors
        status.distance = params.distance.value if params is not None else None
        embeddings = record.get("embeddings")
        status.embeddings = embeddings if isinstance(embeddings, str) else None
        status.tenants = _tenant_counts(client, q.collection)
    return status


def _tenant_counts(client: Any, name: str) -> dict[str, int]:
    key = f"{METADATA_KEY}.tenant"
    try:
        hits = client.facet(name, key, limit=10_000, exact=True).hits
    except Exception:  # servers before Qdrant 1.12 have no facets: a count per tenant is
        return {}      # not worth a full scroll in a health check
    return {str(h.value): int(h.count) for h in hits}
