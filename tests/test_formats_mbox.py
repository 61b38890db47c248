"""An mbox archive is one source per message (issue 21): `inbox.mbox#<key>`.

Each message has its own content hash, so re-ingesting an unchanged archive changes
nothing, editing one message re-embeds only that message, a message removed from the
archive (or the whole archive deleted) is pruned, access rules on the file apply to
each message, and a citation names the message. Embeddings are fake and in process:
no HTTP, no cassette.
"""

from __future__ import annotations

import email.message
import mailbox
from pathlib import Path
from typing import Any

import pytest
from langchain_core.embeddings import DeterministicFakeEmbedding

from ragloom import RagConfig
from ragloom.ingestion import ingest
from ragloom.prompts import format_context
from ragloom.retrievers import build_retriever
from ragloom.store import build_vector_store

MESSAGES = [
    ("<lunch@example.com>", "Lunch", "bo@example.com", "Pizza on Friday at noon."),
    ("<audit@example.com>", "Audit follow-up", "cy@example.com",
     "The auditors want the heron ledger by Monday."),
    (None, "No id here", "di@example.com", "A message without a Message-ID header."),
]


class Counting(DeterministicFakeEmbedding):
    """Fake embeddings that count the texts embedded."""

    texts: list[str] = []

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        self.texts.extend(texts)
        return super().embed_documents(texts)


def write_mbox(path: Path, messages: list[tuple[str | None, str, str, str]]) -> None:
    path.unlink(missing_ok=True)
    box = mailbox.mbox(str(path))
    for message_id, subject, sender, body in messages:
        message = email.message.EmailMessage()
        message["From"], message["To"] = sender, "team@example.com"
        message["Date"] = "Tue, 01 Oct 2024 09:30:00 +0000"
        message["Subject"] = subject
        if message_id:
            message["Message-ID"] = message_id
        message.set_content(body)
        box.add(message)
    box.flush()
    box.close()


@pytest.fixture
def setup(tmp_path: Path) -> tuple[Path, RagConfig, Any, Counting]:
    docs = tmp_path / "docs"
    (docs / "mail").mkdir(parents=True)
    write_mbox(docs / "mail" / "inbox.mbox", MESSAGES)
    (docs / "notes.md").write_text("Rotate the API keys monthly.")
    cfg = RagConfig(qdrant={"location": ":memory:", "collection": f"mbox_{tmp_path.name}"},
                    ingest={"root": str(docs),
                            "access": [{"glob": "mail/*.mbox", "groups": ["mail"]}]})
    embeddings = Counting(size=16)
    embeddings.texts = []
    return docs, cfg, build_vector_store(cfg, embeddings=embeddings), embeddings


def stored(cfg: RagConfig, store: Any) -> dict[str, list[dict[str, Any]]]:
    records, _ = store.client.scroll(cfg.qdrant.collection, limit=1000, with_payload=True)
    found: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        meta = record.payload["metadata"]
        found.setdefault(meta["source"], []).append({"id": record.id, **meta})
    return found


def test_one_source_per_message_keyed_by_message_id(setup: Any) -> None:
    docs, cfg, store, embeddings = setup
    report = ingest([docs], cfg, store=store)
    assert report.added == 4 and report.failed == []
    sources = stored(cfg, store)
    messages = sorted(s for s in sources if s.startswith("mail/inbox.mbox#"))
    assert len(messages) == 3 and "mail/inbox.mbox" not in sources
    subjects = {sources[s][0]["subject"] for s in messages}
    assert subjects == {"Lunch", "Audit follow-up", "No id here"}
    # (e) nothing duplicated: every message's text is stored once
    assert sorted(embeddings.texts) == sorted(set(embeddings.texts))
    assert len(embeddings.texts) == 4
    # (e) the file's access rule applies to each message
    assert all(p["groups"] == ["mail"] for s in messages for p in sources[s])
    assert "groups" not in sources["notes.md"][0]


def test_unchanged_mbox_changes_nothing(setup: Any) -> None:
    docs, cfg, store, embeddings = setup
    ingest([docs], cfg, store=store)
    before, embedded = stored(cfg, store), len(embeddings.texts)
    report = ingest([docs], cfg, store=store, prune=True)
    assert (report.added, report.updated, report.deleted) == (0, 0, 0)
    assert report.unchanged == 4 and report.chunks_written == 0
    assert len(embeddings.texts) == embedded and stored(cfg, store) == before


