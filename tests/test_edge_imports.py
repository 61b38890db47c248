"""Imports follow the work: an ingest into the Edge engine loads no qdrant-client.

`python -m ragloom ingest` (and `ragloom.ingest(paths, cfg)`) into the default Edge
store never imports `langchain_qdrant` or `qdrant_client`: it writes through ragloom's
light Qdrant types (`ragloom._points`). The LangChain `VectorStore` face still loads
them when it runs, and what lands in the collection is the same whichever way it was
written, and on local mode (where the light types are converted to qdrant-client's).

The processes embed against the benchmarks' loopback Ollama-API embedder (deterministic
vectors from the text's hash; 127.0.0.1 only), started inside the child process.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from langchain_core.embeddings import DeterministicFakeEmbedding

from ragloom import RagConfig, build_vector_store, ingest
from ragloom.store import close_clients

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("langchain_qdrant", "qdrant_client")
DOCS = {
    "keys.md": "# API keys\n\nRotate the API keys every 90 days from the Settings page.",
    "backups.txt": "Backups run every night at 02:00 UTC and are kept for 30 days.",
    "lunch.txt": "The cafeteria serves lunch from noon to 2 pm.",
}

# Runs in a fresh process: the embedder, then `code`; reports at the very end of the
# process (an atexit handler registered first runs last) which heavy modules were loaded.
_PROBE = """
import atexit, os, sys
atexit.register(lambda: print("HEAVY", *sorted(m for m in {heavy!r} if m in sys.modules)))
from tests.benchmarks.bench_process_ingest import embedder
with embedder(0.0) as (url, server):
    os.environ["RAGLOOM_EMBEDDINGS__BASE_URL"] = url
{code}
    print("EMBEDS", server.requests)
