"""Search results put in one order: hybrid fusion, ties by point id, relevance as a cosine.

Private module of the storage layer: what `RagloomVectorStore` does to Qdrant's answers
so that identical calls give identical lists on every engine.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from qdrant_client import models

__all__ = ["_by_score", "_cosine", "_cosine_from_score", "_fuse", "_ranked", "_sides",
           "_with_records"]


def _cosine(a: list[float], b: list[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=False))
    norm = math.sqrt(sum(x * x for x in a) * sum(y * y for y in b))
    return float(dot / norm) if norm else 0.0


def _cosine_from_score(score: float, distance: models.Distance) -> float:
    # Qdrant's dense score is the cosine for COSINE; for DOT and EUCLID it equals or maps
    # to the cosine when the embeddings are unit length, as Ollama's and OpenAI's are.
    if distance == models.Distance.EUCLID:
        return 1.0 - score * score / 2.0
    return float(score)


_RRF_K = 2
"""Qdrant's RRF constant: a point's fused score is the sum of 1 / (2 + its 0-based rank)."""


def _sides(request: dict[str, Any]) -> list[dict[str, Any]]:
    """The dense and the sparse search of a hybrid request, each a request of its own."""
    base = {key: value for key, value in request.items()
            if key not in ("prefetch", "query", "limit", "score_threshold")}
    return [{**base, "using": side.using, "query": side.query, "limit": side.limit,
             "with_payload": False, "with_vectors": False}
            for side in request["prefetch"]]


def _with_records(winners: Sequence[Any], records: Sequence[Any]) -> list[Any]:
    """The fused winners with the payload and vectors `retrieve` read for them.

    A winner deleted between the search and the read is dropped, as a search run a
    moment later would not have found it.
    """
    by_id = {str(record.id): record for record in records}
    return [point.model_copy(update={"payload": by_id[str(point.id)].payload,
                                     "vector": by_id[str(point.id)].vector})
            for point in winners if str(point.id) in by_id]


def _by_score(points: Sequence[Any]) -> list[Any]:
    # Qdrant returns equal scores in no fixed order, and the order becomes the prompt
    # (and so the request body a cassette matches): ties go by point id.
    return sorted(points, key=lambda p: (-p.score, str(p.id)))


def _ranked(points: Sequence[Any], request: dict[str, Any]) -> list[Any]:
    """Dense or sparse results with ties in one order; MMR keeps its own (not by score)."""
    query = request.get("query")
    return list(points) if getattr(query, "mmr", None) is not None else _by_score(points)


def _fuse(sides: Sequence[Sequence[Any]], k: int) -> list[Any]:
    """Qdrant's reciprocal rank fusion of the dense and sparse results, made deterministic.

    Each side is ranked by score then point id, and the fused list by fused score then
    point id, so identical calls give identical lists (Qdrant's own fusion ranks ties
    in storage order, which changes from one call or engine to the next).
    """
    fused: dict[str, float] = {}
    first: dict[str, Any] = {}
    for side in sides:
        for rank, point in enumerate(_by_score(side)):
            key = str(point.id)
            first.setdefault(key, point)
            fused[key] = fused.get(key, 0.0) + 1.0 / (_RRF_K + rank)
    order = sorted(fused, key=lambda key: (-fused[key], key))[:k]
    return [first[key].model_copy(update={"score": fused[key]}) for key in order]
