"""The `ollama` provider's hooks: doctor checks, the missing-model hint, finding and pulling.

Checked: the server answers `/api/version`; `/api/tags` lists each model; `/api/show`
says the chat model has the `completion` capability and the embedding model
`embedding`; the chat model's trained context (`model_info["<arch>.context_length"]`)
is at least `llm.num_ctx`. Uses on the same server share one connection and one
reachability check.

Example:
    >>> missing_model_hint("llama3.2", "llm")
    'run: ollama pull llama3.2 (or ragloom pull, or set llm.auto_pull)'

"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import httpx

from ragloom._checks import Check, has_model
from ragloom.config import LLMSettings, ModelSettings, ollama_url
from ragloom.errors import ProviderUnavailable
from ragloom.providers import ModelUse, ProviderChecks
from ragloom.providers._ollama_api import check_ollama_version
from ragloom.providers._ollama_pull import pull_model
from ragloom.providers._servers import parse_urls

__all__ = ["doctor_checks", "missing_model_hint", "missing_models", "pull"]


class _Ollama:
    """The few Ollama API calls the checks need, on one server."""

    def __init__(self, url: str, headers: dict[str, str], timeout_s: float) -> None:
        self.url = url
        self.http = httpx.Client(base_url=url, headers=headers, timeout=timeout_s)
        self._tags: list[str] | None = None

    def version(self) -> str:
        response = self.http.get("/api/version")
        response.raise_for_status()
        return str(response.json().get("version", "unknown"))

    def tags(self) -> list[str]:
        if self._tags is None:
            response = self.http.get("/api/tags")
            response.raise_for_status()
            self._tags = [m.get("name") or m.get("model", "") for m in response.json()["models"]]
        return self._tags

    def show(self, model: str) -> dict[str, Any]:
        response = self.http.post("/api/show", json={"model": model})
        response.raise_for_status()
        data: dict[str, Any] = response.json()
        return data


def _info_value(show: dict[str, Any], suffix: str) -> int | None:
    for key, value in (show.get("model_info") or {}).items():
        if key.endswith(suffix) and isinstance(value, int):
            return value
    return None


def missing_model_hint(model: str, section: str) -> str:
    """The command that fetches a missing model, and the setting that would have."""
    return f"run: ollama pull {model} (or ragloom pull, or set {section}.auto_pull)"


def _capability_checks(use: ModelUse, show: dict[str, Any]) -> list[Check]:
    role, model = use.role, use.settings.model
    capabilities = show.get("capabilities")
    needed = "completion" if role == "chat" else "embedding"
    if capabilities is None:
        return [Check(f"{role} model capabilities", "warn",
                      "the server does not report capabilities (Ollama < 0.6?)",
                      fix="upgrade Ollama to have this checked")]
    if needed in capabilities:
        return [Check(f"{role} model capabilities", "ok", f"{model}: {', '.join(capabilities)}")]
    return [Check(
        f"{role} model capabilities", "fail",
        f"{model} has {', '.join(capabilities) or 'no capabilities'}, not {needed!r}",
        fix=f"set {use.section}.model to a{'' if role == 'chat' else 'n'} {role} model")]


def _context_check(settings: LLMSettings, show: dict[str, Any]) -> Check:
    trained = _info_value(show, ".context_length")
    num_ctx = settings.num_ctx
    if num_ctx is None:
        return Check("context length", "warn",
                     "llm.num_ctx is unset: Ollama's default window is small and cuts prompts"
                     " silently", fix="set llm.num_ctx (e.g. 8192)")
    if trained is None:
        return Check("context length", "warn",
                     f"{settings.model} does not report its context length",
                     fix="check the model card")
    if num_ctx > trained:
        return Check(
            "context length", "warn",
            f"llm.num_ctx={num_ctx} exceeds {settings.model}'s trained context {trained}",
            fix=f"set llm.num_ctx to at most {trained} (RAGLOOM_LLM__NUM_CTX={trained})")
    return Check("context length", "ok", f"llm.num_ctx={num_ctx} <= trained context {trained}")


def _urls(settings: ModelSettings) -> list[str]:
    """Every server a section names (`base_url` may list several), else the default one."""
    return parse_urls(settings.base_url) or [ollama_url(None)]


def doctor_checks(uses: Sequence[ModelUse], *, timeout_s: float) -> ProviderChecks:
    """Check each use's server and model; also learn the embedding size from `/api/show`."""
    result = ProviderChecks()
    checks = result.checks
    servers: dict[str, _Ollama] = {}
    reachable: dict[str, bool] = {}
    for use, url in [(u, url) for u in uses for url in _urls(u.settings)]:
        role, section, settings = use
        if url not in servers:
            server = servers[url] = _Ollama(url, settings.header_values(), timeout_s)
            try:
                version = server.version()
            except httpx.HTTPError as exc:
                reachable[url] = False
                checks.append(Check(
                    f"ollama reachable at {url}", "fail", f"no answer: {type(exc).__name__}",
                    fix=f"start it (`ollama serve`), or set {section}.base_url / OLLAMA_HOST"
                        " to where it runs"))
                continue
            reachable[url] = True
            checks.append(Check(f"ollama reachable at {url}", "ok", f"Ollama {version}"))
            checks.append(Check(f"ollama version at {url}", *check_ollama_version(version)))
        if not reachable[url]:
            continue
        server = servers[url]
        try:
            present = has_model(server.tags(), settings.model)
        except httpx.HTTPError as exc:
            checks.append(Check(f"{role} model present", "fail", f"/api/tags failed: {exc}",
                                fix="check the Ollama server's logs"))
            continue
        if not present:
            checks.append(Check(
                f"{role} model present", "fail",
                f"{settings.model!r} is not pulled at {url}",
                fix=f"ragloom pull {settings.model}   (or: ollama pull {settings.model};"
                    f" or set {section}.model, or {section}.auto_pull: true)"))
            continue
        checks.append(Check(f"{role} model present", "ok", f"{settings.model} at {url}"))
        try:
            show = server.show(settings.model)
        except httpx.HTTPError as exc:
            checks.append(Check(f"{role} model capabilities", "fail",
                                f"/api/show failed: {exc}", fix="check the server's logs"))
            continue
        checks += _capability_checks(use, show)
        if isinstance(settings, LLMSettings):
            checks.append(_context_check(settings, show))
        else:
            result.embedding_size = _info_value(show, ".embedding_length")
    for server in servers.values():
        server.http.close()
    return result


