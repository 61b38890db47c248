"""The retrying transports and error translation in-process, over `httpx.MockTransport`.

No server and no cassette: the mock answers each attempt as the test scripts it, so
what is retried, what is not, and what the user finally sees are checked directly.
"""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from ragloom.errors import ProviderUnavailable
from ragloom.providers._errors import translated
from ragloom.providers._retry import AsyncRetryTransport, RetryTransport

Script = list[httpx.Response | Exception]


def scripted(script: Script, seen: list[int]) -> Callable[[httpx.Request], httpx.Response]:
    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(len(seen) + 1)
        outcome = script.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    return answer


def client(script: Script, seen: list[int], max_retries: int = 2) -> httpx.Client:
    inner = httpx.MockTransport(scripted(script, seen))
    return httpx.Client(transport=RetryTransport(inner, max_retries=max_retries, backoff_s=0.0),
                        base_url="http://ollama.test")


def test_5xx_then_success_is_retried() -> None:
    seen: list[int] = []
    with client([httpx.Response(503), httpx.Response(200, json={"ok": True})], seen) as http:
        assert http.get("/api/tags").json() == {"ok": True}
    assert seen == [1, 2]


def test_dropped_connection_is_retried() -> None:
    seen: list[int] = []
    script: Script = [httpx.ConnectError("reset"), httpx.Response(200, json={})]
    with client(script, seen) as http:
        assert http.get("/api/tags").status_code == 200
    assert seen == [1, 2]


def test_4xx_is_answered_at_once() -> None:
    seen: list[int] = []
    with client([httpx.Response(404, json={"error": "model 'm' not found"})], seen) as http:
        assert http.get("/api/show").status_code == 404
    assert seen == [1]


def test_retries_run_out_then_the_last_answer_stands() -> None:
    seen: list[int] = []
    script: Script = [httpx.Response(500), httpx.Response(502), httpx.Response(503)]
    with client(script, seen, max_retries=2) as http:
        assert http.get("/api/chat").status_code == 503
    assert seen == [1, 2, 3]


async def test_async_transport_retries_alike() -> None:
    seen: list[int] = []
    script: Script = [httpx.Response(429), httpx.Response(200, json={"ok": 1})]
    inner = httpx.MockTransport(scripted(script, seen))
    transport = AsyncRetryTransport(inner, max_retries=1, backoff_s=0.0)
    async with httpx.AsyncClient(transport=transport, base_url="http://ollama.test") as http:
        assert (await http.get("/api/tags")).json() == {"ok": 1}
    assert seen == [1, 2]


def test_refused_connection_becomes_provider_unavailable_naming_the_setting() -> None:
    seen: list[int] = []
    script: Script = [httpx.ConnectError("refused")] * 3
    where = {"provider": "ollama", "model": "m", "base_url": "http://ollama.test"}
    with (client(script, seen) as http, pytest.raises(ProviderUnavailable) as info,
          translated(**where, section="embeddings")):
        http.get("/api/embed")
    assert seen == [1, 2, 3]
    assert "http://ollama.test" in str(info.value)
    assert "RAGLOOM_EMBEDDINGS__BASE_URL" in str(info.value)
