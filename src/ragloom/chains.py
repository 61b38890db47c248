"""`build_rag_chain`: question → retriever → numbered context → prompt → chat model.

The chain is plain LCEL, so `invoke`, `ainvoke`, `batch`, `abatch`, `stream` and
`astream` all work. Input: a question string, or `{"question": ..., "chat_history":
[...]}` (messages, `(role, text)` pairs or dicts). With history, the chat model first
rewrites the follow-up as a standalone question for retrieval; the answer prompt still
sees the whole conversation. Output: `{"question", "answer", "sources"}`. Streaming
yields `{"question": ...}` and `{"sources": [...]}` first, then `{"answer": token}` chunks.

Example:
    >>> from ragloom import build_rag_chain
    >>> chain = build_rag_chain()                                   # doctest: +SKIP
    >>> result = chain.invoke("How do I rotate the API keys?")      # doctest: +SKIP
    >>> result["answer"], result["sources"]                         # doctest: +SKIP

"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypedDict

from langchain_core.documents import Document
from langchain_core.language_models import BaseLanguageModel
from langchain_core.messages import BaseMessage, convert_to_messages, get_buffer_string
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import BasePromptTemplate
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables import (
    Runnable,
    RunnableConfig,
    RunnableLambda,
    RunnablePassthrough,
    RunnablePick,
)
from typing_extensions import NotRequired

from ragloom.config import RagConfig, load_config
from ragloom.errors import InvalidInput
from ragloom.prompts import build_condense_prompt, build_prompt, format_context
from ragloom.providers import build_chat_model
from ragloom.retrievers import build_retriever

__all__ = ["RagInput", "RagOutput", "build_rag_chain"]


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
        >>> result: RagOutput = {"question": "Who?", "answer": "I don't know.", "sources": []}
        >>> sorted(result)
        ['answer', 'question', 'sources']

    """

    question: str
    """The question as asked."""
    answer: str
    """The model's answer, citing sources as [n]."""
    sources: list[Document]
    """The retrieved documents, [1] first, with source/page/score metadata."""


_INPUT_FORMS = ("a question string, or {'question': str, 'chat_history': [...]} where each"
                " turn is a message, a (role, text) pair or a {'role': ..., 'content': ...} dict")


def _prepare(value: str | dict[str, Any]) -> dict[str, Any]:
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


def build_rag_chain(
    cfg: RagConfig | None = None,
    *,
    llm: BaseLanguageModel[Any] | None = None,
    retriever: BaseRetriever | None = None,
    prompt: BasePromptTemplate[Any] | str | None = None,
) -> Runnable[str | dict[str, Any], dict[str, Any]]:
    """Build the retrieval-augmented answer chain.

    Args:
        cfg: Configuration; default `load_config()` (ragloom.yaml, environment, defaults).
        llm: A ready chat model; default `build_chat_model(cfg)`.
        retriever: A ready retriever; default `build_retriever(cfg)`.
        prompt: A ready prompt or template text; default `build_prompt(cfg)`.

    Returns:
        A Runnable from a question (or `RagInput`) to `RagOutput`.

    Raises:
        ConfigError: Invalid configuration or prompt template.
        InvalidInput: (when called) a payload that is not a question or `RagInput`.

    Example:
        >>> from langchain_core.language_models import FakeListChatModel
        >>> from langchain_core.embeddings import DeterministicFakeEmbedding
        >>> from ragloom import RagConfig, build_retriever
        >>> cfg = RagConfig(qdrant={"location": ":memory:", "collection": "doc_chain"})
        >>> retriever = build_retriever(cfg, embeddings=DeterministicFakeEmbedding(size=8))
        >>> chain = build_rag_chain(cfg, llm=FakeListChatModel(responses=["I don't know."]),
        ...                         retriever=retriever)
        >>> chain.invoke("Who?")["answer"]
        "I don't know."

    """
    cfg = cfg if cfg is not None else load_config()
    llm = llm if llm is not None else build_chat_model(cfg)
    retriever = retriever if retriever is not None else build_retriever(cfg, llm=llm)
    answer_prompt = prompt if isinstance(prompt, BasePromptTemplate) else build_prompt(cfg, prompt)
    condense = (build_condense_prompt(cfg) | llm | StrOutputParser()).with_config(
        run_name="condense_question"
    )

    def _condense_inputs(inputs: dict[str, Any]) -> dict[str, str]:
        return {"question": inputs["question"],
                "chat_history": get_buffer_string(inputs["chat_history"])}

    # One step prepares the input and retrieves: every Runnable in the chain costs a traced
    # run per call, and this keeps build_rag_chain as cheap as a hand-wired chain.
    def retrieve(value: str | dict[str, Any], config: RunnableConfig) -> dict[str, Any]:
        inputs = _prepare(value)
        query = inputs["question"]
        if inputs["chat_history"]:
            query = condense.invoke(_condense_inputs(inputs), config).strip() or query
        return {**inputs, "sources": retriever.invoke(query, config)}

    async def aretrieve(value: str | dict[str, Any], config: RunnableConfig) -> dict[str, Any]:
        inputs = _prepare(value)
        query = inputs["question"]
        if inputs["chat_history"]:
            query = (await condense.ainvoke(_condense_inputs(inputs), config)).strip() or query
        return {**inputs, "sources": await retriever.ainvoke(query, config)}

    def answer_inputs(inputs: dict[str, Any]) -> dict[str, Any]:
        return {"context": format_context(inputs["sources"]), "question": inputs["question"],
                "chat_history": inputs["chat_history"]}

    answer = RunnableLambda(answer_inputs, name="format_context") | answer_prompt | llm
    chain = (
        RunnableLambda(retrieve, afunc=aretrieve, name="retrieve")
        | RunnablePassthrough.assign(answer=answer | StrOutputParser())
        | RunnablePick(["question", "sources", "answer"])
    )
    return chain.with_config(run_name="rag_chain")