def missing_models(uses: Sequence[ModelUse], *,
                   timeout_s: float) -> list[tuple[ModelUse, str]]:
    """The uses whose model `/api/tags` does not list, each with its server URL.

    Raises:
        ProviderUnavailable: A server cannot be reached.

    """
    missing: list[tuple[ModelUse, str]] = []
    for use, url in [(u, url) for u in uses for url in _urls(u.settings)]:
        server = _Ollama(url, use.settings.header_values(), timeout_s)
        try:
            tags = server.tags()
        except httpx.HTTPError as exc:
            raise ProviderUnavailable(
                f"cannot reach ollama at {url}: is `ollama serve` running? set"
                f" {use.section}.base_url or OLLAMA_HOST if it runs elsewhere", url=url) from exc
        finally:
            server.http.close()
        seen = {(u.settings.model, where) for u, where in missing}
        if not has_model(tags, use.settings.model) and (use.settings.model, url) not in seen:
            missing.append((use, url))
    return missing


def pull(model: str, settings: ModelSettings, *,
         on_progress: Callable[[Any], None] | None = None) -> str:
    """Pull `model` through `/api/pull` on each server `settings` names; return their URLs."""
    urls = _urls(settings)
    for url in urls:  # every server that may be asked for the model
        pull_model(model, base_url=url, on_progress=on_progress,
                   headers=settings.header_values() or None)
    return ", ".join(urls)
