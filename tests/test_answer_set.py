"""Answer sets: loading, judging, scoring, and `ragloom eval --answers SET.jsonl`, offline."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from langchain_core.embeddings import DeterministicFakeEmbedding
from langchain_core.language_models import FakeListChatModel
from typer.testing import CliRunner

import ragloom.providers
from ragloom import RagConfig
from ragloom.answer_set import evaluate_answer_set, is_answer_set, load_answer_set
from ragloom.cli import app
from ragloom.errors import ConfigError

CASES = [
    {"id": "a1", "kind": "direct", "mode": "answered", "question": "Which port?",
     "passages": [{"source": "net.md", "text": "Zephyr listens on port 7311."},
                  {"source": "misc.md", "text": "Bananas are yellow."}],
     "expected": [["7311"]], "support": [0], "forbidden": []},
    {"id": "u1", "kind": "numeric_trap", "mode": "abstained", "question": "What does it cost?",
     "passages": [{"source": "net.md", "text": "Zephyr listens on port 7311."}],
     "expected": [], "support": [], "forbidden": ["$49"]},
    {"id": "c1", "kind": "conflict", "mode": "disputed", "question": "Default timeout?",
     "passages": [{"source": "v1.md", "text": "The default timeout is 30 s."},
                  {"source": "v2.md", "text": "The default timeout is 60 s."}],
     "expected": [["30"], ["60"]], "support": [0, 1], "forbidden": []},
]
# What a weak model might say: right, then a tempting invented price, then one side only.
REPLIES = ["Port 7311 [1].", "It costs $49 a month.", "The default timeout is 30 s [1]."]


def write(tmp_path: Path, cases: list[Any]) -> Path:
    path = tmp_path / "set.jsonl"
    path.write_text("".join(json.dumps(c) + "\n" for c in cases), encoding="utf-8")
    return path


def fakes() -> dict[str, Any]:
    return {"llm": FakeListChatModel(responses=REPLIES),
            "embeddings": DeterministicFakeEmbedding(size=8)}


def test_each_case_is_answered_over_its_own_passages_and_scored(tmp_path: Path) -> None:
    cfg = RagConfig(answer={"min_relevance": None, "conflict_check": False,
                            "number_check": False})
    seen: list[int] = []
    result = evaluate_answer_set(write(tmp_path, CASES), cfg,
                                 progress=lambda done, total, case: seen.append(done), **fakes())
    assert seen == [1, 2, 3]
    modes = [(c.id, c.mode) for c in result.per_case]
    assert modes == [("a1", "answered"), ("u1", "answered"), ("c1", "answered")]
    assert result.mode_accuracy == pytest.approx(1 / 3, abs=1e-3)
    assert result.per_mode["answered"] == {"expected": 1, "chosen": 3, "precision": 0.3333,
                                           "recall": 1.0}
    assert result.per_mode["disputed"]["recall"] == 0.0
    # Cited: passage 0 for a1 (support), passage 0 for c1 (support): 2 of 2.
    assert result.citation_precision == 1.0
    # Support of the answering cases: a1 has 1, c1 has 2; 2 of 3 cited.
    assert result.citation_recall == pytest.approx(0.6667)
    assert result.forbidden_rate == pytest.approx(0.3333)  # the invented $49
    assert result.facts == pytest.approx(2 / 3, abs=1e-3)  # 7311, 30 of 7311, 30, 60
    assert result.answered_when_answerable == 1.0
    assert result.median_s is not None and result.decision_share is not None


def test_an_answer_set_is_told_apart_from_a_retrieval_set(tmp_path: Path) -> None:
    assert is_answer_set(write(tmp_path, CASES))
    retrieval = tmp_path / "q.jsonl"
    retrieval.write_text('{"question": "q", "relevant_sources": ["a.md"]}\n')
    assert not is_answer_set(retrieval) and not is_answer_set(tmp_path / "none.jsonl")


@pytest.mark.parametrize(("change", "message"), [
    ({"mode": "maybe"}, "mode 'maybe' is not one of answered, abstained, disputed"),
    ({"support": [5]}, r"support \[5\] names a passage it does not have"),
    ({"passages": []}, "passages must be a non-empty list"),
    ({"question": None, "id": None}, None),
])
def test_a_malformed_case_is_a_config_error_naming_the_line(
        tmp_path: Path, change: dict[str, Any], message: str | None) -> None:
    case = {**CASES[0], **change}
    case = {k: v for k, v in case.items() if v is not None}
    with pytest.raises(ConfigError, match=message or "lacks id, question") as info:
        load_answer_set(write(tmp_path, [case]))
    assert "set.jsonl:1" in str(info.value)


def test_repeated_ids_and_bad_json_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="repeats ids: a1"):
        load_answer_set(write(tmp_path, [CASES[0], CASES[0]]))
    path = tmp_path / "bad.jsonl"
    path.write_text('{"id": "x",\n')
    with pytest.raises(ConfigError, match=r"bad\.jsonl:1 is not valid JSON"):
        load_answer_set(path)


def test_cli_eval_answers_reports_modes_per_case_and_writes_json(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    made = fakes()
    monkeypatch.setattr(ragloom.providers, "build_chat_model", lambda cfg: made["llm"])
    monkeypatch.setattr(ragloom.providers, "build_embeddings", lambda cfg: made["embeddings"])
    out = tmp_path / "out.json"
    result = CliRunner().invoke(app, ["eval", "--answers", str(write(tmp_path, CASES)),
                                      "--json", str(out)],
                                env={"RAGLOOM_ANSWER__MIN_RELEVANCE": "-1",
                                         "RAGLOOM_ANSWER__CONFLICT_CHECK": "false",
                                         "RAGLOOM_ANSWER__NUMBER_CHECK": "false"})
    assert result.exit_code == 0, result.output
    assert "✗ u1: answered (expected abstained, by model)" in result.output
    assert "per mode" in result.output and "0.333" in result.output
    data = json.loads(out.read_text())["answers"]
    assert data["cases"] == 3 and data["per_case"][1]["forbidden_found"] == ["$49"]
