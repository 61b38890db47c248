"""`ragloom.testing`, the pytest plugin apps test their RAG code with."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import httpx
import pytest
import vcr
from vcr.errors import CannotOverwriteExistingCassetteException
from vcr.request import Request

import ragloom.testing
from ragloom import RagConfig
from ragloom.store import get_client
from ragloom.testing import IngestFolder, collection_for, is_qdrant_request, vcr_config
from tests.test_secrets import FakeServer, server  # noqa: F401  (fixture)

DOCS = Path(__file__).parent / "example_app" / "docs"


def run_pytest(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run pytest in a fresh process, as an app's test suite would be run."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAGLOOM_", "PYTEST_"))}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
        cwd=folder, env=env, capture_output=True, text=True, timeout=120, check=False)


# --- inert unless used ----------------------------------------------------------------


def test_importing_needs_neither_vcrpy_nor_pytest_recording() -> None:
    code = ("import sys; sys.modules['vcr'] = sys.modules['pytest_recording'] = None\n"
            "import ragloom.testing as t; print(sorted(t.vcr_config()['filter_headers'])[0])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "api-key"


def test_plugin_is_loaded_and_inert_even_without_pytest_recording(tmp_path: Path) -> None:
    (tmp_path / "test_plain.py").write_text(textwrap.dedent("""
        import sys

        def test_plain(request):
            # the plugin is loaded, yet none of its fixtures is used: nothing autouse
            assert "ragloom.testing" in sys.modules
            mine = {"ragloom_vcr_config", "rag_config", "rag_chain", "ingest_folder"}
            assert not mine & set(request.fixturenames)
    """))
    for args in ([], ["-p", "no:recording"]):
        result = run_pytest(tmp_path, *args)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "1 passed" in result.stdout
    listed = run_pytest(tmp_path, "--fixtures").stdout
    assert "rag_config" in listed and "ingest_folder" in listed


def test_missing_recording_says_what_where_and_how(tmp_path: Path) -> None:
    (tmp_path / "conftest.py").write_text(textwrap.dedent("""
        import pytest
        import ragloom.testing

        @pytest.fixture(scope="module")
        def vcr_config():
            return ragloom.testing.vcr_config()
    """))
    (tmp_path / "test_app.py").write_text(textwrap.dedent("""
        import httpx
        import pytest

        @pytest.mark.vcr
        def test_embed():
            httpx.post("http://127.0.0.1:9/api/embed", json={"model": "m", "input": ["q"]})
    """))
    result = run_pytest(tmp_path, "--record-mode=none")
    assert result.returncode == 1
    report = result.stdout
    assert "ragloom: no recording" in report
    assert 'POST /api/embed with body {"model":"m","input":["q"]}' in report
    assert str(Path("cassettes") / "test_app" / "test_embed.yaml") in report
    assert "pytest test_app.py::test_embed --record-mode=rewrite" in report


# --- vcr_config -----------------------------------------------------------------------


@pytest.mark.allow_hosts(["127.0.0.1"])
def test_cassette_replays_against_another_host_and_port(
    server: FakeServer, tmp_path: Path  # noqa: F811
) -> None:
    cassette = str(tmp_path / "c.yaml")
    recording = vcr.VCR(**vcr_config())
    recording.register_matcher("json_body", ragloom.testing.json_body_matcher)
    with recording.use_cassette(cassette, record_mode="all"):
        recorded = httpx.post(f"{server.url}/api/embed",
                              json={"model": "m", "input": ["a", "b"]}).json()
    served = len(server.seen)
    with recording.use_cassette(cassette, record_mode="none"):
        # Another port and host spelling, keys in another order: the same request.
        replayed = httpx.post("http://localhost:11434/api/embed",
                              content=b'{"input": ["a", "b"], "model": "m"}').json()
        assert replayed == recorded
        with pytest.raises(CannotOverwriteExistingCassetteException):
            httpx.post("http://localhost:11434/api/embed", json={"model": "m", "input": ["c"]})
    assert len(server.seen) == served  # replay never reached the server


def test_json_body_matcher_compares_data_then_bytes() -> None:
    def req(body: bytes) -> Request:
        return Request("POST", "http://h/api/chat", body, {})

    ragloom.testing.json_body_matcher(req(b'{"a": [1, 2], "b": null}'),
                                      req(b'{"b":null,"a":[1,2]}'))
    with pytest.raises(AssertionError):
        ragloom.testing.json_body_matcher(req(b'{"a": [1, 2]}'), req(b'{"a": [2, 1]}'))
    with pytest.raises(AssertionError):
        ragloom.testing.json_body_matcher(req(b"not json"), req(b"not json!"))


def test_qdrant_server_requests_are_recognised() -> None:
    agent = {"User-Agent": "python-client/1.20.0 python/3.11.9"}
    assert is_qdrant_request(Request("PUT", "https://q.cloud:443/collections/x", b"{}", agent))
    assert is_qdrant_request(Request("GET", "http://qdrant:6333/collections", None, {}))
    assert not is_qdrant_request(Request("POST", "http://ollama:11434/api/chat", b"{}",
                                         {"User-Agent": "ollama-python/0.6.3"}))
    assert "before_record_request" in vcr_config()
    assert ragloom.testing._leave_qdrant_alone not in vcr_config(record_qdrant=True)[
        "before_record_request"]


# --- fixtures -------------------------------------------------------------------------


def test_rag_config_is_in_memory_with_a_collection_of_its_own(
    rag_config: RagConfig, request: pytest.FixtureRequest
) -> None:
    assert rag_config.qdrant.location == ":memory:"
    assert rag_config.qdrant.url is None
    assert rag_config.qdrant.collection == collection_for(request.node.nodeid)
    assert collection_for(request.node.nodeid) != collection_for(request.node.nodeid + "x")


@pytest.fixture
def qdrant_url_in_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAGLOOM_QDRANT__URL", "http://qdrant.invalid:6333")
    monkeypatch.setenv("RAGLOOM_LLM__MODEL", "from-env")


def test_rag_config_ignores_a_qdrant_server_from_the_environment(
    qdrant_url_in_env: None, rag_config: RagConfig
) -> None:
    assert rag_config.qdrant.url is None and rag_config.qdrant.location == ":memory:"
    assert rag_config.llm.model == "from-env"  # models still come from the usual sources


def test_ingest_folder_stores_sources_relative_to_the_folder(
    ingest_folder: IngestFolder, rag_config: RagConfig, tmp_path: Path, fake_embeddings: Any
) -> None:
    report = ingest_folder(DOCS)
    assert report.ok and report.added == 4
    assert Path.cwd() == tmp_path  # the working directory is restored
    points, _ = get_client(rag_config).scroll(rag_config.qdrant.collection, limit=100)
    sources = {p.payload["metadata"]["source"] for p in points if p.payload}
    assert sources == {"docs/backups.md", "docs/cafeteria.md", "docs/keys.md", "docs/vpn.md"}
    one = ingest_folder(DOCS / "keys.md", relative_to=DOCS.parent.parent)
    # Another root renames what is stored (issue 24): nothing re-embedded or stored twice.
    assert (one.unchanged, one.added, one.updated) == (1, 0, 0)
    points, _ = get_client(rag_config).scroll(rag_config.qdrant.collection, limit=100)
    renamed = {p.payload["metadata"]["source"] for p in points if p.payload}
    prefix = DOCS.parent.relative_to(DOCS.parent.parent).as_posix()
    assert renamed == {f"{prefix}/{source}" for source in sources}


@pytest.fixture
def fake_embeddings(monkeypatch: pytest.MonkeyPatch) -> None:
    """No model server here: embed with LangChain's deterministic fake."""
    from langchain_core.embeddings import DeterministicFakeEmbedding

    import ragloom.store

    real = ragloom.store.build_vector_store

    def build(cfg: Any = None, **kwargs: Any) -> Any:
        kwargs.setdefault("embeddings", DeterministicFakeEmbedding(size=8))
        return real(cfg, **kwargs)

    monkeypatch.setattr(ragloom.store, "build_vector_store", build)
    import ragloom.ingestion

    opened = ragloom.ingestion.open_target  # what ingest() writes to without a store

    def open_target(cfg: Any = None, **kwargs: Any) -> Any:
        kwargs.setdefault("embeddings", DeterministicFakeEmbedding(size=8))
        return opened(cfg, **kwargs)

    monkeypatch.setattr(ragloom.ingestion, "open_target", open_target)


class TestCollectionIsDroppedAfterTheTest:
    names: list[str] = []

    def test_a(self, rag_config: RagConfig) -> None:
        get_client(rag_config).create_collection(rag_config.qdrant.collection, vectors_config={})
        self.names.append(rag_config.qdrant.collection)

    def test_b(self, rag_config: RagConfig) -> None:
        assert self.names, "runs after test_a"
        assert not get_client(rag_config).collection_exists(self.names[0])
