"""Each sync/async twin of the provider layer, run over the same fake transport.

The pairs share one I/O-free core (`ragloom.providers._drive`) or one wrapper
(`ragloom.providers._errors.translating`); these tests run both drivers over the same
scripted server and compare what they return (or raise) and the requests they send.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from ragloom.errors import ModelNotFound
from ragloom.providers._ollama_api import ModelFacts
from ragloom.providers._ollama_embeddings import RagloomOllamaEmbeddings
from ragloom.providers._retry import AsyncRetryTransport, RetryTransport
from ragloom.providers._servers import (
    AsyncServerTransport,
    Server,
    ServerQueue,
    ServerTransport,
)

Handler = Callable[[httpx.Request], httpx.Response]


class Script:
    """A fake server: answers from `answer(request, n)`, records every request."""

    def __init__(self, answer: Callable[[httpx.Request, int], httpx.Response]) -> None:
        self.answer = answer
        self.requests: list[tuple[str, str, Any]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content) if request.content else None
        self.requests.append((request.method, str(request.url), body))
        return self.answer(request, len(self.requests))


def _outcome(call: Callable[[], Any]) -> Any:
    try:
        return ("returned", call())
    except Exception as exc:  # the class and the message: what a caller sees
        return ("raised", type(exc).__name__, str(exc))


def _twins(make: Callable[[Script], tuple[Callable[[], Any], Callable[[], Any]]],
           answer: Callable[[httpx.Request, int], httpx.Response]) -> tuple[Any, Any]:
    """Run the sync and the async twin, each over a fresh copy of the same script."""
    sync_script, async_script = Script(answer), Script(answer)
    sync_call, _ = make(sync_script)
    _, async_call = make(async_script)
    got_sync = _outcome(sync_call)
    got_async = _outcome(lambda: asyncio.run(async_call()))
    return (got_sync, sync_script.requests), (got_async, async_script.requests)


# --- RetryTransport / AsyncRetryTransport -------------------------------------------------

def _flaky(statuses: list[int | str]) -> Callable[[httpx.Request, int], httpx.Response]:
    def answer(request: httpx.Request, n: int) -> httpx.Response:
        status = statuses[min(n, len(statuses)) - 1]
        if status == "refused":
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(int(status), json={"attempt": n}, headers={"Retry-After": "0"})
    return answer


def _retrying(script: Script) -> tuple[Callable[[], Any], Callable[[], Any]]:
    def sync_call() -> Any:
        with httpx.Client(transport=RetryTransport(httpx.MockTransport(script),
                                                   max_retries=3, backoff_s=0.0)) as client:
            response = client.post("http://ollama/api/embed", json={"input": ["a"]})
            return response.status_code, response.json()

    async def async_call() -> Any:
        async with httpx.AsyncClient(transport=AsyncRetryTransport(
                httpx.MockTransport(script), max_retries=3, backoff_s=0.0)) as client:
            response = await client.post("http://ollama/api/embed", json={"input": ["a"]})
            return response.status_code, response.json()

    return sync_call, async_call


@pytest.mark.parametrize(("statuses", "attempts", "last"), [
    ([200], 1, ("returned", (200, {"attempt": 1}))),
    (["refused", 503, 429, 200], 4, ("returned", (200, {"attempt": 4}))),  # until it answers
    ([503] * 4 + [200], 4, ("returned", (503, {"attempt": 4}))),  # max_retries: the last answer
    ([404, 200], 1, ("returned", (404, {"attempt": 1}))),  # never retried
    (["refused"] * 5, 4, ("raised", "ConnectError", "refused")),  # the last error raised
])
def test_retry_transports_are_twins(statuses: list[int | str], attempts: int,
                                    last: Any) -> None:
    (got_sync, sent_sync), (got_async, sent_async) = _twins(_retrying, _flaky(statuses))
    assert got_sync == got_async == last
    assert sent_sync == sent_async
    assert len(sent_sync) == attempts


# --- ServerTransport / AsyncServerTransport -----------------------------------------------

def _down_first(request: httpx.Request, n: int) -> httpx.Response:
    if request.url.host == "a":
        raise httpx.ConnectError("refused", request=request)
    return httpx.Response(200, json={"served_by": request.url.host})


def _failing_over(script: Script) -> tuple[Callable[[], Any], Callable[[], Any]]:
    def servers() -> list[Server]:
        return [Server("ollama", url, ServerQueue(1)) for url in ("http://a:1", "http://b:1")]

    def sync_call() -> Any:
        pool = servers()
        with httpx.Client(transport=ServerTransport(pool, httpx.MockTransport(script))) as c:
            answers = [c.post("http://a:1/api/embed", json={"input": [i]}).json()
                       for i in range(3)]
        return answers, [(s.up, s.queue.in_flight) for s in pool]

    async def async_call() -> Any:
        pool = servers()
        async with httpx.AsyncClient(
                transport=AsyncServerTransport(pool, httpx.MockTransport(script))) as c:
            answers = [(await c.post("http://a:1/api/embed", json={"input": [i]})).json()
                       for i in range(3)]
        return answers, [(s.up, s.queue.in_flight) for s in pool]

    return sync_call, async_call


def test_server_transports_are_twins() -> None:
    (got_sync, sent_sync), (got_async, sent_async) = _twins(_failing_over, _down_first)
    assert got_sync == got_async
    assert sent_sync == sent_async
    # a refused, then b for good: a is skipped while it is down; every turn released
    assert got_sync[0] == "returned"
    answers, states = got_sync[1]
    assert answers == [{"served_by": "b"}] * 3
    assert states == [(False, 0), (True, 0)]
    assert [url for _, url, _ in sent_sync] == ["http://a:1/api/embed"] + [
        "http://b:1/api/embed"] * 3


# --- RagloomOllamaEmbeddings: embed_documents / aembed_documents ---------------------------

CONTEXT_CHARS = 40


def _ollama(request: httpx.Request, n: int) -> httpx.Response:
    body = json.loads(request.content)
    inputs = body["input"]
    if any(len(text) > CONTEXT_CHARS for text in inputs):
        return httpx.Response(400, json={"error": "the input length exceeds the context"
                                                  " length"})
    return httpx.Response(200, json={"model": body["model"], "embeddings": [
        [float(len(text)), float(sum(map(ord, text)) % 97), 1.0] for text in inputs]})


def _embedder(script: Script, model: str = "all-minilm",
              auto_pull: bool = False) -> RagloomOllamaEmbeddings:
    return RagloomOllamaEmbeddings(
        model=model, base_url="http://ollama:11434", auto_pull=auto_pull,
        sync_client_kwargs={"transport": httpx.MockTransport(script)},
        async_client_kwargs={"transport": httpx.MockTransport(script)})


@pytest.fixture
def facts_asked(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """`/api/show` answered without the network (context unknown: the server judges)."""
    import ragloom.providers._ollama_embeddings as module

    asked: list[str] = []

    def facts(url: str, model: str, **_: Any) -> ModelFacts:
        asked.append(model)
        return ModelFacts(context_length=None, capabilities=("embedding",))

    async def afacts(url: str, model: str, **_: Any) -> ModelFacts:
        return facts(url, model)

    monkeypatch.setattr(module, "model_facts", facts)
    monkeypatch.setattr(module, "amodel_facts", afacts)
    yield asked


TEXTS = ["short one", "a second short text",
         "this text is much longer than the forty characters the fake model takes",
         "", "tail"]


@pytest.mark.parametrize("texts", [TEXTS, TEXTS[:2], [], [TEXTS[2]]])
def test_embedding_twins_fit_batches_the_same_way(texts: list[str],
                                                  facts_asked: list[str]) -> None:
    def make(script: Script) -> tuple[Callable[[], Any], Callable[[], Any]]:
        model = _embedder(script)
        return (lambda: model.embed_documents(texts),
                lambda: model.aembed_documents(texts))

    (got_sync, sent_sync), (got_async, sent_async) = _twins(make, _ollama)
    assert got_sync == got_async
    assert got_sync[0] == "returned" and len(got_sync[1]) == len(texts)
    assert sent_sync == sent_async
    assert facts_asked == ["all-minilm", "all-minilm"]  # once per model, in each twin


def test_embedding_twins_refuse_the_same_way_with_too_long_fail(facts_asked: list[str]) -> None:
    def make(script: Script) -> tuple[Callable[[], Any], Callable[[], Any]]:
        model = _embedder(script)
        model.too_long = "fail"
        return (lambda: model.embed_documents(TEXTS), lambda: model.aembed_documents(TEXTS))

    (got_sync, sent_sync), (got_async, sent_async) = _twins(make, _ollama)
    assert got_sync == got_async and got_sync[0] == "raised"
    assert "embeddings.too_long" in got_sync[2]
    assert sent_sync == sent_async


def _missing_until_pulled(request: httpx.Request, n: int) -> httpx.Response:
    if request.url.path == "/api/pull":
        return httpx.Response(200, content=b'{"status": "success"}\n')
    if n == 1:
        return httpx.Response(404, json={"error": "model 'all-minilm' not found"})
    return _ollama(request, n)


@pytest.mark.parametrize("auto_pull", [True, False])
def test_auto_pull_twins(auto_pull: bool, facts_asked: list[str]) -> None:
    def make(script: Script) -> tuple[Callable[[], Any], Callable[[], Any]]:
        model = _embedder(script, auto_pull=auto_pull)
        return (lambda: model.embed_documents(TEXTS[:2]),
                lambda: model.aembed_documents(TEXTS[:2]))

    (got_sync, sent_sync), (got_async, sent_async) = _twins(make, _missing_until_pulled)
    assert got_sync == got_async
    assert sent_sync == sent_async
    paths = [url.rsplit("/", 1)[1] for _, url, _ in sent_sync]
    assert paths == (["embed", "pull", "embed"] if auto_pull else ["embed"])
    assert got_sync[0] == ("returned" if auto_pull else "raised")


# --- pull_model / apull_model ----------------------------------------------------------------

def _registry(request: httpx.Request, n: int) -> httpx.Response:
    model = json.loads(request.content)["model"]
    if model == "nosuch":
        return httpx.Response(500, json={"error": "pull model manifest: file does not exist"})
    lines = [{"status": "pulling manifest"},
             {"status": "downloading", "digest": "sha256:1", "total": 10, "completed": 10},
             {"status": "success"}]
    return httpx.Response(200, content=b"".join(json.dumps(x).encode() + b"\n"
                                                for x in lines))


@pytest.mark.parametrize("model", ["all-minilm", "nosuch"])
def test_pull_twins(model: str) -> None:
    import ollama

    from ragloom.providers._ollama_pull import apull_model, pull_model

    def make(script: Script) -> tuple[Callable[[], Any], Callable[[], Any]]:
        seen: list[Any] = []

        def sync_call() -> Any:
            client = ollama.Client(host="http://ollama:11434",
                                   transport=httpx.MockTransport(script))
            pull_model(model, client=client, on_progress=lambda p: seen.append(p.status))
            return seen

        async def async_call() -> Any:
            client = ollama.AsyncClient(host="http://ollama:11434",
                                        transport=httpx.MockTransport(script))
            await apull_model(model, client=client, on_progress=lambda p: seen.append(p.status))
            return seen

        return sync_call, async_call

    (got_sync, sent_sync), (got_async, sent_async) = _twins(make, _registry)
    assert got_sync == got_async
    assert sent_sync == sent_async
    if model == "nosuch":
        assert got_sync[:2] == ("raised", ModelNotFound.__name__)
    else:
        assert got_sync == ("returned", ["pulling manifest", "downloading", "success"])


# --- RagloomChatOpenAI: _generate / _agenerate (one translating wrapper) ---------------------

def _openai_server(request: httpx.Request, n: int) -> httpx.Response:
    body = json.loads(request.content)
    if body["model"] == "nosuch":
        return httpx.Response(404, json={"error": {"message": "model 'nosuch' not found",
                                                   "type": "not_found_error"}})
    return httpx.Response(200, json={
        "id": "c1", "object": "chat.completion", "created": 0, "model": body["model"],
        "choices": [{"index": 0, "finish_reason": "stop",
                     "message": {"role": "assistant", "content": "hello"}}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}})


@pytest.mark.parametrize("model", ["m1", "nosuch"])
def test_openai_chat_twins(model: str) -> None:
    import httpx2
    import openai

    from ragloom.providers.openai import RagloomChatOpenAI

    def make(script: Script) -> tuple[Callable[[], Any], Callable[[], Any]]:
        def mock(request: Any) -> Any:
            response = script(httpx.Request(request.method, str(request.url),
                                            content=request.content))
            return httpx2.Response(response.status_code, content=response.content,
                                   headers=dict(response.headers))

        llm = RagloomChatOpenAI(
            model=model, api_key="sk-test", base_url="http://gateway/v1", max_retries=0,
            http_client=openai.DefaultHttpxClient(transport=httpx2.MockTransport(mock)),
            http_async_client=openai.DefaultAsyncHttpxClient(
                transport=httpx2.MockTransport(mock)))
        return (lambda: llm.invoke("hi").content,
                lambda: _content(llm.ainvoke("hi")))

    (got_sync, sent_sync), (got_async, sent_async) = _twins(make, _openai_server)
    assert got_sync == got_async
    assert sent_sync == sent_async
    if model == "nosuch":
        assert got_sync[:2] == ("raised", ModelNotFound.__name__)
    else:
        assert got_sync == ("returned", "hello")


async def _content(call: Any) -> Any:
    return (await call).content


# --- ingest / aingest: one run object, one I/O-free plan (ragloom._ingest_plan) ------------

class RecordingEmbeddings:
    """A fake embedder for both faces: records each request's texts, fails on cue."""

    def __init__(self, fail_on_call: int | None = None) -> None:
        from langchain_core.embeddings import DeterministicFakeEmbedding

        self.inner = DeterministicFakeEmbedding(size=8)
        self.requests: list[tuple[str, ...]] = []
        self.fail_on_call = fail_on_call

    def _record(self, texts: list[str]) -> list[list[float]]:
        self.requests.append(tuple(texts))
        if self.fail_on_call is not None and len(self.requests) >= self.fail_on_call:
            raise ConnectionError(f"embedding server went away on call {len(self.requests)}")
        return self.inner.embed_documents(texts)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self._record(texts)

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        await asyncio.sleep(0)
        return self._record(texts)

    def embed_query(self, text: str) -> list[float]:
        return self.inner.embed_query(text)


