"""Every error a real Ollama sends, as a `RagloomError` with the fix in the message.

Recorded against the project's test server answering as real servers do (selectable
version, Ollama's own error texts); replayed offline. A stream cut in the middle cannot be
recorded (vcrpy reads whole bodies), so that one runs against a loopback socket this test
opens itself.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from typer.testing import CliRunner

from ragloom import ConfigError, IngestError, ModelNotFound, ProviderUnavailable, RagConfig
from ragloom.cli import app
from ragloom.providers import build_chat_model, build_embeddings
from tests.conftest import CHAT_MODEL, EMBED_MODEL, REPLAY_URL

ERR_MAX_QUEUE = "server busy, please try again.  maximum pending requests exceeded"
RUNNER_TERMINATED = "llama runner process has terminated: signal: killed"
OLD_VERSION = "0.1.30"
# 400 word pieces in 799 characters: short enough to look fine, too long for all-minilm's 256.
DENSE_TEXT = " ".join(["7"] * 400)
# 1,800 characters: obviously beyond 256 tokens, refused before any request.
LONG_TEXT = " ".join(["seven"] * 300)


def faults(server: Any) -> Any:
    """The fault rules while recording, else a stand-in that ignores them (replay)."""
    class _Ignored:
        def add(self, *args: Any, **kwargs: Any) -> None:
            return None

    return server.faults if server is not None else _Ignored()


def sent(cassette: Any, path: str) -> list[tuple[dict[str, Any], int]]:
    """(request body, response status) of each recorded request to `path`."""
    return [(json.loads(req.body), resp["status"]["code"])
            for req, resp in zip(cassette.requests, cassette.responses, strict=True)
            if req.path == path]


@pytest.fixture(scope="module")
def old_ollama_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """An Ollama 0.1.30 (before /api/embed) while recording; the replay URL otherwise."""
    if (request.config.getoption("--record-mode") or "none") == "none":
        yield REPLAY_URL
        return
    from tests.ollama_server.behaviour import Behaviour
    from tests.ollama_server.fixtures import running_server

    with running_server(behaviour=Behaviour(version=OLD_VERSION)) as server:
        yield server.url


# --- a model used for the wrong job ---------------------------------------------------------

@pytest.mark.vcr
def test_embedding_model_used_for_chat_is_a_config_error(cfg: RagConfig) -> None:
    cfg.llm.model = EMBED_MODEL  # Ollama: 400 "\"all-minilm\" does not support chat"
    with pytest.raises(ConfigError) as info:
        build_chat_model(cfg).invoke("hi")
    message = str(info.value)
    assert "cannot chat" in message and "embedding model" in message
    assert "llm.model" in message and "RAGLOOM_LLM__MODEL" in message


@pytest.mark.vcr
def test_embedding_model_used_for_chat_through_openai_v1(openai_cfg: RagConfig) -> None:
    openai_cfg.llm.model = EMBED_MODEL
    openai_cfg.llm.max_retries = 0
    with pytest.raises(ConfigError, match="cannot chat: it is an embedding model"):
        build_chat_model(openai_cfg).invoke("hi")


@pytest.mark.vcr
def test_chat_model_used_for_embeddings_is_a_config_error(cfg: RagConfig) -> None:
    # Ollama embeds with a chat model without complaint; /api/show's capabilities tell.
    cfg.embeddings.model = CHAT_MODEL
    with pytest.raises(ConfigError) as info:
        build_embeddings(cfg).embed_query("hi")
    message = str(info.value)
    assert "is a chat model, not an embedding model" in message
    assert "embeddings.model" in message and "RAGLOOM_EMBEDDINGS__MODEL" in message


# --- input longer than the embedding model's context ---------------------------------------

@pytest.mark.vcr
def test_input_beyond_the_context_fails_naming_the_setting_when_asked(
    cfg: RagConfig, vcr: Any
) -> None:
    cfg.embeddings.too_long = "fail"
    embeddings = build_embeddings(cfg)
    with pytest.raises(IngestError) as refused:  # the server refuses it (400)
        embeddings.embed_documents(["fine", DENSE_TEXT])
    with pytest.raises(IngestError) as early:  # obviously long: refused before sending
        embeddings.embed_documents([LONG_TEXT])
    for info, text in ((refused, DENSE_TEXT), (early, LONG_TEXT)):
        message = str(info.value)
        assert "ingest.chunk_size" in message and "RAGLOOM_INGEST__CHUNK_SIZE" in message
        assert "context of 256 tokens" in message and f"{len(text)} characters" in message
        assert repr(text[:60]) in message  # which text
        assert "embeddings.too_long: split" in message
    # Nothing was ever sent with truncation allowed: no text is cut silently.
    assert all(body["truncate"] is False for body, _ in sent(vcr, "/api/embed"))
    assert all(LONG_TEXT not in body["input"] for body, _ in sent(vcr, "/api/embed"))


@pytest.mark.vcr
def test_input_beyond_the_context_is_split_by_default(cfg: RagConfig, vcr: Any) -> None:
    embeddings = build_embeddings(cfg)
    vectors = embeddings.embed_documents(["short", DENSE_TEXT, LONG_TEXT])
    assert [len(v) for v in vectors] == [384, 384, 384]
    for vector in vectors:
        assert abs(sum(x * x for x in vector) - 1.0) < 1e-4
    # The same text alone gives the same vector: splitting is deterministic.
    assert embeddings.embed_documents([DENSE_TEXT]) == [vectors[1]]
    requests = sent(vcr, "/api/embed")
    assert requests[0][1] == 400  # the dense text was refused, then found and split
    assert all(body["truncate"] is False for body, _ in requests)
    embedded = "".join("".join(body["input"]) for body, status in requests if status == 200)
    # Nothing lost: every word piece reached the model (the dense text went twice).
    assert embedded.count("7") == 2 * 400 and embedded.count("seven") == 300


# --- a server too old for the route ---------------------------------------------------------

@pytest.mark.vcr
def test_server_without_api_embed_is_too_old_not_a_missing_model(
    cfg: RagConfig, old_ollama_url: str
) -> None:
    cfg.embeddings.base_url = old_ollama_url  # 404, plain text "404 page not found"
    with pytest.raises(ProviderUnavailable) as info:
        build_embeddings(cfg).embed_query("hi")
    assert not isinstance(info.value, ModelNotFound)
    message = str(info.value)
    assert f"Ollama {OLD_VERSION}" in message and "0.2.6" in message
    assert "Upgrade Ollama" in message and "ollama pull" not in message


@pytest.mark.vcr
def test_openai_provider_at_an_old_server_is_too_old(
    openai_cfg: RagConfig, old_ollama_url: str
) -> None:
    openai_cfg.embeddings.base_url = old_ollama_url + "/v1"
    openai_cfg.embeddings.max_retries = 0
    with pytest.raises(ProviderUnavailable) as info:
        build_embeddings(openai_cfg).embed_query("hi")
    assert not isinstance(info.value, ModelNotFound)
    assert f"Ollama {OLD_VERSION}" in str(info.value) and "Upgrade Ollama" in str(info.value)


@pytest.mark.vcr
def test_doctor_against_an_old_server_says_so_and_exits_1(old_ollama_url: str) -> None:
    env = {"RAGLOOM_LLM__MODEL": CHAT_MODEL, "RAGLOOM_LLM__BASE_URL": old_ollama_url,
           "RAGLOOM_EMBEDDINGS__MODEL": EMBED_MODEL,
           "RAGLOOM_EMBEDDINGS__BASE_URL": old_ollama_url,
           "RAGLOOM_QDRANT__LOCATION": ":memory:"}
    result = CliRunner().invoke(app, ["doctor"], env=env)
    assert result.exit_code == 1, result.output
    output = " ".join(result.output.split())
    assert f"Ollama {OLD_VERSION} is older than 0.2.6" in output
    assert "upgrade Ollama" in output


# --- a busy server, a crashed runner ---------------------------------------------------------

@pytest.mark.vcr
def test_server_busy_is_retried_then_explained(
    cfg: RagConfig, ollama_test_server: Any, vcr: Any
) -> None:
    faults(ollama_test_server).add("/api/chat", status=503, message=ERR_MAX_QUEUE, times=2)
    cfg.llm.max_retries = 1
    with pytest.raises(ProviderUnavailable) as info:
        build_chat_model(cfg).invoke("hi")
    assert [status for _, status in sent(vcr, "/api/chat")] == [503, 503]  # retried once
    message = str(info.value)
    assert "busy" in message and "OLLAMA_MAX_QUEUE" in message
    assert "llm.max_concurrency" in message


@pytest.mark.vcr
def test_runner_crash_says_it_is_usually_memory(
    cfg: RagConfig, ollama_test_server: Any, vcr: Any
) -> None:
    faults(ollama_test_server).add("/api/chat", status=500, message=RUNNER_TERMINATED, times=2)
    cfg.llm.max_retries = 1
    with pytest.raises(ProviderUnavailable) as info:
        build_chat_model(cfg).invoke("hi")
    assert [status for _, status in sent(vcr, "/api/chat")] == [500, 500]
    message = str(info.value)
    assert "crashed" in message and "memory" in message and "llm.num_ctx" in message
    assert "ollama serve" not in message


# --- small things real servers showed ------------------------------------------------------

@pytest.mark.vcr
def test_keep_alive_is_sent_with_one_type_to_chat_and_embeddings(
    cfg: RagConfig, vcr: Any
) -> None:
    cfg.llm.extra = {"num_predict": 4}
    build_chat_model(cfg).invoke("hi")
    build_embeddings(cfg).embed_query("hi")
    (chat, _), = sent(vcr, "/api/chat")
    (embed, _), = sent(vcr, "/api/embed")
    assert chat["keep_alive"] == embed["keep_alive"] == "30m"


@pytest.mark.vcr
def test_openai_provider_streams_token_usage(openai_cfg: RagConfig, vcr: Any) -> None:
    openai_cfg.llm.extra = {"max_tokens": 4}
    chunks = list(build_chat_model(openai_cfg).stream("hi"))
    usage = [c.usage_metadata for c in chunks if c.usage_metadata]
    assert usage and usage[-1]["output_tokens"] > 0 and usage[-1]["input_tokens"] > 0
    (body, _), = sent(vcr, "/v1/chat/completions")
    assert body["stream_options"] == {"include_usage": True}


# --- a stream cut in the middle ------------------------------------------------------------

@contextmanager
def server_that_dies_mid_answer(tokens: int) -> Iterator[str]:
    """Answers /api/chat with `tokens` streamed chunks, then closes the connection."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with conn:
                conn.recv(65536)
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/x-ndjson\r\n"
                             b"Transfer-Encoding: chunked\r\n\r\n")
                for n in range(tokens):
                    line = json.dumps({"model": CHAT_MODEL, "created_at": "2026-01-01T00:00:00Z",
                                       "message": {"role": "assistant", "content": f"w{n} "},
                                       "done": False}).encode() + b"\n"
                    conn.sendall(f"{len(line):x}\r\n".encode() + line + b"\r\n")
                # Close without a reset: unread request bytes would make the kernel send RST,
                # and a reset throws away the chunks the client has not read yet.
                conn.shutdown(socket.SHUT_WR)
                conn.settimeout(2)
                with contextlib.suppress(OSError):
                    while conn.recv(65536):
                        pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        listener.close()


@pytest.mark.allow_hosts(["127.0.0.1"])
def test_stream_cut_mid_answer_says_so_not_unreachable() -> None:
    with server_that_dies_mid_answer(tokens=3) as url:
        llm = build_chat_model(RagConfig(llm={"model": CHAT_MODEL, "base_url": url}))
        with pytest.raises(ProviderUnavailable) as invoked:
            llm.invoke("hi")
        received: list[str] = []
        with pytest.raises(ProviderUnavailable) as streamed:
            for chunk in llm.stream("hi"):
                received.append(str(chunk.content))
    assert received == ["w0 ", "w1 ", "w2 "]
    for info in (invoked, streamed):
        message = str(info.value)
        assert "interrupted after 3 tokens" in message
        assert "cannot reach" not in message and "ollama serve" not in message


@pytest.mark.allow_hosts(["127.0.0.1"])
async def test_stream_cut_before_the_first_token_async() -> None:
    with server_that_dies_mid_answer(tokens=0) as url:
        llm = build_chat_model(RagConfig(llm={"model": CHAT_MODEL, "base_url": url}))
        with pytest.raises(ProviderUnavailable, match="interrupted before the first token"):
            await llm.ainvoke("hi")

