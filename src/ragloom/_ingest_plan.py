"""The decisions of an ingestion run, free of I/O: one core for `ingest` and `aingest`.

What to embed next, when a batch is complete, when a file is complete (so that its old
points may go), and what the ledger records on each chunk are decided here, by plain
objects that neither read files nor call the store or a model. The run
(`ragloom._ingest_run`) performs what they decide; the sync and the async entry points
run that same run and differ only in how one embedding request is sent
(`ragloom._ingest_embed`), so they cannot drift apart.

Example:
    >>> from ragloom._loaders import Chunk
    >>> plan = FilePlan.of("a.md", "h1", [Chunk("one", {}), Chunk("two", {})],
    ...                    stored={}, aliases=[], signature="s")
    >>> plan.status, plan.record
    ('added', 'h1 2 s a.md')
    >>> batches = Batches(size=1)
    >>> job = batches.job(plan)
    >>> full = batches.add(Item(plan.ids[0], "one", {}, job))
    >>> [i.text for i in full], batches.stored(full)
    (['one'], [])
    >>> full = batches.add(Item(plan.ids[1], "two", {}, job))
    >>> batches.produced(job), batches.stored(full) == [job]
    (False, True)

"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ragloom._ingest_report import Status
from ragloom._loaders import INGEST_KEY, Chunk, chunk_id

__all__ = ["Batches", "FilePlan", "Item", "Job", "chunk_payload"]

Version = tuple[str, int, str]
"""A stored version of a file: (file hash, chunk count, chunking signature)."""


@dataclass(eq=False)
class Job:
    """A file whose new chunks are on their way to the store."""

    source: str
    ids: list[str]
    status: Status
    had_points: bool
    aliases: list[str] = field(default_factory=list)
    """Former names of this file (stored by an older ragloom), replaced by `source`."""
    pending: int = 0
    """Chunks handed to a batch and not stored yet."""
    produced: bool = False
    """Every chunk of the file was handed out (to a batch, or copied)."""
    finished: bool = False
    """Its old points were deleted (or it had none): settled."""


@dataclass
class Item:
    """One chunk to embed and store: its point id, text, payload and file."""

    id: str
    text: str
    payload: dict[str, Any]
    job: Job


@dataclass(frozen=True)
class FilePlan:
    """A loaded file's chunks against what the store holds: ids, status, ledger record."""

    source: str
    file_hash: str
    chunks: Sequence[Chunk]
    ids: list[str]
    status: Status
    had_points: bool
    aliases: list[str]
    record: str
    """What each chunk's ledger field says: hash, chunk count, chunking, source."""
    resumable: bool
    """Some stored points are of this very version: a run was interrupted, ask which."""

    @classmethod
    def of(cls, source: str, file_hash: str, chunks: Sequence[Chunk], *,
           stored: Mapping[Version, int], aliases: list[str], signature: str) -> FilePlan:
        """Plan a file from its chunks and its stored versions (`stored`: version → points).

        Example:
            >>> from ragloom._loaders import Chunk
            >>> FilePlan.of("a.md", "h2", [Chunk("x", {})], stored={("h1", 1, "s"): 1},
            ...             aliases=[], signature="s").status
            'updated'

        """
        stored_versions = dict(stored)
        same = [k for k in stored_versions if (k[0], k[2]) == (file_hash, signature)]
        return cls(source, file_hash, chunks,
                   [chunk_id(source, i, c.text) for i, c in enumerate(chunks)],
                   "updated" if len(same) < len(stored_versions) or aliases else "added",
                   bool(stored_versions) or bool(aliases), aliases,
                   f"{file_hash} {len(chunks)} {signature} {source}", bool(same))


def chunk_payload(plan: FilePlan, index: int, *, content_key: str, meta_key: str,
                  id_key: str | None, access: Mapping[str, Any]) -> dict[str, Any]:
    """The payload stored with chunk `index` of a planned file.

    Example:
        >>> from ragloom._loaders import Chunk
        >>> plan = FilePlan.of("a.md", "h", [Chunk("x", {"page": 1})], stored={},
        ...                    aliases=[], signature="s")
        >>> chunk_payload(plan, 0, content_key="c", meta_key="m", id_key=None, access={})["m"]
        {'source': 'a.md', 'file_hash': 'h', 'chunk_index': 0, 'chunk_count': 1, 'page': 1}

    """
    chunk = plan.chunks[index]
    payload = {
        content_key: chunk.text,
        meta_key: {"source": plan.source, "file_hash": plan.file_hash, "chunk_index": index,
                   "chunk_count": len(plan.chunks), **chunk.metadata, **access},
        INGEST_KEY: plan.record,
    }
    if id_key:
        payload[id_key] = plan.ids[index]
    return payload


class Batches:
    """Chunks in file order cut into batches of `size`; which files a stored batch settles.

    Example:
        >>> b = Batches(size=2)
        >>> b.flush() is None
        True

    """

    def __init__(self, size: int) -> None:
        self.size = size
        self.open: list[Item] = []

    def job(self, plan: FilePlan) -> Job:
        """A job for a planned file, its chunks about to be handed out."""
        return Job(plan.source, plan.ids, plan.status, plan.had_points, plan.aliases)

    def add(self, item: Item) -> list[Item] | None:
        """Hand out one chunk to embed: the batch it completes, if it completes one."""
        self.open.append(item)
        item.job.pending += 1
        if len(self.open) < self.size:
            return None
        full, self.open = self.open, []
        return full

    def flush(self) -> list[Item] | None:
        """The last, partial batch (after the last file), if any."""
        last, self.open = self.open, []
        return last or None

    def produced(self, job: Job) -> bool:
        """The file's chunks are all handed out: True when it is complete already."""
        job.produced = True
        return job.pending == 0

    def stored(self, batch: list[Item]) -> list[Job]:
        """A batch is in the store: the files it completes, in the order they appear."""
        for item in batch:
            item.job.pending -= 1
        return [job for job in dict.fromkeys(item.job for item in batch)
                if job.produced and job.pending == 0]

    @staticmethod
    def settle(job: Job) -> bool:
        """Mark a complete file settled: False when it was already (settle once)."""
        if job.finished:
            return False
        job.finished = True
        return True
