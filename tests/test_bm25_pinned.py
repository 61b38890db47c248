"""BM25 sparse vectors pinned: a faster tokeniser must store the very same vectors.

The constants below were produced by `ragloom._bm25` as it was before the ingest-CPU
work of issue 22 (main at ec2a4b0): the full vectors of two short texts and of a
French configuration, and a SHA-256 of `repr((indices, values))` for the rest. A stored
collection's sparse vectors must not change when the code computing them gets faster.
"""

from __future__ import annotations

import hashlib
import random

import pytest

from ragloom._bm25 import BM25SparseEmbeddings
from ragloom._points import SparseVector


def _corpus_text() -> str:
    rng = random.Random(3)
    words = [f"w{i}{s}" for i in range(400) for s in ("a", "er", "ing")]
    return " ".join(rng.choice(words) for _ in range(160))


_TEXTS = [
    "",
    "The runners were running, and the runner ran.",
    "Don't rotate API_KEYS; don't!",
    "Ｃａｆé naïve ﬁle coöperate — Straße STRASSE straße",
    "it's the o\u2019clock café's crème brûlée, 42 x 42 x 42",
    "run " * 300,
    _corpus_text(),
]
_PINNED = [  # (number of terms, sha256 of repr((indices, values)))[:16]
    (0, "1391876e63685b7d"),
    (3, "736be7f45392801d"),
    (3, "cb9e3c36dc9df86a"),
    (5, "fc6de1cb06436554"),
    (6, "4c545c3c4d1080f7"),
    (1, "59c06016f35d3792"),
    (143, "0ccebda14e038658"),
]


def _digest(vector: SparseVector) -> tuple[int, str]:
    text = repr((vector.indices, vector.values))
    return len(vector.indices), hashlib.sha256(text.encode()).hexdigest()[:16]


@pytest.mark.parametrize("warm", [False, True], ids=["cold cache", "warm cache"])
def test_document_vectors_are_pinned(warm: bool) -> None:
    bm25 = BM25SparseEmbeddings()
    if warm:  # every word already cached: the other path through the tokeniser
        bm25.embed_documents(_TEXTS)
    assert [_digest(v) for v in bm25.embed_documents(_TEXTS)] == _PINNED


def test_short_vectors_in_full() -> None:
    first, second = BM25SparseEmbeddings().embed_documents(_TEXTS[1:3])
    assert first.indices == [3365767514, 4185937465, 4278911773]
    assert first.values == [1.6467065868263473, 1.6467065868263473, 1.8835616438356166]
    assert second.indices == [1153398432, 2081623960, 3919504870]
    assert second.values == [1.6578749058025624] * 3
    french = BM25SparseEmbeddings(language="french", k1=1.5, b=0.5, avgdl=7).embed_documents(
        ["Les coureurs couraient, le coureur court vite vite."])[0]
    assert french.indices == [1549774262, 2551682499, 2760542413, 2863595728, 3583085083]
    assert french.values == [0.958904109589041, 0.958904109589041, 1.386138613861386,
                             1.386138613861386, 1.386138613861386]


def test_query_vector_is_each_unique_stem_once() -> None:
    bm25 = BM25SparseEmbeddings()
    query = bm25.embed_query(_TEXTS[1])
    assert query.indices == [3365767514, 4185937465, 4278911773]
    assert query.values == [1.0, 1.0, 1.0]


def test_ascii_word_pattern_finds_the_unicode_patterns_words() -> None:
    from ragloom._bm25 import _ASCII_WORD, _WORD

    rng = random.Random(11)
    alphabet = [chr(i) for i in range(128)] + ["'"] * 16 + list("aZ9_") * 8
    for _ in range(3000):
        text = "".join(rng.choice(alphabet) for _ in range(40)).lower()
        assert _ASCII_WORD.findall(text) == _WORD.findall(text), text
