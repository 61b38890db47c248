"""Retrieval evaluation: recall@k, MRR@k, nDCG@k and timings on a labelled dataset.

A dataset is JSON Lines, one question per line:
`{"question": "...", "relevant_sources": ["keys.md", ...]}`; an empty list marks a
question the corpus does not answer (used by the answer metrics, skipped by the
retrieval ones; see `ragloom.answer_eval`). A retrieved document
is relevant when its `metadata["source"]` is one of `relevant_sources` or ends with
one of them after a `/` (so `keys.md` matches `docs/security/keys.md`). Several
chunks of one relevant source count once: the first is a hit, the rest are not.

Per question, with `ranks` the positions (1-based, within the top k) of the hits:

- recall@k = hits / len(relevant_sources)
- MRR@k = 1 / (rank of the first hit), 0 without a hit
- nDCG@k = sum(1 / log2(rank + 1) over hits) / sum(1 / log2(i + 1) for i = 1..min(k, R))

and the result averages them over the questions. Timings are the wall time of each
retrieval call (embedding the query included).

Example:
    >>> from langchain_core.documents import Document
    >>> from langchain_core.retrievers import BaseRetriever
    >>> class Fixed(BaseRetriever):
    ...     def _get_relevant_documents(self, query, *, run_manager, k=2):
    ...         return [Document("x", metadata={"source": "docs/b.md"}),
    ...                 Document("y", metadata={"source": "docs/a.md"})][:k]
    >>> result = evaluate_retriever(Fixed(), [{"question": "q", "relevant_sources": ["a.md"]}],
    ...                             k=2)
    >>> result.recall, result.mrr
    (1.0, 0.5)

"""

from __future__ import annotations

import json
import math
import statistics
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever

from ragloom.config import RagConfig, load_config
from ragloom.errors import ConfigError
from ragloom.retrievers import build_retriever
from ragloom.store import build_vector_store

__all__ = [
    "EvalExample",
    "EvalResult",
    "QuestionResult",
    "evaluate",
    "evaluate_retriever",
    "load_dataset",
    "ndcg_at_k",
    "recall_at_k",
    "reciprocal_rank_at_k",
]


@dataclass(frozen=True)
class EvalExample:
    """One labelled question.

    Example:
        >>> EvalExample("How?", ("keys.md",)).relevant_sources
        ('keys.md',)

    """

    question: str
    """The question asked of the retriever."""
    relevant_sources: tuple[str, ...]
    """Sources (paths or path suffixes) that answer it; empty: the corpus does not."""


@dataclass
class QuestionResult:
    """The metrics of one question.

    Example:
        >>> QuestionResult("q", ["a.md"], ["a.md"], 1.0, 1.0, 1.0, 3.2).recall
        1.0

    """

    question: str
    """The question."""
    relevant_sources: list[str]
    """What should have been retrieved."""
    retrieved_sources: list[str]
    """The sources of the retrieved documents, in rank order (repeats kept)."""
    recall: float
    """Share of the relevant sources found in the top k."""
    reciprocal_rank: float
    """1 / rank of the first relevant document, 0 if none."""
    ndcg: float
    """Normalised discounted cumulative gain at k (binary relevance)."""
    ms: float
    """Wall time of the retrieval call, in milliseconds."""


