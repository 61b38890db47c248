"""Verified citations: `[n]` in an answer must name one of the n sources it was given.

What counts as a citation: `[n]`, a list `[1, 3]` or `[1; 3]`, a range `[1-2]` (also with
an en dash), adjacent brackets `[1][2]`, and full-width `【1】` (also `【1†source】`). A
range or list is expanded and every number is checked against the sources. What does
not: `[n]` inside a code span (`` `sys.argv[1]` ``) or a fenced code block (indented too,
as in a list item), the text of a Markdown link or image (`[1](https://...)`), the label
of a reference link (`[docs][1]`) and a reference definition (`[1]: https://...`); they
are left as written, neither counted nor removed.

`AnswerFilter` takes the answer as it arrives (whole or token by token) and returns what
can be shown. Every decision depends on the text alone, never on where the tokens were
cut, so a streamed answer reads exactly as the same answer invoked: only what could
still change is held back (trailing spaces, an unclosed `[...` of at most 42 characters,
a `]` until the next character shows it is no link, the start of a line until it is
known not to open a fence, and an unclosed code span until its closing backticks, a
blank line or 400 characters). A kept citation is written `[1, 2]`; a number without a
source is dropped, with the bracket when nothing in it is left and then with the space
before it. The guards' `rewrite` runs on the prose, never on code.

Example:
    >>> f = AnswerFilter(n_sources=2)
    >>> f.feed("Run `sys.argv[1]` [1-2] nightly [9].") + f.flush()
    'Run `sys.argv[1]` [1, 2] nightly.'
    >>> f.cited, f.removed
    ([1, 2], [9])

"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from langchain_core.documents import Document

__all__ = ["AnswerFilter", "sources_footer", "without_citations"]

_BODY = r"[^\[\]【】\n]{1,40}"
_CANDIDATE = re.compile(rf"([ \t]?)(?:\[({_BODY})\]|【({_BODY})】)")
_DASH = "[-\u2013\u2014]"  # hyphen, en dash, em dash
_ITEM = rf"\d{{1,4}}(?:\s*{_DASH}\s*\d{{1,4}})?"
_LIST = re.compile(rf"\s*{_ITEM}(?:\s*[,;]\s*{_ITEM})*\s*")
_RANGE = re.compile(rf"(\d+)(?:\s*{_DASH}\s*(\d+))?")
_MAX_RANGE = 20  # [1-500] is no citation of 500 sources: all of it is removed
_CANDIDATE_LEN = 42  # "[" + at most 40 characters + "]"
_SPAN_LIMIT = 400  # backticks not closed within this many characters are literal
_FENCE_START = re.compile(r"[ \t]*(?:`*|~*)")  # a line that may still open a fence
_FENCE_OPEN = re.compile(r"[ \t]*(`{3,}|~{3,})(.*)")
_BLANK_LINE = re.compile(r"\n[ \t]*\n")
_TICKS = re.compile(r"`+")


def _numbers(body: str) -> tuple[list[int], list[int]] | None:
    """The numbers a citation body names, and those of ranges too wide to be meant.

    None when the body is no citation.
    """
    body = body.split("†", 1)[0]
    if not _LIST.fullmatch(body):
        return None
    numbers: list[int] = []
    refused: list[int] = []
    for match in _RANGE.finditer(body):
        low, high = int(match[1]), int(match[2] or match[1])
        if high < low or high - low >= _MAX_RANGE:
            refused += [low, high]
        else:
            numbers += range(low, high + 1)
    return numbers, refused


def _prose_cut(text: str) -> int:
    """How much of unfinished prose can be judged now: what follows could not change it."""
    cut = len(text)
    while True:
        while cut and text[cut - 1] in " \t":  # a citation that follows takes the space
            cut -= 1
        opener = max(text.rfind("[", 0, cut), text.rfind("【", 0, cut))
        if opener >= 0 and cut - opener < _CANDIDATE_LEN and not any(
                c in text[opener + 1:cut] for c in "]】"):
            cut = opener  # an unclosed bracket: perhaps a citation in progress
            continue
        if cut and text[cut - 1] in "]】":
            cut = opener if opener >= 0 else cut - 1  # a "(" or "[" next makes it a link
            continue
        return cut


class AnswerFilter:
    """Verify citations and apply `rewrite` to the answer's prose, streamed or whole."""

    def __init__(self, n_sources: int, rewrite: Callable[[str], str] | None = None) -> None:
        self.n_sources = n_sources
        self.rewrite = rewrite
        self.cited: list[int] = []
        """Cited source numbers, in order of first citation."""
        self.removed: list[int] = []
        """Cited numbers without a source, removed from the answer."""
        self.text = ""
        """The answer as shown so far."""
        self._held = ""
        self._line_start = True  # `_held` starts a line
        self._fence: tuple[str, int] | None = None  # inside a fenced block: its fence

    # --- what each part becomes -------------------------------------------------------

    def _prose(self, text: str, line_start: bool) -> str:
        def replace(match: re.Match[str]) -> str:
            after = text[match.end():match.end() + 1]
            opener = match.start(2 if match[2] is not None else 3) - 1
            if after == "(" or (after == ":" and line_start and opener <= 3
                                and not text[:opener].strip(" ")):
                return match[0]  # a Markdown link or image, or a reference definition
            if match[2] is not None and text[opener - 1:opener] == "]":
                label = text.rfind("[", 0, opener - 1)
                if label == -1 or _numbers(text[label + 1:opener - 1]) is None:
                    return match[0]  # the label of a reference link: [docs][1]
            parsed = _numbers(match[2] if match[2] is not None else match[3])
            if parsed is None:
                return match[0]  # [note], [EMAIL_1]: not a citation
            numbers, refused = parsed
            kept = [n for n in dict.fromkeys(numbers) if 1 <= n <= self.n_sources]
            self.removed.extend(n for n in dict.fromkeys(numbers + refused) if n not in kept)
            for n in kept:
                if n not in self.cited:
                    self.cited.append(n)
            if not kept:
                return ""
            return match[1] + "[" + ", ".join(str(n) for n in kept) + "]"

        fixed = _CANDIDATE.sub(replace, text)
        return self.rewrite(fixed) if self.rewrite is not None else fixed

    def _emit(self, raw: str, shown: str) -> str:
        self._held = self._held[len(raw):]
        self._line_start = raw.endswith("\n")
        return shown

    # --- the next settled part of what is held --------------------------------------

    def _fenced(self, final: bool) -> str | None:
        assert self._fence is not None
        held, (char, size) = self._held, self._fence
        end = held.find("\n")
        line = held if end == -1 else held[:end + 1]
        if end == -1 and not final and self._line_start:
            return None  # perhaps the closing fence
        if self._line_start and re.fullmatch(rf"[ \t]*{re.escape(char)}{{{size},}}[ \t]*\n?",
                                             line):
            self._fence = None
        return self._emit(line, line)

    def _line_opening(self, final: bool) -> str | None:
        """At a line's start: a fence opening a code block, "" for none, None: not known yet."""
        held = self._held
        end = held.find("\n")
        line = held if end == -1 else held[:end]
        opening = _FENCE_OPEN.fullmatch(line)
        if end == -1 and not final and (opening or _FENCE_START.fullmatch(line)):
            return None
        if opening is None or (opening[1][0] == "`" and "`" in opening[2]):
            return ""
        self._fence = (opening[1][0], len(opening[1]))
        raw = held[:end + 1] if end != -1 else held
        return self._emit(raw, raw)

    def _code_span(self, start: int, final: bool) -> str | None:
        """Backticks at `start`: a code span, "" for literal backticks, None: not known yet."""
        held = self._held
        run = _TICKS.match(held, start)
        assert run is not None
        if run.end() == len(held) and not final:
            return None  # the run may grow
        blank = _BLANK_LINE.search(held, run.end())
        limit = min(blank.start() if blank else len(held), run.end() + _SPAN_LIMIT)
        for close in _TICKS.finditer(held, run.end()):
            if close.start() >= limit:
                break
            if close.end() == len(held) and not final:
                return None  # the closing run may grow
            if len(close[0]) == len(run[0]):
                raw = held[:close.end()]
                return self._emit(raw, self._prose(held[:start], self._line_start) + raw[start:])
        if blank is None and len(held) <= run.end() + _SPAN_LIMIT and not final:
            return None  # not closed yet
        raw = held[:run.end()]
        return self._emit(raw, self._prose(held[:start], self._line_start) + raw[start:])

    def _step(self, final: bool) -> str | None:
        """Settle the next part of `_held`; None when what follows must be seen first."""
        if self._fence is not None:
            return self._fenced(final)
        if self._line_start:
            opening = self._line_opening(final)
            if opening != "":
                return opening
        held = self._held
        tick, end = held.find("`"), held.find("\n")
        if tick != -1 and (end == -1 or tick < end):
            return self._code_span(tick, final)
        if end != -1:
            return self._emit(held[:end + 1], self._prose(held[:end + 1], self._line_start))
        cut = len(held) if final else _prose_cut(held)
        if cut == 0:
            return None
        return self._emit(held[:cut], self._prose(held[:cut], self._line_start))

    def _drain(self, final: bool) -> str:
        out = []
        while self._held and (piece := self._step(final)) is not None:
            out.append(piece)
        shown = "".join(out)
        self.text += shown
        return shown

    def feed(self, token: str) -> str:
        """Take the next piece of the answer; return what can be shown now."""
        self._held += token
        return self._drain(final=False)

    def flush(self) -> str:
        """Whatever was held back, judged as it stands."""
        return self._drain(final=True)

    def citations(self, sources: Sequence[Document]) -> list[Document]:
        """The cited sources in order of first citation, each with `metadata["citation"]`."""
        return [
            sources[n - 1].model_copy(update={"metadata": {**sources[n - 1].metadata,
                                                           "citation": n}})
            for n in self.cited
        ]


def without_citations(text: str) -> str:
    """`text` with every citation removed (code and links kept as written).

    Example:
        >>> without_citations("Rotate keys [1-2] every 90 days 【3】; see `arr[5]`.")
        'Rotate keys every 90 days; see `arr[5]`.'

    """
    answer = AnswerFilter(n_sources=0)
    return answer.feed(text) + answer.flush()


def sources_footer(citations: Sequence[Document]) -> str:
    """`[Sources: a.md, b.md]` for the cited files, each named once; empty without any."""
    names = list(dict.fromkeys(
        str(doc.metadata.get("source") or doc.id or "unknown") for doc in citations))
    return f"\n\n[Sources: {', '.join(names)}]" if names else ""
