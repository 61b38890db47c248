"""Configuration mistakes end in a `ConfigError` naming the key and the fix, at load time.

Covered: a `RAGLOOM_` variable naming no section, a YAML and a TOML file side by side,
a negative timeout, a `keep_alive` Ollama would refuse, a null filter value.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ragloom import ConfigError, RagConfig, load_config
from ragloom.cli import app
from ragloom.config import keep_alive_seconds, parse_keep_alive


def test_misspelt_section_in_the_environment_is_an_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RAGLOOM_RETRIVAL__K", "2")
    with pytest.raises(ConfigError) as info:
        load_config()
    message = str(info.value)
    assert "RAGLOOM_RETRIVAL__K" in message
    assert "did you mean RAGLOOM_RETRIEVAL__K?" in message


def test_misspelt_section_and_key_names_the_closest_setting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RAGLOOM_EMBEDING__BATCH_SIZ", "8")
    with pytest.raises(ConfigError, match="did you mean RAGLOOM_EMBEDDINGS__BATCH_SIZE"):
        RagConfig()


def test_unknown_section_without_a_close_match_lists_the_sections(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RAGLOOM_ZZZ__Q", "1")
    with pytest.raises(ConfigError, match="the sections are: llm, embeddings, qdrant"):
        RagConfig()


def test_lookalike_variable_without_a_key_is_warned_about(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RAGLOOM_RETRIVAL", '{"k": 2}')
    monkeypatch.setenv("RAGLOOM_DOCS_SERVER_PORT", "8000")  # another tool's: left alone
    with pytest.warns(UserWarning, match="RAGLOOM_RETRIVAL is not a ragloom setting; did you"
                                         " mean RAGLOOM_RETRIEVAL") as record:
        RagConfig()
    assert len(record) == 1


def test_known_variables_load_without_a_word(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAGLOOM_RETRIEVAL__K", "2")
    monkeypatch.setenv("RAGLOOM_LLM", '{"model": "m"}')
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cfg = RagConfig()
    assert cfg.retrieval.k == 2 and cfg.llm.model == "m"


def test_yaml_and_toml_side_by_side_is_an_error_naming_both(tmp_path: Path) -> None:
    (tmp_path / "ragloom.yaml").write_text("retrieval:\n  k: 2\n")
    (tmp_path / "ragloom.toml").write_text("[retrieval]\nk = 3\n")
    with pytest.raises(ConfigError) as info:
        load_config()  # the autouse fixture made tmp_path the cwd
    message = str(info.value)
    assert "ragloom.yaml" in message and "ragloom.toml" in message
    assert "RAGLOOM_CONFIG" in message
    result = CliRunner().invoke(app, ["config"])
    assert result.exit_code == 1 and "RAGLOOM_CONFIG" in result.output


def test_ragloom_config_chooses_between_the_two(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "ragloom.yaml").write_text("retrieval:\n  k: 2\n")
    (tmp_path / "ragloom.toml").write_text("[retrieval]\nk = 3\n")
    monkeypatch.setenv("RAGLOOM_CONFIG", "ragloom.toml")
    assert load_config().retrieval.k == 3
    assert load_config(tmp_path / "ragloom.yaml").retrieval.k == 2


@pytest.mark.parametrize("section", ["llm", "embeddings", "qdrant"])
@pytest.mark.parametrize("value", [-1, 0])
def test_a_timeout_must_be_positive(section: str, value: int) -> None:
    with pytest.raises(ConfigError) as info:
        RagConfig(**{section: {"timeout_s": value}})
    message = str(info.value)
    assert f"{section}.timeout_s" in message and "greater than 0" in message


def test_a_negative_timeout_from_the_environment_names_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RAGLOOM_LLM__TIMEOUT_S", "-1")
    with pytest.raises(ConfigError, match="RAGLOOM_LLM__TIMEOUT_S"):
        RagConfig()


@pytest.mark.parametrize("section", ["llm", "embeddings"])
@pytest.mark.parametrize("value", ["forever", "30 minutes", "1d", "m5", True])
def test_keep_alive_ollama_would_refuse_is_a_config_error(section: str, value: object) -> None:
    with pytest.raises(ConfigError) as info:
        RagConfig(**{section: {"keep_alive": value}})
    message = str(info.value)
    assert f"{section}.keep_alive" in message
    assert "'30m'" in message and "300" in message and "-1" in message  # the valid forms


@pytest.mark.parametrize(("value", "kept", "seconds"), [
    ("5m", "5m", 300), ("1h30m", "1h30m", 5400), ("90s", "90s", 90), ("1.5h", "1.5h", 5400),
    ("-1m", "-1m", -1), (300, 300, 300), ("300", 300, 300), (-1, -1, -1), ("-1", -1, -1),
    ("0", 0, 0), (None, None, None),
])
def test_keep_alive_forms_ollama_accepts(value: object, kept: object, seconds: object) -> None:
    cfg = RagConfig(llm={"keep_alive": value}, embeddings={"keep_alive": value})
    assert cfg.llm.keep_alive == kept == parse_keep_alive(value)  # type: ignore[arg-type]
    assert keep_alive_seconds(cfg.embeddings.keep_alive) == seconds


def test_keep_alive_from_the_environment_is_a_number_when_it_is_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RAGLOOM_LLM__KEEP_ALIVE", "-1")  # Ollama refuses the string "-1"
    assert RagConfig().llm.keep_alive == -1


def test_a_null_filter_value_in_the_config_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "filtered.yaml"
    path.write_text("retrieval:\n  filter:\n    source: null\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert "retrieval.filter" in message and "'source' is null" in message
    assert "is_empty" in message
    full = {"must": [{"is_empty": {"key": "metadata.source"}}]}
    assert RagConfig(retrieval={"filter": full}).retrieval.filter == full


def test_invalid_config_names_the_key_and_the_file(tmp_path: Path) -> None:
    path = tmp_path / "ragloom.yaml"
    path.write_text("llm:\n  modle: llama3.2\nretrieval:\n  k: many\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert str(path) in message
    assert "llm.modle: unknown key" in message
    assert "retrieval.k:" in message and "'many'" in message


def test_invalid_config_from_the_environment_names_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RAGLOOM_LLM__TIMEOUT_S", "soon")
    with pytest.raises(ConfigError, match="RAGLOOM_LLM__TIMEOUT_S"):
        load_config()


def test_missing_config_file_says_so() -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_config("nowhere/ragloom.yaml")
