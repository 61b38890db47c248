"""Ingestion: files → chunks → embeddings → Qdrant, repeating nothing and losing nothing.

Each chunk's point id is UUIDv5 of its source (the file's path relative to a source
root that does not depend on the working directory: `source_root`), index and content
hash, and its payload records the source, the file's sha256 and the chunk count:
Qdrant itself is the record of what was ingested. So a rerun skips files whose hash
and chunks are all there (no embedding call, no write), a changed file gets its new
chunks written before its old ones are deleted (a run killed in between leaves both
until the next run over the file, which deletes the old ones), an emptied file loses
its chunks, and `prune=True` removes files the filesystem reports as gone.

Files stream through a bounded queue: batches of `embeddings.batch_size` texts,
at most `embeddings.max_concurrency` embedding requests in flight, batched upserts.

Example:
    >>> from langchain_core.embeddings import DeterministicFakeEmbedding
    >>> from ragloom import RagConfig
    >>> from ragloom.store import build_vector_store
    >>> cfg = RagConfig(qdrant={"location": ":memory:", "collection": "doc_ingest"})
    >>> store = build_vector_store(cfg, embeddings=DeterministicFakeEmbedding(size=8))
    >>> import tempfile
    >>> notes = Path(tempfile.mkdtemp()) / "notes.txt"
    >>> _ = notes.write_text("Rotate the API keys monthly.")
    >>> ingest([notes], cfg, store=store).added
    1
    >>> ingest([notes], cfg, store=store).unchanged
    1

"""

from __future__ import annotations

import asyncio
import hashlib
import os
import time
from collections import Counter, deque
from collections.abc import Callable, Coroutine, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import Any, Literal

from langchain_qdrant import QdrantVectorStore, RetrievalMode
from qdrant_client import models

from ragloom._access import Access, access_for
from ragloom._bm25 import BM25SparseEmbeddings
from ragloom._formats import loaders
from ragloom._loaders import (
    CHUNK_NAMESPACE,
    INGEST_KEY,
    MISSING,
    Chunk,
    EmptyFile,
    Ledger,
    LoadContext,
    LoadError,
    NoLoader,
    Splitter,
    Tally,
    chunk_id,
    discover,
    is_under,
    load_sections,
    read_file,
)
from ragloom._sources import (
    claim_former_names,
    former_names,
    plan_renames,
    prunable,
    source_id,
    source_root,
)
from ragloom.config import RagConfig, load_config
from ragloom.errors import ConfigError, IngestError
from ragloom.providers import request_slots
from ragloom.store import build_vector_store

__all__ = ["CHUNK_NAMESPACE", "INGEST_KEY", "FailedFile", "IngestProgress", "IngestReport",
           "LoadContext", "LoadError", "ProgressCallback", "aingest", "chunk_id", "ingest"]

_INLINE_BYTES = 256 * 1024
"""Files up to this size are read and hashed on the event loop: a thread hop costs more."""
_INLINE_SPLIT_BYTES = 32 * 1024
_INLINE_SPLIT_TYPES = frozenset({".txt", ".md", ".markdown"})
"""Plain-text files up to `_INLINE_SPLIT_BYTES` are split on the loop too (well under
a millisecond each); parsing PDF or HTML, or a big file, goes to a thread."""
Status = Literal["added", "updated", "unchanged", "deleted", "failed", "skipped"]
Paths = str | Path | Sequence[str | Path]
_PARSE_AHEAD = 4
"""Files read and parsed at once ahead of the one whose chunks are being queued."""



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

@dataclass(frozen=True)
class FailedFile:
    """A file that could not be ingested, and why."""

    path: str
    reason: str