@dataclass
class EvalResult:
    """Averaged retrieval metrics and timings over a dataset.

    Example:
        >>> r = EvalResult(k=4, questions=2, recall=0.75, mrr=0.5, ndcg=0.6,
        ...                median_ms=10.0, p95_ms=12.0)
        >>> r.to_dict()["recall"]
        0.75

    """

    k: int
    """The cut-off the metrics are computed at."""
    questions: int
    """Questions evaluated."""
    recall: float
    """Mean recall@k."""
    mrr: float
    """Mean reciprocal rank at k."""
    ndcg: float
    """Mean nDCG@k."""
    median_ms: float
    """Median retrieval time per question, in milliseconds."""
    p95_ms: float
    """95th-percentile (nearest-rank) retrieval time per question, in milliseconds."""
    settings: dict[str, Any] = field(default_factory=dict)
    """What was evaluated: mode, search, collection, embeddings, ..."""
    per_question: list[QuestionResult] = field(default_factory=list)
    """The metrics of each question, in dataset order."""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of everything, for saving and comparing runs.

        Example:
            >>> EvalResult(1, 0, 0.0, 0.0, 0.0, 0.0, 0.0).to_dict()["per_question"]
            []

        """
        return asdict(self)


def load_dataset(path: str | Path) -> list[EvalExample]:
    r"""Read a JSONL dataset of `{"question", "relevant_sources"}` lines.

    Blank lines are skipped. Raises `ConfigError` naming the file and line of any
    malformed entry.

    Example:
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "q.jsonl"
        >>> _ = p.write_text('{"question": "Why?", "relevant_sources": ["a.md"]}\n')
        >>> load_dataset(p)[0].question
        'Why?'

    """
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ConfigError(
            f"cannot read the eval dataset {str(path)!r}: {exc.strerror or exc}. Pass a"
            " JSONL file of {\"question\", \"relevant_sources\"} lines"
        ) from None
    examples = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{path}:{number}: not valid JSON ({exc.msg})") from None
        examples.append(_example(entry, f"{path}:{number}"))
    if not examples:
        raise ConfigError(f"the eval dataset {str(path)!r} holds no questions")
    return examples


def _example(entry: Any, where: str) -> EvalExample:
    if isinstance(entry, EvalExample):
        return entry
    question = entry.get("question") if isinstance(entry, Mapping) else None
    sources = entry.get("relevant_sources") if isinstance(entry, Mapping) else None
    if (
        not isinstance(question, str)
        or not question.strip()
        or not isinstance(sources, list)
        or not all(isinstance(s, str) and s for s in sources)
    ):
        raise ConfigError(
            f"{where}: each entry needs a non-empty \"question\" string and a"
            " \"relevant_sources\" list of source paths (empty for a question the corpus"
            ' does not answer), e.g.'
            ' {"question": "How do I rotate keys?", "relevant_sources": ["keys.md"]}'
        )
    return EvalExample(question, tuple(sources))


def _matches(source: str, wanted: str) -> bool:
    source, wanted = source.replace("\\", "/"), wanted.replace("\\", "/").removeprefix("./")
    return source == wanted or source.endswith("/" + wanted)


def _hit_ranks(retrieved: Sequence[str], relevant: Sequence[str], k: int) -> list[int]:
    """1-based ranks within the top k that first hit a not-yet-found relevant source."""
    found: set[str] = set()
    ranks = []
    for rank, source in enumerate(retrieved[:k], start=1):
        for wanted in relevant:
            if wanted not in found and _matches(source, wanted):
                found.add(wanted)
                ranks.append(rank)
                break
    return ranks


def recall_at_k(retrieved: Sequence[str], relevant: Sequence[str], k: int) -> float:
    """Share of `relevant` sources among the first `k` retrieved sources.

    Example:
        >>> recall_at_k(["a.md", "x.md", "b.md"], ["a.md", "b.md"], k=2)
        0.5

    """
    relevant = list(dict.fromkeys(relevant))
    return len(_hit_ranks(retrieved, relevant, k)) / len(relevant) if relevant else 0.0


def reciprocal_rank_at_k(retrieved: Sequence[str], relevant: Sequence[str], k: int) -> float:
    """1 / rank of the first relevant source within the top `k`, else 0.

    Example:
        >>> reciprocal_rank_at_k(["x.md", "a.md"], ["a.md"], k=2)
        0.5

    """
    ranks = _hit_ranks(retrieved, relevant, k)
    return 1.0 / ranks[0] if ranks else 0.0


def ndcg_at_k(retrieved: Sequence[str], relevant: Sequence[str], k: int) -> float:
    """Normalised discounted cumulative gain at `k`, binary relevance.

    Example:
        >>> round(ndcg_at_k(["x.md", "a.md"], ["a.md"], k=2), 4)  # (1/log2 3) / 1
        0.6309

    """
    relevant = list(dict.fromkeys(relevant))
    dcg = sum(1.0 / math.log2(rank + 1) for rank in _hit_ranks(retrieved, relevant, k))
    ideal = sum(1.0 / math.log2(i + 1) for i in range(1, min(k, len(relevant)) + 1))
    return dcg / ideal if ideal else 0.0


def _percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile (no interpolation)."""
    ordered = sorted(values)
    return ordered[max(math.ceil(pct / 100 * len(ordered)) - 1, 0)]


def _source(doc: Document) -> str:
    return str(doc.metadata.get("source", doc.id or ""))


