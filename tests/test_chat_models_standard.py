"""LangChain's standard chat-model unit suite on both of ragloom's chat-model wrappers.

`RagloomChatOpenAI` serialises as the `ChatOpenAI` it configures, so
`langchain_core.load` accepts it (as a stock `ChatOpenAI`); `RagloomChatOllama` opts
out of serialisation as `ChatOllama` does (the suite skips its `test_serdes`). The
serialised form of `test_serdes` is a syrupy snapshot under `__snapshots__/`
(regenerate with `pytest tests/test_chat_models_standard.py --snapshot-update`).
"""

from __future__ import annotations

from typing import Any

from langchain_core.load import dumpd, dumps, load
from langchain_openai import ChatOpenAI
from langchain_tests.unit_tests import ChatModelUnitTests

from ragloom.config import LLMSettings
from ragloom.providers.ollama import RagloomChatOllama
from ragloom.providers.openai import OpenAIProvider, RagloomChatOpenAI


class TestRagloomChatOllamaUnit(ChatModelUnitTests):
    @property
    def chat_model_class(self) -> type[RagloomChatOllama]:
        return RagloomChatOllama

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {"model": "smollm2:135m"}


class TestRagloomChatOpenAIUnit(ChatModelUnitTests):
    @property
    def chat_model_class(self) -> type[RagloomChatOpenAI]:
        return RagloomChatOpenAI

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {"model": "gpt-4o-mini", "api_key": "sk-unit-test"}

    @property
    def init_from_env_params(self) -> tuple[dict[str, str], dict[str, Any], dict[str, Any]]:
        return ({"OPENAI_API_KEY": "sk-from-env", "OPENAI_API_BASE": "https://api.example/v1"},
                {"model": "gpt-4o-mini"},
                {"openai_api_key": "sk-from-env", "openai_api_base": "https://api.example/v1"})


def test_openai_wrapper_round_trips_as_chat_openai() -> None:
    model = RagloomChatOpenAI(model="gpt-4o-mini", api_key="sk-round-trip", temperature=0.3)
    data = dumpd(model)
    assert data["id"] == ["langchain", "chat_models", "openai", "ChatOpenAI"]
    loaded = load(data, allowed_objects=[ChatOpenAI],
                  secrets_map={"OPENAI_API_KEY": "sk-round-trip"})
    assert isinstance(loaded, ChatOpenAI)
    assert loaded.model_name == "gpt-4o-mini" and loaded.temperature == 0.3
    assert loaded.openai_api_key is not None
    assert loaded.openai_api_key.get_secret_value() == "sk-round-trip"


def test_serialised_openai_wrapper_carries_no_key_or_header_value() -> None:
    model = OpenAIProvider().chat_model(LLMSettings(
        provider="openai", model="m", base_url="https://gw.example/v1",
        api_key="sk-never-dumped", headers={"X-Proxy-Token": "tok-never-dumped"}))
    text = dumps(model)
    assert "sk-never-dumped" not in text and "tok-never-dumped" not in text


def test_ollama_wrapper_opts_out_like_chat_ollama() -> None:
    assert not RagloomChatOllama.is_lc_serializable()
    assert dumpd(RagloomChatOllama(model="m"))["type"] == "not_implemented"
