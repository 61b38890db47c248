"""Checks on values, with no model call: sources that disagree, and numbers nobody gave.

`find_conflicts` looks for two sources that state different values for what the question
asks. In each source, the sentences about the question (sharing its content words, or
their stems: "boils" for "boil") hold its claims; a claim is a value of a kind:

- a quantity with its unit or currency ("30 seconds" / "45 s", "$12", "163 degrees" /
  "171 °C", "16 MiB"), units spelled differently counted as one;
- a year ("in the spring of 1412" / "in the autumn of 1413");
- a version ("Python 3.10" / "Python 3.11 or newer");
- a setting's value ("`chunk_overlap` defaults to 150" / "the default overlap is 300
  characters": a bare number read with the unit of the other side when their sentences
  name the same key);
- yes or no ("is supported" / "is not supported", with the same subject and verb).

Two sources conflict when each one's best sentence about the question gives a value of
the same kind and the values differ.

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

__all__ = ["Conflict", "content_words", "find_conflicts", "ungrounded_numbers"]

_SENTENCE = re.compile(r"(?<=[.!?;])\s+(?=[A-Z`\"'(\[])|\n+")
_WORD = re.compile(r"[a-z][a-z0-9_\-]+")
_AMOUNT = re.compile(
    r"(?P<cur>[$€£])?\s?(?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)"
    r"(?:\s?(?P<unit>%|°\s?[CF]|[a-zA-Z][a-zA-Z\-]*))?")
_STOP = frozenset({
    "a", "an", "and", "are", "as", "at", "be", "been", "by", "can", "do", "does", "for",
    "from", "has", "have", "how", "if", "in", "into", "is", "it", "its", "of", "on", "or",
    "per", "that", "the", "their", "then", "there", "these", "this", "to", "up", "was",
    "were", "what", "when", "where", "which", "who", "will", "with", "you", "your", "i",
    "we", "our", "they", "them", "than", "any", "all", "also", "only", "after", "before",
    "about", "each", "every", "set", "sets", "default", "defaults", "many", "much", "long",
    "big", "far", "get", "give", "gives", "did", "what's", "whats", "value", "not",
    "more", "most", "one", "new", "old", "use", "used", "uses", "may", "must", "should",
})
# Spellings of one unit: a value "163 degrees" and "171 °C" are of one kind.
_UNITS = {
    "°c": "deg", "° c": "deg", "°f": "degf", "° f": "degf", "degree": "deg", "celsius": "deg",
    "s": "second", "sec": "second", "secs": "second", "ms": "millisecond",
    "min": "minute", "mins": "minute", "h": "hour", "hr": "hour", "hrs": "hour",
    "km": "kilometre", "kilometer": "kilometre", "m": "metre", "meter": "metre",
    "eur": "euro", "€": "euro", "usd": "dollar", "$": "dollar", "gbp": "pound", "£": "pound",
    "percent": "%", "per-cent": "%", "kb": "kib", "mb": "mib", "gb": "gib",
}
# Words after a number that are no unit: "in 1412 the ...", "3.2 runs on".
_NOT_UNIT = frozenset({
    "and", "or", "to", "the", "a", "an", "of", "in", "on", "at", "for", "by", "with", "is",
    "are", "was", "were", "from", "as", "after", "before", "runs", "run", "but", "when",
    "if", "then", "than", "until", "out", "up", "into", "via", "per", "each", "every",
    "that", "which", "who", "it", "its", "this", "these", "those", "so", "be", "has", "have",
    "had", "will", "would", "can", "may", "must", "should", "adds", "added", "s",
})
_NEGATION = re.compile(r"\b(?:not|no|never|cannot|can't|doesn't|don't|isn't|aren't|without)\b",
                       re.IGNORECASE)
_YES_NO = re.compile(r"^\s*(?:does|do|is|are|can|will|has|have)\b", re.IGNORECASE)


@dataclass(frozen=True)
class Conflict:
    """Two sources giving different values for the same thing."""

    first_source: int
    """The first source's position (0-based) among the documents."""
    first: str
    """Its value, e.g. `30 seconds`."""
    second_source: int
    """The second source's position."""
    second: str
    """Its value."""


@dataclass(frozen=True)
class _Claim:
    source: int
    kind: str  # the unit, "year", "version", "" (a bare number) or "yes/no"
    value: str
    written: str
    words: frozenset[str]
    weight: int  # question stems its sentence shares
    distance: int  # characters between the value and the nearest question word


def _stem(word: str) -> str:
    word = word.strip("-_")
    for suffix in ("ing", "ed", "es", "s"):
        if len(word) > len(suffix) + 3 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


def _words(text: str) -> set[str]:
    return {_stem(w) for w in _WORD.findall(re.sub(r"[`_]", " ", text.lower()))
            if w not in _STOP and len(w) > 2}


def content_words(text: str) -> set[str]:
    """The stems of a text's content words (no stop words, three letters or more).

    Example:
        >>> sorted(content_words("The console listens on port 7412."))
        ['console', 'listen', 'port']

    """
    return _words(text)


def _number(raw: str) -> str:
    value = raw.replace(",", "")
    return value[:-2] if value.endswith(".0") else value


def _unit(raw: str) -> str:
    unit = raw.lower().replace(" ", "")
    unit = _UNITS.get(unit, unit)
    stem = unit[:-1] if len(unit) > 3 and unit.endswith("s") else unit
    return _UNITS.get(stem, stem)


