"""Secrets never in reprs, `ragloom config` output, logs or cassettes."""

from __future__ import annotations

import logging

import pytest
from typer.testing import CliRunner

from ragloom import (
    RagConfig,
)
from ragloom.cli import app
from ragloom.providers import build_chat_model, build_embeddings
from tests.helpers import CASSETTES, SECRET


def test_keys_never_in_reprs_of_config_and_models(monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = RagConfig(
        llm={"provider": "openai", "model": "gpt-4o-mini", "api_key": SECRET},
        embeddings={"api_key": SECRET, "headers": {"Authorization": f"Bearer {SECRET}"}},
        qdrant={"location": ":memory:", "api_key": SECRET})
    assert SECRET not in repr(cfg) and SECRET not in str(cfg)
    assert SECRET not in str(cfg.masked())  # header values are masked too
    assert SECRET not in repr(build_chat_model(cfg))
    ollama = build_chat_model(RagConfig(llm={"headers": {"Authorization": f"Bearer {SECRET}"}}))
    assert SECRET not in repr(ollama)


def test_keys_never_in_ragloom_config_output(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAGLOOM_LLM__API_KEY", SECRET)
    monkeypatch.setenv("RAGLOOM_EMBEDDINGS__API_KEY", SECRET)
    monkeypatch.setenv("RAGLOOM_QDRANT__API_KEY", SECRET)
    monkeypatch.setenv("RAGLOOM_LLM__HEADERS", f'{{"Authorization": "Bearer {SECRET}"}}')
    for args in (["config"], ["config", "--json"]):
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 0, result.output
        assert SECRET not in result.output
        assert result.output.count("**********") == 4, result.output
        assert "Authorization" in result.output  # the header is named, its value masked


@pytest.mark.vcr
def test_keys_never_in_logs(openai_cfg: RagConfig, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        answer = build_chat_model(openai_cfg).invoke("Say hello.")
        build_embeddings(openai_cfg).embed_query("hello")
    assert isinstance(answer.content, str) and answer.content.strip()
    assert caplog.records, "debug logging was captured"
    assert SECRET not in caplog.text


def test_no_cassette_holds_a_key_or_an_auth_header() -> None:
    files = list(CASSETTES.rglob("*.yaml"))
    assert files
    for path in files:
        text = path.read_text()
        assert SECRET not in text and "sk-test" not in text, path
        assert "authorization" not in text.lower(), path
