"""The test server imitates Ollama's scheduler and version-dependent answers (live tier)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.ollama_server.behaviour import ERR_MAX_QUEUE, Behaviour
from tests.ollama_server.fixtures import running_server

from .conftest import CHAT, EMBED

pytestmark = pytest.mark.live

LONG = " ".join(["seven"] * 400)  # 400 word pieces: beyond all-minilm's 256


@pytest.fixture(scope="module")
def old() -> Iterator[str]:
    with running_server(behaviour=Behaviour(version="0.1.30")) as server:
        yield server.url


def test_version_is_selectable_and_old_servers_lack_embed_routes(old: str) -> None:
    assert httpx.get(f"{old}/api/version").json() == {"version": "0.1.30"}
    for path in ("/api/embed", "/v1/embeddings"):
        response = httpx.post(f"{old}{path}", json={"model": EMBED, "input": ["x"]},
                              timeout=120)
        assert response.status_code == 404
        assert response.text == "404 page not found"  # gin's plain text, not JSON
        assert response.headers["content-type"].startswith("text/plain")
    # the legacy route still answers
    assert httpx.post(f"{old}/api/embeddings", json={"model": EMBED, "prompt": "x"},
                      timeout=120).json()["embedding"]


def test_embed_with_an_input_beyond_the_context_by_version() -> None:
    body = {"model": EMBED, "input": [LONG]}
    with running_server(behaviour=Behaviour(version="0.20.0")) as strict, \
            running_server(behaviour=Behaviour(version="0.33.0")) as lenient:
        refused = httpx.post(f"{strict.url}/api/embed", json=body, timeout=120)
        cut = httpx.post(f"{lenient.url}/api/embed", json=body, timeout=120)
        refused_explicitly = httpx.post(f"{lenient.url}/api/embed",
                                        json={**body, "truncate": False}, timeout=120)
    assert refused.status_code == 400
    assert refused.json() == {"error": "the input length exceeds the context length"}
    assert cut.status_code == 200 and cut.json()["prompt_eval_count"] == 256  # cut silently
    assert refused_explicitly.status_code == 400


async def test_parallel_1_runs_one_request_at_a_time_and_measures_busy_time() -> None:
    behaviour = Behaviour(parallel=1, latency_s=0.2)
    with running_server(behaviour=behaviour) as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
            started = time.perf_counter()
            answers = await asyncio.gather(*(
                client.post("/api/embed", json={"model": EMBED, "input": [f"text {n}"]})
                for n in range(4)))
            wall = time.perf_counter() - started
        scheduler = server.core.scheduler
        assert [a.status_code for a in answers] == [200] * 4
        assert scheduler.max_active == 1 and scheduler.requests == 4
        assert wall >= 0.8  # queued one behind the other, 0.2 s each
        assert 0.8 <= server.busy_s <= wall + 0.05


async def test_beyond_max_queue_is_503_server_busy() -> None:
    with running_server(behaviour=Behaviour(parallel=1, max_queue=1, latency_s=0.5)) as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
            answers = await asyncio.gather(*(
                client.post("/api/embed", json={"model": EMBED, "input": ["x"]})
                for _ in range(3)))
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [200, 200, 503]  # one runs, one waits, one is turned away
    busy = next(a for a in answers if a.status_code == 503)
    assert busy.json() == {"error": ERR_MAX_QUEUE}


def test_chat_holds_its_slot_until_the_answer_ends() -> None:
    with running_server(behaviour=Behaviour(parallel=1)) as server:
        body = {"model": CHAT, "messages": [{"role": "user", "content": "hi"}],
                "options": {"num_predict": 4}, "stream": False}
        assert httpx.post(f"{server.url}/api/chat", json=body, timeout=120).status_code == 200
        assert server.core.scheduler.requests == 1
        assert server.busy_s > 0
