"""Secrets never surface: reprs, `model_dump`, LangChain serialization, tracer payloads,
`ragloom config`, `ragloom doctor`, log lines and error messages.

The secrets are a bearer token in `headers`, API keys, and a password inside a URL
(`base_url`, `OLLAMA_HOST`, `qdrant.url`). Each test plants them and searches every
character of the surface for them. Nothing here talks to a model server: the doctor
test points at a closed port on 127.0.0.1.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from uuid import UUID

import httpx
import ollama
import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.load import dumpd, dumps
from typer.testing import CliRunner

from ragloom import ProviderUnavailable, RagConfig, build_chat_model, build_embeddings
from ragloom.cli import app
from ragloom.doctor import run_doctor
from ragloom.errors import ModelNotFound
from ragloom.providers._errors import raise_translated

TOKEN = "tok-not-shown-4b1d"
KEY = "sk-key-not-shown-8e2a"
PASSWORD = "pw-not-shown-c7f0"
SECRETS = (TOKEN, KEY, PASSWORD)
HEADERS = {"Authorization": f"Bearer {TOKEN}", "X-Proxy-Token": TOKEN}


def assert_hidden(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text, f"{secret!r} surfaced in: {text[:2000]}"


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def openai_cfg() -> RagConfig:
    section = {"provider": "openai", "model": "gpt-test", "api_key": KEY, "headers": HEADERS,
               "base_url": f"http://user:{PASSWORD}@127.0.0.1:9/v1"}
    return RagConfig(llm=section, embeddings={**section, "model": "embed-test"},
                     qdrant={"location": ":memory:"})


def ollama_cfg() -> RagConfig:
    section = {"model": "chat-test", "api_key": KEY, "headers": HEADERS,
               "base_url": f"http://user:{PASSWORD}@127.0.0.1:9"}
    return RagConfig(llm=section, embeddings={**section, "model": "embed-test"},
                     qdrant={"location": ":memory:"})


class SerializedSeen(BaseCallbackHandler):
    """What a tracer (LangSmith and friends) receives when the chat model starts."""

    raise_error = True  # the handler's exception stops the call before any request

    def __init__(self) -> None:
        self.serialized: list[Any] = []

    def on_chat_model_start(self, serialized: dict[str, Any], messages: Any, *,
                            run_id: UUID, **kwargs: Any) -> None:
        self.serialized.append(serialized)
        raise RuntimeError("stop before any request")


@pytest.mark.parametrize("make_cfg", [openai_cfg, ollama_cfg], ids=["openai", "ollama"])
def test_model_reprs_and_langchain_serialization_hold_no_secret(make_cfg: Any) -> None:
    cfg = make_cfg()
    chat, embeddings = build_chat_model(cfg), build_embeddings(cfg)
    for model in (chat, embeddings):
        assert_hidden(repr(model))
        assert_hidden(str(model))
        assert_hidden(json.dumps(dumpd(model), default=str))
        assert_hidden(dumps(model))


@pytest.mark.parametrize("make_cfg", [openai_cfg, ollama_cfg], ids=["openai", "ollama"])
def test_tracer_payload_of_chat_model_start_holds_no_secret(make_cfg: Any) -> None:
    chat = build_chat_model(make_cfg())
    seen = SerializedSeen()
    with pytest.raises(RuntimeError, match="stop before any request"):
        chat.invoke("hello", config={"callbacks": [seen]})
    assert len(seen.serialized) == 1
    assert_hidden(json.dumps(seen.serialized[0], default=str))


def test_openai_headers_are_declared_as_langchain_secrets() -> None:
    """Declared in `lc_secrets`, so LangChain writes a secret reference, not the value."""
    kwargs = dumpd(build_chat_model(openai_cfg()))["kwargs"]
    assert kwargs["default_headers"] == {"lc": 1, "type": "secret",
                                         "id": ["RAGLOOM_LLM__HEADERS"]}
    assert kwargs["openai_api_base"]["type"] == "secret"
    assert kwargs["openai_api_key"]["type"] == "secret"


def test_ollama_headers_stay_hidden_if_langchain_serializes_the_model(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """ChatOllama is not LangChain-serializable today; were it made so, no token shows."""
    from ragloom.providers.ollama import RagloomChatOllama

    monkeypatch.setattr(RagloomChatOllama, "is_lc_serializable", classmethod(lambda cls: True))
    chat = build_chat_model(ollama_cfg())
    serialized = dumpd(chat)
    assert serialized["type"] == "constructor"
    assert serialized["kwargs"]["client_kwargs"]["type"] == "secret"
    assert_hidden(json.dumps(serialized, default=str))


def test_headers_still_reach_the_http_clients() -> None:
    """Masking is for display only: the clients get the real values."""
    chat = build_chat_model(openai_cfg())
    assert chat.default_headers is not None
    assert chat.default_headers["Authorization"] == f"Bearer {TOKEN}"
    ollama_chat = build_chat_model(ollama_cfg())
    assert ollama_chat.client_kwargs is not None
    assert ollama_chat.client_kwargs["headers"]["X-Proxy-Token"] == TOKEN


def test_config_model_dump_and_repr_hold_no_secret() -> None:
    cfg = ollama_cfg()
    cfg.qdrant.url = f"https://admin:{PASSWORD}@qdrant.example:6333"
    dumped = cfg.model_dump()  # python mode: header values and keys stay SecretStr
    assert dumped["llm"]["headers"]["Authorization"].get_secret_value() == HEADERS[
        "Authorization"]
    assert TOKEN not in str(dumped) and KEY not in str(dumped)
    assert_hidden(str(cfg.model_dump(mode="json")))  # URLs masked as well
    assert_hidden(cfg.model_dump_json())
    assert_hidden(repr(cfg))
    assert_hidden(json.dumps(cfg.masked()))
    assert cfg.llm.header_values() == HEADERS  # still usable for the HTTP calls


def test_ragloom_config_masks_a_password_in_urls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAGLOOM_LLM__BASE_URL", f"http://user:{PASSWORD}@gpu:11434")
    monkeypatch.setenv("RAGLOOM_QDRANT__URL", f"https://admin:{PASSWORD}@qdrant:6333")
    monkeypatch.setenv("RAGLOOM_EMBEDDINGS__HEADERS", json.dumps(HEADERS))
    for args in (["config"], ["config", "--json"]):
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 0, result.output
        assert_hidden(result.output)
        assert "http://user:****@gpu:11434" in result.output


@pytest.mark.allow_hosts(["127.0.0.1"])
def test_ragloom_doctor_masks_a_password_in_ollama_host(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url = f"http://user:{PASSWORD}@127.0.0.1:{closed_port()}"
    monkeypatch.setenv("OLLAMA_HOST", url)
    monkeypatch.setenv("RAGLOOM_QDRANT__LOCATION", ":memory:")
    for args in (["doctor"], ["doctor", "--json"]):
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 1, result.output
        assert_hidden(result.output)
        assert "user:****@127.0.0.1" in result.output
    report = run_doctor(RagConfig(qdrant={"location": ":memory:"}))
    assert_hidden(json.dumps(report.to_dict()))


def test_provider_errors_mask_a_password_in_the_url() -> None:
    url = f"http://user:{PASSWORD}@gpu:11434"
    with pytest.raises(ProviderUnavailable) as info:
        raise_translated(httpx.ConnectError("refused"), provider="ollama", model="m",
                         base_url=url, section="llm")
    assert_hidden(str(info.value))
    assert info.value.url == "http://user:****@gpu:11434"
    with pytest.raises(ModelNotFound) as missing:
        raise_translated(ollama.ResponseError("model 'm' not found", 404),
                         provider="ollama", model="m", base_url=url, section="llm")
    assert_hidden(str(missing.value))


def test_any_ragloom_error_masks_url_credentials() -> None:
    error = ProviderUnavailable(f"cannot reach https://{TOKEN}@host/v1?api_key={KEY}&x=1",
                                url=f"https://{TOKEN}@host/v1")
    assert_hidden(str(error))
    assert_hidden(repr(error))
    assert_hidden(str(error.url))
    assert "x=1" in str(error)


def test_auto_pull_log_line_masks_the_url(monkeypatch: pytest.MonkeyPatch,
                                          caplog: pytest.LogCaptureFixture) -> None:
    import ragloom.providers._ollama_pull as ollama_pull

    chat = build_chat_model(RagConfig(llm={"base_url": f"http://u:{PASSWORD}@gpu:11434",
                                           "auto_pull": True}))
    monkeypatch.setattr(ollama_pull, "pull_model", lambda *args, **kwargs: None)
    calls: list[int] = []

    def missing_then_ok() -> str:
        calls.append(1)
        if len(calls) == 1:
            raise ModelNotFound("missing", model="llama3.2")
        return "ok"

    with caplog.at_level(logging.DEBUG, logger="ragloom"):
        assert chat._pulled_then(missing_then_ok) == "ok"
    assert "pulling it (auto_pull)" in caplog.text
    assert_hidden(caplog.text)
    assert "u:****@gpu" in caplog.text


@pytest.fixture
def tiny_ollama() -> Iterator[str]:
    """An Ollama look-alike on 127.0.0.1 that knows no model (enough for the doctor)."""

    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            answers = {"/api/version": b'{"version": "0.9.0"}', "/api/tags": b'{"models": []}',
                       "/api/pull": b'{"status": "success"}\n'}
            body = answers.get(self.path, b"{}")
            length = int(self.headers.get("content-length") or 0)
            self.rfile.read(length)
            self.send_response(200 if self.path in answers else 404)
            self.send_header("Content-Type", "application/x-ndjson" if self.path == "/api/pull"
                             else "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = _serve

        def log_message(self, format: str, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()
    thread.join()


@pytest.mark.allow_hosts(["127.0.0.1"])
def test_http_client_log_lines_mask_a_password_in_the_url(
    tiny_ollama: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """httpx logs each request URL at INFO; the doctor's requests go to OLLAMA_HOST."""
    monkeypatch.setenv("OLLAMA_HOST", f"http://user:{PASSWORD}@{tiny_ollama}")
    with caplog.at_level(logging.INFO):
        report = run_doctor(RagConfig(qdrant={"location": ":memory:"}))
    assert any(c.name.startswith("ollama reachable") and c.status == "ok"
               for c in report.checks), report.checks
    assert "HTTP Request: GET http://user:****@" in caplog.text
    assert_hidden(caplog.text)


@pytest.mark.allow_hosts(["127.0.0.1"])
def test_ragloom_pull_masks_a_password_in_ollama_host(
    tiny_ollama: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OLLAMA_HOST", f"http://user:{PASSWORD}@{tiny_ollama}")
    result = CliRunner().invoke(app, ["pull", "all-minilm"])
    assert result.exit_code == 0, result.output
    assert f"pulled all-minilm at http://user:****@{tiny_ollama}" in result.output
    assert_hidden(result.output)
