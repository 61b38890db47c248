"""The ingest ledger: what a collection holds per source, read and changed page by page.

Part of the storage layer (only `ragloom.store` and its private modules talk to
Qdrant); `ragloom.ingestion` reads and changes a collection only through it.
Every chunk carries `INGEST_KEY` = "<file_hash> <chunk_count> <chunking> <source>",
the same on every chunk of a file version, so one facet request tallies what is
stored per file.

It speaks ragloom's light types (`ragloom._points`): the Edge engine takes them as they
are, a `QdrantClient` (local mode, a server) gets them converted (`speaking`), so an
ingest into Edge never imports `qdrant_client`.
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import PurePosixPath
from typing import Any, TypeVar

from ragloom._access import ACCESS_KEYS, Access, access_indexes, any_access, same_access
from ragloom._points import (
    FieldCondition,
    Filter,
    HasIdCondition,
    MatchAny,
    PayloadSchemaType,
    PointIdsList,
    PointStruct,
    speaking,
)

__all__ = ["INGEST_KEY", "PAGE", "ROOT_KEY", "Ledger", "Tally", "is_embedded", "message_file"]

INGEST_KEY = "ingest"
"""Top-level payload key: "<file_hash> <chunk_count> <chunking> <source>", the same on
every chunk of a file version, so one facet request tallies what is stored per file."""
PAGE = 4096
ROOT_KEY = "ragloom_sources"
"""Collection metadata key: {"root": the folder relative sources are named against, or
null for absolute sources}, so a later run with another root renames them, never
mistakes one file for another."""
T = TypeVar("T")
Tally = dict[str, dict[tuple[str, int, str], int]]


def _is_under(source: str, root: str) -> bool:
    return PurePosixPath(message_file(source) or source).is_relative_to(PurePosixPath(root))


def message_file(source: str) -> str | None:
    """The mbox file a message's source (`inbox.mbox#<key>`) is in; None for a file.

    Example:
        >>> message_file("mail/inbox.mbox#0f3a"), message_file("a.md") is None
        ('mail/inbox.mbox', True)

    """
    head, mark, key = source.rpartition("#")
    if mark and key and "/" not in key and head.lower().endswith(".mbox"):
        return head
    return None


def is_embedded(client: Any) -> bool:
    """Whether the client runs Qdrant in this process (edge, or local: `:memory:`/a folder)."""
    return getattr(client, "engine", None) == "edge" or _is_local_mode(client)


def _is_local_mode(client: Any) -> bool:
    if getattr(client, "engine", None) == "edge":
        return False  # and qdrant-client need not be imported to say so
    from qdrant_client.local.qdrant_local import QdrantLocal

    return isinstance(getattr(client, "_client", None), QdrantLocal)


_PINNED_ROOTS: weakref.WeakKeyDictionary[Any, dict[str, str]] = weakref.WeakKeyDictionary()
"""client → {collection: source root}: in-memory collections live as long as their client."""


class Ledger:
    """What a collection holds, read and changed through its client, page by page."""

    def __init__(self, client: Any, collection: str, metadata_key: str) -> None:
        self.raw = client
        """The client as given (an `EdgeClient` or a `QdrantClient`)."""
        self.client = speaking(client)
        """The client, taking ragloom's light types."""
        self.collection, self.meta = collection, metadata_key
        self.local = is_embedded(client)

    async def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Call the client: inline for an embedded engine, in a thread for a server.

        Embedded engines are CPU work that holds the GIL: local mode is Python (and
        SQLite may insist on its thread), and qdrant-edge 0.9 keeps the GIL through
        its writes and index builds, so a thread would stall the loop just the same
        and add a hop per call. A server call is I/O, which must not block the loop.
        """
        if self.local:
            return fn(*args, **kwargs)
        return await asyncio.to_thread(fn, *args, **kwargs)

    def pinned_root(self, root: str) -> str:
        """The root sources are named against in this collection, `root` if none yet.

        For in-memory collections, which live as long as their client: the first root
        asked for is kept on the client, so a later run from another directory names
        the same file the same way.
        """
        return _PINNED_ROOTS.setdefault(self.raw, {}).setdefault(self.collection, root)

    def source_in(self, sources: list[str]) -> FieldCondition:
        """A filter condition: the point's `source` is one of `sources`."""
        return FieldCondition(key=f"{self.meta}.source",
                                     match=MatchAny(any=sources))

    async def index(self) -> None:
        """Keyword indexes for the filters and the facet (servers; idempotent).

        Edge collections get theirs when the storage layer creates them.
        """
        if not self.local:
            for key in (f"{self.meta}.source", f"{self.meta}.file_hash", INGEST_KEY):
                await self.call(self.client.create_payload_index, self.collection, key,
                                PayloadSchemaType.KEYWORD)
        if not _is_local_mode(self.raw):
            # Access keys: also on Edge collections built before they were indexed.
            for key, schema in access_indexes(self.meta):
                await self.call(self.client.create_payload_index, self.collection, key,
                                schema)

    async def rekey(self, source: str, access: Access) -> bool:
        """Give a source's points `access` (payload only: no vector is touched).

        Returns whether any point had other access keys (one count when none had).
        """
        differing = Filter(must=[self.source_in([source])],
                                  must_not=[same_access(access, self.meta)])
        found = await self.call(self.client.count, self.collection, count_filter=differing,
                                exact=True)
        if not found.count:
            return False
        of_source = Filter(must=[self.source_in([source])])
        want = access.metadata()
        if want:
            await self.call(self.client.set_payload, self.collection, payload=want,
                            points=of_source, key=self.meta, wait=True)
        gone = [f"{self.meta}.{key}" for key in ACCESS_KEYS if key not in want]
        if gone:
            await self.call(self.client.delete_payload, self.collection, keys=gone,
                            points=of_source, wait=True)
        return True

    async def holds_access(self) -> bool:
        """Whether any point carries access keys (then unchanged files are re-checked)."""
        found = await self.call(self.client.count, self.collection,
                                count_filter=any_access(self.meta), exact=False)
        return bool(found.count)

    async def scroll(self, flt: Filter | None, fields: list[str] | bool,
                     with_vectors: bool = False) -> AsyncIterator[Any]:
        """Every point matching `flt`, without vectors unless asked."""
        offset: Any = None
        while True:
            records, offset = await self.call(
                self.client.scroll, self.collection, scroll_filter=flt, limit=PAGE,
                offset=offset, with_payload=fields, with_vectors=with_vectors)
            for record in records:
                yield record
            if offset is None:
                return

    async def _facet(self, flt: Filter | None) -> dict[str, int]:
        """Points per `INGEST_KEY` value; a scroll on servers without facets (< 1.12)."""
        limit = 65_536
        try:
            while True:
                hits = (await self.call(self.client.facet, self.collection, INGEST_KEY,
                                        facet_filter=flt, limit=limit, exact=True)).hits
                if len(hits) < limit:
                    return {str(hit.value): hit.count for hit in hits}
                limit *= 4
        except Exception:  # an old server; if it is worse, the scroll below says so
            counts: dict[str, int] = {}
            async for record in self.scroll(flt, [INGEST_KEY]):
                value = str((record.payload or {}).get(INGEST_KEY))
                counts[value] = counts.get(value, 0) + 1
            return counts

    def recorded_root(self) -> tuple[bool, str | None]:
        """(whether a root is recorded, the root): what stored relative sources are under."""
        try:
            metadata = self.client.get_collection(self.collection).config.metadata or {}
        except Exception:  # a server before Qdrant 1.16: no collection metadata
            return False, None
        record = metadata.get(ROOT_KEY)
        if not isinstance(record, dict) or "root" not in record:
            return False, None
        root = record["root"]
        return True, root if isinstance(root, str) else None

    def record_root(self, root: str | None) -> None:
        """Record the root sources are now named against (best effort on old servers)."""
        # A server without collection metadata (before 1.16): nothing to keep it in.
        with contextlib.suppress(Exception):
            self.client.update_collection(self.collection, metadata={ROOT_KEY: {"root": root}})

    async def everything(self) -> Tally:
        """Points per (file_hash, chunk_count, chunking) of every source stored."""
        return await self.tally([], None, every=True)

    async def rename(self, old: str, new: str, content_key: str, id_key: str | None,
                     new_id: Callable[[str, int, str], str]) -> int:
        """Move the points of source `old` to source `new` (new ids, same vectors).

        The copies are written before the originals are deleted, so an interrupted
        rename leaves both names, never neither. Returns the points moved.
        """
        moved: list[PointStruct] = []
        async for point in self.scroll(Filter(must=[self.source_in([old])]), True,
                                       with_vectors=True):
            payload = dict(point.payload or {})
            meta = dict(payload.get(self.meta) or {})
            meta["source"] = new
            payload[self.meta] = meta
            parts = str(payload.get(INGEST_KEY, "")).split(" ", 3)
            if len(parts) == 4:
                payload[INGEST_KEY] = " ".join([*parts[:3], new])
            index, text = meta.get("chunk_index"), payload.get(content_key)
            point_id = (new_id(new, index, text) if isinstance(index, int)
                        and isinstance(text, str) else str(point.id))
            if id_key:
                payload[id_key] = point_id
            moved.append(PointStruct(
                id=point_id, vector=point.vector or {}, payload=payload))
        for start in range(0, len(moved), PAGE):
            await self.upsert(moved[start:start + PAGE])
        await self.delete(Filter(
            must=[self.source_in([old])],
            must_not=[HasIdCondition(has_id=[p.id for p in moved])]))
        return len(moved)

    async def tally(self, sources: list[str], roots: list[str] | None, *,
                    every: bool = False) -> Tally:
        """Points per (file_hash, chunk_count, chunking) of each source stored.

        For `sources`, and for every source under `roots` when given. A server
        filters on its `source` index; embedded Qdrant scans every point whatever
        the filter, so one unfiltered pass is far cheaper there.
        """
        groups: list[Filter | None] = [None]
        if roots is None and not self.local and not every:
            groups = [Filter(must=[self.source_in(sources[i:i + 512])])
                      for i in range(0, len(sources), 512)]
        wanted, found = set(sources), Tally()
        for flt in groups:
            for value, count in (await self._facet(flt)).items():
                parts = value.split(" ", 3)
                if len(parts) != 4 or not parts[1].isdigit():
                    continue  # not written by ragloom's ingest
                file_hash, chunks, chunking, source = parts
                if every or source in wanted or (
                        roots and any(_is_under(source, r) for r in roots)):
                    found.setdefault(source, {})[(file_hash, int(chunks), chunking)] = count
        return found

    async def existing(self, ids: list[str], record: str) -> set[str]:
        """Those of `ids` that are stored with `record` as their `INGEST_KEY`.

        A chunk whose text and position did not change keeps its id from one version
        of a file to the next; only the record says which version wrote the point.
        """
        found: set[str] = set()
        for start in range(0, len(ids), PAGE):
            records = await self.call(self.client.retrieve, self.collection,
                                      ids[start:start + PAGE], with_payload=[INGEST_KEY])
            found.update(str(r.id) for r in records
                         if (r.payload or {}).get(INGEST_KEY) == record)
        return found

    async def delete(self, flt: Filter) -> int:
        """Delete the points matching `flt`; returns how many there were."""
        ids = [record.id async for record in self.scroll(flt, False)]
        for start in range(0, len(ids), PAGE):
            selector = PointIdsList(points=ids[start:start + PAGE])
            await self.call(self.client.delete, self.collection, points_selector=selector,
                            wait=True)
        return len(ids)

    async def upsert(self, points: Sequence[PointStruct]) -> None:
        """Write points (payload, dense and sparse vectors), waiting until stored."""
        await self.call(self.client.upsert, self.collection, points=points, wait=True)

    async def finish(self) -> None:
        """A write session ended: flush, and index what was written (edge engine)."""
        finish = getattr(self.raw, "finish_writes", None)
        if finish is not None:
            await self.call(finish, self.collection)

    def has_vector(self, name: str, *, sparse: bool) -> bool:
        """Whether the collection has the dense (`sparse=False`) or sparse vector `name`."""
        params = self.client.get_collection(self.collection).config.params
        found = params.sparse_vectors if sparse else params.vectors
        return name in (found or {}) if isinstance(found, dict) else not sparse and not name
