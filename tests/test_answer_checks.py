"""The checks behind answer modes, offline: the widened conflict check, citations attributed
after the fact, and the self-check call (issue 20, second round)."""

from __future__ import annotations

import uuid
from typing import Any, ClassVar

import pytest
from langchain_core.documents import Document
from langchain_core.embeddings import DeterministicFakeEmbedding
from langchain_core.language_models import FakeListChatModel

from ragloom import RagConfig, build_rag_chain, build_retriever, build_vector_store
from ragloom._attribution import attribute
from ragloom._conflicts import find_conflicts
from ragloom._self_check import check_answer
from ragloom.answer_set import AnswerCase, Passage, judge, score

ABSTAIN = RagConfig().answer.abstain_text


def docs(*texts: str) -> list[Document]:
    return [Document(text, metadata={"source": f"s{n}.md"}) for n, text in enumerate(texts)]


def chain_for(replies: list[str], pages: list[Document], *,
              model_class: type[FakeListChatModel] = FakeListChatModel,
              **answer: Any) -> tuple[Any, Any]:
    cfg = RagConfig(qdrant={"location": ":memory:", "collection": f"c_{uuid.uuid4().hex[:8]}"},
                    answer={"min_relevance": None, **answer})
    store = build_vector_store(cfg, embeddings=DeterministicFakeEmbedding(size=8))
    store.add_documents(pages)
    model = model_class(responses=replies)
    return build_rag_chain(cfg, llm=model, retriever=build_retriever(cfg, store)), model


@pytest.mark.parametrize(("question", "texts", "values"), [
    # Years, read as years only when the question asks "when".
    ("When was the Treaty of Tarrow signed?",
     ("The Treaty of Tarrow was signed in the spring of 1512 by the chancellor.",
      "The chronicle says the Treaty of Tarrow was signed at Tarrow in 1514."),
     {"1512", "1514"}),
    # One unit spelled two ways.
    ("At what temperature does brolene boil?",
     ("Brolene melts at minus 12 degrees and boils at 140 degrees Celsius.",
      "Safety data: brolene boiling point 152 °C at normal pressure."),
     {"140 degrees", "152 °C"}),
    # Versions.
    ("Which Python version is the minimum for inkwell 2.0?",
     ("inkwell 2.0 runs on Python 3.9, 3.10 and 3.11.",
      "inkwell 2.0 requires Python 3.10 or newer."),
     {"3.9", "3.10"}),
    # A setting's bare value against a quantity, the key named on both sides.
    ("What's the default batch size of the Quarry loader?",
     ("In the Quarry loader, `batch_size` defaults to 64.",
      "The Quarry loader batch size is 128 rows unless you change it."),
     {"64", "128 rows"}),
    # Yes or no.
    ("Does the Quarry loader support resuming uploads?",
     ("The Quarry loader supports resuming uploads after a crash.",
      "The Quarry loader does not support resuming uploads."),
     None),
])
def test_the_conflict_check_finds_values_of_one_kind_that_differ(
        question: str, texts: tuple[str, str], values: set[str] | None) -> None:
    found = find_conflicts(question, docs(*texts))
    assert found, question
    assert (found[0].first_source, found[0].second_source) == (0, 1)
    if values is not None:
        assert {found[0].first, found[0].second} == values


@pytest.mark.parametrize(("question", "texts"), [
    # A who-question is not about the numbers near its words.
    ("Who was the first keeper of the Tarrow light?",
     ("The Tarrow light was built in 1839 and first lit in 1842.",
      "The first harbour master at Tarrow, appointed in 1835, kept the light's log.")),
    # Agreeing sources.
    ("What is the default timeout?",
     ("The default timeout is 30 seconds.", "Timeouts default to 30 seconds (30 s).")),
    # Different things: a status code and a name in a product version are no quantities.
    ("What's the default upstream timeout?",
     ("When the upstream timeout expires, the client receives status 504.",
      "Upgrading to Tarrow Gateway 4 keeps the upstream timeout.")),
    # Numbers in sentences that are not about the question.
    ("How much parental leave do fathers get?",
     ("Overtime is paid at 125 percent of the hourly rate.",
      "The pension contribution is 6 percent of salary.")),
])
def test_the_conflict_check_leaves_other_values_alone(question: str,
                                                      texts: tuple[str, str]) -> None:
    assert find_conflicts(question, docs(*texts)) == []


