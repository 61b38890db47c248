"""Routing by policy over cassettes: confidential context goes only to a local model.

Recorded against the project's Ollama-API test server: "local" is its native
`/api/chat` (provider ollama), "hosted" is its OpenAI-compatible `/v1` marked
`local: false`, as a hosted model would be. Record: `pytest tests/test_routing.py
--record-mode=rewrite`. Embeddings are a deterministic fake (no HTTP), so each cassette
holds only chat requests: the model that was not allowed has none.
"""

from __future__ import annotations

import socket
from typing import Any
from urllib.parse import urlsplit

import pytest
from langchain_core.documents import Document

from ragloom import RagConfig, build_rag_chain, build_retriever, build_vector_store
from ragloom.testing import vcr_config as ragloom_vcr_config
from tests.conftest import CHAT_MODEL, unique_collection
from tests.test_tenants import WordEmbeddings


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


DEAD_PORT = _closed_port()  # nothing listens there: a server that is down


@pytest.fixture(scope="module")
def vcr_config() -> dict[str, Any]:
    """ragloom's settings, and requests to the dead server left to the real network."""
    config = ragloom_vcr_config()
    inner = config["before_record_request"]
    steps = inner if isinstance(inner, list) else [inner]

    def before(request: Any) -> Any:
        if urlsplit(request.uri).port == DEAD_PORT:
            return None
        for step in steps:
            request = step(request)
            if request is None:
                return None
        return request

    config["before_record_request"] = before
    return config


DOCS = [
    Document("Salary bands for engineers are 90k to 140k.",
             metadata={"source": "hr/salaries.md", "classification": "confidential"}),
    Document("The holiday policy gives 30 days of leave per year.",
             metadata={"source": "handbook.md", "classification": "internal"}),
    Document("Payroll questions go to payroll-team@example.com.",
             metadata={"source": "payroll.md"}),
]
LOCAL = {"name": "local", "model": CHAT_MODEL, "temperature": 0.0, "num_ctx": 2048}


def routed(ollama_url: str, request: pytest.FixtureRequest, **routing: Any) -> Any:
    hosted = {"name": "hosted", "provider": "openai", "model": CHAT_MODEL,
              "base_url": ollama_url.rstrip("/") + "/v1", "api_key": "sk-test-secret-not-recorded",
              "temperature": 0.0, "local": False}
    routing.setdefault("models", [hosted, {**LOCAL, "base_url": ollama_url}])
    cfg = RagConfig(qdrant={"location": ":memory:", "collection": unique_collection(request)},
                    retrieval={"mode": "dense", "k": 1}, answer={"min_relevance": None},
                    routing=routing)
    store = build_vector_store(cfg, embeddings=WordEmbeddings())
    store.add_documents(DOCS, ids=["s", "h", "p"])
    return build_rag_chain(cfg, retriever=build_retriever(cfg, store))


def paths(cassette: Any) -> list[str]:
    return [urlsplit(r.uri).path for r in cassette.requests]


@pytest.mark.vcr
def test_confidential_context_goes_to_the_local_model_only(
        ollama_url: str, request: pytest.FixtureRequest, vcr: Any) -> None:
    result = routed(ollama_url, request).invoke("What are the salary bands for engineers?")
    assert [d.metadata["source"] for d in result["sources"]] == ["hr/salaries.md"]
    assert result["checks"]["model"] == "local"
    assert result["checks"]["route_reason"].startswith("confidential context (source:"
                                                       " hr/salaries.md)")
    assert result["answer"]
    assert paths(vcr) == ["/api/chat"]  # the hosted model got no request


@pytest.mark.vcr
def test_other_context_goes_to_the_default_model(
        ollama_url: str, request: pytest.FixtureRequest, vcr: Any) -> None:
    result = routed(ollama_url, request).invoke("How many days of holiday policy leave?")
    assert [d.metadata["source"] for d in result["sources"]] == ["handbook.md"]
    assert (result["checks"]["model"], result["checks"]["route_reason"]) == ("hosted", "default")
    assert paths(vcr) == ["/v1/chat/completions"]


@pytest.mark.vcr
def test_a_redaction_finding_keeps_the_context_local(
        ollama_url: str, request: pytest.FixtureRequest, vcr: Any) -> None:
    result = routed(ollama_url, request).invoke("Where do payroll questions go?")
    assert [d.metadata["source"] for d in result["sources"]] == ["payroll.md"]
    assert result["checks"]["model"] == "local"
    assert result["checks"]["route_reason"].startswith("redaction found EMAIL 1")
    assert paths(vcr) == ["/api/chat"]


@pytest.mark.vcr
@pytest.mark.allow_hosts(["127.0.0.1"])
def test_a_dead_server_falls_back_to_the_next_allowed_model(
        ollama_url: str, request: pytest.FixtureRequest, vcr: Any) -> None:
    dead = {**LOCAL, "name": "local-down", "base_url": f"http://127.0.0.1:{DEAD_PORT}",
            "max_retries": 0}
    chain = routed(ollama_url, request, models=[dead, {**LOCAL, "base_url": ollama_url}])
    result = chain.invoke("What are the salary bands for engineers?")
    assert result["checks"]["model"] == "local" and result["answer"]
    assert paths(vcr) == ["/api/chat"]  # the dead server's attempt reached no recording


def test_refuse_by_setting_calls_no_model(ollama_url: str,
                                          request: pytest.FixtureRequest) -> None:
    chain = routed(ollama_url, request, sensitive="refuse")
    result = chain.invoke("What are the salary bands for engineers?")
    assert result["answer"] == RagConfig().routing.refuse_text
    assert result["grounded"] is False and result["checks"]["refused"] is True
    assert result["checks"]["model"] is None
    assert "refused (routing.sensitive is refuse)" in result["checks"]["route_reason"]


def test_the_question_limit_is_the_smallest_routed_context(
        ollama_url: str, request: pytest.FixtureRequest) -> None:
    from ragloom.errors import InvalidInput

    hosted = {"name": "hosted", "provider": "openai", "model": CHAT_MODEL, "api_key": "sk-x"}
    models = [hosted, {**LOCAL, "name": "small", "base_url": ollama_url, "num_ctx": 1024}]
    chain = routed(ollama_url, request, models=models)
    # 1,024 tokens of context: a question of 2,049 characters is refused before any
    # request (`llm`, unused with routing, keeps its own 2,048-token default).
    with pytest.raises(InvalidInput, match=r"2,049 characters.*routing.models\[small\]"
                                           r".num_ctx = 1024 tokens"):
        chain.invoke("x" * 2_049)


def test_routing_config_errors_name_the_fix() -> None:
    from ragloom.errors import ConfigError

    with pytest.raises(ConfigError, match=r"routing\.default 'x' is not one of"):
        RagConfig(routing={"models": [{"name": "a"}], "default": "x"})
    with pytest.raises(ConfigError, match="unique"):
        RagConfig(routing={"models": [{"name": "a"}, {"name": "a"}]})