def _corpus(folder: Any) -> None:
    """Files of several sizes (many batches), an empty one and one without a loader."""
    folder.mkdir()
    for i in range(7):
        words = " ".join(f"word{i}x{j}" for j in range(40 + 60 * i))
        (folder / f"note{i}.md").write_text(f"# Note {i}\n\n{words}\n", encoding="utf-8")
    (folder / "empty.txt").write_text("", encoding="utf-8")
    (folder / "keys.key").write_bytes(b"\x00\x01")


def _change(folder: Any) -> None:
    (folder / "note2.md").write_text("# Note 2\n\nrewritten entirely\n", encoding="utf-8")
    (folder / "note5.md").unlink()
    (folder / "added.txt").write_text("a file that came later " * 30, encoding="utf-8")


def _ingest_twin(folder: Any, *, entry: str, concurrency: int,
                 fail_on_call: int | None = None) -> dict[str, Any]:
    """Run `entry` (ingest or aingest) over `folder`, changed between two runs."""
    from langchain_core.embeddings import Embeddings

    from ragloom.config import RagConfig
    from ragloom.ingestion import aingest, ingest
    from ragloom.store import build_vector_store
    cfg = RagConfig(qdrant={"location": ":memory:", "collection": f"twin_{entry}"},
                    ingest={"chunk_size": 200, "chunk_overlap": 20, "root": str(folder)},
                    embeddings={"batch_size": 3, "max_concurrency": concurrency})
    embedder = RecordingEmbeddings(fail_on_call)
    Embeddings.register(RecordingEmbeddings)
    store = build_vector_store(cfg, embeddings=embedder)  # type: ignore[arg-type]
    outcome: dict[str, Any] = {"reports": [], "events": []}

    def run(prune: bool) -> Any:
        events: list[Any] = []
        kwargs: dict[str, Any] = {"store": store, "prune": prune, "on_progress": events.append}
        try:
            if entry == "ingest":
                report = ingest([folder], cfg, **kwargs)
            else:
                report = asyncio.run(aingest([folder], cfg, **kwargs))
        except Exception as exc:
            return ("raised", type(exc).__name__, str(exc))
        finally:
            outcome["events"].append([(e.files_done, e.files_total, e.chunks_done, e.path,
                                       e.status, e.chunks_queued, e.pages_done)
                                      for e in events])
        report.duration_s = 0.0
        return report

    outcome["reports"].append(run(prune=False))
    _change(folder)
    embedder.fail_on_call = None
    outcome["reports"].append(run(prune=True))
    points, _ = store.client.scroll(store.collection_name, limit=10_000, with_vectors=True)
    outcome["points"] = sorted((str(p.id), json.dumps(p.payload, sort_keys=True),
                                repr(p.vector)) for p in points)
    outcome["requests"] = embedder.requests
    return outcome


