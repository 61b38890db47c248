"""Glob patterns as regexes over relative posix paths, as `Path.glob` reads them.

One translation for every glob ragloom reads: `ingest.glob` (which files are found) and
`ingest.access` rules (which files get which access), so a pattern means the same in both.
"""

from __future__ import annotations

import re

from ragloom.errors import ConfigError

__all__ = ["glob_regex"]


def glob_regex(pattern: str) -> re.Pattern[str]:
    """A regex matching the relative posix paths `Path.glob(pattern)` finds.

    Example:
        >>> [bool(glob_regex(p).fullmatch("x/a.md")) for p in ("**/*.md", "*.md", "x/?.md")]
        [True, False, True]

    """
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] in "*?":
            out.append("[^/]*" if pattern[i] == "*" else "[^/]")
            i += 1
        elif pattern[i] == "[" and "]" in pattern[i + 2:]:
            end = pattern.index("]", i + 2)
            inner = pattern[i + 1:end]
            out.append("[" + ("^" + inner[1:] if inner.startswith("!") else inner) + "]")
            i = end + 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    try:
        return re.compile("".join(out))
    except re.error as exc:
        raise ConfigError(f"glob pattern {pattern!r} is not valid ({exc.msg}): check its"
                          " [...] ranges (low to high, e.g. [a-z]) and brackets") from None
