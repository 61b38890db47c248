"""The chain's input: the question limit, and a payload checked and made messages."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from langchain_core.messages import convert_to_messages

from ragloom.config import LLMSettings, RagConfig
from ragloom.errors import InvalidInput

_INPUT_FORMS = ("a question string, or {'question': str, 'chat_history': [...]} where each"
                " turn is a message, a (role, text) pair or a {'role': ..., 'content': ...} dict")


def _question_limit(cfg: RagConfig) -> tuple[int, str]:
    """Longest question accepted (characters), and the setting that sets it.

    A question may take half the chat model's context (about 4 characters a token);
    the rest is for the documents and the answer. With `routing`, any of its models
    may answer, so the smallest context among them sets the limit.
    """
    if cfg.routing.models:
        return min((_context_limit(m, f"routing.models[{m.name}]") for m in cfg.routing.models),
                   key=lambda limit: limit[0])
    return _context_limit(cfg.llm, "llm")


def _context_limit(llm: LLMSettings, where: str) -> tuple[int, str]:
    """Half the context of the chat model of `llm` (characters), and the setting."""
    if llm.provider == "ollama":
        tokens = llm.num_ctx or 2048
        return tokens * 2, f"{where}.num_ctx = {tokens} tokens"
    return 128_000 * 2, "128,000 tokens, the largest context of common hosted models"


def _prepare(value: str | dict[str, Any], limit: tuple[int, str] | None = None) -> dict[str, Any]:
    question = value if isinstance(value, str) else (
        value.get("question") if isinstance(value, dict) else None)
    if limit is not None and isinstance(question, str) and len(question) > limit[0]:
        raise InvalidInput(
            f"the question is {len(question):,} characters (about {len(question) // 4:,}"
            f" tokens): more than half of the chat model's context ({limit[1]}), which must"
            " also hold the documents and the answer. Shorten the question (put long text"
            " in a file and ingest it), or raise that num_ctx if the model allows")
    if isinstance(value, str):
        return {"question": value, "chat_history": []}
    if not isinstance(value, dict) or not isinstance(value.get("question"), str):
        raise InvalidInput(
            f"the chain takes {_INPUT_FORMS}; got {type(value).__name__}"
            + (f" with keys {sorted(value)}" if isinstance(value, dict) else "")
        )
    history = value.get("chat_history") or []
    # A string is a Sequence too: convert_to_messages would read each character as a turn.
    if isinstance(history, str | bytes) or not isinstance(history, Sequence):
        raise InvalidInput(
            f"chat_history must be a list of turns, oldest first; got {type(history).__name__}"
            f" ({str(history)[:40]!r}). Pass e.g. [('human', 'Hi'), ('ai', 'Hello.')]"
        )
    try:
        messages = convert_to_messages(history)
    except (ValueError, TypeError, NotImplementedError) as exc:
        raise InvalidInput(
            f"chat_history holds a turn that is not a message: {str(exc).splitlines()[0]}"
            ". Each turn is a"
            " message, a (role, text) pair or a {'role': ..., 'content': ...} dict"
        ) from None
    return {"question": value["question"], "chat_history": messages}
