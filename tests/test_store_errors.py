"""The store's failures: collection mismatches, locked stores; scale options; migration."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from langchain_core.embeddings import DeterministicFakeEmbedding
from qdrant_client import QdrantClient

from ragloom import (
    CollectionMismatch,
    RagConfig,
    StoreLocked,
    build_vector_store,
)
from ragloom.store import close_clients, get_client


@pytest.mark.vcr
def test_collection_mismatch_names_both_sizes_and_keeps_the_data(cfg: RagConfig) -> None:
    old = build_vector_store(cfg, embeddings=DeterministicFakeEmbedding(size=8))
    old.add_texts(["kept"], ids=["kept"])
    with pytest.raises(CollectionMismatch) as info:
        build_vector_store(cfg)  # all-minilm: 384 dimensions
    message = str(info.value)
    assert "8-dimensional" in message and "384-dimensional" in message
    assert "qdrant.collection" in message and "recreate=True" in message
    assert old.client.count(cfg.qdrant.collection).count == 1  # nothing dropped


def test_collection_mismatch_on_distance() -> None:
    base = {"location": ":memory:", "collection": "t_distance"}
    build_vector_store(RagConfig(qdrant=base), embeddings=DeterministicFakeEmbedding(size=8))
    with pytest.raises(CollectionMismatch, match=r"uses Cosine distance but qdrant\.distance"):
        build_vector_store(RagConfig(qdrant={**base, "distance": "dot"}),
                           embeddings=DeterministicFakeEmbedding(size=8))


def test_store_locked_by_another_client_in_this_process(tmp_path: Path) -> None:
    folder = tmp_path / "qdrant"
    other = QdrantClient(path=str(folder))
    try:
        cfg = RagConfig(qdrant={"location": str(folder), "collection": "locked"})
        with pytest.raises(StoreLocked) as info:
            build_vector_store(cfg, embeddings=DeterministicFakeEmbedding(size=8))
        assert str(folder) in str(info.value) and "qdrant.url" in str(info.value)
    finally:
        other.close()
    # Once the other client is gone, the folder opens.
    store = build_vector_store(cfg, embeddings=DeterministicFakeEmbedding(size=8))
    store.add_texts(["x"], ids=["x"])
    assert store.client.count("locked").count == 1
    close_clients()


def test_store_locked_by_another_process(tmp_path: Path) -> None:
    folder = tmp_path / "qdrant"
    cfg = RagConfig(qdrant={"location": str(folder), "collection": "locked"})
    store = build_vector_store(cfg, embeddings=DeterministicFakeEmbedding(size=8))
    store.add_texts(["precious"], ids=["precious"])
    script = textwrap.dedent(f"""
        from ragloom import StoreLocked
        from ragloom.store import get_client
        from ragloom.config import QdrantSettings
        try:
            get_client(QdrantSettings(location={str(folder)!r}))
        except StoreLocked as exc:
            print("StoreLocked:", exc)
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=120, check=True).stdout
    assert out.startswith("StoreLocked:") and "another process" in out
    assert get_client(cfg).count("locked").count == 1  # this process's data untouched
    close_clients()



def test_scale_options_reach_collection_creation(monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = RagConfig(qdrant={"location": ":memory:", "collection": "t_scale", "shard_number": 3,
                            "replication_factor": 2, "on_disk": True, "quantization": "scalar"},
                    retrieval={"mode": "hybrid"})
    client = QdrantClient(location=":memory:")
    sent: dict[str, Any] = {}
    create = client.create_collection

    def spy(name: str, **kwargs: Any) -> Any:
        sent.update(kwargs)
        return create(name, **kwargs)

    monkeypatch.setattr(client, "create_collection", spy)
    build_vector_store(cfg, embeddings=DeterministicFakeEmbedding(size=8), client=client)
    assert (sent["shard_number"], sent["replication_factor"]) == (3, 2)
    assert sent["vectors_config"][""].on_disk is True
    assert sent["sparse_vectors_config"]["langchain-sparse"].index.on_disk is True
    assert sent["quantization_config"].scalar.type.value == "int8"
    # Embedded Qdrant keeps on_disk but ignores shards, replicas and quantization; a
    # server applies what the request carries (checked above).
    assert client.get_collection("t_scale").config.params.vectors[""].on_disk is True


def test_migrating_embedded_points_to_another_qdrant_keeps_them_usable() -> None:
    cfg = RagConfig(qdrant={"location": ":memory:", "collection": "t_migrate"})
    emb = DeterministicFakeEmbedding(size=8)
    source = QdrantClient(location=":memory:")
    build_vector_store(cfg, embeddings=emb, client=source).add_texts(
        ["alpha", "beta"], ids=["a", "b"])
    dest = QdrantClient(location=":memory:")  # stands in for QdrantClient(url=...)
    source.migrate(dest, collection_names=["t_migrate"])
    store = build_vector_store(cfg, embeddings=emb, client=dest)  # no CollectionMismatch
    assert sorted(d.id for d in store.get_by_ids(["a", "b"])) == ["a", "b"]
    assert store.similarity_search("alpha", k=1)[0].id == "a"
