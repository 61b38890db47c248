"""An answer stopped by a length cap (`num_predict`, `max_tokens`) says so in `checks`."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from langchain_core.embeddings import DeterministicFakeEmbedding
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult

from ragloom import RagConfig, build_rag_chain, build_retriever, build_vector_store
from ragloom._cut import answer_piece
from tests.test_chain import DOCS, QUESTION, seeded


class CappedChat(BaseChatModel):
    """Answers `text`, reporting `reason` as Ollama (`done_reason`) or OpenAI does."""

    text: str = "API keys are rotated every"
    reason: str = "length"
    key: str = "done_reason"

    @property
    def _llm_type(self) -> str:
        return "capped"

    def _generate(self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None,
                  **kwargs: Any) -> ChatResult:
        message = AIMessage(self.text, response_metadata={self.key: self.reason})
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _stream(self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None,
                **kwargs: Any) -> Iterator[ChatGenerationChunk]:
        for word in self.text.split(" "):
            yield ChatGenerationChunk(message=AIMessageChunk(content=word + " "))
        yield ChatGenerationChunk(message=AIMessageChunk(
            content="", response_metadata={self.key: self.reason}))


def chain_with(llm: BaseChatModel, bar: float | None = None) -> Any:
    cfg = RagConfig(qdrant={"location": ":memory:", "collection": f"cut_{uuid.uuid4().hex[:8]}"},
                    answer={"min_relevance": bar})
    store = build_vector_store(cfg, embeddings=DeterministicFakeEmbedding(size=8))
    store.add_documents(DOCS)
    return build_rag_chain(cfg, llm=llm, retriever=build_retriever(cfg, store))


@pytest.mark.parametrize(("key", "reason", "cut"), [
    ("done_reason", "length", True), ("finish_reason", "length", True),
    ("done_reason", "stop", False), ("finish_reason", "stop", False)])
def test_invoke_marks_a_cut_answer(key: str, reason: str, cut: bool) -> None:
    result = chain_with(CappedChat(key=key, reason=reason)).invoke(QUESTION)
    assert result["answer"] == "API keys are rotated every"
    assert result["checks"]["cut"] is cut


@pytest.mark.parametrize("reason", ["length", "stop"])
def test_stream_marks_a_cut_answer_in_the_last_chunk(reason: str) -> None:
    chunks = list(chain_with(CappedChat(reason=reason)).stream(QUESTION))
    text = "".join(c["answer"] for c in chunks if "answer" in c)
    assert text.strip() == "API keys are rotated every"
    assert chunks[-1]["checks"]["cut"] is (reason == "length")


def test_abstaining_is_never_cut() -> None:
    result = chain_with(CappedChat(), bar=0.99).invoke(QUESTION)  # random vectors: below
    assert result["grounded"] is False and result["checks"]["cut"] is False


def test_answer_piece_reads_list_content() -> None:
    message = AIMessage(content=[{"type": "text", "text": "Hi"}],
                        response_metadata={"stop_reason": "max_tokens"})
    assert answer_piece(message) == ("Hi", True)


@pytest.mark.vcr
def test_num_predict_cap_on_ollama_is_reported(cfg: RagConfig) -> None:
    """Recorded from the test server: Ollama's own `done_reason: "length"`."""
    cfg.answer.min_relevance = None
    cfg.llm.extra = {"num_predict": 5}
    result = seeded(cfg).invoke(QUESTION)
    assert result["checks"]["cut"] is True
    assert result["answer"].strip()
