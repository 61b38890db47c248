"""Labelled answer sets: whether the chain answers, abstains and reports disputes rightly.

An answer set is a JSONL file, one case a line (schema in `tests/data/answers/README.md`):

    {"id": "d01", "kind": "direct", "mode": "answered", "question": "...",
     "passages": [{"source": "a.md", "text": "..."}, ...],
     "expected": [["8080", "port 8080"]], "support": [0], "forbidden": ["9090"]}

`kind` is `direct`, `hedge`, `unanswerable`, `conflict` or `numeric_trap`; `mode` the right
behaviour (`answered`, `abstained` or `disputed`); `expected` one list of alternatives per
fact the answer must state; `support` the passages a right answer cites; `forbidden`
strings a right answer never contains. Each case's passages go into a collection of their
own (in memory; the embeddings model is the configured one), then the whole chain
(`build_rag_chain`: relevance bar, prompt, chat model, mode decision) answers the question.

Scores: mode accuracy; per mode precision and recall; citation precision (cited passages
in `support`, over all cited) and recall (over the `support` of cases expecting an answer or
a dispute); answered-when-answerable (cases expecting `answered` that were not abstained on);
facts (expected facts found, in those); forbidden-claim rate (answers containing a
forbidden string, over all cases); median and p95 seconds per answer and the share of that
time the mode decision took.

Example:
    >>> from langchain_core.runnables import RunnableLambda
    >>> case = AnswerCase(id="c1", kind="direct", mode="answered", question="Port?",
    ...                   passages=[Passage("a.md", "The port is 8080.")],
    ...                   expected=[["8080"]], support=[0], forbidden=["9090"])
    >>> output = {"mode": "answered", "answer": "8080 [1].", "checks": {"decision_s": 0.0},
    ...           "citations": [Document("", metadata={"passage": 0, "citation": 1})]}
    >>> judged = judge(case, output, seconds=1.5)
    >>> judged.mode_right, judged.cited_support, judged.facts_found
    (True, 1, 1)

"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, get_args

from langchain_core.documents import Document

from ragloom._modes import Mode
from ragloom.chains import build_rag_chain
from ragloom.config import RagConfig, load_config
from ragloom.errors import ConfigError
from ragloom.evaluation import _percentile
from ragloom.retrievers import build_retriever
from ragloom.store import build_vector_store

__all__ = ["AnswerCase", "AnswerSetResult", "CaseResult", "Passage", "evaluate_answer_set",
           "is_answer_set", "judge", "load_answer_set", "score"]

KINDS = ("direct", "hedge", "unanswerable", "conflict", "numeric_trap")
MODES: tuple[Mode, ...] = get_args(Mode)


@dataclass(frozen=True)
class Passage:
    """One passage a case gives the chain."""

    source: str
    """Its file name, as the chain's sources show it."""
    text: str
    """Its text."""


@dataclass(frozen=True)
class AnswerCase:
    """One labelled question with its passages."""

    id: str
    """Unique within the set."""
    kind: str
    """`direct`, `hedge`, `unanswerable`, `conflict` or `numeric_trap`."""
    mode: Mode
    """The right behaviour: `answered`, `abstained` or `disputed`."""
    question: str
    """The question as a user asks it."""
    passages: list[Passage]
    """One to four passages."""
    expected: list[list[str]] = field(default_factory=list)
    """Per fact a right answer states, its alternatives (case-insensitive substrings)."""
    support: list[int] = field(default_factory=list)
    """Indices of the passages a right answer cites."""
    forbidden: list[str] = field(default_factory=list)
    """Strings a right answer never contains."""


def is_answer_set(path: str | Path) -> bool:
    """Whether `path` is an answer set (its first case has `passages`), not a retrieval set.

    Example:
        >>> is_answer_set("tests/data/eval/questions.jsonl")
        False

    """
    try:
        with Path(path).open(encoding="utf-8") as handle:
            for line in handle:
                if line.strip():
                    entry = json.loads(line)
                    return isinstance(entry, dict) and "passages" in entry
    except (OSError, ValueError):
        return False
    return False


