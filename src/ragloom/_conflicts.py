"""Checks on numbers, with no model call: sources that disagree, and numbers nobody gave.

`find_conflicts` looks for two sources that state different numbers for the same thing:
a sentence in each, about the question (sharing its words), alike apart from the number
(most of their words shared), the number followed by the same unit or noun ("30 seconds" /
"45 seconds", "$12" / "$15", "22 vacation days" / "25 vacation days").

`ungrounded_numbers` lists the numbers of an answer that no source contains: a small model
asked for a price or a date the documents do not give often invents one.

Example:
    >>> from langchain_core.documents import Document
    >>> docs = [Document("The default timeout is 30 seconds."),
    ...         Document("The default timeout is 45 seconds.")]
    >>> [(c.first, c.second) for c in find_conflicts("What is the default timeout?", docs)]
    [('30 seconds', '45 seconds')]
    >>> ungrounded_numbers("It costs $49 [1].", docs)
    ['49']

"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from langchain_core.documents import Document

from ragloom._citations import without_citations

__all__ = ["Conflict", "find_conflicts", "ungrounded_numbers"]

_SENTENCE = re.compile(r"(?<=[.!?;])\s+|\n+")
_WORD = re.compile(r"[a-z][a-z_\-]+")
_AMOUNT = re.compile(
    r"(?P<cur>[$€£])?\s?(?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)"
    r"(?:\s?(?P<unit>%|[a-zA-Z][a-zA-Z\-]*))?")
_STOP = frozenset({
    "a", "an", "and", "are", "as", "at", "be", "been", "by", "can", "do", "does", "for",
    "from", "has", "have", "how", "if", "in", "into", "is", "it", "its", "of", "on", "or",
    "per", "that", "the", "their", "then", "there", "these", "this", "to", "up", "was",
    "were", "what", "when", "where", "which", "who", "will", "with", "you", "your", "i",
    "we", "our", "they", "them", "than", "any", "all", "also", "only", "after", "before",
    "about", "each", "every", "set", "sets", "default"
})


@dataclass(frozen=True)
class Conflict:
    """Two sources giving different numbers for the same thing."""

    first_source: int
    """The first source's position (0-based) among the documents."""
    first: str
    """Its value, e.g. `30 seconds`."""
    second_source: int
    """The second source's position."""
    second: str
    """Its value."""


def _words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if w not in _STOP and len(w) > 2}


def _number(raw: str) -> str:
    value = raw.replace(",", "")
    return value[:-2] if value.endswith(".0") else value


def _amounts(sentence: str) -> list[tuple[str, str, str]]:
    """(number, unit or currency, as written) for each number in a sentence."""
    found = []
    for match in _AMOUNT.finditer(sentence):
        unit = (match["cur"] or match["unit"] or "").lower()
        if unit:  # a bare number (a version, a list item) is no claim about a quantity
            found.append((_number(match["num"]), unit, match.group(0).strip()))
    return found


def find_conflicts(question: str, documents: Sequence[Document], *,
                   alike: float = 0.3) -> list[Conflict]:
    """Pairs of sources that give different numbers for the same thing the question asks."""
    asked = _words(question)
    claims: list[tuple[int, str, str, str, set[str]]] = []
    for position, doc in enumerate(documents):
        for sentence in _SENTENCE.split(doc.page_content):
            words = _words(sentence)
            if not words & asked:
                continue
            for number, unit, written in _amounts(sentence):
                claims.append((position, number, unit, written, words))
    conflicts: list[Conflict] = []
    seen: set[tuple[int, int]] = set()
    for i, (pos_a, num_a, unit_a, text_a, words_a) in enumerate(claims):
        for pos_b, num_b, unit_b, text_b, words_b in claims[i + 1:]:
            if pos_a == pos_b or (pos_a, pos_b) in seen or unit_a != unit_b or num_a == num_b:
                continue
            shared = len(words_a & words_b) / len(words_a | words_b)
            if shared >= alike and len(words_a & words_b & asked) >= 1:
                seen.add((pos_a, pos_b))
                conflicts.append(Conflict(pos_a, text_a, pos_b, text_b))
    return conflicts


def ungrounded_numbers(answer: str, documents: Sequence[Document]) -> list[str]:
    """Numbers of two or more digits in `answer` that appear in none of `documents`."""
    text = " ".join(doc.page_content for doc in documents)
    given = {_number(m["num"]) for m in _AMOUNT.finditer(text)}
    given |= {_number(n) for n in re.findall(r"\d+(?:[.,]\d+)*", text)}
    missing = []
    for match in _AMOUNT.finditer(without_citations(answer)):
        number = _number(match["num"])
        if len(number.replace(".", "")) >= 2 and number not in given and number not in missing:
            missing.append(number)
    return missing
