"""The chain's input and output shapes: `RagInput` and `RagOutput` (see `ragloom.chains`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypedDict

from langchain_core.documents import Document
from langchain_core.messages import BaseMessage
from typing_extensions import NotRequired

from ragloom._modes import Mode

__all__ = ["RagInput", "RagOutput"]


class RagInput(TypedDict):
    """What the chain accepts besides a plain question string.

    Example:
        >>> payload: RagInput = {"question": "And for embeddings?",
        ...                      "chat_history": [("human", "How do I use OpenAI?"),
        ...                                       ("ai", "Set llm.provider: openai [1].")]}
        >>> payload["question"]
        'And for embeddings?'

    """

    question: str
    """The user's question."""
    chat_history: NotRequired[Sequence[BaseMessage | tuple[str, str] | dict[str, Any]]]
    """Earlier turns, oldest first."""


class RagOutput(TypedDict):
    """What the chain returns.

    Example:
        >>> result: RagOutput = {"question": "Who?", "answer": "No idea.", "sources": [],
        ...                      "citations": [], "grounded": False, "mode": "abstained",
        ...                      "checks": {}}
        >>> sorted(result)
        ['answer', 'checks', 'citations', 'grounded', 'mode', 'question', 'sources']

    """

    question: str
    """The question as asked."""
    answer: str
    """The model's answer, citing sources as [n] (only numbers that have a source)."""
    sources: list[Document]
    """The documents that counted, [1] first, with source/page/score/relevance metadata."""
    citations: list[Document]
    """The sources the answer cites, in order of first citation; `metadata["citation"]`
    holds each one's number."""
    grounded: bool
    """False when the chain abstained (nothing relevant) or the answer check failed."""
    mode: Mode
    """`answered`, `abstained` (the sources do not hold the answer) or `disputed` (the
    sources the answer rests on disagree; the answer says so and cites each side)."""
    checks: dict[str, Any]
    """What the checks found: `top_relevance` (the best retrieved chunk's relevance,
    before the bar), `below_relevance` (chunks under the bar), `context_tokens` and
    `context_dropped` (the sources' estimated tokens in the prompt, and the chunks left
    out by `answer.max_context_tokens`), `mode_by` (what decided `mode`: `relevance_bar`,
    `conflict_check`, `marker`, `words`, `number_check`, `self_check`, `answer_check`,
    `routing` or `model`), `decision_s` (seconds the mode decision took, the self-check
    call included), `conflicts` (the sides the conflict check found), `self_check` (the
    self-check's reply), `attributed` (citation numbers added after the fact,
    `answer.attribute_citations`),
    `removed_citations` (numbers without a source), `flagged` (chunks with planted
    instructions), `redacted` (placeholders by kind), `answer` (`empty`,
    `repeats_prompt` or None), `cut` (True when a length cap such as `num_predict`
    stopped the answer before its end); with `routing.models`: `model` (the one that
    answered), `route_reason` (why it was allowed) and `refused` (no allowed model)."""
