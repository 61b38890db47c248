"""A tiny app built on ragloom: it answers questions about the handbook in `docs/`.

This is what an app team writes; `test_app.py` shows how it tests this code offline.

Example:
    >>> from tests.example_app.app import answer, load_handbook
    >>> load_handbook()  # doctest: +SKIP
    >>> answer("How often are API keys rotated?").sources  # doctest: +SKIP
    ['docs/keys.md']

"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ragloom import IngestReport, RagConfig, build_rag_chain, ingest

DOCS = Path(__file__).with_name("docs")
"""The handbook the app answers from."""


@dataclass(frozen=True)
class Answer:
    """An answer and the handbook pages it drew on."""

    text: str
    """The model's answer."""
    sources: list[str]
    """The `source` of each retrieved chunk, best match first, without repeats."""


def load_handbook(cfg: RagConfig | None = None) -> IngestReport:
    """Ingest the handbook (incremental: unchanged pages cost nothing).

    Example:
        >>> load_handbook().ok  # doctest: +SKIP
        True
    """
    return ingest([DOCS], cfg)


def answer(question: str, cfg: RagConfig | None = None) -> Answer:
    """Answer a question from the handbook.

    Example:
        >>> answer("When do backups run?").sources[0]  # doctest: +SKIP
        'docs/backups.md'
    """
    result = build_rag_chain(cfg).invoke(question)
    sources = [str(doc.metadata.get("source")) for doc in result["sources"]]
    return Answer(text=result["answer"].strip(), sources=list(dict.fromkeys(sources)))
