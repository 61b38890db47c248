"""The `openai` provider's hooks: doctor checks and the missing-model hint.

Checked, for OpenAI or any OpenAI-compatible server: `GET <base_url>/models` answers
(the key is sent, never shown) and lists the model. OpenAI-compatible servers have
no pull API, so this provider has no `pull_model` hook.

Example:
    >>> missing_model_hint("gpt-4o-mini", "llm")
    'check the model name'

"""

from __future__ import annotations

import os
from collections.abc import Sequence

import httpx

from ragloom._checks import Check, has_model
from ragloom.providers import ModelUse, ProviderChecks

__all__ = ["doctor_checks", "missing_model_hint"]

OPENAI_API = "https://api.openai.com/v1"


def missing_model_hint(model: str, section: str) -> str:
    """A hosted API cannot pull: the name is what to check."""
    return "check the model name"


def _check_use(use: ModelUse, timeout_s: float) -> list[Check]:
    role, section, settings = use
    base = (settings.base_url or OPENAI_API).rstrip("/")
    key = (settings.api_key.get_secret_value() if settings.api_key
           else os.environ.get("OPENAI_API_KEY", "not-needed"))
    headers = {"Authorization": f"Bearer {key}", **settings.header_values()}
    try:
        response = httpx.get(f"{base}/models", headers=headers, timeout=timeout_s)
    except httpx.HTTPError as exc:
        return [Check(f"openai-compatible API reachable ({role})", "fail",
                      f"{base}: {type(exc).__name__}",
                      fix=f"check {section}.base_url and the network")]
    if response.status_code in (401, 403):
        return [Check(f"openai-compatible API reachable ({role})", "fail",
                      f"{base} refused the API key (status {response.status_code})",
                      fix=f"set OPENAI_API_KEY or {section}.api_key to a valid key")]
    if response.is_error:
        return [Check(f"openai-compatible API reachable ({role})", "fail",
                      f"{base}/models answered status {response.status_code}",
                      fix=f"check {section}.base_url")]
    ids = [m.get("id") for m in response.json().get("data", [])]
    checks = [Check(f"openai-compatible API reachable ({role})", "ok",
                    f"{base} lists {len(ids)} models")]
    if has_model(ids, settings.model):  # Ollama's /v1 lists "name:latest"
        checks.append(Check(f"{role} model present", "ok", settings.model))
    else:
        checks.append(Check(f"{role} model present", "fail",
                            f"{settings.model!r} is not listed by {base}/models",
                            fix=f"set {section}.model to one of: {', '.join(ids[:8])}"))
    return checks


def doctor_checks(uses: Sequence[ModelUse], *, timeout_s: float) -> ProviderChecks:
    """`GET <base_url>/models` for each use: reachable, key accepted, model listed."""
    return ProviderChecks([check for use in uses for check in _check_use(use, timeout_s)])
