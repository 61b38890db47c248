"""LangChain's Ollama and OpenAI classes work against the test server unchanged."""

from __future__ import annotations

import numpy as np
import pytest
from langchain_core.messages import AIMessage, AIMessageChunk
from langchain_ollama import ChatOllama, OllamaEmbeddings
from langchain_openai import ChatOpenAI, OpenAIEmbeddings

from tests.ollama_server.app import OllamaTestServer

from .conftest import CHAT, EMBED

pytestmark = pytest.mark.live

TEXTS = ["Qdrant stores vectors.", "Ollama serves models locally.", "Paris is in France."]


def test_chat_ollama_invoke_and_stream(server: OllamaTestServer) -> None:
    llm = ChatOllama(model=CHAT, base_url=server.url, temperature=0, num_predict=12, seed=3,
                     num_ctx=2048, keep_alive="5m", validate_model_on_init=True)
    answer = llm.invoke("Name one colour.")
    assert isinstance(answer, AIMessage) and isinstance(answer.content, str) and answer.content
    assert answer.response_metadata["done_reason"] in ("stop", "length")
    assert answer.usage_metadata and answer.usage_metadata["output_tokens"] > 0
    chunks = list(llm.stream("Name one colour."))
    assert len(chunks) >= 2 and all(isinstance(c, AIMessageChunk) for c in chunks)
    assert "".join(str(c.content) for c in chunks) == answer.content


def test_ollama_embeddings(server: OllamaTestServer) -> None:
    emb = OllamaEmbeddings(model=EMBED, base_url=server.url)
    docs = emb.embed_documents(TEXTS)
    assert len(docs) == 3 and all(len(v) == 384 for v in docs)
    query = emb.embed_query("Where is Paris?")
    scores = np.array(docs) @ np.array(query)
    assert int(np.argmax(scores)) == 2  # the real model ranks the Paris sentence first


def test_openai_classes_at_v1(server: OllamaTestServer) -> None:
    v1 = server.url + "/v1"
    emb = OpenAIEmbeddings(model=EMBED, base_url=v1, api_key="x",  # type: ignore[arg-type]
                           check_embedding_ctx_length=False)
    via_openai = np.array(emb.embed_documents(TEXTS))
    via_ollama = np.array(OllamaEmbeddings(model=EMBED, base_url=server.url).embed_documents(TEXTS))
    np.testing.assert_allclose(via_openai, via_ollama, atol=1e-6)
    chat = ChatOpenAI(model=CHAT, base_url=v1, api_key="x", temperature=0,  # type: ignore[arg-type]
                      max_completion_tokens=8, max_retries=0)
    reply = chat.invoke("Name one colour.")
    assert isinstance(reply.content, str) and reply.content
