"""Configured secrets are sent to the servers but never land in a cassette.

How: each test really records, with `vcrpy` and `ragloom.testing.vcr_config()`, into a
cassette in a temporary folder, against a tiny model server running in this process on
127.0.0.1 (it answers Ollama's and OpenAI's routes with canned bodies, a Qdrant
`GET /collections`, and notes the headers it receives). So the check is the real one,
offline, in the default run: the server proves the secret was sent, the cassette file
on disk must not contain it. Removing a name from `FILTERED_HEADERS` makes these tests
fail. A last test scans every committed cassette of the repository.
"""

from __future__ import annotations

import json
import threading
import warnings
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import vcr
import yaml
from qdrant_client import QdrantClient

import ragloom.testing
from ragloom import RagConfig, build_chat_model, build_embeddings

SECRET = "sk-test-secret-not-recorded-7f3a"
PROXY_SECRET = "proxy-token-not-recorded-91c2"
COOKIE_SECRET = "session-not-recorded-5d1e"
ALL_SECRETS = (SECRET, PROXY_SECRET, COOKIE_SECRET)
TESTS = Path(__file__).parent


def _ollama_chat(body: dict[str, Any]) -> tuple[str, bytes]:
    done = {"model": body["model"], "created_at": "2025-01-01T00:00:00Z",
            "message": {"role": "assistant", "content": ""}, "done": True,
            "done_reason": "stop", "prompt_eval_count": 3, "eval_count": 2}
    if body.get("stream", True):
        part = {**done, "message": {"role": "assistant", "content": "Hello."}, "done": False}
        del part["done_reason"]
        lines = [json.dumps(part), json.dumps(done)]
        return "application/x-ndjson", ("\n".join(lines) + "\n").encode()
    done["message"]["content"] = "Hello."
    return "application/json", json.dumps(done).encode()


