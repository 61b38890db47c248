"""The self-check: one short model call asking whether the sources state the answer.

With `answer.self_check` on, an answer that nothing else has judged (no marker, no
declining words, no conflict found, no invented number) goes back to the chat model with
its sources and the question, and the model replies in JSON: `{"answer_is_stated": bool,
"sources_disagree": bool}`. With Ollama the reply is held to that JSON schema by the
request's `format` (structured output); other providers are asked for the JSON in words
and the reply is read leniently. A reply that cannot be read decides nothing.

The call costs a second prefill of the sources: on a 2-core CPU about as long as the
answer's own prefill (measured with qwen2.5-coder:1.5b: a median 10 s, 40 % of the time
per answer, and it approved 57 of 59 answers, wrong ones too: see docs/answer-quality.md).
Its time is counted in `checks["decision_s"]`. `ainvoke` and `astream` await the model's
async API (`acheck_answer`); with `routing`, the first model allowed to read the sources
is asked.

Example:
    >>> from langchain_core.language_models import FakeListChatModel
    >>> model = FakeListChatModel(responses=['{"answer_is_stated": false,'
    ...                                      ' "sources_disagree": false}'])
    >>> check_answer(model, "Port?", "[1] a.md: The port is 80.", "It is 443.", None)
    {'answer_is_stated': False, 'sources_disagree': False}

"""

from __future__ import annotations

import json
import re
from typing import Any

from langchain_core.runnables import RunnableConfig

__all__ = ["SCHEMA", "acheck_answer", "check_answer"]

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"answer_is_stated": {"type": "boolean"},
                   "sources_disagree": {"type": "boolean"}},
    "required": ["answer_is_stated", "sources_disagree"],
}
"""The JSON schema of the reply (Ollama's `format`)."""

_SYSTEM = ("You check an answer against numbered documents. Reply only with JSON:"
           ' {"answer_is_stated": true or false, "sources_disagree": true or false}.')
_ASK = ("{context}\n\nQuestion: {question}\nProposed answer: {answer}\n\n"
        "answer_is_stated: do the documents state this answer to this exact question (not"
        " to a similar one)? sources_disagree: do two documents give different answers to"
        " the question?")
_FIELD = re.compile(r'"?(answer_is_stated|sources_disagree)"?\s*:\s*(true|false)', re.I)


def _read(text: str) -> dict[str, bool] | None:
    try:
        data = json.loads(text)
        if isinstance(data, dict) and all(isinstance(data.get(k), bool)
                                          for k in SCHEMA["required"]):
            return {k: data[k] for k in SCHEMA["required"]}
    except ValueError:
        pass
    found = {m.group(1).lower(): m.group(2).lower() == "true" for m in _FIELD.finditer(text)}
    return found if len(found) == len(SCHEMA["required"]) else None


def _request(question: str, context: str, answer: str, structured: bool
             ) -> tuple[list[tuple[str, str]], dict[str, Any]]:
    messages = [("system", _SYSTEM),
                ("human", _ASK.format(context=context, question=question, answer=answer))]
    return messages, ({"format": SCHEMA} if structured else {})


def _verdict(reply: Any) -> dict[str, bool] | None:
    text = reply.content if hasattr(reply, "content") else str(reply)
    return _read(text if isinstance(text, str) else str(text))


def check_answer(model: Any, question: str, context: str, answer: str,
                 config: RunnableConfig | None, *, structured: bool = False
                 ) -> dict[str, bool] | None:
    """Ask `model` whether `context` states `answer` to `question`; None when unreadable.

    `structured`: send the schema as Ollama's `format`.
    """
    messages, kwargs = _request(question, context, answer, structured)
    return _verdict(model.invoke(messages, config, **kwargs))


async def acheck_answer(model: Any, question: str, context: str, answer: str,
                        config: RunnableConfig | None, *, structured: bool = False
                        ) -> dict[str, bool] | None:
    """`check_answer` through the model's async API, for `ainvoke` and `astream`.

    Example:
        >>> import asyncio
        >>> from langchain_core.language_models import FakeListChatModel
        >>> model = FakeListChatModel(responses=['{"answer_is_stated": true,'
        ...                                      ' "sources_disagree": false}'])
        >>> asyncio.run(acheck_answer(model, "Port?", "[1] a.md: Port 80.", "80.", None))
        {'answer_is_stated': True, 'sources_disagree': False}

    """
    messages, kwargs = _request(question, context, answer, structured)
    return _verdict(await model.ainvoke(messages, config, **kwargs))
