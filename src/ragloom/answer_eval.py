"""Answer evaluation: citation precision, abstention accuracy and time per answer.

Runs the whole chain (retrieval, the relevance bar, the chat model, the guards) over a
labelled dataset in which `"relevant_sources": []` marks a question the corpus does not
answer. Per dataset:

- citation precision: of all sources the answers cite, the share labelled relevant to
  their question (a citation on an unanswerable question is never relevant); None when
  nothing was cited;
- abstention accuracy: the share of questions handled right, i.e. unanswerable ones
  abstained on (`grounded` false) and answerable ones answered;
- seconds per answer: median and 95th percentile wall time of one `invoke`;
- suggested bar: the `answer.min_relevance` that would best separate the answerable
  from the unanswerable questions on this dataset, from each question's best retrieved
  relevance (`checks["top_relevance"]`): a calibration aid for another embedding model.

Example:
    >>> from langchain_core.runnables import RunnableLambda
    >>> fake = RunnableLambda(lambda q: {
    ...     "grounded": q != "Capital of Peru?", "checks": {"top_relevance": 0.5},
    ...     "citations": [Document("", metadata={"source": "docs/keys.md"})]})
    >>> result = evaluate_answers(fake, [
    ...     {"question": "Keys?", "relevant_sources": ["keys.md"]},
    ...     {"question": "Capital of Peru?", "relevant_sources": []}])
    >>> result.abstention_accuracy, result.citation_precision
    (1.0, 0.5)

"""

from __future__ import annotations

import itertools
import statistics
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from langchain_core.documents import Document
from langchain_core.runnables import Runnable

from ragloom.chains import build_rag_chain
from ragloom.config import RagConfig, load_config
from ragloom.errors import ConfigError
from ragloom.evaluation import EvalExample, _example, _matches, _percentile, load_dataset
from ragloom.retrievers import build_retriever
from ragloom.store import build_vector_store

__all__ = ["AnswerEvalResult", "AnswerResult", "evaluate_answers", "evaluate_chain"]


@dataclass
class AnswerResult:
    """One question's answer, judged."""

    question: str
    """The question."""
    answerable: bool
    """Whether the dataset labels a source that answers it."""
    grounded: bool
    """False when the chain abstained (or the answer check failed)."""
    cited_sources: list[str]
    """The sources of the citations, in order of first citation."""
    relevant_citations: int
    """How many of those are labelled relevant to the question."""
    top_relevance: float | None
    """The best retrieved chunk's relevance, before the bar."""
    seconds: float
    """Wall time of the call."""
    answer: str = ""
    """The answer text."""


