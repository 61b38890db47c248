"""An offline BM25-style sparse embedder for Qdrant's sparse vectors.

Qdrant computes the IDF part of BM25 itself when the sparse vector is created with
``modifier=IDF`` (statistics over the whole collection, always current). What is
left to the client is the term-frequency part, which this module computes without
any model, download or network: a Unicode-aware word split, lowercasing, English
stop words removed, Snowball stemming (``snowballstemmer``), and a term id that is a
stable hash of the stem, so ids never depend on the process, the corpus or the
order documents arrive in.

It has langchain-qdrant's `SparseEmbeddings` interface without importing
langchain-qdrant (an ingest into the Edge engine never loads it): it is registered as
a virtual subclass of `SparseEmbeddings` once langchain-qdrant is imported, so
`isinstance(bm25, SparseEmbeddings)` holds wherever the `VectorStore` face runs. Its
vectors are `ragloom._points.SparseVector`s (`indices`, `values`, like langchain-qdrant's).

Example:
    >>> from ragloom._bm25 import BM25SparseEmbeddings
    >>> bm25 = BM25SparseEmbeddings()
    >>> bm25.tokenize("The runners were running")
    ['runner', 'run']
    >>> bm25.embed_query("running runs").values
    [1.0]

"""

from __future__ import annotations

import hashlib
import re
import sys
import threading
import unicodedata
from collections import Counter
from collections.abc import Iterable
from itertools import repeat
from typing import Any

import snowballstemmer  # type: ignore[import-untyped, unused-ignore]

from ragloom._points import SparseVector

__all__ = ["ENGLISH_STOP_WORDS", "BM25SparseEmbeddings", "register_sparse_embeddings"]

# Snowball's English stop list (snowballstem.org/algorithms/english/stop.txt): the
# list made for this stemmer, negations and contractions included.
ENGLISH_STOP_WORDS: frozenset[str] = frozenset(
    """
    i me my myself we our ours ourselves you your yours yourself yourselves he him his
    himself she her hers herself it its itself they them their theirs themselves what
    which who whom this that these those am is are was were be been being have has had
    having do does did doing would should could ought i'm you're he's she's it's we're
    they're i've you've we've they've i'd you'd he'd she'd we'd they'd i'll you'll
    he'll she'll we'll they'll isn't aren't wasn't weren't hasn't haven't hadn't
    doesn't don't didn't won't wouldn't shan't shouldn't can't cannot couldn't mustn't
    let's that's who's what's here's there's when's where's why's how's a an the and
    but if or because as until while of at by for with about against between into
    through during before after above below to from up down in out on off over under
    again further then once here there when where why how all any both each few more
    most other some such no nor not only own same so than too very
    """.split()  # noqa: SIM905 (the published list, in its published layout)
)

# Letters and digits of any script; an apostrophe inside a word keeps it whole
# ("don't", "o'clock") so the stop list and the stemmer see the real word.
# Underscores split words, so `api_key` matches "API key".
_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)*")
_ASCII_WORD = re.compile(r"[a-z0-9]+(?:'[a-z0-9]+)*")
"""`_WORD` on lowercased ASCII text, where `[^\\W_]` is `[a-z0-9]`: the same words,
found in half the time (a literal class instead of a Unicode category test)."""
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u02bc": "'", "\uff07": "'"})
_UNSEEN = -1  # term ids are unsigned
_CACHE_WORDS = 200_000  # bounded: a corpus's vocabulary, not its text


