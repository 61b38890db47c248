"""The chain's state before the model: guards, the relevance bar, the context, routing."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables import RunnableConfig

from ragloom._budget import fit_context
from ragloom._conflicts import find_conflicts
from ragloom.config import RagConfig
from ragloom.guards import Guard
from ragloom.prompts import format_context
from ragloom.routing import Router


def _guarded_input(
    inputs: dict[str, Any], guards: Sequence[Guard], config: RunnableConfig
) -> dict[str, Any]:
    checks: dict[str, Any] = {"top_relevance": None, "below_relevance": 0,
                              "context_tokens": 0, "context_dropped": 0,
                              "removed_citations": [], "flagged": [], "redacted": {},
                              "answer": None, "mode_by": None, "decision_s": 0.0,
                              "cut": False}
    state = {**inputs, "original_question": inputs["question"], "sources": [], "checks": checks}
    for guard in guards:  # the question and history, before any of it reaches a model
        state = guard.invoke(state, config)
    return state


def _restored(text: str, state: dict[str, Any], guards: Sequence[Guard]) -> str:
    for guard in guards:
        text = guard.restore(text, state)
    return text


def _with_context(
    state: dict[str, Any], documents: list[Document], cfg: RagConfig,
    guards: Sequence[Guard], config: RunnableConfig,
) -> dict[str, Any]:
    known = [doc.metadata["relevance"] for doc in documents if "relevance" in doc.metadata]
    state["checks"]["top_relevance"] = max(known) if known else None
    bar = cfg.relevance_bar()
    if bar is not None:
        # A document without a relevance (a sparse-only collection, a retriever of your
        # own) cannot be judged, so it counts.
        kept = [doc for doc in documents if doc.metadata.get("relevance", bar) >= bar]
        state["checks"]["below_relevance"] = len(documents) - len(kept)
        documents = kept
    state = {**state, "sources": documents}
    for guard in guards:  # the retrieved context
        state = guard.invoke(state, config)
    kept, dropped, tokens = fit_context(state["sources"], cfg.answer.max_context_tokens)
    state["checks"]["context_tokens"], state["checks"]["context_dropped"] = tokens, dropped
    state["sources"] = kept
    state["context"] = format_context(kept)
    if cfg.answer.conflict_check and len(kept) > 1:
        started = time.perf_counter()
        conflicts = find_conflicts(state["question"], kept)
        state["checks"]["conflicts"] = [
            {"sources": [c.first_source + 1, c.second_source + 1], "values": [c.first, c.second]}
            for c in conflicts]
        state["checks"]["decision_s"] += time.perf_counter() - started
    return state


def _routed(state: dict[str, Any], router: Router | None,
            guards: Sequence[Guard]) -> dict[str, Any]:
    """Pick the models allowed to read this context (`routing`); say which and why."""
    if router is None:
        return state
    texts = [_restored(doc.page_content, state, guards) for doc in state["sources"]]
    route = router.route(state["sources"], texts)
    state["checks"].update(model=None, route_reason=route.reason, refused=route.refused)
    return {**state, "route": route}


def _enforces_identity(retriever: BaseRetriever) -> bool:
    from ragloom.retrievers import MultiQueryRetriever, RagloomRetriever

    if isinstance(retriever, MultiQueryRetriever):
        return _enforces_identity(retriever.retriever)
    return isinstance(retriever, RagloomRetriever)