def test_editing_one_message_re_embeds_only_it(setup: Any) -> None:
    docs, cfg, store, embeddings = setup
    ingest([docs], cfg, store=store)
    before = stored(cfg, store)
    edited = list(MESSAGES)
    edited[1] = (*MESSAGES[1][:3], "The auditors want the heron ledger by Tuesday.")
    write_mbox(docs / "mail" / "inbox.mbox", edited)
    embeddings.texts = []
    report = ingest([docs], cfg, store=store)
    assert (report.updated, report.unchanged, report.added) == (1, 3, 0)
    assert len(embeddings.texts) == 1 and "Tuesday" in embeddings.texts[0]
    after = stored(cfg, store)
    assert after.keys() == before.keys()  # the key comes from the Message-ID
    changed = [s for s in after if after[s] != before[s]]
    assert len(changed) == 1 and "Tuesday" not in str(before[changed[0]])


def test_a_removed_message_is_pruned_and_nothing_else(setup: Any) -> None:
    docs, cfg, store, _ = setup
    ingest([docs], cfg, store=store)
    before = stored(cfg, store)
    write_mbox(docs / "mail" / "inbox.mbox", [MESSAGES[0], MESSAGES[2]])
    report = ingest([docs], cfg, store=store)  # without prune: kept
    assert report.deleted == 0 and stored(cfg, store) == before
    report = ingest([docs], cfg, store=store, prune=True)
    assert report.deleted == 1 and report.unchanged == 3
    after = stored(cfg, store)
    [gone] = before.keys() - after.keys()
    assert before[gone][0]["subject"] == "Audit follow-up"
    assert {s: before[s] for s in after} == after


def test_deleting_the_mbox_prunes_all_its_messages(setup: Any) -> None:
    docs, cfg, store, _ = setup
    ingest([docs], cfg, store=store)
    (docs / "mail" / "inbox.mbox").unlink()
    report = ingest([docs], cfg, store=store, prune=True)
    assert report.deleted == 3 and list(stored(cfg, store)) == ["notes.md"]
    assert report.failed == []


def test_an_mbox_given_and_deleted_is_pruned_not_failed(setup: Any) -> None:
    docs, cfg, store, _ = setup
    mbox = docs / "mail" / "inbox.mbox"
    ingest([mbox], cfg, store=store)
    mbox.unlink()
    report = ingest([mbox], cfg, store=store, prune=True)
    assert report.deleted == 3 and report.failed == [] and stored(cfg, store) == {}


def test_an_mbox_given_as_the_path_prunes_its_removed_message(setup: Any) -> None:
    docs, cfg, store, _ = setup
    mbox = docs / "mail" / "inbox.mbox"
    ingest([mbox], cfg, store=store)
    write_mbox(mbox, MESSAGES[:2])
    report = ingest([mbox], cfg, store=store, prune=True)
    assert report.deleted == 1 and len(stored(cfg, store)) == 2


def test_an_mbox_stored_whole_is_replaced_not_duplicated(setup: Any,
                                                        monkeypatch: pytest.MonkeyPatch,
                                                        ) -> None:
    docs, cfg, store, _ = setup
    from ragloom import _ingest_run

    def whole(files: list[tuple[str, Path]]) -> Any:  # as an older ragloom stored it
        return [(s, p, None) for s, p in files], {}, []

    with monkeypatch.context() as patch:
        patch.setattr(_ingest_run, "with_messages", whole)
        ingest([docs], cfg, store=store)
    assert "mail/inbox.mbox" in stored(cfg, store)
    report = ingest([docs], cfg, store=store)
    sources = stored(cfg, store)
    assert "mail/inbox.mbox" not in sources and report.failed == []
    assert len([s for s in sources if s.startswith("mail/inbox.mbox#")]) == 3
    texts = [p["chunk_index"] for s in sources for p in sources[s]]
    assert len(texts) == 4


def test_a_citation_names_the_message(setup: Any) -> None:
    docs, cfg, store, _ = setup
    ingest([docs], cfg, store=store)
    sparse = cfg.model_copy(update={"retrieval": RagConfig(
        retrieval={"mode": "sparse", "k": 1}).retrieval})
    retriever = build_retriever(sparse, store=store)
    [doc] = retriever.invoke("heron ledger auditors")
    context = format_context([doc])
    assert ("source: mail/inbox.mbox, “Audit follow-up” from cy@example.com,"
            " Tue, 01 Oct 2024 09:30:00 +0000") in context


def test_prune_for_a_tenant_spares_another_tenants_messages(setup: Any) -> None:
    docs, cfg, store, _ = setup
    ingest([docs], cfg, store=store, access={"tenant": "acme"})
    sources = stored(cfg, store)
    assert {p["tenant"] for s in sources for p in sources[s]} == {"acme"}
    write_mbox(docs / "mail" / "inbox.mbox", MESSAGES[:2])
    report = ingest([docs], cfg, store=store, prune=True, access={"tenant": "globex"})
    assert report.deleted == 0
    assert len([s for s in stored(cfg, store) if "#" in s]) == 3
    report = ingest([docs], cfg, store=store, prune=True, access={"tenant": "acme"})
    assert report.deleted == 1
    assert len([s for s in stored(cfg, store) if "#" in s]) == 2
