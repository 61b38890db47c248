"""The HTTP transports ragloom builds share one TLS context (each costs 25-70 ms to make)."""

from __future__ import annotations

import ssl
from typing import Any

import ollama  # noqa: F401  (its module-level client makes a context of its own)
import pytest

from ragloom import RagConfig
from ragloom.providers import build_chat_model, build_embeddings
from ragloom.providers._ollama_api import model_facts


@pytest.mark.allow_hosts(["127.0.0.1"])
def test_models_and_requests_make_at_most_one_context(monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[Any] = []
    load = ssl.SSLContext.load_verify_locations

    def counted(self: ssl.SSLContext, *args: Any, **kwargs: Any) -> None:
        made.append(self)
        load(self, *args, **kwargs)

    monkeypatch.setattr(ssl.SSLContext, "load_verify_locations", counted)
    url = "http://127.0.0.1:9"  # nothing listens: /api/show fails fast, without a network
    cfg = RagConfig(embeddings={"model": "all-minilm", "base_url": url},
                    llm={"model": "smollm2:135m", "base_url": url})
    build_embeddings(cfg)
    build_chat_model(cfg)
    model_facts(url, "all-minilm")
    assert len(made) <= 1  # one per process (none if an earlier test made it)


def test_the_shared_context_still_verifies_servers() -> None:
    from ragloom.providers._tls import default_context

    context = default_context()
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
