"""Fault injection: errors once, slow answers, dropped connections."""

from __future__ import annotations

import json
import time

import httpx
import ollama
import openai
import pytest

from tests.ollama_server.app import OllamaTestServer

from .conftest import CHAT, EMBED

pytestmark = pytest.mark.live


def test_500_once_then_ok(server: OllamaTestServer) -> None:
    client = ollama.Client(host=server.url)
    rule = server.faults.add("/api/tags", status=500, times=1)
    with pytest.raises(ollama.ResponseError) as err:
        client.list()
    assert err.value.status_code == 500 and "injected fault" in err.value.error
    assert len(client.list().models) == 2
    assert rule.hits == 1 and rule.exhausted


def test_custom_body_and_method_filter(server: OllamaTestServer) -> None:
    server.faults.add("/api/embed", method="POST", status=503,
                      body={"error": "server busy"}, times=None)
    client = ollama.Client(host=server.url)
    for _ in range(2):  # times=None: every matching request
        with pytest.raises(ollama.ResponseError) as err:
            client.embed(model=EMBED, input="x")
        assert (err.value.status_code, err.value.error) == (503, "server busy")
    assert httpx.get(server.url + "/api/embed").status_code == 405  # GET is not matched


def test_openai_retry_recovers_from_one_500(server: OllamaTestServer) -> None:
    rule = server.faults.add("/v1/models", status=500)
    client = openai.OpenAI(base_url=server.url + "/v1", api_key="x", max_retries=1)
    assert {m.id for m in client.models.list()} == {CHAT, "all-minilm:latest"}
    assert rule.hits == 1
    server.faults.add("/v1/models", status=500)
    with pytest.raises(openai.InternalServerError) as err:
        openai.OpenAI(base_url=server.url + "/v1", api_key="x", max_retries=0).models.list()
    assert err.value.body["type"] == "api_error"  # type: ignore[index]


def test_delay_then_real_answer(server: OllamaTestServer) -> None:
    client = ollama.Client(host=server.url)
    client.embed(model=EMBED, input="warm up")
    server.faults.add("/api/embed", delay_s=0.6)
    start = time.perf_counter()
    slow = client.embed(model=EMBED, input="hello")
    slow_s = time.perf_counter() - start
    start = time.perf_counter()
    client.embed(model=EMBED, input="hello")
    fast_s = time.perf_counter() - start
    assert len(slow.embeddings[0]) == 384
    assert slow_s >= 0.6 and fast_s < 0.5


def test_dropped_connection(server: OllamaTestServer) -> None:
    server.faults.add("/api/version", drop=True)
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError, httpx.ConnectError)):
        httpx.get(server.url + "/api/version")
    assert httpx.get(server.url + "/api/version").status_code == 200


def test_stream_cut_mid_way(server: OllamaTestServer) -> None:
    server.faults.add("/api/chat", drop_after_chunks=2)
    body = {"model": CHAT, "messages": [{"role": "user", "content": "Count to twenty."}],
            "options": {"temperature": 0, "num_predict": 30}}
    lines: list[dict[str, object]] = []
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)), \
            httpx.stream("POST", server.url + "/api/chat", json=body, timeout=120) as r:
        assert r.status_code == 200
        for line in r.iter_lines():
            lines.append(json.loads(line))
    assert len(lines) == 2 and not any(line["done"] for line in lines)
    # The server is still healthy afterwards.
    again = ollama.Client(host=server.url).chat(model=CHAT, messages=body["messages"],  # type: ignore[arg-type]
                                               options={"temperature": 0, "num_predict": 2})
    assert again.done


def test_rules_need_an_effect(server: OllamaTestServer) -> None:
    with pytest.raises(ValueError):
        server.faults.add("/api/chat")
