"""Answer modes (`answered`, `abstained`, `disputed`) and the context budget, offline."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from langchain_core.documents import Document
from langchain_core.embeddings import DeterministicFakeEmbedding
from langchain_core.language_models import FakeListChatModel

from ragloom import RagConfig, build_rag_chain, build_retriever, build_vector_store
from ragloom._budget import fit_context
from ragloom._modes import ModeFilter, abstains_in_words

ABSTAIN = RagConfig().answer.abstain_text
DISPUTED = RagConfig().answer.disputed_text
PAGES = [Document("The default timeout is 30 seconds.", metadata={"source": "v1.md"}),
         Document("The default timeout is 60 seconds.", metadata={"source": "v2.md"})]


def chain_for(reply: str, docs: list[Document] = PAGES, **answer: Any) -> Any:
    cfg = RagConfig(qdrant={"location": ":memory:", "collection": f"m_{uuid.uuid4().hex[:8]}"},
                    answer={"min_relevance": None, **answer})
    store = build_vector_store(cfg, embeddings=DeterministicFakeEmbedding(size=8))
    store.add_documents(docs)
    return build_rag_chain(cfg, llm=FakeListChatModel(responses=[reply]),
                           retriever=build_retriever(cfg, store))


def streamed(chain: Any, question: str) -> tuple[str, dict[str, Any]]:
    chunks = list(chain.stream(question))
    return "".join(c.get("answer", "") for c in chunks), chunks[-1]


@pytest.mark.parametrize(("reply", "mode", "by"), [
    ("NOT FOUND", "abstained", "marker"),
    ("**NOT FOUND**", "abstained", "marker"),
    ("The sources do not state the default timeout.", "abstained", "words"),
    ("CONFLICT: 30 seconds [1] or 60 seconds [2].", "disputed", "marker"),
    ("The default timeout is 60 seconds [2].", "answered", "model"),
])
def test_the_mode_comes_from_the_answer(reply: str, mode: str, by: str) -> None:
    result = chain_for(reply, conflict_check=False).invoke("What is the default timeout?")
    assert (result["mode"], result["checks"]["mode_by"]) == (mode, by)
    assert result["grounded"] is (mode != "abstained")
    assert 0 <= result["checks"]["decision_s"] < 0.1
    text, tail = streamed(chain_for(reply, conflict_check=False), "What is the default timeout?")
    assert tail["mode"] == mode and text == result["answer"]


def test_an_abstention_says_so_plainly_and_cites_nothing() -> None:
    result = chain_for("NOT FOUND [1]").invoke("Who wrote it?")
    assert result["answer"] == ABSTAIN and result["citations"] == []
    assert "NOT FOUND" not in result["answer"]


def test_a_dispute_says_the_sources_disagree_and_cites_each_side() -> None:
    result = chain_for("CONFLICT: 30 seconds [1], 60 seconds [2].",
                       conflict_check=False).invoke("Timeout?")
    assert result["answer"] == f"{DISPUTED} 30 seconds [1], 60 seconds [2]."
    assert sorted(d.metadata["citation"] for d in result["citations"]) == [1, 2]


def test_a_marker_split_over_stream_tokens_is_still_recognised() -> None:
    mode = ModeFilter(ABSTAIN, DISPUTED)
    out = "".join(mode.feed(t) for t in ["NO", "T F", "OUND", "\n"]) + mode.flush()
    assert (out, mode.marker) == (ABSTAIN, "abstained")
    mode = ModeFilter(ABSTAIN, DISPUTED)
    out = "".join(mode.feed(t) for t in ["CON", "FLICT", ": 30 s [1]", ", 60 s [2]."])
    assert out + mode.flush() == f"{DISPUTED} 30 s [1], 60 s [2]." and mode.marker == "disputed"


def test_a_short_plain_answer_passes_through_the_held_start() -> None:
    mode = ModeFilter(ABSTAIN, DISPUTED)
    assert mode.feed("Yes [1].") + mode.flush() == "Yes [1]." and mode.marker is None


def test_declining_words_after_a_cited_answer_do_not_abstain() -> None:
    assert not abstains_in_words("Timeouts are 30 s [1]. The page does not say why.", 1)
    assert abstains_in_words("The documents do not mention a price [1].", 1)


def test_no_relevant_source_abstains_by_the_relevance_bar() -> None:
    result = chain_for("never asked", min_relevance=1.0).invoke("Timeout?")
    assert (result["mode"], result["checks"]["mode_by"]) == ("abstained", "relevance_bar")


def test_chunks_beyond_the_context_budget_are_dropped_lowest_ranked_first() -> None:
    docs = [Document(f"{word} " * 100, metadata={"source": f"{word}.md"})
            for word in ("alpha", "beta", "gamma")]
    kept, dropped, tokens = fit_context(docs, 350)
    assert [d.metadata["source"] for d in kept] == ["alpha.md", "beta.md"] and dropped == 1
    assert tokens <= 350
    # The best chunk stays however small the budget.
    assert fit_context(docs, 1)[0] == docs[:1]
    result = chain_for("Alpha [1].", docs, max_context_tokens=350).invoke("alpha beta gamma")
    assert result["checks"]["context_dropped"] == 1 and len(result["sources"]) == 2
    assert 0 < result["checks"]["context_tokens"] <= 350
    unbounded = chain_for("Alpha [1].", docs, max_context_tokens=None).invoke("alpha")
    assert unbounded["checks"]["context_dropped"] == 0 and len(unbounded["sources"]) == 3


def test_the_conflict_check_finds_two_values_before_the_model_answers() -> None:
    chain = chain_for("The default timeout is 60 seconds [2].")
    result = chain.invoke("What is the default timeout?")
    assert (result["mode"], result["checks"]["mode_by"]) == ("disputed", "conflict_check")
    assert result["answer"].startswith("The sources disagree: ")
    assert {"30 seconds", "60 seconds"} <= set(result["checks"]["conflicts"][0]["values"])
    assert len(result["citations"]) == 2
    text, tail = streamed(chain_for("The default timeout is 60 seconds [2]."),
                          "What is the default timeout?")
    assert text == result["answer"] and tail["mode"] == "disputed"


def test_an_invented_number_is_an_abstention() -> None:
    docs = [Document("The Pro plan adds offline sync.", metadata={"source": "plans.md"})]
    result = chain_for("The Pro plan costs $49 a month [1].", docs).invoke("Pro price?")
    assert (result["mode"], result["checks"]["mode_by"]) == ("abstained", "number_check")
    assert result["checks"]["ungrounded_numbers"] == ["49"] and result["answer"] == ABSTAIN
    off = chain_for("The Pro plan costs $49 a month [1].", docs, number_check=False)
    assert off.invoke("Pro price?")["mode"] == "answered"
