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
    monkeypatch.setattr(providers, "_plugins", {})
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


class CheckedProvider(EchoProvider):
    """A plugin provider with its own doctor checks, pull and missing-model hint hooks."""

    name = "checked"
    pulled: list[str] = []

    def doctor_checks(self, uses: Any, *, timeout_s: float) -> providers.ProviderChecks:
        from ragloom.doctor import Check

        return providers.ProviderChecks(
            [Check(f"checked {u.role} model", "ok", f"{u.settings.model} ready") for u in uses])

    def missing_model_hint(self, model: str, section: str) -> str:
        return f"ask the checked cloud for {model} ({section})"

    def missing_models(self, uses: Any, *, timeout_s: float) -> list[tuple[Any, str]]:
        return [(u, "checked-cloud") for u in uses if u.settings.model.startswith("missing")]

    def pull_model(self, model: str, settings: Any, *, on_progress: Any = None) -> str:
        self.pulled.append(model)
        return "checked-cloud"


def test_plugin_provider_checks_itself_in_doctor(fresh_registry: list[EntryPoint]) -> None:
    from typer.testing import CliRunner

    from ragloom.cli import app

    fresh_registry.append(EntryPoint("checked", f"{__name__}:CheckedProvider",
                                     "ragloom.providers"))
    env = {"RAGLOOM_LLM__PROVIDER": "checked", "RAGLOOM_LLM__MODEL": "m1",
           "RAGLOOM_EMBEDDINGS__PROVIDER": "echo", "RAGLOOM_QDRANT__LOCATION": ":memory:"}
    fresh_registry.append(EntryPoint("echo", f"{__name__}:EchoProvider", "ragloom.providers"))
    result = CliRunner().invoke(app, ["doctor"], env=env)
    assert "✓ checked chat model: m1 ready" in result.output, result.output
    assert "! provider echo: the provider has no doctor checks" in result.output, result.output
    assert "✓ qdrant reachable" in result.output
    assert result.exit_code == 0, result.output


def test_plugin_provider_pulls_its_missing_models(fresh_registry: list[EntryPoint]) -> None:
    from typer.testing import CliRunner

    from ragloom.cli import app

    fresh_registry.append(EntryPoint("checked", f"{__name__}:CheckedProvider",
                                     "ragloom.providers"))
    CheckedProvider.pulled.clear()
    env = {"RAGLOOM_LLM__PROVIDER": "checked", "RAGLOOM_LLM__MODEL": "missing-chat",
           "RAGLOOM_EMBEDDINGS__PROVIDER": "checked", "RAGLOOM_EMBEDDINGS__MODEL": "present"}
    result = CliRunner().invoke(app, ["pull"], env=env)
    assert result.exit_code == 0, result.output
    assert "pulled missing-chat at checked-cloud" in result.output
    assert CheckedProvider.pulled == ["missing-chat"]


def test_missing_model_error_carries_the_providers_hint(
    fresh_registry: list[EntryPoint],
) -> None:
    from ragloom.errors import ModelNotFound
    from ragloom.providers._errors import raise_translated

    fresh_registry.append(EntryPoint("checked", f"{__name__}:CheckedProvider",
                                     "ragloom.providers"))

    class NotFound(Exception):
        status_code = 404

    with pytest.raises(ModelNotFound, match=r"ask the checked cloud for m9 \(llm\)"):
        raise_translated(NotFound("model m9 not found"), provider="checked", model="m9",
                         base_url="https://checked.example", section="llm")


def test_pull_with_a_provider_that_cannot_pull_says_so(fresh_registry: list[EntryPoint]) -> None:
    from typer.testing import CliRunner

    from ragloom.cli import app

    fresh_registry.append(EntryPoint("echo", f"{__name__}:EchoProvider", "ragloom.providers"))
    result = CliRunner().invoke(app, ["pull", "m1"], env={"RAGLOOM_LLM__PROVIDER": "echo"})
    assert result.exit_code == 1
    assert "the echo provider cannot pull models" in result.output
    assert "Traceback" not in result.output