@pytest.mark.parametrize("fail_on_call", [None, 4])
def test_ingest_twins_store_and_request_the_same(tmp_path: Any, fail_on_call: int | None) -> None:
    """One request slot: the same reports, events, points and requests, in the same order."""
    import shutil

    _corpus(tmp_path / "corpus")
    shutil.copytree(tmp_path / "corpus", tmp_path / "pristine")
    got_sync = _ingest_twin(tmp_path / "corpus", entry="ingest", concurrency=1,
                            fail_on_call=fail_on_call)
    shutil.rmtree(tmp_path / "corpus")
    shutil.copytree(tmp_path / "pristine", tmp_path / "corpus")
    got_async = _ingest_twin(tmp_path / "corpus", entry="aingest", concurrency=1,
                             fail_on_call=fail_on_call)
    assert got_sync["reports"] == got_async["reports"]
    assert got_sync["events"] == got_async["events"]
    assert got_sync["requests"] == got_async["requests"]
    assert got_sync["points"] == got_async["points"]
    first, second = got_sync["reports"]
    if fail_on_call is None:
        assert (first.added, first.skipped, [f.path for f in first.failed]) == (
            7, {".key": 1}, ["empty.txt"])
        assert (second.added, second.updated, second.unchanged, second.deleted) == (1, 1, 5, 1)
        assert len(got_sync["requests"][0]) == 3  # batches of embeddings.batch_size
    else:  # the failed request is the last one: its freed slot sends nothing more
        assert first == ("raised", "ConnectionError", "embedding server went away on call 4")
        assert len(got_sync["events"][0]) > 0
        assert second.failed == [f for f in second.failed if f.path == "empty.txt"]
    # every point stored is a chunk of a file that is there now
    sources = {json.loads(payload)["metadata"]["source"] for _, payload, _ in got_sync["points"]}
    assert "note5.md" not in sources and "added.txt" in sources


