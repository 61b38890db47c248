"""build_rag_chain end to end, replayed from cassettes recorded against the test server."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.documents import Document

from ragloom import ModelNotFound, RagConfig, build_rag_chain, build_retriever, build_vector_store

DOCS = [
    Document("To rotate the API keys, open Settings > Security and press 'Rotate keys'. "
             "Old keys stop working after 24 hours.", metadata={"source": "keys.md"}),
    Document("Backups run nightly at 02:00 UTC and are kept for 30 days.",
             metadata={"source": "backups.md"}),
    Document("The office cafeteria serves lunch from noon to 2 pm.",
             metadata={"source": "cafeteria.md"}),
]
QUESTION = "How do I rotate the API keys?"


def seeded(cfg: RagConfig) -> Any:
    store = build_vector_store(cfg)
    store.add_documents(DOCS, ids=["keys", "backups", "cafeteria"])
    return build_rag_chain(cfg, retriever=build_retriever(cfg, store))


class ChatCounter(BaseCallbackHandler):
    def __init__(self) -> None:
        self.prompts: list[str] = []

    def on_chat_model_start(self, serialized: Any, messages: Any, **kwargs: Any) -> None:
        self.prompts.append(str(messages))


@pytest.mark.vcr
def test_invoke_answers_with_ranked_sources(cfg: RagConfig) -> None:
    cfg.answer.min_relevance = None  # every retrieved chunk counts: see the ranking
    cfg.answer.number_check = False  # the 135M model invents numbers; judged in test_answer_modes
    result = seeded(cfg).invoke(QUESTION)
    assert set(result) == {"question", "answer", "sources", "citations", "grounded", "mode",
                           "checks"}
    assert result["question"] == QUESTION
    assert isinstance(result["answer"], str) and result["answer"].strip()
    sources = result["sources"]
    assert len(sources) == 3  # k=4 but only 3 documents exist
    assert sources[0].metadata["source"] == "keys.md"
    scores = [doc.metadata["score"] for doc in sources]
    assert scores == sorted(scores, reverse=True)
    relevance = [doc.metadata["relevance"] for doc in sources]  # dense cosine
    assert relevance == sorted(relevance, reverse=True) and relevance[0] > 0.5
    assert result["grounded"] is True


@pytest.mark.vcr
def test_stream_yields_sources_before_answer_tokens(cfg: RagConfig) -> None:
    chunks = list(seeded(cfg).stream(QUESTION))
    keys = [set(chunk) for chunk in chunks]
    first_answer = next(i for i, k in enumerate(keys) if "answer" in k)
    assert any("sources" in k for k in keys[:first_answer])
    assert keys[first_answer:-1] == [{"answer"}] * (len(keys) - first_answer - 1)
    assert keys[-1] == {"citations", "grounded", "mode", "checks"}  # citations come last
    assert len(keys) - first_answer > 2, "the answer should arrive in several tokens"
    answer = "".join(chunk["answer"] for chunk in chunks if "answer" in chunk)
    assert answer.strip()


@pytest.mark.vcr
def test_batch_answers_each_question(cfg: RagConfig) -> None:
    results = seeded(cfg).batch([QUESTION, "When do backups run?"], {"max_concurrency": 1})
    assert [r["sources"][0].metadata["source"] for r in results] == ["keys.md", "backups.md"]
    assert all(r["answer"].strip() for r in results)


@pytest.mark.vcr
async def test_ainvoke_and_astream(cfg: RagConfig) -> None:
    chain = seeded(cfg)
    result = await chain.ainvoke("When do backups run?")
    assert result["sources"][0].metadata["source"] == "backups.md" and result["answer"].strip()
    chunks = [chunk async for chunk in chain.astream("When do backups run?")]
    assert next(iter(chunks[0])) in {"question", "sources"}
    assert "".join(c.get("answer", "") for c in chunks).strip()


@pytest.mark.vcr
def test_chat_history_is_condensed_before_retrieval(cfg: RagConfig) -> None:
    counter = ChatCounter()
    result = seeded(cfg).invoke(
        {"question": "And how long are they kept?",
         "chat_history": [("human", "When do backups run?"),
                          ("ai", "Backups run nightly at 02:00 UTC [1].")]},
        {"callbacks": [counter]},
    )
    assert len(counter.prompts) == 2  # condense, then answer
    assert "Follow-up question: And how long are they kept?" in counter.prompts[0]
    assert "When do backups run?" in counter.prompts[1]  # the answer sees the conversation
    assert result["answer"].strip()


@pytest.mark.vcr
def test_provider_swap_to_openai_at_ollama_v1(openai_cfg: RagConfig, vcr: Any) -> None:
    openai_cfg.answer.min_relevance = None  # the recorded context holds all three documents
    result = seeded(openai_cfg).invoke(QUESTION)
    assert result["sources"][0].metadata["source"] == "keys.md"
    assert result["answer"].strip()
    assert {"/v1/chat/completions", "/v1/embeddings"} <= {
        urlsplit(r.uri).path for r in vcr.requests}
    # The configured key was sent, but the cassette keeps no trace of it.
    for request in vcr.requests:
        assert "authorization" not in {name.lower() for name in request.headers}
        assert "sk-test-secret" not in str(request.headers) + str(request.body)


@pytest.mark.vcr
def test_unknown_chat_model_says_how_to_pull_it(cfg: RagConfig) -> None:
    cfg.llm.model = "nosuchmodel:1b"
    with pytest.raises(ModelNotFound, match="ollama pull nosuchmodel:1b"):
        seeded(cfg).invoke(QUESTION)


@pytest.mark.vcr
def test_unknown_embedding_model_says_how_to_pull_it(cfg: RagConfig) -> None:
    cfg.embeddings.model = "nosuchembed"
    with pytest.raises(ModelNotFound, match="ollama pull nosuchembed"):
        build_vector_store(cfg)


@pytest.mark.vcr
def test_ollama_options_and_headers_reach_the_request(cfg: RagConfig, vcr: Any) -> None:
    import json

    from ragloom import build_chat_model, build_embeddings

    cfg.llm.num_ctx, cfg.llm.keep_alive, cfg.llm.temperature = 1024, "5m", 0.0
    cfg.llm.headers = {"X-Team": "docs"}
    cfg.embeddings.keep_alive = "10m"
    build_chat_model(cfg).invoke("Say hi.")
    build_embeddings(cfg).embed_query("hello")

    chat = next(r for r in vcr.requests if urlsplit(r.uri).path == "/api/chat")
    body = json.loads(chat.body)
    assert body["options"]["num_ctx"] == 1024
    assert body["options"]["temperature"] == 0.0
    assert body["keep_alive"] == "5m"  # Ollama parses Go durations
    assert chat.headers.get("X-Team") == "docs"
    embed = next(r for r in vcr.requests if urlsplit(r.uri).path == "/api/embed")
    assert json.loads(embed.body)["keep_alive"] == "10m"  # as configured, like the chat
