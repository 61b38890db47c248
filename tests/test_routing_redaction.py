"""Routing goes through redaction: what the router sends a hosted model is masked, and
context that holds a confidential chunk or a redaction finding reaches no hosted model.

Both models are OpenAI-compatible fakes (`tests.fake_remote.FakeRemote`): "hosted" on a
host that is not loopback, "local" on 127.0.0.1. Every request body is kept with its
host, so a test sees which model got what.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from langchain_core.documents import Document
from langchain_core.embeddings import DeterministicFakeEmbedding

from ragloom import RagConfig, build_rag_chain, build_retriever, build_vector_store
from ragloom.redaction import RedactingChatModel
from ragloom.routing import build_router, redaction_findings
from tests.fake_remote import LOCAL_V1, REMOTE_V1, FakeRemote

REMOTE_HOST = "gpu.remote.example"
KEY = "sk-not-a-real-key-000000"
HOSTED = {"name": "hosted", "provider": "openai", "model": "remote-model",
          "base_url": REMOTE_V1, "api_key": KEY}
LOCAL = {"name": "local", "provider": "openai", "model": "local-model",
         "base_url": LOCAL_V1, "api_key": KEY}
SALARIES = "Salary bands for engineers are 90k to 140k; the CFO signs every offer."
USER_EMAIL = "bob.owner@example.org"

# What main's detectors find, one per kind of finding (some the old guards never saw).
SECRETS = {
    "EMAIL": "Payroll questions go to payroll-team@example.com.",
    "SECRET": "The payroll database is at db.internal with DB_PASSWORD=hunter2-payroll.",
    "API_KEY": "The payroll export uses the key sk-live-0123456789abcdefABCDEF.",
    "IBAN": "Salaries are paid from DE89 3704 0044 0532 0130 00 each month.",
    "TOKEN": "Call the payroll API with Authorization: Bearer abc123.def456-ghi789.",
}


@pytest.fixture
def remote(monkeypatch: pytest.MonkeyPatch) -> FakeRemote:
    fake = FakeRemote()
    fake.install(monkeypatch)
    return fake


def chain_for(docs: list[Document], **routing: Any) -> Any:
    routing.setdefault("models", [HOSTED, LOCAL])
    cfg = RagConfig(qdrant={"location": ":memory:", "collection": f"route_{uuid.uuid4().hex[:8]}"},
                    retrieval={"k": len(docs)}, answer={"min_relevance": None}, routing=routing)
    store = build_vector_store(cfg, embeddings=DeterministicFakeEmbedding(size=8))
    store.add_documents(docs)
    return build_rag_chain(cfg, retriever=build_retriever(cfg, store))


def ask(chain: Any, payload: Any, how: str) -> dict[str, Any]:
    if how == "invoke":
        result: dict[str, Any] = chain.invoke(payload)
        return result
    if how == "ainvoke":
        result = asyncio.run(chain.ainvoke(payload))
        return result
    merged: dict[str, Any] = {}
    for chunk in chain.stream(payload):
        for key, value in chunk.items():
            merged[key] = merged.get(key, "") + value if key == "answer" else value
    return merged


def sent_to(remote: FakeRemote, host: str) -> list[str]:
    return [body for body, at in zip(remote.bodies, remote.hosts, strict=True) if at == host]


def leaked_to_hosted(remote: FakeRemote, secrets: list[str]) -> list[str]:
    """The secrets in any body the hosted model got (the local one may read them)."""
    hosted = FakeRemote()
    hosted.bodies = sent_to(remote, REMOTE_HOST)
    return hosted.leaked(secrets)


@pytest.mark.parametrize("how", ["invoke", "ainvoke", "stream"])
def test_a_confidential_chunk_never_reaches_the_hosted_model(remote: FakeRemote,
                                                             how: str) -> None:
    doc = Document(SALARIES, metadata={"source": "hr/salaries.md",
                                       "classification": "confidential"})
    result = ask(chain_for([doc]), "What are the salary bands?", how)
    assert result["checks"]["model"] == "local"
    assert result["checks"]["route_reason"].startswith("confidential context")
    assert sent_to(remote, REMOTE_HOST) == []  # the hosted model got no request at all
    assert len(sent_to(remote, "127.0.0.1")) == 1 and "90k to 140k" in remote.bodies[0]


@pytest.mark.parametrize("kind", sorted(SECRETS))
def test_a_redaction_finding_in_the_context_keeps_it_local(remote: FakeRemote,
                                                           kind: str) -> None:
    doc = Document(SECRETS[kind], metadata={"source": "payroll.md"})
    result = chain_for([doc]).invoke("How does payroll work?")
    assert result["checks"]["model"] == "local"
    assert result["checks"]["route_reason"].startswith(f"redaction found {kind} 1")
    assert sent_to(remote, REMOTE_HOST) == []
    assert sent_to(remote, "127.0.0.1")


def test_without_on_redaction_the_hosted_model_gets_the_context_masked(
        remote: FakeRemote) -> None:
    docs = [Document(text, metadata={"source": f"{kind}.md"}) for kind, text in SECRETS.items()]
    chain = chain_for(docs, on_redaction=False)
    result = chain.invoke(f"I am {USER_EMAIL}. How does payroll work?")
    assert (result["checks"]["model"], result["checks"]["route_reason"]) == ("hosted", "default")
    hosted = sent_to(remote, REMOTE_HOST)
    assert len(hosted) == 1 and "_1_" in hosted[0]  # placeholders, not values
    planted = ["payroll-team@example.com", "hunter2-payroll", "sk-live-0123456789abcdefABCDEF",
               "DE89 3704 0044 0532 0130 00", "abc123.def456-ghi789", USER_EMAIL]
    assert leaked_to_hosted(remote, planted) == []
    assert set(result["checks"]["redacted"]) >= {"EMAIL", "SECRET", "API_KEY", "IBAN", "TOKEN"}


def test_a_follow_up_is_condensed_by_the_local_model(remote: FakeRemote) -> None:
    doc = Document("The holiday policy gives 30 days of leave per year.",
                   metadata={"source": "handbook.md", "classification": "internal"})
    history = [("human", f"My mail is {USER_EMAIL}; what are the salary bands?"),
               ("ai", "Salary bands for engineers are 90k to 140k [1].")]
    result = chain_for([doc]).invoke({"question": "And the leave?", "chat_history": history})
    assert result["checks"]["model"] == "hosted"
    assert remote.hosts[0] == "127.0.0.1"  # condensing the follow-up: the local model
    assert remote.hosts[1:] == [REMOTE_HOST]
    assert USER_EMAIL in sent_to(remote, "127.0.0.1")[0]  # a local model reads it as is
    assert leaked_to_hosted(remote, [USER_EMAIL]) == []  # the answer request is masked


def test_every_model_the_router_may_pick_is_wrapped() -> None:
    router = build_router(RagConfig(routing={"models": [
        HOSTED, LOCAL, {**LOCAL, "name": "declared", "local": False},
        {**HOSTED, "name": "claimed", "local": True}]}))
    assert all(isinstance(m, RedactingChatModel) for m in router.models.values())
    assert router.local == {"hosted": False, "local": True, "declared": False, "claimed": True}
    redacts = {name: m.redacts() for name, m in router.models.items()}  # type: ignore[attr-defined]
    # Declared remote: masked although loopback; claimed local: still masked (remote server).
    assert redacts == {"hosted": True, "local": False, "declared": True, "claimed": True}


def test_findings_are_those_of_the_redaction_detectors() -> None:
    assert redaction_findings(list(SECRETS.values())) == {
        "API_KEY": 1, "TOKEN": 1, "SECRET": 1, "EMAIL": 1, "IBAN": 1}
    assert redaction_findings(["Call +49 30 901820 or 030 901820"], "DE") == {"PHONE": 2}
