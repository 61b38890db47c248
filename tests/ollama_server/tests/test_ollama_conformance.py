"""The test server through the `ollama` client and raw HTTP, checked against the client's models."""

from __future__ import annotations

import json
from typing import Any

import httpx
import numpy as np
import ollama
import pytest
from ollama import (
    ChatResponse,
    EmbedResponse,
    ListResponse,
    ProgressResponse,
    ShowResponse,
)
from ollama._types import EmbeddingsResponse

from tests.ollama_server.app import OllamaTestServer

from .conftest import CHAT, EMBED
from .wire_check import GO_TIME, strict

pytestmark = pytest.mark.live

OPTS = {"temperature": 0, "num_predict": 12, "seed": 7}
HELLO = [{"role": "user", "content": "Name one colour."}]
CHUNK_KEYS = {"model", "created_at", "message", "done"}
FINAL_KEYS = CHUNK_KEYS | {"done_reason", "total_duration", "load_duration", "prompt_eval_count",
                           "prompt_eval_duration", "eval_count", "eval_duration"}
LIST_EXTRA = {"models": ["name"]}  # Ollama sends models[].name; the client model lacks it


@pytest.fixture
def client(server: OllamaTestServer) -> ollama.Client:
    return ollama.Client(host=server.url)


def _post(server: OllamaTestServer, path: str, body: Any) -> httpx.Response:
    content = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return httpx.post(server.url + path, content=content, timeout=120)


# --- chat ---------------------------------------------------------------------------------

def test_chat_non_streamed(client: ollama.Client) -> None:
    r = client.chat(model=CHAT, messages=HELLO, options=OPTS)
    assert isinstance(r, ChatResponse)
    assert r.done is True and r.done_reason in ("stop", "length")
    assert r.message.role == "assistant" and r.message.content
    assert r.model == CHAT and GO_TIME.match(r.created_at or "")
    for metric in ("total_duration", "load_duration", "prompt_eval_count",
                   "prompt_eval_duration", "eval_count", "eval_duration"):
        assert isinstance(r[metric], int) and r[metric] > 0, metric
    assert r.total_duration >= r.prompt_eval_duration + r.eval_duration  # type: ignore[operator]


def test_chat_streamed_equals_non_streamed(client: ollama.Client) -> None:
    whole = client.chat(model=CHAT, messages=HELLO, options=OPTS)
    chunks = list(client.chat(model=CHAT, messages=HELLO, options=OPTS, stream=True))
    assert all(isinstance(c, ChatResponse) for c in chunks)
    assert len(chunks) >= 2
    assert all(c.done is False and c.message.content for c in chunks[:-1])
    last = chunks[-1]
    assert last.done is True and last.message.content == ""
    assert last.done_reason == whole.done_reason and last.eval_count == whole.eval_count
    assert "".join(c.message.content or "" for c in chunks) == whole.message.content


def test_chat_raw_wire_format(server: OllamaTestServer) -> None:
    body = {"model": CHAT, "messages": HELLO, "options": OPTS, "tools": [], "think": False}
    with httpx.stream("POST", server.url + "/api/chat", json=body, timeout=120) as r:
        assert r.status_code == 200
        assert r.headers["content-type"] == "application/x-ndjson"
        raw = r.read()
    assert raw.endswith(b"\n")
    lines = [json.loads(line) for line in raw.decode().splitlines()]
    for line in lines[:-1]:
        assert set(line) == CHUNK_KEYS
        strict(ChatResponse, line)
        assert GO_TIME.match(line["created_at"])
    assert set(lines[-1]) == FINAL_KEYS and lines[-1]["message"] == {"role": "assistant",
                                                                      "content": ""}
    strict(ChatResponse, lines[-1])

    r2 = _post(server, "/api/chat", {**body, "stream": False})
    assert r2.headers["content-type"] == "application/json; charset=utf-8"
    assert set(r2.json()) == FINAL_KEYS
    strict(ChatResponse, r2.json())


def test_chat_options_are_honoured(client: ollama.Client) -> None:
    short = client.chat(model=CHAT, messages=HELLO, options={**OPTS, "num_predict": 3})
    assert short.done_reason == "length" and short.eval_count == 3
    free = client.chat(model=CHAT, messages=[{"role": "user", "content": "Count: one, two,"}],
                       options={"temperature": 0, "num_predict": 24, "unknown_key": 1})
    words = (free.message.content or "").split()
    assert len(words) >= 3
    stop_word = words[2]
    cut = client.chat(model=CHAT, messages=[{"role": "user", "content": "Count: one, two,"}],
                      options={"temperature": 0, "num_predict": 24, "stop": [stop_word]})
    assert stop_word not in (cut.message.content or "")
    assert (free.message.content or "").startswith(cut.message.content or "")
    seeded = [client.chat(model=CHAT, messages=HELLO,
                          options={"temperature": 1.0, "seed": 123, "num_predict": 16})
              .message.content for _ in range(2)]
    assert seeded[0] == seeded[1]
    long_prompt = [{"role": "user", "content": "word " * 400}]
    small = client.chat(model=CHAT, messages=long_prompt,
                        options={"temperature": 0, "num_ctx": 128, "num_predict": 4})
    assert small.prompt_eval_count is not None and small.prompt_eval_count < 128


