"""The CLI with and without identity: ingest --tenant/--group/--classification, ask and
eval --tenant/--group.

Sparse retrieval (BM25 in process: no embedding request), so the only HTTP is the chat
request of the anonymous `ask`, replayed from a cassette recorded against the project's
Ollama-API test server (`pytest tests/test_cli_tenants.py --record-mode=rewrite`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from ragloom import RagConfig
from ragloom.cli import app


def env_of(cfg: RagConfig, tmp_path: Path) -> dict[str, str]:
    return {
        "RAGLOOM_LLM__MODEL": cfg.llm.model,
        "RAGLOOM_LLM__BASE_URL": str(cfg.llm.base_url),
        "RAGLOOM_LLM__NUM_CTX": str(cfg.llm.num_ctx),
        "RAGLOOM_LLM__TEMPERATURE": "0",
        "RAGLOOM_QDRANT__LOCATION": str(tmp_path / "store"),
        "RAGLOOM_QDRANT__COLLECTION": "tenants_cli",
        "RAGLOOM_RETRIEVAL__MODE": "sparse",
    }


def setup(tmp_path: Path, env: dict[str, str]) -> CliRunner:
    for tenant, text in (("acme", "Acme salary bands are 90k to 140k."),
                         ("globex", "Globex salary bands are 70k to 120k.")):
        (tmp_path / tenant).mkdir()
        (tmp_path / tenant / "salaries.md").write_text(text)
    runner = CliRunner()
    for args in (["acme", "--tenant", "acme", "--group", "hr"],
                 ["globex", "--tenant", "globex", "--group", "hr",
                  "--classification", "confidential"]):
        result = runner.invoke(app, ["ingest", *args], env=env)
        assert result.exit_code == 0, result.output
    return runner


def ask(runner: CliRunner, env: dict[str, str], *args: str) -> dict[str, Any]:
    result = runner.invoke(app, ["ask", "What are the globex salary bands?", "--json", *args],
                           env=env)
    assert result.exit_code == 0, result.output
    return dict(json.loads(result.output))


@pytest.mark.vcr
def test_ask_with_and_without_identity(cfg: RagConfig, tmp_path: Path, vcr: Any) -> None:
    env = env_of(cfg, tmp_path)
    runner = setup(tmp_path, env)
    # Without identity: today's behaviour, every chunk may be retrieved (one chat call).
    anonymous = ask(runner, env)
    assert {s["metadata"]["source"] for s in anonymous["sources"]} == {
        "acme/salaries.md", "globex/salaries.md"}
    # As acme's HR: globex's chunk is never retrieved, whatever the question names.
    acme = ask(runner, env, "--tenant", "acme", "--group", "hr")
    assert [s["metadata"]["source"] for s in acme["sources"]] == ["acme/salaries.md"]
    assert acme["sources"][0]["metadata"]["tenant"] == "acme"
    # A globex user outside hr sees nothing: the chain abstains without a model call.
    outsider = ask(runner, env, "--tenant", "globex", "--group", "sales")
    assert outsider["sources"] == [] and outsider["grounded"] is False
    assert [r.path for r in vcr.requests] == ["/api/chat", "/api/chat"]


def test_ingest_flags_are_validated(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text("x")
    result = CliRunner().invoke(app, ["ingest", str(tmp_path / "a.md"), "--classification",
                                      "secret"], env={"RAGLOOM_QDRANT__LOCATION": ":memory:"})
    assert result.exit_code == 1
    assert "classification" in result.output and "confidential" in result.output


def test_eval_per_tenant(tmp_path: Path) -> None:
    env = {"RAGLOOM_QDRANT__LOCATION": str(tmp_path / "store"), "RAGLOOM_RETRIEVAL__MODE":
           "sparse", "RAGLOOM_QDRANT__COLLECTION": "tenants_eval"}
    runner = setup(tmp_path, env)
    dataset = tmp_path / "q.jsonl"
    dataset.write_text(json.dumps({"question": "globex salary bands",
                                   "relevant_sources": ["globex/salaries.md"]}) + "\n")
    recall = {}
    for tenant in ("acme", "globex"):
        out = tmp_path / f"{tenant}.json"
        result = runner.invoke(app, ["eval", str(dataset), "--tenant", tenant, "--group", "hr",
                                     "--json", str(out)], env=env)
        assert result.exit_code == 0, result.output
        recall[tenant] = json.loads(out.read_text())["recall"]
    assert recall == {"acme": 0.0, "globex": 1.0}
    from ragloom.doctor import _check_qdrant
    from ragloom.store import collection_status

    cfg = RagConfig(qdrant={"location": str(tmp_path / "store"), "collection": "tenants_eval"},
                    retrieval={"mode": "sparse"})
    assert collection_status(cfg).tenants == {"acme": 1, "globex": 1}
    details = [c.detail for c in _check_qdrant(cfg, None) if c.name == "tenants"]
    assert details == ["2 tenants (acme: 1, globex: 1); 0 chunks without a tenant"
                       " (visible to every tenant)"]


def test_eval_answers_asks_as_the_user(tmp_path: Path) -> None:
    """`eval --answers --tenant`: the answers are those of the user's chain too."""
    env = {"RAGLOOM_QDRANT__LOCATION": str(tmp_path / "store"), "RAGLOOM_RETRIEVAL__MODE":
           "sparse", "RAGLOOM_QDRANT__COLLECTION": "tenants_eval_answers"}
    runner = setup(tmp_path, env)
    dataset = tmp_path / "q.jsonl"
    dataset.write_text(json.dumps({"question": "globex salary bands",
                                   "relevant_sources": ["globex/salaries.md"]}) + "\n")
    out = tmp_path / "answers.json"
    # A globex user outside hr sees no chunk: every answer abstains without a model call
    # (an anonymous chain would retrieve globex's chunk and call the model: no network).
    result = runner.invoke(app, ["eval", str(dataset), "--answers", "--tenant", "globex",
                                 "--group", "sales", "--json", str(out)], env=env)
    assert result.exit_code == 0, result.output
    answers = json.loads(out.read_text())["answers"]
    assert answers["settings"]["user"] == {"tenant": "globex", "groups": ["sales"]}
    assert [q["grounded"] for q in answers["per_question"]] == [False]
    assert answers["answered_when_answerable"] == 0.0


def test_an_answer_set_refuses_an_identity(tmp_path: Path) -> None:
    from ragloom.answer_set import is_answer_set

    dataset = Path(__file__).parent / "data" / "answers" / "dev.jsonl"
    assert is_answer_set(dataset)
    result = CliRunner().invoke(app, ["eval", str(dataset), "--answers", "--tenant", "acme"],
                                env={"RAGLOOM_QDRANT__LOCATION": ":memory:"})
    assert result.exit_code == 1
    assert "answer set" in result.output and "--tenant/--group do not apply" in result.output