def _amounts(sentence: str) -> list[tuple[str, str, str, int]]:
    """(number, kind, as written, position) for each number in a sentence."""
    found = []
    for match in _AMOUNT.finditer(sentence):
        start = match.start("num")
        if start and (sentence[start - 1].isalnum() or sentence[start - 1] in "_-."):
            continue  # part of a name: "v2", "C7H14O2", "E3"
        number, unit = _number(match["num"]), match["unit"] or ""
        before = sentence[max(0, start - 12):start].lower()
        if unit.lower() in _NOT_UNIT or (unit and unit[0].isupper() and len(unit) > 3
                                         and not unit.isupper()):
            unit = ""  # "in 1412 the towns", "3.2 Support"
        written = match.group(0).strip() if unit else match["num"]
        if match["cur"]:
            kind = _unit(match["cur"])
            written = match.group(0).strip()
        elif unit:
            kind = _unit(unit)
        elif re.fullmatch(r"1[0-9]{3}|20[0-9]{2}", number):
            kind = "year"
        elif "." in number and re.search(r"(?:python|version)\s*$", before):
            # The version named first ("Python 3.10, 3.11 and 3.12": 3.10), the lowest.
            kind = "version"
        elif re.search(r"(?:status|code|error|http)\W*$", before):
            continue  # an identifier ("status 504"), not a quantity
        else:
            kind = ""
        found.append((number, kind, written, start))
    return found


def _claims(question: str, position: int, doc: Document) -> list[_Claim]:
    asked = _words(question)
    wanted = _wanted(question)
    claims = []
    for sentence in _SENTENCE.split(doc.page_content):
        words = _words(sentence)
        shared = len(words & asked)
        if not shared:
            continue
        spots = [m.start() for m in _WORD.finditer(re.sub(r"[`_]", " ", sentence.lower()))
                 if _stem(m.group(0)) in asked]
        for number, kind, written, at in _amounts(sentence):
            if kind in wanted or ("" in wanted and kind not in ("year", "version")):
                distance = min((abs(at - spot) for spot in spots), default=0)
                claims.append(_Claim(position, kind, number, written, frozenset(words),
                                     shared, distance))
        if "yes/no" in wanted:
            verdict = "no" if _NEGATION.search(sentence) else "yes"
            claims.append(_Claim(position, "yes/no", verdict, sentence.strip()[:80],
                                 frozenset(words), shared, 0))
    return claims


def _wanted(question: str) -> set[str]:
    """The kinds of value a question asks for: "" standing for any quantity."""
    low = question.lower().strip()
    if _YES_NO.match(low):
        return {"yes/no"}
    if re.match(r"(?:who|whom|whose|where|why)\b", low):
        return set()
    if re.search(r"\bwhen\b|\byear\b|\bdate\b|\bsince\b", low):
        return {"year"}
    if re.search(r"\bversions?\b|\bpython\b|\brelease\b", low):
        return {"version"}
    return {""}


def _same_kind(a: _Claim, b: _Claim, asked: set[str]) -> bool:
    if a.kind == b.kind:
        if a.kind == "yes/no":  # the same statement, said and denied
            return len(a.words & b.words & asked) >= 2
        return a.kind != "" or len(a.words & b.words & asked) >= 2
    # A bare number against a quantity: both sentences name the same asked key.
    if "" in (a.kind, b.kind) and "year" not in (a.kind, b.kind):
        return len(a.words & b.words & asked) >= 1 and min(a.weight, b.weight) >= 2
    return False


def find_conflicts(question: str, documents: Sequence[Document], *,
                   min_shared: int = 2) -> list[Conflict]:
    """Pairs of sources that give different values for what the question asks.

    `min_shared`: question words (stems) a source must share in all, over its sentences
    with values, for its claims to count (fewer when the question has fewer).
    """
    asked = _words(question)
    need = min(min_shared, len(asked))
    best: dict[int, list[_Claim]] = {}
    for position, doc in enumerate(documents):
        claims = _claims(question, position, doc)
        on_topic = _words(doc.page_content) & asked
        if claims and len(on_topic) >= need:
            top = max(c.weight for c in claims)
            best[position] = [c for c in claims if c.weight == top]
    conflicts: list[tuple[int, Conflict]] = []
    sources = sorted(best)
    for i, pos_a in enumerate(sources):
        for pos_b in sources[i + 1:]:
            pair = _pair(best[pos_a], best[pos_b], asked)
            if pair is not None:
                conflicts.append(pair)
    conflicts.sort(key=lambda item: -item[0])
    return [conflict for _, conflict in conflicts]


def _pair(claims_a: list[_Claim], claims_b: list[_Claim], asked: set[str]
          ) -> tuple[int, Conflict] | None:
    """The strongest disagreement between two sources' claims, if they share no value."""
    if {(c.kind, c.value) for c in claims_a} & {(c.kind, c.value) for c in claims_b}:
        return None  # they agree on something they both say: not a dispute
    found: tuple[tuple[int, int, int], Conflict] | None = None
    for a in claims_a:
        for b in claims_b:
            if a.value == b.value or not _same_kind(a, b, asked):
                continue
            # Same kind first, then the sentences most about the question, then the
            # values nearest the question's words.
            rank = (int(a.kind == b.kind), a.weight + b.weight, -(a.distance + b.distance))
            if found is None or rank > found[0]:
                found = (rank, Conflict(a.source, a.written, b.source, b.written))
    return None if found is None else (found[0][1], found[1])


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