def evaluate_retriever(
    retriever: BaseRetriever,
    dataset: str | Path | Iterable[EvalExample | Mapping[str, Any]],
    *,
    k: int | None = None,
    settings: Mapping[str, Any] | None = None,
) -> EvalResult:
    """Run every question through `retriever` and score what comes back.

    Args:
        retriever: Any LangChain retriever; documents need `metadata["source"]`.
        dataset: A JSONL path, or examples / `{"question", "relevant_sources"}` dicts.
        k: Cut-off, also passed to the retriever as `k=`; default the retriever's
            own `k` attribute (every document returned counts when it has none).
        settings: Recorded as-is in the result, to tell runs apart.

    Returns:
        The averaged metrics, timings and per-question details.

    Raises:
        ConfigError: A malformed dataset, or `k` below 1.

    Example:
        >>> from langchain_core.documents import Document
        >>> from langchain_core.retrievers import BaseRetriever
        >>> class One(BaseRetriever):
        ...     def _get_relevant_documents(self, query, *, run_manager, k=1):
        ...         return [Document("x", metadata={"source": "docs/keys.md"})]
        >>> evaluate_retriever(One(), [{"question": "q", "relevant_sources": ["keys.md"]}],
        ...                    k=1).ndcg
        1.0

    """
    examples = (
        load_dataset(dataset)
        if isinstance(dataset, str | Path)
        else [_example(entry, f"dataset entry {n}") for n, entry in enumerate(dataset, 1)]
    )
    examples = [e for e in examples if e.relevant_sources]  # unanswerable: answers only
    if not examples:
        raise ConfigError("the eval dataset holds no questions")
    if k is not None and k < 1:
        raise ConfigError(f"--k must be at least 1 (got {k})")
    call_kwargs: dict[str, Any] = {"k": k} if k is not None else {}
    per_question = []
    for example in examples:
        started = time.perf_counter()
        documents = retriever.invoke(example.question, **call_kwargs)
        ms = (time.perf_counter() - started) * 1000.0
        retrieved = [_source(doc) for doc in documents]
        cutoff = k if k is not None else getattr(retriever, "k", None) or len(retrieved) or 1
        relevant = list(example.relevant_sources)
        per_question.append(QuestionResult(
            question=example.question,
            relevant_sources=relevant,
            retrieved_sources=retrieved,
            recall=recall_at_k(retrieved, relevant, cutoff),
            reciprocal_rank=reciprocal_rank_at_k(retrieved, relevant, cutoff),
            ndcg=ndcg_at_k(retrieved, relevant, cutoff),
            ms=ms,
        ))
    timings = [q.ms for q in per_question]
    return EvalResult(
        k=k if k is not None else int(getattr(retriever, "k", 0) or 0),
        questions=len(per_question),
        recall=statistics.fmean(q.recall for q in per_question),
        mrr=statistics.fmean(q.reciprocal_rank for q in per_question),
        ndcg=statistics.fmean(q.ndcg for q in per_question),
        median_ms=statistics.median(timings),
        p95_ms=_percentile(timings, 95),
        settings=dict(settings or {}),
        per_question=per_question,
    )


def evaluate(
    dataset: str | Path | Iterable[EvalExample | Mapping[str, Any]],
    cfg: RagConfig | None = None,
    *,
    k: int | None = None,
    user: dict[str, Any] | None = None,
) -> EvalResult:
    """Evaluate the retriever that `cfg` describes (what `ragloom eval` runs).

    Args:
        dataset: A JSONL path, or examples / dicts.
        cfg: Configuration; default `load_config()`.
        k: Cut-off; default `cfg.retrieval.k`.
        user: Evaluate as this user (`{"tenant": ..., "groups": [...]}`): only what
            they may see is retrieved.

    Raises:
        ConfigError: The collection is empty (nothing ingested) or the dataset is bad.

    Example:
        >>> from ragloom import RagConfig
        >>> cfg = RagConfig(qdrant={"location": ":memory:"})
        >>> evaluate("questions.jsonl", cfg)  # doctest: +SKIP

    """
    cfg = cfg if cfg is not None else load_config()
    k = k if k is not None else cfg.retrieval.k
    store = build_vector_store(cfg)
    if not store.client.count(cfg.qdrant.collection).count:
        raise ConfigError(
            f"the Qdrant collection {cfg.qdrant.collection!r} is empty: ingest the corpus"
            " first with the same configuration, e.g. `ragloom ingest tests/data/eval/corpus`"
        )
    settings = {
        "mode": cfg.retrieval.mode,
        "search": cfg.retrieval.search,
        "multi_query": cfg.retrieval.multi_query,
        "fetch_k": cfg.retrieval.fetch_k,
        "collection": cfg.qdrant.collection,
        **({"user": user} if user is not None else {}),
        "embeddings": (
            "bm25 (sparse only)" if cfg.retrieval.mode == "sparse"
            else f"{cfg.embeddings.provider}:{cfg.embeddings.model}"
        ),
    }
    retriever = build_retriever(cfg, store, user=user)
    return evaluate_retriever(retriever, dataset, k=k, settings=settings)