def _case(entry: Any, where: str) -> AnswerCase:
    fix = (" (each line: {\"id\", \"kind\", \"mode\", \"question\", \"passages\": [{\"source\","
           " \"text\"}], \"expected\", \"support\", \"forbidden\"}; see"
           " tests/data/answers/README.md)")
    if not isinstance(entry, dict):
        raise ConfigError(f"{where} is not a JSON object{fix}")
    missing = [key for key in ("id", "mode", "question", "passages") if key not in entry]
    if missing:
        raise ConfigError(f"{where} lacks {', '.join(missing)}{fix}")
    if entry["mode"] not in MODES:
        raise ConfigError(f"{where}: mode {entry['mode']!r} is not one of {', '.join(MODES)}")
    passages = entry["passages"]
    if (not isinstance(passages, list) or not passages or not all(
            isinstance(p, dict) and isinstance(p.get("text"), str) for p in passages)):
        raise ConfigError(f"{where}: passages must be a non-empty list of"
                          f" {{\"source\", \"text\"}} objects{fix}")
    support = [int(n) for n in entry.get("support") or []]
    if any(not 0 <= n < len(passages) for n in support):
        raise ConfigError(f"{where}: support {support} names a passage it does not have"
                          f" ({len(passages)} passages, numbered from 0)")
    expected = [[alt] if isinstance(alt, str) else list(alt)
                for alt in entry.get("expected") or []]
    return AnswerCase(
        id=str(entry["id"]), kind=str(entry.get("kind", "")), mode=entry["mode"],
        question=str(entry["question"]),
        passages=[Passage(str(p.get("source") or f"passage{n}.md"), p["text"])
                  for n, p in enumerate(passages)],
        expected=expected, support=support,
        forbidden=[str(s) for s in entry.get("forbidden") or []],
    )


def load_answer_set(path: str | Path) -> list[AnswerCase]:
    """Read and check an answer set.

    Raises:
        ConfigError: The file is missing, a line is not valid JSON or misses a field,
            ids repeat, or it holds no case.

    Example:
        >>> load_answer_set("nosuch.jsonl")
        Traceback (most recent call last):
        ...
        ragloom.errors.ConfigError: answer set not found: 'nosuch.jsonl'

    """
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise ConfigError(f"answer set not found: {str(path)!r}") from None
    except OSError as exc:
        raise ConfigError(f"cannot read answer set {str(path)!r}: {exc}") from None
    cases: list[AnswerCase] = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            entry = json.loads(line)
        except ValueError as exc:
            raise ConfigError(f"{where} is not valid JSON: {exc}") from None
        cases.append(_case(entry, where))
    if not cases:
        raise ConfigError(f"the answer set {str(path)!r} holds no cases")
    ids = [case.id for case in cases]
    if len(set(ids)) != len(ids):
        twice = sorted({i for i in ids if ids.count(i) > 1})
        raise ConfigError(f"the answer set {str(path)!r} repeats ids: {', '.join(twice[:5])}")
    return cases


@dataclass
class CaseResult:
    """One case, answered and judged."""

    id: str
    """The case's id."""
    kind: str
    """Its kind."""
    expected_mode: str
    """The right behaviour."""
    mode: str
    """What the chain did."""
    mode_right: bool
    """Whether they agree."""
    mode_by: str | None
    """What decided the chain's mode (`checks["mode_by"]`)."""
    cited: list[int]
    """Passages (0-based) the answer cites."""
    cited_support: int
    """Of which in `support`."""
    support: int
    """Passages in `support`."""
    facts: int
    """Facts the answer should state."""
    facts_found: int
    """Of which it does."""
    forbidden_found: list[str]
    """Forbidden strings the answer contains."""
    seconds: float
    """Wall time of the chain call."""
    decision_s: float
    """Of which the mode decision."""
    top_relevance: float | None
    """The best passage's relevance to the question."""
    answer: str
    """The answer text."""
    attributed: int = 0
    """Of the cited passages, those attributed after the fact (`answer.attribute_citations`),
    not cited by the model."""
    attributed_support: int = 0
    """Of which in `support`."""


