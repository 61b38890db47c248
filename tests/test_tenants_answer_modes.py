"""The answer checks read only what the user may see: conflict check, number check and
context budget, on every retrieval path, the multi-query one and a condensed follow-up.

Differential: a user's answer over a shared collection must equal the answer over a
collection that holds only the chunks that user may see (same question, same fake
model). Another tenant's chunk states a different fee and would make the answer
`disputed`, ground an invented number, or push chunks out of the context budget.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from langchain_core.documents import Document
from langchain_core.language_models import FakeListChatModel

from ragloom import build_rag_chain, build_retriever
from ragloom._access import User, visible
from ragloom.store import close_clients
from tests.test_tenants import ENGINES, PATHS, as_config, seeded

FEES = [
    Document("The Acme support fee is 100 EUR per month.",
             metadata={"source": "acme/fees.md", "tenant": "acme"}),
    Document("Acme support hours are nine to five.",
             metadata={"source": "acme/hours.md", "tenant": "acme"}),
    Document("The Acme support fee for staff is 40 EUR per month.",
             metadata={"source": "acme/hr/fees.md", "tenant": "acme", "groups": ["hr"]}),
    Document("The Acme support fee is 250 EUR per month, Globex pays.",
             metadata={"source": "globex/acme-fees.md", "tenant": "globex"}),
    Document("Public support office hours are nine to five.",
             metadata={"source": "public.md"}),
]
QUESTION = "What is the Acme support fee per month?"


@pytest.fixture(autouse=True)
def _release_stores() -> Any:
    # Embedded shards live in tmp_path: close them before pytest removes the folder,
    # not at interpreter exit.
    yield
    close_clients()

# The model "invents" the other tenant's figure: only that tenant's chunk grounds it.
ANSWER = "The Acme support fee is 250 EUR per month [1]."
ACME_STAFF = User(tenant="acme", groups=["sales"])
GLOBEX = User(tenant="globex")
# All that either user may see fits; everything together does not.
BUDGET = 100


def answer(cfg: Any, store: Any, user: User | None, payload: Any) -> dict[str, Any]:
    llm = FakeListChatModel(responses=[ANSWER])
    chain = build_rag_chain(cfg, llm=llm, retriever=build_retriever(cfg, store, llm=llm))
    result: dict[str, Any] = chain.invoke(payload, as_config(user) if user else None)
    return result


def summary(result: dict[str, Any]) -> dict[str, Any]:
    checks = result["checks"]
    return {
        "sources": sorted(d.metadata["source"] for d in result["sources"]),
        "mode": result["mode"], "mode_by": checks["mode_by"],
        "conflicts": sorted(tuple(sorted(c["values"])) for c in checks.get("conflicts") or []),
        "ungrounded": checks.get("ungrounded_numbers"),
        "context_tokens": checks["context_tokens"], "context_dropped": checks["context_dropped"],
    }


def compare(engine: str, tmp_path: Path, payload: Any, **retrieval: Any) -> None:
    shared_cfg, shared = seeded(engine, tmp_path / "shared", FEES, **retrieval)
    shared_cfg = shared_cfg.model_copy(update={"answer": shared_cfg.answer.model_copy(
        update={"max_context_tokens": BUDGET})})
    anonymous = summary(answer(shared_cfg, shared, None, payload))
    # Without the identity filter the other chunks change every check.
    assert anonymous["conflicts"] and anonymous["context_dropped"] > 0, anonymous
    for user in (ACME_STAFF, GLOBEX):
        own_cfg, own = seeded(engine, tmp_path / f"own-{user.tenant}",
                              [d for d in FEES if visible(d.metadata, user)], **retrieval)
        own_cfg = own_cfg.model_copy(update={"answer": shared_cfg.answer})
        got = summary(answer(shared_cfg, shared, user, payload))
        assert got == summary(answer(own_cfg, own, None, payload)), user
        assert got["context_dropped"] == 0 and got["conflicts"] == []
    staff = summary(answer(shared_cfg, shared, ACME_STAFF, payload))
    assert (staff["mode"], staff["mode_by"], staff["ungrounded"]) == (
        "abstained", "number_check", ["250"])


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize(("mode", "search"), PATHS)
def test_answer_checks_see_only_the_users_chunks(engine: str, mode: str, search: str,
                                                 tmp_path: Path) -> None:
    compare(engine, tmp_path, QUESTION, mode=mode, search=search)


@pytest.mark.parametrize("engine", ENGINES)
def test_answer_checks_after_multi_query(engine: str, tmp_path: Path) -> None:
    compare(engine, tmp_path, QUESTION, mode="hybrid", multi_query=True)


@pytest.mark.parametrize("engine", ENGINES)
def test_answer_checks_on_a_condensed_follow_up(engine: str, tmp_path: Path) -> None:
    payload = {"question": "And per month?",
               "chat_history": [("human", "Tell me about Acme support."),
                                ("ai", "Acme support hours are nine to five [1].")]}
    compare(engine, tmp_path, payload, mode="hybrid")