@dataclass
class AnswerEvalResult:
    """Answer metrics over a dataset.

    Example:
        >>> AnswerEvalResult(2, 1, 1, None, 1.0, 1.0, 1.0, 0.5, 0.6, 0.3).to_dict()["questions"]
        2

    """

    questions: int
    """Questions asked."""
    answerable: int
    """Of which the corpus answers."""
    unanswerable: int
    """Of which it does not."""
    citation_precision: float | None
    """Cited sources that are labelled relevant, over all citations; None without any."""
    abstention_accuracy: float
    """Unanswerable questions abstained on plus answerable ones answered, over all."""
    abstained_when_unanswerable: float
    """Share of the unanswerable questions abstained on (1.0 without any)."""
    answered_when_answerable: float
    """Share of the answerable questions answered (1.0 without any)."""
    median_s: float
    """Median seconds per answer."""
    p95_s: float
    """95th-percentile (nearest-rank) seconds per answer."""
    suggested_min_relevance: float | None
    """The bar that would best separate answerable from unanswerable questions here."""
    citations: int = 0
    """Citations over all answers: the number `citation_precision` is a share of."""
    citing_answers: int = 0
    """Answers that cite at least one source (a small model often cites none)."""
    settings: dict[str, Any] = field(default_factory=dict)
    """What was evaluated: models, mode, the bar, ..."""
    per_question: list[AnswerResult] = field(default_factory=list)
    """Each question's result, in dataset order."""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of everything."""
        return asdict(self)


def _suggested_bar(results: list[AnswerResult]) -> float | None:
    scored = [(r.top_relevance, r.answerable) for r in results if r.top_relevance is not None]
    if not scored or len({answerable for _, answerable in scored}) < 2:
        return None
    values = sorted({value for value, _ in scored})
    candidates = [values[0] - 1e-6] + [(a + b) / 2 for a, b in itertools.pairwise(values)]

    def right(bar: float) -> int:
        return sum((value >= bar) == answerable for value, answerable in scored)

    best: float = max(candidates, key=right)
    return round(best, 3)  # ties: the lowest, which abstains least


def evaluate_answers(
    chain: Runnable[Any, Any],
    dataset: str | Path | Iterable[EvalExample | Mapping[str, Any]],
    *,
    settings: Mapping[str, Any] | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> AnswerEvalResult:
    """Ask `chain` every question and score its answers.

    Args:
        chain: A chain returning ragloom's output (`grounded`, `citations`, `checks`).
        dataset: A JSONL path, or examples / `{"question", "relevant_sources"}` dicts.
        settings: Recorded as-is in the result.
        on_progress: Called with (questions answered, questions) before the first
            question and after each one (a slow model takes seconds per answer).

    Raises:
        ConfigError: A malformed or empty dataset.

    """
    examples = (
        load_dataset(dataset)
        if isinstance(dataset, str | Path)
        else [_example(entry, f"dataset entry {n}") for n, entry in enumerate(dataset, 1)]
    )
    if not examples:
        raise ConfigError("the eval dataset holds no questions")
    results: list[AnswerResult] = []
    for example in examples:
        if on_progress is not None:
            on_progress(len(results), len(examples))
        started = time.perf_counter()
        output = chain.invoke(example.question)
        seconds = time.perf_counter() - started
        cited = [str(doc.metadata.get("source", doc.id or ""))
                 for doc in output.get("citations") or [] if isinstance(doc, Document)]
        results.append(AnswerResult(
            question=example.question,
            answerable=bool(example.relevant_sources),
            grounded=bool(output.get("grounded")),
            cited_sources=cited,
            relevant_citations=sum(
                any(_matches(source, wanted) for wanted in example.relevant_sources)
                for source in cited),
            top_relevance=(output.get("checks") or {}).get("top_relevance"),
            seconds=seconds,
            answer=str(output.get("answer", "")),
        ))
    if on_progress is not None:
        on_progress(len(results), len(examples))
    answerable = [r for r in results if r.answerable]
    unanswerable = [r for r in results if not r.answerable]
    citations = sum(len(r.cited_sources) for r in results)
    timings = [r.seconds for r in results]
    return AnswerEvalResult(
        questions=len(results),
        answerable=len(answerable),
        unanswerable=len(unanswerable),
        citation_precision=(sum(r.relevant_citations for r in results) / citations
                            if citations else None),
        abstention_accuracy=sum(r.grounded == r.answerable for r in results) / len(results),
        abstained_when_unanswerable=(sum(not r.grounded for r in unanswerable)
                                     / len(unanswerable) if unanswerable else 1.0),
        answered_when_answerable=(sum(r.grounded for r in answerable) / len(answerable)
                                  if answerable else 1.0),
        median_s=statistics.median(timings),
        p95_s=_percentile(timings, 95),
        suggested_min_relevance=_suggested_bar(results),
        citations=citations,
        citing_answers=sum(bool(r.cited_sources) for r in results),
        settings=dict(settings or {}),
        per_question=results,
    )


def evaluate_chain(
    dataset: str | Path | Iterable[EvalExample | Mapping[str, Any]],
    cfg: RagConfig | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    user: Mapping[str, Any] | None = None,
) -> AnswerEvalResult:
    """Evaluate the answers of the chain `cfg` describes (`ragloom eval --answers`).

    `on_progress` is passed on to `evaluate_answers`; `user` (`{"tenant": ...,
    "groups": [...]}`) asks as that user: only what they may see is retrieved.

    Raises:
        ConfigError: The collection is empty (nothing ingested) or the dataset is bad.

    """
    cfg = cfg if cfg is not None else load_config()
    store = build_vector_store(cfg)
    if not store.client.count(cfg.qdrant.collection).count:
        raise ConfigError(
            f"the Qdrant collection {cfg.qdrant.collection!r} is empty: ingest the corpus"
            " first with the same configuration, e.g. `ragloom ingest tests/data/eval/corpus`"
        )
    chain = build_rag_chain(cfg, retriever=build_retriever(cfg, store),
                            user=dict(user) if user is not None else None)
    settings = {
        "llm": f"{cfg.llm.provider}:{cfg.llm.model}",
        "embeddings": f"{cfg.embeddings.provider}:{cfg.embeddings.model}",
        "mode": cfg.retrieval.mode,
        "k": cfg.retrieval.k,
        "min_relevance": cfg.relevance_bar(),
        "collection": cfg.qdrant.collection,
        **({"user": dict(user)} if user is not None else {}),
    }
    return evaluate_answers(chain, dataset, settings=settings, on_progress=on_progress)
