"""One ingestion run, one way: sources → loaded chunks → batches → vectors → store → report.

`IngestRun.execute` finds the files and reads what the store holds of them (the
ledger), then runs two stages joined by a bounded queue: the producer loads each file
(`ragloom._ingest_files`), plans it against the ledger and hands its chunks to the
batcher (`ragloom._ingest_plan`, which decides everything and does no I/O); the
consumers embed each full batch (`ragloom._ingest_embed`), write it, and delete a
file's old points once the batch that completes it is stored. Both `ingest` and
`aingest` run this very object; only the embedding request differs.

Example:
    >>> from langchain_core.embeddings import DeterministicFakeEmbedding
    >>> from ragloom import RagConfig
    >>> from ragloom._target import open_target
    >>> cfg = RagConfig(qdrant={"location": ":memory:", "collection": "doc_run"})
    >>> target = open_target(cfg, embeddings=DeterministicFakeEmbedding(size=8))
    >>> import asyncio, tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> _ = (folder / "a.txt").write_text("Rotate the API keys monthly.")
    >>> run = IngestRun(cfg, target, None, None)
    >>> asyncio.run(run.execute([folder], ["**/*.txt"], prune=False)).added
    1

"""

from __future__ import annotations

import asyncio
import time
from collections import Counter, deque
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path, PurePath
from typing import Any

from ragloom._access import Access, access_for
from ragloom._bm25 import BM25SparseEmbeddings
from ragloom._ingest_embed import EmbedStage
from ragloom._ingest_files import FileLoader, LoadSettings
from ragloom._ingest_plan import Batches, FilePlan, Item, Job, chunk_payload
from ragloom._ingest_report import (
    FailedFile,
    IngestProgress,
    IngestReport,
    ProgressCallback,
    Status,
    skipped_notes,
)
from ragloom._ingest_sources import Entry, find_sources, with_messages
from ragloom._loaders import (
    MISSING,
    Chunk,
    EmptyFile,
    Ledger,
    LoadError,
    NoLoader,
    Splitter,
    Tally,
    chunk_id,
    is_under,
    message_file,
)
from ragloom._points import (
    Condition,
    FieldCondition,
    Filter,
    HasIdCondition,
    MatchValue,
    PointStruct,
    RetrievalMode,
)
from ragloom._sources import (
    claim_former_names,
    former_names,
    plan_renames,
    prunable,
    source_root,
)
from ragloom._target import Target
from ragloom.config import RagConfig
from ragloom.errors import ConfigError
from ragloom.providers import request_slots

__all__ = ["IngestRun"]

_PARSE_AHEAD = 4
"""Files read and parsed at once ahead of the one whose chunks are being queued."""
Prepared = asyncio.Future[tuple[str, list[Chunk] | None]]


async def _all_or_nothing(*coros: Coroutine[Any, Any, None]) -> None:
    """Run the coroutines together; the first error (or a cancellation) stops them all."""
    tasks = [asyncio.ensure_future(c) for c in coros]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        for task in done:
            error = None if task.cancelled() else task.exception()
            if error is not None:
                raise error
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


