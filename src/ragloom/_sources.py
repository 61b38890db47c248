"""Private helpers of `ragloom.ingestion`: how files are named in the store.

A file's `source` is its path relative to the source root (`source_root`), which does
not depend on the working directory; names an older ragloom stored relative to its
working directory are recognised (`claim_former_names`); prune deletes only what the
filesystem reports as gone (`prunable`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Collection, Mapping
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from ragloom._loaders import is_under, message_file
from ragloom.errors import ConfigError

if TYPE_CHECKING:
    from ragloom.config import RagConfig

__all__ = ["claim_former_names", "former_names", "path_state", "plan_renames", "prunable",
           "source_id", "source_path", "source_root"]


def source_root(cfg: RagConfig, pin: Callable[[str], str]) -> str | None:
    """The folder stored sources are relative to (resolved), or None for absolute sources.

    `ingest.root` when set; else the folder holding an embedded store's folder (the
    project: `.ragloom/qdrant` gives the folder holding `.ragloom`); for an in-memory
    collection the working directory of its first ingest (`pin` keeps it); for a
    server, None.
    """
    if cfg.ingest.root:
        root = os.path.realpath(os.path.expanduser(cfg.ingest.root))
        if os.path.exists(root) and not os.path.isdir(root):
            raise ConfigError(
                f"ingest.root {cfg.ingest.root!r} is a file, not a folder: sources are named"
                f" relative to a folder. Set ingest.root to {os.path.dirname(root)!r} (the"
                " folder holding it), or leave it unset")
        return root
    if cfg.qdrant.url:
        return None
    if cfg.qdrant.location == ":memory:":
        return pin(os.path.realpath(os.getcwd()))
    folder = os.path.dirname(os.path.realpath(os.path.expanduser(cfg.qdrant.location)))
    return os.path.dirname(folder) if os.path.basename(folder).startswith(".") else folder


def source_id(path: str | os.PathLike[str], root: str | None) -> str:
    """The `source` stored for a path: posix, relative to `root` when under it, else absolute.

    The path is made absolute and normalized (`..`); callers resolve symbolic links in
    the paths they were given (`os.path.realpath`, once per path, not per file), so the
    same file gets the same source from any working directory. `root` must be resolved
    too; None means absolute sources.

    Example:
        >>> source_id("/srv/docs/a.md", root="/srv")
        'docs/a.md'
        >>> source_id("/elsewhere/b.md", root="/srv")
        '/elsewhere/b.md'

    """
    absolute = os.path.abspath(os.fspath(path))
    if root is not None:
        if absolute == root:
            return "."
        prefix = root.rstrip(os.sep) + os.sep
        if absolute.startswith(prefix):
            absolute = absolute[len(prefix):]
    return absolute if os.sep == "/" else Path(absolute).as_posix()


def source_path(source: str, root: str | None) -> str | None:
    """The filesystem path a stored `source` names under `root`; None when it cannot tell.

    Example:
        >>> source_path("docs/a.md", "/srv"), source_path("/x/b.md", None)
        ('/srv/docs/a.md', '/x/b.md')
        >>> source_path("c.md", None) is None
        True

    """
    if os.path.isabs(source):
        return source
    return None if root is None else os.path.join(root, *PurePosixPath(source).parts)


def path_state(path: str) -> str:
    """"missing", "present", or "unknown" when the filesystem will not say (permissions)."""
    try:
        os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return "missing"
    except OSError:
        return "unknown"
    return "present"


def former_names(path: Path, source: str) -> list[str]:
    """Sources an older ragloom may have stored for this file (cwd-relative or absolute).

    Before sources were fixed to a root, they were relative to the working directory
    of the run, so any tail of the file's path (or the whole absolute path) may name it.

    Example:
        >>> former_names(Path("/srv/p/a.md"), "p/a.md")
        ['/srv/p/a.md', 'a.md', 'srv/p/a.md']

    """
    full = Path(os.path.abspath(path)).as_posix()
    parts = full.split("/")
    names = {full, *("/".join(parts[i:]) for i in range(1, len(parts)) if parts[i])}
    names.discard(source)
    return sorted(names)


def claim_former_names(former: dict[str, list[str]], stored: Collection[str],
                       root: str | None) -> dict[str, list[str]]:
    """Former names to take over, per source of this run (see `former_names`).

    A stored name is a file's former name when it is one of its `former_names`, no
    file of this run has it, no other file of the run could claim it, and it does not
    name an existing file (or one the filesystem will not tell about) under `root`.

    Example:
        >>> claim_former_names({"p/a.md": ["a.md"], "p/b.md": ["b.md"]}, {"a.md"}, None)
        {'p/a.md': ['a.md']}

    """
    claims: dict[str, list[str]] = {}
    for source, names in former.items():
        for name in names:
            if name in stored and name not in former:
                claims.setdefault(name, []).append(source)
    taken: dict[str, list[str]] = {}
    for name, claimants in claims.items():
        where = source_path(name, root)
        if len(claimants) == 1 and (where is None or path_state(where) == "missing"):
            taken.setdefault(claimants[0], []).append(name)
    return taken


def prunable(stored: Collection[str], under: list[str], spared: list[str],
             root: str | None, read: Mapping[str, Collection[str]] | None = None) -> list[str]:
    """Stored sources under `under` (sources) whose file the filesystem reports gone.

    Sources under a `spared` folder (one that could not be listed), sources that
    cannot be located (relative ones without a root) and files the filesystem will
    not tell about (permissions) are never prunable. A message of an mbox archive
    (`inbox.mbox#<key>`) is gone when its file is, or when this run read the file
    (`read`: file → the keys of its messages) and the key is not in it.

    Example:
        >>> prunable({"/m/a.mbox#k1", "/m/a.mbox#k2"}, ["/m"], [], None, {"/m/a.mbox": {"k1"}})
        ['/m/a.mbox#k2']

    """
    gone = []
    for source in sorted(stored):
        file = message_file(source)
        name = file or source
        where = source_path(name, root)
        if (where is None or not any(is_under(name, r) for r in under)
                or any(is_under(name, s) for s in spared)):
            continue
        if file is not None and path_state(str(source_path(source, root))) != "missing":
            continue  # a file of that very name is there (or the filesystem will not say)
        if file is not None and read is not None and file in read:
            if source.rpartition("#")[2] not in read[file]:
                gone.append(source)
            continue
        if path_state(where) == "missing":
            gone.append(source)
    return gone


def plan_renames(stored: Collection[str], before: str | None,
                 root: str | None) -> list[tuple[str, str, bool]]:
    """Renames (old, new, merge) from names against `before` to names against `root`.

    Ordered so that no rename lands on a name still in use.

    `merge` is True when `new` is already stored for the same file (it was stored
    twice, absolute and relative): the `old` copy is then dropped, not moved.
    Relative names that cannot be located (no `before` root) are left alone.

    Example:
        >>> plan_renames({"a.md", "docs/a.md"}, "/p", "/p/docs")
        [('a.md', '/p/a.md', False), ('docs/a.md', 'a.md', False)]
        >>> plan_renames({"/p/a.md", "a.md"}, "/p", "/p")
        [('/p/a.md', 'a.md', True)]

    """
    moves: dict[str, str] = {}
    for source in sorted(stored):
        where = source_path(source, before)
        if where is not None:
            new = source_id(where, root)
            if new != source:
                moves[source] = new
    occupied = set(stored) - set(moves)
    plan: list[tuple[str, str, bool]] = []
    while moves:
        ready = [old for old, new in moves.items() if new not in moves]
        if not ready:  # a cycle cannot arise from one root change; leave the rest as is
            break
        for old in ready:
            new = moves.pop(old)
            plan.append((old, new, new in occupied))
            occupied.add(new)
    return plan
