"""The real-model tier: nomic-embed-text and qwen2.5-coder on the test server.

Run with `pytest -m realmodel tests/ollama_server/tests/test_real_models.py` after
`python -m tests.ollama_server.fetch_models`; skipped, with that command as the reason,
when the weights are not in the cache.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import numpy as np
import pytest
from ollama import ChatResponse, EmbedResponse, ListResponse, ShowResponse

from tests.ollama_server.fetch_models import MODELS, fetch, weights_path

from .wire_check import strict

pytestmark = [pytest.mark.realmodel, pytest.mark.allow_hosts(["127.0.0.1"])]

FETCH = "python -m tests.ollama_server.fetch_models"
EMBED = "nomic-embed-text"
CHAT = "qwen2.5-coder:1.5b"


def need(*names: str) -> None:
    """Skip with the fetch command when a model's weights are absent."""
    missing = [n for n in names if weights_path(n) is None]
    if missing:
        pytest.skip(f"weights of {', '.join(missing)} not fetched: run `{FETCH}`")


@pytest.fixture(scope="module")
def real_server() -> Iterator[Any]:
    from tests.ollama_server.fixtures import running_server

    with running_server(real_models=True) as server:
        yield server


def _post(server: Any, path: str, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(f"{server.url}{path}", json=body, timeout=600)


def test_fetch_is_idempotent() -> None:
    need(*MODELS)
    start = time.monotonic()
    for name in MODELS:
        assert fetch(name, log=False) == weights_path(name)
    assert time.monotonic() - start < 2.0  # found, stamped: no download, no re-hash


# Values of "Hello, world!" from this server, pinned (the issue measured cosine 0.9999995
# between llama.cpp's vector for this text and a real Ollama's /api/embed answer).
HELLO_HEAD = [0.01591495, -0.00068618875, -0.15887906, -0.012660211, -0.017766422]


def test_nomic_embed_matches_pinned_values(real_server: Any) -> None:
    need(EMBED)
    r = _post(real_server, "/api/embed", {"model": EMBED, "input": ["Hello, world!"]})
    assert r.status_code == 200, r.text
    strict(EmbedResponse, r.json())
    vec = np.asarray(r.json()["embeddings"][0])
    assert vec.shape == (768,)
    assert abs(np.linalg.norm(vec) - 1.0) < 1e-4
    np.testing.assert_allclose(vec[:5], HELLO_HEAD, atol=2e-4)
    # `:latest` is the same model
    again = _post(real_server, "/api/embed", {"model": f"{EMBED}:latest",
                                               "input": "Hello, world!"}).json()
    assert float(np.dot(vec, again["embeddings"][0])) > 0.99999


def test_nomic_ranks_the_relevant_passage_first(real_server: Any) -> None:
    need(EMBED)
    texts = ["search_query: how do I switch the chat model to OpenAI?",
             "search_document: Set llm.provider to openai and give an API key.",
             "search_document: Qdrant Edge keeps the collection in a local folder.",
             "search_document: The ingest command splits Markdown by headings."]
    vecs = np.asarray(_post(real_server, "/api/embed", {"model": EMBED, "input": texts})
                      .json()["embeddings"])
    scores = vecs[1:] @ vecs[0]
    assert int(np.argmax(scores)) == 0, scores


def test_show_and_tags_describe_them_as_ollama_does(real_server: Any) -> None:
    need(EMBED, CHAT)
    show = _post(real_server, "/api/show", {"model": EMBED}).json()
    strict(ShowResponse, show)
    assert show["details"] == {"parent_model": "", "format": "gguf", "family": "nomic-bert",
                               "families": ["nomic-bert"], "parameter_size": "137M",
                               "quantization_level": "F16"}
    assert show["capabilities"] == ["embedding"]
    assert show["model_info"]["nomic-bert.context_length"] == 2048
    assert show["model_info"]["nomic-bert.embedding_length"] == 768
    chat = _post(real_server, "/api/show", {"model": CHAT}).json()
    strict(ShowResponse, chat)
    assert chat["details"]["family"] == "qwen2"
    assert chat["details"]["quantization_level"] == "Q4_K_M"
    assert chat["details"]["parameter_size"] == "1.5B"
    assert chat["model_info"]["qwen2.context_length"] == 32768
    assert "<|im_start|>" in chat["template"]
    assert chat["capabilities"] == ["completion"]
    tags = httpx.get(f"{real_server.url}/api/tags").json()
    strict(ListResponse, tags, {"models": ["name"]})
    names = {m["name"] for m in tags["models"]}
    assert {"nomic-embed-text:latest", CHAT, "smollm2:135m", "all-minilm:latest"} <= names


def test_chat_is_refused_for_the_embedding_model(real_server: Any) -> None:
    need(EMBED)
    r = _post(real_server, "/api/chat", {"model": EMBED, "messages": [
        {"role": "user", "content": "hi"}]})
    assert r.status_code == 400
    assert r.json() == {"error": '"nomic-embed-text" does not support chat'}


def test_qwen_answers_from_its_chat_template(real_server: Any) -> None:
    need(CHAT)
    r = _post(real_server, "/api/chat", {
        "model": CHAT, "stream": False,
        "messages": [{"role": "system", "content": "Answer in one word."},
                     {"role": "user", "content": "What is the capital of France?"}],
        "options": {"temperature": 0, "num_predict": 16, "seed": 1}})
    assert r.status_code == 200, r.text
    strict(ChatResponse, r.json())
    body = r.json()
    assert "paris" in body["message"]["content"].lower()
    assert body["done_reason"] == "stop"  # the template's end-of-turn token stopped it
    assert "<|im_end|>" not in body["message"]["content"]