class IngestRun:
    """One ingestion run: a producer turning files into batches, consumers storing them."""

    def __init__(self, cfg: RagConfig, store: Target,
                 on_progress: ProgressCallback | None, given: Access | None, *,
                 threaded: bool = False) -> None:
        self.cfg, self.store, self.meta = cfg, store, store.metadata_payload_key
        self.ledger = Ledger(store.client, store.collection_name, self.meta)
        mode = store.mode
        embeddings = store.embeddings if mode is not RetrievalMode.SPARSE else None
        sparse = store.sparse_embeddings if mode is not RetrievalMode.DENSE else None
        if sparse is None and self.ledger.has_vector(store.sparse_vector_name, sparse=True):
            # A hybrid collection ingested in dense mode: still write the sparse vector,
            # or later sparse/hybrid searches would never see these chunks.
            sparse = BM25SparseEmbeddings()
        if mode is not RetrievalMode.SPARSE and embeddings is None:
            raise ConfigError("the vector store has no embeddings model to ingest with")
        self.id_key = store.id_key
        self.concurrency = request_slots(cfg.embeddings)  # max_concurrency per server
        self.embed = EmbedStage(embeddings, sparse, slots=self.concurrency,
                                dense_name=store.vector_name,
                                sparse_name=store.sparse_vector_name,
                                pool=ThreadPoolExecutor(self.concurrency, "ragloom-embed")
                                if threaded else None)
        self.splitter = Splitter(cfg.ingest.chunk_size, cfg.ingest.chunk_overlap)
        ing = cfg.ingest
        self.loader = FileLoader(self.splitter, LoadSettings(
            ing.chunk_size, ing.chunk_overlap, ing.ocr, ing.ocr_language, ing.notebook_outputs))
        self.batches = Batches(cfg.embeddings.batch_size)
        self.on_progress, self.given = on_progress, given
        self.report = IngestReport()
        self.root: str | None = None
        self.aliases: dict[str, list[str]] = {}
        # source → {(file_hash, chunk_count, chunking): points}, for the sources in play
        self.inventory: Tally = {}
        self.files_total = self.files_done = self.chunks_queued = 0
        self.no_loader: Counter[str] = Counter()
        self.started = time.perf_counter()
        self.recheck_access = False

    def _emit(self, path: str | None = None, status: Status | None = None) -> None:
        if status in ("added", "updated", "unchanged"):
            setattr(self.report, status, getattr(self.report, status) + 1)
        if path is not None and status != "deleted":
            self.files_done += 1
        self.report.pages = self.loader.pages
        if self.on_progress is not None:
            done = self.report.chunks_written
            rate = done / max(time.perf_counter() - self.started, 1e-9)
            self.on_progress(IngestProgress(self.files_done, self.files_total, done, rate,
                                            path, status, self.chunks_queued,
                                            self.report.pages))

    async def execute(self, roots: list[str | Path], patterns: list[str],
                      prune: bool) -> IngestReport:
        """Ingest the files under `roots` that match `patterns`; with `prune`, the gone."""
        try:
            return await self._execute(roots, patterns, prune)
        finally:  # interrupted: no need to wait for the requests in flight
            if self.embed.pool is not None:
                self.embed.pool.shutdown(wait=False, cancel_futures=True)

    async def _execute(self, roots: list[str | Path], patterns: list[str],
                       prune: bool) -> IngestReport:
        self.root = source_root(self.cfg, self.ledger.pinned_root)
        found = find_sources(roots, patterns, root=self.root, store_folder=self._store_folder())
        self.report.failed += found.failed
        root_sources, blind, left_out = found.roots, found.blind, found.left_out
        files, read, unread = await asyncio.to_thread(with_messages, found.files)
        self.report.failed += unread
        self.files_total = len(files)
        self._emit()  # the files found, from the first second
        former = {source: former_names(path, source) for source, path, m in files if m is None}
        await self.ledger.index()
        self.recheck_access = (self.given is not None or bool(self.cfg.ingest.access)
                               or await self.ledger.holds_access())
        await self._adopt_root()
        self.inventory = await self.ledger.tally(
            [s for s, _, _ in files] + [n for names in former.values() for n in names]
            + list(read), root_sources if prune else None)
        self.aliases = claim_former_names(former, self.inventory.keys(), self.root)
        for mbox in read.keys() & self.inventory.keys():  # stored whole by an older ragloom
            first = next((s for s, _, _ in files if message_file(s) == mbox), None)
            if first is not None:  # its first message takes its place: the rest go then
                self.aliases.setdefault(first, []).append(mbox)
        self._emit()
        queue: asyncio.Queue[list[Item] | None] = asyncio.Queue(self.concurrency * 2)
        workers = self.concurrency * 2  # some embed while others upsert
        await _all_or_nothing(self._produce(files, queue, workers),
                              *(self._consume(queue) for _ in range(workers)))
        if prune:
            await self._prune(root_sources, blind, read)
        self.report.notes = sorted(self.loader.notes) + skipped_notes(self.no_loader, left_out)
        for suffix, count in (self.no_loader + left_out).items():
            self.report.skipped[suffix] = count
        await self.ledger.finish()
        self.report.duration_s = time.perf_counter() - self.started
        self._emit()
        return self.report

    def _store_folder(self) -> list[str]:
        """An embedded store's folder: never searched for files (nor counted as skipped)."""
        q = self.cfg.qdrant
        return [q.location] if not q.url and q.location != ":memory:" else []

    async def _adopt_root(self) -> None:
        """Rename stored sources named against another root (recorded in the collection).

        After `ingest.root` changes, a stored `a.md` may name another file than this
        run's `a.md`: every stored source is renamed (its vectors moved, no embedding
        call) to its name under the new root first, and a file stored twice (absolute
        and relative) keeps one copy. A collection with no recorded root (written by an
        older ragloom) only has absolute names under the root made relative.
        """
        known, before = await self.ledger.call(self.ledger.recorded_root)
        if known and before == self.root:
            return
        stored = await self.ledger.everything()
        for old, new, merge in plan_renames(stored, before if known else self.root, self.root):
            if merge and not known:
                continue  # an older store's relative name may be another file: keep both
            if merge:
                self.report.chunks_deleted += await self.ledger.delete(
                    Filter(must=[self.ledger.source_in([old])]))
            else:
                await self.ledger.rename(old, new, self.store.content_payload_key,
                                         self.id_key, chunk_id)
        await self.ledger.call(self.ledger.record_root, self.root)

    async def _produce(self, files: list[Entry],
                       queue: asyncio.Queue[list[Item] | None], workers: int) -> None:
        # Files are read and parsed ahead (up to _PARSE_AHEAD at once, in threads), so a
        # slow file does not hold up the parsing of the next ones; their chunks still
        # enter the queue in file order, which keeps requests (and cassettes) stable.
        ahead: deque[tuple[str, Prepared]] = deque()
        todo = iter(files)
        try:
            while True:
                while len(ahead) < _PARSE_AHEAD and (nxt := next(todo, None)) is not None:
                    source, path, message = nxt
                    ahead.append((source, asyncio.ensure_future(self.loader.prepare(
                        path, source, self.inventory.get(source, {}),
                        self.aliases.get(source, []), message))))
                if not ahead:
                    break
                source, future = ahead.popleft()
                await self._produce_one(source, future, queue)
        finally:
            for _, future in ahead:
                future.cancel()
            await asyncio.gather(*(f for _, f in ahead), return_exceptions=True)
        if (last := self.batches.flush()) is not None:
            await queue.put(last)
        for _ in range(workers):
            await queue.put(None)

    async def _produce_one(self, source: str, prepared: Prepared,
                           queue: asyncio.Queue[list[Item] | None]) -> None:
        try:
            file_hash, chunks = await prepared
        except NoLoader:
            self.no_loader[PurePath(source).suffix.lower() or "(no suffix)"] += 1
            self._emit(source, "skipped")
            return
        except EmptyFile as exc:
            await self._emptied(source, str(exc))
            return
        except LoadError as exc:
            self.report.failed.append(FailedFile(source, str(exc)))
            self._emit(source, "failed")
            return
        if chunks is None:
            if self.recheck_access and await self.ledger.rekey(source, self._access(source)):
                self.report.rekeyed += 1
            self._emit(source, "unchanged")
            return
        plan = FilePlan.of(source, file_hash, chunks, stored=self.inventory.get(source, {}),
                           aliases=self.aliases.get(source, []),
                           signature=self.splitter.signature)
        job = self.batches.job(plan)
        # After an interrupted run, part of this very version may be stored already
        # (checked by record: a chunk that did not change keeps its id across versions).
        present = await self.ledger.existing(plan.ids, plan.record) if plan.resumable else set()
        moved = await self._former_vectors(file_hash, len(chunks), plan.aliases)
        access = self._access(source).metadata()
        copies: list[PointStruct] = []
        for index, (point, chunk) in enumerate(zip(plan.ids, chunks, strict=True)):
            if point in present:
                continue
            payload = chunk_payload(plan, index, content_key=self.store.content_payload_key,
                                    meta_key=self.meta, id_key=self.id_key, access=access)
            if (index, chunk.text) in moved:
                copies.append(PointStruct(id=point, vector=moved[index, chunk.text],
                                          payload=payload))
                continue
            if (full := self.batches.add(Item(point, chunk.text, payload, job))) is not None:
                await queue.put(full)
        for start in range(0, len(copies), self.batches.size):
            await self.ledger.upsert(copies[start:start + self.batches.size])
        self.report.chunks_written += len(copies)
        self.chunks_queued += job.pending + len(copies)
        self._emit()  # this file's chunks are queued
        if self.batches.produced(job):
            await self._finish(job)

    async def _consume(self, queue: asyncio.Queue[list[Item] | None]) -> None:
        while (batch := await queue.get()) is not None:
            vectors = await self.embed.vectors([item.text for item in batch])
            # Light points, never validated float by float (pydantic checking every
            # value costs more CPU than the rest of the pipeline together).
            points = [PointStruct(id=i.id, vector=v, payload=i.payload)
                      for i, v in zip(batch, vectors, strict=True)]
            await self.ledger.upsert(points)
            self.report.chunks_written += len(points)
            for job in self.batches.stored(batch):
                await self._finish(job)
            self._emit()

    async def _former_vectors(self, file_hash: str, count: int,
                              aliases: list[str]) -> dict[tuple[int, str], Any]:
        """Vectors stored under a former name for this very file version, by (index, text).

        Renaming a file in the store moves its vectors: no embedding call.
        """
        version = (file_hash, count, self.splitter.signature)
        names = [a for a in aliases if self.inventory.get(a, {}).get(version) == count]
        if not names:
            return {}
        found: dict[tuple[int, str], Any] = {}
        fields = [self.meta, self.store.content_payload_key]
        async for point in self.ledger.scroll(
                Filter(must=[self.ledger.source_in(names[:1])]), fields, True):
            payload = point.payload or {}
            meta = payload.get(self.meta) or {}
            index, text = meta.get("chunk_index"), payload.get(self.store.content_payload_key)
            if meta.get("file_hash") == file_hash and isinstance(index, int) and point.vector:
                found[index, str(text)] = point.vector
        return found

    async def _finish(self, job: Job) -> None:
        """All of a file's new chunks are stored: only now delete its other points."""
        if not self.batches.settle(job):
            return
        if job.had_points:
            self.report.chunks_deleted += await self.ledger.delete(Filter(
                must=[self.ledger.source_in([job.source, *job.aliases])],
                must_not=[HasIdCondition(has_id=list(job.ids))]))
        self._emit(job.source, job.status)

    def _access(self, source: str) -> Access:
        """A source's access: a message of an mbox has its file's."""
        return access_for(message_file(source) or source, self.cfg.ingest.access, self.given)

    async def _emptied(self, source: str, reason: str) -> None:
        """An empty file has no content: its old chunks go, and it is reported."""
        names = [source, *self.aliases.get(source, [])]
        if any(name in self.inventory for name in names):
            removed = await self.ledger.delete(
                Filter(must=[self.ledger.source_in(names)]))
            self.report.chunks_deleted += removed
            reason += f"; its {removed} old chunks were deleted"
        self.report.failed.append(FailedFile(source, reason))
        self._emit(source, "failed")

    async def _prune(self, root_sources: list[str], blind: list[str],
                     read: dict[str, set[str]]) -> None:
        """Delete sources under the paths given whose file is gone from the filesystem.

        A source is gone only when the filesystem says so (not found); one it will not
        say about (permissions), or under a folder that could not be listed, is kept.
        """
        adopted = {name for names in self.aliases.values() for name in names}
        gone = prunable(self.inventory.keys() - adopted, root_sources, blind, self.root, read)
        for source in gone:
            where: list[Condition] = [self.ledger.source_in([source])]
            tenant = self._access(source).tenant
            if tenant is not None:  # a run for a tenant never deletes another's chunks
                where.append(FieldCondition(key=f"{self.meta}.tenant",
                                                   match=MatchValue(value=tenant)))
            removed = await self.ledger.delete(Filter(must=where))
            if not removed:
                continue
            self.report.chunks_deleted += removed
            self.report.deleted += 1
            self._emit(source, "deleted")
        # A path given but gone is no failure when pruning: its files were deleted.
        self.report.failed = [f for f in self.report.failed if not (
            f.reason == MISSING and any(is_under(message_file(source) or source, f.path)
                                        for source in gone))]
