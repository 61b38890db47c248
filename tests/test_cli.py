"""The `ask`, `chat` and `ingest` commands end to end through Typer's CliRunner.

Each test drives the real command (config from the environment, as a user's shell
gives it) over cassettes recorded from the project's Ollama-API test server, with
in-memory Qdrant: `pytest tests/test_cli.py --record-mode=rewrite` re-records them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from ragloom import RagConfig
from ragloom.cli import app

DOCS = {
    "backups.txt": "Backups run every night at 02:00 UTC and are kept for 30 days. "
                   "Restore a backup with the command `ragloom-admin restore DATE`.",
    "keys.md": "# API keys\n\nRotate the API keys every 90 days from the Settings page. "
               "Old keys stop working one hour after rotation.",
}


def env_of(cfg: RagConfig) -> dict[str, str]:
    """The environment that gives the CLI the same models, server and collection as `cfg`."""
    return {
        "RAGLOOM_LLM__MODEL": cfg.llm.model,
        "RAGLOOM_LLM__BASE_URL": str(cfg.llm.base_url),
        "RAGLOOM_LLM__NUM_CTX": str(cfg.llm.num_ctx),
        "RAGLOOM_LLM__TEMPERATURE": "0",
        "RAGLOOM_EMBEDDINGS__MODEL": cfg.embeddings.model,
        "RAGLOOM_EMBEDDINGS__BASE_URL": str(cfg.embeddings.base_url),
        "RAGLOOM_QDRANT__LOCATION": ":memory:",
        "RAGLOOM_QDRANT__COLLECTION": cfg.qdrant.collection,
    }


def write_docs(folder: Path) -> Path:
    folder.mkdir()
    for name, text in DOCS.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def ingest(cfg: RagConfig, *args: str) -> Any:
    return CliRunner().invoke(app, ["ingest", "docs", *args], env=env_of(cfg))


@pytest.mark.vcr
def test_ingest_prints_the_counts_and_a_second_run_costs_nothing(
    cfg: RagConfig, tmp_path: Path, vcr: Any
) -> None:
    write_docs(tmp_path / "docs")  # the tests run in tmp_path: sources are "docs/..."
    first = ingest(cfg)
    assert first.exit_code == 0, first.output
    assert f"Ingested into {cfg.qdrant.collection!r}" in first.output
    embeds = [r for r in vcr.requests if r.path == "/api/embed"]
    assert embeds, "the first run embeds the chunks"
    second = ingest(cfg)
    assert second.exit_code == 0, second.output
    assert len([r for r in vcr.requests if r.path == "/api/embed"]) == len(embeds)
    row = second.output.strip().splitlines()[-2]  # the table's one data row
    added, updated, unchanged = (cell.strip() for cell in row.split("│")[1:4])
    assert (added, updated, unchanged) == ("0", "0", "2"), second.output


@pytest.mark.vcr
def test_ingest_reports_an_unreadable_file_and_exits_2(cfg: RagConfig, tmp_path: Path) -> None:
    docs = write_docs(tmp_path / "docs")
    (docs / "broken.pdf").write_bytes(b"%PDF-1.4 this is not a real pdf")
    result = ingest(cfg)
    assert result.exit_code == 2, result.output
    assert "failed: docs/broken.pdf" in result.output


@pytest.mark.vcr
def test_ask_streams_an_answer_then_the_sources(cfg: RagConfig, tmp_path: Path) -> None:
    write_docs(tmp_path / "docs")
    assert ingest(cfg).exit_code == 0
    result = CliRunner().invoke(app, ["ask", "How often are backups made?", "--k", "1"],
                                env=env_of(cfg))
    assert result.exit_code == 0, result.output
    answer, _, table = result.output.partition("Sources")
    assert answer.strip(), "an answer precedes the sources table"
    assert "docs/backups.txt" in table


@pytest.mark.vcr
def test_ask_json_gives_the_answer_and_the_retrieved_sources(
    cfg: RagConfig, tmp_path: Path
) -> None:
    write_docs(tmp_path / "docs")
    assert ingest(cfg).exit_code == 0
    result = CliRunner().invoke(app, ["ask", "How do I rotate the API keys?", "--json",
                                      "--k", "1"], env=env_of(cfg))
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["question"] == "How do I rotate the API keys?"
    assert isinstance(data["answer"], str) and data["answer"].strip()
    assert [s["metadata"]["source"] for s in data["sources"]] == ["docs/keys.md"]


@pytest.mark.vcr
def test_chat_answers_a_follow_up_with_the_history(
    cfg: RagConfig, tmp_path: Path, vcr: Any
) -> None:
    write_docs(tmp_path / "docs")
    assert ingest(cfg).exit_code == 0
    env = {**env_of(cfg), "RAGLOOM_LLM__EXTRA": '{"num_predict": 40}',  # short answers
           "RAGLOOM_ANSWER__MIN_RELEVANCE": "-1"}  # every chunk reaches the recorded prompt
    result = CliRunner().invoke(app, ["chat"], env=env,
                                input="How do I rotate the API keys?\nHow often?\n\n")
    assert result.exit_code == 0, result.output
    assert result.output.count("you>") == 3  # two questions, then the empty line that ends it
    chats = [json.loads(r.body) for r in vcr.requests if r.path == "/api/chat"]
    # First question: one answer call. Follow-up: a condense call that carries the first
    # exchange, then the answer call.
    assert len(chats) == 3
    condense = json.dumps(chats[1]["messages"])
    assert "How do I rotate the API keys?" in condense and "How often?" in condense


def test_ask_with_a_bad_config_file_is_one_red_line(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("llm:\n  temprature: 0.2\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["ask", "q", "--config", "bad.yaml"])
    assert result.exit_code == 1
    assert result.output.startswith("error:") and "temprature" in result.output
    assert "Traceback" not in result.output
