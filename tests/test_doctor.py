"""`ragloom doctor` and `ragloom pull`, replayed from cassettes recorded against the test server."""

from __future__ import annotations

import json
import socket
from typing import Any

import pytest
from langchain_core.embeddings import DeterministicFakeEmbedding
from typer.testing import CliRunner

from ragloom import RagConfig, build_vector_store
from ragloom.cli import app
from ragloom.doctor import DoctorReport, missing_models, run_doctor


def env_of(cfg: RagConfig) -> dict[str, str]:
    """The environment that gives the CLI the same models, server and collection as `cfg`."""
    return {
        "RAGLOOM_LLM__MODEL": cfg.llm.model,
        "RAGLOOM_LLM__BASE_URL": str(cfg.llm.base_url),
        "RAGLOOM_LLM__NUM_CTX": str(cfg.llm.num_ctx),
        "RAGLOOM_EMBEDDINGS__MODEL": cfg.embeddings.model,
        "RAGLOOM_EMBEDDINGS__BASE_URL": str(cfg.embeddings.base_url),
        "RAGLOOM_QDRANT__LOCATION": ":memory:",
        "RAGLOOM_QDRANT__COLLECTION": cfg.qdrant.collection,
    }


def statuses(report: DoctorReport) -> dict[str, str]:
    return {c.name: c.status for c in report.checks}


@pytest.mark.vcr
def test_doctor_all_ok_against_the_test_server(cfg: RagConfig) -> None:
    build_vector_store(cfg)  # the collection exists, built by these embeddings
    report = run_doctor(cfg)
    assert report.ok and report.exit_code == 0
    assert all(c.status == "ok" for c in report.checks), report.checks
    names = [c.name for c in report.checks]
    assert names == [f"ollama reachable at {cfg.llm.base_url}",
                     f"ollama version at {cfg.llm.base_url}", "chat model present",
                     "chat model capabilities", "context length", "embedding model present",
                     "embedding model capabilities", "qdrant reachable", "collection",
                     "loaders", "formats: office", "formats: ocr"]
    by_name = {c.name: c for c in report.checks}
    assert by_name[names[0]].detail.startswith("Ollama ")
    assert "completion" in by_name["chat model capabilities"].detail
    assert "embedding" in by_name["embedding model capabilities"].detail
    assert "384 dims" in by_name["collection"].detail


@pytest.mark.vcr
def test_cli_doctor_all_ok_prints_check_marks_and_exits_0(cfg: RagConfig) -> None:
    build_vector_store(cfg)
    result = CliRunner().invoke(app, ["doctor"], env=env_of(cfg))
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 12 and all(line.startswith("✓ ") for line in lines), result.output


@pytest.mark.vcr
def test_cli_doctor_missing_model_prints_the_cross_and_the_pull_command(cfg: RagConfig) -> None:
    cfg.llm.model = "nosuchmodel:1b"
    result = CliRunner().invoke(app, ["doctor"], env=env_of(cfg))
    assert result.exit_code == 1
    assert "✗ chat model present: 'nosuchmodel:1b' is not pulled" in result.output
    assert "fix: ragloom pull nosuchmodel:1b" in result.output
    # An absent collection is a warning: the first ingest creates it. It does not fail.
    assert f"! collection: '{cfg.qdrant.collection}' does not exist yet" in result.output


@pytest.mark.vcr
def test_cli_doctor_json(cfg: RagConfig) -> None:
    cfg.embeddings.model = "nosuchembed"
    result = CliRunner().invoke(app, ["doctor", "--json"], env=env_of(cfg))
    assert result.exit_code == 1
    data = json.loads(result.output)
    assert data["ok"] is False
    failed = [c for c in data["checks"] if c["status"] == "fail"]
    assert [c["name"] for c in failed] == ["embedding model present"]
    assert failed[0]["fix"].startswith("ragloom pull nosuchembed")
    assert {"name", "status", "detail", "fix"} == set(data["checks"][0])


@pytest.mark.vcr
def test_doctor_flags_num_ctx_beyond_the_trained_context(cfg: RagConfig) -> None:
    cfg.llm.num_ctx = 1_000_000
    check = {c.name: c for c in run_doctor(cfg).checks}["context length"]
    assert check.status == "warn"
    assert "exceeds" in check.detail and "RAGLOOM_LLM__NUM_CTX=" in (check.fix or "")


@pytest.mark.vcr
def test_doctor_flags_a_chat_model_used_for_embeddings(cfg: RagConfig) -> None:
    cfg.embeddings.model = cfg.llm.model  # smollm2 completes but does not embed
    check = {c.name: c for c in run_doctor(cfg).checks}["embedding model capabilities"]
    assert check.status == "fail" and "not 'embedding'" in check.detail


@pytest.mark.vcr
def test_doctor_flags_a_collection_of_another_size(cfg: RagConfig) -> None:
    build_vector_store(cfg, embeddings=DeterministicFakeEmbedding(size=8))
    report = run_doctor(cfg)
    check = {c.name: c for c in report.checks}["collection"]
    assert report.exit_code == 1 and check.status == "fail"
    assert "holds 8-dimensional vectors but the embeddings ollama:all-minilm" in check.detail


@pytest.mark.vcr
def test_doctor_openai_provider_lists_v1_models(openai_cfg: RagConfig, vcr: Any) -> None:
    report = run_doctor(openai_cfg)
    assert statuses(report) == {
        "openai-compatible API reachable (chat)": "ok", "chat model present": "ok",
        "openai-compatible API reachable (embedding)": "ok", "embedding model present": "ok",
        "qdrant reachable": "ok", "collection": "warn", "loaders": "ok",
        "formats: office": "ok", "formats: ocr": "ok"}
    assert {r.path for r in vcr.requests} == {"/v1/models"}


@pytest.mark.allow_hosts(["127.0.0.1"])
def test_cli_doctor_unreachable_server_exits_1() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{s.getsockname()[1]}"
    result = CliRunner().invoke(app, ["doctor"], env={
        "RAGLOOM_LLM__BASE_URL": url, "RAGLOOM_EMBEDDINGS__BASE_URL": url,
        "RAGLOOM_QDRANT__LOCATION": ":memory:"})
    assert result.exit_code == 1
    assert f"✗ ollama reachable at {url}" in result.output
    assert "ollama serve" in result.output


@pytest.mark.vcr
def test_cli_pull_shows_progress_and_succeeds(cfg: RagConfig, vcr: Any) -> None:
    result = CliRunner().invoke(app, ["pull", "all-minilm"], env=env_of(cfg))
    assert result.exit_code == 0, result.output
    assert f"✓ pulled all-minilm at {cfg.llm.base_url}" in result.output
    assert [r.path for r in vcr.requests] == ["/api/pull"]


@pytest.mark.vcr
def test_cli_pull_without_arguments_pulls_only_missing_models(cfg: RagConfig) -> None:
    assert missing_models(cfg) == []
    result = CliRunner().invoke(app, ["pull"], env=env_of(cfg))
    assert result.exit_code == 0
    assert "every configured model is present" in result.output


@pytest.mark.vcr
def test_cli_pull_unknown_model_fails_with_the_reason(cfg: RagConfig) -> None:
    result = CliRunner().invoke(app, ["pull", "nosuchmodel:1b"], env=env_of(cfg))
    assert result.exit_code == 1
    assert "could not pull model 'nosuchmodel:1b'" in result.output
    assert "file does not exist" in result.output