class BM25SparseEmbeddings:
    """BM25 term weights for Qdrant sparse vectors with the IDF modifier.

    Documents carry BM25's saturated term frequency
    ``tf * (k1 + 1) / (tf + k1 * (1 - b + b * len / avgdl))`` per stem, where ``len``
    counts the document's terms after stop words; queries carry 1 per unique stem.
    Qdrant multiplies in the IDF, so the score of a query is the BM25 score of the
    document. Deterministic, thread-safe, offline.

    Args:
        language: A Snowball algorithm name (`english`, `french`, `german`, ...).
        k1: Term-frequency saturation; higher lets repeated terms count longer.
        b: Length normalisation, 0 (none) to 1 (full).
        avgdl: The average document length in terms that `b` normalises against;
            about 100 for the default 1000-character chunks.
        stop_words: Words dropped before stemming; default the Snowball English list
            for `english` and none for other languages.

    Example:
        >>> bm25 = BM25SparseEmbeddings(avgdl=3)
        >>> vec = bm25.embed_documents(["running runs run"])[0]
        >>> vec.indices == [BM25SparseEmbeddings.term_id("run")], round(vec.values[0], 4)
        (True, 1.5714)

    """

    def __init__(
        self,
        *,
        language: str = "english",
        k1: float = 1.2,
        b: float = 0.75,
        avgdl: float = 100.0,
        stop_words: Iterable[str] | None = None,
    ) -> None:
        if language not in snowballstemmer.algorithms():
            raise ValueError(
                f"no Snowball stemmer for {language!r}; choose one of "
                f"{', '.join(snowballstemmer.algorithms())}"
            )
        if k1 < 0 or not 0 <= b <= 1 or avgdl <= 0:
            raise ValueError("BM25 needs k1 >= 0, 0 <= b <= 1 and avgdl > 0")
        self.language = language
        """The Snowball algorithm used for stemming."""
        self.k1 = k1
        """Term-frequency saturation."""
        self.b = b
        """Length normalisation."""
        self.avgdl = avgdl
        """Average document length in terms."""
        if stop_words is None:
            stop_words = ENGLISH_STOP_WORDS if language == "english" else ()
        self.stop_words: frozenset[str] = frozenset(w.casefold() for w in stop_words)
        """Words dropped before stemming."""
        # Snowball stemmers keep state while they work: one per thread, because the
        # async API runs embed_documents in executor threads.
        self._local = threading.local()
        self._cache: dict[str, str] = {}
        # word → term id (None for a stop word): one dict lookup per word of a chunk
        # instead of stemming and hashing it, once the largest CPU cost of an ingest.
        self._ids: dict[str, int | None] = {}

    def __repr__(self) -> str:
        return (
            f"BM25SparseEmbeddings(language={self.language!r}, k1={self.k1}, b={self.b}, "
            f"avgdl={self.avgdl})"
        )

    @staticmethod
    def term_id(stem: str) -> int:
        """The sparse index of a stem: the first 4 bytes of its BLAKE2b hash.

        Example:
            >>> BM25SparseEmbeddings.term_id("run") == BM25SparseEmbeddings.term_id("run")
            True

        """
        return int.from_bytes(hashlib.blake2b(stem.encode("utf-8"), digest_size=4).digest(), "big")

    def _stem(self, word: str) -> str:
        stem = self._cache.get(word)
        if stem is None:
            stemmer: Any = getattr(self._local, "stemmer", None)
            if stemmer is None:
                stemmer = self._local.stemmer = snowballstemmer.stemmer(self.language)
            stem = str(stemmer.stemWord(word))
            if len(self._cache) < _CACHE_WORDS:
                self._cache[word] = stem
        return stem

    def tokenize(self, text: str) -> list[str]:
        """The stems of `text` in order, stop words removed.

        Example:
            >>> BM25SparseEmbeddings().tokenize("Rotating the API_KEYS, don't wait!")
            ['rotat', 'api', 'key', 'wait']

        """
        normalized = unicodedata.normalize("NFKC", text).translate(_APOSTROPHES).casefold()
        return [
            self._stem(word) for word in _WORD.findall(normalized) if word not in self.stop_words
        ]

    def _lookup(self, text: str) -> list[int | None]:
        """The term id of each word of `text` in order, None for a stop word."""
        if text.isascii():  # NFKC and the apostrophe table leave ASCII as it is
            words = _ASCII_WORD.findall(text.lower())
        else:
            words = _WORD.findall(
                unicodedata.normalize("NFKC", text).translate(_APOSTROPHES).casefold())
        known = self._ids
        ids = list(map(known.get, words, repeat(_UNSEEN, len(words))))
        if _UNSEEN in ids:
            fresh = {word: None if word in self.stop_words else self.term_id(self._stem(word))
                     for word in set(words).difference(known)}
            if len(known) + len(fresh) <= _CACHE_WORDS:
                known.update(fresh)
            ids = [fresh[word] if term == _UNSEEN else term
                   for word, term in zip(words, ids, strict=True)]
        return ids

    def _term_ids(self, text: str) -> list[int]:
        """The term ids of `text`'s stems in order, stop words removed."""
        return [term for term in self._lookup(text) if term is not None]

    def embed_documents(self, texts: list[str]) -> list[SparseVector]:
        """BM25 term-frequency weights of each text, sorted by term id.

        Example:
            >>> [len(v.indices) for v in BM25SparseEmbeddings().embed_documents(["a cat", ""])]
            [1, 0]

        """
        vectors = []
        k1, b, avgdl, saturation = self.k1, self.b, self.avgdl, self.k1 + 1.0
        for text in texts:
            ids = self._lookup(text)
            # Counted in C, stop words (None) included and then taken out: no loop over
            # the words in Python. Different stems whose hashes collide count as one
            # term: indices must be unique.
            counts = Counter(ids)
            length = len(ids) - counts.pop(None, 0)
            norm = k1 * (1.0 - b + b * length / avgdl)
            indices: list[int] = sorted(counts)  # type: ignore[arg-type]  # None is gone
            # A text has few distinct frequencies: each weight computed once, the same
            # expression (and so the same float) as one computed per term.
            weight = {tf: tf * saturation / (tf + norm) for tf in set(counts.values())}
            values = list(map(weight.__getitem__, map(counts.__getitem__, indices)))
            # Built without validation: sorted unique ints and floats by construction.
            vectors.append(SparseVector(indices=indices, values=values))
        return vectors

    def embed_query(self, text: str) -> SparseVector:
        """Weight 1 for each unique stem of the query, sorted by term id.

        Example:
            >>> BM25SparseEmbeddings().embed_query("cats and cat").values
            [1.0]

        """
        indices = sorted(set(self._term_ids(text)))
        return SparseVector(indices=indices, values=[1.0] * len(indices))

    async def aembed_documents(self, texts: list[str]) -> list[SparseVector]:
        """`embed_documents` in an executor thread (langchain-qdrant's default)."""
        from langchain_core.runnables.config import run_in_executor

        return await run_in_executor(None, self.embed_documents, texts)

    async def aembed_query(self, text: str) -> SparseVector:
        """`embed_query` in an executor thread (langchain-qdrant's default)."""
        from langchain_core.runnables.config import run_in_executor

        return await run_in_executor(None, self.embed_query, text)


def register_sparse_embeddings() -> None:
    """Make `BM25SparseEmbeddings` a virtual `langchain_qdrant.SparseEmbeddings` (if imported).

    Called here and by the `VectorStore` face (`ragloom._qdrant_store`), which imports
    langchain-qdrant.

    Example:
        >>> register_sparse_embeddings()

    """
    module = sys.modules.get("langchain_qdrant.sparse_embeddings")
    if module is not None:
        module.SparseEmbeddings.register(BM25SparseEmbeddings)


register_sparse_embeddings()
