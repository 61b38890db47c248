"""Private helpers of `ragloom.ingestion`: files in, chunks out; what Qdrant holds.

Find, load and split files (`ragloom._sources` names them). What Qdrant holds
(`Ledger`) belongs to the storage layer (`ragloom._ledger`) and is re-exported here.

Every loader (`ragloom._formats`: by suffix or sniffed type, plugins included) takes
the file's bytes (read once, hashed once) and returns sections: `(text, metadata)`
pairs, one per PDF page, Markdown header section, slide, group of rows…. Anything that
makes a file unusable raises `LoadError` with a reason meant for a human; the caller
reports it and moves on.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
import uuid
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path, PurePosixPath
from typing import Any, NamedTuple

from langchain_text_splitters import RecursiveCharacterTextSplitter

from ragloom._formats import (
    EmptyFile,
    LoadContext,
    LoadError,
    NoLoader,
    Section,
    loader_for,
    mail,
    run_loader,
)
from ragloom._glob import glob_regex
from ragloom._ledger import INGEST_KEY, Ledger, is_embedded, message_file
from ragloom._ledger import Tally as Tally  # re-exported for ragloom.ingestion

__all__ = [
    "CHUNK_NAMESPACE", "INGEST_KEY", "MAX_LABEL", "MISSING", "Chunk", "EmptyFile", "Ledger",
    "LoadContext", "LoadError", "NoLoader", "Splitter", "chunk_id", "discover", "glob_regex",
    "is_embedded", "is_under", "load_mbox_message", "load_sections", "message_file",
    "read_file",
]

CHUNK_NAMESPACE = uuid.UUID("bcdb032d-3792-586e-be8c-5b7503013096")
"""UUIDv5 namespace of chunk point ids: uuid5(NAMESPACE_URL, ragloom.invalid/chunk-id)."""
MISSING = "no such file or directory"
MAX_LABEL = 256
"""Longest metadata string kept on a chunk (a header, a title): every chunk carries a copy."""



def chunk_id(source: str, index: int, text: str) -> str:
    """The Qdrant point id of a chunk: UUIDv5 of source, index and content hash.

    Example:
        >>> chunk_id("docs/a.md", 0, "hello") == chunk_id("docs/a.md", 0, "hello")
        True

    """
    digest = hashlib.sha256(text.encode()).hexdigest()
    return str(uuid.uuid5(CHUNK_NAMESPACE, f"{source}\0{index}\0{digest}"))


def is_under(source: str, root: str) -> bool:
    """Whether `source` is `root` or lies inside it (both as `_sources.source_id` returns them).

    Example:
        >>> is_under("docs/a.md", "docs"), is_under("docsx/a.md", "docs"), is_under("a.md", ".")
        (True, False, True)

    """
    return PurePosixPath(source).is_relative_to(PurePosixPath(root))




def _walk(root: str, regexes: list[re.Pattern[str]], unreadable: list[OSError],
          left_out: Counter[str], skip: frozenset[str] = frozenset()) -> list[Path]:
    found, visited = [], set()
    for folder, dirs, names in os.walk(root, onerror=unreadable.append, followlinks=True):
        try:
            info = os.stat(folder)
        except OSError as exc:
            unreadable.append(exc)
            dirs.clear()
            continue
        if (info.st_dev, info.st_ino) in visited:  # a symlink loop
            dirs.clear()
            continue
        visited.add((info.st_dev, info.st_ino))
        dirs[:] = [d for d in dirs if not d.startswith(".")
                   and not (skip and os.path.realpath(os.path.join(folder, d)) in skip)]
        prefix = os.path.relpath(folder, root).replace(os.sep, "/")
        prefix = "" if prefix == "." else prefix + "/"
        for name in names:
            if name.startswith("."):
                continue
            path = os.path.join(folder, name)
            if any(r.fullmatch(prefix + name) for r in regexes):
                if os.path.isfile(path):
                    found.append(Path(path))
            elif os.path.isfile(path):
                left_out[os.path.splitext(name)[1].lower() or "(no suffix)"] += 1
    return sorted(found)


def discover(roots: Iterable[str | os.PathLike[str]], patterns: list[str],
             unreadable: list[OSError] | None = None,
             left_out: Counter[str] | None = None,
             skip: Iterable[str] = ()) -> Iterator[Path]:
    """Files to ingest: named files as given, folders searched with glob `patterns`.

    Inside folders, names starting with a dot are skipped (files and folders). Results
    are unique and sorted within each root; a missing root is yielded as is (the
    caller reports it). Folders that cannot be listed are appended to `unreadable`
    (the error, with its `filename`), so the caller can report them; files the
    patterns leave out are counted by suffix in `left_out`. Folders in `skip` (real
    paths: the store's own folder) are not searched.
    """
    regexes = [glob_regex(p) for p in patterns]
    seen: set[str] = set()
    errors = unreadable if unreadable is not None else []
    counted: Counter[str] = left_out if left_out is not None else Counter()
    skipped = frozenset(os.path.realpath(folder) for folder in skip)
    for root in roots:
        found = (_walk(os.fspath(root), regexes, errors, counted, skipped)
                 if os.path.isdir(root)
                 else [Path(root)])
        for path in found:
            key = os.path.abspath(path)
            if key not in seen:
                seen.add(key)
                yield path


def read_file(path: Path) -> bytes:
    """The file's bytes, or a `LoadError` saying why they cannot be read."""
    try:
        mode = os.stat(path).st_mode
        if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
            # Reading a FIFO waits for a writer for ever; a device never ends.
            raise LoadError("not a regular file (a FIFO, socket or device): skipped, as"
                            " only files are read; copy its content to a file to ingest it")
        return path.read_bytes()
    except FileNotFoundError:
        raise LoadError(MISSING) from None
    except IsADirectoryError:
        raise LoadError("is a directory") from None
    except OSError as exc:
        raise LoadError(f"unreadable: {exc.strerror or exc}") from None


def load_sections(path: Path, data: bytes,
                  context: LoadContext | None = None) -> list[Section]:
    """Turn a file's bytes into `(text, metadata)` sections, by suffix or sniffed type.

    The loader comes from `ragloom._formats` (built-ins and `ragloom.loaders` plugins).

    Raises:
        NoLoader: No loader reads this kind of file.
        LoadError: Empty, binary, badly encoded, corrupt, or its extra is missing.

    Example:
        >>> load_sections(Path("a.txt"), b"hello")
        [('hello', {})]

    """
    if not data:
        spec = loader_for(path, data)  # no loader is said before "empty"
        raise EmptyFile("empty file")
    spec = loader_for(path, data)
    context = context if context is not None else LoadContext(path)
    sections = [(text, _capped(meta)) for text, meta in run_loader(spec, data, context)
                if text.strip()]
    if not sections:
        raise EmptyFile("no text in the file (only whitespace or markup)")
    return sections


def load_mbox_message(data: bytes, context: LoadContext, number: int) -> list[Section]:
    r"""One message (number `number`, from 1) of an mbox archive as a section.

    Example:
        >>> [(text, meta)] = load_mbox_message(b"From: a@x\nSubject: Hi\n\nNoon.",
        ...                                    LoadContext(Path("m.mbox")), 2)
        >>> meta["location"], meta["message"]
        ('“Hi” from a@x', 2)

    """
    sections = [(text, _capped(meta)) for text, meta in mail.load_mbox_message(
        data, context, number) if text.strip()]
    if not sections:
        raise EmptyFile("no text in the message")
    return sections


def _capped(meta: dict[str, Any]) -> dict[str, Any]:
    # Every chunk of a section carries its metadata: a 300 KB header line copied into
    # each chunk would multiply the store by the chunk count.
    return {key: value[:MAX_LABEL - 1] + "…" if isinstance(value, str) and len(value) > MAX_LABEL
            else value for key, value in meta.items()}


class Chunk(NamedTuple):
    """One piece of a file, ready to embed."""

    text: str
    metadata: dict[str, Any]


class Splitter:
    """Recursive character splitting with the configured sizes.

    Example:
        >>> [c.text for c in Splitter(10, 0).split([("aaaa bbbb cccc", {})])]
        ['aaaa bbbb', 'cccc']

    """

    def __init__(self, chunk_size: int, chunk_overlap: int) -> None:
        self.signature = f"v1:{chunk_size}:{chunk_overlap}"
        """Changes whenever the same file would be cut differently."""
        self._splitter = RecursiveCharacterTextSplitter(
            chunk_size=chunk_size, chunk_overlap=chunk_overlap
        )

    def split(self, sections: list[Section]) -> list[Chunk]:
        """Split every section, keeping its metadata on each of its chunks."""
        return [
            Chunk(text, dict(meta))
            for section, meta in sections
            for text in self._splitter.split_text(section)
            if text.strip()
        ]


