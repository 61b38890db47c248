"""Ollama's OpenAI-compatible /v1 routes through the official `openai` client."""

from __future__ import annotations

import json

import httpx
import numpy as np
import ollama
import openai
import pytest

from tests.ollama_server.app import OllamaTestServer

from .conftest import CHAT, EMBED

pytestmark = pytest.mark.live

MESSAGES = [{"role": "user", "content": "Name one colour."}]


@pytest.fixture
def client(server: OllamaTestServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.url + "/v1", api_key="ollama", max_retries=0)


def test_chat_non_streamed_and_streamed(client: openai.OpenAI) -> None:
    whole = client.chat.completions.create(model=CHAT, messages=MESSAGES,  # type: ignore[arg-type]
                                           max_tokens=10, temperature=0, seed=1)
    choice = whole.choices[0]
    assert whole.object == "chat.completion" and whole.id.startswith("chatcmpl-")
    assert whole.system_fingerprint == "fp_ollama" and whole.model == CHAT
    assert choice.message.role == "assistant" and choice.message.content
    assert choice.finish_reason in ("stop", "length")
    assert whole.usage and whole.usage.completion_tokens > 0
    assert whole.usage.total_tokens == whole.usage.prompt_tokens + whole.usage.completion_tokens

    chunks = list(client.chat.completions.create(
        model=CHAT, messages=MESSAGES, max_tokens=10, temperature=0, seed=1,  # type: ignore[arg-type]
        stream=True, stream_options={"include_usage": True}))
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == choice.message.content
    finishing = [c for c in chunks if c.choices and c.choices[0].finish_reason]
    assert len(finishing) == 1 and finishing[0].choices[0].finish_reason == choice.finish_reason
    assert chunks[-1].choices == [] and chunks[-1].usage == whole.usage


def test_sse_framing(server: OllamaTestServer) -> None:
    body = {"model": CHAT, "messages": MESSAGES, "max_tokens": 3, "stream": True}
    with httpx.stream("POST", server.url + "/v1/chat/completions", json=body, timeout=120) as r:
        assert r.headers["content-type"] == "text/event-stream"
        raw = r.read().decode()
    events = raw.split("\n\n")
    assert events[-1] == "" and events[-2] == "data: [DONE]"
    for event in events[:-2]:
        assert event.startswith("data: ")
        chunk = json.loads(event[6:])
        assert "usage" not in chunk  # only with stream_options.include_usage


def test_embeddings(client: openai.OpenAI, server: OllamaTestServer) -> None:
    texts = ["The sky is blue.", "Grass is green."]
    native = ollama.Client(host=server.url).embed(model=EMBED, input=texts).embeddings
    default = client.embeddings.create(model=EMBED, input=texts)  # the client asks for base64
    as_float = client.embeddings.create(model=EMBED, input=texts, encoding_format="float")
    for response in (default, as_float):
        assert response.model == EMBED and [d.index for d in response.data] == [0, 1]
        assert response.usage.prompt_tokens > 0
        for got, want in zip(response.data, native, strict=True):
            np.testing.assert_array_equal(np.float32(got.embedding), np.float32(want))
    single = client.embeddings.create(model=EMBED, input="The sky is blue.")
    assert len(single.data) == 1 and len(single.data[0].embedding) == 384
    assert client.embeddings.create(model=EMBED, input="x", dimensions=8).data[0].embedding \
        .__len__() == 8


def test_token_arrays_are_rejected(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as err:
        client.embeddings.create(model=EMBED, input=[[101, 2023, 102]], encoding_format="float")
    assert err.value.status_code == 400
    assert err.value.body == {"message": "invalid input type", "type": "api_error",
                              "param": None, "code": None}


def test_models(client: openai.OpenAI) -> None:
    ids = {m.id for m in client.models.list()}
    assert ids == {"smollm2:135m", "all-minilm:latest"}
    model = client.models.retrieve(EMBED)
    assert model.id == EMBED and model.owned_by == "library" and model.created > 0


def test_errors(client: openai.OpenAI, server: OllamaTestServer) -> None:
    with pytest.raises(openai.NotFoundError) as unknown:
        client.chat.completions.create(model="nope", messages=MESSAGES)  # type: ignore[arg-type]
    assert unknown.value.body == {"message": "model 'nope' not found", "type": "api_error",
                                  "param": None, "code": None}
    with pytest.raises(openai.BadRequestError) as embed_only:
        client.chat.completions.create(model=EMBED, messages=MESSAGES)  # type: ignore[arg-type]
    assert "does not support chat" in embed_only.value.message
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("nope")
    empty = httpx.post(server.url + "/v1/chat/completions", json={"model": CHAT, "messages": []})
    assert empty.status_code == 400
    assert empty.json()["error"]["type"] == "invalid_request_error"
    assert empty.json()["error"]["message"] == "[] is too short - 'messages'"
