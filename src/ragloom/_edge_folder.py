"""An Edge folder on disk: its layout, its lock, one open shard and its record, errors.

Private module of the `edge` engine (`_edge`).
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import IO, Any

import qdrant_edge as qe

from ragloom.errors import CollectionMismatch, RagloomError, StoreLocked

__all__ = ["EDGE_DIR", "_Collection", "_edge_error", "_lock_folder", "is_edge_folder"]

EDGE_DIR = "edge"
_RECORD_FILE = "collection.json"


def is_edge_folder(location: str | Path) -> bool:
    """Whether `location` holds (or was made for) Edge collections."""
    return (Path(location) / EDGE_DIR).is_dir()


class _Collection:
    """One open shard and its record; writes counted until the next `optimize()`."""

    def __init__(self, folder: Path, shard: qe.EdgeShard, record: dict[str, Any]) -> None:
        self.folder, self.shard, self.record = folder, shard, record
        self.lock = threading.RLock()
        self.unoptimized = self.unflushed = 0

    def save_record(self) -> None:
        tmp = self.folder / (_RECORD_FILE + ".tmp")
        tmp.write_text(json.dumps(self.record, indent=1, sort_keys=True))
        tmp.replace(self.folder / _RECORD_FILE)


def _edge_error(exc: Exception, folder: Path) -> RagloomError:
    text = str(exc)
    if "WouldBlock" in text or "lock" in text.lower():
        return StoreLocked(
            f"the Qdrant Edge collection {str(folder)!r} is open in another process, and an"
            " embedded store takes one process at a time. Close the other process (a"
            " running `ragloom chat`, a notebook), set qdrant.location to another folder,"
            " or run a Qdrant server and set qdrant.url for shared access.")
    if "incompatible" in text.lower():
        return CollectionMismatch(
            f"the Qdrant Edge collection {str(folder)!r} does not fit the configuration"
            f" ({text}). Use another collection (qdrant.collection), or rebuild this one"
            " with build_vector_store(cfg, recreate=True), which deletes its points.")
    return RagloomError(
        f"the Qdrant Edge collection {str(folder)!r} cannot be read ({text}). If a copy"
        " exists elsewhere restore it; otherwise move the folder away (nothing is deleted"
        " for you) and run `ragloom ingest PATH...` to rebuild it from the files.")


def _lock_folder(root: Path) -> IO[str] | None:
    """Hold an exclusive lock on the folder for this client's lifetime.

    Each shard's WAL is locked too, but only when the shard is first used; this lock
    makes a second process fail at once, naming the folder, as local mode does.
    """
    try:
        import fcntl
    except ImportError:  # Windows: the WAL locks still keep a second process out
        return None
    root.mkdir(parents=True, exist_ok=True)
    handle = open(root / ".lock", "a+")  # noqa: SIM115 (held until close())
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        raise StoreLocked(
            f"the Qdrant folder {str(root.parent)!r} is already open in another process (or"
            " another client in this one), and the embedded store takes one at a time."
            " Close the other process (a running `ragloom chat`, a notebook), set"
            " qdrant.location to another folder, or run a Qdrant server and set qdrant.url"
            " for shared access.") from None
    return handle
