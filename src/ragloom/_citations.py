"""Verified citations: `[n]` in an answer must name one of the n sources it was given.

`AnswerFilter` takes the answer as it arrives (whole or token by token), holds back
only an unclosed `[...` so a citation split over tokens is judged whole, drops the
numbers that have no source (and a bracket left empty), records the ones that do in
order of first citation, and lets the guards rewrite each piece (placeholders back to
what they masked) before the user sees it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from langchain_core.documents import Document

_CITATION = re.compile(r"(\s?)\[\s*(\d+(?:\s*[,;]\s*\d+)*)\s*\]")
_NUMBER = re.compile(r"\d+")
_HOLD_LIMIT = 48  # a "[" further back than this is not a citation in progress


class AnswerFilter:
    """Verify citations and apply `rewrite` to the answer, streamed or whole."""

    def __init__(self, n_sources: int, rewrite: Callable[[str], str] | None = None) -> None:
        self.n_sources = n_sources
        self.rewrite = rewrite
        self.cited: list[int] = []
        self.removed: list[int] = []
        self.text = ""
        self._held = ""

    def _fix(self, piece: str) -> str:
        def replace(match: re.Match[str]) -> str:
            numbers = [int(n) for n in _NUMBER.findall(match.group(2))]
            kept = [n for n in numbers if 1 <= n <= self.n_sources]
            self.removed.extend(n for n in numbers if n not in kept)
            for n in kept:
                if n not in self.cited:
                    self.cited.append(n)
            if not kept:
                return ""
            return match.group(1) + "[" + ", ".join(str(n) for n in kept) + "]"

        fixed = _CITATION.sub(replace, piece)
        return self.rewrite(fixed) if self.rewrite is not None else fixed

    def feed(self, token: str) -> str:
        """Take the next piece of the answer; return what can be shown now."""
        buffer = self._held + token
        cut = buffer.rfind("[")
        if cut == -1 or "]" in buffer[cut:] or len(buffer) - cut > _HOLD_LIMIT:
            ready, self._held = buffer, ""
        else:
            # A space before the "[" is held too: it goes if the citation goes.
            if cut > 0 and buffer[cut - 1].isspace():
                cut -= 1
            ready, self._held = buffer[:cut], buffer[cut:]
        out = self._fix(ready) if ready else ""
        self.text += out
        return out

    def flush(self) -> str:
        """Whatever was held back, judged as it stands."""
        out = self._fix(self._held) if self._held else ""
        self._held = ""
        self.text += out
        return out

    def citations(self, sources: Sequence[Document]) -> list[Document]:
        """The cited sources in order of first citation, each with `metadata["citation"]`."""
        return [
            sources[n - 1].model_copy(update={"metadata": {**sources[n - 1].metadata,
                                                           "citation": n}})
            for n in self.cited
        ]


def sources_footer(citations: Sequence[Document]) -> str:
    """`[Sources: a.md, b.md]` for the cited files, each named once; empty without any."""
    names = list(dict.fromkeys(
        str(doc.metadata.get("source") or doc.id or "unknown") for doc in citations))
    return f"\n\n[Sources: {', '.join(names)}]" if names else ""
