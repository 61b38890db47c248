"""RagConfig: source precedence, secrets, and errors that name the key and the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from ragloom import ConfigError, RagConfig, load_config


def test_defaults_match_the_design() -> None:
    cfg = RagConfig()
    assert (cfg.llm.provider, cfg.llm.model, cfg.llm.num_ctx, cfg.llm.keep_alive) == (
        "ollama", "llama3.2", 8192, "30m")
    assert (cfg.embeddings.model, cfg.embeddings.batch_size, cfg.embeddings.max_concurrency) == (
        "nomic-embed-text", 64, 1)
    assert (cfg.qdrant.location, cfg.qdrant.collection, cfg.retrieval.k) == (
        ".ragloom/qdrant", "ragloom", 4)


def test_precedence_keyword_over_env_over_file_over_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "ragloom.yaml"
    path.write_text("llm:\n  model: from-file\n  temperature: 0.7\n"
                    "qdrant:\n  collection: file-coll\n  location: file-loc\n")
    monkeypatch.setenv("RAGLOOM_LLM__MODEL", "from-env")
    monkeypatch.setenv("RAGLOOM_QDRANT__COLLECTION", "env-coll")
    cfg = load_config(path, qdrant={"collection": "kw-coll"})
    assert cfg.qdrant.collection == "kw-coll"      # keyword beats env and file
    assert cfg.llm.model == "from-env"             # env beats file
    assert cfg.llm.temperature == 0.7              # file beats default
    # sections merge key by key (a relative path in the file is relative to its folder)
    assert cfg.qdrant.location == str(tmp_path.resolve() / "file-loc")
    assert cfg.llm.num_ctx == 8192                 # default when nobody says


def test_file_found_in_cwd_and_through_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "ragloom.toml").write_text('[retrieval]\nk = 7\n')
    assert RagConfig().retrieval.k == 7
    other = tmp_path / "other.yaml"
    other.write_text("retrieval:\n  k: 9\n")
    monkeypatch.setenv("RAGLOOM_CONFIG", str(other))
    assert RagConfig().retrieval.k == 9


def test_env_nested_values_are_parsed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAGLOOM_RETRIEVAL__K", "3")
    monkeypatch.setenv("RAGLOOM_LLM__EXTRA", '{"top_k": 5}')
    cfg = RagConfig()
    assert cfg.retrieval.k == 3
    assert cfg.llm.extra == {"top_k": 5}


def test_unknown_key_names_key_and_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("llm:\n  modle: x\n")
    with pytest.raises(ConfigError) as exc:
        load_config(path)
    assert "llm.modle: unknown key" in str(exc.value)
    assert str(path) in str(exc.value)


def test_wrong_type_names_key_value_and_env_var(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAGLOOM_RETRIEVAL__K", "many")
    with pytest.raises(ConfigError) as exc:
        RagConfig()
    message = str(exc.value)
    assert "retrieval.k" in message and "'many'" in message and "RAGLOOM_RETRIEVAL__K" in message


def test_invalid_choice_is_rejected() -> None:
    with pytest.raises(ConfigError, match=r"retrieval\.mode"):
        RagConfig(retrieval={"mode": "fuzzy"})


def test_missing_or_malformed_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("llm: [unclosed\n")
    with pytest.raises(ConfigError, match="could not read config file"):
        load_config(broken)


def test_secrets_are_masked_everywhere() -> None:
    cfg = RagConfig(llm={"api_key": "sk-very-secret"}, qdrant={"api_key": "qd-secret"})
    assert "sk-very-secret" not in repr(cfg) and "sk-very-secret" not in str(cfg.masked())
    assert "qd-secret" not in repr(cfg) and "qd-secret" not in str(cfg.masked())
    assert cfg.llm.api_key is not None and cfg.llm.api_key.get_secret_value() == "sk-very-secret"
