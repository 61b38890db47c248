"""The provider registry: built-ins, plugins through entry points, and their failures."""

from __future__ import annotations

from collections.abc import Iterator
from importlib.metadata import EntryPoint
from typing import Any

import pytest
from langchain_core.embeddings import DeterministicFakeEmbedding
from langchain_core.language_models import FakeListChatModel

import ragloom.providers as providers
from ragloom import ConfigError, RagConfig, build_chat_model, build_embeddings


class EchoProvider:
    """A plugin's provider: fake models whose settings show they came from the config."""

    name = "echo"

    def chat_model(self, settings: Any) -> FakeListChatModel:
        return FakeListChatModel(responses=[f"model={settings.model}"])

    def embeddings(self, settings: Any) -> DeterministicFakeEmbedding:
        return DeterministicFakeEmbedding(size=8)


@pytest.fixture
def fresh_registry(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[EntryPoint]]:
    """An empty registry whose entry points are the ones the test appends."""
    plugins: list[EntryPoint] = []
    monkeypatch.setattr(providers, "_registry", {})
    monkeypatch.setattr(providers, "_broken", {})
    monkeypatch.setattr(providers, "_entry_points_loaded", False)
    monkeypatch.setattr(providers, "entry_points",
                        lambda group: [p for p in plugins if p.group == group])
    yield plugins


def test_plugin_from_entry_point_is_selected_by_config(fresh_registry: list[EntryPoint]) -> None:
    fresh_registry.append(EntryPoint("echo", f"{__name__}:EchoProvider", "ragloom.providers"))
    cfg = RagConfig(llm={"provider": "echo", "model": "m1"}, embeddings={"provider": "echo"})
    assert build_chat_model(cfg).invoke("hi").content == "model=m1"
    assert len(build_embeddings(cfg).embed_query("hi")) == 8
    assert {"echo", "ollama", "openai"} <= set(providers.available_providers())


def test_broken_plugin_fails_only_when_asked_for(fresh_registry: list[EntryPoint]) -> None:
    fresh_registry.append(EntryPoint("broken", "no_such_module_xyz:Provider", "ragloom.providers"))
    assert "ollama" in providers.available_providers()
    assert "broken" not in providers.available_providers()
    with pytest.raises(ConfigError, match=r"plugin 'broken' .* failed to load: .*reinstall"):
        providers.get_provider("broken")


def test_unknown_provider_names_the_known_ones(fresh_registry: list[EntryPoint]) -> None:
    with pytest.raises(ConfigError, match=r"unknown provider 'nosuch': choose one of ollama, open"):
        build_chat_model(RagConfig(llm={"provider": "nosuch"}))


def test_register_provider_checks_the_protocol(fresh_registry: list[EntryPoint]) -> None:
    providers.register_provider(EchoProvider(), name="echo2")
    assert providers.get_provider("echo2").name == "echo"
    with pytest.raises(TypeError, match="lacks name/chat_model/embeddings"):
        providers.register_provider(object())  # type: ignore[arg-type]
