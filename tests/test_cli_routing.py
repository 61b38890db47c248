"""`ragloom ask` says which routed model answered and why, and nothing without routing.

No chat request is made: the routed question is refused by `routing.sensitive: refuse`
(confidential context) and the other one retrieves nothing (abstains before any call);
sparse retrieval embeds in process.
"""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from ragloom.cli import app

ROUTING = """\
routing:
  sensitive: refuse
  models:
    - {name: hosted, provider: openai, model: gpt-4o-mini, api_key: sk-x, local: false}
    - {name: local, provider: ollama, model: llama3.2, local: true}
"""


def run(tmp_path: Path, *args: str, routing: bool) -> str:
    config = tmp_path / ("routed.yaml" if routing else "plain.yaml")
    config.write_text(f"qdrant: {{location: {tmp_path / 'store'}, collection: cli_routing}}\n"
                      "retrieval: {mode: sparse}\n" + (ROUTING if routing else ""))
    result = CliRunner().invoke(app, [*args, "--config", str(config)])
    assert result.exit_code == 0, result.output
    return " ".join(result.output.split())  # the console wraps at 80 columns


def test_ask_names_the_routed_model_and_why(tmp_path: Path) -> None:
    (tmp_path / "hr").mkdir()
    (tmp_path / "hr" / "salaries.md").write_text("Salary bands are 90k to 140k.")
    run(tmp_path, "ingest", str(tmp_path / "hr"), "--classification", "confidential",
        "--group", "hr", routing=False)
    question = "What are the salary bands?"
    routed = run(tmp_path, "ask", question, "--group", "hr", routing=True)
    assert "model: none (confidential context (source: " in routed
    assert "refused (routing.sensitive is refuse))" in routed
    assert "grounded: false (no allowed model may read the context)" in routed
    # Nothing retrieved for an outsider: no model call, the route is the default one.
    outsider = run(tmp_path, "ask", question, "--group", "sales", routing=True)
    assert "model: none (default)" in outsider
    # Without routing there is no route to report.
    plain = run(tmp_path, "ask", question, "--group", "sales", routing=False)
    assert plain.strip() and "model:" not in plain
