"""Citations parsed as citations, and the answer check (issue 24, findings 16 and 17).

Every test here runs offline on fake models: the parsing is output-side and changes no
request body.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from langchain_core.documents import Document
from langchain_core.embeddings import DeterministicFakeEmbedding
from langchain_core.language_models import BaseChatModel, FakeListChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult

from ragloom import RagConfig, build_rag_chain, build_retriever, build_vector_store
from ragloom._citations import AnswerFilter
from ragloom._conflicts import ungrounded_numbers

DOCS = [
    Document("OpenVPN listens on UDP port 1194; the web console uses HTTPS on port 443.",
             metadata={"source": "vpn.md"}),
    Document("Backups run nightly at 02:00 UTC and are kept for 30 days.",
             metadata={"source": "backups.md"}),
]


class ChunkedChat(BaseChatModel):
    """Answers `text`; streams it cut at `cuts` (character offsets)."""

    text: str = ""
    cuts: list[int] = []

    @property
    def _llm_type(self) -> str:
        return "chunked"

    def _generate(self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None,
                  **kwargs: Any) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=AIMessage(self.text))])

    def _stream(self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None,
                **kwargs: Any) -> Iterator[ChatGenerationChunk]:
        bounds = [0, *self.cuts, len(self.text)]
        for start, end in itertools.pairwise(bounds):
            yield ChatGenerationChunk(message=AIMessageChunk(content=self.text[start:end]))


def chain_with(llm: BaseChatModel, docs: list[Document] = DOCS) -> Any:
    cfg = RagConfig(qdrant={"location": ":memory:", "collection": f"cite_{uuid.uuid4().hex[:8]}"},
                    answer={"min_relevance": None})
    store = build_vector_store(cfg, embeddings=DeterministicFakeEmbedding(size=8))
    store.add_documents(docs)
    return build_rag_chain(cfg, llm=llm, retriever=build_retriever(cfg, store))


def streamed(chain: Any, question: str) -> tuple[str, dict[str, Any]]:
    chunks = list(chain.stream(question))
    return "".join(c.get("answer", "") for c in chunks), chunks[-1]


def cited(result: dict[str, Any]) -> list[int]:
    return [d.metadata["citation"] for d in result["citations"]]


# --- finding 16: the answer check --------------------------------------------------------

@pytest.mark.parametrize("question", ["443 or 1194?", "Which port does OpenVPN use, 443 or 1194?"])
def test_16_a_short_answer_the_question_offers_is_kept(question: str) -> None:
    result = chain_with(FakeListChatModel(responses=["1194"])).invoke(question)
    assert result["answer"] == "1194"
    assert result["checks"]["answer"] is None and result["grounded"] is True


@pytest.mark.parametrize(("question", "reply"), [
    ("443 or 1194?", "443 or 1194"),
    ("Which port does OpenVPN use, 443 or 1194?", "Which port does OpenVPN use"),
])
def test_16_an_answer_that_repeats_most_of_the_question_is_still_an_echo(
        question: str, reply: str) -> None:
    result = chain_with(FakeListChatModel(responses=[reply])).invoke(question)
    assert result["checks"]["answer"] == "repeats_prompt"
    assert result["grounded"] is False and result["answer"] == ""


# --- finding 17: what is a citation -----------------------------------------------------

def test_17_an_index_in_a_code_span_is_no_citation() -> None:
    reply = "Read `sys.argv[1]`, then `arr[5]` holds the port [1]."
    result = chain_with(FakeListChatModel(responses=[reply])).invoke("q")
    assert result["answer"] == reply  # `arr[5]` is not cut to `arr`
    assert cited(result) == [1] and result["checks"]["removed_citations"] == []


def test_17_an_index_in_a_fenced_block_is_no_citation() -> None:
    reply = "Like this:\n\n```python\nport = ports[7]\nhost = argv[1]\n```\n\nSee [2]."
    result = chain_with(FakeListChatModel(responses=[reply])).invoke("q")
    assert result["answer"] == reply
    assert cited(result) == [2] and result["checks"]["removed_citations"] == []
    nested = "1. Run:\n\n    ```sh\n    echo ${ports[7]}\n    ```\n2. See [1]."  # in a list
    result = chain_with(FakeListChatModel(responses=[nested])).invoke("q")
    assert result["answer"] == nested and cited(result) == [1]
    unclosed = "Like this:\n~~~\nport = ports[7]\n"  # a fence never closed runs to the end
    result = chain_with(FakeListChatModel(responses=[unclosed])).invoke("q")
    assert result["answer"] == unclosed and cited(result) == []


@pytest.mark.parametrize("reply", [
    "Details: [1](https://evil.example/x?d=1).",
    "![1](https://evil.example/pixel.png) done.",
    "See [the docs][1].\n\n[1]: https://evil.example/",
])
def test_17_a_markdown_link_is_no_citation_and_not_verified(reply: str) -> None:
    result = chain_with(FakeListChatModel(responses=[reply])).invoke("q")
    assert result["answer"] == reply
    assert cited(result) == [] and result["checks"]["removed_citations"] == []


@pytest.mark.parametrize(("reply", "answer", "numbers", "removed"), [
    ("Nightly [1-2].", "Nightly [1, 2].", [1, 2], []),
    ("Nightly [1\u20133].", "Nightly [1, 2].", [1, 2], [3]),
    ("Nightly [2-9].", "Nightly [2].", [2], [3, 4, 5, 6, 7, 8, 9]),
    ("Nightly [1-500].", "Nightly.", [], [1, 500]),
    ("Nightly [1, 3].", "Nightly [1].", [1], [3]),
    ("Nightly [3; 2].", "Nightly [2].", [2], [3]),
    ("Nightly [2][1].", "Nightly [2][1].", [2, 1], []),
    ("Nightly [7][1].", "Nightly[1].", [1], [7]),
    ("Nightly 【1】.", "Nightly [1].", [1], []),
    ("Nightly 【2†source】.", "Nightly [2].", [2], []),
    ("Nightly 【4】.", "Nightly.", [], [4]),
])
def test_17_ranges_lists_and_full_width_brackets_are_checked(
        reply: str, answer: str, numbers: list[int], removed: list[int]) -> None:
    chain = chain_with(FakeListChatModel(responses=[reply, reply]))
    result = chain.invoke("q")
    assert (result["answer"], cited(result), result["checks"]["removed_citations"]) == (
        answer, numbers, removed)
    text, tail = streamed(chain, "q")
    assert text == answer and tail["checks"]["removed_citations"] == removed


def test_17_the_answer_check_reads_no_citation_range_as_an_invented_number() -> None:
    assert ungrounded_numbers("UDP 1194 [10-12].", DOCS) == []


# --- finding 17: streaming equals invoke -------------------------------------------------

def test_17_removing_a_citation_streams_as_invoke_gives() -> None:
    llm = ChunkedChat(text="Backups run nightly [9].", cuts=[20])  # "nightly " | "[9]."
    chain = chain_with(llm)
    assert chain.invoke("q")["answer"] == "Backups run nightly."
    assert streamed(chain, "q")[0] == "Backups run nightly."


ANSWERS = [
    "Backups run nightly [9]. Keys rotate [1][7] monthly [1-2], see 【2】 and [1, 4].",
    "Use `sys.argv[1]` and ``a[2]`` [2]; not [1](https://x.example/[1]) nor ![2](y).",
    "Steps:\n\n```sh\necho ${a[3]}\n```\n\nThen [3] and [2].\n  [1]: https://x.example\n",
    "An unclosed `tick [9] then [1] and\n\na blank line [5] ends it [2].",
    "[docs][1] and [1] [x] [EMAIL_1] 【1†source】 [3-1] [1 - 2] [1,,2] end [",
]


def _whole(text: str, n_sources: int = 2) -> tuple[str, list[int], list[int]]:
    answer = AnswerFilter(n_sources)
    out = answer.feed(text) + answer.flush()
    return out, answer.cited, answer.removed


def _pieces(chunks: list[str], n_sources: int = 2) -> tuple[str, list[int], list[int]]:
    answer = AnswerFilter(n_sources)
    out = "".join(answer.feed(c) for c in chunks) + answer.flush()
    assert out == answer.text
    return out, answer.cited, answer.removed


@pytest.mark.parametrize("text", ANSWERS)
def test_17_every_chunking_gives_the_invoke_output(text: str) -> None:
    whole = _whole(text)
    for cut in range(1, len(text)):  # every split point
        assert _pieces([text[:cut], text[cut:]]) == whole, cut
    assert _pieces(list(text)) == whole  # token per character
    rng = random.Random(text)
    for _ in range(200):  # random chunkings
        cuts = sorted(rng.sample(range(1, len(text)), rng.randint(1, 12)))
        bounds = [0, *cuts, len(text)]
        assert _pieces([text[a:b] for a, b in itertools.pairwise(bounds)]) == whole


def test_17_random_markdown_fragments_stream_as_invoked() -> None:
    rng = random.Random(17)
    parts = ["[", "]", "1", "2", "9", "-", ",", " ", "`", "```", "\n", "(", ":", "a",
             "【", "】", "~~~", "    ```", "\n\n", "[docs]", "y" * 30]
    for _ in range(3000):
        text = "".join(rng.choice(parts) for _ in range(rng.randint(1, 40)))
        cuts = sorted(rng.sample(range(1, len(text)), min(len(text) - 1, rng.randint(0, 8))))
        bounds = [0, *cuts, len(text)]
        assert _pieces([text[a:b] for a, b in itertools.pairwise(bounds)]) == \
            _whole(text), text
        assert _pieces(list(text)) == _whole(text), text


def test_17_the_chain_streams_what_it_invokes_at_every_split_point() -> None:
    text = ANSWERS[0]
    llm = ChunkedChat(text=text)
    chain = chain_with(llm)
    invoked = chain.invoke("q")
    for cut in range(1, len(text)):
        llm.cuts = [cut]
        answer, tail = streamed(chain, "q")
        assert answer == invoked["answer"], cut
        assert cited(tail) == cited(invoked)
        assert tail["checks"]["removed_citations"] == invoked["checks"]["removed_citations"]

    async def astreamed() -> str:
        return "".join([c.get("answer", "") async for c in chain.astream("q")])

    llm.cuts = list(range(1, len(text)))
    assert asyncio.run(astreamed()) == invoked["answer"]