"""


def _run(code: str, cwd: Path) -> dict[str, list[str]]:
    """Run `code` (indented for the probe) in a fresh process; its tagged output lines."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAGLOOM_")}
    env.update(PYTHONPATH=os.pathsep.join([str(ROOT / "src"), str(ROOT)]), NO_COLOR="1",
               COLUMNS="120", RAGLOOM_EMBEDDINGS__MODEL="all-minilm",
               RAGLOOM_QDRANT__LOCATION=str(cwd / "store"))
    proc = subprocess.run([sys.executable, "-c", _PROBE.format(heavy=HEAVY, code=code)],
                          cwd=cwd, env=env, capture_output=True, text=True, check=False,
                          timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    tagged = [line.split() for line in proc.stdout.splitlines()
              if line.startswith(("HEAVY", "EMBEDS", "FOUND", "MID"))]
    return {parts[0]: parts[1:] for parts in tagged}


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    folder = tmp_path / "docs"
    folder.mkdir()
    for name, text in DOCS.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


_CLI = """
    import runpy
    sys.argv = ["ragloom", "ingest", "docs"]
    try:
        runpy.run_module("ragloom", run_name="__main__", alter_sys=True)
    except SystemExit as exc:
        assert not exc.code, exc.code
"""


def test_the_cli_ingest_into_edge_and_its_rerun_import_no_qdrant_client(
        docs: Path, tmp_path: Path) -> None:
    first = _run(_CLI, tmp_path)
    assert int(first["EMBEDS"][0]) > 0  # it did embed and write
    assert (tmp_path / "store" / "edge" / "ragloom" / "shard").is_dir()
    assert first["HEAVY"] == []
    again = _run(_CLI, tmp_path)
    assert again["EMBEDS"] == ["0"]  # unchanged: no embedding call
    assert again["HEAVY"] == []


def test_the_api_ingest_imports_none_and_the_vector_store_face_still_works(
        docs: Path, tmp_path: Path) -> None:
    code = f"""
    from ragloom import RagConfig, ingest
    cfg = RagConfig()
    report = ingest(["docs"], cfg)
    assert report.added == 3 and not report.failed, report
    print("MID", *sorted(m for m in {HEAVY!r} if m in sys.modules))
    from ragloom import build_vector_store
    store = build_vector_store(cfg)  # the LangChain VectorStore face on the same folder
    hits = store.similarity_search("When do backups run?", k=3)  # k=1 would tie in RRF
    print("FOUND", *[d.metadata["source"] for d in hits])
"""
    out = _run(code, tmp_path)
    assert out["MID"] == []
    assert out["FOUND"][0] == "docs/backups.txt"  # BM25 and dense vectors both read back
    assert sorted(out["FOUND"]) == [f"docs/{name}" for name in sorted(DOCS)]
    assert out["HEAVY"] == sorted(HEAVY)  # loaded, lazily, by the path that needs them


# --- the same data whichever way it is written ------------------------------------------

@pytest.fixture(autouse=True)
def _closed_after() -> Iterator[None]:
    yield
    close_clients()


def _points(cfg: RagConfig) -> list[tuple[str, Any, Any]]:
    from ragloom.store import get_client

    client = get_client(cfg)
    records, _ = client.scroll(cfg.qdrant.collection, limit=1000, with_payload=True,
                               with_vectors=True)

    def vectors(value: dict[str, Any]) -> dict[str, Any]:
        return {name: (list(v.indices), [round(x, 6) for x in v.values])
                if hasattr(v, "indices") else [round(x, 6) for x in v]
                for name, v in value.items()}

    return sorted((str(r.id), r.payload, vectors(r.vector)) for r in records)


def test_light_and_vector_store_writes_land_the_same_on_edge_and_local(
        docs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import ragloom.providers

    fake = DeterministicFakeEmbedding(size=8)
    monkeypatch.setattr(ragloom.providers, "build_embeddings", lambda cfg: fake)
    monkeypatch.chdir(tmp_path)
    light = RagConfig(qdrant={"location": str(tmp_path / "a"), "collection": "same"})
    ingest(["docs"], light)  # no store: the light path
    face = RagConfig(qdrant={"location": str(tmp_path / "b"), "collection": "same"})
    ingest(["docs"], face, store=build_vector_store(face, embeddings=fake))
    local = RagConfig(qdrant={"location": ":memory:", "collection": "same_local"})
    ingest(["docs"], local)  # local mode: light types converted to qdrant-client's
    written = _points(light)
    assert len(written) == 3
    assert set(written[0][2]) == {"", "langchain-sparse"}  # dense and sparse
    assert written == _points(face) == _points(local)


# --- the light types ------------------------------------------------------------------------

def test_the_light_types_convert_to_what_qdrant_client_built_before() -> None:
    from qdrant_client import models

    from ragloom import _points as light
    from ragloom._access import Access, access_indexes, any_access, same_access
    from ragloom._points import PointStruct, SparseVector, to_qdrant

    want = Access(tenant="acme", groups=["hr"])
    assert to_qdrant(same_access(want)) == models.Filter(
        must=[models.FieldCondition(key="metadata.tenant", match=models.MatchValue(value="acme")),
              models.IsEmptyCondition(is_empty=models.PayloadField(key="metadata.classification")),
              models.Filter(must=[models.FieldCondition(key="metadata.groups",
                                                        match=models.MatchValue(value="hr"))])],
        must_not=[models.FieldCondition(key="metadata.groups",
                                        match=models.MatchExcept(**{"except": ["hr"]}))])
    assert to_qdrant(any_access()).should[0] == models.Filter(must_not=[
        models.IsEmptyCondition(is_empty=models.PayloadField(key="metadata.tenant"))])
    point = to_qdrant(PointStruct(id=1, vector={"s": SparseVector(indices=[3], values=[0.5])},
                                  payload={"a": [1.0]}))
    assert isinstance(point, models.PointStruct)
    assert point.vector["s"] == models.SparseVector(indices=[3], values=[0.5])
    # What collection creation and the payload indexes send (cf. _collection._create).
    assert to_qdrant(access_indexes()[0][1]) == models.KeywordIndexParams(
        type=models.KeywordIndexType.KEYWORD, is_tenant=True)
    assert to_qdrant({"": light.VectorParams(size=8, distance=light.Distance.DOT)}) == {
        "": models.VectorParams(size=8, distance=models.Distance.DOT)}
    assert to_qdrant(light.SparseVectorParams(
        modifier=light.Modifier.IDF, index=light.SparseIndexParams(on_disk=True))) == (
        models.SparseVectorParams(modifier=models.Modifier.IDF,
                                  index=models.SparseIndexParams(on_disk=True)))
    assert to_qdrant(light.ScalarQuantization(scalar=light.ScalarQuantizationConfig(
        type=light.ScalarType.INT8, always_ram=True))) == models.ScalarQuantization(
        scalar=models.ScalarQuantizationConfig(type=models.ScalarType.INT8, always_ram=True))
    # Unset stays unset: the REST client leaves such fields out of the request body.
    assert to_qdrant(light.Filter(must=[])).model_fields_set == {"must"}


def test_the_payload_layout_is_langchain_qdrants() -> None:
    from langchain_qdrant import QdrantVectorStore, SparseEmbeddings

    from ragloom._bm25 import BM25SparseEmbeddings
    from ragloom._points import (
        CONTENT_KEY,
        ID_PAYLOAD_KEY,
        METADATA_KEY,
        SPARSE_VECTOR_NAME,
        VECTOR_NAME,
    )
    from ragloom.store import RagloomVectorStore

    assert (CONTENT_KEY, METADATA_KEY, VECTOR_NAME, SPARSE_VECTOR_NAME) == (
        QdrantVectorStore.CONTENT_KEY, QdrantVectorStore.METADATA_KEY,
        QdrantVectorStore.VECTOR_NAME, QdrantVectorStore.SPARSE_VECTOR_NAME)
    assert ID_PAYLOAD_KEY == RagloomVectorStore.ID_PAYLOAD_KEY
    assert isinstance(BM25SparseEmbeddings(), SparseEmbeddings)