@dataclass
class IngestReport:
    """What a run did: files added/updated/unchanged/deleted, chunks written/deleted.

    Example:
        >>> IngestReport(added=2).ok, IngestReport(failed=[FailedFile("x.pdf", "corrupt")]).ok
        (True, False)

    """

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    chunks_written: int = 0
    chunks_deleted: int = 0
    rekeyed: int = 0
    """Unchanged files whose access metadata changed: payload updated, nothing embedded."""
    failed: list[FailedFile] = field(default_factory=list)
    duration_s: float = 0.0
    skipped: dict[str, int] = field(default_factory=dict)
    """Files not read, by suffix: no loader for them, or left out by `ingest.glob`."""
    notes: list[str] = field(default_factory=list)
    """Remarks that did not stop a file (pages that need OCR) and the skipped files."""
    pages: int = 0
    """Pages (slides, sheets' row groups, messages, cells…) read from the files loaded."""

    @property
    def ok(self) -> bool:
        """True when no file failed."""
        return not self.failed


@dataclass(frozen=True)
class IngestProgress:
    """A progress event: at the start, after each batch written and file settled, at the end."""

    files_done: int
    files_total: int
    chunks_done: int
    chunks_per_s: float
    path: str | None = None
    """The file that just settled (or was pruned), else None."""
    status: Status | None = None
    chunks_queued: int = 0
    """Chunks split and waiting for (or done with) embedding: progress before the first
    embedding answer, which on a slow model takes a while."""
    pages_done: int = 0
    """Pages (slides, row groups, messages…) read so far."""


ProgressCallback = Callable[[IngestProgress], None]


def ingest(
    paths: Paths,
    cfg: RagConfig | None = None,
    *,
    store: QdrantVectorStore | None = None,
    prune: bool = False,
    glob: str | Sequence[str] | None = None,
    on_progress: ProgressCallback | None = None,
    access: Access | Mapping[str, Any] | None = None,
) -> IngestReport:
    """Ingest files and folders into the configured Qdrant collection.

    The pipeline of `aingest`, but the embedding requests go through the model's sync
    API from `embeddings.max_concurrency` threads: an async HTTP client is bound to the
    event loop it first ran on, and each call here runs a loop of its own (in a worker
    thread when one is already running, as in Jupyter).

    Args:
        paths: Files (taken whatever their name) and folders (searched with `glob`).
        cfg: Configuration; default `load_config()`.
        store: The vector store; default `build_vector_store(cfg)`.
        prune: Also delete the chunks of files under `paths` that no longer exist
            (the filesystem says so: a file it cannot check is kept).
        glob: Patterns for folders; default `cfg.ingest.glob`.
        on_progress: Called with an `IngestProgress` as the run advances.
        access: Access metadata for every file of this run (`tenant`, `groups`,
            `classification`), over what `ingest.access` patterns give; stored on
            each chunk. A file whose access changed is re-keyed, not re-embedded.

    Returns:
        The `IngestReport`: unusable files are in `failed`, all others landed.

    Raises:
        ConfigError: `ingest.chunk_overlap` is not smaller than `ingest.chunk_size`.
        IngestError: The embeddings model returned the wrong number of vectors.
        ProviderUnavailable: The embedding server could not be reached (after retries).
        ModelNotFound: The embedding model is not pulled.

    Example:
        >>> import tempfile
        >>> from langchain_core.embeddings import DeterministicFakeEmbedding
        >>> from ragloom.store import build_vector_store
        >>> cfg = RagConfig(qdrant={"location": ":memory:", "collection": "doc_ingest_fn"})
        >>> store = build_vector_store(cfg, embeddings=DeterministicFakeEmbedding(size=8))
        >>> folder = Path(tempfile.mkdtemp())
        >>> _ = (folder / "hr.md").write_text("Salary bands are reviewed in May.")
        >>> report = ingest(folder, cfg, store=store, access={"groups": ["hr"]})
        >>> report.added, report.failed
        (1, [])

    """

    def run() -> IngestReport:
        return asyncio.run(_ingest(paths, cfg, store, prune, glob, on_progress, access,
                                   threads=True))

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return run()
    with ThreadPoolExecutor(1, thread_name_prefix="ragloom-ingest") as pool:
        return pool.submit(run).result()