def test_ingest_twins_with_requests_in_flight(tmp_path: Any) -> None:
    """Two request slots: the same batches (in any order), reports and points."""
    import shutil

    _corpus(tmp_path / "corpus")
    shutil.copytree(tmp_path / "corpus", tmp_path / "pristine")
    got_sync = _ingest_twin(tmp_path / "corpus", entry="ingest", concurrency=2)
    shutil.rmtree(tmp_path / "corpus")
    shutil.copytree(tmp_path / "pristine", tmp_path / "corpus")
    got_async = _ingest_twin(tmp_path / "corpus", entry="aingest", concurrency=2)
    assert got_sync["reports"] == got_async["reports"]
    assert sorted(got_sync["requests"]) == sorted(got_async["requests"])
    assert got_sync["points"] == got_async["points"]


# --- RagloomVectorStore.retrieve_with_scores / aretrieve_with_scores, the retrievers -------
# One core (`RagloomVectorStore._retrieving`, `MultiQueryRetriever._fused`) under `drive`
# and `adrive`: both paths run over the same store and must return the same documents
# and scores, and send the same embedding and Qdrant requests in the same order.

_TEXTS = [
    ("To rotate the API keys, open Settings > Security.", {"source": "keys.md", "tenant": "acme"}),
    ("API keys are rotated in Settings > Security.", {"source": "copy.md", "tenant": "globex"}),
    ("Backups run nightly at 02:00 UTC.", {"source": "backups.md", "tenant": "acme"}),
    ("The cafeteria serves lunch from noon.", {"source": "lunch.md", "tenant": "globex"}),
    ("Error ERR-4711 means the licence was rejected.", {"source": "errors.md", "tenant": "acme"}),
]


