"""Bad per-call input ends in a clear `InvalidInput` naming the fix, and file names with
Rich markup characters print as they are.

No model server is involved: the chain gets fake models, and the CLI tests register a
`fake` provider (deterministic embeddings, canned answers) and use a store in tmp_path.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from langchain_core.embeddings import DeterministicFakeEmbedding
from langchain_core.language_models import FakeListChatModel
from typer.testing import CliRunner

from ragloom import (
    ConfigError,
    InvalidInput,
    RagConfig,
    RagloomError,
    build_rag_chain,
    build_retriever,
    close_clients,
    register_provider,
)
from ragloom.cli import app
from ragloom.retrievers import to_qdrant_filter

MARKUP_NAME = "[/bold] a.txt"


@pytest.fixture
def chain_cfg(request: pytest.FixtureRequest) -> RagConfig:
    return RagConfig(qdrant={"location": ":memory:", "collection": "t_input_errors"})


def fake_chain(cfg: RagConfig) -> Any:
    retriever = build_retriever(cfg, embeddings=DeterministicFakeEmbedding(size=8))
    return build_rag_chain(cfg, llm=FakeListChatModel(responses=["I don't know."]),
                           retriever=retriever)


def test_invalid_input_is_a_ragloom_error_not_a_config_error() -> None:
    assert issubclass(InvalidInput, RagloomError) and issubclass(InvalidInput, ValueError)
    assert not issubclass(InvalidInput, ConfigError)


def test_a_string_chat_history_is_invalid_input(chain_cfg: RagConfig) -> None:
    chain = fake_chain(chain_cfg)
    with pytest.raises(InvalidInput, match="chat_history must be a list") as info:
        chain.invoke({"question": "Why?", "chat_history": "we talked about backups"})
    assert "('human', 'Hi')" in str(info.value)  # the fix: the form it takes
    assert not isinstance(info.value, ConfigError)


@pytest.mark.parametrize("turn", [("wizard", "hi"), {"text": "no role"}, 42],
                         ids=["unknown-role", "dict-without-role", "number"])
def test_a_turn_that_is_no_message_is_invalid_input(chain_cfg: RagConfig, turn: Any) -> None:
    chain = fake_chain(chain_cfg)
    with pytest.raises(InvalidInput, match="chat_history holds a turn") as info:
        chain.invoke({"question": "Why?", "chat_history": [turn]})
    assert "troubleshooting" not in str(info.value)  # LangChain's page link is dropped


async def test_async_path_raises_the_same(chain_cfg: RagConfig) -> None:
    chain = fake_chain(chain_cfg)
    with pytest.raises(InvalidInput, match="chat_history must be a list"):
        await chain.ainvoke({"question": "Why?", "chat_history": "earlier"})


def test_a_payload_without_a_question_is_invalid_input(chain_cfg: RagConfig) -> None:
    with pytest.raises(InvalidInput, match="question string"):
        fake_chain(chain_cfg).invoke({"query": "Why?"})


def test_a_null_filter_value_is_invalid_input() -> None:
    with pytest.raises(InvalidInput, match="'source' is null") as info:
        to_qdrant_filter({"source": None})
    assert "is_empty" in str(info.value)  # the way to ask for documents without it


def test_a_null_filter_value_per_call_is_invalid_input(chain_cfg: RagConfig) -> None:
    retriever = build_retriever(chain_cfg, embeddings=DeterministicFakeEmbedding(size=8))
    with pytest.raises(InvalidInput, match="'lang' is null"):
        retriever.invoke("q", filter={"lang": None})


# --- the command line ----------------------------------------------------------------------

class FakeProvider:
    name = "fake"

    def chat_model(self, settings: Any) -> FakeListChatModel:
        return FakeListChatModel(responses=["It is in the file [1]."])

    def embeddings(self, settings: Any) -> DeterministicFakeEmbedding:
        return DeterministicFakeEmbedding(size=8)


@pytest.fixture
def fake_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    from ragloom import providers

    providers.available_providers()  # load the built-ins, then add "fake" for this test only
    monkeypatch.setattr(providers, "_registry", dict(providers._registry))
    register_provider(FakeProvider())
    yield {"RAGLOOM_LLM__PROVIDER": "fake", "RAGLOOM_EMBEDDINGS__PROVIDER": "fake",
           "RAGLOOM_QDRANT__LOCATION": str(tmp_path / "store"),
           "RAGLOOM_QDRANT__COLLECTION": "markup"}
    close_clients()


def test_cli_ingest_and_ask_print_file_names_with_markup(
    tmp_path: Path, fake_env: dict[str, str]
) -> None:
    docs = tmp_path / "docs"
    (docs / MARKUP_NAME).parent.mkdir(parents=True)  # a folder "[" holding "bold] a.txt"
    (docs / MARKUP_NAME).write_text("Backups run nightly at 02:00.\n")
    (docs / "[/bold] empty.txt").write_text("")  # fails: its line names it
    (docs / "[red]x[red].txt").write_text("")  # an opening tag would be eaten silently
    ingest = CliRunner().invoke(app, ["ingest", str(docs)], env=fake_env)
    assert ingest.exception is None or isinstance(ingest.exception, SystemExit), ingest.output
    assert ingest.exit_code == 2, ingest.output  # one file failed, the other landed
    assert "[/bold] empty.txt: empty file" in ingest.output
    assert "[red]x[red].txt" in ingest.output
    # The fake embeddings are random: a bar of -1 lets every chunk count.
    ask = CliRunner().invoke(app, ["ask", "When do backups run?"],
                             env={**fake_env, "RAGLOOM_ANSWER__MIN_RELEVANCE": "-1"})
    assert ask.exit_code == 0, ask.output
    assert "It is in the file [1]." in ask.output
    assert MARKUP_NAME in ask.output  # the sources table shows the name as it is


def test_cli_error_message_with_markup_prints_as_is(tmp_path: Path) -> None:
    missing = tmp_path / "[/bold] ragloom.yaml"
    result = CliRunner().invoke(app, ["config", "--config", str(missing)])
    assert result.exit_code == 1
    assert "[/bold] ragloom.yaml" in result.output
    assert "does not exist" in result.output


@pytest.mark.parametrize("command", [["ask", "Why?"], ["eval", "questions.jsonl"]])
def test_cli_k_zero_is_refused(command: list[str]) -> None:
    result = CliRunner().invoke(app, [*command, "--k", "0"])
    assert result.exit_code == 2, result.output
    assert "Invalid value for '--k'" in result.output
    assert "greater than or equal to 1" in result.output
