"""Answer modes: `answered`, `abstained` or `disputed`, read from the model's own answer.

The default prompt (`ragloom.prompts`) asks the model to reply `NOT FOUND` when its sources
lack the answer and to begin with `CONFLICT:` when they disagree, citing each side.
`ModeFilter` takes the answer as it arrives (whole or token by token), recognises those
markers, and rewrites them into plain words: an abstention becomes `answer.abstain_text`,
a dispute starts with `answer.disputed_text`. A model that ignores the marker and writes
"the documents do not say" is recognised too (`abstains_in_words`).

While streaming, only the first few characters are held back until it is known whether
the answer starts with a marker; a marker written later in a streamed answer still sets
the mode, but the words already sent stay as they were.

Example:
    >>> mode = ModeFilter("Not in the documents.", "The sources disagree.")
    >>> mode.feed("NOT FOUND") + mode.flush(), mode.marker
    ('Not in the documents.', 'abstained')

"""

from __future__ import annotations

import re
from typing import Literal

__all__ = ["Mode", "ModeFilter", "abstains_in_words", "disputes_in_words"]

Mode = Literal["answered", "abstained", "disputed"]

# "NOT FOUND", also as **NOT FOUND**, "NOT_FOUND" or "Not found." on a line of its own.
_NOT_FOUND = re.compile(r"\bNOT[ _]FOUND\b|^\W*not found\W*$", re.MULTILINE)
_CONFLICT = re.compile(r"^[*_#\s]*CONFLICT\b[*_]*\s*:?[*_]*\s*|\bCONFLICT:\s*", re.MULTILINE)
_HOLD = 12  # characters (after leading space) held back until the start is judged

# A model's own words for "the sources do not hold it", as small models write them.
_IN_WORDS = re.compile(
    r"(?:do(?:es)?(?: not|n't)|did(?: not|n't)) (?:contain|mention|state|specify|say|"
    r"provide|include|give|list|cover|have|address|indicate|disclose)"
    r"|(?:is|are) not (?:mentioned|stated|specified|provided|given|included|listed|"
    r"available|found|covered|disclosed)"
    r"|no (?:information|mention|details?|data) (?:about|on|regarding|is|are|of)"
    r"|(?:can ?not|can't|unable to) (?:find|determine|answer|tell)"
    r"|(?:don't|do not) know",
    re.IGNORECASE,
)


_DISPUTE = re.compile(
    r"\b(?:disagree\w*|contradict\w*|conflict(?:s|ing)?\b|inconsisten\w*"
    r"|(?:sources|documents) (?:differ|give different|state different|say different))",
    re.IGNORECASE,
)


def disputes_in_words(text: str) -> bool:
    """Whether an answer without a marker says its sources disagree.

    Example:
        >>> disputes_in_words("The handbook says 22 days [1], the FAQ 25 [2]: they disagree.")
        True

    """
    return bool(_DISPUTE.search(text))


def abstains_in_words(text: str, cited: int) -> bool:
    """Whether an answer without a marker still declines: "the documents do not say".

    It counts when the answer cites nothing, or when its first sentence declines.

    Example:
        >>> abstains_in_words("The documents do not mention the price.", 0)
        True
        >>> abstains_in_words("Keys rotate monthly [1]. The docs do not say who.", 1)
        False

    """
    if not _IN_WORDS.search(text):
        return False
    first = re.split(r"(?<=[.!?])\s", text.strip(), maxsplit=1)[0]
    return cited == 0 or bool(_IN_WORDS.search(first))


class ModeFilter:
    """Recognise the prompt's markers in an answer and rewrite them into plain words."""

    def __init__(self, abstain_text: str, disputed_text: str) -> None:
        self.abstain_text = abstain_text
        self.disputed_text = disputed_text
        self.marker: Mode | None = None
        """`abstained` or `disputed` when the answer carried that marker."""
        self.raw = ""
        """The answer as the model wrote it."""
        self._held = ""
        self._state: Literal["start", "pass", "swallow"] = "start"

    def _judge(self, text: str) -> str:
        if _NOT_FOUND.search(text):
            self.marker, self._state = "abstained", "swallow"
            return ""
        self._state = "pass"
        match = _CONFLICT.search(text)
        if match:
            self.marker = "disputed"
            rest = (text[:match.start()] + " " + text[match.end():]).strip()
            return f"{self.disputed_text} {rest}" if rest else self.disputed_text + " "
        return text

    def feed(self, token: str) -> str:
        """Take the next piece of the answer; return what can be shown now."""
        self.raw += token
        if self._state == "swallow":
            return ""
        if self._state == "pass":
            if self.marker is None and (_NOT_FOUND.search(self.raw)
                                        or _CONFLICT.search(self.raw)):
                self.marker = "abstained" if _NOT_FOUND.search(self.raw) else "disputed"
            return token
        self._held += token
        if len(self._held.lstrip()) < _HOLD:
            return ""
        held, self._held = self._held, ""
        return self._judge(held)

    def flush(self) -> str:
        """Whatever was held back; the abstention text if the answer was a marker."""
        out = ""
        if self._state == "start":
            held, self._held = self._held, ""
            out = self._judge(held) if held.strip() else held
        if self.marker == "abstained" and self._state == "swallow":
            return self.abstain_text
        return out
