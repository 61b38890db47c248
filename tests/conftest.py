"""Test harness: replay cassettes offline by default; record against a server on demand.

- `pytest` replays (`--record-mode=none`, network disabled, unix sockets allowed for
  asyncio's self-pipe). Any request without a recording fails the test.
- `pytest --record-mode=rewrite` re-records every cassette. The project's Ollama-API
  test server is started for it, unless `OLLAMA_HOST` names a real Ollama
  (`ollama pull smollm2:135m all-minilm` first), in which case that one is recorded.
- `pytest -m live` starts the test server and runs real HTTP end to end.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from ragloom.config import RagConfig
from ragloom.testing import vcr_config as ragloom_vcr_config

CHAT_MODEL = "smollm2:135m"
EMBED_MODEL = "all-minilm"
REPLAY_URL = "http://127.0.0.1:11434"  # never contacted while replaying
LOOPBACK = ["127.0.0.1", "localhost", "::1"]

# The test server and its own tests (tests/ollama_server/) need the `record` extra; without
# it they are left out of collection (the default run deselects the live tier anyway).
collect_ignore = (["ollama_server"] if any(
    __import__("importlib.util").util.find_spec(name) is None
    for name in ("starlette", "uvicorn", "llama_cpp")) else [])



def _recording(config: pytest.Config) -> bool:
    return (config.getoption("--record-mode") or "none") != "none"


def _live_selected(config: pytest.Config) -> bool:
    expr = config.getoption("-m") or ""
    return "live" in expr and "not live" not in expr


def _real_ollama() -> str | None:
    host = os.environ.get("OLLAMA_HOST")
    if not host:
        return None
    return host if "://" in host else f"http://{host}"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not (_recording(config) or _live_selected(config)):
        return
    hosts = list(LOOPBACK)
    real = _real_ollama()
    if real:
        hosts.append(urlsplit(real).hostname or "")
    for item in items:
        item.add_marker(pytest.mark.allow_hosts(hosts))


@pytest.fixture(scope="module")
def vcr_config() -> dict[str, Any]:
    return ragloom_vcr_config()


@pytest.fixture(autouse=True)
def _isolated_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    """Keep the developer's RAGLOOM_* variables and ragloom.yaml out of the tests."""
    for name in list(os.environ):
        if name.startswith("RAGLOOM_") or name == "OPENAI_API_KEY":
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


@pytest.fixture(scope="session")
def ollama_test_server(request: pytest.FixtureRequest) -> Iterator[Any]:
    """The project's test server while recording or live (for `.faults`), else None.

    None while replaying (the cassettes hold the faulty answers) and when `OLLAMA_HOST`
    names a real Ollama (which cannot inject faults).
    """
    if _real_ollama() or not (_recording(request.config) or _live_selected(request.config)):
        yield None
        return
    from tests.ollama_server.fixtures import running_server

    with running_server() as server:
        yield server


@pytest.fixture(scope="session")
def ollama_url(ollama_test_server: Any) -> str:
    """Base URL of the Ollama the tests talk to.

    Replaying: a fixed URL that is never contacted (cassettes ignore host and port).
    Recording or live: `OLLAMA_HOST` if set, else the project's test server.
    """
    real = _real_ollama()
    if real:
        return real
    return str(ollama_test_server.url) if ollama_test_server is not None else REPLAY_URL


def unique_collection(request: pytest.FixtureRequest) -> str:
    """A collection name stable across runs (request bodies stay identical)."""
    return "t_" + uuid.uuid5(uuid.NAMESPACE_URL, request.node.nodeid).hex[:12]


@pytest.fixture
def cfg(ollama_url: str, request: pytest.FixtureRequest) -> RagConfig:
    """Config for tests recorded against Ollama: small real models, in-memory Qdrant."""
    return RagConfig(
        llm={"model": CHAT_MODEL, "base_url": ollama_url, "temperature": 0.0, "num_ctx": 2048},
        embeddings={"model": EMBED_MODEL, "base_url": ollama_url},
        qdrant={"location": ":memory:", "collection": unique_collection(request)},
    )


@pytest.fixture
def openai_cfg(ollama_url: str, request: pytest.FixtureRequest) -> RagConfig:
    """The same models reached through the `openai` provider at Ollama's /v1."""
    v1 = ollama_url.rstrip("/") + "/v1"
    return RagConfig(
        llm={"provider": "openai", "model": CHAT_MODEL, "base_url": v1, "temperature": 0.0,
             "api_key": "sk-test-secret-not-recorded"},
        embeddings={"provider": "openai", "model": EMBED_MODEL, "base_url": v1,
                    "api_key": "sk-test-secret-not-recorded"},
        qdrant={"location": ":memory:", "collection": unique_collection(request)},
    )
