"""`ragloom eval --answers` shows progress from before the first (slow) answer."""

from __future__ import annotations

from typing import Any

from langchain_core.runnables import RunnableLambda

from ragloom.answer_eval import evaluate_answers


def test_progress_before_the_first_answer_and_after_each() -> None:
    log: list[Any] = []
    chain = RunnableLambda(lambda q: log.append(("asked", q)) or {
        "answer": "x", "grounded": True, "citations": [], "checks": {}})
    evaluate_answers(chain, [{"question": q, "relevant_sources": ["a.md"]} for q in "abc"],
                     on_progress=lambda done, total: log.append((done, total)))
    assert log == [(0, 3), ("asked", "a"), (1, 3), ("asked", "b"), (2, 3), ("asked", "c"),
                   (3, 3)]

