"""Retrieval metrics on a hand-checkable dataset, and `ragloom eval` on the shipped one."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from typer.testing import CliRunner

from ragloom import ConfigError, EvalResult, RagConfig, evaluate_retriever, ingest
from ragloom.cli import app
from ragloom.config import RetrievalSettings
from ragloom.evaluation import load_dataset, ndcg_at_k, recall_at_k, reciprocal_rank_at_k

EVAL_DIR = Path(__file__).parent / "data" / "eval"

# A fixed ranking per question, as source paths.
RANKINGS = {
    "q1": ["docs/a.md", "docs/b.md", "docs/c.md"],          # hit at 1
    "q2": ["docs/x.md", "docs/a.md", "docs/b.md"],          # hits at 2 and 3 (of a, b)
    "q3": ["docs/x.md", "docs/y.md", "docs/z.md"],          # no hit
    "q4": ["docs/c.md", "docs/c.md", "docs/x.md"],          # c twice: counts once
}
DATASET = [
    {"question": "q1", "relevant_sources": ["a.md"]},
    {"question": "q2", "relevant_sources": ["a.md", "b.md"]},
    {"question": "q3", "relevant_sources": ["a.md"]},
    {"question": "q4", "relevant_sources": ["c.md", "d.md"]},
]


class FixedRetriever(BaseRetriever):
    calls: list[dict[str, Any]] = []

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun, **kwargs: Any
    ) -> list[Document]:
        self.calls.append({"query": query, **kwargs})
        k = kwargs.get("k", 3)
        return [Document("text", metadata={"source": s}) for s in RANKINGS[query][:k]]


def test_metrics_by_hand() -> None:
    result = evaluate_retriever(FixedRetriever(), DATASET, k=3)
    by_q = {q.question: q for q in result.per_question}
    log2 = math.log2
    # recall@3: q1 1/1, q2 2/2, q3 0/1, q4 1/2 (c found; the second c is no new hit)
    assert [by_q[q].recall for q in RANKINGS] == [1.0, 1.0, 0.0, 0.5]
    assert result.recall == pytest.approx((1 + 1 + 0 + 0.5) / 4)  # 0.625
    # reciprocal rank: q1 1/1, q2 1/2, q3 0, q4 1/1
    assert [by_q[q].reciprocal_rank for q in RANKINGS] == [1.0, 0.5, 0.0, 1.0]
    assert result.mrr == pytest.approx(2.5 / 4)  # 0.625
    # nDCG@3 with binary gains:
    #   q1: DCG 1/log2(2) = 1; ideal (1 relevant) 1                        -> 1
    #   q2: DCG 1/log2(3) + 1/log2(4); ideal 1 + 1/log2(3)                 -> 0.6934
    #   q3: 0
    #   q4: DCG 1 (rank 1; the duplicate at rank 2 gains nothing); ideal 1 + 1/log2(3)
    q2 = (1 / log2(3) + 1 / log2(4)) / (1 + 1 / log2(3))
    q4 = 1 / (1 + 1 / log2(3))
    assert by_q["q2"].ndcg == pytest.approx(q2) and round(q2, 4) == 0.6934
    assert by_q["q4"].ndcg == pytest.approx(q4) and round(q4, 4) == 0.6131
    assert result.ndcg == pytest.approx((1 + q2 + 0 + q4) / 4)
    assert result.k == 3 and result.questions == 4
    assert by_q["q4"].retrieved_sources == ["docs/c.md", "docs/c.md", "docs/x.md"]


def test_k_is_passed_to_the_retriever_and_cuts_the_ranking() -> None:
    retriever = FixedRetriever()
    retriever.calls.clear()
    result = evaluate_retriever(retriever, DATASET, k=1)
    assert {call["k"] for call in retriever.calls} == {1}
    # @1: q1 hit, q2 miss (x first), q3 miss, q4 hit (c)
    assert result.recall == pytest.approx((1 + 0 + 0 + 0.5) / 4)
    assert result.mrr == pytest.approx(2 / 4)
    assert result.ndcg == pytest.approx(2 / 4)  # ideal@1 is 1 for every question


def test_single_metric_functions() -> None:
    assert recall_at_k(["a.md", "b.md"], ["b.md"], k=1) == 0.0
    assert recall_at_k(["a.md", "b.md"], ["b.md"], k=2) == 1.0
    assert reciprocal_rank_at_k(["x", "y", "docs/b.md"], ["b.md"], k=3) == pytest.approx(1 / 3)
    # "b.md" matches a path ending in "/b.md", not "ab.md"
    assert recall_at_k(["docs/ab.md"], ["b.md"], k=1) == 0.0
    assert ndcg_at_k(["b.md", "a.md"], ["a.md", "b.md"], k=2) == pytest.approx(1.0)


def test_timings_and_json_round_trip() -> None:
    result = evaluate_retriever(FixedRetriever(), DATASET, k=3, settings={"mode": "fake"})
    timings = sorted(q.ms for q in result.per_question)
    assert result.median_ms == pytest.approx((timings[1] + timings[2]) / 2)
    assert result.p95_ms == timings[-1]  # nearest rank: ceil(0.95 * 4) = 4th
    data = json.loads(json.dumps(result.to_dict()))
    assert data["settings"] == {"mode": "fake"} and len(data["per_question"]) == 4


def test_dataset_errors_name_the_line(tmp_path: Path) -> None:
    path = tmp_path / "q.jsonl"
    path.write_text('{"question": "ok", "relevant_sources": ["a.md"]}\n\n{"question": "no"}\n')
    with pytest.raises(ConfigError, match=r"q\.jsonl:3: each entry needs"):
        load_dataset(path)
    path.write_text("not json\n")
    with pytest.raises(ConfigError, match=r"q\.jsonl:1: not valid JSON"):
        load_dataset(path)
    with pytest.raises(ConfigError, match="cannot read the eval dataset"):
        load_dataset(tmp_path / "missing.jsonl")


def test_shipped_dataset_is_well_formed() -> None:
    examples = load_dataset(EVAL_DIR / "questions.jsonl")
    corpus = {p.name for p in (EVAL_DIR / "corpus").iterdir()}
    assert 20 <= len([e for e in examples if e.relevant_sources]) <= 40
    assert len([e for e in examples if not e.relevant_sources]) >= 10  # for abstention
    assert len({e.question for e in examples}) == len(examples)
    for example in examples:
        assert set(example.relevant_sources) <= corpus, example


def test_eval_refuses_an_empty_collection(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAGLOOM_QDRANT__LOCATION", ":memory:")
    monkeypatch.setenv("RAGLOOM_QDRANT__COLLECTION", "never_ingested")
    monkeypatch.setenv("RAGLOOM_RETRIEVAL__MODE", "sparse")  # no embedding call needed
    result = CliRunner().invoke(app, ["eval", str(EVAL_DIR / "questions.jsonl")])
    assert result.exit_code == 1
    assert "is empty" in result.output and "ragloom ingest" in result.output


@pytest.mark.vcr
def test_ragloom_eval_on_the_shipped_dataset(
    cfg: RagConfig, ollama_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hybrid = cfg.model_copy(update={"retrieval": RetrievalSettings(mode="hybrid")})
    report = ingest([EVAL_DIR / "corpus"], hybrid)
    assert report.added == len(list((EVAL_DIR / "corpus").iterdir())) and not report.failed
    for name, value in {"EMBEDDINGS__MODEL": cfg.embeddings.model,
                        "EMBEDDINGS__BASE_URL": ollama_url,
                        "QDRANT__LOCATION": ":memory:",
                        "QDRANT__COLLECTION": cfg.qdrant.collection}.items():
        monkeypatch.setenv(f"RAGLOOM_{name}", value)
    results: dict[str, EvalResult] = {}
    for mode in ("dense", "sparse", "hybrid"):
        out = tmp_path / f"{mode}.json"
        run = CliRunner().invoke(app, ["eval", str(EVAL_DIR / "questions.jsonl"), "--k", "4",
                                       "--mode", mode, "--json", str(out)])
        assert run.exit_code == 0, run.output
        assert "recall@4" in run.output and "nDCG@4" in run.output
        data = json.loads(out.read_text())
        assert data["settings"]["mode"] == mode and data["questions"] == 30
        results[mode] = EvalResult(**{k: v for k, v in data.items() if k != "per_question"})
        for key in ("recall", "mrr", "ndcg"):
            assert 0.0 <= data[key] <= 1.0
    # The bar, on the recorded run: hybrid is not worse than dense.
    assert results["hybrid"].recall >= results["dense"].recall
    assert results["hybrid"].ndcg >= results["dense"].ndcg


def test_answer_metrics_by_hand() -> None:
    from langchain_core.runnables import RunnableLambda

    from ragloom.answer_eval import evaluate_answers

    def doc(source: str) -> Document:
        return Document("x", metadata={"source": source})

    outputs = {  # question -> (grounded, cited sources, top relevance)
        "a1": (True, ["docs/a.md", "docs/x.md"], 0.8),   # 1 of 2 citations relevant
        "a2": (False, [], 0.2),                           # answerable, abstained: wrong
        "u1": (False, [], 0.1),                           # unanswerable, abstained: right
        "u2": (True, ["docs/a.md"], 0.5),                 # unanswerable, answered: wrong
    }
    chain = RunnableLambda(lambda q: {
        "answer": q, "grounded": outputs[q][0], "citations": [doc(s) for s in outputs[q][1]],
        "checks": {"top_relevance": outputs[q][2]}})
    result = evaluate_answers(chain, [
        {"question": "a1", "relevant_sources": ["a.md"]},
        {"question": "a2", "relevant_sources": ["b.md"]},
        {"question": "u1", "relevant_sources": []},
        {"question": "u2", "relevant_sources": []},
    ])
    assert (result.questions, result.answerable, result.unanswerable) == (4, 2, 2)
    assert result.citation_precision == pytest.approx(1 / 3)  # a.md in a1; x.md, a.md in u2
    assert (result.citations, result.citing_answers) == (3, 2)
    assert result.abstention_accuracy == pytest.approx(2 / 4)  # a1 and u1
    assert result.abstained_when_unanswerable == 0.5 and result.answered_when_answerable == 0.5
    # Top relevances: answerable 0.8, 0.2; unanswerable 0.1, 0.5. A bar of 0.15 gets 3 of 4
    # right (u2 passes it), so does 0.65 (a2 falls below); ties go to the lower bar.
    assert result.suggested_min_relevance == pytest.approx(0.15)
    assert result.median_s >= 0 and len(result.per_question) == 4


def test_unanswerable_questions_are_skipped_by_the_retrieval_metrics() -> None:
    dataset = [*DATASET, {"question": "nowhere", "relevant_sources": []}]
    result = evaluate_retriever(FixedRetriever(), dataset, k=3)
    assert result.questions == 4  # "nowhere" was never asked of the retriever
