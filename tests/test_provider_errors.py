"""Model servers' failures as ragloom errors: translation, retries, auto_pull, timeouts.

Cassettes are recorded from the project's test server with fault injection
(`ollama_test_server.faults`, only while recording; replaying, the cassette holds the
faulty answers). Two failures have no HTTP answer to record, a timeout and a refused
connection: they are tested against loopback sockets this test opens itself (a listener
that never answers, a port nobody listens on), with TCP allowed for 127.0.0.1 only."""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from ragloom import (
    ModelNotFound,
    ProviderTimeout,
    ProviderUnavailable,
    RagConfig,
)
from ragloom.providers import build_chat_model, build_embeddings
from tests.helpers import faults, statuses


@pytest.mark.vcr
def test_missing_chat_model_is_model_not_found_with_the_pull_command(cfg: RagConfig) -> None:
    cfg.llm.model = "nosuchmodel:1b"
    with pytest.raises(ModelNotFound) as info:
        build_chat_model(cfg).invoke("hi")
    assert info.value.model == "nosuchmodel:1b"
    message = str(info.value)
    assert "ollama pull nosuchmodel:1b" in message and "llm.auto_pull" in message
    assert cfg.llm.base_url in message  # which server was asked


@pytest.mark.vcr
def test_5xx_then_success_is_retried(cfg: RagConfig, ollama_test_server: Any, vcr: Any) -> None:
    faults(ollama_test_server).add("/api/chat", status=500, times=1)
    faults(ollama_test_server).add("/api/embed", status=503, times=1)
    answer = build_chat_model(cfg).invoke("Say hello.")
    assert isinstance(answer.content, str) and answer.content.strip()
    vectors = build_embeddings(cfg).embed_documents(["one", "two"])
    assert [len(v) for v in vectors] == [384, 384]
    assert statuses(vcr, "/api/chat") == [500, 200]
    assert statuses(vcr, "/api/embed") == [503, 200]


@pytest.mark.vcr
def test_5xx_exhausting_retries_is_provider_unavailable(
    cfg: RagConfig, ollama_test_server: Any, vcr: Any
) -> None:
    cfg.llm.max_retries = 2
    faults(ollama_test_server).add("/api/chat", status=500, times=3)
    with pytest.raises(ProviderUnavailable) as info:
        build_chat_model(cfg).invoke("Say hello.")
    message = str(info.value)
    assert "status 500" in message and "llm.max_retries" in message
    assert info.value.url == cfg.llm.base_url
    assert statuses(vcr, "/api/chat") == [500, 500, 500]  # 1 try + 2 retries, no more


@pytest.mark.vcr
def test_4xx_is_not_retried(cfg: RagConfig, vcr: Any) -> None:
    cfg.embeddings.model = "nosuchembed"
    with pytest.raises(ModelNotFound, match="ollama pull nosuchembed"):
        build_embeddings(cfg).embed_query("x")
    assert statuses(vcr, "/api/embed") == [404]


@pytest.mark.vcr
def test_auto_pull_pulls_a_missing_model_then_retries_once(
    cfg: RagConfig, ollama_test_server: Any, vcr: Any
) -> None:
    # The server "loses" the model once: 404 exactly as Ollama words it.
    faults(ollama_test_server).add(
        "/api/chat", status=404, times=1,
        body={"error": f"model '{cfg.llm.model}' not found, try pulling it first"})
    cfg.llm.auto_pull = True
    answer = build_chat_model(cfg).invoke("Say hello.")
    assert isinstance(answer.content, str) and answer.content.strip()
    assert [r.path for r in vcr.requests] == ["/api/chat", "/api/pull", "/api/chat"]


@pytest.mark.vcr
def test_auto_pull_of_an_unknown_model_says_what_to_check(cfg: RagConfig) -> None:
    cfg.embeddings.model = "nosuchembed"
    cfg.embeddings.auto_pull = True
    with pytest.raises(ModelNotFound) as info:
        build_embeddings(cfg).embed_query("x")
    assert "could not pull model 'nosuchembed'" in str(info.value)
    assert "ollama.com/library" in str(info.value)