async def aingest(
    paths: Paths,
    cfg: RagConfig | None = None,
    *,
    store: QdrantVectorStore | None = None,
    prune: bool = False,
    glob: str | Sequence[str] | None = None,
    on_progress: ProgressCallback | None = None,
    access: Access | Mapping[str, Any] | None = None,
) -> IngestReport:
    """Async `ingest`, embedding with `aembed_documents`.

    Takes the same arguments, returns the same `IngestReport` and raises the same
    errors as `ingest`.

    Example:
        >>> import asyncio, tempfile
        >>> from langchain_core.embeddings import DeterministicFakeEmbedding
        >>> from ragloom.store import build_vector_store
        >>> cfg = RagConfig(qdrant={"location": ":memory:", "collection": "doc_aingest"})
        >>> store = build_vector_store(cfg, embeddings=DeterministicFakeEmbedding(size=8))
        >>> folder = Path(tempfile.mkdtemp())
        >>> _ = (folder / "notes.txt").write_text("Rotate the API keys monthly.")
        >>> asyncio.run(aingest([folder], cfg, store=store)).added
        1

    """
    return await _ingest(paths, cfg, store, prune, glob, on_progress, access, threads=False)


async def _ingest(paths: Paths, cfg: RagConfig | None, store: QdrantVectorStore | None,
                  prune: bool, glob: str | Sequence[str] | None,
                  on_progress: ProgressCallback | None,
                  access: Access | Mapping[str, Any] | None, *, threads: bool) -> IngestReport:
    cfg = cfg if cfg is not None else load_config()
    given = Access.parse(access) if access is not None else None
    if cfg.ingest.chunk_overlap >= cfg.ingest.chunk_size:
        raise ConfigError(f"ingest.chunk_overlap ({cfg.ingest.chunk_overlap}) must be smaller"
                          f" than ingest.chunk_size ({cfg.ingest.chunk_size})")
    if store is None:
        store = build_vector_store(cfg)
    roots = [paths] if isinstance(paths, str | Path) else list(paths)
    patterns = [glob] if isinstance(glob, str) else list(glob or cfg.ingest.glob)
    run = _Run(cfg, store, on_progress)
    run.given = given
    if not threads:
        return await run.execute(roots, patterns, prune)
    run.pool = ThreadPoolExecutor(run.concurrency, "ragloom-embed")
    try:
        return await run.execute(roots, patterns, prune)
    finally:  # interrupted: no need to wait for the requests in flight
        run.pool.shutdown(wait=False, cancel_futures=True)


@dataclass(eq=False)
class _Job:
    """A file whose new chunks are on their way to Qdrant."""

    source: str
    ids: list[str]
    status: Status
    had_points: bool
    aliases: list[str] = field(default_factory=list)
    """Former names of this file (stored by an older ragloom), replaced by `source`."""
    pending: int = 0
    produced: bool = False
    finished: bool = False


@dataclass
class _Item:
    id: str
    text: str
    payload: dict[str, Any]
    job: _Job


