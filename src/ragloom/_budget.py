"""The context budget: how many retrieved chunks fit `answer.max_context_tokens`.

Prefill time on a CPU grows with the prompt, so the sources' share is bounded. Tokens are
estimated at 4 characters each (close for English with the tokenizers of Llama, Qwen and
Mistral models; no tokenizer is loaded), label and delimiters included. Chunks are kept
in rank order; the first that does not fit and all after it are dropped (lowest-ranked
first). The best chunk is always kept, however long.

Example:
    >>> from langchain_core.documents import Document
    >>> docs = [Document("a" * 400), Document("b" * 400), Document("c" * 400)]
    >>> kept, dropped, tokens = fit_context(docs, 250)
    >>> len(kept), dropped, tokens
    (2, 1, 224)

"""

from __future__ import annotations

from collections.abc import Sequence

from langchain_core.documents import Document

__all__ = ["estimate_tokens", "fit_context"]

_CHARS_PER_TOKEN = 4
_OVERHEAD = 48  # "[n] source: ...", <document> and </document>, in characters


def estimate_tokens(doc: Document) -> int:
    """Estimated prompt tokens of one formatted chunk.

    Example:
        >>> estimate_tokens(Document("x" * 400, metadata={"source": "a.md"}))
        113

    """
    label = str(doc.metadata.get("source") or "")
    return -(-(len(doc.page_content) + len(label) + _OVERHEAD) // _CHARS_PER_TOKEN)


def fit_context(documents: Sequence[Document], max_tokens: int | None
                ) -> tuple[list[Document], int, int]:
    """The chunks that fit `max_tokens`, how many were dropped, and the tokens kept."""
    kept: list[Document] = []
    total = 0
    for doc in documents:
        cost = estimate_tokens(doc)
        if kept and max_tokens is not None and total + cost > max_tokens:
            break
        kept.append(doc)
        total += cost
    return kept, len(documents) - len(kept), total
