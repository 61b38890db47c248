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