def test_an_uncited_sentence_is_attributed_to_the_one_source_that_states_it() -> None:
    pages = docs("Metrics are served on port 9100 at /metrics.",
                 "The admin console listens on port 7412 on all interfaces.")
    assert attribute("The admin console listens on port 7412.", "Which port for the console?",
                     pages) == [2]
    # Cited sentences, sentences that add nothing, and ties get nothing.
    assert attribute("It listens on port 7412 [2].", "Console port?", pages) == []
    assert attribute("Yes.", "Console port?", pages) == []
    assert attribute("Ports are served.", "Which?", docs("Ports are served.",
                                                         "Ports are served.")) == []


def test_the_chain_marks_attributed_citations_and_leaves_the_text() -> None:
    pages = docs("Metrics are served on port 9100 at /metrics.",
                 "The admin console listens on port 7412 on all interfaces.")
    chain, _ = chain_for(["The admin console listens on port 7412."], pages)
    result = chain.invoke("Which port does the admin console use?")
    assert result["answer"] == "The admin console listens on port 7412."
    assert [d.page_content for d in result["citations"]] == [pages[1].page_content]
    assert result["citations"][0].metadata["attributed"] is True
    assert result["checks"]["attributed"] == [result["citations"][0].metadata["citation"]]
    chain, _ = chain_for(["The admin console listens on port 7412."], pages,
                         attribute_citations=False)
    assert chain.invoke("Which port does the admin console use?")["citations"] == []


def test_the_self_check_abstains_when_the_model_finds_no_answer_in_the_sources() -> None:
    pages = docs("The siege of Sainte-Ange lasted forty days.")
    verdict = '{"answer_is_stated": false, "sources_disagree": false}'
    chain, _ = chain_for(["The siege of Dunmere lasted forty days [1].", verdict], pages,
                         self_check=True)
    result = chain.invoke("How long was the siege of Dunmere?")
    assert (result["mode"], result["checks"]["mode_by"]) == ("abstained", "self_check")
    assert result["answer"] == ABSTAIN and result["citations"] == []
    assert result["checks"]["self_check"] == {"answer_is_stated": False,
                                              "sources_disagree": False}
    assert result["checks"]["decision_s"] > 0
    # Stated: answered; off (the default): no second call at all.
    chain, _ = chain_for(["Forty days [1].", verdict.replace("false", "true", 1)], pages,
                         self_check=True)
    assert chain.invoke("How long was the siege of Sainte-Ange?")["checks"]["mode_by"] == \
        "self_check"
    chain, model = chain_for(["Forty days [1].", "never asked"], pages)
    result = chain.invoke("How long was the siege of Sainte-Ange?")
    assert result["checks"]["mode_by"] == "model" and model.i == 1


def test_an_unreadable_self_check_reply_decides_nothing() -> None:
    model = FakeListChatModel(responses=["I think so."])
    assert check_answer(model, "Q?", "[1] ...", "A.", None) is None
    model = FakeListChatModel(responses=['Sure: "answer_is_stated": true, '
                                         '"sources_disagree": false'])
    assert check_answer(model, "Q?", "[1] ...", "A.", None) == {
        "answer_is_stated": True, "sources_disagree": False}


def test_the_answer_set_scores_attributed_citations_apart() -> None:
    case = AnswerCase(id="c1", kind="direct", mode="answered", question="Port?",
                      passages=[Passage("a.md", "Port 7412."), Passage("b.md", "Port 9100.")],
                      expected=[["7412"]], support=[0])
    output = {"mode": "answered", "answer": "7412.", "checks": {},
              "citations": [Document("", metadata={"passage": 0, "attributed": True}),
                            Document("", metadata={"passage": 1})]}
    judged = judge(case, output, seconds=1.0)
    assert (judged.attributed, judged.attributed_support) == (1, 1)
    result = score([judged])
    assert result.attributed == 1 and result.attributed_precision == 1.0
    assert result.citation_precision == 0.5


