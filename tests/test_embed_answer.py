"""The `/api/embed` exchange of `RagloomOllamaEmbeddings`: the request the `ollama` client
would send, the answer read without its slow per-float check, a non-answer explained.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import ollama
import pytest

from ragloom import ProviderUnavailable
from ragloom.providers._ollama_api import ModelFacts
from ragloom.providers._ollama_embeddings import RagloomOllamaEmbeddings

Script = Callable[[httpx.Request], httpx.Response]


@pytest.fixture(autouse=True)
def known_facts(monkeypatch: pytest.MonkeyPatch) -> None:
    """`/api/show` answered without the network."""
    import ragloom.providers._ollama_embeddings as module

    def facts(url: str, model: str, **_: Any) -> ModelFacts:
        return ModelFacts(context_length=None, capabilities=("embedding",))

    async def afacts(url: str, model: str, **_: Any) -> ModelFacts:
        return facts(url, model)

    monkeypatch.setattr(module, "model_facts", facts)
    monkeypatch.setattr(module, "amodel_facts", afacts)


def _embedder(script: Script, **kwargs: Any) -> RagloomOllamaEmbeddings:
    return RagloomOllamaEmbeddings(
        model="all-minilm", base_url="http://ollama:11434",
        sync_client_kwargs={"transport": httpx.MockTransport(script)},
        async_client_kwargs={"transport": httpx.MockTransport(script)}, **kwargs)


@pytest.fixture
def bodies() -> Iterator[list[dict[str, Any]]]:
    yield []


def _answering(bodies: list[dict[str, Any]]) -> Script:
    def script(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        bodies.append(body)
        return httpx.Response(200, json={"model": body["model"], "embeddings": [
            [float(len(text)), 0.25, -1e-3] for text in body["input"]]})
    return script


@pytest.mark.parametrize("kwargs", [{}, {"request_keep_alive": "5m", "dimensions": 3,
                                         "num_ctx": 512}])
async def test_request_is_the_ollama_clients_and_answer_is_read_whole(
        kwargs: dict[str, Any], bodies: list[dict[str, Any]]) -> None:
    model = _embedder(_answering(bodies), **kwargs)
    texts = ["one", "three", "a longer text"]
    assert model.embed_documents(texts) == [[3.0, 0.25, -1e-3], [5.0, 0.25, -1e-3],
                                            [13.0, 0.25, -1e-3]]
    assert await model.aembed_documents(texts) == model.embed_documents(texts)
    # the body the `ollama` client's own `embed` sends with the same arguments
    client = ollama.Client(host="http://ollama:11434",
                           transport=httpx.MockTransport(_answering(bodies)))
    client.embed(model.model, texts, **model._embed_kwargs())
    assert bodies[0] == bodies[1] == bodies[-1]
    assert bodies[0]["truncate"] is False


@pytest.mark.parametrize("answer", [b"<html>proxy login</html>", b'{"error": null}',
                                    b'{"embeddings": "nope"}', b"[1, 2]"])
async def test_an_answer_that_is_not_ollamas_is_provider_unavailable(answer: bytes) -> None:
    model = _embedder(lambda request: httpx.Response(200, content=answer))
    with pytest.raises(ProviderUnavailable, match="RAGLOOM_EMBEDDINGS__BASE_URL") as info:
        model.embed_documents(["x"])
    assert "http://ollama:11434" in str(info.value) and "not Ollama's answer" in str(info.value)
    with pytest.raises(ProviderUnavailable, match="not Ollama's answer"):
        await model.aembed_documents(["x"])


async def test_an_ollama_client_without_its_private_request_uses_the_public_embed(
        monkeypatch: pytest.MonkeyPatch, bodies: list[dict[str, Any]]) -> None:
    # `_request_raw` is private to `ollama`: a version without it still embeds, the same.
    import ragloom.providers._ollama_embeddings as module

    fast = _embedder(_answering(bodies))
    texts = ["one", "three"]
    expected = fast.embed_documents(texts)
    monkeypatch.setattr(module, "_raw_post", lambda client: None)
    slow = _embedder(_answering(bodies))
    assert slow.embed_documents(texts) == expected
    assert await slow.aembed_documents(texts) == expected
    assert bodies[0] == bodies[1] == bodies[2]
