"""`--config FILE` works before the command (as docs/configuration.md shows) and after it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ragloom.cli import app


@pytest.fixture
def two_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("RAGLOOM_CONFIG", raising=False)
    first, second = tmp_path / "first.yaml", tmp_path / "second.yaml"
    first.write_text("retrieval: {k: 7}\n")
    second.write_text("retrieval: {k: 9}\n")
    return first, second


def k_of(args: list[str]) -> int:
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    return int(json.loads(result.stdout)["retrieval"]["k"])


def test_config_before_or_after_the_command(two_files: tuple[Path, Path]) -> None:
    first, second = two_files
    assert k_of(["config", "--json"]) == 4
    assert k_of(["--config", str(first), "config", "--json"]) == 7
    assert k_of(["-c", str(first), "config", "--json"]) == 7
    assert k_of(["config", "--json", "--config", str(first)]) == 7
    # Both given: the one after the command, closer to it, wins.
    assert k_of(["--config", str(first), "config", "--json", "--config", str(second)]) == 9


def test_a_missing_global_config_file_is_reported(two_files: tuple[Path, Path]) -> None:
    result = CliRunner().invoke(app, ["--config", "nope.yaml", "config"])
    assert result.exit_code == 1
    assert "nope.yaml" in result.output and "does not exist" in result.output