class _KwargsSeen(FakeListChatModel):
    """Records the keyword arguments each call reaches the model with."""

    seen: ClassVar[list[dict[str, Any]]] = []  # one list per test: reset before use

    def _call(self, messages: Any, stop: Any = None, run_manager: Any = None,
              **kwargs: Any) -> str:
        self.seen.append(kwargs)
        return super()._call(messages, stop, run_manager, **kwargs)


def test_a_passed_in_model_gets_no_ollama_format_argument() -> None:
    # cfg.llm.provider says ollama, but the model passed in may be any provider: an
    # OpenAI-compatible server would reject `format`.
    _KwargsSeen.seen = []
    chain, _ = chain_for(["Forty days [1].",
                          '{"answer_is_stated": true, "sources_disagree": false}'],
                         docs("The siege of Sainte-Ange lasted forty days."),
                         model_class=_KwargsSeen, self_check=True)
    assert chain.invoke("How long was the siege of Sainte-Ange?")["checks"]["mode_by"] == \
        "self_check"
    assert len(_KwargsSeen.seen) == 2
    assert all("format" not in kwargs for kwargs in _KwargsSeen.seen)


class _APISeen(FakeListChatModel):
    """Records which API (sync or async) each call reaches the model through."""

    seen: ClassVar[list[str]] = []  # one list per test: reset before use

    def _call(self, messages: Any, stop: Any = None, run_manager: Any = None,
              **kwargs: Any) -> str:
        self.seen.append("sync")
        return super()._call(messages, stop, run_manager, **kwargs)

    async def _acall(self, messages: Any, stop: Any = None, run_manager: Any = None,
                     **kwargs: Any) -> str:
        self.seen.append("async")
        return super()._call(messages, stop, None, **kwargs)

    async def _agenerate(self, messages: Any, stop: Any = None, run_manager: Any = None,
                         **kwargs: Any) -> Any:
        from langchain_core.messages import AIMessage
        from langchain_core.outputs import ChatGeneration, ChatResult
        text = await self._acall(messages, stop, run_manager, **kwargs)
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=text))])


@pytest.mark.parametrize("how", ["invoke", "stream", "ainvoke", "astream"])
def test_the_self_check_goes_through_the_api_the_chain_was_called_with(how: str) -> None:
    # ainvoke and astream must not block the event loop on a synchronous model call.
    import asyncio

    _APISeen.seen = []
    chain, _ = chain_for(["Forty days [1].",
                          '{"answer_is_stated": false, "sources_disagree": false}'],
                         docs("The siege of Sainte-Ange lasted forty days."),
                         model_class=_APISeen, self_check=True)
    question = "How long was the siege of Sainte-Ange?"

    async def collect_astream() -> list[dict[str, Any]]:
        return [chunk async for chunk in chain.astream(question)]

    if how == "invoke":
        result = chain.invoke(question)
    elif how == "ainvoke":
        result = asyncio.run(chain.ainvoke(question))
    else:
        chunks = list(chain.stream(question)) if how == "stream" else asyncio.run(
            collect_astream())
        result = {key: value for chunk in chunks for key, value in chunk.items()
                  if key != "answer"}
    assert result["checks"]["mode_by"] == "self_check" and result["mode"] == "abstained"
    expected = "async" if how.startswith("a") else "sync"
    assert _APISeen.seen[-1] == expected, _APISeen.seen


@pytest.mark.parametrize("reply", ["", "How long was the siege of Sainte-Ange?"])
def test_an_answer_the_answer_check_rejects_costs_no_self_check_call(reply: str) -> None:
    chain, model = chain_for([reply, '{"answer_is_stated": true, "sources_disagree": false}'],
                             docs("The siege of Sainte-Ange lasted forty days."),
                             self_check=True)
    result = chain.invoke("How long was the siege of Sainte-Ange?")
    assert result["checks"]["mode_by"] == "answer_check"
    assert model.i == 1  # the answer only: no second call
