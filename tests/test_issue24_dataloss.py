"""Issue 24, findings 12-14 and 21-26: nothing lost, nothing stored twice, clear errors.

Fake deterministic embeddings and local stores: no network. Each test fails on the
main branch before issue 24 and passes here.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ragloom.config import RagConfig
from ragloom.ingestion import ingest
from tests.test_ingest import CountingEmbeddings, by_source, fake_store, points
from tests.test_ingest_guarantees import folder_cfg, folder_store


def texts_of(store: object) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for payload in points(store).values():  # type: ignore[arg-type]
        found.setdefault(payload["metadata"]["source"], set()).add(payload["page_content"])
    return found


# --- finding 12: a root change never deletes the chunks of a file that still exists ----

def test_changing_ingest_root_keeps_a_different_file_of_the_same_name(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    p = tmp_path / "p"
    (p / "docs").mkdir(parents=True)
    (p / "a.md").write_text("Top a.md: the backups run nightly.\n")
    (p / "docs" / "a.md").write_text("Docs a.md: the keys rotate monthly.\n")
    cfg = folder_cfg(request, tmp_path / "store", root=str(p))
    store = folder_store(cfg, CountingEmbeddings())
    assert ingest([p], cfg, store=store).added == 2

    cfg.ingest.root = str(p / "docs")
    report = ingest([p / "docs"], cfg, store=store)  # no --prune
    assert report.chunks_deleted == 0
    stored = texts_of(store)
    top = Path(os.path.realpath(p / "a.md")).as_posix()
    assert stored == {top: {"Top a.md: the backups run nightly."},
                      "a.md": {"Docs a.md: the keys rotate monthly."}}
    assert report.unchanged == 1  # renamed in place, not re-embedded


# --- finding 14: after a root change, one file is stored once --------------------------

def test_a_root_change_leaves_no_file_stored_twice(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    p = tmp_path / "p"
    (p / "docs").mkdir(parents=True)
    (p / "docs" / "a.md").write_text("Alpha: the keys rotate monthly.\n")
    (tmp_path / "b.md").write_text("Beta: outside the first root.\n")
    cfg = folder_cfg(request, tmp_path / "store", root=str(p))
    embeddings = CountingEmbeddings()
    store = folder_store(cfg, embeddings)
    ingest([p, tmp_path / "b.md"], cfg, store=store)
    b_abs = Path(os.path.realpath(tmp_path / "b.md")).as_posix()
    assert set(by_source(store)) == {"docs/a.md", b_abs}
    count, calls = len(points(store)), embeddings.calls

    cfg.ingest.root = str(tmp_path)
    report = ingest([tmp_path], cfg, store=store, prune=True, glob="**/*.md")
    assert set(by_source(store)) == {"p/docs/a.md", "b.md"}
    assert len(points(store)) == count and embeddings.calls == calls
    assert (report.unchanged, report.deleted) == (2, 0)
    cfg.ingest.root = str(p)  # and back: still once each
    ingest([tmp_path], cfg, store=store, prune=True, glob="**/*.md")
    assert set(by_source(store)) == {"docs/a.md", b_abs}
    assert len(points(store)) == count and embeddings.calls == calls


def test_ingest_root_that_is_a_file_is_a_config_error(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    from ragloom.errors import ConfigError
    from tests.test_ingest import fake_cfg

    (tmp_path / "a.md").write_text("Alpha.\n")
    cfg = fake_cfg(request, ingest={"root": str(tmp_path / "a.md"), "chunk_size": 120,
                                    "chunk_overlap": 20})
    with pytest.raises(ConfigError, match="is a file, not a folder"):
        ingest([tmp_path / "a.md"], cfg, store=fake_store(cfg))


# --- finding 13: engine edge on an old local-mode folder --------------------------------

def _local_mode_folder(folder: Path, collection: str) -> None:
    from qdrant_client import QdrantClient, models

    client = QdrantClient(path=str(folder))
    client.create_collection(collection, vectors_config=models.VectorParams(
        size=2, distance=models.Distance.COSINE))
    client.upsert(collection, [models.PointStruct(id=1, vector=[1.0, 0.0], payload={})])
    client.close()


def test_edge_engine_on_a_local_mode_folder_is_refused_not_created_beside(
    tmp_path: Path,
) -> None:
    from ragloom.errors import ConfigError
    from ragloom.store import copy_collection, get_client, resolve_engine

    folder = tmp_path / "old"
    _local_mode_folder(folder, "ragloom")
    edge = RagConfig(qdrant={"location": str(folder), "engine": "edge"})
    with pytest.raises(ConfigError, match=r"qdrant.engine to 'local'.*copy_collection"):
        get_client(edge)
    assert not (folder / "edge").exists()
    default = RagConfig(qdrant={"location": str(folder)})
    assert resolve_engine(default) == "local"  # the old data still reads as it is
    # The documented conversion still works, and then the default is edge.
    local = RagConfig(qdrant={"location": str(folder), "engine": "local"})
    assert copy_collection(local, edge) == 1
    assert resolve_engine(default) == "edge"


# --- finding 26: store locations and copy_collection arguments ---------------------------

def test_store_location_that_is_a_file_or_cannot_be_made(tmp_path: Path) -> None:
    from ragloom.errors import ConfigError
    from ragloom.store import get_client

    afile = tmp_path / "afile"
    afile.write_text("x")
    for engine in ("edge", "local"):
        with pytest.raises(ConfigError, match="is a file, not a folder"):
            get_client(RagConfig(qdrant={"location": str(afile), "engine": engine}))
        with pytest.raises(ConfigError, match="cannot be created"):
            get_client(RagConfig(qdrant={"location": str(afile / "sub"), "engine": engine}))


def test_read_only_store_is_a_clear_error(tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from ragloom import _edge
    from ragloom.errors import ConfigError
    from ragloom.store import get_client

    def read_only(root: Path) -> None:  # what a chmod a-w folder does for a normal user
        raise PermissionError(13, "Permission denied", str(root / ".lock"))

    monkeypatch.setattr(_edge, "_lock_folder", read_only)
    with pytest.raises(ConfigError, match=r"cannot be written.*Make it writable"):
        get_client(RagConfig(qdrant={"location": str(tmp_path / "ro")}))


def test_copy_collection_batch_size_zero(request: pytest.FixtureRequest) -> None:
    from ragloom.errors import InvalidInput
    from ragloom.store import copy_collection
    from tests.test_ingest import fake_cfg

    src = fake_cfg(request)
    with pytest.raises(InvalidInput, match="batch_size must be at least 1"):
        copy_collection(src, fake_cfg(request, "-copy"), batch_size=0)


# --- finding 22: scheme-less base_url entries ---------------------------------------------

@pytest.mark.allow_hosts(["127.0.0.1"])
def test_scheme_less_base_url_entries_reach_the_server() -> None:
    from ragloom.providers import build_embeddings
    from tests.loopback_servers import one_at_a_time_server

    with one_at_a_time_server() as (url, served):
        bare = url.removeprefix("http://")
        cfg = RagConfig(embeddings={"model": "all-minilm", "base_url": f"{bare}, {bare}/",
                                    "max_retries": 0})
        assert cfg.embeddings.base_url == f"{url},{url}/"
        assert build_embeddings(cfg).embed_query("hello") == [0.6, 0.8]
    assert "/api/embed" in served


# --- finding 23: hybrid ties come back in one order -------------------------------------

@pytest.mark.parametrize("location", ["memory", "edge"])
def test_hybrid_ties_are_broken_by_point_id(
    tmp_path: Path, request: pytest.FixtureRequest, location: str
) -> None:
    folder = ":memory:" if location == "memory" else str(tmp_path / "store")
    cfg = folder_cfg(request, tmp_path, "hybrid")
    cfg.qdrant.location = folder
    store = folder_store(cfg, CountingEmbeddings())
    for n in range(12):  # the same text in twelve files: every score ties
        (tmp_path / f"f{n:02d}.txt").write_text("Backups run nightly at 02:00 UTC.\n")
    ingest(sorted(tmp_path.glob("f*.txt")), cfg, store=store)
    ids = sorted(points(store))
    for k in (1, 4, 12):
        runs = [[d.id for d, _ in store.retrieve_with_scores(
            "When do backups run?", k=k, fetch_k=20)] for _ in range(3)]
        assert runs == [ids[:k]] * 3


# --- finding 21: Ctrl-C during `ask` stops at once --------------------------------------

def _stalling_server() -> tuple[object, str, list[str]]:
    """An Ollama stand-in whose /api/chat takes a minute to answer."""
    import json
    import threading
    import time
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    served: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            served.append(self.path)
            if self.path == "/api/chat":
                time.sleep(60)
                answer = {"model": body["model"], "message": {"role": "assistant",
                          "content": "late"}, "done": True, "done_reason": "stop"}
            elif self.path == "/api/embed":
                answer = {"model": body["model"], "embeddings": [[0.6, 0.8]] * len(body["input"])}
            else:
                answer = {"model_info": {"bert.context_length": 2048},
                          "capabilities": ["completion", "embedding"]}
            data = json.dumps(answer).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}", served


@pytest.mark.allow_hosts(["127.0.0.1"])
@pytest.mark.parametrize("command_name", ["ask", "chat"])
def test_ctrl_c_during_ask_or_chat_stops_at_once(tmp_path: Path, command_name: str) -> None:
    import signal
    import subprocess
    import sys
    import time

    server, url, served = _stalling_server()
    try:
        (tmp_path / "docs").mkdir()
        (tmp_path / "docs" / "a.md").write_text("Backups run nightly at 02:00 UTC.\n")
        (tmp_path / "ragloom.yaml").write_text(
            f"llm: {{base_url: '{url}', model: m, max_retries: 0}}\n"
            f"embeddings: {{base_url: '{url}', model: e, max_retries: 0}}\n"
            "qdrant: {location: store}\n")
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
        env.pop("RAGLOOM_CONFIG", None)
        command = [sys.executable, "-m", "ragloom"]
        ingested = subprocess.run([*command, "ingest", "docs"], cwd=tmp_path, env=env,
                                  capture_output=True, text=True, timeout=120)
        assert ingested.returncode == 0, ingested.stderr
        arguments = ["ask", "When do backups run?"] if command_name == "ask" else ["chat"]
        ask = subprocess.Popen([*command, *arguments], cwd=tmp_path, env=env,
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
        if command_name == "chat":
            assert ask.stdin is not None
            ask.stdin.write("When do backups run?\n")
            ask.stdin.flush()
        deadline = time.monotonic() + 60
        while "/api/chat" not in served and time.monotonic() < deadline:
            time.sleep(0.05)
        assert "/api/chat" in served
        time.sleep(0.3)
        sent = time.monotonic()
        ask.send_signal(signal.SIGINT)
        _, stderr = ask.communicate(timeout=30)
        assert time.monotonic() - sent < 5  # not when the minute-long request ends
        assert ask.returncode == 130
        assert "interrupted: the answer was stopped." in stderr
        assert "Traceback" not in stderr
    finally:
        server.shutdown()


# --- finding 24: each named case, a clear error or a correct result ----------------------

def test_single_underscore_variable_warns(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAGLOOM_LLM_MODEL", "qwen2.5")
    with pytest.warns(UserWarning, match="two underscores, RAGLOOM_LLM__MODEL"):
        assert RagConfig().llm.model == "llama3.2"


@pytest.mark.parametrize("value", ["x", '{"location": ', "[1, 2]"])
def test_bad_section_variable_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    from ragloom.errors import ConfigError

    monkeypatch.setenv("RAGLOOM_QDRANT", value)
    with pytest.raises(ConfigError) as caught:
        RagConfig()
    message = str(caught.value)
    assert "RAGLOOM_QDRANT" in message and "None" not in message


@pytest.mark.parametrize(("spec", "words"), [
    ({"metadata.source": "a.md"}, "metadata keys already"),
    ({"chunk_index": 0.5}, "cannot be matched exactly"),
    ({"source": ["a.md", {"x": 1}]}, "cannot be matched exactly"),
])
def test_filters_that_would_match_nothing_or_crash(spec: dict[str, object], words: str) -> None:
    from ragloom.errors import ConfigError, InvalidInput
    from ragloom.retrievers import to_qdrant_filter

    with pytest.raises(ConfigError, match=words):
        RagConfig(retrieval={"filter": spec})
    with pytest.raises(InvalidInput, match=words):
        to_qdrant_filter(spec)


def test_a_fifo_named_on_the_command_line_is_skipped(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    import threading

    from tests.test_ingest import fake_cfg

    fifo = tmp_path / "pipe.md"
    os.mkfifo(fifo)
    (tmp_path / "a.md").write_text("Alpha: the keys rotate monthly.\n")
    cfg = fake_cfg(request)
    store = fake_store(cfg)
    result: list[object] = []
    worker = threading.Thread(target=lambda: result.append(
        ingest([fifo, tmp_path / "a.md"], cfg, store=store)), daemon=True)
    worker.start()
    worker.join(30)
    assert result, "ingest blocked on the FIFO"
    report = result[0]
    assert report.added == 1  # type: ignore[attr-defined]
    [failed] = report.failed  # type: ignore[attr-defined]
    assert "not a regular file" in failed.reason


def test_a_huge_question_is_refused_with_the_context_size(request: pytest.FixtureRequest) -> None:
    from langchain_core.embeddings import DeterministicFakeEmbedding
    from langchain_core.language_models import FakeListChatModel

    from ragloom import build_rag_chain, build_retriever
    from ragloom.errors import InvalidInput
    from tests.test_ingest import fake_cfg

    cfg = fake_cfg(request)
    fake_store(cfg, DeterministicFakeEmbedding(size=8))  # an empty collection
    llm = FakeListChatModel(responses=["The"])
    chain = build_rag_chain(cfg, llm=llm, retriever=build_retriever(
        cfg, embeddings=DeterministicFakeEmbedding(size=8)))
    with pytest.raises(InvalidInput, match=r"102,400 characters.*llm.num_ctx = 8192"):
        chain.invoke("x" * 102_400)
    assert chain.invoke("Who?")["answer"]  # an ordinary question still runs


@pytest.mark.parametrize("value", [".inf", float("inf"), "9" * 400, 10**400, float("nan")],
                         ids=["text-inf", "inf", "400-digit-text", "400-digit-int", "nan"])
def test_keep_alive_out_of_range(value: object) -> None:
    from ragloom.errors import ConfigError

    with pytest.raises(ConfigError, match="keep_alive"):
        RagConfig(llm={"keep_alive": value})


def test_bad_glob_is_a_clear_error(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    from ragloom.errors import ConfigError
    from tests.test_ingest import fake_cfg

    cfg = fake_cfg(request)
    with pytest.raises(ConfigError, match=r"glob pattern '\*\*/\[z-a\].md' is not valid"):
        ingest([tmp_path], cfg, store=fake_store(cfg), glob="**/[z-a].md")


def test_eval_json_to_a_missing_folder_is_refused_before_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from ragloom import evaluation
    from ragloom.cli import app

    ran: list[object] = []
    monkeypatch.setattr(evaluation, "evaluate", lambda *a, **k: ran.append(a))
    dataset = tmp_path / "q.jsonl"
    dataset.write_text('{"question": "q", "relevant_sources": ["a.md"]}\n')
    result = CliRunner().invoke(app, ["eval", str(dataset), "--json",
                                      str(tmp_path / "missing" / "x.json")])
    assert result.exit_code == 1 and not ran
    assert "does not exist" in result.output


# --- finding 25: a file name that is not UTF-8 -------------------------------------------

def test_a_non_utf8_file_name_is_reported_and_the_rest_ingested(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    from tests.test_ingest import fake_cfg

    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "a.md").write_text("Alpha: the keys rotate monthly.\n")
    with open(os.path.join(os.fsencode(folder), b"caf\xe9.md"), "w") as handle:
        handle.write("Beta: a Latin-1 name.\n")
    cfg = fake_cfg(request)
    store = fake_store(cfg)
    report = ingest([folder], cfg, store=store)
    assert report.added == 1
    [failed] = report.failed
    assert "not valid UTF-8" in failed.reason and "caf\\xe9.md" in failed.path
    failed.path.encode()  # printable