def judge(case: AnswerCase, output: dict[str, Any], seconds: float) -> CaseResult:
    """Judge one chain output against its case."""
    answer = str(output.get("answer") or "")
    low = answer.lower()
    docs = [doc for doc in output.get("citations") or []
            if isinstance(doc, Document) and "passage" in doc.metadata]
    cited = [int(doc.metadata["passage"]) for doc in docs]
    attributed = [int(doc.metadata["passage"]) for doc in docs if doc.metadata.get("attributed")]
    checks = output.get("checks") or {}
    mode = str(output.get("mode") or ("answered" if output.get("grounded") else "abstained"))
    return CaseResult(
        id=case.id, kind=case.kind, expected_mode=case.mode, mode=mode,
        mode_right=mode == case.mode, mode_by=checks.get("mode_by"), cited=cited,
        cited_support=sum(n in case.support for n in cited), support=len(case.support),
        facts=len(case.expected),
        facts_found=sum(any(alt.lower() in low for alt in fact) for fact in case.expected),
        forbidden_found=[s for s in case.forbidden if s.lower() in low],
        seconds=seconds, decision_s=float(checks.get("decision_s") or 0.0),
        top_relevance=checks.get("top_relevance"), answer=answer,
        attributed=len(attributed), attributed_support=sum(n in case.support for n in attributed),
    )


@dataclass
class AnswerSetResult:
    """Scores over an answer set.

    Example:
        >>> score([]).cases
        0

    """

    cases: int
    """Cases answered."""
    mode_accuracy: float | None
    """Cases whose mode is the right one, over all."""
    per_mode: dict[str, dict[str, Any]]
    """Per mode: `expected` and `chosen` counts, `precision` and `recall`."""
    per_kind: dict[str, dict[str, Any]]
    """Per kind: cases and mode accuracy."""
    citation_precision: float | None
    """Cited passages in `support`, over all cited passages; None without any."""
    citation_recall: float | None
    """`support` passages cited, over those of cases expecting `answered` or `disputed`."""
    answered_when_answerable: float | None
    """Cases expecting `answered` that were not abstained on."""
    facts: float | None
    """Expected facts the answer states, in cases expecting `answered` or `disputed`."""
    forbidden_rate: float | None
    """Answers that contain a forbidden string, over all cases."""
    median_s: float | None
    """Median seconds per answer (the chain call, not the case's ingest)."""
    p95_s: float | None
    """95th-percentile seconds per answer."""
    decision_share: float | None
    """The mode decision's share of the answer time."""
    attributed_precision: float | None = None
    """Of the citations attributed after the fact, those in `support`; None without any.
    They count in `citation_precision` and `citation_recall` too."""
    attributed: int = 0
    """Citations attributed after the fact, over all cases."""
    settings: dict[str, Any] = field(default_factory=dict)
    """What was evaluated: models, prompt, bar, budget."""
    per_case: list[CaseResult] = field(default_factory=list)
    """Each case's result, in file order."""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of everything."""
        return asdict(self)


def _share(part: float, whole: float) -> float | None:
    return round(part / whole, 4) if whole else None


def score(results: Sequence[CaseResult], settings: dict[str, Any] | None = None
          ) -> AnswerSetResult:
    """Aggregate judged cases into the set's scores."""
    results = list(results)
    per_mode: dict[str, dict[str, Any]] = {}
    for mode in MODES:
        expected = sum(r.expected_mode == mode for r in results)
        chosen = sum(r.mode == mode for r in results)
        right = sum(r.mode == mode == r.expected_mode for r in results)
        per_mode[mode] = {"expected": expected, "chosen": chosen,
                          "precision": _share(right, chosen), "recall": _share(right, expected)}
    per_kind = {}
    for kind in dict.fromkeys(r.kind for r in results):
        of_kind = [r for r in results if r.kind == kind]
        per_kind[kind] = {"cases": len(of_kind),
                          "mode_accuracy": _share(sum(r.mode_right for r in of_kind),
                                                  len(of_kind))}
    answering = [r for r in results if r.expected_mode != "abstained"]
    answerable = [r for r in results if r.expected_mode == "answered"]
    timings = [r.seconds for r in results]
    return AnswerSetResult(
        cases=len(results),
        mode_accuracy=_share(sum(r.mode_right for r in results), len(results)),
        per_mode=per_mode, per_kind=per_kind,
        citation_precision=_share(sum(r.cited_support for r in results),
                                  sum(len(r.cited) for r in results)),
        citation_recall=_share(sum(r.cited_support for r in answering),
                               sum(r.support for r in answering)),
        answered_when_answerable=_share(sum(r.mode != "abstained" for r in answerable),
                                        len(answerable)),
        facts=_share(sum(r.facts_found for r in answering), sum(r.facts for r in answering)),
        forbidden_rate=_share(sum(bool(r.forbidden_found) for r in results), len(results)),
        median_s=round(statistics.median(timings), 3) if timings else None,
        p95_s=round(_percentile(timings, 95), 3) if timings else None,
        decision_share=_share(sum(r.decision_s for r in results), sum(timings)),
        attributed_precision=_share(sum(r.attributed_support for r in results),
                                    sum(r.attributed for r in results)),
        attributed=sum(r.attributed for r in results),
        settings=dict(settings or {}), per_case=results,
    )


