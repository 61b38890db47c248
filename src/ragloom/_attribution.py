"""Attributed citations: the sources an answer's uncited sentences come from, by overlap.

Small models often answer right from their sources without writing `[n]`. `attribute`
finds, for each sentence of the answer that cites nothing, the one source that states
what it says: the sentence's content words and numbers that the question does not
already hold (what the answer adds) must mostly occur in that source, more of them than
in any other source. A sentence that adds nothing, or that matches two sources equally,
gets no citation. These citations are marked `attributed` wherever they appear, so they
are never mistaken for the model's own.

Example:
    >>> from langchain_core.documents import Document
    >>> docs = [Document("Metrics are served on port 9100."),
    ...         Document("The admin console listens on port 7412 on all interfaces.")]
    >>> attribute("The console listens on port 7412.", "Which port does the console use?",
    ...           docs)
    [2]

"""

from __future__ import annotations

import re
from collections.abc import Sequence

from langchain_core.documents import Document

from ragloom._conflicts import content_words

__all__ = ["attribute"]

_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")
_CITED = re.compile(r"\[\s*\d+(?:\s*[,;]\s*\d+)*\s*\]")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")


def _terms(text: str) -> set[str]:
    numbers = {n.replace(",", "") for n in _NUMBER.findall(text)}
    return content_words(text) | numbers


def attribute(answer: str, question: str, sources: Sequence[Document], *,
              min_share: float = 0.6) -> list[int]:
    """Source numbers (1-based) for the answer's uncited sentences, in order, each once.

    `min_share`: the part of a sentence's new terms its source must hold.
    """
    asked = _terms(question)
    held = [_terms(doc.page_content) for doc in sources]
    found: list[int] = []
    for sentence in _SENTENCE.split(answer):
        if not sentence.strip() or _CITED.search(sentence):
            continue
        new = _terms(sentence) - asked
        if len(new) < 2 and not any(term[0].isdigit() for term in new):
            continue  # too little of its own to tell where it came from
        scores = sorted(((len(new & terms), n) for n, terms in enumerate(held, 1)),
                        reverse=True)
        best, number = scores[0]
        runner_up = scores[1][0] if len(scores) > 1 else 0
        if best / len(new) >= min_share and best > runner_up and number not in found:
            found.append(number)
    return found
