"""`auto_pull` of the ollama provider, in-process over `httpx.MockTransport`.

One path pulls a missing model and tries once more, for invoke, stream and their
async twins alike; the fake server answers as Ollama words it (404 `model '...' not
found`, then `/api/pull` streaming NDJSON status lines).
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from ragloom.errors import ModelNotFound
from ragloom.providers.ollama import RagloomChatOllama

MODEL = "tiny:1b"


class FakeOllama:
    """An Ollama that lacks MODEL until `/api/pull` is called."""

    def __init__(self, *, pullable: bool = True) -> None:
        self.pulled = False
        self.pullable = pullable
        self.paths: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.paths.append(request.url.path)
        if request.url.path == "/api/pull":
            if not self.pullable:
                return httpx.Response(500, json={"error": "pull model manifest: file does not"
                                                          " exist"})
            self.pulled = True
            return _ndjson([{"status": "pulling manifest"}, {"status": "success"}])
        if request.url.path == "/api/chat":
            if not self.pulled:
                return httpx.Response(
                    404, json={"error": f"model '{MODEL}' not found, try pulling it first"})
            return _ndjson([
                {"model": MODEL, "created_at": "2026-01-01T00:00:00Z",
                 "message": {"role": "assistant", "content": "Hel"}, "done": False},
                {"model": MODEL, "created_at": "2026-01-01T00:00:00Z",
                 "message": {"role": "assistant", "content": "lo"}, "done": True,
                 "done_reason": "stop"},
            ])
        return httpx.Response(404, json={"error": "not found"})


def _ndjson(lines: list[dict[str, Any]]) -> httpx.Response:
    body = "".join(json.dumps(line) + "\n" for line in lines)
    return httpx.Response(200, text=body, headers={"content-type": "application/x-ndjson"})


def _model(server: FakeOllama, *, auto_pull: bool = True) -> RagloomChatOllama:
    return RagloomChatOllama(
        model=MODEL, base_url="http://ollama.test", auto_pull=auto_pull,
        sync_client_kwargs={"transport": httpx.MockTransport(server)},
        async_client_kwargs={"transport": httpx.MockTransport(server)})


def test_invoke_pulls_then_answers() -> None:
    server = FakeOllama()
    assert _model(server).invoke("hi").content == "Hello"
    assert server.paths == ["/api/chat", "/api/pull", "/api/chat"]


def test_stream_pulls_then_streams() -> None:
    server = FakeOllama()
    assert "".join(str(c.content) for c in _model(server).stream("hi")) == "Hello"
    assert server.paths == ["/api/chat", "/api/pull", "/api/chat"]


async def test_ainvoke_pulls_then_answers() -> None:
    server = FakeOllama()
    assert (await _model(server).ainvoke("hi")).content == "Hello"
    assert server.paths == ["/api/chat", "/api/pull", "/api/chat"]


async def test_astream_pulls_then_streams() -> None:
    server = FakeOllama()
    chunks = [str(c.content) async for c in _model(server).astream("hi")]
    assert "".join(chunks) == "Hello"
    assert server.paths == ["/api/chat", "/api/pull", "/api/chat"]


def test_without_auto_pull_the_error_names_the_pull_command() -> None:
    server = FakeOllama()
    with pytest.raises(ModelNotFound, match=f"ollama pull {MODEL}"):
        list(_model(server, auto_pull=False).stream("hi"))
    assert server.paths == ["/api/chat"]


def test_a_model_the_registry_lacks_says_what_to_check() -> None:
    server = FakeOllama(pullable=False)
    with pytest.raises(ModelNotFound, match=r"could not pull model 'tiny:1b'.*ollama\.com/library"):
        _model(server).invoke("hi")