def _openai_chat(body: dict[str, Any]) -> tuple[str, bytes]:
    base = {"id": "chatcmpl-1", "created": 1735689600, "model": body["model"]}
    if body.get("stream"):
        chunks = [
            {**base, "object": "chat.completion.chunk", "choices": [
                {"index": 0, "delta": {"role": "assistant", "content": "Hello."},
                 "finish_reason": None}]},
            {**base, "object": "chat.completion.chunk", "choices": [
                {"index": 0, "delta": {}, "finish_reason": "stop"}]},
        ]
        events = "".join(f"data: {json.dumps(c)}\n\n" for c in chunks) + "data: [DONE]\n\n"
        return "text/event-stream", events.encode()
    answer = {**base, "object": "chat.completion", "choices": [
        {"index": 0, "message": {"role": "assistant", "content": "Hello."},
         "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}}
    return "application/json", json.dumps(answer).encode()


def _answer(method: str, path: str, body: dict[str, Any]) -> tuple[str, bytes]:
    if path == "/api/chat":
        return _ollama_chat(body)
    if path == "/api/embed":
        inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
        return "application/json", json.dumps(
            {"model": body["model"], "embeddings": [[0.1, 0.2, 0.3] for _ in inputs]}).encode()
    if path == "/v1/chat/completions":
        return _openai_chat(body)
    if path == "/v1/embeddings":
        inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
        return "application/json", json.dumps({
            "object": "list", "model": body["model"],
            "data": [{"object": "embedding", "index": i, "embedding": [0.1, 0.2, 0.3]}
                     for i in range(len(inputs))],
            "usage": {"prompt_tokens": 1, "total_tokens": 1}}).encode()
    if path == "/v1/models":
        return "application/json", b'{"object": "list", "data": []}'
    if path == "/":  # Qdrant's version probe
        return "application/json", b'{"title": "qdrant", "version": "1.12.0"}'
    if path == "/collections":
        return "application/json", b'{"result": {"collections": []}, "status": "ok", "time": 0.0}'
    raise LookupError(f"{method} {path}")


class FakeServer:
    """Ollama + OpenAI + Qdrant routes on 127.0.0.1, noting the headers of each request."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, dict[str, str]]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length) if length else b""
                path = self.path.split("?")[0]
                server.seen.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
                try:
                    kind, data = _answer(self.command, path, json.loads(raw) if raw else {})
                except LookupError:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Set-Cookie", f"session={COOKIE_SECRET}")
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _serve

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def headers_sent(self, name: str) -> list[str]:
        return [headers[name] for _, headers in self.seen if name in headers]


@pytest.fixture
def server() -> Iterator[FakeServer]:
    fake = FakeServer()
    thread = threading.Thread(target=fake.httpd.serve_forever, daemon=True)
    thread.start()
    yield fake
    fake.httpd.shutdown()
    fake.httpd.server_close()
    thread.join()


def recorder(**settings: Any) -> vcr.VCR:
    recording = vcr.VCR(**ragloom.testing.vcr_config(**settings))
    recording.register_matcher("json_body", ragloom.testing.json_body_matcher)
    return recording


def cassette_requests(path: Path) -> list[dict[str, Any]]:
    return [i["request"] for i in yaml.safe_load(path.read_text())["interactions"]]


def assert_no_secret(path: Path) -> None:
    text = path.read_text()
    for secret in ALL_SECRETS:
        assert secret not in text, f"{secret!r} was written to {path}"
    filtered = set(ragloom.testing.FILTERED_HEADERS)
    for interaction in yaml.safe_load(text)["interactions"]:
        for part in ("request", "response"):
            names = {name.lower() for name in interaction[part].get("headers", {})}
            assert not names & filtered, f"{part} headers {names & filtered} in {path}"


def flow(cfg: RagConfig) -> None:
    build_embeddings(cfg).embed_documents(["one", "two"])
    build_chat_model(cfg).invoke("Say hello.")
    build_chat_model(cfg).stream("Say hello.").__next__()


@pytest.mark.allow_hosts(["127.0.0.1"])
def test_openai_api_key_is_sent_but_not_recorded(server: FakeServer, tmp_path: Path) -> None:
    v1 = server.url + "/v1"
    cfg = RagConfig(
        llm={"provider": "openai", "model": "gpt-test", "base_url": v1, "api_key": SECRET},
        embeddings={"provider": "openai", "model": "embed-test", "base_url": v1,
                    "api_key": SECRET})
    cassette = tmp_path / "openai.yaml"
    with recorder(record_mode="all").use_cassette(str(cassette)):
        flow(cfg)
    assert server.headers_sent("authorization") == [f"Bearer {SECRET}"] * 3
    paths = [r["uri"].removeprefix(server.url) for r in cassette_requests(cassette)]
    assert paths == ["/v1/embeddings", "/v1/chat/completions", "/v1/chat/completions"]
    assert_no_secret(cassette)


@pytest.mark.allow_hosts(["127.0.0.1"])
def test_ollama_bearer_and_proxy_headers_are_sent_but_not_recorded(
    server: FakeServer, tmp_path: Path
) -> None:
    headers = {"Authorization": f"Bearer {SECRET}", "X-Proxy-Token": PROXY_SECRET}
    cfg = RagConfig(llm={"model": "chat-test", "base_url": server.url, "headers": headers},
                    embeddings={"model": "embed-test", "base_url": server.url,
                                "headers": headers})
    cassette = tmp_path / "ollama.yaml"
    with recorder(secret_headers=["X-Proxy-Token"], record_mode="all").use_cassette(
            str(cassette)):
        flow(cfg)
    assert server.headers_sent("authorization") == [f"Bearer {SECRET}"] * 4
    assert server.headers_sent("x-proxy-token") == [PROXY_SECRET] * 4
    paths = [r["uri"].removeprefix(server.url) for r in cassette_requests(cassette)]
    assert paths == ["/api/show", "/api/embed", "/api/chat", "/api/chat"]
    assert_no_secret(cassette)
    text = cassette.read_text()
    assert "x-proxy-token" not in text.lower()


@pytest.mark.allow_hosts(["127.0.0.1"])
def test_query_string_keys_are_not_recorded(server: FakeServer, tmp_path: Path) -> None:
    cassette = tmp_path / "query.yaml"
    with recorder(record_mode="all").use_cassette(str(cassette)):
        httpx.get(f"{server.url}/v1/models?key={SECRET}&api_key={SECRET}&limit=5")
    assert server.seen[0][0].count(SECRET) == 2
    (request,) = cassette_requests(cassette)
    assert request["uri"].endswith("/v1/models?limit=5")
    assert_no_secret(cassette)


@pytest.mark.allow_hosts(["127.0.0.1"])
@pytest.mark.parametrize("record_qdrant", [False, True])
def test_qdrant_server_api_key_is_not_recorded(
    server: FakeServer, tmp_path: Path, record_qdrant: bool
) -> None:
    cassette = tmp_path / "qdrant.yaml"
    with recorder(record_qdrant=record_qdrant, record_mode="all").use_cassette(str(cassette)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "api key over an insecure connection"
            client = QdrantClient(url=server.url, api_key=SECRET, https=False,
                                  check_compatibility=False)
        assert client.get_collections().collections == []
        client.close()
    assert SECRET in server.headers_sent("api-key")
    recorded = cassette_requests(cassette) if cassette.exists() else []
    # Off by default: a Qdrant server is a database, not an API to replay.
    assert any(r["uri"].endswith("/collections") for r in recorded) is record_qdrant
    if cassette.exists():
        assert_no_secret(cassette)


def committed_cassettes() -> list[Path]:
    return sorted(TESTS.glob("**/cassettes/**/*.yaml"))


def test_committed_cassettes_keep_no_secret() -> None:
    cassettes = committed_cassettes()
    assert len(cassettes) >= 10
    for path in cassettes:
        assert_no_secret(path)
        assert "sk-test-secret" not in path.read_text()
