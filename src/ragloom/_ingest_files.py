"""The loading stage of an ingestion run: a file in, its hash and chunks out.

Small files are read and hashed, and small plain-text ones split, on the event loop (a
thread hop costs more than that); big ones and parsing go to threads, so embedding
requests keep flowing. A file whose stored version is this very one is not loaded.

Example:
    >>> import asyncio, tempfile
    >>> from ragloom._loaders import Splitter
    >>> path = Path(tempfile.mkdtemp()) / "a.txt"
    >>> _ = path.write_text("Rotate the keys.")
    >>> loader = FileLoader(Splitter(100, 10), LoadSettings(100, 10, "off", "eng", False))
    >>> file_hash, chunks = asyncio.run(loader.prepare(path, "a.txt", {}, []))
    >>> [c.text for c in chunks]
    ['Rotate the keys.']

"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

from ragloom._loaders import (
    Chunk,
    LoadContext,
    Splitter,
    load_mbox_message,
    load_sections,
    read_file,
)

__all__ = ["FileLoader", "LoadSettings"]

_INLINE_BYTES = 256 * 1024
"""Files up to this size are read and hashed on the event loop: a thread hop costs more."""
_INLINE_SPLIT_BYTES = 32 * 1024
_INLINE_SPLIT_TYPES = frozenset({".txt", ".md", ".markdown"})
"""Plain-text files up to `_INLINE_SPLIT_BYTES` are split on the loop too (well under
a millisecond each); parsing PDF or HTML, or a big file, goes to a thread."""


class LoadSettings(NamedTuple):
    """What a loader is told about the run (from `cfg.ingest`)."""

    chunk_size: int
    chunk_overlap: int
    ocr: Any
    ocr_language: str
    notebook_outputs: bool


class FileLoader:
    """Reads, hashes, loads and splits files; counts their pages and keeps their notes."""

    def __init__(self, splitter: Splitter, settings: LoadSettings) -> None:
        self.splitter, self.settings = splitter, settings
        self.pages = 0
        self.notes: list[str] = []

    async def prepare(self, path: Path, source: str, stored: Mapping[tuple[str, int, str], int],
                      aliases: list[str], message: tuple[int, bytes] | None = None,
                      ) -> tuple[str, list[Chunk] | None]:
        """The file's hash and chunks; None for chunks when `stored` is this very version.

        `message` is (number, bytes) of one message of an mbox archive (read already):
        the source is that message, hashed and loaded on its own.

        Raises the loaders' `NoLoader`, `EmptyFile` and `LoadError`.
        """
        if message is not None:
            number, data = message
            size, file_hash = len(data), hashlib.sha256(data).hexdigest()
        else:
            try:
                size = path.stat().st_size
            except OSError:
                size = 0  # read_file says what is wrong
            small = size <= _INLINE_BYTES
            data, file_hash = _read(path) if small else await asyncio.to_thread(_read, path)
        if len(stored) == 1 and not aliases:
            ((stored_hash, count, chunking), points), = stored.items()
            if (stored_hash, chunking, points) == (file_hash, self.splitter.signature, count):
                return file_hash, None
        context = LoadContext(path, *self.settings)
        try:
            if message is not None:
                return file_hash, await asyncio.to_thread(lambda: self.splitter.split(
                    load_mbox_message(data, context, number)))
            if size <= _INLINE_SPLIT_BYTES and path.suffix.lower() in _INLINE_SPLIT_TYPES:
                return file_hash, self.splitter.split(load_sections(path, data, context))
            return file_hash, await asyncio.to_thread(
                lambda: self.splitter.split(load_sections(path, data, context)))
        finally:
            self.pages += context.pages
            self.notes += [f"{source}: {note}" for note in context.notes]


def _read(path: Path) -> tuple[bytes, str]:
    data = read_file(path)
    return data, hashlib.sha256(data).hexdigest()