class _Recording:
    """A proxy that records each call of `names` (with its arguments) in `log`."""

    def __init__(self, target: Any, log: list[Any], *names: str) -> None:
        self._target, self._log, self._names = target, log, names

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._target, name)
        if name not in self._names:
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            self._log.append((name, args, repr(sorted(kwargs.items()))))
            return attr(*args, **kwargs)
        return call


def _fake_embedder(log: list[Any]) -> Any:
    from langchain_core.embeddings import DeterministicFakeEmbedding

    class Logged(DeterministicFakeEmbedding):
        def embed_query(self, text: str) -> list[float]:  # aembed_query runs this too
            log.append(("embed_query", text))
            return super().embed_query(text)

    return Logged(size=16)


@pytest.fixture(params=["local", "edge"])
def engine(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[dict[str, Any]]:
    from ragloom.store import close_clients

    location = ":memory:" if request.param == "local" else str(tmp_path / "edge")
    yield {"engine": request.param, "location": location}
    close_clients()


def _store(engine: dict[str, Any], mode: str, log: list[Any], name: str) -> Any:
    from langchain_core.documents import Document

    from ragloom import RagConfig, build_vector_store

    cfg = RagConfig(qdrant={**engine, "collection": f"twins_{mode}_{name}"},
                    retrieval={"mode": mode})
    store = build_vector_store(cfg, embeddings=_fake_embedder(log), recreate=True)
    store.add_documents([Document(t, metadata=m) for t, m in _TEXTS],
                        ids=[m["source"] for _, m in _TEXTS])
    store._client = _Recording(store.client, log, "query_points")  # its property's field
    log.clear()  # from here on: what a search asks
    return store


def _docs(docs: list[Any]) -> list[Any]:
    return [(d.id, d.page_content, sorted(d.metadata.items())) for d in docs]


_SEARCHES = [  # (mode, retriever settings, per-call arguments)
    ("dense", {"k": 3}, {}),
    ("dense", {"k": 2, "search": "mmr", "fetch_k": 5, "lambda_mult": 0.3}, {}),
    ("dense", {"k": 4, "search": "threshold", "score_threshold": 0.0}, {"k": 2}),
    ("sparse", {"k": 2}, {"filter": {"tenant": "acme"}}),
    ("hybrid", {"k": 3, "fetch_k": 4, "filter": {"source": ["keys.md", "copy.md", "lunch.md"]}},
     {}),
    ("hybrid", {"k": 3}, {"user": {"tenant": "acme"}}),
    ("hybrid", {"k": 3}, {"k": 0}),  # refused the same way
    ("dense", {"k": 2, "search": "mmr"}, {"k": 20_000}),  # over Qdrant's MMR ceiling
]


@pytest.mark.parametrize(("mode", "settings", "call"), _SEARCHES)
def test_retriever_twins_search_alike(engine: dict[str, Any], mode: str,
                                      settings: dict[str, Any], call: dict[str, Any]) -> None:
    from ragloom import RagloomRetriever

    results = []
    for name in ("sync", "async"):
        log: list[Any] = []
        retriever = RagloomRetriever(store=_store(engine, mode, log, name), **settings)
        got = _outcome(_runner(retriever, name, "rotate API keys", **call))
        results.append((got, [_named(entry, name) for entry in log]))
    (got_sync, sent_sync), (got_async, sent_async) = results
    assert got_sync == got_async
    assert sent_sync == sent_async
    if "k" in call and call["k"] in (0, 20_000):
        assert got_sync[:2] == ("raised", "ConfigError")
    else:
        assert got_sync[0] == "returned" and got_sync[1], got_sync
        assert any(entry[0] == "query_points" for entry in sent_sync)
    if "user" in call:
        assert {dict(meta)["tenant"] for _, _, meta in got_sync[1]} == {"acme"}


def _runner(retriever: Any, name: str, *args: Any, **kwargs: Any) -> Callable[[], Any]:
    """`invoke` (sync) or `ainvoke` (async) with these arguments, as comparable results."""
    if name == "sync":
        return lambda: _docs(retriever.invoke(*args, **kwargs))
    return lambda: _docs(asyncio.run(retriever.ainvoke(*args, **kwargs)))


def _named(entry: Any, name: str) -> Any:
    # Requests name their collection, which differs only by the path's name.
    return tuple(str(part).replace(f"_{name}", "_PATH") for part in entry)


def test_store_twins_return_the_same_scores(engine: dict[str, Any]) -> None:
    stores = [_store(engine, "hybrid", [], name) for name in ("sync", "async")]
    sync = stores[0].retrieve_with_scores("rotate API keys", k=3, fetch_k=5)
    async_ = asyncio.run(stores[1].aretrieve_with_scores("rotate API keys", k=3, fetch_k=5))
    assert [(d.id, d.metadata, s) for d, s in sync] == [(d.id, d.metadata, s) for d, s in async_]
    assert len(sync) == 3 and all("relevance" in d.metadata for d, _ in sync)


@pytest.mark.parametrize("reply", ["1. key rotation\n2. rotate API keys\n- changing keys", ""])
def test_multi_query_twins(engine: dict[str, Any], reply: str) -> None:
    from langchain_core.callbacks import BaseCallbackHandler
    from langchain_core.language_models import FakeListChatModel

    from ragloom import MultiQueryRetriever, RagloomRetriever

    class Queries(BaseCallbackHandler):
        def __init__(self) -> None:
            self.seen: list[str] = []

        def on_retriever_start(self, serialized: Any, query: str, **kwargs: Any) -> None:
            self.seen.append(query)

    results = []
    for name in ("sync", "async"):
        log: list[Any] = []
        mq = MultiQueryRetriever(
            retriever=RagloomRetriever(store=_store(engine, "dense", log, name), k=4),
            llm=FakeListChatModel(responses=[reply]), k=2, n_queries=3)
        queries = Queries()
        got = _outcome(_runner(mq, name, "rotate API keys", {"callbacks": [queries]},
                               filter={"tenant": "acme"}))
        results.append((got, sorted(queries.seen), sorted(
            repr(_named(entry, name)) for entry in log)))
    (got_sync, seen_sync, sent_sync), (got_async, seen_async, sent_async) = results
    assert got_sync == got_async and got_sync[0] == "returned" and len(got_sync[1]) == 2
    assert all(dict(meta)["tenant"] == "acme" for _, _, meta in got_sync[1])
    # the async searches run concurrently: the same requests, in any order
    assert seen_sync == seen_async and sent_sync == sent_async
    # the outer run, the question, then each new variant (the question's repeat dropped)
    assert len(seen_sync) == (1 + 1 + 2 if reply else 1 + 1)
