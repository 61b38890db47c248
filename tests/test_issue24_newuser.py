"""Issue 24, "What a new user trips over": a fresh clone, README and docs as written.

Each test fails on the main branch before issue 24 and passes here.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ragloom.cli import app
from ragloom.config import RagConfig, load_config

ROOT = Path(__file__).resolve().parent.parent


def test_relative_location_in_a_config_file_follows_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app_dir = tmp_path / "app"
    app_dir.mkdir()
    (app_dir / "ragloom.yaml").write_text(
        "qdrant: {location: .ragloom/qdrant}\ningest: {root: docs}\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    cfg = load_config(app_dir / "ragloom.yaml")
    assert cfg.qdrant.location == str(app_dir / ".ragloom" / "qdrant")
    assert cfg.ingest.root == str(app_dir / "docs")
    # From the environment or arguments, a relative path still follows the cwd.
    monkeypatch.setenv("RAGLOOM_QDRANT__LOCATION", "store")
    assert load_config(app_dir / "ragloom.yaml").qdrant.location == "store"
    assert RagConfig(qdrant={"location": "x"}).qdrant.location == "x"


def test_ragloom_config_says_where_each_value_came_from(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "ragloom.yaml").write_text("llm: {model: from-file, num_ctx: 4096}\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RAGLOOM_LLM__MODEL", "from-env")
    result = CliRunner().invoke(app, ["config"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "  model: from-env  # env RAGLOOM_LLM__MODEL" in lines
    assert "  num_ctx: 4096  # file" in lines
    assert "  temperature: 0.1  # default" in lines


def _read(name: str) -> str:
    return (ROOT / name).read_text(encoding="utf-8")


def test_install_pages_say_how_to_install_from_a_checkout() -> None:
    for page in ("docs/quickstart.md", "docs/testing.md"):
        text = _read(page)
        assert "not on PyPI yet" in text and "pip install -e" in text, page


def test_testing_page_documents_rag_config_and_ragloom_config() -> None:
    text = _read("docs/testing.md")
    row = next(line for line in text.splitlines() if line.startswith("| `rag_config` |"))
    assert "RAGLOOM_CONFIG" in row and "not** read" in row


def test_no_ollama_names_ollama_host() -> None:
    readme = _read("README.md")
    section = readme.split("### No Ollama?", 1)[1].split("\n## ", 1)[0]
    assert "OLLAMA_HOST" in section


def test_quickstart_step_references_point_to_the_right_step() -> None:
    text = _read("docs/quickstart.md")
    steps = dict(re.findall(r"^## (\d+)\. (.+)$", text, re.M))
    for number in re.findall(r"\(step (\d+)\)", text):
        assert number in steps
    assert "(step 6)" in text and steps["6"] == "Choose your models"


def test_chains_page_hybrid_scores_match_what_score_shows() -> None:
    text = _read("docs/chains.md")
    assert "1/61" not in text and "1.000 for a chunk first in both" in text


def test_readme_lists_every_config_section() -> None:
    readme = _read("README.md")
    paragraph = readme.split("Sections: ", 1)[1].split(". ", 1)[0]
    assert set(re.findall(r"`(\w+)`", paragraph)) == set(RagConfig.model_fields)
