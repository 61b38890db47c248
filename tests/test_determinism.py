"""Same input, same requests: every request ragloom sends is byte-identical run to run.

Two kinds of traffic leave ragloom:

- HTTP to the model server (Ollama's /api/embed and /api/chat, or OpenAI's /v1/...).
  The flow (ingest a folder, build the chain, ask, stream, ask a follow-up) runs twice
  with fresh objects, replaying one cassette recorded against the test server, and
  the bodies httpx is asked to send (captured above vcrpy, so they are what ragloom
  produced, not what the cassette holds) are compared byte for byte.
- Calls to Qdrant. Embedded Qdrant makes no HTTP, so every call ragloom makes on the
  `QdrantClient` is captured with its arguments serialised as qdrant-client sends
  them to a server (pydantic JSON, key order kept) and compared the same way.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from langchain_core.embeddings import DeterministicFakeEmbedding
from pydantic import BaseModel
from qdrant_client import QdrantClient

from ragloom import RagConfig, build_rag_chain, build_retriever, build_vector_store, ingest

try:
    import httpx2
except ImportError:  # older openai releases use httpx itself
    httpx2 = None

HTTP_MODULES: list[Any] = [httpx] + ([httpx2] if httpx2 is not None else [])
DOCS = Path(__file__).parent / "example_app" / "docs"
Sent = tuple[str, str, str, bytes]


@contextmanager
def sent_requests() -> Iterator[list[Sent]]:
    """Capture (method, path, query, body bytes) of every request httpx is asked to send.

    Patched at `Client.send`, above vcrpy (which patches the transports): these are the
    requests ragloom and its libraries made. openai >= 3 uses the `httpx2` fork.
    """
    sent: list[Sent] = []

    def note(request: Any) -> None:
        query = request.url.query
        sent.append((request.method, request.url.path,
                     query.decode() if isinstance(query, bytes) else str(query),
                     request.read()))

    def wrap_sync(original: Callable[..., Any]) -> Callable[..., Any]:
        def send(self: Any, request: Any, **kwargs: Any) -> Any:
            note(request)
            return original(self, request, **kwargs)
        return send

    def wrap_async(original: Callable[..., Any]) -> Callable[..., Any]:
        async def send(self: Any, request: Any, **kwargs: Any) -> Any:
            note(request)
            return await original(self, request, **kwargs)
        return send

    with pytest.MonkeyPatch.context() as patch:
        for module in HTTP_MODULES:
            patch.setattr(module.Client, "send", wrap_sync(module.Client.send))
            patch.setattr(module.AsyncClient, "send", wrap_async(module.AsyncClient.send))
        yield sent


def the_flow(cfg: RagConfig) -> None:
    """Ingest a folder, then ask, stream and ask a follow-up; all objects fresh."""
    cfg = cfg.model_copy(deep=True)
    cfg.answer.min_relevance = None  # every retrieved chunk reaches the recorded prompt
    store = build_vector_store(cfg, client=QdrantClient(location=":memory:"))
    report = ingest(["docs"], cfg, store=store)
    assert report.ok and report.added == 4
    chain = build_rag_chain(cfg, retriever=build_retriever(cfg, store))
    assert chain.invoke("How often are API keys rotated?")["answer"].strip()
    assert list(chain.stream("When do backups run?"))
    chain.invoke({"question": "And how long are they kept?",
                  "chat_history": [("human", "When do backups run?"),
                                   ("ai", "Nightly at 02:00 UTC [1].")]})


def differences(first: list[Any], second: list[Any]) -> list[str]:
    out = [f"run 1 sent {len(first)} requests, run 2 sent {len(second)}:\n"
           f"  {[str(a)[:40] for a in first]}\n  {[str(b)[:40] for b in second]}"] * (
        len(first) != len(second))
    for n, (a, b) in enumerate(zip(first, second, strict=False)):
        if a != b:
            out.append(f"request {n} differs:\n  {a!r:.600}\n  {b!r:.600}")
    return out


@pytest.fixture
def docs_here(tmp_path: Path) -> None:
    # The tests run in tmp_path; "docs/..." sources keep prompts free of machine paths.
    shutil.copytree(DOCS, tmp_path / "docs")


@pytest.mark.vcr
@pytest.mark.parametrize("config", ["cfg", "openai_cfg"])
def test_same_flow_twice_sends_byte_identical_requests(
    config: str, request: pytest.FixtureRequest, docs_here: None, vcr: Any
) -> None:
    cfg: RagConfig = request.getfixturevalue(config)
    with sent_requests() as first:
        the_flow(cfg)
    with sent_requests() as second:
        the_flow(cfg)
    paths = {path for _, path, _, _ in first}
    expected = ({"/api/embed", "/api/chat"} if config == "cfg"
                else {"/v1/embeddings", "/v1/chat/completions"})
    assert expected <= paths, paths
    assert not differences(first, second), "\n".join(differences(first, second))
    # The cassette holds both runs as recorded: they were identical then too.
    recorded = [(r.method, r.path, r.body) for r in vcr.requests]
    half = len(recorded) // 2
    assert half == len(first) and recorded[:half] == recorded[half:]


# --- Qdrant ---------------------------------------------------------------------------


def _encode(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", exclude_unset=True)
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, (set, frozenset)):
        raise TypeError(f"a set in a Qdrant call has no stable order: {value!r}")
    return repr(value)


def recording_client(calls: list[str]) -> QdrantClient:
    """An in-memory client noting each public call as JSON, as a server would receive it."""
    client = QdrantClient(location=":memory:")
    for name in dir(QdrantClient):
        # close() sends nothing, and garbage collection calls it at any time.
        if name.startswith("_") or name == "close" or not callable(getattr(QdrantClient, name)):
            continue
        method = getattr(client, name)

        def wrapper(*args: Any, __name: str = name, __method: Callable[..., Any] = method,
                    **kwargs: Any) -> Any:
            calls.append(__name + " " + json.dumps([args, kwargs], default=_encode))
            return __method(*args, **kwargs)

        setattr(client, name, wrapper)
    return client


def qdrant_flow(mode: str) -> list[str]:
    calls: list[str] = []
    cfg = RagConfig(qdrant={"location": ":memory:", "collection": "determinism"},
                    retrieval={"mode": mode, "k": 2})
    store = build_vector_store(cfg, embeddings=DeterministicFakeEmbedding(size=8),
                               client=recording_client(calls))
    assert ingest(["docs"], cfg, store=store).added == 4
    # Without ids: ragloom must not make random ones (langchain-qdrant uses uuid4).
    store.add_texts(["no id given", "no id given"], metadatas=[{"b": 1, "a": 2}, {"a": 2}])
    store.add_documents(store.similarity_search("keys", k=1))
    retriever = build_retriever(cfg, store)
    retriever.invoke("How often are API keys rotated?")
    return calls


@pytest.mark.parametrize("mode", ["dense", "hybrid"])
def test_qdrant_calls_are_identical_run_to_run(mode: str, docs_here: None) -> None:
    first, second = qdrant_flow(mode), qdrant_flow(mode)
    assert any(call.startswith("upsert ") for call in first)
    assert any(call.startswith("query_points ") for call in first)
    assert not differences(first, second), "\n".join(differences(first, second))


def test_ids_made_for_documents_without_ids_are_deterministic(docs_here: None) -> None:
    ids = []
    for _ in range(2):
        store = build_vector_store(
            RagConfig(qdrant={"location": ":memory:", "collection": "ids"}),
            embeddings=DeterministicFakeEmbedding(size=8), client=QdrantClient(":memory:"))
        ids.append(store.add_texts(["same", "same", "other"], metadatas=[{}, {}, {}]))
    assert ids[0] == ids[1]
    assert len(set(ids[0])) == 3  # equal texts in one call stay two documents

