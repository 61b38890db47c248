"""A queue per server, shared by the process; waiting for a turn does not count against the timeout.

The "servers" here are stdlib HTTP servers on loopback that answer one request at a time,
slowly, as an Ollama with OLLAMA_NUM_PARALLEL=1 on a CPU does (TCP allowed for 127.0.0.1).
"""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from ragloom import ProviderTimeout, RagConfig
from ragloom.providers import build_chat_model, build_embeddings
from ragloom.providers._servers import ServerQueue, server_pool
from tests.loopback_servers import SECONDS_PER_REQUEST, one_at_a_time_server

pytestmark = pytest.mark.allow_hosts(["127.0.0.1"])

def test_queue_is_first_come_first_served_across_threads() -> None:
    queue = ServerQueue(limit=1)
    order: list[int] = []
    queue.acquire()
    threads = []
    for n in range(5):
        def take(n: int = n) -> None:
            queue.acquire()
            order.append(n)
            queue.release()
        thread = threading.Thread(target=take)
        thread.start()
        threads.append(thread)
        while len(queue._waiters) < n + 1:  # each is waiting before the next starts
            time.sleep(0.001)
    queue.release()
    for thread in threads:
        thread.join(5)
    assert order == [0, 1, 2, 3, 4]
    assert queue.in_flight == 0


async def test_queue_serves_event_loops_and_survives_cancelled_waiters() -> None:
    queue = ServerQueue(limit=1)
    await queue.aacquire()
    cancelled = asyncio.create_task(queue.aacquire())
    served = asyncio.create_task(queue.aacquire())
    await asyncio.sleep(0.01)
    cancelled.cancel()
    await asyncio.sleep(0.01)
    queue.release()  # the cancelled waiter is gone: the next one gets the turn
    await asyncio.wait_for(served, 1)
    assert queue.in_flight == 1
    queue.release()
    assert queue.in_flight == 0


def test_one_queue_per_server_for_the_whole_process() -> None:
    a = server_pool("ollama", ["http://q-test:1"], limit=1)[0]
    b = server_pool("ollama", ["http://q-test:1/"], limit=3)[0]
    other = server_pool("openai", ["http://q-test:1"], limit=1)[0]
    assert a is b and a.queue.limit == 3  # the larger limit wins
    assert other is not a  # another provider is another queue


def test_waiting_for_a_turn_does_not_count_against_the_timeout() -> None:
    # 8 concurrent embeddings against a one-at-a-time server that needs 0.15 s each: the
    # last one is answered after ~1.2 s, four times the 0.3 s timeout. Each still succeeds:
    # the timeout starts when its request is sent, after its turn came.
    with one_at_a_time_server() as (url, served):
        cfg = RagConfig(embeddings={"model": "all-minilm", "base_url": url, "timeout_s": 0.5,
                                    "max_retries": 0})
        embeddings = build_embeddings(cfg)
        embeddings.embed_query("warm up")  # /api/show once
        started = time.monotonic()
        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(lambda n: embeddings.embed_query(f"text {n}"), range(8)))
        wall = time.monotonic() - started
    assert results == [[0.6, 0.8]] * 8
    assert wall > 8 * SECONDS_PER_REQUEST * 0.9 > 0.5  # longer than one timeout in total
    assert served.count("/api/embed") == 9


async def test_async_chat_calls_wait_their_turn_without_timing_out() -> None:
    with one_at_a_time_server() as (url, served):
        cfg = RagConfig(llm={"model": "smollm2:135m", "base_url": url, "timeout_s": 0.5,
                             "max_retries": 0})
        llm = build_chat_model(cfg)
        answers = await asyncio.gather(*(llm.ainvoke(f"hi {n}") for n in range(6)))
    assert [a.content for a in answers] == ["ok"] * 6
    assert served.count("/api/chat") == 6


def test_without_the_queue_the_same_load_times_out() -> None:
    # The control: with more turns than the server has, requests wait in its backlog, and
    # that time counts against the timeout, as it did before the queue.
    with one_at_a_time_server() as (url, _):
        cfg = RagConfig(embeddings={"model": "all-minilm", "base_url": url, "timeout_s": 0.5,
                                    "max_retries": 0, "max_concurrency": 8})
        embeddings = build_embeddings(cfg)
        with ThreadPoolExecutor(8) as pool:
            outcomes = list(pool.map(lambda n: _outcome(embeddings, n), range(8)))
    assert "ProviderTimeout" in outcomes


def _outcome(embeddings: Any, n: int) -> str:
    try:
        embeddings.embed_query(f"text {n}")
    except ProviderTimeout:
        return "ProviderTimeout"
    return "ok"
