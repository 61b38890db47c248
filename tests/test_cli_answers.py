"""`ragloom ask` shows what the answer rests on: citations, abstention, the checks."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from langchain_core.documents import Document
from typer.testing import CliRunner

import ragloom.chains
from ragloom.cli import app

SOURCE = Document("Keys rotate monthly.", id="k", metadata={"source": "keys.md", "score": 0.9})


class FakeChain:
    def __init__(self, grounded: bool) -> None:
        cited = [SOURCE.model_copy(update={"metadata": {**SOURCE.metadata, "citation": 1}})]
        self.head = {"question": "q", "sources": [SOURCE] if grounded else []}
        self.answer = "Monthly [1]." if grounded else "Not in the documents."
        self.tail = {"citations": cited if grounded else [], "grounded": grounded,
                     "checks": {"removed_citations": [4] if grounded else [],
                                "flagged": [{"source": "bad.md", "rules": ["override"],
                                             "action": "dropped"}] if grounded else []}}

    def stream(self, payload: Any) -> Iterator[dict[str, Any]]:
        yield self.head
        yield {"answer": self.answer}
        yield self.tail

    def invoke(self, payload: Any) -> dict[str, Any]:
        return {**self.head, "answer": self.answer, **self.tail}


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Any:
    def install(grounded: bool) -> None:
        monkeypatch.setattr(ragloom.chains, "build_rag_chain",
                            lambda cfg: FakeChain(grounded))
    return install


def test_ask_shows_an_abstention(fake: Any) -> None:
    fake(False)
    result = CliRunner().invoke(app, ["ask", "capital of Peru?"])
    assert result.exit_code == 0, result.output
    assert "Not in the documents." in result.output
    assert "grounded: false" in result.output


def test_ask_shows_citations_removed_numbers_and_flags(fake: Any) -> None:
    fake(True)
    result = CliRunner().invoke(app, ["ask", "keys?"])
    assert result.exit_code == 0, result.output
    assert "cited: [1]" in result.output
    assert "removed citations without a source: [4]" in result.output
    assert "dropped: bad.md holds instructions (override)" in result.output


def test_ask_json_carries_citations_and_grounded(fake: Any) -> None:
    fake(True)
    result = CliRunner().invoke(app, ["ask", "keys?", "--json"])
    data = json.loads(result.output)
    assert data["citations"] == [1] and data["grounded"] is True
    assert data["checks"]["removed_citations"] == [4]
