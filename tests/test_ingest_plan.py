"""The I/O-free core of ingestion (`ragloom._ingest_plan`): batches, completion, records.

Both `ingest` and `aingest` follow these decisions; here they are checked without a
store, a model or an event loop.
"""

from __future__ import annotations

from ragloom._ingest_plan import Batches, FilePlan, Item, chunk_payload
from ragloom._loaders import INGEST_KEY, Chunk, chunk_id


def _plan(source: str, texts: list[str], **kwargs: object) -> FilePlan:
    args: dict[str, object] = {"stored": {}, "aliases": [], "signature": "sig"}
    args.update(kwargs)
    return FilePlan.of(source, f"hash-{source}", [Chunk(t, {}) for t in texts],
                       **args)  # type: ignore[arg-type]


def test_a_plan_names_each_chunk_and_records_the_version() -> None:
    plan = _plan("a.md", ["one", "two"])
    assert plan.ids == [chunk_id("a.md", 0, "one"), chunk_id("a.md", 1, "two")]
    assert (plan.status, plan.had_points, plan.resumable) == ("added", False, False)
    assert plan.record == "hash-a.md 2 sig a.md"
    payload = chunk_payload(plan, 1, content_key="page_content", meta_key="metadata",
                            id_key="_id", access={"tenant": "acme"})
    assert payload == {"page_content": "two", INGEST_KEY: plan.record, "_id": plan.ids[1],
                       "metadata": {"source": "a.md", "file_hash": "hash-a.md",
                                    "chunk_index": 1, "chunk_count": 2, "tenant": "acme"}}


def test_stored_versions_decide_the_status() -> None:
    other = ("old-hash", 3, "sig")
    this = ("hash-a.md", 2, "sig")
    assert _plan("a.md", ["x", "y"], stored={other: 3}).status == "updated"
    resumed = _plan("a.md", ["x", "y"], stored={this: 1})  # a run stopped half-way
    assert (resumed.status, resumed.resumable, resumed.had_points) == ("added", True, True)
    assert _plan("a.md", ["x"], stored={this: 1, other: 3}).status == "updated"
    renamed = _plan("a.md", ["x"], aliases=["/abs/a.md"])
    assert (renamed.status, renamed.had_points) == ("updated", True)


def test_batches_cross_files_and_a_file_completes_with_its_last_batch() -> None:
    batches = Batches(size=2)
    a, b = _plan("a.md", ["a0", "a1", "a2"]), _plan("b.md", ["b0"])
    job_a, job_b = batches.job(a), batches.job(b)
    full = [batches.add(Item(i, t.text, {}, job_a)) for i, t in
            zip(a.ids, a.chunks, strict=True)]
    assert [x is None for x in full] == [True, False, True]
    assert not batches.produced(job_a)  # a2 waits in the open batch
    last = batches.add(Item(b.ids[0], "b0", {}, job_b))
    assert last is not None and [i.text for i in last] == ["a2", "b0"]
    assert not batches.produced(job_b)
    first = full[1]
    assert first is not None
    assert batches.stored(first) == []  # a's last chunk is not stored yet
    assert batches.stored(last) == [job_a, job_b]  # in the order they appear
    assert batches.settle(job_a) and not batches.settle(job_a)  # settled once
    assert batches.flush() is None


def test_a_file_with_nothing_to_embed_is_complete_when_produced() -> None:
    batches = Batches(size=4)
    job = batches.job(_plan("a.md", ["kept"]))
    assert batches.produced(job)  # all its chunks were stored already (or copied)
    assert batches.flush() is None