def test_chat_load_unload_and_keep_alive(client: ollama.Client, server: OllamaTestServer
                                         ) -> None:
    loaded = client.chat(model=CHAT, messages=[])
    assert loaded.done_reason == "load" and loaded.message.content == ""
    unloaded = client.chat(model=CHAT, messages=[], keep_alive=0)
    assert unloaded.done_reason == "unload"
    runner = server.core.chat_engine(server.core.registry.resolve(CHAT)).runner  # type: ignore[arg-type]
    before = runner.loads
    cold = client.chat(model=CHAT, messages=HELLO, options=OPTS, keep_alive="10m")
    warm = client.chat(model=CHAT, messages=HELLO, options=OPTS)
    assert runner.loads == before + 1  # reloaded once after the unload, then kept
    assert cold.load_duration > warm.load_duration  # type: ignore[operator]


# --- embeddings ---------------------------------------------------------------------------

def test_embed_string_and_list(client: ollama.Client) -> None:
    one = client.embed(model=EMBED, input="The sky is blue.")
    assert isinstance(one, EmbedResponse) and one.model == EMBED
    assert len(one.embeddings) == 1 and len(one.embeddings[0]) == 384
    assert abs(np.linalg.norm(one.embeddings[0]) - 1.0) < 1e-5
    many = client.embed(model=EMBED, input=["The sky is blue.", "Grass is green.", ""])
    assert len(many.embeddings) == 3
    # Padding in a batch changes float32 rounding only.
    np.testing.assert_allclose(many.embeddings[0], one.embeddings[0], atol=1e-6)
    assert many.prompt_eval_count and many.prompt_eval_count > one.prompt_eval_count  # type: ignore[operator]
    empty = client.embed(model=EMBED, input=[])
    assert empty.embeddings == []


def test_embed_raw_wire_format(server: OllamaTestServer) -> None:
    r = _post(server, "/api/embed", {"model": EMBED, "input": ["a", "b"], "options": {
        "num_ctx": None, "temperature": None}, "keep_alive": 300.0})
    assert r.status_code == 200 and r.headers["content-type"] == "application/json; charset=utf-8"
    assert set(r.json()) == {"model", "embeddings", "total_duration", "load_duration",
                             "prompt_eval_count"}
    strict(EmbedResponse, r.json())
    assert b"e-0" not in r.content  # Go writes 1e-7, never Python's 1e-07


def test_embed_dimensions_and_truncation(client: ollama.Client) -> None:
    full = np.array(client.embed(model=EMBED, input="dimension test").embeddings[0])
    cut = np.array(client.embed(model=EMBED, input="dimension test", dimensions=16).embeddings[0])
    assert cut.shape == (16,)
    np.testing.assert_allclose(cut, full[:16] / np.linalg.norm(full[:16]), atol=1e-6)
    long_text = "retrieval " * 400
    with pytest.raises(ollama.ResponseError) as err:
        client.embed(model=EMBED, input=long_text, truncate=False)
    assert err.value.status_code == 400
    assert err.value.error == "the input length exceeds the context length"
    truncated = client.embed(model=EMBED, input=long_text)
    assert truncated.prompt_eval_count == 256


def test_embed_errors(server: OllamaTestServer) -> None:
    bad = _post(server, "/api/embed", {"model": EMBED, "input": ["ok", 3]})
    assert (bad.status_code, bad.json()) == (400, {"error": "invalid input type"})
    unknown = _post(server, "/api/embed", {"model": "nope", "input": "x"})
    assert unknown.status_code == 404
    assert unknown.json() == {"error": 'model "nope" not found, try pulling it first'}


def test_legacy_embeddings(client: ollama.Client) -> None:
    legacy = client.embeddings(model=EMBED, prompt="The sky is blue.")
    assert isinstance(legacy, EmbeddingsResponse) and len(legacy.embedding) == 384
    modern = client.embed(model=EMBED, input="The sky is blue.").embeddings[0]
    np.testing.assert_array_equal(np.float32(legacy.embedding), np.float32(modern))
    assert client.embeddings(model=EMBED, prompt="").embedding == []


# --- model management ---------------------------------------------------------------------

