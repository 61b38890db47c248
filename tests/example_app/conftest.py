"""How an app team wires ragloom's pytest plugin: nothing here but the public API.

The one line tied to this repository is `OLLAMA_HOST`: while recording it points
at the project's Ollama-API test server (or at a real Ollama if `OLLAMA_HOST` is
already set); while replaying, at an address that is never contacted. In your app,
set `OLLAMA_HOST` in the shell when you record and leave it unset in CI.
"""

from __future__ import annotations

from typing import Any

import pytest

import ragloom.testing


@pytest.fixture(scope="module")
def vcr_config() -> dict[str, Any]:
    return ragloom.testing.vcr_config()


@pytest.fixture(autouse=True)
def app_models(monkeypatch: pytest.MonkeyPatch, ollama_url: str) -> None:
    """The models the app uses; in an app this is its ragloom.yaml or CI environment."""
    monkeypatch.setenv("RAGLOOM_LLM__MODEL", "smollm2:135m")
    monkeypatch.setenv("RAGLOOM_LLM__TEMPERATURE", "0")
    monkeypatch.setenv("RAGLOOM_LLM__NUM_CTX", "2048")
    monkeypatch.setenv("RAGLOOM_EMBEDDINGS__MODEL", "all-minilm")
    monkeypatch.setenv("OLLAMA_HOST", ollama_url)  # this repository's test server
