"""The first stage of an ingestion run: the paths given in, the files to ingest out.

Files are found under the paths (folders searched with the glob patterns), named by
their source id (relative to the run's root), and sorted; a name that is not UTF-8
and a folder that could not be listed are reported as failures, and the folders
that could not be listed are remembered, so that pruning spares what is under them.

Example:
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> _ = (folder / "a.md").write_text("hello")
    >>> found = find_sources([folder], ["**/*.md"], root=str(folder), store_folder=[])
    >>> [source for source, _ in found.files], found.failed
    (['a.md'], [])

"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from ragloom._formats.mail import mbox_messages
from ragloom._ingest_report import FailedFile
from ragloom._loaders import LoadError, discover, read_file
from ragloom._sources import source_id

__all__ = ["Entry", "Found", "find_sources", "with_messages"]

Entry = tuple[str, Path, tuple[int, bytes] | None]
"""A source of the run: (source id, file, (number, bytes) of an mbox message or None)."""


@dataclass
class Found:
    """What a run found: the files, the paths given as sources, what it could not read."""

    files: list[tuple[str, Path]]
    """(source id, path), sorted by source id."""
    roots: list[str]
    """The paths given, as source ids (what `prune` looks under)."""
    blind: list[str]
    """Folders that could not be listed, as source ids: `prune` spares what is under them."""
    left_out: Counter[str] = field(default_factory=Counter)
    """Files under the folders left out by the glob patterns, by suffix."""
    failed: list[FailedFile] = field(default_factory=list)
    """Unreadable folders and names that are not UTF-8."""


def find_sources(roots: list[str | Path], patterns: list[str], *, root: str | None,
                 store_folder: list[str]) -> Found:
    """Find the files under `roots` (folders searched with `patterns`), named from `root`."""
    unreadable: list[OSError] = []
    found = [os.path.realpath(r) for r in roots]  # `..` and symbolic links, once
    left_out: Counter[str] = Counter()
    named = sorted({source_id(p, root): p
                    for p in discover(found, patterns, unreadable, left_out,
                                      store_folder)}.items())
    failed: list[FailedFile] = []
    files = [(source, path) for source, path in named if _named_in_utf8(source, failed)]
    blind = _report_unreadable(unreadable, root, failed)
    return Found(files, [source_id(r, root) for r in found], blind, left_out, failed)


def with_messages(files: list[tuple[str, Path]],
                  ) -> tuple[list[Entry], dict[str, set[str]], list[FailedFile]]:
    r"""The sources of a run: each file, but each message of an mbox archive.

    An mbox is read here, once; its messages (`inbox.mbox#<key>`) are then stored,
    skipped when unchanged, and pruned one by one. Also returns the keys of the
    messages of each mbox read (what `prune` goes by) and the mboxes that could not be.

    Example:
        >>> import tempfile
        >>> folder = Path(tempfile.mkdtemp())
        >>> _ = (folder / "a.mbox").write_bytes(b"From x\nMessage-ID: <1@x>\n\nHi.\n")
        >>> entries, read, failed = with_messages([("a.mbox", folder / "a.mbox")])
        >>> [source for source, _, _ in entries] == [f"a.mbox#{k}" for k in read["a.mbox"]]
        True

    """
    entries: list[Entry] = []
    read: dict[str, set[str]] = {}
    failed: list[FailedFile] = []
    for source, path in files:
        if path.suffix.lower() != ".mbox":
            entries.append((source, path, None))
            continue
        try:
            messages = mbox_messages(read_file(path))
        except LoadError as exc:
            failed.append(FailedFile(source, str(exc)))
            continue
        read[source] = {key for key, _ in messages}
        if not messages:
            failed.append(FailedFile(source, "no messages in the mbox archive"))
        entries += [(f"{source}#{key}", path, (number, raw))
                    for number, (key, raw) in enumerate(messages, start=1)]
    return entries, read, failed


def _named_in_utf8(source: str, failed: list[FailedFile]) -> bool:
    """A file name that is not UTF-8 cannot be stored (nor shown): reported, skipped."""
    try:
        source.encode()
    except UnicodeEncodeError:
        shown = source.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
        failed.append(FailedFile(shown, (
            "its name is not valid UTF-8 (shown with \\x escapes): rename it, e.g."
            " `convmv -f latin1 -t utf-8 --notest FILE`; the other files were ingested")))
        return False
    return True


def _report_unreadable(errors: list[OSError], root: str | None,
                       failed: list[FailedFile]) -> list[str]:
    """Report folders that could not be listed; their sources, which prune must spare."""
    blind: list[str] = []
    for error in errors:
        folder = source_id(str(error.filename), root)
        blind.append(folder)
        failed.append(FailedFile(
            folder, f"unreadable folder: {error.strerror or error}; its files were skipped"
            " and none of them pruned (fix its permissions and run again)"))
    return blind