def test_list(client: ollama.Client, server: OllamaTestServer) -> None:
    listed = client.list()
    assert isinstance(listed, ListResponse)
    assert {m.model for m in listed.models} == {"smollm2:135m", "all-minilm:latest"}
    raw = httpx.get(server.url + "/api/tags").json()
    strict(ListResponse, raw, LIST_EXTRA)
    for m in raw["models"]:
        assert set(m) == {"name", "model", "modified_at", "size", "digest", "details"}
        assert len(m["digest"]) == 64 and m["size"] > 1_000_000


def test_show(client: ollama.Client, server: OllamaTestServer) -> None:
    emb = client.show(EMBED)
    assert isinstance(emb, ShowResponse) and emb.capabilities == ["embedding"]
    assert emb.modelinfo and emb.modelinfo["bert.embedding_length"] == 384
    assert emb.modelinfo["bert.context_length"] == 256
    chat = client.show(CHAT)
    assert chat.capabilities == ["completion"] and chat.details and chat.details.family == "llama"
    assert chat.modelinfo and chat.modelinfo["llama.context_length"] == 8192
    assert chat.template and "<|im_start|>" in chat.template and chat.parameters
    for name in (EMBED, CHAT):
        strict(ShowResponse, _post(server, "/api/show", {"model": name}).json())
    with pytest.raises(ollama.ResponseError) as err:
        client.show("nope")
    assert err.value.status_code == 404 and err.value.error == "model 'nope:latest' not found"


def test_pull(client: ollama.Client, server: OllamaTestServer) -> None:
    done = client.pull(EMBED)
    assert isinstance(done, ProgressResponse) and done.status == "success"
    steps = list(client.pull(CHAT, stream=True))
    statuses = [s.status or "" for s in steps]
    assert statuses[0] == "pulling manifest" and statuses[-3:] == [
        "verifying sha256 digest", "writing manifest", "success"]
    layer = steps[1]
    assert layer.digest and layer.digest.startswith("sha256:")
    assert statuses[1] == f"pulling {layer.digest[7:19]}" and layer.total == layer.completed
    with httpx.stream("POST", server.url + "/api/pull", json={"model": CHAT}) as r:
        for line in r.iter_lines():
            strict(ProgressResponse, json.loads(line))
    with pytest.raises(ollama.ResponseError, match="file does not exist"):
        list(client.pull("nope", stream=True))
    with pytest.raises(ollama.ResponseError) as err:
        client.pull("nope")
    assert err.value.status_code == 500


def test_version_and_root(server: OllamaTestServer) -> None:
    version = httpx.get(server.url + "/api/version").json()
    assert set(version) == {"version"} and version["version"].count(".") == 2
    root = httpx.get(server.url + "/")
    assert root.text == "Ollama is running" and root.headers["content-type"].startswith(
        "text/plain")
    head = httpx.head(server.url + "/")
    assert head.status_code == 200 and head.content == b""


# --- errors -------------------------------------------------------------------------------

def test_errors_through_the_client(client: ollama.Client) -> None:
    with pytest.raises(ollama.ResponseError) as unknown:
        client.chat(model="nope", messages=HELLO)
    assert unknown.value.status_code == 404 and unknown.value.error == "model 'nope' not found"
    with pytest.raises(ollama.ResponseError) as streamed:
        list(client.chat(model="nope", messages=HELLO, stream=True))
    assert streamed.value.status_code == 404
    with pytest.raises(ollama.ResponseError) as embed_only:
        client.chat(model=EMBED, messages=HELLO)
    assert embed_only.value.status_code == 400
    assert embed_only.value.error == '"all-minilm" does not support chat'
    with pytest.raises(ollama.ResponseError) as embed_unknown:
        client.embed(model="nope", input="x")
    assert embed_unknown.value.status_code == 404


@pytest.mark.parametrize(("body", "status", "message"), [
    (b"{\"model\": ", 400, "unexpected EOF"),
    (b"not json", 400, "invalid character 'o' in literal null (expecting 'u')"),
    (b"", 400, "missing request body"),
    ({"messages": HELLO}, 400, "model is required"),
    ({"model": "bad name!", "messages": HELLO}, 400, "invalid model name"),
    ({"model": CHAT, "messages": HELLO, "think": True}, 400,
     '"smollm2:135m" does not support thinking'),
    ({"model": CHAT, "messages": HELLO, "options": {"temperature": "hot"}}, 500,
     'option "temperature" must be of type float32'),
])
def test_chat_request_errors(server: OllamaTestServer, body: Any, status: int, message: str
                             ) -> None:
    r = _post(server, "/api/chat", body)
    assert r.status_code == status
    if message.startswith("invalid character"):
        assert r.json()["error"].startswith("invalid character")
    else:
        assert r.json() == {"error": message}
