"""A chat model's answer as text, and whether a length cap cut it.

Ollama reports `done_reason: "length"` when `num_predict` (or the context) stopped the
answer, OpenAI-compatible servers `finish_reason: "length"`; LangChain keeps either in the
message's `response_metadata` (on the last chunk when streaming). The chain puts the
finding in `checks["cut"]`, so a cut answer never passes for a complete one.

Example:
    >>> from langchain_core.messages import AIMessage
    >>> answer_piece(AIMessage("Paris is", response_metadata={"done_reason": "length"}))
    ('Paris is', True)
    >>> answer_piece("plain text from an LLM")
    ('plain text from an LLM', False)

"""

from __future__ import annotations

from typing import Any

__all__ = ["answer_piece"]

_CUT_REASONS = {"length", "max_tokens"}


def answer_piece(value: Any) -> tuple[str, bool]:
    """(text, cut) of a model output: a string, a message or a message chunk."""
    if isinstance(value, str):
        return value, False
    content = getattr(value, "content", "")
    text = content if isinstance(content, str) else "".join(
        part.get("text", "") if isinstance(part, dict) else str(part) for part in content)
    meta = getattr(value, "response_metadata", None) or {}
    reason = meta.get("done_reason") or meta.get("finish_reason") or meta.get("stop_reason")
    return text, reason in _CUT_REASONS