class _Run:
    """One ingestion run: a producer turning files into batches, consumers writing them."""

    def __init__(self, cfg: RagConfig, store: QdrantVectorStore,
                 on_progress: ProgressCallback | None) -> None:
        self.store, self.meta = store, store.metadata_payload_key
        self.ledger = Ledger(store.client, store.collection_name, self.meta)
        self.call = self.ledger.call
        mode = RetrievalMode(store.retrieval_mode)
        self.embeddings = store.embeddings if mode is not RetrievalMode.SPARSE else None
        self.sparse = store.sparse_embeddings if mode is not RetrievalMode.DENSE else None
        if self.sparse is None and self.ledger.has_vector(store.sparse_vector_name, sparse=True):
            # A hybrid collection ingested in dense mode: still write the sparse vector,
            # or later sparse/hybrid searches would never see these chunks.
            self.sparse = BM25SparseEmbeddings()
        if mode is not RetrievalMode.SPARSE and self.embeddings is None:
            raise ConfigError("the vector store has no embeddings model to ingest with")
        self.id_key: str | None = getattr(store, "ID_PAYLOAD_KEY", None)
        self.batch_size = cfg.embeddings.batch_size
        self.concurrency = request_slots(cfg.embeddings)  # max_concurrency per server
        self.semaphore = asyncio.Semaphore(self.concurrency)
        self.splitter = Splitter(cfg.ingest.chunk_size, cfg.ingest.chunk_overlap)
        self.on_progress = on_progress
        self.pool: ThreadPoolExecutor | None = None
        self.stopping = False  # an embedding request failed: send no more
        self.report = IngestReport()
        self.cfg = cfg
        self.root: str | None = None
        self.aliases: dict[str, list[str]] = {}
        # source → {(file_hash, chunk_count, chunking): points}, for the sources in play
        self.inventory: Tally = {}
        self.files_total = self.files_done = self.chunks_queued = 0
        self.no_loader: Counter[str] = Counter()
        self.batch: list[_Item] = []
        self.file_notes: list[str] = []
        self.started = time.perf_counter()
        self.given: Access | None = None
        self.recheck_access = False

    def _emit(self, path: str | None = None, status: Status | None = None) -> None:
        if status in ("added", "updated", "unchanged"):
            setattr(self.report, status, getattr(self.report, status) + 1)
        if path is not None and status != "deleted":
            self.files_done += 1
        if self.on_progress is not None:
            done = self.report.chunks_written
            rate = done / max(time.perf_counter() - self.started, 1e-9)
            self.on_progress(IngestProgress(self.files_done, self.files_total, done, rate,
                                            path, status, self.chunks_queued,
                                            self.report.pages))

    async def execute(self, roots: list[str | Path], patterns: list[str],
                      prune: bool) -> IngestReport:
        self.root = source_root(self.cfg, self.ledger.pinned_root)
        unreadable: list[OSError] = []
        roots = [os.path.realpath(r) for r in roots]  # `..` and symbolic links, once
        left_out: Counter[str] = Counter()
        files = sorted({source_id(p, self.root): p
                        for p in discover(roots, patterns, unreadable, left_out,
                                          self._store_folder())}.items())
        files = [(source, path) for source, path in files if self._named_in_utf8(source)]
        self.files_total = len(files)
        self._emit()  # the files found, from the first second
        root_sources = [source_id(r, self.root) for r in roots]
        blind = self._report_unreadable(unreadable)
        former = {source: former_names(path, source) for source, path in files}
        await self.ledger.index()
        self.recheck_access = (self.given is not None or bool(self.cfg.ingest.access)
                               or await self.ledger.holds_access())
        await self._adopt_root()
        self.inventory = await self.ledger.tally(
            [s for s, _ in files] + [n for names in former.values() for n in names],
            root_sources if prune else None)
        self.aliases = claim_former_names(former, self.inventory.keys(), self.root)
        self._emit()
        queue: asyncio.Queue[list[_Item] | None] = asyncio.Queue(self.concurrency * 2)
        workers = self.concurrency * 2  # some embed while others upsert
        await _all_or_nothing(self._produce(files, queue, workers),
                             *(self._consume(queue) for _ in range(workers)))
        if prune:
            await self._prune(root_sources, blind)
        self.report.notes = sorted(self.file_notes) + skipped_notes(self.no_loader, left_out)
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
        known, before = await self.call(self.ledger.recorded_root)
        if known and before == self.root:
            return
        stored = await self.ledger.everything()
        for old, new, merge in plan_renames(stored, before if known else self.root, self.root):
            if merge and not known:
                continue  # an older store's relative name may be another file: keep both
            if merge:
                self.report.chunks_deleted += await self.ledger.delete(
                    models.Filter(must=[self.ledger.source_in([old])]))
            else:
                await self.ledger.rename(old, new, self.store.content_payload_key,
                                         self.id_key, chunk_id)
        await self.call(self.ledger.record_root, self.root)

    async def _prepare(self, path: Path, source: str) -> tuple[str, list[Chunk] | None]:
        """Read and hash a file, then load and split it unless it is stored already.

        Small files are read and hashed, and small plain-text ones split, on the loop
        (a thread hop costs more than that); big ones and parsing go to threads, so
        embedding requests keep flowing.
        """
        try:
            size = path.stat().st_size
        except OSError:
            size = 0  # read_file says what is wrong
        small = size <= _INLINE_BYTES
        data, file_hash = _read(path) if small else await asyncio.to_thread(_read, path)
        stored = self.inventory.get(source, {})
        if len(stored) == 1 and not self.aliases.get(source):
            ((stored_hash, count, chunking), points), = stored.items()
            if (stored_hash, chunking, points) == (file_hash, self.splitter.signature, count):
                return file_hash, None
        ingest = self.cfg.ingest
        context = LoadContext(path, ingest.chunk_size, ingest.chunk_overlap, ingest.ocr,
                              ingest.ocr_language, ingest.notebook_outputs)
        try:
            if size <= _INLINE_SPLIT_BYTES and path.suffix.lower() in _INLINE_SPLIT_TYPES:
                return file_hash, self.splitter.split(load_sections(path, data, context))
            return file_hash, await asyncio.to_thread(
                lambda: self.splitter.split(load_sections(path, data, context)))
        finally:
            self.report.pages += context.pages
            self.file_notes += [f"{source}: {note}" for note in context.notes]

    async def _produce(self, files: list[tuple[str, Path]],
                       queue: asyncio.Queue[list[_Item] | None], workers: int) -> None:
        # Files are read and parsed ahead (up to _PARSE_AHEAD at once, in threads), so a
        # slow file does not hold up the parsing of the next ones; their chunks still
        # enter the queue in file order, which keeps requests (and cassettes) stable.
        ahead: deque[tuple[str, asyncio.Future[tuple[str, list[Chunk] | None]]]] = deque()
        todo = iter(files)
        try:
            while True:
                while len(ahead) < _PARSE_AHEAD and (nxt := next(todo, None)) is not None:
                    ahead.append((nxt[0], asyncio.ensure_future(self._prepare(nxt[1], nxt[0]))))
                if not ahead:
                    break
                source, future = ahead.popleft()
                await self._produce_one(source, future, queue)
        finally:
            for _, future in ahead:
                future.cancel()
            await asyncio.gather(*(f for _, f in ahead), return_exceptions=True)
        if self.batch:
            await queue.put(self.batch)
        for _ in range(workers):
            await queue.put(None)

    async def _produce_one(self, source: str,
                           prepared: asyncio.Future[tuple[str, list[Chunk] | None]],
                           queue: asyncio.Queue[list[_Item] | None]) -> None:
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
        stored = self.inventory.get(source, {})
        aliases = self.aliases.get(source, [])
        ids = [chunk_id(source, i, c.text) for i, c in enumerate(chunks)]
        same = [k for k in stored if (k[0], k[2]) == (file_hash, self.splitter.signature)]
        job = _Job(source, ids,
                   "updated" if len(same) < len(stored) or aliases else "added",
                   had_points=bool(stored) or bool(aliases), aliases=aliases)
        record = f"{file_hash} {len(chunks)} {self.splitter.signature} {source}"
        # After an interrupted run, part of this very version may be stored already
        # (checked by record: a chunk that did not change keeps its id across versions).
        present = await self.ledger.existing(ids, record) if same else set()
        moved = await self._former_vectors(file_hash, len(chunks), aliases)
        copies: list[models.PointStruct] = []
        for index, (point, chunk) in enumerate(zip(ids, chunks, strict=True)):
            if point in present:
                continue
            payload = {
                self.store.content_payload_key: chunk.text,
                self.meta: {"source": source, "file_hash": file_hash, "chunk_index": index,
                            "chunk_count": len(chunks), **chunk.metadata,
                            **self._access(source).metadata()},
                INGEST_KEY: record,
            }
            if self.id_key:
                payload[self.id_key] = point
            if (index, chunk.text) in moved:
                copies.append(models.PointStruct.model_construct(
                    id=point, vector=moved[index, chunk.text], payload=payload))
                continue
            self.batch.append(_Item(point, chunk.text, payload, job))
            job.pending += 1
            if len(self.batch) >= self.batch_size:
                full, self.batch = self.batch, []
                await queue.put(full)
        for start in range(0, len(copies), self.batch_size):
            await self.ledger.upsert(copies[start:start + self.batch_size])
        self.report.chunks_written += len(copies)
        self.chunks_queued += job.pending + len(copies)
        self._emit()  # this file's chunks are queued
        job.produced = True
        if job.pending == 0:
            await self._finish(job)

    async def _consume(self, queue: asyncio.Queue[list[_Item] | None]) -> None:
        while (batch := await queue.get()) is not None:
            vectors = await self._vectors([item.text for item in batch])
            # Built without validation: pydantic checking every float of every vector
            # one by one costs more CPU than the rest of the pipeline together.
            points = [models.PointStruct.model_construct(id=i.id, vector=v, payload=i.payload)
                      for i, v in zip(batch, vectors, strict=True)]
            await self.ledger.upsert(points)
            self.report.chunks_written += len(points)
            for item in batch:
                item.job.pending -= 1
            for job in dict.fromkeys(item.job for item in batch):
                if job.produced and job.pending == 0:
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
                models.Filter(must=[self.ledger.source_in(names[:1])]), fields, True):
            payload = point.payload or {}
            meta = payload.get(self.meta) or {}
            index, text = meta.get("chunk_index"), payload.get(self.store.content_payload_key)
            if meta.get("file_hash") == file_hash and isinstance(index, int) and point.vector:
                found[index, str(text)] = point.vector
        return found

    async def _vectors(self, texts: list[str]) -> list[dict[str, Any]]:
        vectors: list[dict[str, Any]] = [{} for _ in texts]
        if self.embeddings is not None:
            async with self.semaphore:
                if self.stopping:
                    # A request failed and the run is ending: the slot it freed must not
                    # send another batch, whose vectors would never be stored.
                    raise asyncio.CancelledError
                try:
                    if self.pool is None:
                        dense = await self.embeddings.aembed_documents(texts)
                    else:
                        dense = await asyncio.get_running_loop().run_in_executor(
                            self.pool, self.embeddings.embed_documents, texts)
                except BaseException:
                    self.stopping = True  # set before the slot is released
                    raise
            # The slot is free: let the next request go out before the CPU work below
            # (which holds the loop, and the GIL, for milliseconds).
            await asyncio.sleep(0)
            if len(dense) != len(texts):
                raise IngestError(f"the embeddings model returned {len(dense)} vectors for"
                                  f" {len(texts)} texts")
            for vector, values in zip(vectors, dense, strict=True):
                vector[self.store.vector_name] = values
        if self.sparse is not None:
            if isinstance(self.sparse, BM25SparseEmbeddings):
                # Pure Python under the GIL: a thread would only add the hop.
                sparse = self.sparse.embed_documents(texts)
            else:  # a model (fastembed's ONNX) may run outside the GIL: off the loop
                sparse = await self.sparse.aembed_documents(texts)
            for vector, terms in zip(vectors, sparse, strict=True):
                vector[self.store.sparse_vector_name] = models.SparseVector.model_construct(
                    indices=terms.indices, values=terms.values)
        return vectors

    async def _finish(self, job: _Job) -> None:
        """All of a file's new chunks are stored: only now delete its other points."""
        if job.finished:
            return
        job.finished = True
        if job.had_points:
            self.report.chunks_deleted += await self.ledger.delete(models.Filter(
                must=[self.ledger.source_in([job.source, *job.aliases])],
                must_not=[models.HasIdCondition(has_id=list(job.ids))]))
        self._emit(job.source, job.status)

    def _access(self, source: str) -> Access:
        return access_for(source, self.cfg.ingest.access, self.given)

    def _named_in_utf8(self, source: str) -> bool:
        """A file name that is not UTF-8 cannot be stored (nor shown): reported, skipped."""
        try:
            source.encode()
        except UnicodeEncodeError:
            shown = source.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
            self.report.failed.append(FailedFile(shown, (
                "its name is not valid UTF-8 (shown with \\x escapes): rename it, e.g."
                " `convmv -f latin1 -t utf-8 --notest FILE`; the other files were ingested")))
            return False
        return True

    def _report_unreadable(self, errors: list[OSError]) -> list[str]:
        """Report folders that could not be listed; their sources, which prune must spare."""
        blind: list[str] = []
        for error in errors:
            folder = source_id(str(error.filename), self.root)
            blind.append(folder)
            self.report.failed.append(FailedFile(
                folder, f"unreadable folder: {error.strerror or error}; its files were skipped"
                " and none of them pruned (fix its permissions and run again)"))
        return blind

    async def _emptied(self, source: str, reason: str) -> None:
        """An empty file has no content: its old chunks go, and it is reported."""
        names = [source, *self.aliases.get(source, [])]
        if any(name in self.inventory for name in names):
            removed = await self.ledger.delete(
                models.Filter(must=[self.ledger.source_in(names)]))
            self.report.chunks_deleted += removed
            reason += f"; its {removed} old chunks were deleted"
        self.report.failed.append(FailedFile(source, reason))
        self._emit(source, "failed")

    async def _prune(self, root_sources: list[str], blind: list[str]) -> None:
        """Delete sources under the paths given whose file is gone from the filesystem.

        A source is gone only when the filesystem says so (not found); one it will not
        say about (permissions), or under a folder that could not be listed, is kept.
        """
        adopted = {name for names in self.aliases.values() for name in names}
        gone = prunable(self.inventory.keys() - adopted, root_sources, blind, self.root)
        for source in gone:
            where: list[models.Condition] = [self.ledger.source_in([source])]
            tenant = self._access(source).tenant
            if tenant is not None:  # a run for a tenant never deletes another's chunks
                where.append(models.FieldCondition(key=f"{self.meta}.tenant",
                                                   match=models.MatchValue(value=tenant)))
            removed = await self.ledger.delete(models.Filter(must=where))
            if not removed:
                continue
            self.report.chunks_deleted += removed
            self.report.deleted += 1
            self._emit(source, "deleted")
        # A path given but gone is no failure when pruning: its files were deleted.
        self.report.failed = [f for f in self.report.failed if not (
            f.reason == MISSING and any(is_under(source, f.path) for source in gone))]


def skipped_notes(no_loader: Counter[str], left_out: Counter[str]) -> list[str]:
    """One line per suffix of files not read: no loader, or left out by `ingest.glob`.

    Example:
        >>> skipped_notes(Counter({".key": 12}), Counter({".py": 1}))
        ['12 files skipped: .key has no loader', "1 file skipped: .py is not in ingest.glob\
 (add '**/*.py' to read them)"]

    """
    def files(n: int) -> str:
        return f"{n} file{'s' if n != 1 else ''} skipped"

    lines = [f"{files(n)}: {suffix} has no loader" for suffix, n in sorted(no_loader.items())]
    readable = set(loaders())
    for suffix, n in sorted(left_out.items()):
        if suffix in readable:
            lines.append(f"{files(n)}: {suffix} is not in ingest.glob (add '**/*{suffix}' to"
                         " read them)")
        else:
            lines.append(f"{files(n)}: {suffix} has no loader")
    return lines


def _read(path: Path) -> tuple[bytes, str]:
    data = read_file(path)
    return data, hashlib.sha256(data).hexdigest()