def evaluate_answer_set(
    path: str | Path, cfg: RagConfig | None = None, *,
    progress: Callable[[int, int, CaseResult], None] | None = None,
    llm: Any = None, embeddings: Any = None,
) -> AnswerSetResult:
    """Answer every case of an answer set with the chain `cfg` describes, and score it.

    Each case's passages are embedded into a collection of their own, in memory, with the
    configured embeddings model; the chat model and prompt are the configured ones.

    Args:
        path: The JSONL answer set.
        cfg: Configuration; default `load_config()`. Its Qdrant location is not used.
        progress: Called after each case with (done, total, result).
        llm: A ready chat model instead of the configured one.
        embeddings: A ready embeddings model instead of the configured one.

    Raises:
        ConfigError: A malformed answer set.

    """
    cfg = cfg if cfg is not None else load_config()
    cases = load_answer_set(path)
    if llm is None or embeddings is None:
        from ragloom.providers import build_chat_model, build_embeddings

        llm = llm if llm is not None else build_chat_model(cfg)
        embeddings = embeddings if embeddings is not None else build_embeddings(cfg)
    from qdrant_client import QdrantClient

    client = QdrantClient(location=":memory:")
    results = []
    for number, case in enumerate(cases, 1):
        case_cfg = cfg.model_copy(update={"qdrant": cfg.qdrant.model_copy(update={
            "engine": None, "location": ":memory:", "url": None,
            "collection": f"answers_{number}"})})
        store = build_vector_store(case_cfg, embeddings=embeddings, client=client)
        store.add_documents([
            Document(p.text, metadata={"source": p.source, "passage": n})
            for n, p in enumerate(case.passages)])
        chain = build_rag_chain(case_cfg, llm=llm, retriever=build_retriever(case_cfg, store))
        started = time.perf_counter()
        output = chain.invoke(case.question)
        result = judge(case, output, time.perf_counter() - started)
        client.delete_collection(case_cfg.qdrant.collection)
        results.append(result)
        if progress is not None:
            progress(number, len(cases), result)
    settings = {
        "answer_set": str(path),
        "llm": f"{cfg.llm.provider}:{cfg.llm.model}",
        "embeddings": f"{cfg.embeddings.provider}:{cfg.embeddings.model}",
        "mode": cfg.retrieval.mode, "k": cfg.retrieval.k,
        "min_relevance": cfg.relevance_bar(),
        "max_context_tokens": cfg.answer.max_context_tokens,
        "custom_prompt": cfg.prompt.template is not None,
        "conflict_check": cfg.answer.conflict_check, "number_check": cfg.answer.number_check,
        "self_check": cfg.answer.self_check,
        "attribute_citations": cfg.answer.attribute_citations,
    }
    return score(results, settings)
