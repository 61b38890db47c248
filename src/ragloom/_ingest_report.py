"""What an ingestion run tells its caller: the report, the progress events, the notes.

The last stage of the pipeline (sources → loaders → chunks → embed → store → ledger →
report): nothing here reads a file or calls a store.

Example:
    >>> IngestReport(added=2).ok, IngestReport(failed=[FailedFile("x.pdf", "corrupt")]).ok
    (True, False)

"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from ragloom._formats import loaders

__all__ = ["FailedFile", "IngestProgress", "IngestReport", "ProgressCallback", "Status",
           "skipped_notes"]

Status = Literal["added", "updated", "unchanged", "deleted", "failed", "skipped"]


@dataclass(frozen=True)
class FailedFile:
    """A file that could not be ingested, and why.

    Example:
        >>> FailedFile("x.pdf", "corrupt").reason
        'corrupt'

    """

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
    """A progress event: at the start, after each batch written and file settled, at the end.

    Example:
        >>> IngestProgress(files_done=1, files_total=2, chunks_done=5, chunks_per_s=10.0).path
        >>> IngestProgress(1, 2, 5, 10.0, "a.md", "added").status
        'added'

    """

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
    readable = set(loaders()) if left_out else set()  # no entry-point scan when not needed
    for suffix, n in sorted(left_out.items()):
        if suffix in readable:
            lines.append(f"{files(n)}: {suffix} is not in ingest.glob (add '**/*{suffix}' to"
                         " read them)")
        else:
            lines.append(f"{files(n)}: {suffix} has no loader")
    return lines