@pytest.mark.vcr
def test_openai_provider_errors_are_ragloom_errors_too(openai_cfg: RagConfig) -> None:
    openai_cfg.llm.model = "nosuchmodel:1b"
    with pytest.raises(ModelNotFound, match="check the model name"):
        build_chat_model(openai_cfg).invoke("hi")
    openai_cfg.embeddings.model = "nosuchembed"
    with pytest.raises(ModelNotFound, match="nosuchembed"):
        build_embeddings(openai_cfg).embed_query("hi")


@contextlib.contextmanager
def silent_server() -> Iterator[str]:
    """A TCP listener on 127.0.0.1 that accepts connections and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            with contextlib.suppress(OSError):
                held.append(listener.accept()[0])

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join()
        for conn in held:
            conn.close()
        listener.close()


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"  # nothing listens there any more


@pytest.mark.allow_hosts(["127.0.0.1"])
def test_slow_first_response_is_provider_timeout_naming_the_setting() -> None:
    with silent_server() as url:
        cfg = RagConfig(llm={"model": "smollm2:135m", "base_url": url, "timeout_s": 0.5})
        started = time.monotonic()
        with pytest.raises(ProviderTimeout) as info:
            build_chat_model(cfg).invoke("hi")
        elapsed = time.monotonic() - started
    message = str(info.value)
    assert "llm.timeout_s" in message and "RAGLOOM_LLM__TIMEOUT_S" in message
    assert "cold model load" in message and url in message
    assert elapsed < 5, "a timeout must not be retried"


@pytest.mark.allow_hosts(["127.0.0.1"])
async def test_slow_first_embedding_is_provider_timeout_async() -> None:
    with silent_server() as url:
        cfg = RagConfig(embeddings={"model": "all-minilm", "base_url": url, "timeout_s": 0.5})
        with pytest.raises(ProviderTimeout, match="RAGLOOM_EMBEDDINGS__TIMEOUT_S"):
            await build_embeddings(cfg).aembed_documents(["x"])


@pytest.mark.allow_hosts(["127.0.0.1"])
def test_connection_refused_is_provider_unavailable_naming_url_and_fix(
    caplog: pytest.LogCaptureFixture,
) -> None:
    url = closed_port_url()
    cfg = RagConfig(llm={"model": "smollm2:135m", "base_url": url, "max_retries": 1})
    with caplog.at_level(logging.WARNING, logger="ragloom.retry"), \
            pytest.raises(ProviderUnavailable) as info:
        build_chat_model(cfg).invoke("hi")
    assert not isinstance(info.value, ProviderTimeout)
    assert info.value.url == url
    assert f"cannot reach ollama at {url}" in str(info.value)
    assert "ollama serve" in str(info.value) and "OLLAMA_HOST" in str(info.value)
    assert "retry 1/1" in caplog.text  # a refused connection is retried, then reported



@pytest.mark.live
def test_live_dropped_connection_is_retried(cfg: RagConfig, ollama_test_server: Any) -> None:
    rule = ollama_test_server.faults.add("/api/embed", drop=True, times=1)
    assert [len(v) for v in build_embeddings(cfg).embed_documents(["a", "b"])] == [384, 384]
    assert rule.hits == 1  # the first attempt was cut, the retry answered


@pytest.mark.live
async def test_live_cold_load_delay_is_provider_timeout(
    cfg: RagConfig, ollama_test_server: Any
) -> None:
    ollama_test_server.faults.add("/api/chat", delay_s=3.0, times=1)
    cfg.llm.timeout_s = 1.0
    with pytest.raises(ProviderTimeout, match="RAGLOOM_LLM__TIMEOUT_S"):
        await build_chat_model(cfg).ainvoke("hi")
    cfg.llm.timeout_s = 60.0  # raised as the message says: the same call now succeeds
    ollama_test_server.faults.add("/api/chat", delay_s=3.0, times=1)
    assert (await build_chat_model(cfg).ainvoke("hi")).content
